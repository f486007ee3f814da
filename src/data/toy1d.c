/* toy1d.c - the 1-D regression toy of Blundell et al. 2015 as Semko uses it
 * (dataset.h, METHODS.md s.12): y = x + 0.3 sin(2 pi (x + e)) + 0.3 sin(4 pi (x + e)) + e,
 * e ~ N(0, 0.02^2) (0.02 is the std, s.12's note), training x ~ U[0, 0.5].
 * The predictive band of a Bayesian network should widen away from [0, 0.5];
 * the test split is a grid over [-0.2, 1.2] to show it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/dataset.h"
#include "bnnsweep/error.h"
#include "bnnsweep/rng.h"

#define TOY_PI 3.14159265358979323846
#define TOY_NOISE_STD 0.02

static double toy_curve(double x, double e) {
    return x + 0.3 * sin(2.0 * TOY_PI * (x + e)) + 0.3 * sin(4.0 * TOY_PI * (x + e)) + e;
}

int bns_toy1d_make(uint64_t seed, uint64_t task, uint64_t sub, size_t n, double x_lo, double x_hi, int grid,
                   bns_dataset *out) {
    memset(out, 0, sizeof *out);
    if (n == 0 || (grid && n < 2)) return bns_fail("toy1d: %zu points (need at least %d)", n, grid ? 2 : 1);
    if (!(x_hi > x_lo)) return bns_fail("toy1d: empty x range [%g, %g]", x_lo, x_hi);
    out->n = n;
    out->d = 1;
    out->n_classes = 1;
    out->x = bns_xmalloc(sizeof(float) * n);
    out->t = bns_xmalloc(sizeof(float) * n);
    snprintf(out->name, sizeof out->name, "toy1d-%s", grid ? "grid" : "sample");
    bns_stream s = bns_stream_make(seed, task, BNS_PURPOSE_DATA);
    float *u = NULL, *e = NULL;
    if (!grid) {
        u = bns_xmalloc(sizeof(float) * n);
        e = bns_xmalloc(sizeof(float) * n);
        /* x and e from disjoint offsets of one substream: each is a fixed function of its index */
        bns_stream_uniform(&s, sub, 0, n, u);
        bns_stream_normal(&s, sub, n, n, e);
    }
    for (size_t i = 0; i < n; i++) {
        double x = grid ? x_lo + (x_hi - x_lo) * (double)i / (double)(n - 1) : x_lo + (x_hi - x_lo) * u[i];
        double noise = grid ? 0.0 : TOY_NOISE_STD * e[i];
        out->x[i] = (float)x;
        out->t[i] = (float)toy_curve(x, noise);
    }
    free(u);
    free(e);
    return 0;
}

int bns_toy1d_load(uint64_t seed, uint64_t task, size_t train_limit, size_t test_limit, bns_splits *out) {
    memset(out, 0, sizeof *out);
    if (bns_toy1d_make(seed, task, 0, train_limit ? train_limit : 1000, 0.0, 0.5, 0, &out->train) ||
        bns_toy1d_make(seed, task, 1, 200, 0.0, 0.5, 0, &out->val) ||
        bns_toy1d_make(seed, task, 2, test_limit >= 2 ? test_limit : 281, -0.2, 1.2, 1, &out->test)) {
        bns_splits_free(out);
        return -1;
    }
    snprintf(out->train.name, sizeof out->train.name, "toy1d-train");
    snprintf(out->val.name, sizeof out->val.name, "toy1d-val");
    snprintf(out->test.name, sizeof out->test.name, "toy1d-grid");
    return 0;
}
