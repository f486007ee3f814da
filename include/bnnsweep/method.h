/* method.h - the inference-method interface and registry.
 *
 * A method (deterministic+L2, Bayes by Backprop, LRT, ...) is one file in
 * src/methods/ defining a `const bns_method`, plus one line in registry.c.
 * Training calls only these hooks; evaluation only needs weight samples.
 */
#ifndef BNNSWEEP_METHOD_H
#define BNNSWEEP_METHOD_H

#include <stdint.h>

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

typedef struct bns_method {
    const char *name;
    const char *summary;
    int bayesian;           /* parameters are mu then rho */
    /* Reject settings the method cannot use (e.g. LRT needs a Gaussian prior). */
    int (*validate)(const bns_config *cfg);
    void (*init)(bns_model *m, const bns_stream *init_stream);
    /* Per-run training buffers, allocated once. */
    void *(*trainer_create)(const bns_model *m, int max_batch);
    void (*trainer_free)(void *trainer);
    /* Objective value pieces and its gradient w.r.t. m->params (overwritten). */
    void (*loss_grad)(void *trainer, const bns_model *m, const float *x, const uint8_t *y, int batch,
                      const bns_objective *obj, float *grad, bns_step_stats *stats);
    /* Optional fused step: loss_grad followed by the optimizer's update of
     * every parameter, done in fewer passes over memory. Must leave the
     * parameters exactly as that sequence would. NULL: training does the two. */
    void (*train_step)(void *trainer, bns_model *m, const float *x, const uint8_t *y, int batch,
                       const bns_objective *obj, bns_optimizer *opt, float *grad, bns_step_stats *stats);
} bns_method;

const bns_method *bns_method_find(const char *name);
/* NULL-terminated list of all registered methods. */
const bns_method *const *bns_method_list(void);

/* Weights (or mu) ~ N(0, std^2) truncated at 2 std, biases 0 (METHODS.md s.1);
 * std <= 0 means 1/sqrt(3 fan-in) per layer (the std of PyTorch's nn.Linear
 * init), the deterministic default. */
void bns_init_truncated_normal(float *w, const bns_arch *arch, double std, const bns_stream *stream);

/* The init std of mu (or w): cfg.init_std if set; else the prior's std for the
 * scale mixture (METHODS.md s.1), and 0.1 for a Gaussian prior, whose N(0,1)
 * std would start the network far too wide (0.1 is the reference's choice). */
double bns_init_std(const bns_config *cfg);

#endif
