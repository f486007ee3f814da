/* sgld.h - the pieces of the sgld method (src/methods/sgld.c) that tests
 * check on their own: the Langevin update rule and the effective sample
 * size of its convergence diagnostic. The method itself is registered like
 * every other (method.h); nothing else needs this header.
 */
#ifndef BNNSWEEP_SGLD_H
#define BNNSWEEP_SGLD_H

#include <stddef.h>
#include <stdint.h>

#include "bnnsweep/rng.h"

/* One Langevin step (METHODS.md s.9, Welling & Teh's convention):
 *   out = theta + (eps / 2) grad_log_post + sqrt(eps) z,   z = normals [0, n) of substream `step`,
 * so the injected noise is N(0, eps I). noise = 0 drops the last term: gradient
 * ascent on log p with step eps / 2. out may be theta. */
void bns_sgld_update(const float *theta, const float *grad_log_post, size_t n, double eps, const bns_stream *stream,
                     uint64_t step, int noise, float *out);

/* Effective sample size n / tau of a scalar series, tau = 1 + 2 sum of its
 * autocorrelations, summed over Geyer's initial positive sequence (pairs
 * rho_2m + rho_2m+1 while positive). n when n < 4 or the series is constant. */
double bns_effective_sample_size(const double *x, size_t n);

#endif
