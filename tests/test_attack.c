/* test_attack.c - adversarial attacks (attack.h) and attack-set files (attack_set.h).
 *
 * Synthetic checks: the shared input gradient against central finite
 * differences (deterministic net; Bayesian net with one posterior sample and
 * with the K-sample expectation, which must be the mean of the K one-sample
 * gradients); FGSM on a linear model against its closed form; PGD and
 * targeted FGSM stay in the eps-ball and the pixel range. On a small model
 * trained inside the test (deterministic FC-50-10, 2,000 MNIST images, 3
 * epochs): every min-norm success is really misclassified by the source at
 * x_adv, the stored norms are |x_adv - x|, the mean norm shrinks as c grows,
 * and the search over c never loses an example's first-run norm. Attack sets
 * go through save + read/load bit for bit, and every failure (missing file,
 * not HDF5, HDF5 but not an attack set, unwritable destination) names the
 * path. Scratch files go to $BNS_TEST_TMP.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"

#include "bnnsweep/attack.h"
#include "bnnsweep/attack_set.h"
#include "bnnsweep/dataset.h"
#include "bnnsweep/error.h"
#include "bnnsweep/model.h"
#include "bnnsweep/model_io.h"
#include "bnnsweep/nn.h"
#include "bnnsweep/rng.h"
#include "bnnsweep/train.h"

/* ---- scratch directory ---- */






/* ---- small models and data ---- */

static void small_model(const char *method, const char *arch, int d, uint64_t seed, bns_model *m) {
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.method, sizeof cfg.method, "%s", method);
    snprintf(cfg.arch, sizeof cfg.arch, "%s", arch);
    cfg.seed = seed;
    cfg.rho_init = -2.0; /* Bayesian: samples clearly differ */
    cfg.init_std = 0.5;
    if (bns_model_create(&cfg, d, m)) fail_msg("bns_model_create %s %s: %s", method, arch, bns_last_error());
}

/* n rows of d uniform pixels in [lo, hi] and labels in 0..classes-1 */
static void synthetic_rows(size_t n, size_t d, int classes, float lo, float hi, uint64_t seed, bns_dataset *ds) {
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->d = d;
    ds->n_classes = classes;
    ds->x = bns_xmalloc(sizeof(float) * n * d);
    ds->y = bns_xmalloc(n);
    bns_stream s = bns_stream_make(seed, 0, BNS_PURPOSE_DATA);
    bns_stream_uniform(&s, 0, 0, n * d, ds->x);
    for (size_t i = 0; i < n * d; i++) ds->x[i] = lo + (hi - lo) * ds->x[i];
    for (size_t i = 0; i < n; i++) ds->y[i] = (uint8_t)bns_stream_below(&s, 1, i, (uint64_t)classes);
    snprintf(ds->name, sizeof ds->name, "synthetic");
}

static int argmax_row(const float *v, int n) {
    int best = 0;
    for (int c = 1; c < n; c++)
        if (v[c] > v[best]) best = c;
    return best;
}

/* ---- input gradient vs central differences ---- */

static void check_fd(bns_attack_source *src, const bns_dataset *ds) {
    int b = (int)ds->n, d = (int)ds->d;
    float *g = bns_xmalloc(sizeof(float) * ds->n * ds->d);
    float *x = bns_xmalloc(sizeof(float) * ds->n * ds->d);
    memcpy(x, ds->x, sizeof(float) * ds->n * ds->d);
    bns_attack_input_grad(src, x, ds->y, b, g, NULL);
    const float h = 1e-3f;
    for (int i = 0; i < b * d; i++) {
        float keep = x[i];
        x[i] = keep + h;
        double up = bns_attack_input_grad(src, x, ds->y, b, NULL, NULL);
        x[i] = keep - h;
        double down = bns_attack_input_grad(src, x, ds->y, b, NULL, NULL);
        x[i] = keep;
        double fd = (up - down) / (2.0 * h);
        if (fabs(fd - g[i]) > 2e-3 + 2e-2 * fabs(fd))
            fail_msg("input %d: analytic %.6g vs finite difference %.6g", i, g[i], fd);
    }
    free(g);
    free(x);
}

static void test_input_grad_deterministic(void **state) {
    (void)state;
    bns_model m;
    small_model("deterministic", "FC-7-5-4", 6, 3, &m);
    bns_dataset ds;
    synthetic_rows(5, 6, 4, 0.0f, 2.0f, 11, &ds);
    bns_attack_settings s;
    bns_attack_defaults(&s, BNS_ATTACK_FGSM);
    bns_attack_source src;
    assert_int_equal(bns_attack_source_init(&src, &m, &s, 5), 0);
    assert_int_equal(src.n_w, 1);
    check_fd(&src, &ds);
    bns_attack_source_free(&src);
    bns_dataset_free(&ds);
    bns_model_free(&m);
}

static void test_input_grad_bayesian(void **state) {
    (void)state;
    enum { K = 4, B = 4, D = 6, C = 3 };
    bns_model m;
    small_model("bbb", "FC-8-3", D, 5, &m);
    bns_dataset ds;
    synthetic_rows(B, D, C, 0.0f, 2.0f, 12, &ds);
    bns_attack_settings s;
    bns_attack_defaults(&s, BNS_ATTACK_FGSM);
    s.seed = 77;
    s.task = 1;
    s.source = BNS_SOURCE_EXPECTATION;
    s.source_samples = K;
    bns_attack_source ex;
    assert_int_equal(bns_attack_source_init(&ex, &m, &s, B), 0);
    assert_int_equal(ex.n_w, K);
    check_fd(&ex, &ds);

    /* the expectation is the mean of the K one-sample sources k = 0..K-1 */
    float g_ex[B * D], p_ex[B * C], g_k[B * D], p_k[B * C], g_sum[B * D] = {0}, p_sum[B * C] = {0};
    double loss_ex = bns_attack_input_grad(&ex, ds.x, ds.y, B, g_ex, p_ex), loss_sum = 0;
    int differ = 0;
    for (int k = 0; k < K; k++) {
        s.source = BNS_SOURCE_SAMPLE;
        s.source_index = (uint64_t)k;
        bns_attack_source one;
        assert_int_equal(bns_attack_source_init(&one, &m, &s, B), 0);
        if (k == 1) check_fd(&one, &ds);
        loss_sum += bns_attack_input_grad(&one, ds.x, ds.y, B, g_k, p_k);
        for (int i = 0; i < B * D; i++) g_sum[i] += g_k[i];
        for (int i = 0; i < B * C; i++) p_sum[i] += p_k[i];
        if (k > 0 && memcmp(one.w, ex.w, sizeof(float) * m.arch.n_weights) != 0) differ = 1;
        bns_attack_source_free(&one);
    }
    if (!differ) fail_msg("posterior samples 0 and k > 0 are identical: the source ignores the stream index");
    assert_true(fabs(loss_ex - loss_sum / K) < 1e-5 * (1 + fabs(loss_ex)));
    for (int i = 0; i < B * D; i++) assert_true(fabsf(g_ex[i] - g_sum[i] / K) < 1e-5f);
    for (int i = 0; i < B * C; i++) assert_true(fabsf(p_ex[i] - p_sum[i] / K) < 1e-6f);
    /* and differs from the posterior mean */
    s.source = BNS_SOURCE_WEIGHTS;
    bns_attack_source mean;
    assert_int_equal(bns_attack_source_init(&mean, &m, &s, B), 0);
    assert_null(mean.w);
    double loss_mean = bns_attack_input_grad(&mean, ds.x, ds.y, B, g_k, NULL);
    assert_true(fabs(loss_mean - loss_ex) > 1e-6);
    bns_attack_source_free(&mean);
    bns_attack_source_free(&ex);
    bns_dataset_free(&ds);
    bns_model_free(&m);
}

/* ---- FGSM on a linear model ---- */

/* For logits z = x W + b (W [d][C]) and CE = log sum_c exp(z_c) - z_y:
 *   dCE/dx_j = sum_c W[j][c] p_c - W[j][y],  p = softmax(z),
 * so FGSM is x'_j = clip(x_j + eps*xmax * sign(sum_c W[j][c] p_c - W[j][y])). */
static void test_fgsm_linear_closed_form(void **state) {
    (void)state;
    enum { N = 6, D = 10, C = 4 };
    bns_model m;
    small_model("deterministic", "FC-4", D, 9, &m);
    const float *W = m.params + m.arch.weight_offset[0], *bias = m.params + m.arch.bias_offset[0];
    /* non-zero biases, so they matter */
    for (int c = 0; c < C; c++) m.params[m.arch.bias_offset[0] + c] = 0.1f * (float)(c - 1);
    const float xmax = 2.0f; /* default pixel_scale 1/127.5 */
    assert_true(fabs(255.0 * m.cfg.pixel_scale - xmax) < 1e-6);
    for (int clip_case = 0; clip_case < 2; clip_case++) {
        bns_dataset ds;
        /* case 0: far from the range ends (no clipping); case 1: all over [0, 2] */
        synthetic_rows(N, D, C, clip_case ? 0.0f : 0.6f, clip_case ? 2.0f : 1.4f, 21 + clip_case, &ds);
        bns_attack_settings s;
        bns_attack_defaults(&s, BNS_ATTACK_FGSM);
        s.eps = 0.15;
        bns_attack_set set;
        assert_int_equal(bns_attack_run(&m, &s, &ds, NULL, &set, NULL, NULL), 0);
        int clipped = 0;
        for (int i = 0; i < N; i++) {
            double z[C], p[C], zmax = -INFINITY, total = 0;
            for (int c = 0; c < C; c++) {
                z[c] = bias[c];
                for (int j = 0; j < D; j++) z[c] += (double)ds.x[i * D + j] * W[j * C + c];
                zmax = fmax(zmax, z[c]);
            }
            for (int c = 0; c < C; c++) total += (p[c] = exp(z[c] - zmax));
            for (int c = 0; c < C; c++) p[c] /= total;
            for (int j = 0; j < D; j++) {
                double g = -W[j * C + ds.y[i]];
                for (int c = 0; c < C; c++) g += W[j * C + c] * p[c];
                if (fabs(g) < 1e-5) continue; /* sign not decidable in float */
                double want = ds.x[i * D + j] + s.eps * xmax * (g > 0 ? 1 : -1);
                if (want < 0 || want > xmax) clipped = 1;
                want = fmin(fmax(want, 0.0), xmax);
                float got = set.x_adv[i * D + j];
                if (fabs(got - want) > 1e-6)
                    fail_msg("row %d input %d: FGSM gave %.7f, closed form %.7f", i, j, got, want);
            }
            /* success = the linear model's prediction at x' is wrong */
            float z_adv[C];
            for (int c = 0; c < C; c++) {
                z_adv[c] = bias[c];
                for (int j = 0; j < D; j++) z_adv[c] += set.x_adv[i * D + j] * W[j * C + c];
            }
            assert_int_equal(set.success[i], argmax_row(z_adv, C) != ds.y[i]);
            assert_int_equal(set.label[i], ds.y[i]);
            assert_int_equal(set.clean_index[i], i);
        }
        if (clip_case) assert_true(clipped); /* the case exercises clipping */
        bns_attack_set_free(&set);
        bns_dataset_free(&ds);
    }
    bns_model_free(&m);
}

/* ---- PGD and targeted FGSM: eps-ball and pixel range ---- */

static void check_ball(const bns_attack_set *set, const bns_dataset *ds, double radius, float xmax) {
    for (size_t i = 0; i < ds->n * ds->d; i++) {
        float v = set->x_adv[i];
        if (v < 0.0f || v > xmax) fail_msg("pixel %zu = %g outside [0, %g]", i, v, xmax);
        if (radius > 0 && fabs((double)v - ds->x[i]) > radius + 1e-6)
            fail_msg("pixel %zu moved %g > eps %g", i, fabs((double)v - ds->x[i]), radius);
    }
}

static void test_pgd_targeted_in_ball(void **state) {
    (void)state;
    enum { N = 40, D = 12, C = 5 };
    bns_model m;
    small_model("deterministic", "FC-16-5", D, 13, &m);
    bns_dataset ds;
    synthetic_rows(N, D, C, 0.0f, 2.0f, 31, &ds);
    for (int rs = 0; rs < 2; rs++) {
        bns_attack_settings s;
        bns_attack_defaults(&s, BNS_ATTACK_PGD);
        s.eps = 0.1;
        s.steps = 15;
        s.step_size = 0.03;
        s.random_start = rs;
        s.seed = 4;
        bns_attack_set set;
        assert_int_equal(bns_attack_run(&m, &s, &ds, NULL, &set, NULL, NULL), 0);
        check_ball(&set, &ds, 0.1 * 2.0, 2.0f);
        /* some pixels really reach the ball's surface */
        int at_surface = 0;
        for (size_t i = 0; i < ds.n * ds.d; i++)
            if (fabs(fabs((double)set.x_adv[i] - ds.x[i]) - 0.2) < 1e-5) at_surface++;
        assert_true(at_surface > (int)(ds.n * ds.d / 4));
        bns_attack_set_free(&set);
    }
    /* targeted: with a ball, and success = the prediction is the target */
    bns_attack_settings s;
    bns_attack_defaults(&s, BNS_ATTACK_TARGETED);
    s.eps = 0.2;
    s.steps = 30;
    bns_attack_set set;
    assert_int_equal(bns_attack_run(&m, &s, &ds, NULL, &set, NULL, NULL), 0);
    check_ball(&set, &ds, 0.2 * 2.0, 2.0f);
    bns_attack_source src;
    assert_int_equal(bns_attack_source_init(&src, &m, &s, N), 0);
    float probs[N * C];
    bns_attack_input_grad(&src, set.x_adv, set.label, N, NULL, probs);
    int hits = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(set.target[i], (ds.y[i] + 1) % C);
        assert_int_equal(set.success[i], argmax_row(probs + i * C, C) == set.target[i]);
        hits += set.success[i];
    }
    assert_true(hits > 0);
    bns_attack_source_free(&src);
    bns_attack_set_free(&set);
    bns_dataset_free(&ds);
    bns_model_free(&m);
}

/* ---- min-norm on a small MNIST model ---- */

static bns_model mnist_model;
static bns_dataset mnist_test;
static int have_mnist;
static char mnist_error[512];

static int setup(void **state) {
    (void)state;
    const char *base = getenv("BNS_TEST_TMP");
    if (base && base[0]) snprintf(tmp_dir, sizeof tmp_dir, "%s/test_attack", base);
    else snprintf(tmp_dir, sizeof tmp_dir, "/tmp/bnnsweep-test_attack.%ld", (long)getpid());
    mkdir_p(tmp_dir);
    bns_splits splits;
    if (bns_mnist_load(NULL, BNS_PIXEL_SCALE_0_2, 2000, 300, &splits)) {
        snprintf(mnist_error, sizeof mnist_error, "%s", bns_last_error());
        return 0;
    }
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.method, sizeof cfg.method, "deterministic");
    snprintf(cfg.arch, sizeof cfg.arch, "FC-50-10");
    cfg.batch_size = 32;
    cfg.lr = 0.01;
    cfg.max_epochs = 3;
    cfg.patience = 0;
    cfg.seed = 2;
    bns_train_history h;
    if (bns_model_create(&cfg, 784, &mnist_model) ||
        bns_train(&mnist_model, &splits.train, &splits.val, &h, NULL)) {
        snprintf(mnist_error, sizeof mnist_error, "training: %s", bns_last_error());
        bns_splits_free(&splits);
        return 0;
    }
    bns_train_history_free(&h);
    bns_dataset_slice(&splits.test, 0, 200, &mnist_test);
    bns_splits_free(&splits);
    have_mnist = 1;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (have_mnist) {
        bns_model_free(&mnist_model);
        bns_dataset_free(&mnist_test);
    }
    return 0;
}

static void require_mnist(void) {
    if (!have_mnist)
        fail_msg("MNIST model not available (%s): run `bash src/scripts/fetch-data.sh` to download MNIST",
                 mnist_error);
}

static void minnorm(double c, int search_steps, bns_attack_set *set) {
    bns_attack_settings s;
    bns_attack_defaults(&s, BNS_ATTACK_MINNORM);
    s.c = c;
    s.search_steps = search_steps;
    s.batch = 64; /* several batches, the last one partial */
    if (bns_attack_run(&mnist_model, &s, &mnist_test, NULL, set, NULL, NULL))
        fail_msg("minnorm c=%g: %s", c, bns_last_error());
}

static void test_minnorm_successes_are_real(void **state) {
    (void)state;
    require_mnist();
    bns_attack_set set;
    minnorm(1e-9, 1, &set);
    size_t n = set.n, d = set.d;
    assert_int_equal(n, mnist_test.n);
    /* the source's own verdict at x_adv, recomputed */
    float *logits = bns_xmalloc(sizeof(float) * n * 10);
    bns_net_workspace ws;
    bns_net_workspace_init(&ws, &mnist_model.arch, (int)n);
    memcpy(logits, bns_net_forward(&mnist_model.arch, mnist_model.params, set.x_adv, (int)n, &ws),
           sizeof(float) * n * 10);
    double sum_dist = 0;
    for (size_t i = 0; i < n; i++) {
        int pred = argmax_row(logits + i * 10, 10);
        if (set.success[i] && pred == set.label[i]) fail_msg("row %zu marked fooled but predicted %d = label", i, pred);
        if (!set.success[i] && pred != set.label[i]) fail_msg("row %zu marked not fooled but predicted %d", i, pred);
        double sq = 0;
        for (size_t j = 0; j < d; j++) {
            double r = (double)set.x_adv[i * d + j] - mnist_test.x[i * d + j];
            sq += r * r;
            if (set.x_adv[i * d + j] < 0.0f || set.x_adv[i * d + j] > 2.0f) fail_msg("row %zu leaves [0, 2]", i);
        }
        if (fabs(sqrt(sq) - set.l2[i]) > 1e-5 * (1 + sqrt(sq)))
            fail_msg("row %zu: stored norm %g, |x_adv - x| = %g", i, set.l2[i], sqrt(sq));
        if (!set.success[i] && sq != 0) fail_msg("row %zu failed but x_adv != x", i);
        sum_dist += sqrt(sq / d);
    }
    assert_true(fabs(sum_dist / n - set.mean_distortion) < 1e-9);
    if (set.success_rate < 0.95) fail_msg("min-norm fooled only %.3f of the images", set.success_rate);
    if (set.mean_distortion > 0.12) fail_msg("mean distortion %.4f is not small", set.mean_distortion);
    bns_net_workspace_free(&ws);
    free(logits);
    bns_attack_set_free(&set);
}

static void test_minnorm_norm_shrinks_with_c(void **state) {
    (void)state;
    require_mnist();
    const double cs[] = {1e-6, 1e-3, 1e-1};
    double prev = INFINITY;
    for (int k = 0; k < 3; k++) {
        bns_attack_set set;
        minnorm(cs[k], 1, &set);
        if (!(set.mean_l2 < prev)) fail_msg("c = %g: mean |r| %g did not shrink (previous %g)", cs[k], set.mean_l2, prev);
        prev = set.mean_l2;
        bns_attack_set_free(&set);
    }
}

static void test_minnorm_search_keeps_smallest(void **state) {
    (void)state;
    require_mnist();
    bns_attack_set one, search;
    minnorm(1e-4, 1, &one);
    minnorm(1e-4, 4, &search); /* its first round is the single run */
    assert_true(search.n_success >= one.n_success);
    int better = 0;
    for (size_t i = 0; i < one.n; i++) {
        if (!one.success[i]) continue;
        assert_true(search.success[i]);
        if (search.l2[i] > one.l2[i] + 1e-6f) fail_msg("row %zu: search norm %g > first-run norm %g", i, search.l2[i], one.l2[i]);
        better += search.l2[i] < one.l2[i] - 1e-6f;
    }
    assert_true(better > 0);
    bns_attack_set_free(&one);
    bns_attack_set_free(&search);
}

/* margin > 0: every success sits past the boundary by the margin (source
 * probabilities recomputed here) unless it stopped at the budget, every
 * distortion within the budget (one step of lr over it at most), and the
 * margin-0 success set is not lost to it when the budget is loose */
static void test_minnorm_margin_and_budget(void **state) {
    (void)state;
    require_mnist();
    const double margin = 0.5, budget = 0.08;
    bns_attack_settings s;
    bns_attack_defaults(&s, BNS_ATTACK_MINNORM);
    s.margin = margin;
    s.budget = budget;
    s.batch = 64;
    bns_attack_set set, plain;
    if (bns_attack_run(&mnist_model, &s, &mnist_test, NULL, &set, NULL, NULL)) fail_msg("%s", bns_last_error());
    minnorm(1e-9, 1, &plain);
    size_t n = set.n, d = set.d;
    bns_net_workspace ws;
    bns_net_workspace_init(&ws, &mnist_model.arch, (int)n);
    const float *logits = bns_net_forward(&mnist_model.arch, mnist_model.params, set.x_adv, (int)n, &ws);
    int past = 0, plain_in_budget = 0, kept = 0;
    for (size_t i = 0; i < n; i++) {
        double dist = set.l2[i] / sqrt((double)d);
        if (dist > budget + s.lr / sqrt((double)d) + 1e-6) fail_msg("row %zu: distortion %g over the budget", i, dist);
        if (plain.success[i] && plain.l2[i] / sqrt((double)d) < budget * 0.9) {
            plain_in_budget++;
            kept += set.success[i];
        }
        if (!set.success[i]) continue;
        const float *z = logits + i * 10;
        double mx = z[0], sum = 0, p[10];
        for (int k = 1; k < 10; k++) mx = fmax(mx, z[k]);
        for (int k = 0; k < 10; k++) sum += p[k] = exp(z[k] - mx);
        double gap = -1;
        for (int k = 0; k < 10; k++)
            if (k != set.label[i]) gap = fmax(gap, (p[k] - p[set.label[i]]) / sum);
        if (gap <= 0) fail_msg("row %zu marked fooled but not misclassified", i);
        if (gap >= margin - 1e-4) past++;
        else if (dist < budget - 1e-6) fail_msg("row %zu stopped with gap %g below the margin inside the budget", i, gap);
        if (set.l2[i] < plain.l2[i] - 1e-5f) fail_msg("row %zu: margin norm %g below the boundary's %g", i, set.l2[i], plain.l2[i]);
    }
    assert_true(past > 0);
    assert_int_equal(kept, plain_in_budget);
    bns_net_workspace_free(&ws);
    bns_attack_set_free(&set);
    bns_attack_set_free(&plain);
}

/* ---- HDF5 attack sets ---- */

static void test_attack_set_round_trip(void **state) {
    (void)state;
    char model_path[4096], path[4096];
    bns_model m;
    small_model("deterministic", "FC-6-3", 8, 17, &m);
    tmp_path(model_path, sizeof model_path, "source.h5");
    assert_int_equal(bns_model_save(model_path, &m, NULL), 0);
    bns_dataset ds;
    synthetic_rows(9, 8, 3, 0.0f, 2.0f, 41, &ds);
    bns_attack_settings s;
    bns_attack_defaults(&s, BNS_ATTACK_PGD);
    s.random_start = 1;
    s.seed = UINT64_C(0xfedcba9876543210);
    s.task = 12;
    int64_t index[9];
    for (int i = 0; i < 9; i++) index[i] = 1000 + 7 * i;
    bns_attack_set a, b;
    assert_int_equal(bns_attack_run(&m, &s, &ds, index, &a, NULL, NULL), 0);
    assert_int_equal(bns_attack_set_identify(&a, model_path), 0);
    assert_int_equal(strlen(a.model_hash), 16);
    tmp_path(path, sizeof path, "set.h5");
    if (bns_attack_set_save(path, &a)) fail_msg("%s", bns_last_error());
    expect_no_temporaries();
    if (bns_attack_set_read(path, &b)) fail_msg("%s", bns_last_error());
    assert_int_equal(b.n, a.n);
    assert_int_equal(b.d, a.d);
    assert_int_equal(b.n_classes, a.n_classes);
    assert_memory_equal(b.x_adv, a.x_adv, sizeof(float) * a.n * a.d);
    assert_memory_equal(b.label, a.label, a.n);
    assert_memory_equal(b.target, a.target, a.n);
    assert_memory_equal(b.success, a.success, a.n);
    assert_memory_equal(b.l2, a.l2, sizeof(float) * a.n);
    assert_memory_equal(b.clean_index, a.clean_index, sizeof(int64_t) * a.n);
    assert_memory_equal(&b.settings, &a.settings, sizeof a.settings);
    assert_string_equal(b.model_path, model_path);
    assert_string_equal(b.model_hash, a.model_hash);
    assert_string_equal(b.model_git_commit, a.model_git_commit);
    assert_string_equal(b.model_arch, "FC-6-3");
    assert_string_equal(b.model_method, "deterministic");
    assert_string_equal(b.model_config, a.model_config);
    assert_non_null(strstr(b.model_config, "arch=FC-6-3\n"));
    assert_true(b.pixel_scale == a.pixel_scale);
    assert_int_equal(b.n_success, a.n_success);
    assert_true(b.success_rate == a.success_rate);
    assert_true(b.mean_distortion == a.mean_distortion);
    assert_true(b.mean_distortion_success == a.mean_distortion_success);
    assert_true(b.mean_l2 == a.mean_l2);
    assert_true(b.seconds == a.seconds);
    /* as a dataset */
    bns_dataset loaded;
    if (bns_attack_set_load(path, &loaded)) fail_msg("%s", bns_last_error());
    assert_int_equal(loaded.n, 9);
    assert_int_equal(loaded.d, 8);
    assert_int_equal(loaded.n_classes, 3);
    assert_memory_equal(loaded.x, a.x_adv, sizeof(float) * 9 * 8);
    assert_memory_equal(loaded.y, ds.y, 9);
    assert_string_equal(loaded.name, "set.h5");
    /* a different model file hashes differently */
    m.params[0] += 1.0f;
    char other[4096];
    tmp_path(other, sizeof other, "source2.h5");
    assert_int_equal(bns_model_save(other, &m, NULL), 0);
    assert_int_equal(bns_attack_set_identify(&b, other), 0);
    assert_string_not_equal(b.model_hash, a.model_hash);
    bns_dataset_free(&loaded);
    bns_attack_set_free(&a);
    bns_attack_set_free(&b);
    bns_dataset_free(&ds);
    bns_model_free(&m);
}

static void test_attack_set_errors(void **state) {
    (void)state;
    char path[4096];
    bns_attack_set set;
    bns_dataset ds;
    /* missing */
    tmp_path(path, sizeof path, "missing.h5");
    assert_int_equal(bns_attack_set_read(path, &set), -1);
    expect_error_names(path, "cannot read");
    assert_int_equal(bns_attack_set_load(path, &ds), -1);
    expect_error_names(path, NULL);
    assert_int_equal(bns_attack_set_identify(&set, path), -1);
    expect_error_names(path, NULL);
    /* not HDF5 */
    tmp_path(path, sizeof path, "text.h5");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not hdf5\n", f);
    fclose(f);
    assert_int_equal(bns_attack_set_load(path, &ds), -1);
    expect_error_names(path, "not an HDF5 file");
    /* HDF5, but a model */
    bns_model m;
    small_model("deterministic", "FC-3", 4, 1, &m);
    tmp_path(path, sizeof path, "model.h5");
    assert_int_equal(bns_model_save(path, &m, NULL), 0);
    assert_int_equal(bns_attack_set_read(path, &set), -1);
    expect_error_names(path, "not a bnnsweep attack set");
    assert_int_equal(bns_attack_set_load(path, &ds), -1);
    expect_error_names(path, "not a bnnsweep attack set");
    /* unwritable destination */
    bns_dataset rows;
    synthetic_rows(2, 4, 3, 0.0f, 2.0f, 5, &rows);
    bns_attack_settings s;
    bns_attack_defaults(&s, BNS_ATTACK_FGSM);
    bns_attack_set a;
    assert_int_equal(bns_attack_run(&m, &s, &rows, NULL, &a, NULL, NULL), 0);
    tmp_path(path, sizeof path, "no-such-dir/set.h5");
    assert_int_equal(bns_attack_set_save(path, &a), -1);
    expect_error_names(path, NULL);
    /* bad settings are refused, naming the setting */
    s.eps = -1;
    assert_int_equal(bns_attack_run(&m, &s, &rows, NULL, &set, NULL, NULL), -1);
    assert_non_null(strstr(bns_last_error(), "eps"));
    bns_attack_set_free(&a);
    bns_dataset_free(&rows);
    bns_model_free(&m);
    expect_no_temporaries();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_grad_deterministic),
        cmocka_unit_test(test_input_grad_bayesian),
        cmocka_unit_test(test_fgsm_linear_closed_form),
        cmocka_unit_test(test_pgd_targeted_in_ball),
        cmocka_unit_test(test_minnorm_successes_are_real),
        cmocka_unit_test(test_minnorm_norm_shrinks_with_c),
        cmocka_unit_test(test_minnorm_search_keeps_smallest),
        cmocka_unit_test(test_minnorm_margin_and_budget),
        cmocka_unit_test(test_attack_set_round_trip),
        cmocka_unit_test(test_attack_set_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
