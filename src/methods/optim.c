/* optim.c - optimizer state and ranged updates (see optim.h); the
 * arithmetic is in backend.h's update kernels. */
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/backend.h"
#include "bnnsweep/error.h"
#include "bnnsweep/optim.h"

void bns_optimizer_init(bns_optimizer *opt, const bns_config *cfg, size_t n_params) {
    memset(opt, 0, sizeof *opt);
    opt->kind = cfg->optimizer;
    opt->lr = (float)cfg->lr;
    opt->momentum = (float)cfg->momentum;
    opt->beta1 = (float)cfg->beta1;
    opt->beta2 = (float)cfg->beta2;
    opt->eps = (float)cfg->adam_eps;
    opt->n = n_params;
    opt->state1 = bns_xcalloc(n_params, sizeof(float));
    if (opt->kind == BNS_OPT_ADAM) opt->state2 = bns_xcalloc(n_params, sizeof(float));
}

void bns_optimizer_free(bns_optimizer *opt) {
    free(opt->state1);
    free(opt->state2);
    memset(opt, 0, sizeof *opt);
}

void bns_optimizer_begin_step(bns_optimizer *opt) { opt->step++; }

void bns_optimizer_update(bns_optimizer *opt, float *params, const float *grad, size_t begin, size_t count) {
    if (opt->kind == BNS_OPT_ADAM)
        bns_adam_update(params + begin, grad + begin, opt->state1 + begin, opt->state2 + begin, count, opt->lr,
                        opt->beta1, opt->beta2, opt->eps, opt->step);
    else
        bns_sgd_momentum_update(params + begin, grad + begin, opt->state1 + begin, count, opt->lr, opt->momentum);
}

void bns_pair_update_chunk(void *ctx, size_t begin, size_t count) {
    bns_pair_update *c = ctx;
    bns_optimizer_update(c->opt, c->params, c->grad, begin, count);
    bns_optimizer_update(c->opt, c->params, c->grad, c->n + begin, count);
}
