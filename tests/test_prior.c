/* test_prior.c - priors, softplus and the per-parameter KL kernels (prior.h, backend.h).
 *
 * The scale-mixture log density is compared with the direct formula
 * log(pi N(w;0,s1^2) + (1-pi) N(w;0,s2^2)) evaluated in long double (whose
 * exponent range keeps the narrow component from underflowing for moderate
 * w); derivatives against double central differences; the closed-form
 * Gaussian KL against a Monte-Carlo estimate; and the BBB/LRT gradient
 * kernels against their formulas and at the extremes METHODS.md s.1 names
 * (rho = -30, huge |w|), where they must stay finite.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bnnsweep/backend.h"
#include "bnnsweep/prior.h"
#include "bnnsweep/rng.h"

static const double LOG_SQRT_2PI = 0.91893853320467274178;
static const long double LOG_SQRT_2PI_L = 0.918938533204672741780329736405617639L;

static long double gauss_pdf_l(long double w, long double s) {
    return expl(-0.5L * (w / s) * (w / s) - LOG_SQRT_2PI_L) / s;
}

static int close_rel(double got, double want, double rtol, double atol) {
    return fabs(got - want) <= atol + rtol * fabs(want);
}

static bns_prior mixture_prior(void) {
    bns_prior p;
    bns_prior_defaults(&p, BNS_PRIOR_MIXTURE);
    return p;
}

static void test_defaults(void **state) {
    (void)state;
    bns_prior p = mixture_prior();
    assert_true(p.pi == 0.5);
    assert_true(close_rel(p.sigma1, exp(-1.0), 1e-15, 0));
    assert_true(close_rel(p.sigma2, exp(-7.0), 1e-15, 0));
    /* std of the mixture: sqrt(pi s1^2 + (1-pi) s2^2) */
    double want = sqrt(0.5 * exp(-2.0) + 0.5 * exp(-14.0));
    assert_true(close_rel(bns_prior_std(&p), want, 1e-14, 0));
    bns_prior g;
    bns_prior_defaults(&g, BNS_PRIOR_GAUSSIAN);
    g.sigma = 0.7;
    assert_true(bns_prior_std(&g) == 0.7);
}

static void test_mixture_log_density_matches_direct(void **state) {
    (void)state;
    const double ws[] = {0, 1e-5, -1e-4, 3e-4, 1e-3, -2e-3, 3e-3, 3.5e-3, 4e-3, -5e-3, 1e-2, 0.03, -0.05, 0.1,
                         0.3, -0.7, 1.0, 2.0, -3.0};
    const double pis[] = {0.5, 0.25, 0.9};
    for (size_t k = 0; k < sizeof pis / sizeof pis[0]; k++) {
        bns_prior p = mixture_prior();
        p.pi = pis[k];
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
            long double w = ws[i];
            long double direct = logl(p.pi * gauss_pdf_l(w, p.sigma1) + (1 - p.pi) * gauss_pdf_l(w, p.sigma2));
            double got = bns_prior_log_density(&p, ws[i]);
            if (!close_rel(got, (double)direct, 1e-12, 1e-12))
                fail_msg("pi %g: log p(%g) = %.17g, direct %.17Lg", p.pi, ws[i], got, direct);
        }
    }
    /* Gaussian prior: the textbook formula */
    bns_prior g;
    bns_prior_defaults(&g, BNS_PRIOR_GAUSSIAN);
    g.sigma = 0.4;
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
        double want = -LOG_SQRT_2PI - log(0.4) - 0.5 * ws[i] * ws[i] / 0.16;
        assert_true(close_rel(bns_prior_log_density(&g, ws[i]), want, 1e-14, 1e-14));
        assert_true(close_rel(bns_prior_dlog_density(&g, ws[i]), -ws[i] / 0.16, 1e-14, 1e-300));
    }
}

static void test_log_density_finite_at_extremes(void **state) {
    (void)state;
    const double ws[] = {0, 1e-30, -1e-30, 1e3, -1e6, 1e30, -1e30, 1e150};
    bns_prior p = mixture_prior();
    bns_prior g;
    bns_prior_defaults(&g, BNS_PRIOR_GAUSSIAN);
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
        double lp = bns_prior_log_density(&p, ws[i]), dp = bns_prior_dlog_density(&p, ws[i]);
        if (!isfinite(lp) || !isfinite(dp)) fail_msg("mixture at w = %g: log p %g, dlog p %g", ws[i], lp, dp);
        double lg = bns_prior_log_density(&g, ws[i]), dg = bns_prior_dlog_density(&g, ws[i]);
        if (!isfinite(lg) || !isfinite(dg)) fail_msg("gaussian at w = %g: log p %g, dlog p %g", ws[i], lg, dg);
    }
    /* far in the tails the wide component alone remains:
     * log p -> log(pi) + log N(w; 0, s1^2), d/dw -> -w/s1^2 */
    double w = 1e3, s1 = p.sigma1;
    double want = log(p.pi) - LOG_SQRT_2PI - log(s1) - 0.5 * (w / s1) * (w / s1);
    assert_true(close_rel(bns_prior_log_density(&p, w), want, 1e-12, 0));
    assert_true(close_rel(bns_prior_dlog_density(&p, w), -w / (s1 * s1), 1e-12, 0));
    /* at w = 0 both components contribute: the density is the mixture of the peaks */
    double at0 = log(p.pi / p.sigma1 + (1 - p.pi) / p.sigma2) - LOG_SQRT_2PI;
    assert_true(close_rel(bns_prior_log_density(&p, 0.0), at0, 1e-13, 0));
    assert_true(bns_prior_dlog_density(&p, 0.0) == 0.0);
}

static void test_dlog_density_matches_fd(void **state) {
    (void)state;
    const double ws[] = {1e-5, -1e-4, 5e-4, 1e-3, -2e-3, 3e-3, 3.3e-3, 3.6e-3, -4e-3, 5e-3, 1e-2, 0.05, 0.3, -1.0, 4.0};
    bns_prior p = mixture_prior();
    for (int prior_case = 0; prior_case < 2; prior_case++) {
        if (prior_case == 1) p.pi = 0.2, p.sigma1 = 1.5, p.sigma2 = 0.01;
        for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
            double w = ws[i], h = 1e-6 * fmax(fabs(w), 1e-3);
            double fd = (bns_prior_log_density(&p, w + h) - bns_prior_log_density(&p, w - h)) / (2 * h);
            double g = bns_prior_dlog_density(&p, w);
            if (!close_rel(g, fd, 1e-6, 1e-6))
                fail_msg("prior %d: dlog p(%g) = %.12g, central difference %.12g", prior_case, w, g, fd);
        }
    }
}

static void test_softplus(void **state) {
    (void)state;
    double s = bns_softplus(-30);
    assert_true(s > 0);
    if (!close_rel(s, 9.357622968840175e-14, 1e-6, 0)) fail_msg("softplus(-30) = %g", s);
    /* float sigma at rho = -30 is a normal float, not 0 */
    assert_true((float)s > 0.0f && isfinite((float)s));
    assert_true((float)bns_softplus(-87) > 0.0f);
    if (!close_rel(bns_log_softplus(-30), -30.0, 1e-12, 0)) fail_msg("log softplus(-30) = %.17g", bns_log_softplus(-30));
    assert_true(close_rel(bns_log_softplus(-200), -200.0, 1e-15, 0));
    assert_true(close_rel(bns_log_softplus(-1000), -1000.0, 1e-15, 0)); /* exp underflows: still exact */
    assert_true(close_rel(bns_softplus(40), 40.0, 1e-15, 0));
    assert_true(close_rel(bns_softplus(1000), 1000.0, 1e-15, 0)); /* no overflow */
    assert_true(close_rel(bns_softplus(0), log(2.0), 1e-15, 0));
    assert_true(close_rel(bns_softplus(-3), log1p(exp(-3.0)), 1e-15, 0));
    assert_true(close_rel(bns_softplus(2.5), log1p(exp(2.5)), 1e-15, 0));
    /* log softplus is continuous across its branch point near -30 */
    for (double r = -31; r <= -29; r += 0.125)
        assert_true(close_rel(bns_log_softplus(r), log(log1p(exp(r))), 1e-12, 0));
    /* sigmoid = d softplus / d rho, stable at both ends */
    const double rs[] = {-40, -30, -5, -0.3, 0, 0.7, 6, 35};
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++) {
        double r = rs[i], h = 1e-5;
        double fd = (bns_softplus(r + h) - bns_softplus(r - h)) / (2 * h);
        assert_true(close_rel(bns_sigmoid(r), fd, 1e-7, 1e-300));
        assert_true(close_rel(bns_sigmoid(r), 1 / (1 + exp(-r)), 1e-14, 0));
    }
    assert_true(bns_sigmoid(-800) >= 0 && bns_sigmoid(800) == 1.0 && isfinite(bns_sigmoid(-800)));
}

/* KL(N(mu, sq^2) || N(0, sp^2)) = E_q[log q(w) - log p(w)], estimated with 1e6
 * draws; the estimate must lie within 4 standard errors. */
static void test_gaussian_kl_monte_carlo(void **state) {
    (void)state;
    enum { N = 1000000 };
    float *z = malloc(sizeof(float) * N);
    assert_non_null(z);
    bns_stream s = bns_stream_make(77, 0, BNS_PURPOSE_DATA);
    const double cases[][3] = {{0.0, 1.0, 1.0}, {0.5, 0.1, 1.0}, {-0.3, 0.05, 0.2}, {1.2, 0.8, 0.5}, {0.02, 0.3, 0.1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double mu = cases[c][0], sq = cases[c][1], sp = cases[c][2];
        bns_stream_normal(&s, c, 0, N, z);
        double sum = 0, sum2 = 0;
        for (size_t i = 0; i < N; i++) {
            double e = z[i], w = mu + sq * e;
            double d = (-log(sq) - 0.5 * e * e) - (-log(sp) - 0.5 * (w / sp) * (w / sp));
            sum += d;
            sum2 += d * d;
        }
        double mean = sum / N, se = sqrt((sum2 / N - mean * mean) / N);
        double kl = bns_gaussian_kl(mu, sq, sp);
        double exact = log(sp / sq) + (sq * sq + mu * mu) / (2 * sp * sp) - 0.5;
        assert_true(close_rel(kl, exact, 1e-14, 1e-15));
        if (fabs(mean - kl) > 4 * se + 1e-12)
            fail_msg("KL(N(%g,%g^2)||N(0,%g^2)) = %.8g, Monte Carlo %.8g +- %.2g", mu, sq, sp, kl, mean, se);
    }
    assert_true(bns_gaussian_kl(0, 1, 1) == 0.0);
    assert_true(bns_gaussian_kl(0.1, 0.3, 1) > 0);
    free(z);
}

/* bns_bbb_accumulate_grad against its documented formula, in double, and
 * its accumulate (+=) semantics. */
static void test_bbb_accumulate_grad_formula(void **state) {
    (void)state;
    enum { N = 64 };
    float mu[N], rho[N], eps[N], w[N], gw[N], gmu[N], grho[N], gmu0[N], grho0[N];
    bns_stream s = bns_stream_make(5, 0, BNS_PURPOSE_DATA);
    bns_stream_normal(&s, 0, 0, N, mu);
    bns_stream_normal(&s, 1, 0, N, rho);
    bns_stream_normal(&s, 2, 0, N, eps);
    bns_stream_normal(&s, 3, 0, N, gw);
    bns_stream_normal(&s, 4, 0, N, gmu0);
    bns_stream_normal(&s, 5, 0, N, grho0);
    for (int i = 0; i < N; i++) {
        mu[i] *= 0.3f;
        rho[i] = -4.0f + 2.0f * rho[i];
        w[i] = mu[i] + (float)bns_softplus(rho[i]) * eps[i];
    }
    for (int kind = 0; kind < 2; kind++) {
        bns_prior p;
        bns_prior_defaults(&p, kind);
        if (kind == BNS_PRIOR_GAUSSIAN) p.sigma = 0.3;
        const double kl_scale = 0.37;
        memcpy(gmu, gmu0, sizeof gmu);
        memcpy(grho, grho0, sizeof grho);
        double kl = bns_bbb_accumulate_grad(mu, rho, eps, w, gw, N, &p, kl_scale, gmu, grho);
        double want_kl = 0;
        for (int i = 0; i < N; i++) {
            double r = rho[i], sig = bns_softplus(r), e = eps[i];
            double g = gw[i] - kl_scale * bns_prior_dlog_density(&p, w[i]);
            double want_mu = gmu0[i] + g;
            double want_rho = grho0[i] + (g * e - kl_scale / sig) * bns_sigmoid(r);
            double log_q = -LOG_SQRT_2PI - log(sig) - 0.5 * e * e;
            want_kl += log_q - bns_prior_log_density(&p, w[i]);
            if (!close_rel(gmu[i], want_mu, 1e-5, 1e-6)) fail_msg("prior %d: grad_mu[%d] = %g, want %g", kind, i, gmu[i], want_mu);
            if (!close_rel(grho[i], want_rho, 1e-5, 1e-6)) fail_msg("prior %d: grad_rho[%d] = %g, want %g", kind, i, grho[i], want_rho);
        }
        assert_true(close_rel(kl, want_kl, 1e-9, 1e-9));
    }
}

/* METHODS.md s.1: rho = -30 (sigma ~ 1e-13) and extreme sampled weights must
 * give finite gradients and a finite KL. */
static void test_bbb_accumulate_grad_extremes(void **state) {
    (void)state;
    enum { N = 8 };
    const float mu[N] = {0.0f, 0.1f, -0.2f, 1e3f, -1e6f, 1e30f, 1e-30f, 0.5f};
    const float rho[N] = {-30.0f, -30.0f, -30.0f, -30.0f, -30.0f, -30.0f, -30.0f, 20.0f};
    const float eps[N] = {0.5f, -1.2f, 3.0f, 0.1f, -0.7f, 1.0f, 2.0f, -4.0f};
    float w[N], gw[N] = {0, 1, -1, 0, 0, 0, 0, 1e3f};
    for (int i = 0; i < N; i++) w[i] = mu[i] + (float)bns_softplus(rho[i]) * eps[i];
    for (int kind = 0; kind < 2; kind++) {
        bns_prior p;
        bns_prior_defaults(&p, kind);
        const double scales[] = {1.0, 1.0 / 60000};
        for (int k = 0; k < 2; k++) {
            float gmu[N] = {0}, grho[N] = {0};
            double kl = bns_bbb_accumulate_grad(mu, rho, eps, w, gw, N, &p, scales[k], gmu, grho);
            assert_true(isfinite(kl));
            for (int i = 0; i < N; i++)
                if (!isfinite(gmu[i]) || !isfinite(grho[i]))
                    fail_msg("prior %d, w = %g, rho = %g: grad_mu %g grad_rho %g", kind, w[i], rho[i], gmu[i], grho[i]);
            /* at rho = -30 the entropy term dominates d/drho: -kl_scale * sigmoid/softplus ~ -kl_scale */
            /* (g * eps * sigmoid(-30) is ~1e-13 of that) */
            assert_true(close_rel(grho[0], -scales[k], 1e-5, 1e-9));
        }
    }
    /* the Gaussian closed form: at rho = -30 dKL/drho = kl_scale * (-1 + sigma^2/sp^2) ~ -kl_scale */
    float gmu[N] = {0}, grho[N] = {0};
    double kl = bns_gaussian_kl_accumulate_grad(mu, rho, N, 1.0, 0.5, gmu, grho);
    assert_true(isfinite(kl));
    for (int i = 0; i < N; i++) {
        if (!isfinite(gmu[i]) || !isfinite(grho[i])) fail_msg("gaussian KL grad %d not finite: %g %g", i, gmu[i], grho[i]);
        if (rho[i] == -30.0f) assert_true(close_rel(grho[i], -0.5, 1e-6, 0));
    }
}

/* bns_gaussian_kl_accumulate_grad: the value is the sum of bns_gaussian_kl,
 * the gradient matches central differences in (mu, rho), and it accumulates. */
static void test_gaussian_kl_accumulate_grad(void **state) {
    (void)state;
    enum { N = 40 };
    float mu[N], rho[N], gmu[N], grho[N];
    bns_stream s = bns_stream_make(6, 0, BNS_PURPOSE_DATA);
    bns_stream_normal(&s, 0, 0, N, mu);
    bns_stream_normal(&s, 1, 0, N, rho);
    for (int i = 0; i < N; i++) {
        mu[i] *= 0.5f;
        rho[i] = -3.0f + 2.5f * rho[i];
        gmu[i] = 0.25f;
        grho[i] = -0.5f;
    }
    rho[0] = -30.0f;
    rho[1] = -29.5f;
    rho[2] = -35.0f;
    rho[3] = 4.0f;
    const double sp = 0.3, scale = 0.7;
    double kl = bns_gaussian_kl_accumulate_grad(mu, rho, N, sp, scale, gmu, grho);
    double want = 0;
    for (int i = 0; i < N; i++) {
        double m = mu[i], r = rho[i];
        want += bns_gaussian_kl(m, bns_softplus(r), sp);
        double h = 1e-6;
        double fd_mu = (bns_gaussian_kl(m + h, bns_softplus(r), sp) - bns_gaussian_kl(m - h, bns_softplus(r), sp)) / (2 * h);
        /* in rho use log softplus so that rho = -35 keeps its precision */
        double kl_p = log(sp) - bns_log_softplus(r + h) + (pow(bns_softplus(r + h), 2) + m * m) / (2 * sp * sp) - 0.5;
        double kl_m = log(sp) - bns_log_softplus(r - h) + (pow(bns_softplus(r - h), 2) + m * m) / (2 * sp * sp) - 0.5;
        double fd_rho = (kl_p - kl_m) / (2 * h);
        if (!close_rel(gmu[i] - 0.25, scale * fd_mu, 1e-5, 1e-6)) fail_msg("grad_mu[%d] %g, fd %g", i, gmu[i] - 0.25, scale * fd_mu);
        if (!close_rel(grho[i] + 0.5, scale * fd_rho, 1e-5, 1e-6))
            fail_msg("grad_rho[%d] (rho %g) %g, fd %g", i, rho[i], grho[i] + 0.5, scale * fd_rho);
    }
    if (!close_rel(kl, want, 1e-10, 1e-10)) fail_msg("KL sum %.15g, want %.15g", kl, want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_mixture_log_density_matches_direct),
        cmocka_unit_test(test_log_density_finite_at_extremes),
        cmocka_unit_test(test_dlog_density_matches_fd),
        cmocka_unit_test(test_softplus),
        cmocka_unit_test(test_gaussian_kl_monte_carlo),
        cmocka_unit_test(test_bbb_accumulate_grad_formula),
        cmocka_unit_test(test_bbb_accumulate_grad_extremes),
        cmocka_unit_test(test_gaussian_kl_accumulate_grad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
