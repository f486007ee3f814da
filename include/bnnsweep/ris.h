/* ris.h - the pieces of reparameterized importance sampling (METHODS.md
 * s.11; docs/ris.md) that the ris method (src/methods/ris.c) is built from,
 * exposed so tests can hold each to its closed form.
 *
 * The proposal of a weight is written in q's standardised coordinates:
 * w = mu + sigma * eps with eps ~ N(a, b^2) under r (eps ~ N(0, 1) under q),
 * so a = (mu* - mu) / sigma and b = sigma* / sigma. */
#ifndef BNNSWEEP_RIS_H
#define BNNSWEEP_RIS_H

#include <stddef.h>

#include "bnnsweep/rng.h"

/* The proposal (a, b) of one dense layer's weights [n_in][n_out] and biases
 * [n_out] from the layer's input x (batch x n_in, row stride ld_x) and its
 * activated output y (batch x n_out) at the mean weights: f = relu when relu
 * is set, else the identity. Per output unit j, over the batch,
 *   F_j = sum_n |f(y_nj)|, G_ij = sum_n x_ni d|f|/dy(y_nj)
 * (x_ni = 1 for the bias), and a = clamp(sigma G / F, +-max_shift),
 * b = sqrt(1 - a^2); a = 0, b = 1 where F_j = 0 (docs/ris.md).
 * work: batch x n_out floats. */
void bns_ris_dense_proposal(const float *x, int ld_x, const float *y, int batch, int n_in, int n_out, int relu,
                            const float *sigma_w, const float *sigma_b, double max_shift, float *work,
                            float *a_w, float *b_w, float *a_b, float *b_b);

/* A draw from the proposal: xi = normals [offset, offset + n) of substream
 * sub, eps = a + b xi, w = mu + sigma eps. Returns log q(w) - log r(w) =
 * sum_i (xi_i^2 - eps_i^2) / 2 + log b_i (in double). */
double bns_ris_draw(const float *mu, const float *sigma, const float *a, const float *b, size_t n,
                    const bns_stream *stream, uint64_t sub, uint64_t offset, float *xi, float *eps, float *w);

#endif
