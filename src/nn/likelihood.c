/* likelihood.c - the list of likelihoods (likelihood.h): one line each. */
#include <string.h>

#include "bnnsweep/likelihood.h"
#include "bnnsweep/nn.h"

static double softmax_nll(const bns_likelihood *self, const float *out, const void *targets, int batch, int n_out,
                          float grad_scale, float *grad_out) {
    (void)self;
    return bns_softmax_xent(out, targets, batch, n_out, grad_scale, grad_out);
}

const bns_likelihood bns_likelihood_softmax = {
    .name = "softmax",
    .nll = softmax_nll,
    .predict = bns_softmax,
};

static const bns_likelihood *const likelihoods[] = {
    &bns_likelihood_softmax,
    &bns_likelihood_gaussian,
    NULL,
};

const bns_likelihood *bns_likelihood_find(const char *name) {
    for (int i = 0; likelihoods[i]; i++)
        if (strcmp(likelihoods[i]->name, name) == 0) return likelihoods[i];
    return NULL;
}
