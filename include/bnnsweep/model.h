/* model.h - a trainable model: configuration, parameters, and its inference method.
 *
 * bns_config holds every setting of one training run (METHODS.md s.1-4); it
 * is saved with the model. A model's parameters are one flat vector: the
 * weights w for a deterministic net, or mu then rho (each arch.n_weights
 * long) for a Gaussian posterior. The inference method (method.h) says how
 * to initialise, train and sample them.
 */
#ifndef BNNSWEEP_MODEL_H
#define BNNSWEEP_MODEL_H

#include <stdint.h>

#include "bnnsweep/mlp.h"
#include "bnnsweep/prior.h"
#include "bnnsweep/rng.h"

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
    /* data */
    double pixel_scale;     /* 1/127.5 maps pixels to [0, 2] */
    long train_limit;       /* use only the first N rows of train/val (0 = all) */
    /* randomness: every stream is keyed by (seed, task, purpose) */
    uint64_t seed;
    uint64_t task;
} bns_config;

void bns_config_defaults(bns_config *cfg);

struct bns_method;

typedef struct {
    bns_config cfg;
    bns_arch arch;
    const struct bns_method *method;
    size_t n_params;        /* arch.n_weights, or 2 * arch.n_weights for mu and rho */
    float *params;
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
int bns_model_has(const bns_model *m, unsigned cap);
int bns_model_is_bayesian(const bns_model *m);
/* The deterministic weights, or the posterior mean mu. */
const float *bns_model_mean(const bns_model *m);
/* rho of a Gaussian posterior (NULL for deterministic models). */
const float *bns_model_rho(const bns_model *m);
/* Weight sample `index` of `stream` (the mean weights for deterministic models). */
void bns_model_sample_weights(const bns_model *m, const bns_stream *stream, uint64_t index, float *w);

#endif
