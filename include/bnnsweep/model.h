/* model.h - a trainable model: configuration, parameters, and its inference method.
 *
 * bns_config holds every setting of one training run (METHODS.md s.1-4); it
 * is saved with the model. A model's parameters are one flat vector whose
 * layout belongs to its inference method (method.h: the posterior
 * interface): the weights w of a point estimate, mu then rho of a Gaussian
 * posterior, ... Everything outside src/methods/ sees a model only through
 * the functions below: point weights, weight samples, capabilities, SNR and
 * parameter blocks.
 */
#ifndef BNNSWEEP_MODEL_H
#define BNNSWEEP_MODEL_H

#include <stdint.h>

#include "bnnsweep/likelihood.h"
#include "bnnsweep/net.h"
#include "bnnsweep/prior.h"
#include "bnnsweep/rng.h"

#define BNS_METHOD_SETTING_SLOTS 64

enum bns_reduction { BNS_REDUCE_MEAN = 0, BNS_REDUCE_SUM = 1 };
enum bns_optimizer { BNS_OPT_SGD = 0, BNS_OPT_ADAM = 1 };
enum bns_sample_mode { BNS_SAMPLES_VECTORIZED = 0, BNS_SAMPLES_SEQUENTIAL = 1 };

typedef struct {
    /* model */
    char arch[64];          /* "FC-100-100-10" */
    char method[32];        /* registered method name: deterministic, bbb, lrt */
    bns_prior prior;
    double rho_init;        /* constant initial rho (sigma = softplus(rho)) */
    double init_std;        /* std of the truncated-normal init of mu / w; 0 = the prior's std */
    double l2_lambda;       /* METHODS.md s.3 penalty (deterministic) */
    int samples;            /* weight samples per step (S) */
    int sample_mode;        /* enum bns_sample_mode: how BBB runs its S samples (same numbers) */
    /* objective and optimiser */
    int reduction;          /* enum bns_reduction: per-example mean (default) or sum */
    int optimizer;          /* enum bns_optimizer */
    double lr, momentum, beta1, beta2, adam_eps;
    int batch_size;
    int max_epochs;
    int patience;           /* early stopping on validation accuracy; 0 = off */
    int val_samples;        /* Bayesian validation: 0 = posterior mean, N = N-sample ensemble */
    double clip_norm;       /* > 0: scale each step's gradient to at most this L2 norm (0 = off) */
    /* data */
    double pixel_scale;     /* 1/127.5 maps pixels to [0, 2] */
    long train_limit;       /* use only the first N rows of train/val (0 = all) */
    int dataset;            /* enum bns_data_kind (dataset.h): mnist (default), fashion-mnist, cifar10, toy1d */
    char data_path[192];    /* cifar10: the directory of its batch files ("" = <data dir>/cifar-10-batches-bin) */
    double noise_std;       /* toy1d: the Gaussian likelihood's fixed noise std (0 = 0.02, the toy's own) */
    /* randomness: every stream is keyed by (seed, task, purpose) */
    uint64_t seed;
    uint64_t task;
    /* the methods' own settings (config.h), 8-byte slots assigned by the table */
    double method_settings[BNS_METHOD_SETTING_SLOTS];
} bns_config;

void bns_config_defaults(bns_config *cfg);

struct bns_method;

/* One block of a model's parameters: a float dataset of the model file at
 * `path` (e.g. "layers/0/weight_mu"), rank 1 or 2, at m->params + offset.
 * compress = 1 stores it chunked (one row per chunk) with shuffle + deflate:
 * for big blocks such as stored posterior samples; 0 (what a method that
 * does not set it gets) is a plain contiguous dataset. */
typedef struct {
    char path[64];
    size_t offset;
    int rank;
    size_t dims[2];
    int compress;
} bns_param_block;

#define BNS_MAX_PARAM_BLOCKS 192 /* resnet20: 39 layers with parameters x 2 blocks x 2 (mu, rho) */

typedef struct bns_model {
    bns_config cfg;
    bns_arch arch;
    const struct bns_method *method;
    bns_likelihood likelihood; /* p(y | f(x; w)) (likelihood.h), by value: call likelihood.nll(&likelihood, ...) */
    size_t n_params;        /* the method's n_params: all its parameter blocks */
    float *params;
    /* Not owned, training only: the posterior a distilling method (apd, mog)
     * learns from, seen through the interface (bns_model_sample_weights);
     * NULL for every other method. bns_model_load_teacher (model_io.h) sets it. */
    const struct bns_model *teacher;
    /* Layer statistics (batch norm's running mean and variance, net.h
     * bns_net_stats_*): n_stats floats, 0 and NULL for nets without them.
     * has_stats = 1 once estimated after training (train.c) or loaded from a
     * model file; evaluation and attacks then use them (eval-mode batch
     * norm), else each batch's own statistics. One set for the point
     * weights: weight samples share it (per-sample statistics are not kept). */
    size_t n_stats;
    float *stats;
    int has_stats;
} bns_model;

/* Validate cfg, allocate and initialise (method's init with the INIT stream). */
int bns_model_create(const bns_config *cfg, int n_inputs, bns_model *out);
/* Allocate without initialising (for loading). */
int bns_model_alloc(const bns_config *cfg, int n_inputs, bns_model *out);
void bns_model_free(bns_model *m);

/* What a model's posterior can do (its method's caps): evaluation, attacks,
 * the plan and spec validation ask these instead of naming methods. */
enum bns_capability {
    BNS_CAP_STOCHASTIC = 1u << 0,   /* samples differ: single-sample runs, ensembles, BALD, K-sample attacks */
    BNS_CAP_SNR = 1u << 1,          /* a per-weight mean and std: SNR pruning (bns_model_weight_snr) */
    BNS_CAP_CLOSED_FORM_KL = 1u << 2,
    BNS_CAP_WEIGHTED = 1u << 3,     /* samples carry log importance weights */
};
unsigned bns_model_caps(const bns_model *m);
/* "stochastic,snr" (the names analysis/ and model files use); "" for none. */
void bns_caps_format(unsigned caps, char *buf, size_t size);
int bns_model_has(const bns_model *m, unsigned cap);
/* The point weights (arch.n_weights): deterministic weights, or the posterior mean. */
const float *bns_model_mean(const bns_model *m);
/* Weight sample `index` of `stream` (the point weights for a point estimate). */
void bns_model_sample_weights(const bns_model *m, const bns_stream *stream, uint64_t index, float *w);
/* Its log importance weight (0 unless the method has BNS_CAP_WEIGHTED). */
double bns_model_log_weight(const bns_model *m, const bns_stream *stream, uint64_t index);
/* |mean| / std of each of the arch.n_weights weights (BNS_CAP_SNR), or -1 with the error recorded. */
int bns_model_weight_snr(const bns_model *m, double *snr);
/* The parameter blocks that make up m->params (method.h bns_param_block); returns the count. */
int bns_model_param_blocks(const bns_model *m, bns_param_block *out);
/* The first NaN or infinite parameter: 1 with "BLOCK[INDEX] = VALUE" in
 * where (a diverged training run: a NaN rho hides behind the fused kernels'
 * clamped sigma), 0 when every parameter is finite. */
int bns_model_find_nonfinite(const bns_model *m, char *where, size_t size);

#endif
