/* test_fd.h - the finite-difference gradient checker of the gradient tests
 * (test_grad.c says how it works and why its tolerances are what they are),
 * and random inputs from the library's own streams. Include after cmocka.h
 * and bnnsweep/rng.h. BNS_GRAD_VERBOSE=1 prints the worst error of every check. */
#ifndef BNNSWEEP_TEST_FD_H
#define BNNSWEEP_TEST_FD_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "bnnsweep/rng.h"

/* ---- the finite-difference checker ---- */

typedef double (*objective_fn)(void *ctx);

typedef struct {
    double h_rel, h_abs;   /* step = max(h_rel * |p|, h_abs) */
    double rtol, atol;     /* pass if |g - fd| <= atol + rtol * max(|g|, |fd|) + noise / h */
    double noise;          /* absolute rounding noise of one evaluation of the (float) objective */
    size_t max_checks;     /* all coordinates if n <= max_checks, else a random subset */
} fd_opts;

typedef struct {
    int checked, failed, skipped;
    double worst;          /* max of |g - fd| / (atol + rtol * max(|g|, |fd|)) */
} fd_result;

static int verbose(void) {
    const char *v = getenv("BNS_GRAD_VERBOSE");
    return v && v[0] && v[0] != '0';
}

static double central_difference(float *p, double h, objective_fn f, void *ctx) {
    float orig = *p;
    float plus = (float)(orig + h), minus = (float)(orig - h);
    *p = plus;
    double fp = f(ctx);
    *p = minus;
    double fm = f(ctx);
    *p = orig;
    /* divide by the step actually taken (float rounding of orig +- h) */
    return (fp - fm) / ((double)plus - (double)minus);
}

static fd_result fd_check(const char *what, float *param, size_t n, const float *grad, objective_fn f, void *ctx,
                          const fd_opts *o, int report) {
    fd_result r = {0, 0, 0, 0.0};
    bns_stream pick = bns_stream_make(0xfd, n, BNS_PURPOSE_DATA);
    size_t count = n <= o->max_checks ? n : o->max_checks;
    for (size_t k = 0; k < count; k++) {
        size_t i = n <= o->max_checks ? k : (size_t)bns_stream_below(&pick, 0, k, n);
        double h = fmax(o->h_rel * fabs(param[i]), o->h_abs);
        double fd1 = central_difference(param + i, h, f, ctx);
        double fd2 = central_difference(param + i, h / 2, f, ctx);
        double g = grad[i];
        r.checked++;
        /* Where the differences at h and h/2 disagree, the objective curves
         * on a scale below h (e.g. the narrow prior component, s2 ~ 1e-3):
         * shrink the step a few times before calling the point non-smooth. */
        int smooth = 0;
        for (int refine = 0; refine < 4; refine++) {
            double smooth_tol = o->atol + o->rtol * fmax(fabs(fd1), fabs(fd2)) + 2 * o->noise / h;
            if (fabs(fd1 - fd2) <= smooth_tol) {
                smooth = 1;
                break;
            }
            h /= 8;
            fd1 = central_difference(param + i, h, f, ctx);
            fd2 = central_difference(param + i, h / 2, f, ctx);
        }
        if (!smooth) {
            /* not differentiable at this scale (a ReLU kink inside the step) */
            r.skipped++;
            if (verbose()) print_message("%s[%zu]: skipped, fd(h) %.6g fd(h/2) %.6g grad %.6g\n", what, i, fd1, fd2, g);
            continue;
        }
        /* Richardson extrapolation cancels the h^2 term of the central difference */
        double fd = (4 * fd2 - fd1) / 3;
        double err = fabs(g - fd) / (o->atol + o->rtol * fmax(fabs(g), fabs(fd)) + 2 * o->noise / h);
        if (err > r.worst) r.worst = err;
        if (err > 1.0) {
            r.failed++;
            if (report) print_message("%s[%zu]: gradient %.8g, central difference %.8g (h %.3g)\n", what, i, g, fd, h);
        }
    }
    if (verbose()) print_message("%-44s checked %3d skipped %2d failed %2d worst %.3f\n", what, r.checked, r.skipped, r.failed, r.worst);
    return r;
}

/* Fails the test on any disagreement or if too many coordinates were skipped. */
static void expect_grad(const char *what, float *param, size_t n, const float *grad, objective_fn f, void *ctx,
                        const fd_opts *o) {
    fd_result r = fd_check(what, param, n, grad, f, ctx, o, 1);
    if (r.failed) fail_msg("%s: %d of %d coordinates disagree with central differences", what, r.failed, r.checked);
    if (r.skipped > 2 && r.skipped * 10 > r.checked) fail_msg("%s: %d of %d coordinates non-smooth", what, r.skipped, r.checked);
    assert_true(r.checked > 0);
}

/* ---- random inputs from the library's own streams ---- */

static void fill_normal(float *x, size_t n, uint64_t sub, float scale, float shift) {
    bns_stream s = bns_stream_make(20240601, 3, BNS_PURPOSE_DATA);
    bns_stream_normal(&s, sub, 0, n, x);
    for (size_t i = 0; i < n; i++) x[i] = shift + scale * x[i];
}

static void fill_labels(uint8_t *y, int n, int n_classes, uint64_t sub) {
    bns_stream s = bns_stream_make(20240601, 4, BNS_PURPOSE_DATA);
    for (int i = 0; i < n; i++) y[i] = (uint8_t)bns_stream_below(&s, sub, (uint64_t)i, (uint64_t)n_classes);
}

#endif
