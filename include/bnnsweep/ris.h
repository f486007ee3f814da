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

#include "bnnsweep/net.h"
#include "bnnsweep/rng.h"

/* The proposal (a, b) of one layer's parameter block (dense, conv2d,
 * batchnorm: any layer with parameters) at the mean weights w, written at
 * the layer's offsets of the P-vectors a and b (sigma likewise read there).
 * x: the layer's input (batch rows, stride ld_x); f: its output after the
 * in-place layers that follow it (save, add, relu: ws->out of the layer),
 * relu set when a relu ends that chain (|f| = f, else |f| = |identity|).
 * Per unit j (a dense output or an output channel) over the batch and the
 * unit's output pixels,
 *   F_j = sum |f|,   G = d/dtheta sum |f| (the layer's own backward with
 *   d/dy = d|f|/dy: sum x_ni d|f|/dy for dense, its im2col sum for conv),
 * and a = clamp(sigma G / F_j, +-max_shift), b = sqrt(1 - a^2), with j the
 * unit the parameter feeds; a = 0, b = 1 where F_j = 0 (docs/ris.md s.3).
 * work: batch x n_out floats; ws: the workspace of the forward pass at w
 * (conv's scratch, batch norm's batch statistics; NULL for dense). */
void bns_ris_layer_proposal(const bns_layer *op, const float *w, const float *x, int ld_x, const float *f, int relu,
                            int batch, const float *sigma, double max_shift, float *work, bns_net_workspace *ws,
                            float *a, float *b);

/* The proposal of every layer of arch with parameters from one forward pass
 * of the mean weights mu over the minibatch x (in ws, which it leaves
 * holding that pass), the method's: f per layer as bns_ris_layer_proposal
 * says, a = 0, b = 1 for a layer followed by an in-place chain other than
 * save/add/relu (none of the built-in nets has one). work: batch x
 * max_width floats. */
void bns_ris_net_proposal(const bns_arch *arch, const float *mu, const float *sigma, const float *x, int batch,
                          double max_shift, bns_net_workspace *ws, float *work, float *a, float *b);

/* A draw from the proposal: xi = normals [offset, offset + n) of substream
 * sub, eps = a + b xi, w = mu + sigma eps. Returns log q(w) - log r(w) =
 * sum_i (xi_i^2 - eps_i^2) / 2 + log b_i (in double). */
double bns_ris_draw(const float *mu, const float *sigma, const float *a, const float *b, size_t n,
                    const bns_stream *stream, uint64_t sub, uint64_t offset, float *xi, float *eps, float *w);

#endif
