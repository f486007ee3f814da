/* method.h - the posterior interface and the method registry.
 *
 * An inference method is one file in src/methods/ defining a `const
 * bns_method`, plus one line in registry.c. The method owns its posterior:
 *   - its parameter blocks (name, shape, place in m->params): the model file
 *     saves and loads them generically (model_io.h);
 *   - init, the point weights (deterministic weights or posterior mean), and
 *     weight sample k drawn from a keyed stream (a weight vector in the
 *     network's layout, net.h), optionally with a log importance weight;
 *   - capability flags (model.h: stochastic, SNR-prunable, closed-form KL,
 *     weighted) that evaluation, attacks, the plan and spec validation ask;
 *   - its own settings rows in the one settings table (config.h: flags,
 *     --set keys, model-file attributes and task keys come from there);
 *   - training: per-run buffers and the objective's gradient.
 * Nothing outside src/methods/ names a method.
 */
#ifndef BNNSWEEP_METHOD_H
#define BNNSWEEP_METHOD_H

#include <stdint.h>

#include "bnnsweep/config.h"
#include "bnnsweep/model.h"
#include "bnnsweep/optim.h"

/* The minibatch objective is nll_scale * (sum_i NLL_i + batch * per_example_reg),
 * where per_example_reg is KL/N (Bayesian) or lambda * penalty (L2):
 * nll_scale = 1/batch for the per-example mean, 1 for the sum (METHODS.md s.1). */
typedef struct {
    double nll_scale;
    double reg_scale;       /* nll_scale * batch: the weight of a per-example regulariser */
    double n_train;         /* N, the training-set size (the KL is spread over it) */
    uint64_t step;          /* global step number: the substream of per-step noise */
    int skip_kl_value;      /* 1: the gradient only; stats' kl and reg_per_example may be left 0 */
} bns_objective;

typedef struct {
    double nll_sum;         /* sum over the batch (averaged over samples) */
    double reg_per_example; /* the regulariser per example: KL / N, or lambda * penalty */
    double kl;              /* KL(q || p) of the whole model (0 for deterministic) */
    int correct;            /* training predictions that were right */
} bns_step_stats;

/* Training-time cost model of the plan (s per row x weight of one epoch;
 * a "weight" is one use of a weight per example, bns_arch_macs: a conv
 * weight counts once per output pixel, so conv nets cost what they compute). */
#define BNS_COST_TRAIN_DET 6.9e-11     /* s/row-weight: deterministic FC-100-100-10 epoch, 50k rows, 0.31 s */
#define BNS_COST_TRAIN_BAYES 1.14e-10  /* s/row-weight/sample: BBB epoch 0.51 s (LRT assumed alike) */

typedef struct bns_method {
    const char *name;
    const char *summary;
    unsigned caps;                      /* enum bns_capability (model.h) */
    /* Optional: capabilities that depend on the method's settings (MC
     * dropout is stochastic only when evaluated with masks); NULL: caps. */
    unsigned (*caps_of)(const bns_config *cfg);
    /* The method's own settings (config.h rows, name NULL-terminated; NULL
     * for none). Their values live in cfg->method_settings: read them with
     * bns_config_get_double / bns_config_get_int. */
    const bns_config_field *settings;
    /* Reject settings the method cannot use (e.g. LRT needs a Gaussian prior). */
    int (*validate)(const bns_config *cfg);

    /* ---- the posterior ---- */
    size_t (*n_params)(const bns_config *cfg, const bns_arch *arch);
    /* Fills out (at most BNS_MAX_PARAM_BLOCKS) with blocks that cover m->params; returns the count. */
    int (*param_blocks)(const bns_model *m, bns_param_block *out);
    void (*init)(bns_model *m, const bns_stream *init_stream);
    /* The point weights (arch.n_weights): deterministic weights, posterior mean. */
    const float *(*point_weights)(const bns_model *m);
    /* Weight sample `index` of `stream` into w (arch.n_weights). */
    void (*sample_weights)(const bns_model *m, const bns_stream *stream, uint64_t index, float *w);
    /* BNS_CAP_WEIGHTED: log importance weight of sample `index` (NULL: all equal). */
    double (*log_weight)(const bns_model *m, const bns_stream *stream, uint64_t index);
    /* BNS_CAP_SNR: |mean| / std of every weight (arch.n_weights doubles). */
    void (*weight_snr)(const bns_model *m, double *snr);
    /* The plan's estimate of one epoch's training time over `row_weights`
     * = rows x bns_arch_macs(arch) (net.h; = rows x arch.n_weights for FC
     * nets) (NULL: a deterministic step's). */
    double (*train_cost)(const bns_config *cfg, double row_weights);
    /* One line about the trained posterior for train's report, e.g. how
     * many samples it keeps (NULL: nothing to add). */
    void (*describe)(const bns_model *m, char *buf, size_t size);
    /* How training updates the parameters, for train's first line, when the
     * method does not use the shared optimizer (NULL: "sgd lr 0.001"). */
    void (*describe_update)(const bns_config *cfg, char *buf, size_t size);

    /* ---- training ---- */
    /* 1: training ends with the last parameters, never with the best
     * epoch's: they accumulate (a sampler's stored iterates), so restoring
     * an earlier epoch would drop what came after it. Early stopping
     * (patience) still ends training; the best epoch is still reported. */
    int keep_final;
    /* Per-run training buffers, allocated once. */
    void *(*trainer_create)(const bns_model *m, int max_batch);
    void (*trainer_free)(void *trainer);
    /* Objective value pieces and its gradient w.r.t. m->params (overwritten).
     * y: the batch's labels, or for a real-target likelihood (m->likelihood.
     * real_targets; the toy1d regression) its float targets as bytes: pass y
     * whole to m->likelihood.nll (stats->correct is then meaningless). */
    void (*loss_grad)(void *trainer, const bns_model *m, const float *x, const uint8_t *y, int batch,
                      const bns_objective *obj, float *grad, bns_step_stats *stats);
    /* Optional fused step: loss_grad followed by the optimizer's update of
     * every parameter, done in fewer passes over memory. Must leave the
     * parameters exactly as that sequence would. NULL: training does the two. */
    void (*train_step)(void *trainer, bns_model *m, const float *x, const uint8_t *y, int batch,
                       const bns_objective *obj, bns_optimizer *opt, float *grad, bns_step_stats *stats);
} bns_method;

const bns_method *bns_method_find(const char *name);
/* What a model of `method` configured by cfg can do: caps_of(cfg), or caps. */
unsigned bns_method_caps(const bns_method *method, const bns_config *cfg);
/* NULL-terminated list of all registered methods. */
const bns_method *const *bns_method_list(void);
/* Adds a method at run time (tests, plugins): call before anything reads
 * settings or models; returns -1 when the name is taken or the list is full. */
int bns_method_register(const bns_method *method);

/* ---- building blocks for methods ---- */

/* Blocks of `copies` whole weight vectors in the network's layout, copy c at
 * offset c * arch.n_weights: per dense layer l, "layers/<l>/weight<suffix[c]>"
 * [n_in, n_out] and "layers/<l>/bias<suffix[c]>" [n_out]. */
int bns_layer_param_blocks(const bns_model *m, const char *const *suffixes, int copies, bns_param_block *out);

/* A point estimate: one weight vector; every sample is the weights themselves. */
size_t bns_point_n_params(const bns_config *cfg, const bns_arch *arch);
int bns_point_param_blocks(const bns_model *m, bns_param_block *out);
const float *bns_point_weights(const bns_model *m);
void bns_point_sample_weights(const bns_model *m, const bns_stream *stream, uint64_t index, float *w);
#define BNS_POINT_POSTERIOR                                                                                   \
    .n_params = bns_point_n_params, .param_blocks = bns_point_param_blocks, .point_weights = bns_point_weights, \
    .sample_weights = bns_point_sample_weights

/* A mean-field Gaussian q(w) = N(mu, softplus(rho)^2): mu then rho, each a
 * weight vector (blocks weight_mu, weight_rho, bias_mu, bias_rho); init mu
 * from the truncated normal of bns_init_std and rho = cfg.rho_init; sample
 * w = mu + softplus(rho) eps through the fused float path (backend.h). */
size_t bns_gaussian_n_params(const bns_config *cfg, const bns_arch *arch);
int bns_gaussian_param_blocks(const bns_model *m, bns_param_block *out);
void bns_gaussian_init(bns_model *m, const bns_stream *init_stream);
const float *bns_gaussian_mean(const bns_model *m);
void bns_gaussian_sample_weights(const bns_model *m, const bns_stream *stream, uint64_t index, float *w);
void bns_gaussian_weight_snr(const bns_model *m, double *snr);
/* Another reading of rho (bbb's sigma_of_rho): maps softplus(rho) and its
 * derivative sigmoid(rho), in place, to sigma and d sigma / d rho. */
typedef void (*bns_sigma_map)(size_t n, float *sigma, float *dsigma);
/* bns_gaussian_sample_weights with sigma = map(softplus(rho)) (map NULL: the softplus itself). */
void bns_gaussian_sample_weights_mapped(const bns_model *m, const bns_stream *stream, uint64_t index, float *w,
                                        bns_sigma_map map);
double bns_gaussian_train_cost(const bns_config *cfg, double row_weights);
/* The posterior without the plan's cost (a method whose sample count is its
 * own setting gives its own train_cost), then with cfg.samples' cost. */
#define BNS_GAUSSIAN_Q                                                                                             \
    .n_params = bns_gaussian_n_params, .param_blocks = bns_gaussian_param_blocks, .init = bns_gaussian_init,        \
    .point_weights = bns_gaussian_mean, .sample_weights = bns_gaussian_sample_weights,                             \
    .weight_snr = bns_gaussian_weight_snr
#define BNS_GAUSSIAN_POSTERIOR BNS_GAUSSIAN_Q, .train_cost = bns_gaussian_train_cost

/* The per-layer-normalised L2 term of METHODS.md s.3 (deterministic.c):
 * adds reg_scale * d/dw of lambda * sum_l (1/|l|) sum_{w in l} w^2 to grad
 * (weights, not biases) and returns that per-example penalty; with
 * want_value 0 (objective.skip_kl_value) only the gradient, returning 0. */
double bns_l2_penalty_grad(const bns_arch *arch, const float *w, double lambda, double reg_scale, int want_value,
                           float *grad);

/* Weights (or mu) ~ N(0, std^2) truncated at 2 std, biases 0 (METHODS.md s.1);
 * std <= 0 means 1/sqrt(3 fan-in) per layer (the std of PyTorch's nn.Linear
 * init), the deterministic default. */
void bns_init_truncated_normal(float *w, const bns_arch *arch, double std, const bns_stream *stream);

/* The init std of mu (or w): cfg.init_std if set; else the prior's std for the
 * scale mixture (METHODS.md s.1), and 0.1 for a Gaussian prior, whose N(0,1)
 * std would start the network far too wide (0.1 is the reference's choice). */
double bns_init_std(const bns_config *cfg);

#endif
