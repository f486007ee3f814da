/* test_ris.c - the ris method (src/methods/ris.c, METHODS.md s.11, docs/ris.md).
 *
 * The importance-weighted estimator on one relu unit, whose expectation
 * under q has a closed form: unbiased (and the test can see a missing
 * weight), and of lower variance than plain MC where the theory says it
 * must be; the proposal equal to q gives plain MC exactly, and plain MC is
 * bbb's NLL gradient with S = M; the method's gradient agrees with central
 * differences of its objective with the proposal held fixed; bad settings
 * are refused by name. On a small conv net (conv, batch norm, a residual
 * block, pooling, dense): each layer's proposal is the derivative of sum |f|
 * it claims to be, r = q is plain MC (= bbb) bit for bit, and the gradient
 * agrees with central differences. */
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
#include "bnnsweep/config.h"
#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/nn.h"
#include "bnnsweep/prior.h"
#include "bnnsweep/ris.h"
#include "bnnsweep/rng.h"
#include "test_fd.h"

/* ---- one relu unit f(w) = relu(z . w_1:K + w_K+1): E_q[f] in closed form ---- */

enum { K = 3, DRAWS = 200000 };

typedef struct {
    float z[K], mu[K + 1], sigma[K + 1];
    float a[K + 1], b[K + 1];
} unit_case;

/* E[relu(X)], X ~ N(m, s^2) = m Phi(m/s) + s phi(m/s) */
static double unit_closed_form(const unit_case *u) {
    double m = u->mu[K], v = (double)u->sigma[K] * u->sigma[K];
    for (int i = 0; i < K; i++) m += (double)u->z[i] * u->mu[i], v += (double)u->z[i] * u->z[i] * u->sigma[i] * u->sigma[i];
    double s = sqrt(v), t = m / s;
    return m * 0.5 * erfc(-t / sqrt(2.0)) + s * exp(-0.5 * t * t) / 2.5066282746310002;
}

static double unit_f(const unit_case *u, const float *w) {
    double c = w[K];
    for (int i = 0; i < K; i++) c += (double)u->z[i] * w[i];
    return c > 0 ? c : 0;
}

/* The proposal as the method computes it: the layer's output at mu, one example. */
static void unit_proposal(unit_case *u, double max_shift) {
    const int widths[] = {K, 1};
    bns_arch arch;
    assert_int_equal(bns_arch_from_widths(widths, 1, &arch), 0); /* W at 0..K-1, the bias at K */
    float y = (float)u->mu[K], work[1];
    for (int i = 0; i < K; i++) y += u->z[i] * u->mu[i];
    y = y > 0 ? y : 0;
    bns_ris_layer_proposal(&arch.ops[0], u->mu, u->z, K, &y, 1, 1, u->sigma, max_shift, work, NULL, u->a, u->b);
}

typedef struct {
    double mean, var, unweighted_mean;
} draw_stats;

/* DRAWS estimates gamma f(w) with w ~ r (all gamma = 1 when a = 0, b = 1: plain MC). */
static draw_stats unit_draws(const unit_case *u, uint64_t seed) {
    bns_stream s = bns_stream_make(seed, 0, BNS_PURPOSE_DATA);
    float xi[K + 1], eps[K + 1], w[K + 1];
    double sum = 0, sum2 = 0, raw = 0;
    for (int d = 0; d < DRAWS; d++) {
        double lw = bns_ris_draw(u->mu, u->sigma, u->a, u->b, K + 1, &s, (uint64_t)d, 0, xi, eps, w);
        double f = unit_f(u, w), v = exp(lw) * f;
        sum += v, sum2 += v * v, raw += f;
    }
    draw_stats st = {sum / DRAWS, (sum2 - sum * sum / DRAWS) / (DRAWS - 1), raw / DRAWS};
    return st;
}

static void set_q(unit_case *u) {
    for (int i = 0; i <= K; i++) u->a[i] = 0.0f, u->b[i] = 1.0f;
}

/* A unit active at mu but not always under q (mean 1, std 0.51): the proposal
 * moves every weight by 0.15-0.3 sigma. The weighted mean must match the
 * closed form within 4 standard errors (6e-5 false-alarm rate), and so must
 * plain MC; the unweighted mean under r must not (the test sees a missing
 * q/r). */
static void test_unbiased_against_closed_form(void **state) {
    (void)state;
    unit_case u = {{1.0f, -0.5f, 0.8f}, {0.4f, -0.2f, 0.25f, 0.4f}, {0.3f, 0.3f, 0.3f, 0.3f}, {0}, {0}};
    double exact = unit_closed_form(&u);
    unit_proposal(&u, 0.5);
    for (int i = 0; i <= K; i++) assert_true(fabsf(u.a[i]) > 0.1f);
    draw_stats ris = unit_draws(&u, 1);
    set_q(&u);
    draw_stats mc = unit_draws(&u, 2);
    double z_ris = (ris.mean - exact) / sqrt(ris.var / DRAWS), z_mc = (mc.mean - exact) / sqrt(mc.var / DRAWS);
    double z_raw = (ris.unweighted_mean - exact) / sqrt(mc.var / DRAWS);
    if (fabs(z_ris) > 4 || fabs(z_mc) > 4)
        fail_msg("closed form %.6f: RIS %.6f (z %.2f), plain MC %.6f (z %.2f)", exact, ris.mean, z_ris, mc.mean, z_mc);
    if (fabs(z_raw) < 20) fail_msg("the unweighted mean under r (z %.2f) should be far from E_q[f]", z_raw);
}

/* Where the unit is active w.p. ~1 (mean 1, std 0.085), f is linear in w
 * over q's mass, r* = f q / E[f] is the zero-variance proposal, and the
 * moment-matched Gaussian agrees with it to first order in each weight's
 * coefficient of variation k_i = sigma_i z_i / c: plain MC's variance is
 * c^2 sum k_i^2, RIS's c^2 (sum_{i<j} k_i^2 k_j^2 + O(k^6)) (docs/ris.md) -
 * here 7e-3 against ~2e-5. RIS must be below a tenth of plain MC. */
static void test_variance_lower_in_linear_regime(void **state) {
    (void)state;
    unit_case u = {{1.0f, -0.5f, 0.8f}, {0.4f, -0.2f, 0.25f, 0.4f}, {0.05f, 0.05f, 0.05f, 0.05f}, {0}, {0}};
    unit_proposal(&u, 0.5);
    draw_stats ris = unit_draws(&u, 3);
    set_q(&u);
    draw_stats mc = unit_draws(&u, 4);
    double k2 = 0.0025 * (1.0 + 1.0 + 0.25 + 0.64); /* sum_i k_i^2, c = 1 */
    if (fabs(mc.var - k2) > 0.05 * k2) fail_msg("plain MC variance %.3g, theory %.3g", mc.var, k2);
    if (!(ris.var < 0.1 * mc.var)) fail_msg("RIS variance %.3g is not below a tenth of plain MC's %.3g", ris.var, mc.var);
}

/* a = 0, b = 1: the draw is bns_fused_sample's to the bit, with log weight 0. */
static void test_draw_with_q_is_plain_sample(void **state) {
    (void)state;
    enum { N = 3000 };
    float *mu = malloc(sizeof(float) * N), *sigma = malloc(sizeof(float) * N), *a = calloc(N, sizeof(float));
    float *b = malloc(sizeof(float) * N), *xi = malloc(sizeof(float) * N), *eps = malloc(sizeof(float) * N);
    float *w = malloc(sizeof(float) * N), *eps2 = malloc(sizeof(float) * N), *w2 = malloc(sizeof(float) * N);
    fill_normal(mu, N, 1, 1.0f, 0.0f);
    fill_normal(sigma, N, 2, 0.1f, 0.3f);
    for (int i = 0; i < N; i++) b[i] = 1.0f;
    bns_stream s = bns_stream_make(5, 6, BNS_PURPOSE_WEIGHT);
    double lw = bns_ris_draw(mu, sigma, a, b, N, &s, 9, 123, xi, eps, w);
    bns_fused_sample(mu, sigma, N, &s, 9, 123, eps2, w2);
    assert_true(lw == 0.0);
    assert_memory_equal(eps, eps2, sizeof(float) * N);
    assert_memory_equal(w, w2, sizeof(float) * N);
    free(mu), free(sigma), free(a), free(b), free(xi), free(eps), free(w), free(eps2), free(w2);
}

/* ---- the method through the posterior interface ---- */

enum { INPUTS = 6, CONV_INPUTS = 36, BATCH = 5, CLASSES = 3 };

typedef struct {
    bns_model m;
    void *trainer;
    float x[BATCH * CONV_INPUTS];
    uint8_t y[BATCH];
    bns_objective obj;
} ris_ctx;

/* The small conv net of the conv tests (1x6x6 inputs): conv, batch norm,
 * relu, then a residual block (save, conv, batch norm, add, relu), average
 * pooling and a dense layer: every layer kind with parameters, and each
 * in-place chain the proposal reads f through (none, relu + save, add + relu). */
static void build_conv_net(bns_arch *a) {
    bns_arch_begin(a, (bns_shape){1, 6, 6});
    assert_int_equal(bns_arch_add_conv(a, 2, 3, 1, 1), 0);
    assert_int_equal(bns_arch_add_simple(a, &bns_layer_batchnorm), 0);
    assert_int_equal(bns_arch_add_simple(a, &bns_layer_relu), 0);
    assert_int_equal(bns_arch_add_simple(a, &bns_layer_save), 0);
    assert_int_equal(bns_arch_add_conv(a, 2, 3, 1, 1), 0);
    assert_int_equal(bns_arch_add_simple(a, &bns_layer_batchnorm), 0);
    assert_int_equal(bns_arch_add_add(a), 0);
    assert_int_equal(bns_arch_add_simple(a, &bns_layer_relu), 0);
    assert_int_equal(bns_arch_add_pool(a, &bns_layer_avgpool, 3, 3), 0);
    assert_int_equal(bns_arch_add_dense(a, CLASSES), 0);
}

/* conv: the model of build_conv_net (the method sees only arch and params) */
static void ris_setup_net(ris_ctx *c, const char *method, const char *const *settings, double rho, int conv) {
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.arch, sizeof cfg.arch, "FC-5-4-%d", CLASSES);
    snprintf(cfg.method, sizeof cfg.method, "%s", method);
    bns_prior_defaults(&cfg.prior, BNS_PRIOR_GAUSSIAN);
    cfg.prior.sigma = 0.5;
    cfg.seed = 17;
    for (int i = 0; settings && settings[i]; i++)
        if (bns_config_set_assignment(&cfg, settings[i])) fail_msg("%s: %s", settings[i], bns_last_error());
    if (bns_model_create(&cfg, conv ? CONV_INPUTS : INPUTS, &c->m)) fail_msg("model_create: %s", bns_last_error());
    if (conv) {
        build_conv_net(&c->m.arch);
        c->m.n_params = c->m.method->n_params(&cfg, &c->m.arch);
        free(c->m.params);
        c->m.params = calloc(c->m.n_params, sizeof(float));
    }
    size_t n = c->m.arch.n_weights;
    fill_normal(c->m.params, n, 30, 0.5f, 0.0f);
    fill_normal(c->m.params + n, n, 31, 0.3f, (float)rho);
    fill_normal(c->x, (size_t)BATCH * c->m.arch.n_inputs, 32, 1.0f, 0.3f);
    fill_labels(c->y, BATCH, CLASSES, 3);
    c->trainer = c->m.method->trainer_create(&c->m, BATCH);
    c->obj.nll_scale = 1.0 / BATCH;
    c->obj.reg_scale = 1.0;
    c->obj.n_train = 20;
    c->obj.step = 7;
    c->obj.skip_kl_value = 0;
}

static void ris_setup(ris_ctx *c, const char *method, const char *const *settings, double rho) {
    ris_setup_net(c, method, settings, rho, 0);
}

static void ris_teardown(ris_ctx *c) {
    c->m.method->trainer_free(c->trainer);
    bns_model_free(&c->m);
}

static void step(ris_ctx *c, float *grad, bns_step_stats *st) {
    c->m.method->loss_grad(c->trainer, &c->m, c->x, c->y, BATCH, &c->obj, grad, st);
}

/* The proposal equal to q (taylor order 0) is plain MC (ris_proposal 0) to
 * the bit: same noise, weights exactly 1. */
static void test_proposal_q_is_plain_mc(void **state) {
    (void)state;
    const char *q[] = {"ris_samples=4", "ris_taylor_order=0", NULL}, *off[] = {"ris_samples=4", "ris_proposal=0", NULL};
    ris_ctx a, b;
    ris_setup(&a, "ris", q, -1.5);
    ris_setup(&b, "ris", off, -1.5);
    size_t P = a.m.n_params;
    float *ga = malloc(sizeof(float) * P), *gb = malloc(sizeof(float) * P);
    bns_step_stats sa, sb;
    step(&a, ga, &sa);
    step(&b, gb, &sb);
    assert_memory_equal(ga, gb, sizeof(float) * P);
    assert_true(sa.nll_sum == sb.nll_sum && sa.kl == sb.kl);
    free(ga), free(gb);
    ris_teardown(&a), ris_teardown(&b);
}

/* Plain MC is bbb with S = M on the same noise: with the KL weighed out
 * (N = 1e30: closed form in ris, Monte Carlo in bbb) the gradients agree to
 * float rounding, and the NLL exactly. */
static void test_plain_mc_is_bbb(void **state) {
    (void)state;
    const char *off[] = {"ris_samples=3", "ris_proposal=0", NULL}, *bbb[] = {"samples=3", NULL};
    ris_ctx a, b;
    ris_setup(&a, "ris", off, -1.5);
    ris_setup(&b, "bbb", bbb, -1.5);
    a.obj.n_train = b.obj.n_train = 1e30;
    size_t P = a.m.n_params;
    float *ga = malloc(sizeof(float) * P), *gb = malloc(sizeof(float) * P);
    bns_step_stats sa, sb;
    step(&a, ga, &sa);
    step(&b, gb, &sb);
    assert_true(fabs(sa.nll_sum - sb.nll_sum) <= 1e-12 * fabs(sb.nll_sum));
    for (size_t i = 0; i < P; i++)
        if (fabsf(ga[i] - gb[i]) > 1e-6f * (1.0f + fabsf(gb[i])))
            fail_msg("parameter %zu: ris %.9g, bbb %.9g", i, ga[i], gb[i]);
    free(ga), free(gb);
    ris_teardown(&a), ris_teardown(&b);
}

/* The RIS objective with the proposal (a, b) and the noise xi held fixed:
 * (1/M) sum_m gamma_m NLL(mu + sigma (a + b xi_m)) * nll_scale + KL / N.
 * (a, b) are recomputed here from the pieces the method uses. */
typedef struct {
    ris_ctx *c;
    float *a, *b;
    int samples;
} frozen_ctx;

static void frozen_proposal(frozen_ctx *f) {
    const bns_model *m = &f->c->m;
    const bns_arch *arch = &m->arch;
    size_t n = arch->n_weights;
    float *sigma = malloc(sizeof(float) * n), *sr = malloc(sizeof(float) * n);
    float *work = malloc(sizeof(float) * BATCH * arch->max_width);
    bns_fused_posterior_prepare(m->params + n, n, sigma, sr);
    bns_net_workspace ws;
    bns_net_workspace_init(&ws, arch, BATCH);
    bns_ris_net_proposal(arch, m->params, sigma, f->c->x, BATCH, 0.5, &ws, work, f->a, f->b);
    bns_net_workspace_free(&ws);
    free(sigma), free(sr), free(work);
}

static double frozen_objective(void *p) {
    frozen_ctx *f = p;
    const bns_model *m = &f->c->m;
    const bns_arch *arch = &m->arch;
    size_t n = arch->n_weights;
    float *sigma = malloc(sizeof(float) * n), *sr = malloc(sizeof(float) * n), *xi = malloc(sizeof(float) * n);
    float *eps = malloc(sizeof(float) * n), *w = malloc(sizeof(float) * n), gl[BATCH * CLASSES];
    bns_fused_posterior_prepare(m->params + n, n, sigma, sr);
    bns_stream noise = bns_stream_make(m->cfg.seed, m->cfg.task, BNS_PURPOSE_WEIGHT);
    bns_net_workspace ws;
    bns_net_workspace_init(&ws, arch, BATCH);
    double nll = 0.0;
    for (int s = 0; s < f->samples; s++) {
        double lw = bns_ris_draw(m->params, sigma, f->a, f->b, n, &noise, f->c->obj.step, (uint64_t)s * n, xi, eps, w);
        float *logits = bns_net_forward(arch, w, f->c->x, BATCH, &ws);
        nll += exp(lw) * m->likelihood.nll(&m->likelihood, logits, f->c->y, BATCH, CLASSES, 1.0f, gl) / f->samples;
    }
    double kl = 0.0, sp = m->cfg.prior.sigma;
    for (size_t i = 0; i < n; i++) {
        double sq = sigma[i], mu = m->params[i];
        kl += log(sp / sq) + (sq * sq + mu * mu) / (2 * sp * sp) - 0.5;
    }
    bns_net_workspace_free(&ws);
    free(sigma), free(sr), free(xi), free(eps), free(w);
    return f->c->obj.nll_scale * nll + f->c->obj.reg_scale * kl / f->c->obj.n_train;
}

static void check_gradient_finite_differences(int conv) {
    const char *set[] = {"ris_samples=3", NULL};
    ris_ctx c;
    ris_setup_net(&c, "ris", set, -1.0, conv);
    size_t n = c.m.arch.n_weights, P = c.m.n_params;
    frozen_ctx f = {&c, malloc(sizeof(float) * n), malloc(sizeof(float) * n), 3};
    frozen_proposal(&f);
    size_t moved = 0;
    for (size_t i = 0; i < n; i++) moved += fabsf(f.a[i]) > 0.05f;
    if (moved < n / 4) fail_msg("only %zu of %zu weights have a proposal shift above 0.05 sigma", moved, n);
    float *grad = malloc(sizeof(float) * P);
    bns_step_stats st;
    step(&c, grad, &st);
    /* the method's value is the frozen objective's (same a, b, noise) */
    double value = c.obj.nll_scale * st.nll_sum + c.obj.reg_scale * st.reg_per_example, fv = frozen_objective(&f);
    if (fabs(value - fv) > 1e-5 * fabs(fv)) fail_msg("objective %.9g, frozen objective %.9g", value, fv);
    /* the conv net's rho step is smaller: through batch norm every weight
     * moves every example's activations, so more relu kinks fall within 1e-2 */
    const fd_opts o = {0, 2e-3, 3e-3, 1e-4, 1e-6, 1000}, orho = {0, conv ? 2e-3 : 1e-2, 3e-3, 1e-4, 1e-6, 1000};
    expect_grad(conv ? "ris conv net d/d mu" : "ris d/d mu", c.m.params, n, grad, frozen_objective, &f, &o);
    expect_grad(conv ? "ris conv net d/d rho" : "ris d/d rho", c.m.params + n, n, grad + n, frozen_objective, &f, &orho);
    free(grad), free(f.a), free(f.b);
    ris_teardown(&c);
}

static void test_gradient_finite_differences(void **state) {
    (void)state;
    check_gradient_finite_differences(0);
}

/* The same on a conv net (conv, batch norm, a residual block, pooling, dense):
 * every parameter block gets its proposal and its gradient. */
static void test_conv_gradient_finite_differences(void **state) {
    (void)state;
    check_gradient_finite_differences(1);
}

/* r = q is plain MC to the bit on the conv net too, and plain MC is bbb
 * (sequential samples) with S = M. */
static void test_conv_proposal_q_is_plain_mc(void **state) {
    (void)state;
    const char *q[] = {"ris_samples=3", "ris_taylor_order=0", NULL}, *off[] = {"ris_samples=3", "ris_proposal=0", NULL};
    const char *bbb[] = {"samples=3", "sample_mode=sequential", NULL};
    ris_ctx a, b, c;
    ris_setup_net(&a, "ris", q, -1.5, 1);
    ris_setup_net(&b, "ris", off, -1.5, 1);
    ris_setup_net(&c, "bbb", bbb, -1.5, 1);
    c.obj.n_train = b.obj.n_train = a.obj.n_train = 1e30; /* the KL weighed out: closed form here, MC in bbb */
    size_t P = a.m.n_params;
    float *ga = malloc(sizeof(float) * P), *gb = malloc(sizeof(float) * P), *gc = malloc(sizeof(float) * P);
    bns_step_stats sa, sb, sc;
    step(&a, ga, &sa);
    step(&b, gb, &sb);
    step(&c, gc, &sc);
    assert_memory_equal(ga, gb, sizeof(float) * P);
    assert_true(sa.nll_sum == sb.nll_sum && sa.kl == sb.kl);
    assert_true(fabs(sb.nll_sum - sc.nll_sum) <= 1e-12 * fabs(sc.nll_sum));
    for (size_t i = 0; i < P; i++)
        if (fabsf(gb[i] - gc[i]) > 1e-6f * (1.0f + fabsf(gc[i])))
            fail_msg("parameter %zu: ris %.9g, bbb %.9g", i, gb[i], gc[i]);
    free(ga), free(gb), free(gc);
    ris_teardown(&a), ris_teardown(&b), ris_teardown(&c);
}

/* ---- the proposal of each layer: a F / sigma is d/dtheta sum |f| ----
 * With sigma = 1 and no clamp, a = G / F_j: the layer's G must be the
 * derivative of sum |f| (f: the layer's output after its in-place chain,
 * ws->out after a whole forward pass) by each of its parameters, and F_j the
 * sum of |f| over unit j's outputs, j the unit the parameter feeds (computed
 * here from the layouts of net.h, not the library's). */
typedef struct {
    const bns_arch *arch;
    bns_net_workspace *ws;
    float *w, *x;
    int layer;
} abs_ctx;

static double abs_objective(void *p) {
    abs_ctx *c = p;
    bns_net_forward(c->arch, c->w, c->x, BATCH, c->ws);
    const bns_layer *op = &c->arch->ops[c->layer];
    double sum = 0.0;
    for (size_t i = 0; i < (size_t)BATCH * op->n_out; i++) sum += fabs(c->ws->out[c->layer][i]);
    return sum;
}

static void test_conv_proposal_is_abs_gradient(void **state) {
    (void)state;
    bns_arch arch;
    build_conv_net(&arch);
    size_t n = arch.n_weights;
    float *w = malloc(sizeof(float) * n), *x = malloc(sizeof(float) * BATCH * arch.n_inputs);
    float *sigma = malloc(sizeof(float) * n), *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
    float *g = malloc(sizeof(float) * n), *work = malloc(sizeof(float) * BATCH * arch.max_width);
    fill_normal(w, n, 33, 0.5f, 0.0f);
    fill_normal(x, (size_t)BATCH * arch.n_inputs, 34, 1.0f, 0.3f);
    for (size_t i = 0; i < n; i++) sigma[i] = 1.0f;
    bns_net_workspace ws;
    bns_net_workspace_init(&ws, &arch, BATCH);
    bns_ris_net_proposal(&arch, w, sigma, x, BATCH, 1e30, &ws, work, a, b);
    abs_ctx c = {&arch, &ws, w, x, 0};
    int layers = 0;
    for (int i = 0; i < arch.n_ops; i++) {
        const bns_layer *op = &arch.ops[i];
        if (!op->type->has_params) continue;
        layers++;
        c.layer = i;
        abs_objective(&c);
        int dense = op->type == &bns_layer_dense, units = dense ? op->n_out : op->out.c;
        int per_unit = op->n_out / units;
        double F[8] = {0};
        for (int r = 0; r < BATCH; r++)
            for (int o = 0; o < op->n_out; o++) F[o / per_unit] += fabs(ws.out[i][(size_t)r * op->n_out + o]);
        size_t n_w = op->bias_offset - op->weight_offset, end = op->bias_offset + (size_t)units;
        for (size_t q = op->weight_offset; q < end; q++) {
            size_t k = q - op->weight_offset;
            int unit = q >= op->bias_offset ? (int)(q - op->bias_offset)
                       : dense             ? (int)(k % (size_t)op->n_out)
                                           : (int)(k / (n_w / (size_t)units));
            assert_true(F[unit] > 0);
            g[q] = (float)(a[q] * F[unit]);
        }
        char what[64];
        snprintf(what, sizeof what, "proposal of layer %d (%s)", i, op->type->name);
        const fd_opts o = {0, 1e-3, 1e-3, 1e-4, 1e-5, 1000};
        expect_grad(what, w + op->weight_offset, end - op->weight_offset, g + op->weight_offset, abs_objective, &c, &o);
    }
    assert_int_equal(layers, 5);
    bns_net_workspace_free(&ws);
    free(w), free(x), free(sigma), free(a), free(b), free(g), free(work);
}

static void expect_refused(const char *assignment, int mixture, const char *names) {
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.method, sizeof cfg.method, "ris");
    bns_prior_defaults(&cfg.prior, mixture ? BNS_PRIOR_MIXTURE : BNS_PRIOR_GAUSSIAN);
    if (assignment) assert_int_equal(bns_config_set_assignment(&cfg, assignment), 0);
    const bns_method *m = bns_method_find("ris");
    assert_int_equal(m->validate(&cfg), -1);
    if (!strstr(bns_last_error(), names)) fail_msg("error '%s' does not name %s", bns_last_error(), names);
}

static void test_bad_settings(void **state) {
    (void)state;
    expect_refused("ris_samples=0", 0, "ris_samples");
    expect_refused("ris_proposal=2", 0, "ris_proposal");
    expect_refused("ris_taylor_order=1", 0, "ris_taylor_order");
    expect_refused("ris_max_shift=0.8", 0, "ris_max_shift");
    expect_refused(NULL, 1, "prior");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unbiased_against_closed_form),
        cmocka_unit_test(test_variance_lower_in_linear_regime),
        cmocka_unit_test(test_draw_with_q_is_plain_sample),
        cmocka_unit_test(test_proposal_q_is_plain_mc),
        cmocka_unit_test(test_plain_mc_is_bbb),
        cmocka_unit_test(test_gradient_finite_differences),
        cmocka_unit_test(test_conv_gradient_finite_differences),
        cmocka_unit_test(test_conv_proposal_q_is_plain_mc),
        cmocka_unit_test(test_conv_proposal_is_abs_gradient),
        cmocka_unit_test(test_bad_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
