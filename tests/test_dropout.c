/* test_dropout.c - the dropout and alpha methods (METHODS.md s.7, s.8;
 * dropout.h, src/methods/dropout.c, src/methods/alpha.c).
 *
 * - masks: the documented indexing (uniform r * units + offset_l + i of
 *   substream s; dropped iff u < p_l), the drop rate, independence across
 *   rows and layers, MC sample k = row 0 of substream k folded into W,
 *   reproducible, and mc_dropout = 0 samples = the point weights;
 * - objectives: against a reference written here from weight vectors (each
 *   row's masks folded into W, the plain network, double log-mean-exp), the
 *   alpha = 0 and K = 1 limits, and central differences of the gradient with
 *   the masks held fixed (same step);
 * - MNIST: short trainings of both reach > 90% validation accuracy;
 * - a sweep mixing bbb, dropout (mc_dropout 0 and 1) and alpha models with
 *   an fgsm attack and gaussian OOD, through the runner, to a cube whose
 *   model_capabilities say stochastic exactly for the MC-dropout models. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hdf5.h>
#include <hdf5_hl.h>

#include "bnnsweep/config.h"
#include "bnnsweep/dataset.h"
#include "bnnsweep/dropout.h"
#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/nn.h"
#include "bnnsweep/plan.h"
#include "bnnsweep/rng.h"
#include "bnnsweep/runner.h"
#include "bnnsweep/spec.h"
#include "bnnsweep/train.h"
#include "test_fd.h"
#include "test_util.h"
#include "test_sweep_util.h"

enum { INPUTS = 6, BATCH = 5, CLASSES = 3, MAX_K = 3 };

/* a small dropout-family model with random weights */
static void small_model(const char *method, double alpha, int k, int mc, bns_model *m) {
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.method, sizeof cfg.method, "%s", method);
    snprintf(cfg.arch, sizeof cfg.arch, "FC-5-4-3");
    cfg.l2_lambda = 0.01;
    cfg.seed = 23;
    char text[32];
    if (bns_config_set(&cfg, "dropout_rate", "0.4") || bns_config_set(&cfg, "dropout_input_rate", "0.3"))
        fail_msg("%s", bns_last_error());
    snprintf(text, sizeof text, "%d", mc);
    assert_int_equal(bns_config_set(&cfg, "mc_dropout", text), 0);
    if (!strcmp(method, "alpha")) {
        snprintf(text, sizeof text, "%.17g", alpha);
        assert_int_equal(bns_config_set(&cfg, "alpha", text), 0);
        snprintf(text, sizeof text, "%d", k);
        assert_int_equal(bns_config_set(&cfg, "alpha_samples", text), 0);
    }
    if (bns_model_create(&cfg, INPUTS, m)) fail_msg("model_create: %s", bns_last_error());
    fill_normal(m->params, m->arch.n_weights, 40, 0.6f, 0.0f);
}

/* ---- masks ---- */

static void test_mask_indexing_and_rate(void **state) {
    (void)state;
    bns_model m;
    small_model("dropout", 0, 1, 1, &m);
    const bns_arch *a = &m.arch;
    size_t units = bns_dropout_units(a);
    assert_int_equal(units, 6 + 5 + 4);
    enum { ROWS = 4000 };
    float *scale = malloc(sizeof(float) * ROWS * units), u;
    bns_stream s = bns_stream_make(3, 4, BNS_PURPOSE_WEIGHT);
    bns_dropout_masks(&m.cfg, a, &s, 11, ROWS, scale);
    /* the documented indexing, at a few rows */
    for (size_t r = 0; r < ROWS; r += 997)
        for (int l = 0, off = 0; l < a->n_layers; off += a->width[l], l++) {
            double p = l ? 0.4 : 0.3;
            for (int i = 0; i < a->width[l]; i++) {
                bns_stream_uniform(&s, 11, r * units + (size_t)off + (size_t)i, 1, &u);
                float want = u < p ? 0.0f : (float)(1.0 / (1.0 - p));
                assert_true(scale[r * units + (size_t)off + (size_t)i] == want);
            }
        }
    /* drop rate per layer within 4.5 binomial standard deviations */
    for (int l = 0, off = 0; l < a->n_layers; off += a->width[l], l++) {
        double p = l ? 0.4 : 0.3, n = (double)ROWS * a->width[l], dropped = 0;
        for (size_t r = 0; r < ROWS; r++)
            for (int i = 0; i < a->width[l]; i++) dropped += scale[r * units + (size_t)off + (size_t)i] == 0.0f;
        if (fabs(dropped / n - p) > 4.5 * sqrt(p * (1 - p) / n))
            fail_msg("layer %d: drop rate %.4f, want %.2f", l, dropped / n, p);
    }
    /* rows (examples, samples) and layers see different masks */
    int same_rows = 1, same_layers = 1;
    for (size_t i = 0; i < 5; i++) {
        same_rows &= scale[i] == scale[units + i];
        same_layers &= (scale[6 + i] == 0.0f) == (scale[11 + (i % 4)] == 0.0f);
    }
    assert_false(same_rows);
    assert_false(same_layers);
    /* another substream (step) gives other masks */
    float *other = malloc(sizeof(float) * ROWS * units);
    bns_dropout_masks(&m.cfg, a, &s, 12, ROWS, other);
    assert_true(memcmp(scale, other, sizeof(float) * ROWS * units) != 0);
    free(other);
    free(scale);
    bns_model_free(&m);
}

/* W with row i of layer l scaled by scale[offset_l + i], biases as they are */
static void fold_masks(const bns_model *m, const float *scale, float *w) {
    const bns_arch *a = &m->arch;
    memcpy(w, m->params, sizeof(float) * a->n_weights);
    for (int l = 0, off = 0; l < a->n_layers; off += a->width[l], l++)
        for (int i = 0; i < a->width[l]; i++)
            for (int j = 0; j < a->width[l + 1]; j++) w[a->weight_offset[l] + (size_t)i * a->width[l + 1] + j] *= scale[off + i];
}

static void test_mc_samples(void **state) {
    (void)state;
    bns_model m;
    small_model("dropout", 0, 1, 1, &m);
    size_t n = m.arch.n_weights, units = bns_dropout_units(&m.arch);
    float *w1 = malloc(sizeof(float) * n), *w2 = malloc(sizeof(float) * n), *want = malloc(sizeof(float) * n);
    float scale[15];
    bns_stream s = bns_stream_make(5, 0, BNS_PURPOSE_PREDICT);
    assert_true(bns_model_has(&m, BNS_CAP_STOCHASTIC));
    /* sample k is row 0 of substream k, folded into W */
    for (uint64_t k = 0; k < 3; k++) {
        bns_model_sample_weights(&m, &s, k, w1);
        bns_dropout_masks(&m.cfg, &m.arch, &s, k, 1, scale);
        fold_masks(&m, scale, want);
        assert_memory_equal(w1, want, sizeof(float) * n);
        for (int l = 0; l < m.arch.n_layers; l++) /* biases untouched */
            assert_memory_equal(w1 + m.arch.bias_offset[l], m.params + m.arch.bias_offset[l],
                                sizeof(float) * m.arch.width[l + 1]);
    }
    assert_int_equal(units, 15);
    /* same k: the same weights; another k: others */
    bns_model_sample_weights(&m, &s, 7, w1);
    bns_model_sample_weights(&m, &s, 7, w2);
    assert_memory_equal(w1, w2, sizeof(float) * n);
    bns_model_sample_weights(&m, &s, 8, w2);
    assert_true(memcmp(w1, w2, sizeof(float) * n) != 0);
    /* and they differ from the point weights */
    assert_true(memcmp(w1, bns_model_mean(&m), sizeof(float) * n) != 0);
    bns_model_free(&m);

    /* mc_dropout = 0: a point estimate, for both methods */
    const char *methods[] = {"dropout", "alpha"};
    for (int i = 0; i < 2; i++) {
        small_model(methods[i], 0.5, 2, 0, &m);
        assert_int_equal(bns_model_caps(&m), 0);
        bns_model_sample_weights(&m, &s, 7, w1);
        assert_memory_equal(w1, m.params, sizeof(float) * n);
        assert_memory_equal(bns_model_mean(&m), m.params, sizeof(float) * n);
        bns_model_free(&m);
    }
    free(w1);
    free(w2);
    free(want);
}

static void test_settings_checked(void **state) {
    (void)state;
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.method, sizeof cfg.method, "alpha");
    bns_model m;
    const char *bad[][2] = {{"dropout_rate", "1"}, {"dropout_input_rate", "-0.1"}, {"mc_dropout", "2"},
                            {"alpha", "1.5"}, {"alpha_samples", "0"}};
    for (int i = 0; i < 5; i++) {
        bns_config c = cfg;
        assert_int_equal(bns_config_set(&c, bad[i][0], bad[i][1]), 0);
        assert_int_not_equal(bns_model_create(&c, 784, &m), 0);
        assert_non_null(strstr(bns_last_error(), bad[i][0]));
    }
    /* alpha's own rows are not the dropout method's */
    snprintf(cfg.method, sizeof cfg.method, "dropout");
    assert_int_equal(bns_config_set(&cfg, "alpha", "1"), 0);
    assert_int_not_equal(bns_model_create(&cfg, 784, &m), 0);
    assert_non_null(strstr(bns_last_error(), "'alpha' belongs to method alpha"));
}

/* ---- objectives ---- */

typedef struct {
    bns_model m;
    void *trainer;
    float x[BATCH * INPUTS];
    uint8_t y[BATCH];
    bns_objective obj;
    float *grad;
    bns_step_stats st;
} obj_ctx;

static void ctx_setup(obj_ctx *c, const char *method, double alpha, int k) {
    small_model(method, alpha, k, 1, &c->m);
    fill_normal(c->x, BATCH * INPUTS, 41, 1.0f, 0.3f);
    fill_labels(c->y, BATCH, CLASSES, 42);
    c->trainer = c->m.method->trainer_create(&c->m, BATCH);
    c->obj = (bns_objective){.nll_scale = 1.0 / BATCH, .reg_scale = 1.0, .n_train = 100, .step = 9};
    c->grad = malloc(sizeof(float) * c->m.n_params);
}

static void ctx_free(obj_ctx *c) {
    c->m.method->trainer_free(c->trainer);
    free(c->grad);
    bns_model_free(&c->m);
}

/* J = nll_scale * (nll_sum + batch * reg): the scalar loss_grad differentiates */
static double ctx_objective(void *p) {
    obj_ctx *c = p;
    c->m.method->loss_grad(c->trainer, &c->m, c->x, c->y, BATCH, &c->obj, c->grad, &c->st);
    return c->obj.nll_scale * (c->st.nll_sum + BATCH * c->st.reg_per_example);
}

/* The alpha terms summed over the batch, from weight vectors: row k * batch
 * + n of the training stream's substream `step` folded into W, the plain
 * network, log-mean-exp in double (alpha = 0: the mean). */
static double reference_nll(const bns_model *m, const float *x, const uint8_t *y, double alpha, int K, uint64_t step) {
    size_t units = bns_dropout_units(&m->arch), rows = (size_t)K * BATCH;
    float *scale = malloc(sizeof(float) * rows * units), *w = malloc(sizeof(float) * m->arch.n_weights);
    bns_stream s = bns_stream_make(m->cfg.seed, m->cfg.task, BNS_PURPOSE_WEIGHT);
    bns_dropout_masks(&m->cfg, &m->arch, &s, step, rows, scale);
    bns_net_workspace ws;
    bns_net_workspace_init(&ws, &m->arch, 1);
    double total = 0;
    for (int n = 0; n < BATCH; n++) {
        double l[MAX_K], mean = 0, lme = 0;
        for (int k = 0; k < K; k++) {
            fold_masks(m, scale + ((size_t)k * BATCH + n) * units, w);
            l[k] = bns_softmax_xent(bns_net_forward(&m->arch, w, x + n * INPUTS, 1, &ws), y + n, 1, CLASSES, 1.0f, NULL);
            mean += l[k] / K;
        }
        for (int k = 0; k < K; k++) lme += exp(-alpha * l[k]) / K;
        total += alpha == 0 ? mean : -log(lme) / alpha;
    }
    bns_net_workspace_free(&ws);
    free(scale);
    free(w);
    return total;
}

static const fd_opts DROPOUT_OPTS = {0, 2e-3, 3e-3, 1e-4, 1e-6, 1000};

static void check_case(const char *method, double alpha, int K) {
    obj_ctx c;
    ctx_setup(&c, method, alpha, K);
    ctx_objective(&c);
    double want = reference_nll(&c.m, c.x, c.y, alpha, K, c.obj.step);
    if (fabs(c.st.nll_sum - want) > 1e-5 * (1 + fabs(want)))
        fail_msg("%s alpha %g K %d: nll_sum %.9g, reference %.9g", method, alpha, K, c.st.nll_sum, want);
    float *g = malloc(sizeof(float) * c.m.n_params);
    memcpy(g, c.grad, sizeof(float) * c.m.n_params);
    char what[96];
    snprintf(what, sizeof what, "%s alpha %g K %d", method, alpha, K);
    expect_grad(what, c.m.params, c.m.n_params, g, ctx_objective, &c, &DROPOUT_OPTS);
    free(g);
    ctx_free(&c);
}

static void test_dropout_objective(void **state) {
    (void)state;
    check_case("dropout", 0, 1);
}

static void test_alpha_objective(void **state) {
    (void)state;
    const double alphas[] = {0.0, 0.5, 1.0};
    const int ks[] = {1, 3};
    for (int a = 0; a < 3; a++)
        for (int k = 0; k < 2; k++) check_case("alpha", alphas[a], ks[k]);
}

/* the gradient checker notices a wrong softmax weighting: the plain mean's
 * gradient against alpha = 1's objective */
static void test_checker_can_fail(void **state) {
    (void)state;
    obj_ctx mean, one;
    ctx_setup(&mean, "alpha", 0.0, 3);
    ctx_setup(&one, "alpha", 1.0, 3);
    ctx_objective(&mean);
    fd_result r = fd_check("wrong weights", one.m.params, one.m.n_params, mean.grad, ctx_objective, &one,
                           &DROPOUT_OPTS, 0);
    assert_true(r.failed > 0);
    ctx_free(&mean);
    ctx_free(&one);
}

static void test_limits(void **state) {
    (void)state;
    /* alpha = 0: the mean loss (dropout VI) exactly as the reference; tiny alpha tends to it */
    obj_ctx zero, tiny;
    ctx_setup(&zero, "alpha", 0.0, 3);
    ctx_setup(&tiny, "alpha", 1e-4, 3);
    ctx_objective(&zero);
    ctx_objective(&tiny);
    double mean = reference_nll(&zero.m, zero.x, zero.y, 0.0, 3, zero.obj.step);
    assert_true(fabs(zero.st.nll_sum - mean) <= 1e-6 * (1 + mean));
    assert_true(fabs(tiny.st.nll_sum - mean) <= 1e-3 * (1 + mean));
    assert_true(tiny.st.nll_sum < zero.st.nll_sum); /* -(1/a) log E exp(-a l) < E l (Jensen, strictly) */
    for (size_t i = 0; i < zero.m.n_params; i++) assert_true(fabsf(zero.grad[i] - tiny.grad[i]) <= 1e-3f);
    ctx_free(&zero);
    ctx_free(&tiny);
    /* K = 1: the dropout method's loss and gradient for any alpha */
    obj_ctx drop;
    ctx_setup(&drop, "dropout", 0, 1);
    ctx_objective(&drop);
    const double alphas[] = {0.0, 0.3, 1.0};
    for (int a = 0; a < 3; a++) {
        obj_ctx one;
        ctx_setup(&one, "alpha", alphas[a], 1);
        ctx_objective(&one);
        assert_true(fabs(one.st.nll_sum - drop.st.nll_sum) <= 1e-12 * drop.st.nll_sum);
        assert_true(one.st.reg_per_example == drop.st.reg_per_example);
        for (size_t i = 0; i < drop.m.n_params; i++) assert_true(fabsf(one.grad[i] - drop.grad[i]) <= 1e-7f);
        ctx_free(&one);
    }
    ctx_free(&drop);
}

/* ---- MNIST ---- */

static bns_splits splits;
static int have_mnist;

static int load_mnist(void **state) {
    (void)state;
    have_mnist = bns_mnist_load(NULL, BNS_PIXEL_SCALE_0_2, 5000, 2000, &splits) == 0;
    return 0;
}

static int free_mnist(void **state) {
    (void)state;
    if (have_mnist) bns_splits_free(&splits);
    return 0;
}

static void train_mnist(const char *method) {
    if (!have_mnist) fail_msg("MNIST is not available: run `bash src/scripts/fetch-data.sh`");
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.method, sizeof cfg.method, "%s", method);
    snprintf(cfg.arch, sizeof cfg.arch, "FC-100-10");
    cfg.batch_size = 64;
    cfg.lr = 0.05;
    cfg.momentum = 0.9;
    cfg.max_epochs = 6;
    cfg.patience = 0;
    cfg.val_samples = 10;
    assert_int_equal(bns_config_set(&cfg, "dropout_input_rate", "0.2"), 0);
    if (!strcmp(method, "alpha")) assert_int_equal(bns_config_set(&cfg, "alpha_samples", "3"), 0);
    bns_model m;
    assert_int_equal(bns_model_create(&cfg, 784, &m), 0);
    bns_train_history h;
    if (bns_train(&m, &splits.train, &splits.val, &h, NULL)) fail_msg("bns_train: %s", bns_last_error());
    /* validation of an MC-dropout model: a 10-sample ensemble */
    if (h.best_val_acc < 0.9) fail_msg("%s FC-100-10: validation accuracy %.4f < 0.9", method, h.best_val_acc);
    assert_true(h.epochs[h.epochs_run - 1].train_nll < h.epochs[0].train_nll);
    bns_train_history_free(&h);
    bns_model_free(&m);
}

static void test_dropout_learns(void **state) {
    (void)state;
    train_mnist("dropout");
}

static void test_alpha_learns(void **state) {
    (void)state;
    train_mnist("alpha");
}

/* ---- a sweep ---- */

static const char *sweep_text =
    "name: dropout-sweep\n"
    "seed: 5\n"
    "data: {train_limit: 2000, test_limit: 200}\n"
    "train: {max_epochs: 2, patience: 0, val_samples: 2, lr: 0.05, momentum: 0.9, batch_size: 64}\n"
    "models:\n"
    "  bnn:     {method: bbb, arch: FC-20-10}\n"
    "  mc:      {method: dropout, arch: FC-20-10, dropout_input_rate: 0.2, dropout_rate: 0.2}\n"
    "  point:   {method: dropout, arch: FC-20-10, dropout_input_rate: 0.2, dropout_rate: 0.2, mc_dropout: 0}\n"
    "  alpha:   {method: alpha, arch: FC-20-10, dropout_input_rate: 0.2, dropout_rate: 0.2, alpha: 1, alpha_samples: 2}\n"
    "attacks:\n"
    "  fgsm: {sources: mc, eps: 0.1, source: expectation, source_samples: 3}\n"
    "evaluations:\n"
    "  robustness: {models: [bnn, mc, point, alpha], sets: [test, fgsm], runs: 3}\n"
    "  ensembles:  {models: [mc, alpha], sets: [test], ensemble: [1, 2], runs: 2}\n"
    "  ood:        {models: [bnn, mc, point, alpha], ood: [gaussian], scores: [entropy, bald], samples: 3}\n";

/* A grid over an evaluation setting trains once: the default value names the
 * trained model, every other value is a view of it, in either grid order. */
static void test_mc_dropout_grid_trains_once(void **state) {
    (void)state;
    const char *orders[] = {"[0, 1]", "[1, 0]"};
    for (int o = 0; o < 2; o++) {
        char text[512];
        snprintf(text, sizeof text,
                 "name: g\nmodels:\n  d: {method: dropout, arch: FC-20-10, lr: [0.1, 0.2], mc_dropout: %s}\n"
                 "evaluations:\n  robustness: {models: d}\n  ensembles: {models: d, ensemble: [2], runs: 2}\n",
                 orders[o]);
        bns_spec spec;
        bns_plan plan;
        if (bns_spec_load_text("grid.yaml", text, NULL, 0, &spec)) fail_msg("%s", bns_last_error());
        if (bns_plan_build(&spec, &plan)) fail_msg("%s", bns_last_error());
        assert_int_equal(plan.count[BNS_TASK_TRAIN], 4);
        int trained = 0, views = 0;
        for (int t = 0; t < plan.n_tasks; t++) {
            const bns_task *task = &plan.tasks[t];
            if (task->kind != BNS_TASK_TRAIN) continue;
            if (!bns_task_is_view(task)) {
                trained++;
                assert_non_null(strstr(task->name, "mc_dropout=1"));
                assert_int_equal(bns_config_get_int(&task->config, "mc_dropout"), 1);
                continue;
            }
            views++;
            const bns_task *model = &plan.tasks[task->model];
            assert_non_null(strstr(task->name, "mc_dropout=0"));
            assert_int_equal(bns_config_get_int(&task->config, "mc_dropout"), 0);
            assert_true(task->model < t && !bns_task_is_view(model));
            assert_true(task->config.lr == model->config.lr); /* the view of its own grid point */
            assert_true(task->config.task == model->key);
        }
        assert_int_equal(trained, 2);
        assert_int_equal(views, 2);
        /* ensembles take the group's MC models only (the views are point estimates) */
        int ensembles = 0;
        for (int t = 0; t < plan.n_tasks; t++) {
            const bns_task *task = &plan.tasks[t];
            if (task->kind != BNS_TASK_EVAL || task->eval.kind != BNS_EVAL_ENSEMBLES) continue;
            ensembles++;
            assert_false(bns_task_is_view(&plan.tasks[task->model]));
        }
        assert_int_equal(ensembles, 2);
        bns_plan_free(&plan);
        bns_spec_free(&spec);
    }
}

static void test_sweep(void **state) {
    (void)state;
    if (!have_mnist) fail_msg("MNIST is not available");
    bns_spec spec;
    bns_plan plan;
    if (bns_spec_load_text("dropout.yaml", sweep_text, NULL, 0, &spec)) fail_msg("%s", bns_last_error());
    if (bns_plan_build(&spec, &plan)) fail_msg("%s", bns_last_error());
    assert_int_equal(plan.count[BNS_TASK_TRAIN], 4);
    /* "point" differs from "mc" only in an evaluation setting: it is a view of
     * mc's trained model (plan.c), not a second training */
    int mc_task = -1, point_task = -1;
    for (int t = 0; t < plan.n_tasks; t++) {
        if (!strcmp(plan.tasks[t].name, "train/mc")) mc_task = t;
        if (!strcmp(plan.tasks[t].name, "train/point")) point_task = t;
    }
    assert_true(mc_task >= 0 && point_task >= 0);
    assert_false(bns_task_is_view(&plan.tasks[mc_task]));
    assert_true(bns_task_is_view(&plan.tasks[point_task]));
    assert_int_equal(plan.tasks[point_task].model, mc_task);
    assert_true(plan.tasks[point_task].config.task == plan.tasks[mc_task].key);
    char cube[4200];
    run_sweep_in_process(&spec, &plan, "dropout-run", cube, sizeof cube);
    hid_t f = H5Fopen(cube, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    hsize_t dims[3];
    assert_true(H5LTget_dataset_info(f, "accuracy", dims, NULL, NULL) >= 0);
    assert_int_equal(dims[0], 4);
    size_t n_sets = dims[1];
    double *acc = malloc(sizeof(double) * dims[0] * dims[1]);
    assert_true(H5LTread_dataset_double(f, "accuracy", acc) >= 0);
    double *std = malloc(sizeof(double) * dims[0] * dims[1]);
    assert_true(H5LTread_dataset_double(f, "accuracy_std", std) >= 0);
    assert_true(H5LTget_dataset_info(f, "ensemble_accuracy", dims, NULL, NULL) >= 0);
    double *ens = malloc(sizeof(double) * dims[0] * dims[1] * dims[2]);
    assert_true(H5LTread_dataset_double(f, "ensemble_accuracy", ens) >= 0);
    hsize_t n_ens = dims[2];
    assert_true(H5LTget_dataset_info(f, "auroc", dims, NULL, NULL) >= 0);
    double *auroc = malloc(sizeof(double) * dims[0] * dims[1] * dims[2]);
    assert_true(H5LTread_dataset_double(f, "auroc", auroc) >= 0);
    hsize_t n_scores = dims[2];
    char *methods[4] = {0}, *caps[4] = {0};
    read_cube_strings(f, "model_method", methods);
    read_cube_strings(f, "model_capabilities", caps);
    int point_dropout = 0, mc = 0;
    for (int i = 0; i < 4; i++) {
        int stochastic = !strcmp(caps[i], "stochastic");
        if (!strcmp(methods[i], "bbb")) assert_string_equal(caps[i], "stochastic,snr");
        else if (!stochastic) assert_string_equal(caps[i], ""), point_dropout++;
        else mc++;
        if (!(acc[(size_t)i * n_sets] > 0.5)) fail_msg("model %d (%s): test accuracy %g", i, methods[i], acc[(size_t)i * n_sets]);
        /* single-sample runs spread for MC dropout; a point estimate's runs agree */
        if (strcmp(methods[i], "bbb")) {
            if (stochastic) assert_true(std[(size_t)i * n_sets] > 0.0);
            else assert_true(std[(size_t)i * n_sets] == 0.0);
            for (hsize_t e = 0; e < n_ens; e++) {
                double v = ens[(size_t)i * n_sets * n_ens + e];
                if (stochastic ? !(v > 0.5 && v <= 1.0) : !isnan(v))
                    fail_msg("model %d (%s, %s): ensemble accuracy %g", i, methods[i], caps[i], v);
            }
        }
        /* OOD: entropy for every model; BALD is 0 for a point estimate, defined for MC dropout */
        double a_entropy = auroc[(size_t)i * n_scores];
        assert_true(a_entropy >= 0.0 && a_entropy <= 1.0);
        free(methods[i]);
        free(caps[i]);
    }
    assert_int_equal(point_dropout, 1); /* the mc_dropout = 0 model counts as a baseline */
    assert_int_equal(mc, 2);
    H5Fclose(f);
    free(acc);
    free(std);
    free(ens);
    free(auroc);
    bns_plan_free(&plan);
    bns_spec_free(&spec);
}

static int setup(void **state) {
    (void)state;
    tmp_dir_setup("dropout");
    return 0;
}

int main(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mask_indexing_and_rate),
        cmocka_unit_test(test_mc_samples),
        cmocka_unit_test(test_settings_checked),
        cmocka_unit_test(test_dropout_objective),
        cmocka_unit_test(test_alpha_objective),
        cmocka_unit_test(test_checker_can_fail),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_dropout_learns),
        cmocka_unit_test(test_alpha_learns),
        cmocka_unit_test(test_mc_dropout_grid_trains_once),
        cmocka_unit_test_setup(test_sweep, setup),
    };
    return cmocka_run_group_tests(tests, load_mnist, free_mnist);
}
