/* likelihood.c - the list of likelihoods (likelihood.h): one line each. */
#include <string.h>

#include "bnnsweep/likelihood.h"
#include "bnnsweep/nn.h"

const bns_likelihood bns_likelihood_softmax = {
    .name = "softmax",
    .nll = bns_softmax_xent,
    .predict = bns_softmax,
};

static const bns_likelihood *const likelihoods[] = {
    &bns_likelihood_softmax,
    NULL,
};

const bns_likelihood *bns_likelihood_find(const char *name) {
    for (int i = 0; likelihoods[i]; i++)
        if (strcmp(likelihoods[i]->name, name) == 0) return likelihoods[i];
    return NULL;
}
