/* test_fused.c - the fused float kernels of a BBB step against the double
 * reference path (backend.h), for both priors, ordinary and extreme values. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bnnsweep/backend.h"
#include "bnnsweep/method.h"
#include "bnnsweep/train.h"

enum { N = 3000 };

/* mu, rho, grad_w from streams; rho spans [-35, 3] so that the rho < -20
 * branch, ordinary values and positive rho all occur; a few weights extreme. */
static void make_inputs(float *mu, float *rho, float *grad_w) {
    bns_stream s = bns_stream_make(7, 1, BNS_PURPOSE_DATA);
    float u[N];
    bns_stream_normal(&s, 0, 0, N, mu);
    bns_stream_uniform(&s, 1, 0, N, u);
    bns_stream_normal(&s, 2, 0, N, grad_w);
    for (int i = 0; i < N; i++) {
        mu[i] *= 0.2f;
        rho[i] = -35.0f + 38.0f * u[i];
        grad_w[i] *= 0.01f;
    }
    mu[0] = 1e3f;
    mu[1] = -50.0f;
    mu[2] = 0.0f;
    rho[2] = -30.0f;
    rho[3] = -100.0f;
}

static void check_close(const float *a, const float *b, int n, double rel, double abs_floor, const char *what) {
    for (int i = 0; i < n; i++) {
        double diff = fabs((double)a[i] - b[i]), scale = fmax(fabs(a[i]), fabs(b[i]));
        if (!(diff <= rel * scale + abs_floor)) {
            print_error("%s[%d]: fused %.9g vs reference %.9g\n", what, i, a[i], b[i]);
            fail();
        }
    }
}

static void test_sample_matches_reference(void **state) {
    (void)state;
    static float mu[N], rho[N], g[N], sigma[N], sig_rho[N], eps_f[N], w_f[N], eps_r[N], w_r[N];
    make_inputs(mu, rho, g);
    bns_stream noise = bns_stream_make(3, 9, BNS_PURPOSE_WEIGHT);
    bns_fused_posterior_prepare(rho, N, sigma, sig_rho);
    for (int i = 0; i < N; i++) {
        assert_true(isfinite(sigma[i]) && sigma[i] >= 0.0f);
        if (rho[i] > -80.0f) assert_true(sigma[i] > 0.0f);
        assert_true(fabs(sigma[i] - bns_softplus(rho[i])) <= 2e-6 * bns_softplus(rho[i]) + 1e-34);
        assert_true(fabs(sig_rho[i] - bns_sigmoid(rho[i])) <= 2e-6 * bns_sigmoid(rho[i]) + 1e-34);
    }
    bns_fused_sample(mu, sigma, N, &noise, 5, 128, eps_f, w_f);
    bns_gauss_sample(mu, rho, N, &noise, 5, 128, eps_r, w_r);
    assert_memory_equal(eps_f, eps_r, sizeof eps_f); /* the same stream numbers */
    check_close(w_f, w_r, N, 1e-6, 1e-7, "w");
}

static void check_grad_matches(const bns_prior *prior) {
    static float mu[N], rho[N], gw[N], sigma[N], sig_rho[N], eps[N], w[N];
    static float gmu_f[N], grho_f[N], gmu_r[N], grho_r[N];
    make_inputs(mu, rho, gw);
    bns_stream noise = bns_stream_make(3, 9, BNS_PURPOSE_WEIGHT);
    bns_fused_posterior_prepare(rho, N, sigma, sig_rho);
    bns_fused_sample(mu, sigma, N, &noise, 1, 0, eps, w);
    for (int i = 0; i < N; i++) gmu_f[i] = gmu_r[i] = grho_f[i] = grho_r[i] = 0.0f; /* accumulates */
    double kl_scale = 0.3; /* large enough that the prior and entropy terms weigh in the comparison */
    double kl_f = bns_fused_bbb_grad(rho, sigma, sig_rho, eps, w, gw, N, prior, kl_scale, 1, 1, gmu_f, grho_f, NULL, NULL);
    double kl_r = bns_bbb_accumulate_grad(mu, rho, eps, w, gw, N, prior, kl_scale, gmu_r, grho_r);
    for (int i = 0; i < N; i++) assert_true(isfinite(gmu_f[i]) && isfinite(grho_f[i]));
    check_close(gmu_f, gmu_r, N, 1e-4, 1e-6, "grad_mu");
    check_close(grho_f, grho_r, N, 1e-4, 1e-6, "grad_rho");
    assert_true(isfinite(kl_f));
    if (!(fabs(kl_f - kl_r) <= 1e-5 * fabs(kl_r) + 1e-2)) {
        print_error("KL: fused %.9g vs reference %.9g\n", kl_f, kl_r);
        fail();
    }
}

/* accumulate = 0 overwrites (garbage in the output is ignored), and
 * want_kl = 0 leaves the gradients unchanged and returns 0. */
static void test_grad_flags(void **state) {
    (void)state;
    static float mu[N], rho[N], gw[N], sigma[N], sig_rho[N], eps[N], w[N];
    static float gmu_a[N], grho_a[N], gmu_b[N], grho_b[N];
    bns_prior prior;
    bns_prior_defaults(&prior, BNS_PRIOR_MIXTURE);
    make_inputs(mu, rho, gw);
    bns_stream noise = bns_stream_make(3, 9, BNS_PURPOSE_WEIGHT);
    bns_fused_posterior_prepare(rho, N, sigma, sig_rho);
    bns_fused_sample(mu, sigma, N, &noise, 1, 0, eps, w);
    memset(gmu_a, 0, sizeof gmu_a);
    memset(grho_a, 0, sizeof grho_a);
    for (int i = 0; i < N; i++) gmu_b[i] = grho_b[i] = NAN;
    double kl_a = bns_fused_bbb_grad(rho, sigma, sig_rho, eps, w, gw, N, &prior, 0.3, 1, 1, gmu_a, grho_a, NULL, NULL);
    double kl_b = bns_fused_bbb_grad(rho, sigma, sig_rho, eps, w, gw, N, &prior, 0.3, 0, 0, gmu_b, grho_b, NULL, NULL);
    assert_true(kl_a != 0.0);
    assert_true(kl_b == 0.0);
    assert_memory_equal(gmu_a, gmu_b, sizeof gmu_a);
    assert_memory_equal(grho_a, grho_b, sizeof grho_a);
}

static void test_grad_mixture_prior(void **state) {
    (void)state;
    bns_prior p;
    bns_prior_defaults(&p, BNS_PRIOR_MIXTURE);
    check_grad_matches(&p);
}

static void test_grad_gaussian_prior(void **state) {
    (void)state;
    bns_prior p;
    bns_prior_defaults(&p, BNS_PRIOR_GAUSSIAN);
    p.sigma = 0.5;
    check_grad_matches(&p);
}

static void test_gaussian_kl_matches_reference(void **state) {
    (void)state;
    static float mu[N], rho[N], unused[N], sigma[N], sig_rho[N], gmu_f[N], grho_f[N], gmu_r[N], grho_r[N];
    make_inputs(mu, rho, unused);
    bns_fused_posterior_prepare(rho, N, sigma, sig_rho);
    memset(gmu_f, 0, sizeof gmu_f);
    memset(grho_f, 0, sizeof grho_f);
    memset(gmu_r, 0, sizeof gmu_r);
    memset(grho_r, 0, sizeof grho_r);
    double kl_f = bns_fused_gaussian_kl_grad(mu, rho, sigma, sig_rho, N, 0.7, 0.3, 1, gmu_f, grho_f);
    double kl_r = bns_gaussian_kl_accumulate_grad(mu, rho, N, 0.7, 0.3, gmu_r, grho_r);
    check_close(gmu_f, gmu_r, N, 1e-5, 1e-7, "grad_mu");
    check_close(grho_f, grho_r, N, 1e-4, 1e-6, "grad_rho");
    if (!(fabs(kl_f - kl_r) <= 1e-5 * fabs(kl_r))) {
        print_error("KL: fused %.9g vs reference %.9g\n", kl_f, kl_r);
        fail();
    }
}

/* A batch of rows x 50 uniform inputs and labels in 0..9 from stream (seed, DATA). */
static void make_batch(uint64_t seed, int rows, float *x, uint8_t *y) {
    bns_stream data = bns_stream_make(seed, 0, BNS_PURPOSE_DATA);
    bns_stream_uniform(&data, 0, 0, (size_t)rows * 50, x);
    for (int i = 0; i < rows; i++) y[i] = (uint8_t)bns_stream_below(&data, 1, (uint64_t)i, 10);
}

/* The fused BBB or LRT step (optimizer applied chunk by chunk inside the
 * gradient pass) leaves the parameters exactly as loss_grad + a full update would. */
static void check_fused_step(const char *method, int optimizer, int samples, int sample_mode) {
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.method, sizeof cfg.method, "%s", method);
    if (!strcmp(method, "lrt")) bns_prior_defaults(&cfg.prior, BNS_PRIOR_GAUSSIAN);
    snprintf(cfg.arch, sizeof cfg.arch, "FC-40-30-10"); /* > 1 chunk of parameters */
    cfg.optimizer = optimizer;
    cfg.samples = samples;
    cfg.sample_mode = sample_mode;
    cfg.lr = 0.01;
    bns_model fused, plain;
    assert_int_equal(bns_model_create(&cfg, 50, &fused), 0);
    assert_int_equal(bns_model_create(&cfg, 50, &plain), 0);
    assert_non_null(fused.method->train_step);
    enum { BATCH = 16 };
    float x[BATCH * 50];
    uint8_t y[BATCH];
    make_batch(5, BATCH, x, y);
    void *tf = fused.method->trainer_create(&fused, BATCH), *tp = plain.method->trainer_create(&plain, BATCH);
    float *grad = malloc(sizeof(float) * fused.n_params);
    bns_optimizer of, op;
    bns_optimizer_init(&of, &cfg, fused.n_params);
    bns_optimizer_init(&op, &cfg, plain.n_params);
    for (uint64_t step = 1; step <= 3; step++) {
        bns_objective obj = bns_make_objective(&cfg, BATCH, 1000, step, 1);
        bns_step_stats sf, sp;
        bns_train_step(&fused, tf, &of, x, y, BATCH, &obj, grad, &sf);
        bns_optimizer_begin_step(&op);
        plain.method->loss_grad(tp, &plain, x, y, BATCH, &obj, grad, &sp);
        bns_optimizer_update(&op, plain.params, grad, 0, plain.n_params);
        assert_true(sf.nll_sum == sp.nll_sum && sf.kl == sp.kl);
    }
    assert_memory_equal(fused.params, plain.params, sizeof(float) * fused.n_params);
    bns_optimizer_free(&of);
    bns_optimizer_free(&op);
    free(grad);
    fused.method->trainer_free(tf);
    plain.method->trainer_free(tp);
    bns_model_free(&fused);
    bns_model_free(&plain);
}

static void test_fused_step_sgd(void **state) {
    (void)state;
    check_fused_step("bbb", BNS_OPT_SGD, 1, BNS_SAMPLES_VECTORIZED);
    check_fused_step("bbb", BNS_OPT_SGD, 3, BNS_SAMPLES_VECTORIZED);
    check_fused_step("bbb", BNS_OPT_SGD, 3, BNS_SAMPLES_SEQUENTIAL);
    check_fused_step("lrt", BNS_OPT_SGD, 1, BNS_SAMPLES_SEQUENTIAL);
    check_fused_step("lrt", BNS_OPT_SGD, 3, BNS_SAMPLES_SEQUENTIAL);
}

static void test_fused_step_adam(void **state) {
    (void)state;
    check_fused_step("bbb", BNS_OPT_ADAM, 2, BNS_SAMPLES_VECTORIZED);
    check_fused_step("lrt", BNS_OPT_ADAM, 2, BNS_SAMPLES_SEQUENTIAL);
}

/* Sequential and vectorized BBB draw the same samples and compute the same
 * gradient; only the order of float operations in the first layer differs. */
static void test_sample_modes_agree(void **state) {
    (void)state;
    const char *archs[] = {"FC-40-30-10", "FC-40-10", "FC-10"};
    for (int a = 0; a < 3; a++) {
        bns_config cfg;
        bns_config_defaults(&cfg);
        snprintf(cfg.arch, sizeof cfg.arch, "%s", archs[a]);
        cfg.samples = 3;
        bns_model seq_m, vec_m;
        cfg.sample_mode = BNS_SAMPLES_SEQUENTIAL;
        assert_int_equal(bns_model_create(&cfg, 50, &seq_m), 0);
        cfg.sample_mode = BNS_SAMPLES_VECTORIZED;
        assert_int_equal(bns_model_create(&cfg, 50, &vec_m), 0);
        enum { BATCH = 16 };
        float x[BATCH * 50];
        uint8_t y[BATCH];
        make_batch(6, BATCH, x, y);
        void *ts = seq_m.method->trainer_create(&seq_m, BATCH), *tv = vec_m.method->trainer_create(&vec_m, BATCH);
        float *gs = malloc(sizeof(float) * seq_m.n_params), *gv = malloc(sizeof(float) * vec_m.n_params);
        bns_objective obj = bns_make_objective(&cfg, BATCH, 1000, 4, 1);
        bns_step_stats ss, sv;
        seq_m.method->loss_grad(ts, &seq_m, x, y, BATCH, &obj, gs, &ss);
        vec_m.method->loss_grad(tv, &vec_m, x, y, BATCH, &obj, gv, &sv);
        check_close(gv, gs, (int)seq_m.n_params, 1e-4, 1e-6, archs[a]);
        assert_true(fabs(ss.nll_sum - sv.nll_sum) <= 1e-5 * ss.nll_sum);
        assert_true(fabs(ss.kl - sv.kl) <= 1e-9 * fabs(ss.kl));
        assert_int_equal(ss.correct, sv.correct);
        free(gs);
        free(gv);
        seq_m.method->trainer_free(ts);
        vec_m.method->trainer_free(tv);
        bns_model_free(&seq_m);
        bns_model_free(&vec_m);
    }
}

/* clip_norm (train.c): a bound above the gradient's norm leaves the step
 * bit-identical to the fused one; a bound below it makes the first SGD step
 * (zero velocity: delta = -lr g) exactly -lr * clip * g / |g|, for bbb and
 * deterministic; a negative bound and a method without a plain gradient step
 * are refused. */
static void check_clip(const char *method) {
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.arch, sizeof cfg.arch, "FC-40-30-10");
    snprintf(cfg.method, sizeof cfg.method, "%s", method);
    cfg.lr = 0.01;
    enum { BATCH = 16 };
    float x[BATCH * 50];
    uint8_t y[BATCH];
    make_batch(7, BATCH, x, y);
    bns_model ref, big, small;
    assert_int_equal(bns_model_create(&cfg, 50, &ref), 0);
    size_t P = ref.n_params;
    float *g = malloc(sizeof(float) * P), *grad = malloc(sizeof(float) * P);
    float *start = malloc(sizeof(float) * P);
    memcpy(start, ref.params, sizeof(float) * P);
    void *tr = ref.method->trainer_create(&ref, BATCH);
    bns_objective obj = bns_make_objective(&cfg, BATCH, 1000, 1, 1);
    bns_step_stats st;
    ref.method->loss_grad(tr, &ref, x, y, BATCH, &obj, g, &st); /* the unclipped gradient of step 1 */
    double norm = 0.0;
    for (size_t i = 0; i < P; i++) norm += (double)g[i] * g[i];
    norm = sqrt(norm);
    assert_true(norm > 0.0);
    bns_optimizer o;
    bns_optimizer_init(&o, &cfg, P);
    bns_train_step(&ref, tr, &o, x, y, BATCH, &obj, grad, &st);
    bns_optimizer_free(&o);

    cfg.clip_norm = 1e30;
    assert_int_equal(bns_model_create(&cfg, 50, &big), 0);
    void *tb = big.method->trainer_create(&big, BATCH);
    bns_optimizer_init(&o, &cfg, P);
    bns_train_step(&big, tb, &o, x, y, BATCH, &obj, grad, &st);
    bns_optimizer_free(&o);
    assert_memory_equal(big.params, ref.params, sizeof(float) * P);

    cfg.clip_norm = norm / 8;
    assert_int_equal(bns_model_create(&cfg, 50, &small), 0);
    assert_memory_equal(small.params, start, sizeof(float) * P);
    void *ts = small.method->trainer_create(&small, BATCH);
    bns_optimizer_init(&o, &cfg, P);
    bns_train_step(&small, ts, &o, x, y, BATCH, &obj, grad, &st);
    bns_optimizer_free(&o);
    double step = 0.0;
    for (size_t i = 0; i < P; i++) {
        double want = -cfg.lr * g[i] / 8.0, got = (double)small.params[i] - start[i];
        assert_true(fabs(got - want) <= 1e-6 * fabs(start[i]) + 1e-5 * fabs(want) + 1e-9);
        step += got * got;
    }
    assert_true(fabs(sqrt(step) - cfg.lr * cfg.clip_norm) <= 1e-3 * cfg.lr * cfg.clip_norm);

    cfg.clip_norm = -1;
    bns_model bad;
    assert_int_not_equal(bns_model_create(&cfg, 50, &bad), 0);
    ref.method->trainer_free(tr);
    big.method->trainer_free(tb);
    small.method->trainer_free(ts);
    bns_model_free(&ref);
    bns_model_free(&big);
    bns_model_free(&small);
    free(g);
    free(grad);
    free(start);
}

static void test_clip_norm(void **state) {
    (void)state;
    check_clip("bbb");
    check_clip("deterministic");
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.method, sizeof cfg.method, "sgld");
    cfg.clip_norm = 1;
    bns_model bad;
    assert_int_not_equal(bns_model_create(&cfg, 784, &bad), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_matches_reference),
        cmocka_unit_test(test_grad_flags),
        cmocka_unit_test(test_grad_mixture_prior),
        cmocka_unit_test(test_grad_gaussian_prior),
        cmocka_unit_test(test_gaussian_kl_matches_reference),
        cmocka_unit_test(test_sample_modes_agree),
        cmocka_unit_test(test_fused_step_sgd),
        cmocka_unit_test(test_fused_step_adam),
        cmocka_unit_test(test_clip_norm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
