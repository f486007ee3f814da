/* optim.h - SGD with momentum and Adam over a flat parameter vector.
 *
 * An update can be applied to any range of the parameters, so a method
 * whose per-parameter kernel finishes the gradient chunk by chunk can update
 * each chunk while it is still in cache (the fused BBB step), and the
 * result is the same as one update over the whole vector.
 */
#ifndef BNNSWEEP_OPTIM_H
#define BNNSWEEP_OPTIM_H

#include <stddef.h>

#include "bnnsweep/model.h"

typedef struct {
    int kind;              /* enum bns_optimizer */
    float lr, momentum, beta1, beta2, eps;
    long step;             /* steps begun (Adam's bias correction) */
    size_t n;
    float *state1;         /* SGD velocity, or Adam's first moment */
    float *state2;         /* Adam's second moment (NULL for SGD) */
} bns_optimizer;

void bns_optimizer_init(bns_optimizer *opt, const bns_config *cfg, size_t n_params);
void bns_optimizer_free(bns_optimizer *opt);
/* Call once per step, before any update of that step. */
void bns_optimizer_begin_step(bns_optimizer *opt);
/* params[i] and its state for i in [begin, begin + count), from grad[i]. */
void bns_optimizer_update(bns_optimizer *opt, float *params, const float *grad, size_t begin, size_t count);

/* A Gaussian posterior's parameters are mu (n) then rho (n): chunk [begin,
 * begin + count) of the per-parameter pass finishes both halves' gradient
 * there. bns_pair_update_chunk (a bns_chunk_done, ctx a bns_pair_update)
 * updates both halves of the chunk. */
typedef struct {
    bns_optimizer *opt;
    float *params;
    const float *grad;
    size_t n;
} bns_pair_update;
void bns_pair_update_chunk(void *ctx, size_t begin, size_t count);

#endif
