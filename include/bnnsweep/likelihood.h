/* likelihood.h - the observation model p(y | f(x; w)): a part of every model.
 *
 * The network's last layer gives f; the likelihood turns it into the
 * negative log-likelihood of the targets and its gradient w.r.t. f (what
 * training and attacks differentiate) and into the predictive distribution
 * that evaluation averages over weight samples (METHODS.md s.1 "Prediction").
 *   softmax   classification: labels 0..K-1, -log softmax(f)[y] (cross-entropy),
 *             predictive = the class probabilities
 * Another likelihood (a Gaussian for the regression experiments) is one more
 * file in src/nn/ and one line in likelihood.c; it will bring real-valued
 * targets to bns_dataset (today's targets are class labels).
 */
#ifndef BNNSWEEP_LIKELIHOOD_H
#define BNNSWEEP_LIKELIHOOD_H

#include <stdint.h>

typedef struct bns_likelihood {
    const char *name;
    /* Returns sum_i -log p(y_i | out_i) over the batch; writes grad_scale *
     * d/d out into grad_out (batch x n_out) unless it is NULL. */
    double (*nll)(const float *out, const uint8_t *labels, int batch, int n_out, float grad_scale, float *grad_out);
    /* The predictive distribution of each row (batch x n_out; may alias out). */
    void (*predict)(const float *out, int batch, int n_out, float *pred);
} bns_likelihood;

extern const bns_likelihood bns_likelihood_softmax;
/* NULL if unknown */
const bns_likelihood *bns_likelihood_find(const char *name);

#endif
