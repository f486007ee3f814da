/* test_mog.c - EM for the diagonal Gaussian mixture of the mog method
 * (src/methods/mog.c, METHODS.md s.10): on points drawn from a planted
 * 3-component mixture in 6 dimensions the log-likelihood never decreases
 * from one iteration to the next (EM's guarantee, kept by the variance
 * floor's constrained M-step) and the fit recovers the planted weights,
 * means and standard deviations; a component that loses every point gets
 * weight 0 and stays finite. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bnnsweep/mog.h"
#include "bnnsweep/rng.h"

enum { K = 3, DIM = 6, N = 3000 };
static const double WEIGHT[K] = {0.5, 0.3, 0.2};
static double mean_of(int c, int i) { return 4.0 * c - 2.0 + 0.3 * i; }
static double sd_of(int c, int i) { return 0.2 + 0.1 * c + 0.02 * i; }

static void test_em_recovers_a_planted_mixture(void **state) {
    (void)state;
    float *x = malloc(sizeof(float) * N * DIM), floor[DIM];
    int *label = malloc(sizeof(int) * N);
    bns_stream s = bns_stream_make(42, 0, BNS_PURPOSE_DATA);
    for (int t = 0; t < N; t++) {
        float u;
        bns_stream_uniform(&s, 0, (uint64_t)t, 1, &u);
        label[t] = u < WEIGHT[0] ? 0 : u < WEIGHT[0] + WEIGHT[1] ? 1 : 2;
        bns_stream_normal(&s, 1 + (uint64_t)t, 0, DIM, x + (size_t)t * DIM);
        for (int i = 0; i < DIM; i++) x[t * DIM + i] = (float)(mean_of(label[t], i) + sd_of(label[t], i) * x[t * DIM + i]);
    }
    for (int i = 0; i < DIM; i++) floor[i] = 1e-4f;
    /* start: means at three points of the data (one per component, not the planted means), unit variances */
    float weight[K], mean[K * DIM], var[K * DIM];
    int start[K] = {-1, -1, -1};
    for (int t = 0; t < N; t++)
        if (start[label[t]] < 0) start[label[t]] = t;
    for (int c = 0; c < K; c++) {
        weight[c] = 1.0f / K;
        memcpy(mean + c * DIM, x + (size_t)start[c] * DIM, sizeof(float) * DIM);
        for (int i = 0; i < DIM; i++) var[c * DIM + i] = 1.0f;
    }
    bns_mog g = {K, DIM, weight, mean, var};
    double *resp = malloc(sizeof(double) * N * K), acc[2 * DIM], prev = -INFINITY;
    for (int it = 0; it < 30; it++) {
        double ll = bns_mog_em_step(&g, x, N, floor, resp, acc);
        if (ll < prev - 1e-9 * fabs(prev)) fail_msg("iteration %d: log-likelihood fell from %.9g to %.9g", it, prev, ll);
        prev = ll;
    }
    for (int c = 0; c < K; c++) {
        /* 3000 points: the weight's standard error is <= 0.01, the means' <= 0.02 */
        if (fabs(weight[c] - WEIGHT[c]) > 0.04) fail_msg("weight %d: %.4f, planted %.2f", c, weight[c], WEIGHT[c]);
        for (int i = 0; i < DIM; i++) {
            if (fabs(mean[c * DIM + i] - mean_of(c, i)) > 0.05) fail_msg("mean %d,%d: %.4f vs %.4f", c, i, mean[c * DIM + i], mean_of(c, i));
            if (fabs(sqrt(var[c * DIM + i]) / sd_of(c, i) - 1) > 0.1)
                fail_msg("sd %d,%d: %.4f vs %.4f", c, i, sqrt(var[c * DIM + i]), sd_of(c, i));
        }
    }
    /* the fitted mixture's density of a point: log of the weighted sum */
    double expect = 0;
    for (int c = 0; c < K; c++) {
        double s2 = 0;
        for (int i = 0; i < DIM; i++) {
            double d = x[i] - mean[c * DIM + i];
            s2 += log(6.283185307179586 * var[c * DIM + i]) + d * d / var[c * DIM + i];
        }
        expect += weight[c] * exp(-0.5 * s2);
    }
    assert_true(fabs(bns_mog_log_density(&g, x) - log(expect)) < 1e-6 * fabs(log(expect)) + 1e-9);
    /* a far-away component takes no point: weight 0, its mean and variance kept */
    mean[0] = 1e4f;
    weight[0] = 0.3f, weight[1] = 0.4f, weight[2] = 0.3f;
    bns_mog_em_step(&g, x, N, floor, resp, acc);
    assert_true(weight[0] == 0.0f);
    assert_true(mean[0] == 1e4f && isfinite(var[0]));
    free(resp);
    free(x);
    free(label);
}

/* With the floor above the data's variance, every variance sits on it and the likelihood still never falls. */
static void test_em_floor(void **state) {
    (void)state;
    enum { M = 200, P = 3 };
    float x[M * P], floor[P] = {4, 4, 4}, weight[2] = {0.5f, 0.5f}, mean[2 * P], var[2 * P];
    bns_stream s = bns_stream_make(43, 0, BNS_PURPOSE_DATA);
    bns_stream_normal(&s, 0, 0, M * P, x);
    memcpy(mean, x, sizeof(float) * P);
    memcpy(mean + P, x + P, sizeof(float) * P);
    for (int i = 0; i < 2 * P; i++) var[i] = 5.0f; /* feasible: EM never lowers the likelihood from a feasible start */
    bns_mog g = {2, P, weight, mean, var};
    double resp[M * 2], acc[2 * P], prev = -INFINITY;
    for (int it = 0; it < 10; it++) {
        double ll = bns_mog_em_step(&g, x, M, floor, resp, acc);
        assert_true(ll >= prev - 1e-9 * fabs(prev));
        prev = ll;
    }
    for (int i = 0; i < 2 * P; i++) assert_true(var[i] == 4.0f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_em_recovers_a_planted_mixture),
        cmocka_unit_test(test_em_floor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
