/* mog.h - expectation-maximisation for a diagonal Gaussian mixture, the
 * storage baseline of METHODS.md s.10 (src/methods/mog.c, which registers
 * the method `mog`; tests check the EM step on its own through this header).
 */
#ifndef BNNSWEEP_MOG_H
#define BNNSWEEP_MOG_H

#include <stddef.h>

/* A mixture of k diagonal Gaussians in p dimensions, in caller-owned arrays. */
typedef struct {
    int k;
    size_t p;
    float *weight;   /* [k] mixing weights, summing to 1 */
    float *mean;     /* [k, p] */
    float *var;      /* [k, p] variances */
} bns_mog;

/* One EM iteration on the n points x [n, p]: the E-step's responsibilities
 * (resp: n * k doubles of workspace, acc: 2 p), then the M-step in place, with every
 * variance at least var_floor[i] for coordinate i (a component on one point
 * would otherwise collapse; from variances that meet the floor, the
 * constrained M-step still never lowers the likelihood). Returns the log-likelihood of x under the mixture as it was
 * before the update, so successive returns never decrease. A component with
 * no responsibility keeps its mean and variance and gets weight 0. */
double bns_mog_em_step(bns_mog *g, const float *x, size_t n, const float *var_floor, double *resp, double *acc);

/* log p(x) of one point under the mixture. */
double bns_mog_log_density(const bns_mog *g, const float *x);

#endif
