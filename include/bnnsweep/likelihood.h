/* likelihood.h - the observation model p(y | f(x; w)): a part of every model.
 *
 * The network's last layer gives f; the likelihood turns it into the
 * negative log-likelihood of the targets and its gradient w.r.t. f (what
 * training and attacks differentiate) and into the predictive distribution
 * that evaluation averages over weight samples (METHODS.md s.1 "Prediction").
 *   softmax   classification: labels 0..K-1 (uint8_t), -log softmax(f)[y]
 *             (cross-entropy), predictive = the class probabilities
 *   gaussian  regression: real targets (float, n_out per row), y ~ N(f, s^2)
 *             with s = noise_std fixed (METHODS.md s.12, Blundell's toy),
 *             predictive = f itself (the mean; its spread over weight samples
 *             is the epistemic part, s^2 the aleatoric one)
 * A likelihood is one file in src/nn/ and one line in likelihood.c. A model
 * holds its likelihood by value (noise_std is a per-model setting); callers
 * pass it back as `self`.
 */
#ifndef BNNSWEEP_LIKELIHOOD_H
#define BNNSWEEP_LIKELIHOOD_H

#include <stdint.h>

typedef struct bns_likelihood {
    const char *name;
    /* Returns sum_i -log p(y_i | out_i) over the batch; writes grad_scale *
     * d/d out into grad_out (batch x n_out) unless it is NULL. targets: batch
     * uint8_t labels (real_targets 0) or batch x n_out floats (real_targets 1). */
    double (*nll)(const struct bns_likelihood *self, const float *out, const void *targets, int batch, int n_out,
                  float grad_scale, float *grad_out);
    /* The predictive distribution of each row (batch x n_out; may alias out). */
    void (*predict)(const float *out, int batch, int n_out, float *pred);
    int real_targets; /* 1: targets are floats (bns_dataset.t), 0: class labels (bns_dataset.y) */
    double noise_std; /* gaussian: the observation noise std s (> 0); unused by softmax */
} bns_likelihood;

extern const bns_likelihood bns_likelihood_softmax, bns_likelihood_gaussian;
/* NULL if unknown */
const bns_likelihood *bns_likelihood_find(const char *name);

#endif
