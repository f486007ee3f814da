/* test_conv.c - the image layers (conv2d, pooling, gap, batchnorm, residual
 * save/add): finite-difference gradients of each through the layer loop,
 * conv forward against a direct convolution, batch norm's running
 * statistics, the named architectures' shapes and sizes, a Bayesian (BBB)
 * conv net's mu and rho gradients through the method interface, and the
 * methods that cannot run conv layers refusing them by name. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/model.h"
#include "bnnsweep/net.h"
#include "bnnsweep/nn.h"
#include "bnnsweep/rng.h"

#include "test_fd.h"

static const fd_opts NET_OPTS = {0, 2e-3, 2e-3, 1e-5, 1e-6, 400};

/* ---- J = sum g . net(x; w), its gradient through bns_net_backward ---- */

typedef struct {
    bns_arch arch;
    bns_net_workspace ws;
    float *w, *x, *g;
    int batch;
} net_ctx;

static double net_objective(void *p) {
    net_ctx *c = p;
    const float *y = bns_net_forward(&c->arch, c->w, c->x, c->batch, &c->ws);
    double j = 0;
    for (size_t i = 0; i < (size_t)c->batch * c->arch.n_classes; i++) j += (double)c->g[i] * y[i];
    return j;
}

/* FD-checks d/dw and d/dx of the net `a` (training mode) on random w, x, g;
 * w_std 0: the model's init scale (1/sqrt(3 fan-in)), which keeps a deep
 * net's activations O(1) */
static void check_net_mode(const char *what, const bns_arch *a, int batch, float w_std, const fd_opts *opts,
                           int training) {
    net_ctx c;
    c.arch = *a;
    c.batch = batch;
    size_t n = a->n_weights, nx = (size_t)batch * a->n_inputs, ny = (size_t)batch * a->n_classes;
    c.w = malloc(sizeof(float) * (n ? n : 1));
    c.x = malloc(sizeof(float) * nx);
    c.g = malloc(sizeof(float) * ny);
    float *gw = malloc(sizeof(float) * (n ? n : 1)), *gx = malloc(sizeof(float) * nx), *gl = malloc(sizeof(float) * ny);
    fill_normal(c.w, n, 40, w_std, 0.0f);
    if (w_std == 0) {
        bns_stream init = bns_stream_make(3, 0, BNS_PURPOSE_INIT);
        bns_init_truncated_normal(c.w, a, 0, &init);
    }
    fill_normal(c.x, nx, 41, 1.0f, 0.0f);
    fill_normal(c.g, ny, 42, 1.0f, 0.0f);
    bns_net_workspace_init(&c.ws, &c.arch, batch);
    c.ws.training = training;
    net_objective(&c);
    memcpy(gl, c.g, sizeof(float) * ny);
    for (size_t i = 0; i < n; i++) gw[i] = NAN; /* every entry must be written */
    bns_net_backward(&c.arch, c.w, batch, &c.ws, gl, gw, gx);
    for (size_t i = 0; i < n; i++) assert_true(isfinite(gw[i]));
    char buf[128];
    if (n) {
        snprintf(buf, sizeof buf, "%s: d/dw", what);
        expect_grad(buf, c.w, n, gw, net_objective, &c, opts);
    }
    snprintf(buf, sizeof buf, "%s: d/dx", what);
    expect_grad(buf, c.x, nx, gx, net_objective, &c, opts);
    bns_net_workspace_free(&c.ws);
    free(c.w), free(c.x), free(c.g), free(gw), free(gx), free(gl);
}

static void check_net_opts(const char *what, const bns_arch *a, int batch, float w_std, const fd_opts *opts) {
    check_net_mode(what, a, batch, w_std, opts, 1);
}

static void check_net(const char *what, const bns_arch *a, int batch) { check_net_opts(what, a, batch, 0.5f, &NET_OPTS); }

static void test_conv_grad(void **state) {
    (void)state;
    bns_arch a;
    bns_arch_begin(&a, (bns_shape){2, 7, 6}); /* not square: H and W must not be swapped */
    assert_int_equal(bns_arch_add_conv(&a, 3, 3, 2, 1), 0);
    assert_int_equal(a.ops[0].out.h, 4);
    assert_int_equal(a.ops[0].out.w, 3);
    check_net("conv 3x3 stride 2 pad 1", &a, 3);
    bns_arch_begin(&a, (bns_shape){3, 5, 6});
    assert_int_equal(bns_arch_add_conv(&a, 2, 2, 1, 0), 0);
    assert_int_equal(bns_arch_add_conv(&a, 4, 1, 2, 0), 0); /* 1x1 with a stride */
    check_net("conv 2x2 then 1x1 stride 2", &a, 2);
    bns_arch_begin(&a, (bns_shape){1, 6, 6});
    assert_int_equal(bns_arch_add_conv(&a, 2, 3, 1, 2), 0); /* pad > k/2: output bigger than input */
    assert_int_equal(a.ops[0].out.h, 8);
    check_net("conv 3x3 pad 2", &a, 2);
}

static void test_pool_grad(void **state) {
    (void)state;
    bns_arch a;
    bns_arch_begin(&a, (bns_shape){2, 6, 5});
    assert_int_equal(bns_arch_add_pool(&a, &bns_layer_maxpool, 2, 2), 0);
    assert_int_equal(a.ops[0].out.h, 3);
    assert_int_equal(a.ops[0].out.w, 2);
    check_net("maxpool 2x2 stride 2", &a, 3);
    bns_arch_begin(&a, (bns_shape){2, 7, 7});
    assert_int_equal(bns_arch_add_pool(&a, &bns_layer_maxpool, 3, 2), 0); /* overlapping windows */
    check_net("maxpool 3x3 stride 2", &a, 2);
    bns_arch_begin(&a, (bns_shape){2, 6, 5});
    assert_int_equal(bns_arch_add_pool(&a, &bns_layer_avgpool, 2, 2), 0);
    check_net("avgpool 2x2 stride 2", &a, 3);
    bns_arch_begin(&a, (bns_shape){2, 5, 5});
    assert_int_equal(bns_arch_add_pool(&a, &bns_layer_avgpool, 3, 1), 0);
    check_net("avgpool 3x3 stride 1", &a, 2);
    bns_arch_begin(&a, (bns_shape){3, 4, 5});
    assert_int_equal(bns_arch_add_simple(&a, &bns_layer_gap), 0);
    assert_int_equal(a.n_classes, 3);
    check_net("gap", &a, 3);
}

static void test_batchnorm_grad(void **state) {
    (void)state;
    bns_arch a;
    /* conv first: the batch-norm input then depends on w, so d/dw covers both */
    bns_arch_begin(&a, (bns_shape){2, 4, 4});
    assert_int_equal(bns_arch_add_conv(&a, 3, 3, 1, 1), 0);
    assert_int_equal(bns_arch_add_simple(&a, &bns_layer_batchnorm), 0);
    check_net("conv, batchnorm (training)", &a, 3);
    bns_arch_begin(&a, (bns_shape){4, 1, 1}); /* one pixel per channel: statistics over the batch only */
    assert_int_equal(bns_arch_add_simple(&a, &bns_layer_batchnorm), 0);
    check_net("batchnorm 1x1", &a, 5);
    /* evaluation mode: the running statistics (here their start, 0 and 1) are constants */
    bns_arch_begin(&a, (bns_shape){2, 3, 3});
    assert_int_equal(bns_arch_add_conv(&a, 2, 3, 1, 1), 0);
    assert_int_equal(bns_arch_add_simple(&a, &bns_layer_batchnorm), 0);
    check_net_mode("conv, batchnorm (running statistics)", &a, 3, 0.5f, &NET_OPTS, 0);
}

static void test_residual_grad(void **state) {
    (void)state;
    bns_arch a;
    /* identity shortcut; batch norm, not relu, as the nonlinearity: a conv
     * weight moves many units at once, so relu kinks inside the finite
     * difference step would be common (relu has its own check) */
    bns_arch_begin(&a, (bns_shape){2, 5, 5});
    assert_int_equal(bns_arch_add_conv(&a, 3, 3, 1, 1), 0);
    assert_int_equal(bns_arch_add_simple(&a, &bns_layer_save), 0);
    assert_int_equal(bns_arch_add_conv(&a, 3, 3, 1, 1), 0);
    assert_int_equal(bns_arch_add_simple(&a, &bns_layer_batchnorm), 0);
    assert_int_equal(bns_arch_add_conv(&a, 3, 3, 1, 1), 0);
    assert_int_equal(bns_arch_add_add(&a), 0);
    assert_int_equal(bns_arch_add_simple(&a, &bns_layer_save), 0); /* two blocks in a row */
    assert_int_equal(bns_arch_add_conv(&a, 3, 1, 1, 0), 0);
    assert_int_equal(bns_arch_add_add(&a), 0);
    /* at the init scale: batch norm over few values curves sharply at large weights */
    fd_opts o = NET_OPTS;
    o.noise = 1e-5; /* the bias before a batch norm has gradient 0: its difference is rounding only */
    check_net_opts("residual, identity shortcut", &a, 2, 0.0f, &o);
    /* option A: stride 2 and 2 -> 4 channels, then a basic block's bn */
    bns_arch_begin(&a, (bns_shape){1, 6, 6});
    assert_int_equal(bns_arch_add_conv(&a, 2, 3, 1, 1), 0);
    assert_int_equal(bns_arch_add_simple(&a, &bns_layer_save), 0);
    assert_int_equal(bns_arch_add_conv(&a, 4, 3, 2, 1), 0);
    assert_int_equal(bns_arch_add_simple(&a, &bns_layer_batchnorm), 0);
    assert_int_equal(bns_arch_add_add(&a), 0);
    assert_int_equal(a.ops[a.n_ops - 1].stride, 2);
    assert_int_equal(bns_arch_add_simple(&a, &bns_layer_gap), 0);
    assert_int_equal(bns_arch_add_dense(&a, 3), 0);
    check_net_opts("residual, option A shortcut", &a, 3, 0.0f, &o);
    /* shapes the shortcut cannot map, and an add without a save, fail by name */
    bns_arch_begin(&a, (bns_shape){4, 6, 6});
    assert_int_not_equal(bns_arch_add_add(&a), 0);
    assert_non_null(strstr(bns_last_error(), "save"));
    assert_int_equal(bns_arch_add_conv(&a, 4, 1, 1, 0), 0);
    assert_int_equal(bns_arch_add_simple(&a, &bns_layer_save), 0);
    assert_int_equal(bns_arch_add_conv(&a, 2, 1, 1, 0), 0); /* fewer channels than saved */
    assert_int_not_equal(bns_arch_add_add(&a), 0);
    assert_non_null(strstr(bns_last_error(), "add"));
}

/* conv forward against the definition, in double */
static void test_conv_direct(void **state) {
    (void)state;
    const int cases[][6] = {{3, 9, 8, 4, 3, 1}, {2, 7, 7, 5, 5, 2}, {1, 6, 6, 2, 1, 0}, {2, 8, 8, 3, 3, 0}};
    const int strides[] = {1, 2, 2, 3};
    for (int t = 0; t < 4; t++) {
        int C = cases[t][0], H = cases[t][1], W = cases[t][2], CO = cases[t][3], k = cases[t][4], pad = cases[t][5];
        int s = strides[t], B = 2;
        bns_arch a;
        bns_arch_begin(&a, (bns_shape){C, H, W});
        assert_int_equal(bns_arch_add_conv(&a, CO, k, s, pad), 0);
        int Ho = a.ops[0].out.h, Wo = a.ops[0].out.w;
        assert_int_equal(Ho, (H + 2 * pad - k) / s + 1);
        float *w = malloc(sizeof(float) * a.n_weights), *x = malloc(sizeof(float) * B * a.n_inputs);
        fill_normal(w, a.n_weights, 50 + t, 1.0f, 0.0f);
        fill_normal(x, (size_t)B * a.n_inputs, 60 + t, 1.0f, 0.0f);
        bns_net_workspace ws;
        bns_net_workspace_init(&ws, &a, B);
        const float *y = bns_net_forward(&a, w, x, B, &ws);
        const float *weight = w + a.ops[0].weight_offset, *bias = w + a.ops[0].bias_offset;
        double worst = 0;
        for (int n = 0; n < B; n++)
            for (int o = 0; o < CO; o++)
                for (int oh = 0; oh < Ho; oh++)
                    for (int ow = 0; ow < Wo; ow++) {
                        double sum = bias[o];
                        for (int c = 0; c < C; c++)
                            for (int i = 0; i < k; i++)
                                for (int j = 0; j < k; j++) {
                                    int ih = oh * s + i - pad, iw = ow * s + j - pad;
                                    if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                    sum += (double)weight[((o * C + c) * k + i) * k + j] *
                                           x[(size_t)n * a.n_inputs + ((size_t)c * H + ih) * W + iw];
                                }
                        double got = y[(size_t)n * a.n_classes + ((size_t)o * Ho + oh) * Wo + ow];
                        worst = fmax(worst, fabs(got - sum));
                    }
        if (worst > 1e-4) fail_msg("conv case %d: differs from the direct convolution by %g", t, worst);
        bns_net_workspace_free(&ws);
        free(w), free(x);
    }
}

/* training mode normalises each channel to mean beta, std gamma; the running
 * statistics move 10% toward the batch's; eval mode applies them */
static void test_batchnorm_stats(void **state) {
    (void)state;
    enum { B = 4, C = 2, P = 3 };
    bns_arch a;
    bns_arch_begin(&a, (bns_shape){C, 1, P});
    assert_int_equal(bns_arch_add_simple(&a, &bns_layer_batchnorm), 0);
    float w[2 * C] = {2.0f, 0.5f, 1.0f, -1.0f}; /* gamma, beta */
    float x[B * C * P];
    fill_normal(x, B * C * P, 70, 3.0f, 5.0f);
    bns_net_workspace ws;
    bns_net_workspace_init(&ws, &a, B);
    const float *y = bns_net_forward(&a, w, x, B, &ws);
    for (int c = 0; c < C; c++) {
        double sum = 0, sq = 0, xs = 0, xsq = 0;
        for (int n = 0; n < B; n++)
            for (int p = 0; p < P; p++) {
                double v = y[(n * C + c) * P + p], u = x[(n * C + c) * P + p];
                sum += v, sq += v * v, xs += u, xsq += u * u;
            }
        double m = B * P, mean = sum / m, var = sq / m - mean * mean;
        assert_true(fabs(mean - w[C + c]) < 1e-5);
        assert_true(fabs(sqrt(var) - w[c]) < 1e-3);
        double xmean = xs / m, xvar = (xsq / m - xmean * xmean) * m / (m - 1);
        assert_true(fabs(ws.state[0][c] - 0.1 * xmean) < 1e-4);                /* running mean from 0 */
        assert_true(fabs(ws.state[0][C + c] - (0.9 + 0.1 * xvar)) < 1e-3);      /* running var from 1 */
    }
    ws.training = 0;
    y = bns_net_forward(&a, w, x, B, &ws);
    for (int c = 0; c < C; c++) {
        float rm = ws.state[0][c], rv = ws.state[0][C + c];
        double want = w[c] * (x[c * P] - rm) / sqrt(rv + 1e-5) + w[C + c];
        assert_true(fabs(y[c * P] - want) < 1e-4);
    }
    bns_net_workspace_free(&ws);
}

static void test_named_archs(void **state) {
    (void)state;
    bns_arch a;
    assert_int_equal(bns_arch_parse("lenet", 784, &a), 0);
    assert_int_equal(a.n_classes, 10);
    assert_int_equal(a.n_layers, 0); /* no FC view */
    /* conv 6x1x5x5, conv 16x6x5x5, dense 400-120-84-10, biases included */
    assert_int_equal((int)a.n_weights, 156 + 2416 + 48120 + 10164 + 850);
    char buf[64];
    bns_arch_format(&a, buf, sizeof buf);
    assert_string_equal(buf, "lenet");
    assert_int_equal(bns_arch_parse("lenet", 3072, &a), 0);
    assert_int_equal(a.ops[0].in.c, 3);
    assert_int_equal(a.ops[0].in.h, 32);
    assert_int_equal(bns_arch_parse("resnet20", 3072, &a), 0);
    /* 1 + 9 x 8 + 2 layers; 3 stages of 16, 32, 64 channels ending at 8x8 */
    assert_int_equal(a.n_ops, 3 + 9 * 8 + 2);
    const bns_layer *gap = &a.ops[a.n_ops - 2];
    assert_true(gap->type == &bns_layer_gap);
    assert_int_equal(gap->in.c, 64);
    assert_int_equal(gap->in.h, 8);
    size_t convs = 3 * 16 * 9 + 6 * 16 * 16 * 9 + (16 * 32 + 5 * 32 * 32) * 9 + (32 * 64 + 5 * 64 * 64) * 9;
    size_t conv_bias = 16 + 6 * 16 + 6 * 32 + 6 * 64, bn = 2 * conv_bias, dense = 64 * 10 + 10;
    assert_int_equal(a.n_weights, convs + conv_bias + bn + dense);
    assert_true(a.n_weights > 260000 && a.n_weights < 280000); /* He et al.: 0.27M */
    assert_int_equal(bns_arch_parse("resnet20", 784, &a), 0);    /* 28x28: 28, 14, 7 */
    assert_int_equal(a.ops[a.n_ops - 2].in.h, 7);
    /* inputs that are no square image, or too small for the net */
    assert_int_not_equal(bns_arch_parse("lenet", 50, &a), 0);
    assert_non_null(strstr(bns_last_error(), "lenet"));
    assert_int_not_equal(bns_arch_parse("lenet", 100, &a), 0); /* 10x10: the second pooling does not fit */
    assert_non_null(strstr(bns_last_error(), "maxpool"));
    assert_int_not_equal(bns_arch_parse("resnet21", 784, &a), 0);
    /* multiply-adds per example: lenet's two convs at 28x28 and 10x10 outputs, then its dense weights */
    assert_int_equal(bns_arch_parse("lenet", 784, &a), 0);
    assert_true(bns_arch_macs(&a) == 156.0 * 28 * 28 + 2416.0 * 10 * 10 + 48120 + 10164 + 850);
    /* resnet20 at 32x32: conv and batch norm parameters used at 32x32, 16x16 and 8x8 pixels; ~41M */
    assert_int_equal(bns_arch_parse("resnet20", 3072, &a), 0);
    double stage[3] = {(3 * 9 + 1) * 16.0 + 6 * (16 * 9 + 1) * 16.0 + 7 * 2 * 16.0,
                       (16 * 9 + 1) * 32.0 + 5 * (32 * 9 + 1) * 32.0 + 6 * 2 * 32.0,
                       (32 * 9 + 1) * 64.0 + 5 * (64 * 9 + 1) * 64.0 + 6 * 2 * 64.0};
    assert_true(fabs(bns_arch_macs(&a) - (stage[0] * 1024 + stage[1] * 256 + stage[2] * 64 + 650)) < 0.5);
    assert_true(bns_arch_macs(&a) > 40e6 && bns_arch_macs(&a) < 42e6);
    /* FC shapes unchanged */
    assert_int_equal(bns_arch_parse("FC-100-10", 784, &a), 0);
    assert_true(bns_arch_macs(&a) == (double)a.n_weights); /* the plan's FC costs are what they were */
    assert_int_equal(a.n_layers, 2);
    assert_true(bns_arch_is_mlp(&a, NULL));
}

/* the whole lenet (conv, relu, maxpool, dense) at its init scale, one
 * example, a smaller step: fewer relu and max kinks inside it */
static void test_lenet_grad(void **state) {
    (void)state;
    bns_arch a;
    assert_int_equal(bns_arch_parse("lenet", 784, &a), 0);
    fd_opts o = {0, 2e-4, 3e-3, 1e-4, 1e-6, 200};
    check_net_opts("lenet", &a, 1, 0.0f, &o);
}

/* ---- a Bayesian conv net: bbb (sequential samples) through the method interface ---- */

typedef struct {
    bns_model m;
    void *trainer;
    float x[3 * 36];
    uint8_t y[3];
    bns_objective obj;
    float *scratch;
} bbb_ctx;

static double bbb_objective(void *p) {
    bbb_ctx *c = p;
    bns_step_stats st;
    c->m.method->loss_grad(c->trainer, &c->m, c->x, c->y, 3, &c->obj, c->scratch, &st);
    return c->obj.nll_scale * (st.nll_sum + 3 * st.reg_per_example);
}

static void test_bbb_conv_grad(void **state) {
    (void)state;
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.method, sizeof cfg.method, "bbb");
    bns_prior_defaults(&cfg.prior, BNS_PRIOR_GAUSSIAN);
    cfg.prior.sigma = 0.5;
    cfg.samples = 2;
    cfg.rho_init = -3.0;
    cfg.sample_mode = BNS_SAMPLES_SEQUENTIAL;
    cfg.seed = 5;
    bbb_ctx c;
    /* a model of a small conv net: the method only sees arch and params */
    snprintf(cfg.arch, sizeof cfg.arch, "FC-3");
    if (bns_model_alloc(&cfg, 36, &c.m)) fail_msg("%s", bns_last_error());
    bns_arch_begin(&c.m.arch, (bns_shape){1, 6, 6});
    assert_int_equal(bns_arch_add_conv(&c.m.arch, 2, 3, 2, 1), 0);
    assert_int_equal(bns_arch_add_simple(&c.m.arch, &bns_layer_batchnorm), 0);
    assert_int_equal(bns_arch_add_simple(&c.m.arch, &bns_layer_relu), 0);
    assert_int_equal(bns_arch_add_pool(&c.m.arch, &bns_layer_avgpool, 3, 3), 0);
    assert_int_equal(bns_arch_add_dense(&c.m.arch, 3), 0);
    size_t n = c.m.arch.n_weights;
    c.m.n_params = c.m.method->n_params(&cfg, &c.m.arch);
    assert_int_equal(c.m.n_params, 2 * n);
    free(c.m.params);
    c.m.params = calloc(c.m.n_params, sizeof(float));
    bns_stream init = bns_stream_make(cfg.seed, 0, BNS_PURPOSE_INIT);
    c.m.method->init(&c.m, &init);
    assert_true(c.m.params[c.m.arch.ops[1].weight_offset] == 1.0f); /* batch norm's gamma starts at 1 */
    fill_normal(c.m.params, n, 80, 0.5f, 0.0f);
    fill_normal(c.m.params + n, n, 81, 0.4f, -3.0f);
    fill_normal(c.x, sizeof c.x / sizeof *c.x, 82, 1.0f, 0.0f);
    fill_labels(c.y, 3, 3, 5);
    c.trainer = c.m.method->trainer_create(&c.m, 3);
    c.obj = (bns_objective){1.0 / 3, 1.0, 20, 7, 0};
    c.scratch = malloc(sizeof(float) * c.m.n_params);
    float *grad = malloc(sizeof(float) * c.m.n_params);
    bns_step_stats st;
    c.m.method->loss_grad(c.trainer, &c.m, c.x, c.y, 3, &c.obj, grad, &st);
    fd_opts o = {0, 2e-3, 3e-3, 1e-4, 1e-6, 400};
    expect_grad("bbb conv net: d/d mu", c.m.params, n, grad, bbb_objective, &c, &o);
    o.h_abs = 1e-2;
    expect_grad("bbb conv net: d/d rho", c.m.params + n, n, grad + n, bbb_objective, &c, &o);
    /* the parameter blocks cover the conv and batch-norm layers in the model-file layout */
    bns_param_block blocks[BNS_MAX_PARAM_BLOCKS];
    int nb = bns_model_param_blocks(&c.m, blocks);
    assert_int_equal(nb, 2 * 2 * 3);
    assert_string_equal(blocks[0].path, "layers/0/weight_mu");
    assert_int_equal(blocks[0].dims[0], 2);
    assert_int_equal(blocks[0].dims[1], 9);
    assert_int_equal(blocks[2].rank, 1); /* gamma */
    free(grad);
    free(c.scratch);
    c.m.method->trainer_free(c.trainer);
    bns_model_free(&c.m);
}

/* the training paths that work on the FC view refuse conv nets by layer name */
static void test_refusals(void **state) {
    (void)state;
    static const struct {
        const char *method, *mode;
    } cases[] = {{"bbb", "vectorized"}, {"lrt", NULL}, {"dropout", NULL}};
    for (int i = 0; i < 3; i++) {
        bns_config cfg;
        bns_config_defaults(&cfg);
        snprintf(cfg.method, sizeof cfg.method, "%s", cases[i].method);
        snprintf(cfg.arch, sizeof cfg.arch, "lenet");
        if (strcmp(cases[i].method, "lrt") == 0) bns_prior_defaults(&cfg.prior, BNS_PRIOR_GAUSSIAN);
        cfg.sample_mode = BNS_SAMPLES_VECTORIZED;
        bns_model m;
        assert_int_not_equal(bns_model_create(&cfg, 784, &m), 0);
        if (!strstr(bns_last_error(), "conv2d")) fail_msg("%s: '%s' does not name the layer", cases[i].method, bns_last_error());
    }
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.method, sizeof cfg.method, "bbb");
    snprintf(cfg.arch, sizeof cfg.arch, "lenet");
    cfg.sample_mode = BNS_SAMPLES_SEQUENTIAL;
    bns_model m;
    assert_int_equal(bns_model_create(&cfg, 784, &m), 0);
    bns_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_grad),      cmocka_unit_test(test_pool_grad),
        cmocka_unit_test(test_batchnorm_grad), cmocka_unit_test(test_residual_grad),
        cmocka_unit_test(test_conv_direct),    cmocka_unit_test(test_batchnorm_stats),
        cmocka_unit_test(test_named_archs),    cmocka_unit_test(test_lenet_grad),
        cmocka_unit_test(test_bbb_conv_grad),  cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
