/* test_grad.c - finite-difference gradient checks, layer by layer and through
 * the method interface (nn.h, net.h, method.h).
 *
 * The library computes in float; every objective here is accumulated in
 * double and differentiated by central differences. A float objective has
 * relative noise ~1e-7, so steps are ~1e-3..1e-2 of the parameter scale and
 * the tolerances are relative with an absolute floor. ReLU networks have
 * kinks: a coordinate whose central difference changes between step h and
 * h/2 is not differentiable at that scale and is skipped, but at most a few
 * may be (a wrong gradient is caught either way, since both differences then
 * disagree with it). test_checker_can_fail shows that the checker rejects a
 * gradient that is off by a few percent in one coordinate, and that the
 * method-level checks are sensitive to the weight of the regulariser.
 *
 * The scalar whose gradient loss_grad returns (method.h, train.c) is
 *   J = nll_scale * (nll_sum + batch * reg_per_example)
 * with reg_scale = nll_scale * batch, nll_sum the NLL summed over the batch
 * (averaged over the S weight samples), reg_per_example = KL / N (Bayesian)
 * or lambda * sum_l (1/|l|) sum w^2 (deterministic). The noise of a step is
 * a function of obj.step only, so J is a deterministic function of params.
 *
 * Set BNS_GRAD_VERBOSE=1 to print the worst error of every check.
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
#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/net.h"
#include "bnnsweep/model.h"
#include "bnnsweep/likelihood.h"
#include "bnnsweep/nn.h"
#include "bnnsweep/prior.h"
#include "bnnsweep/rng.h"

#include "test_fd.h"

static const fd_opts LINEAR_OPTS = {1e-2, 1e-2, 1e-4, 1e-6, 1e-6, 1000};

/* ---- dense ---- */

typedef struct {
    int batch, n_in, n_out;
    float *x, *w, *b, *g, *y;
} dense_ctx;

static double dense_objective(void *p) {
    dense_ctx *c = p;
    bns_dense_forward(c->x, c->batch, c->n_in, c->n_out, c->w, c->b, c->y);
    double j = 0;
    for (int i = 0; i < c->batch * c->n_out; i++) j += (double)c->g[i] * c->y[i];
    return j;
}

static void test_dense(void **state) {
    (void)state;
    enum { B = 3, NI = 6, NO = 5 };
    float x[B * NI], w[NI * NO], b[NO], g[B * NO], y[B * NO];
    float gw[NI * NO], gb[NO], gx[B * NI];
    fill_normal(x, B * NI, 1, 1.0f, 0.0f);
    fill_normal(w, NI * NO, 2, 0.5f, 0.0f);
    fill_normal(b, NO, 3, 0.5f, 0.0f);
    fill_normal(g, B * NO, 4, 1.0f, 0.0f);
    dense_ctx c = {B, NI, NO, x, w, b, g, y};
    /* forward against the definition Y = X W + b */
    dense_objective(&c);
    for (int i = 0; i < B; i++)
        for (int j = 0; j < NO; j++) {
            double want = b[j];
            for (int k = 0; k < NI; k++) want += (double)x[i * NI + k] * w[k * NO + j];
            assert_true(fabs(y[i * NO + j] - want) <= 1e-5 * (1 + fabs(want)));
        }
    /* outputs are overwritten, not accumulated */
    for (int i = 0; i < NI * NO; i++) gw[i] = NAN;
    for (int i = 0; i < NO; i++) gb[i] = NAN;
    for (int i = 0; i < B * NI; i++) gx[i] = NAN;
    bns_dense_backward(x, g, B, NI, NO, w, gw, gb, gx);
    expect_grad("dense dW", w, NI * NO, gw, dense_objective, &c, &LINEAR_OPTS);
    expect_grad("dense db", b, NO, gb, dense_objective, &c, &LINEAR_OPTS);
    expect_grad("dense dx", x, B * NI, gx, dense_objective, &c, &LINEAR_OPTS);
    /* grad_x may be NULL: dW, db unchanged */
    float gw2[NI * NO], gb2[NO];
    bns_dense_backward(x, g, B, NI, NO, w, gw2, gb2, NULL);
    assert_memory_equal(gw, gw2, sizeof gw);
    assert_memory_equal(gb, gb2, sizeof gb);
}

/* ---- relu ---- */

typedef struct {
    size_t n;
    float *z, *g, *y;
} relu_ctx;

static double relu_objective(void *p) {
    relu_ctx *c = p;
    memcpy(c->y, c->z, sizeof(float) * c->n);
    bns_relu_forward(c->y, c->n);
    double j = 0;
    for (size_t i = 0; i < c->n; i++) j += (double)c->g[i] * c->y[i];
    return j;
}

static void test_relu(void **state) {
    (void)state;
    enum { N = 40 };
    float z[N], g[N], y[N], dz[N];
    fill_normal(z, N, 5, 1.0f, 0.0f);
    fill_normal(g, N, 6, 1.0f, 0.0f);
    for (int i = 0; i < N; i++)
        if (fabsf(z[i]) < 0.05f) z[i] = z[i] < 0 ? -0.05f : 0.05f; /* keep off the kink */
    relu_ctx c = {N, z, g, y};
    relu_objective(&c);
    for (int i = 0; i < N; i++) assert_true(y[i] == (z[i] > 0 ? z[i] : 0.0f));
    memcpy(dz, g, sizeof dz);
    bns_relu_backward(y, dz, N);
    fd_opts o = {0, 1e-3, 1e-4, 1e-6, 1e-6, 1000};
    expect_grad("relu", z, N, dz, relu_objective, &c, &o);
}

/* ---- softmax cross-entropy ---- */

typedef struct {
    int batch, classes;
    float *logits;
    uint8_t *labels;
} xent_ctx;

static double xent_objective(void *p) {
    xent_ctx *c = p;
    return bns_softmax_xent(c->logits, c->labels, c->batch, c->classes, 1.0f, NULL);
}

static void test_softmax_xent(void **state) {
    (void)state;
    enum { B = 4, C = 5 };
    float z[B * C], g[B * C], g2[B * C];
    uint8_t y[B];
    fill_normal(z, B * C, 7, 2.0f, 0.0f);
    fill_labels(y, B, C, 1);
    xent_ctx c = {B, C, z, y};
    double nll = bns_softmax_xent(z, y, B, C, 1.0f, g);
    /* the value against the definition, in double */
    double want = 0;
    for (int i = 0; i < B; i++) {
        double total = 0;
        for (int k = 0; k < C; k++) total += exp((double)z[i * C + k]);
        want += log(total) - z[i * C + y[i]];
    }
    assert_true(fabs(nll - want) <= 1e-12 * (1 + want));
    fd_opts o = {0, 1e-3, 1e-4, 1e-6, 1e-6, 1000};
    expect_grad("softmax_xent dlogits", z, B * C, g, xent_objective, &c, &o);
    /* grad_scale multiplies the gradient, not the value */
    double nll2 = bns_softmax_xent(z, y, B, C, 0.25f, g2);
    assert_true(nll2 == nll);
    for (int i = 0; i < B * C; i++) assert_true(fabsf(g2[i] - 0.25f * g[i]) <= 1e-7f);
    /* rows of p - onehot sum to zero */
    for (int i = 0; i < B; i++) {
        double s = 0;
        for (int k = 0; k < C; k++) s += g[i * C + k];
        assert_true(fabs(s) < 1e-6);
    }
    /* shift invariance and no overflow for huge logits */
    float big[B * C], gbig[B * C];
    for (int i = 0; i < B * C; i++) big[i] = z[i] + 1000.0f;
    double nll_big = bns_softmax_xent(big, y, B, C, 1.0f, gbig);
    assert_true(isfinite(nll_big));
    assert_true(fabs(nll_big - nll) < 1e-3);
    for (int i = 0; i < B * C; i++) assert_true(isfinite(gbig[i]) && fabsf(gbig[i] - g[i]) < 1e-3f);
    /* a confidently wrong row costs its logit gap */
    float wrong[2] = {-500.0f, 500.0f};
    uint8_t label0 = 0;
    assert_true(fabs(bns_softmax_xent(wrong, &label0, 1, 2, 1.0f, NULL) - 1000.0) < 1e-9);
}

/* ---- the likelihood table: the Gaussian of the regression toy (gaussian.c) ---- */

typedef struct {
    const bns_likelihood *lik;
    int batch, n_out;
    float *out, *targets;
} gauss_ctx;

static double gauss_objective(void *p) {
    gauss_ctx *c = p;
    return c->lik->nll(c->lik, c->out, c->targets, c->batch, c->n_out, 1.0f, NULL);
}

static void test_gaussian_nll(void **state) {
    (void)state;
    enum { B = 5, K = 2 };
    const bns_likelihood *found = bns_likelihood_find("gaussian");
    assert_non_null(found);
    assert_true(found->real_targets == 1 && bns_likelihood_find("softmax")->real_targets == 0);
    assert_null(bns_likelihood_find("laplace"));
    bns_likelihood lik = *found;
    lik.noise_std = 0.3; /* a model's setting overrides the default s */
    float f[B * K], t[B * K], g[B * K], g2[B * K];
    fill_normal(f, B * K, 11, 1.0f, 0.0f);
    fill_normal(t, B * K, 12, 1.0f, 0.5f);
    double nll = lik.nll(&lik, f, t, B, K, 1.0f, g);
    /* the value against the density, in double: sum -log N(t; f, s^2) */
    double want = 0;
    for (int i = 0; i < B * K; i++) {
        double r = (double)f[i] - t[i], s = 0.3;
        want += -log(exp(-r * r / (2 * s * s)) / (s * sqrt(2 * 3.14159265358979323846)));
    }
    assert_true(fabs(nll - want) <= 1e-9 * (1 + fabs(want)));
    gauss_ctx c = {&lik, B, K, f, t};
    fd_opts o = {0, 1e-3, 1e-4, 1e-6, 1e-6, 1000};
    expect_grad("gaussian nll dout", f, B * K, g, gauss_objective, &c, &o);
    /* grad_scale multiplies the gradient only; the predictive is f itself */
    assert_true(lik.nll(&lik, f, t, B, K, 0.25f, g2) == nll);
    for (int i = 0; i < B * K; i++) assert_true(fabsf(g2[i] - 0.25f * g[i]) <= 1e-6f * (1 + fabsf(g[i])));
    float pred[B * K];
    lik.predict(f, B, K, pred);
    assert_memory_equal(pred, f, sizeof f);
    /* a smaller s sharpens the gradient by 1/s^2: the 0.02 default is 225 times 0.3's */
    bns_likelihood_gaussian.nll(&bns_likelihood_gaussian, f, t, 1, 1, 1.0f, g2);
    assert_true(fabs(g2[0] - 225.0 * g[0]) <= 1e-3 * fabs(g2[0]));
    /* the softmax entry is bns_softmax_xent on uint8_t labels */
    uint8_t y[B];
    fill_labels(y, B, K, 3);
    assert_true(bns_likelihood_softmax.nll(&bns_likelihood_softmax, f, y, B, K, 1.0f, NULL) ==
                bns_softmax_xent(f, y, B, K, 1.0f, NULL));
}

/* ---- MLP ---- */

typedef struct {
    bns_arch arch;
    bns_net_workspace ws;
    float *w, *x;
    uint8_t *y;
    int batch;
} mlp_ctx;

static double mlp_objective(void *p) {
    mlp_ctx *c = p;
    float *logits = bns_net_forward(&c->arch, c->w, c->x, c->batch, &c->ws);
    return bns_softmax_xent(logits, c->y, c->batch, c->arch.width[c->arch.n_layers], 1.0f, NULL);
}

static void check_mlp(const char *spec) {
    enum { B = 4, D = 6 };
    mlp_ctx c;
    assert_int_equal(bns_arch_parse(spec, D, &c.arch), 0);
    int classes = c.arch.width[c.arch.n_layers];
    size_t n = c.arch.n_weights;
    c.batch = B;
    c.w = malloc(sizeof(float) * n);
    c.x = malloc(sizeof(float) * B * D);
    c.y = malloc(B);
    float *gw = malloc(sizeof(float) * n), *gx = malloc(sizeof(float) * B * D);
    float *glog = malloc(sizeof(float) * B * classes);
    fill_normal(c.w, n, 10, 0.6f, 0.0f);
    fill_normal(c.x, B * D, 11, 1.0f, 0.0f);
    fill_labels(c.y, B, classes, 2);
    bns_net_workspace_init(&c.ws, &c.arch, B);
    float *logits = bns_net_forward(&c.arch, c.w, c.x, B, &c.ws);
    bns_softmax_xent(logits, c.y, B, classes, 1.0f, glog);
    for (size_t i = 0; i < n; i++) gw[i] = NAN; /* overwritten */
    bns_net_backward(&c.arch, c.w, B, &c.ws, glog, gw, gx);
    fd_opts o = {0, 2e-3, 2e-3, 1e-5, 1e-6, 1000};
    char what[64];
    snprintf(what, sizeof what, "mlp %s grad_w", spec);
    expect_grad(what, c.w, n, gw, mlp_objective, &c, &o);
    snprintf(what, sizeof what, "mlp %s grad_x", spec);
    expect_grad(what, c.x, B * D, gx, mlp_objective, &c, &o);
    bns_net_workspace_free(&c.ws);
    free(c.w);
    free(c.x);
    free(c.y);
    free(gw);
    free(gx);
    free(glog);
}

static void test_mlp(void **state) {
    (void)state;
    check_mlp("FC-5-4-3");
    check_mlp("FC-3");       /* no hidden layer */
    check_mlp("FC-7-2");
}

/* ---- LRT dense layer ---- */

typedef struct {
    int batch, n_in, n_out;
    float *a, *wmu, *bmu, *wvar, *bvar, *zeta, *g;
    float *act_sq, *std_out, *out;
} lrt_ctx;

static double lrt_objective(void *p) {
    lrt_ctx *c = p;
    bns_lrt_forward(c->a, c->batch, c->n_in, c->n_out, c->wmu, c->bmu, c->wvar, c->bvar, c->zeta, c->act_sq,
                    c->std_out, c->out);
    double j = 0;
    for (int i = 0; i < c->batch * c->n_out; i++) j += (double)c->g[i] * c->out[i];
    return j;
}

static void test_lrt_layer(void **state) {
    (void)state;
    enum { B = 3, NI = 6, NO = 5 };
    float a[B * NI], wmu[NI * NO], bmu[NO], wvar[NI * NO], bvar[NO], zeta[B * NO], g[B * NO];
    float act_sq[B * NI], std_out[B * NO], out[B * NO], gscratch[B * NO];
    float gwmu[NI * NO], gbmu[NO], gwvar[NI * NO], gbvar[NO], ga[B * NI];
    fill_normal(a, B * NI, 20, 1.0f, 0.0f);
    fill_normal(wmu, NI * NO, 21, 0.5f, 0.0f);
    fill_normal(bmu, NO, 22, 0.5f, 0.0f);
    fill_normal(wvar, NI * NO, 23, 0.5f, -2.0f);
    fill_normal(bvar, NO, 24, 0.5f, -2.0f);
    for (int i = 0; i < NI * NO; i++) wvar[i] = expf(wvar[i]); /* sigma^2 in ~[0.03, 0.5] */
    for (int i = 0; i < NO; i++) bvar[i] = expf(bvar[i]);
    fill_normal(zeta, B * NO, 25, 1.0f, 0.0f);
    fill_normal(g, B * NO, 26, 1.0f, 0.0f);
    lrt_ctx c = {B, NI, NO, a, wmu, bmu, wvar, bvar, zeta, g, act_sq, std_out, out};
    lrt_objective(&c);
    /* forward against METHODS.md s.2: B = A mu + mu_b + sqrt((A*A) sigma^2 + sigma_b^2) zeta */
    for (int i = 0; i < B; i++)
        for (int j = 0; j < NO; j++) {
            double gamma = bmu[j], delta = bvar[j];
            for (int k = 0; k < NI; k++) {
                gamma += (double)a[i * NI + k] * wmu[k * NO + j];
                delta += (double)a[i * NI + k] * a[i * NI + k] * wvar[k * NO + j];
            }
            double want = gamma + sqrt(delta) * zeta[i * NO + j];
            assert_true(fabs(out[i * NO + j] - want) <= 1e-5 * (1 + fabs(want)));
        }
    memcpy(gscratch, g, sizeof g); /* grad_b and act_sq are consumed */
    bns_lrt_backward(a, act_sq, std_out, zeta, gscratch, B, NI, NO, wmu, wvar, gwmu, gbmu, gwvar, gbvar, ga);
    fd_opts o = {1e-2, 1e-3, 1e-3, 1e-5, 1e-6, 1000};
    expect_grad("lrt d/d weight mu", wmu, NI * NO, gwmu, lrt_objective, &c, &o);
    expect_grad("lrt d/d bias mu", bmu, NO, gbmu, lrt_objective, &c, &o);
    fd_opts ov = {2e-2, 1e-6, 1e-3, 1e-5, 1e-6, 1000}; /* relative steps keep sigma^2 > 0 */
    expect_grad("lrt d/d weight sigma^2", wvar, NI * NO, gwvar, lrt_objective, &c, &ov);
    expect_grad("lrt d/d bias sigma^2", bvar, NO, gbvar, lrt_objective, &c, &ov);
    expect_grad("lrt d/d input A", a, B * NI, ga, lrt_objective, &c, &o);
    /* grad_a = NULL leaves the parameter gradients unchanged */
    float gwmu2[NI * NO], gbmu2[NO], gwvar2[NI * NO], gbvar2[NO];
    lrt_objective(&c);
    memcpy(gscratch, g, sizeof g);
    bns_lrt_backward(a, act_sq, std_out, zeta, gscratch, B, NI, NO, wmu, wvar, gwmu2, gbmu2, gwvar2, gbvar2, NULL);
    assert_memory_equal(gwmu, gwmu2, sizeof gwmu);
    assert_memory_equal(gwvar, gwvar2, sizeof gwvar);
}

/* ---- whole methods through the method interface ---- */

enum { M_INPUTS = 6, M_BATCH = 5 };

typedef struct {
    bns_model m;
    void *trainer;
    float x[M_BATCH * M_INPUTS];
    uint8_t y[M_BATCH];
    int batch;
    bns_objective obj;
    float *grad_scratch;
    int wrong_reg_weight;   /* test_checker_can_fail: leave out the batch factor of the regulariser */
} method_ctx;

static double method_objective(void *p) {
    method_ctx *c = p;
    bns_step_stats st;
    c->m.method->loss_grad(c->trainer, &c->m, c->x, c->y, c->batch, &c->obj, c->grad_scratch, &st);
    double reg_weight = c->wrong_reg_weight ? 1.0 : c->batch;
    return c->obj.nll_scale * (st.nll_sum + reg_weight * st.reg_per_example);
}

typedef struct {
    const char *method;
    int prior;              /* enum bns_prior_kind */
    int samples;
    double rho_init;
    double l2_lambda;
    int randomize;          /* 1: random mu and rho around rho_init; 0: the method's own init */
} method_case;

static void method_setup(method_ctx *c, const method_case *mc, int reduction, int batch) {
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.arch, sizeof cfg.arch, "FC-5-4-3");
    snprintf(cfg.method, sizeof cfg.method, "%s", mc->method);
    bns_prior_defaults(&cfg.prior, mc->prior);
    if (mc->prior == BNS_PRIOR_GAUSSIAN) cfg.prior.sigma = 0.5;
    cfg.samples = mc->samples;
    cfg.rho_init = mc->rho_init;
    cfg.l2_lambda = mc->l2_lambda;
    cfg.reduction = reduction;
    cfg.seed = 17;
    if (bns_model_create(&cfg, M_INPUTS, &c->m)) fail_msg("model_create: %s", bns_last_error());
    size_t n = c->m.arch.n_weights;
    if (mc->randomize) {
        fill_normal(c->m.params, n, 30, 0.5f, 0.0f);
        if (c->m.n_params == 2 * n) fill_normal(c->m.params + n, n, 31, 0.4f, (float)mc->rho_init);
    }
    c->batch = batch;
    fill_normal(c->x, (size_t)batch * M_INPUTS, 32, 1.0f, 0.0f);
    fill_labels(c->y, batch, 3, 3);
    c->trainer = c->m.method->trainer_create(&c->m, M_BATCH);
    c->obj.nll_scale = reduction == BNS_REDUCE_SUM ? 1.0 : 1.0 / batch;
    c->obj.reg_scale = c->obj.nll_scale * batch;
    c->obj.n_train = 20; /* small N: the KL term weighs as much as the NLL */
    c->obj.step = 7;
    c->obj.skip_kl_value = 0;
    c->grad_scratch = malloc(sizeof(float) * c->m.n_params);
    c->wrong_reg_weight = 0;
}

static void method_teardown(method_ctx *c) {
    c->m.method->trainer_free(c->trainer);
    free(c->grad_scratch);
    bns_model_free(&c->m);
}

static const fd_opts METHOD_OPTS = {0, 2e-3, 3e-3, 1e-4, 1e-6, 1000};

static fd_result check_method_case(const method_case *mc, int report, int wrong_reg_weight, fd_result *rho_result) {
    method_ctx c;
    method_setup(&c, mc, BNS_REDUCE_MEAN, M_BATCH);
    size_t n = c.m.arch.n_weights, P = c.m.n_params;
    float *grad = malloc(sizeof(float) * P);
    bns_step_stats st;
    c.m.method->loss_grad(c.trainer, &c.m, c.x, c.y, c.batch, &c.obj, grad, &st);
    for (size_t i = 0; i < P; i++)
        if (!isfinite(grad[i])) fail_msg("%s: gradient %zu not finite", mc->method, i);
    c.wrong_reg_weight = wrong_reg_weight;
    char what[128];
    snprintf(what, sizeof what, "%s prior %d S %d rho %g lambda %g: d/d mu", mc->method, mc->prior, mc->samples,
             mc->rho_init, mc->l2_lambda);
    fd_result r = fd_check(what, c.m.params, n, grad, method_objective, &c, &METHOD_OPTS, report);
    if (c.m.n_params == 2 * n) { /* mu then rho */
        snprintf(what, sizeof what, "%s prior %d S %d rho %g: d/d rho", mc->method, mc->prior, mc->samples, mc->rho_init);
        fd_opts o = METHOD_OPTS;
        o.h_abs = 1e-2;
        *rho_result = fd_check(what, c.m.params + n, n, grad + n, method_objective, &c, &o, report);
    } else {
        memset(rho_result, 0, sizeof *rho_result);
    }
    free(grad);
    method_teardown(&c);
    return r;
}

static void expect_method_grad(const method_case *mc) {
    fd_result rho;
    fd_result mu = check_method_case(mc, 1, 0, &rho);
    const char *names[2] = {"mu (or w)", "rho"};
    fd_result *rs[2] = {&mu, &rho};
    for (int k = 0; k < 2; k++) {
        fd_result *r = rs[k];
        if (r->failed)
            fail_msg("%s (prior %d, S %d, rho_init %g): %d of %d gradient coordinates w.r.t. %s disagree with "
                     "central differences of J",
                     mc->method, mc->prior, mc->samples, mc->rho_init, r->failed, r->checked, names[k]);
        if (r->skipped > 2 && r->skipped * 10 > r->checked)
            fail_msg("%s: %d of %d coordinates non-smooth", mc->method, r->skipped, r->checked);
    }
}

static void test_bbb_mixture_grad(void **state) {
    (void)state;
    method_case a = {"bbb", BNS_PRIOR_MIXTURE, 1, -3.0, 0, 1};
    expect_method_grad(&a);
    method_case b = {"bbb", BNS_PRIOR_MIXTURE, 3, -3.0, 0, 1};
    expect_method_grad(&b);
}

static void test_bbb_gaussian_grad(void **state) {
    (void)state;
    method_case a = {"bbb", BNS_PRIOR_GAUSSIAN, 1, -3.0, 0, 1};
    expect_method_grad(&a);
    method_case b = {"bbb", BNS_PRIOR_GAUSSIAN, 3, -2.0, 0, 1};
    expect_method_grad(&b);
}

static void test_bbb_grad_rho_minus_6(void **state) {
    (void)state;
    /* the method's own init: truncated-normal mu, rho = -6 everywhere */
    method_case a = {"bbb", BNS_PRIOR_MIXTURE, 1, -6.0, 0, 0};
    expect_method_grad(&a);
    method_case b = {"bbb", BNS_PRIOR_GAUSSIAN, 2, -6.0, 0, 1};
    expect_method_grad(&b);
}

static void test_lrt_grad(void **state) {
    (void)state;
    method_case a = {"lrt", BNS_PRIOR_GAUSSIAN, 1, -3.0, 0, 1};
    expect_method_grad(&a);
    method_case b = {"lrt", BNS_PRIOR_GAUSSIAN, 2, -2.0, 0, 1};
    expect_method_grad(&b);
    method_case c = {"lrt", BNS_PRIOR_GAUSSIAN, 1, -6.0, 0, 0};
    expect_method_grad(&c);
}

static void test_deterministic_grad(void **state) {
    (void)state;
    method_case a = {"deterministic", BNS_PRIOR_MIXTURE, 1, 0, 0.01, 1};
    expect_method_grad(&a);
    method_case b = {"deterministic", BNS_PRIOR_MIXTURE, 1, 0, 1.0, 1};
    expect_method_grad(&b);
    method_case c = {"deterministic", BNS_PRIOR_MIXTURE, 1, 0, 0.0, 1};
    expect_method_grad(&c);
}

/* The reported pieces of J are what they claim to be: the deterministic
 * penalty is lambda * sum_l (1/|l|) sum w^2 over weights (not biases), the
 * LRT KL is the closed form summed over every parameter, and NLL agrees with
 * a plain forward pass for the deterministic net. */
static void test_objective_pieces(void **state) {
    (void)state;
    method_case d = {"deterministic", BNS_PRIOR_MIXTURE, 1, 0, 0.3, 1};
    method_ctx c;
    method_setup(&c, &d, BNS_REDUCE_MEAN, M_BATCH);
    bns_step_stats st;
    c.m.method->loss_grad(c.trainer, &c.m, c.x, c.y, c.batch, &c.obj, c.grad_scratch, &st);
    double pen = 0;
    for (int l = 0; l < c.m.arch.n_layers; l++) {
        double s = 0;
        for (size_t i = c.m.arch.weight_offset[l]; i < c.m.arch.bias_offset[l]; i++) s += (double)c.m.params[i] * c.m.params[i];
        pen += s / c.m.arch.width[l + 1];
    }
    assert_true(fabs(st.reg_per_example - 0.3 * pen) <= 1e-9 * (0.3 * pen));
    assert_true(st.kl == 0.0);
    bns_net_workspace ws;
    bns_net_workspace_init(&ws, &c.m.arch, M_BATCH);
    float *logits = bns_net_forward(&c.m.arch, c.m.params, c.x, c.batch, &ws);
    double nll = bns_softmax_xent(logits, c.y, c.batch, 3, 1.0f, NULL);
    assert_true(fabs(st.nll_sum - nll) <= 1e-6 * nll);
    assert_true(st.correct == bns_count_correct(logits, c.y, c.batch, 3));
    bns_net_workspace_free(&ws);
    method_teardown(&c);

    method_case l = {"lrt", BNS_PRIOR_GAUSSIAN, 1, -3.0, 0, 1};
    method_setup(&c, &l, BNS_REDUCE_MEAN, M_BATCH);
    c.m.method->loss_grad(c.trainer, &c.m, c.x, c.y, c.batch, &c.obj, c.grad_scratch, &st);
    size_t n = c.m.arch.n_weights;
    double kl = 0;
    for (size_t i = 0; i < n; i++) kl += bns_gaussian_kl(c.m.params[i], bns_softplus(c.m.params[n + i]), 0.5);
    /* the LRT KL comes from the fused float kernel: float-level agreement */
    assert_true(fabs(st.kl - kl) <= 1e-5 * fabs(kl));
    assert_true(fabs(st.reg_per_example - st.kl / c.obj.n_train) <= 1e-12 * fabs(kl));
    method_teardown(&c);
}

/* A step that does not report the regulariser's value (skip_kl_value = 1:
 * every step but an epoch's last) gets the same gradient, bit for bit, for
 * the methods with the L2 term, at lambda 0 and > 0. */
static void test_l2_gradient_without_value(void **state) {
    (void)state;
    const char *methods[] = {"deterministic", "dropout"};
    const double lambdas[] = {0.0, 0.3};
    for (int mi = 0; mi < 2; mi++) {
        for (int li = 0; li < 2; li++) {
            method_case mc = {methods[mi], BNS_PRIOR_MIXTURE, 1, 0, lambdas[li], 1};
            method_ctx c;
            method_setup(&c, &mc, BNS_REDUCE_MEAN, M_BATCH);
            size_t np = c.m.n_params;
            float *with_value = malloc(sizeof(float) * np);
            bns_step_stats st;
            c.m.method->loss_grad(c.trainer, &c.m, c.x, c.y, c.batch, &c.obj, with_value, &st);
            assert_true(lambdas[li] == 0.0 ? st.reg_per_example == 0.0 : st.reg_per_example > 0.0);
            c.obj.skip_kl_value = 1;
            c.m.method->loss_grad(c.trainer, &c.m, c.x, c.y, c.batch, &c.obj, c.grad_scratch, &st);
            assert_true(st.reg_per_example == 0.0);
            assert_memory_equal(with_value, c.grad_scratch, sizeof(float) * np);
            free(with_value);
            method_teardown(&c);
        }
    }
}

/* The checker is not vacuous: a gradient off by 3% in one coordinate, and a
 * J that weighs the regulariser without its batch factor, must be rejected. */
static void test_checker_can_fail(void **state) {
    (void)state;
    enum { B = 3, NI = 6, NO = 5 };
    float x[B * NI], w[NI * NO], b[NO], g[B * NO], y[B * NO], gw[NI * NO], gb[NO];
    fill_normal(x, B * NI, 1, 1.0f, 0.0f);
    fill_normal(w, NI * NO, 2, 0.5f, 0.0f);
    fill_normal(b, NO, 3, 0.5f, 0.0f);
    fill_normal(g, B * NO, 4, 1.0f, 0.0f);
    dense_ctx c = {B, NI, NO, x, w, b, g, y};
    bns_dense_backward(x, g, B, NI, NO, w, gw, gb, NULL);
    gw[7] *= 1.03f;
    fd_result r = fd_check("dense dW (deliberately wrong)", w, NI * NO, gw, dense_objective, &c, &LINEAR_OPTS, 0);
    assert_int_equal(r.failed, 1);

    const method_case cases[] = {
        {"bbb", BNS_PRIOR_MIXTURE, 1, -3.0, 0, 1},
        {"lrt", BNS_PRIOR_GAUSSIAN, 1, -3.0, 0, 1},
        {"deterministic", BNS_PRIOR_MIXTURE, 1, 0, 1.0, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        fd_result rho;
        fd_result mu = check_method_case(&cases[k], 0, 1, &rho);
        if (mu.failed + rho.failed < 5)
            fail_msg("%s: a J without the regulariser's batch factor went unnoticed (%d + %d failures)",
                     cases[k].method, mu.failed, rho.failed);
    }
}

/* Sum vs mean reduction: the same step, the gradient scaled by exactly the
 * batch size (up to float rounding), the reported pieces identical. */
static void test_reduction_sum_vs_mean(void **state) {
    (void)state;
    const method_case cases[] = {
        {"bbb", BNS_PRIOR_MIXTURE, 1, -3.0, 0, 1},
        {"bbb", BNS_PRIOR_GAUSSIAN, 3, -3.0, 0, 1},
        {"lrt", BNS_PRIOR_GAUSSIAN, 2, -3.0, 0, 1},
        {"deterministic", BNS_PRIOR_MIXTURE, 1, 0, 0.01, 1},
    };
    const int batches[] = {4, 5};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int bi = 0; bi < 2; bi++) {
            int batch = batches[bi];
            method_ctx mean, sum;
            method_setup(&mean, &cases[k], BNS_REDUCE_MEAN, batch);
            method_setup(&sum, &cases[k], BNS_REDUCE_SUM, batch);
            assert_memory_equal(mean.m.params, sum.m.params, sizeof(float) * mean.m.n_params);
            size_t P = mean.m.n_params;
            float *gm = malloc(sizeof(float) * P), *gs = malloc(sizeof(float) * P);
            bns_step_stats sm, ss;
            mean.m.method->loss_grad(mean.trainer, &mean.m, mean.x, mean.y, batch, &mean.obj, gm, &sm);
            sum.m.method->loss_grad(sum.trainer, &sum.m, sum.x, sum.y, batch, &sum.obj, gs, &ss);
            assert_true(sm.nll_sum == ss.nll_sum);
            assert_true(sm.reg_per_example == ss.reg_per_example);
            double gmax = 0;
            for (size_t i = 0; i < P; i++) gmax = fmax(gmax, fabs(gs[i]));
            for (size_t i = 0; i < P; i++) {
                double want = (double)batch * gm[i];
                if (fabs(gs[i] - want) > 2e-6 * fabs(want) + 1e-7 * gmax)
                    fail_msg("%s batch %d: sum-reduction grad[%zu] = %.9g, batch * mean-reduction grad = %.9g",
                             cases[k].method, batch, i, gs[i], want);
            }
            free(gm);
            free(gs);
            method_teardown(&mean);
            method_teardown(&sum);
        }
}

/* bbb's kl_weight scales only the KL part: with the same noise, the
 * gradient is affine in the weight, g(2) - g(1) = g(1) - g(0) (float
 * rounding), g(0) is the NLL alone (differs from g(1)), and the reported
 * KL value does not change. */
static void test_bbb_kl_weight(void **state) {
    (void)state;
    const method_case mc = {"bbb", BNS_PRIOR_MIXTURE, 2, -3.0, 0, 1};
    method_ctx c;
    method_setup(&c, &mc, BNS_REDUCE_MEAN, M_BATCH);
    size_t P = c.m.n_params;
    float *g[3];
    double kl[3];
    for (int k = 0; k < 3; k++) {
        char v[8];
        snprintf(v, sizeof v, "%d", k);
        if (bns_config_set(&c.m.cfg, "kl_weight", v)) fail_msg("%s", bns_last_error());
        c.m.method->trainer_free(c.trainer);
        c.trainer = c.m.method->trainer_create(&c.m, M_BATCH);
        g[k] = malloc(sizeof(float) * P);
        bns_step_stats st;
        c.m.method->loss_grad(c.trainer, &c.m, c.x, c.y, c.batch, &c.obj, g[k], &st);
        kl[k] = st.kl;
    }
    double gmax = 0, dmax = 0;
    for (size_t i = 0; i < P; i++) {
        gmax = fmax(gmax, fabs(g[1][i]));
        dmax = fmax(dmax, fabs(g[1][i] - g[0][i]));
    }
    assert_true(dmax > 1e-3 * gmax);
    for (size_t i = 0; i < P; i++)
        if (fabs((g[2][i] - g[1][i]) - (g[1][i] - g[0][i])) > 1e-5 * gmax)
            fail_msg("grad[%zu]: %g %g %g not affine in kl_weight", i, g[0][i], g[1][i], g[2][i]);
    assert_true(kl[0] == kl[1] && kl[1] == kl[2]);
    bns_config bad = c.m.cfg;
    assert_int_equal(bns_config_set(&bad, "kl_weight", "-1") == 0 ? c.m.method->validate(&bad) : -1, -1);
    for (int k = 0; k < 3; k++) free(g[k]);
    method_teardown(&c);
}

/* bbb's init_rule: prior = the mixture's std (the old default, bit for
 * bit), sigma1 = the wide component's, fan_in = 1/sqrt(3 fan-in) per layer;
 * the empirical std of each layer's mu against the truncated normal's
 * (0.8796 x the std: N(0, 1) truncated at 2). */
static void test_bbb_init_rule(void **state) {
    (void)state;
    const char *rules[] = {"prior", "sigma1", "fan_in"};
    for (int r = 0; r < 3; r++) {
        bns_config cfg;
        bns_config_defaults(&cfg);
        snprintf(cfg.arch, sizeof cfg.arch, "FC-100-10");
        if (bns_config_set(&cfg, "init_rule", rules[r])) fail_msg("%s", bns_last_error());
        bns_model m;
        if (bns_model_create(&cfg, 784, &m)) fail_msg("%s", bns_last_error());
        for (int l = 0; l < m.arch.n_layers; l++) {
            double want = r == 0 ? bns_prior_std(&cfg.prior) : r == 1 ? cfg.prior.sigma1 : 1.0 / sqrt(3.0 * m.arch.width[l]);
            double ss = 0;
            size_t cnt = m.arch.bias_offset[l] - m.arch.weight_offset[l];
            for (size_t i = m.arch.weight_offset[l]; i < m.arch.bias_offset[l]; i++) ss += (double)m.params[i] * m.params[i];
            double got = sqrt(ss / cnt) / 0.8796;
            if (fabs(got / want - 1) > 6.0 / sqrt((double)cnt) + 0.01)
                fail_msg("init_rule %s layer %d: std %g, want %g", rules[r], l, got, want);
        }
        bns_model_free(&m);
    }
}

/* The noise is a function of the step: the same step reproduces the gradient
 * bit for bit, another step changes it (Bayesian methods only). */
static void test_step_noise(void **state) {
    (void)state;
    const method_case cases[] = {
        {"bbb", BNS_PRIOR_MIXTURE, 2, -3.0, 0, 1},
        {"lrt", BNS_PRIOR_GAUSSIAN, 1, -3.0, 0, 1},
    };
    for (size_t k = 0; k < 2; k++) {
        method_ctx c;
        method_setup(&c, &cases[k], BNS_REDUCE_MEAN, M_BATCH);
        size_t P = c.m.n_params;
        float *g1 = malloc(sizeof(float) * P), *g2 = malloc(sizeof(float) * P), *g3 = malloc(sizeof(float) * P);
        bns_step_stats st;
        c.m.method->loss_grad(c.trainer, &c.m, c.x, c.y, c.batch, &c.obj, g1, &st);
        c.obj.step = 8;
        c.m.method->loss_grad(c.trainer, &c.m, c.x, c.y, c.batch, &c.obj, g2, &st);
        c.obj.step = 7;
        c.m.method->loss_grad(c.trainer, &c.m, c.x, c.y, c.batch, &c.obj, g3, &st);
        assert_memory_equal(g1, g3, sizeof(float) * P);
        assert_memory_not_equal(g1, g2, sizeof(float) * P);
        free(g1);
        free(g2);
        free(g3);
        method_teardown(&c);
    }
}

/* METHODS.md s.1: rho = -30 must train without NaN: finite J and gradient
 * for both priors, and for LRT. */
static void test_rho_minus_30_finite(void **state) {
    (void)state;
    const method_case cases[] = {
        {"bbb", BNS_PRIOR_MIXTURE, 1, -30.0, 0, 0},
        {"bbb", BNS_PRIOR_GAUSSIAN, 2, -30.0, 0, 0},
        {"lrt", BNS_PRIOR_GAUSSIAN, 1, -30.0, 0, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        method_ctx c;
        method_setup(&c, &cases[k], BNS_REDUCE_MEAN, M_BATCH);
        size_t P = c.m.n_params, n = c.m.arch.n_weights;
        float *g = malloc(sizeof(float) * P);
        bns_step_stats st;
        c.m.method->loss_grad(c.trainer, &c.m, c.x, c.y, c.batch, &c.obj, g, &st);
        assert_true(isfinite(st.nll_sum) && isfinite(st.reg_per_example) && isfinite(st.kl));
        for (size_t i = 0; i < P; i++)
            if (!isfinite(g[i])) fail_msg("%s rho -30: grad[%zu] = %g", cases[k].method, i, g[i]);
        /* d/drho is dominated by the entropy term: each of the S samples (or
         * the closed form once) contributes -kl_scale * sigmoid/softplus ~
         * -kl_scale, summing to -reg_scale / N */
        double want = -c.obj.reg_scale / c.obj.n_train;
        for (size_t i = n; i < P; i++)
            if (fabs(g[i] - want) > 1e-3 * fabs(want))
                fail_msg("%s rho -30: d/drho[%zu] = %g, want ~%g", cases[k].method, i - n, g[i], want);
        free(g);
        method_teardown(&c);
    }
}

static void set_variance_reading(method_ctx *c) {
    if (bns_config_set(&c->m.cfg, "sigma_of_rho", "variance")) fail_msg("%s", bns_last_error());
    c->m.method->trainer_free(c->trainer);
    c->trainer = c->m.method->trainer_create(&c->m, M_BATCH);
}

/* bbb's sigma_of_rho = variance (sigma = sqrt(softplus(rho))): the gradient
 * against central differences of J; at rho -30 (the kernel's clamped
 * branch) d/drho is the entropy term's limit -kl_scale / 2; a sample's
 * w - mu and the SNR are the softplus reading's scaled by 1/sqrt(softplus)
 * and sqrt(softplus) (same noise). */
static void test_bbb_sigma_of_rho(void **state) {
    (void)state;
    const method_case mc = {"bbb", BNS_PRIOR_MIXTURE, 2, -3.0, 0, 1};
    method_ctx c;
    method_setup(&c, &mc, BNS_REDUCE_MEAN, M_BATCH);
    set_variance_reading(&c);
    size_t n = c.m.arch.n_weights, P = c.m.n_params;
    float *g = malloc(sizeof(float) * P);
    bns_step_stats st;
    c.m.method->loss_grad(c.trainer, &c.m, c.x, c.y, c.batch, &c.obj, g, &st);
    fd_result r = fd_check("bbb variance reading: d/d mu", c.m.params, n, g, method_objective, &c, &METHOD_OPTS, 1);
    fd_opts o = METHOD_OPTS;
    o.h_abs = 1e-2;
    fd_result rr = fd_check("bbb variance reading: d/d rho", c.m.params + n, n, g + n, method_objective, &c, &o, 1);
    assert_int_equal(r.failed, 0);
    assert_int_equal(rr.failed, 0);
    assert_true(rr.checked > 0);
    free(g);
    method_teardown(&c);

    const method_case deep = {"bbb", BNS_PRIOR_MIXTURE, 1, -30.0, 0, 0};
    method_setup(&c, &deep, BNS_REDUCE_MEAN, M_BATCH);
    set_variance_reading(&c);
    g = malloc(sizeof(float) * c.m.n_params);
    c.m.method->loss_grad(c.trainer, &c.m, c.x, c.y, c.batch, &c.obj, g, &st);
    double want = -0.5 * c.obj.reg_scale / c.obj.n_train;
    for (size_t i = n; i < c.m.n_params; i++)
        if (fabs(g[i] - want) > 1e-3 * fabs(want)) fail_msg("variance rho -30: d/drho[%zu] = %g, want ~%g", i - n, g[i], want);
    free(g);
    method_teardown(&c);

    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.arch, sizeof cfg.arch, "FC-5-4-3");
    bns_model std_m, var_m;
    if (bns_model_create(&cfg, M_INPUTS, &std_m)) fail_msg("%s", bns_last_error());
    if (bns_config_set(&cfg, "sigma_of_rho", "variance")) fail_msg("%s", bns_last_error());
    if (bns_model_create(&cfg, M_INPUTS, &var_m)) fail_msg("%s", bns_last_error());
    fill_normal(std_m.params + n, n, 33, 1.0f, -3.0f);
    memcpy(var_m.params, std_m.params, sizeof(float) * std_m.n_params);
    float *ws = malloc(sizeof(float) * n), *wv = malloc(sizeof(float) * n);
    double *snr_s = malloc(sizeof(double) * n), *snr_v = malloc(sizeof(double) * n);
    bns_stream stream = bns_stream_make(3, 0, BNS_PURPOSE_PREDICT);
    bns_model_sample_weights(&std_m, &stream, 5, ws);
    bns_model_sample_weights(&var_m, &stream, 5, wv);
    assert_int_equal(bns_model_weight_snr(&std_m, snr_s), 0);
    assert_int_equal(bns_model_weight_snr(&var_m, snr_v), 0);
    for (size_t i = 0; i < n; i++) {
        double mu = std_m.params[i], sp = bns_softplus(std_m.params[n + i]);
        double dv = wv[i] - mu, ds = (ws[i] - mu) / sqrt(sp);
        if (fabs(dv - ds) > 1e-4 * fabs(ds) + 1e-6) fail_msg("sample %zu: w - mu %g, want %g", i, dv, ds);
        if (fabs(snr_v[i] - snr_s[i] * sqrt(sp)) > 1e-9 * snr_v[i]) fail_msg("snr %zu: %g vs %g", i, snr_v[i], snr_s[i]);
    }
    free(ws);
    free(wv);
    free(snr_s);
    free(snr_v);
    bns_model_free(&std_m);
    bns_model_free(&var_m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense),
        cmocka_unit_test(test_relu),
        cmocka_unit_test(test_softmax_xent),
        cmocka_unit_test(test_gaussian_nll),
        cmocka_unit_test(test_mlp),
        cmocka_unit_test(test_lrt_layer),
        cmocka_unit_test(test_bbb_mixture_grad),
        cmocka_unit_test(test_bbb_gaussian_grad),
        cmocka_unit_test(test_bbb_grad_rho_minus_6),
        cmocka_unit_test(test_lrt_grad),
        cmocka_unit_test(test_deterministic_grad),
        cmocka_unit_test(test_objective_pieces),
        cmocka_unit_test(test_l2_gradient_without_value),
        cmocka_unit_test(test_checker_can_fail),
        cmocka_unit_test(test_reduction_sum_vs_mean),
        cmocka_unit_test(test_bbb_kl_weight),
        cmocka_unit_test(test_bbb_init_rule),
        cmocka_unit_test(test_bbb_sigma_of_rho),
        cmocka_unit_test(test_step_noise),
        cmocka_unit_test(test_rho_minus_30_finite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
