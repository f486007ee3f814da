/* test_method_registry.c - a method that exists only in this test, added
 * the way README's "Adding a method" says (one definition + one
 * registration), runs through everything: its own settings row (flags,
 * model-file attributes, task keys), training, the model file, weight
 * samples and importance weights in prediction, the evaluation runs, and a
 * whole sweep (spec -> plan -> runner -> cube) on MNIST, together with a toy
 * attack registered the same way (README "Adding an attack").
 *
 * The toy method: a point estimate w trained like the deterministic net,
 * whose weight sample k is w + toy_noise * eps_k (eps_k normals k of the
 * stream), with log importance weight log 3 for odd k and 0 for even k. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <hdf5.h>
#include <hdf5_hl.h>

#include "bnnsweep/attack.h"
#include "bnnsweep/config.h"
#include "bnnsweep/cube.h"
#include "bnnsweep/error.h"
#include "bnnsweep/eval_pipeline.h"
#include "bnnsweep/method.h"
#include "bnnsweep/model_io.h"
#include "bnnsweep/nn.h"
#include "bnnsweep/plan.h"
#include "bnnsweep/runner.h"
#include "bnnsweep/spec.h"
#include "bnnsweep/train.h"
#include "test_util.h"
#include "test_sweep_util.h"

/* ---- the toy method: everything it needs is in this block ---- */

typedef struct {
    bns_net_workspace ws;
    float *grad_logits;
} toy_trainer;

static const bns_config_field toy_settings[] = {
    BNS_METHOD_SETTING("toy_noise", BNS_FIELD_DOUBLE, NULL, "0.05", "std of the toy method's weight noise"),
    {0},
};

static void toy_init(bns_model *m, const bns_stream *init_stream) {
    bns_init_truncated_normal(m->params, &m->arch, 0.0, init_stream);
}

static void toy_sample(const bns_model *m, const bns_stream *stream, uint64_t index, float *w) {
    size_t n = m->arch.n_weights;
    float noise = (float)bns_config_get_double(&m->cfg, "toy_noise");
    bns_stream_normal(stream, index, 0, n, w);
    for (size_t i = 0; i < n; i++) w[i] = m->params[i] + noise * w[i];
}

static double toy_log_weight(const bns_model *m, const bns_stream *stream, uint64_t index) {
    (void)m;
    (void)stream;
    return index % 2 ? log(3.0) : 0.0;
}

static void *toy_trainer_create(const bns_model *m, int max_batch) {
    toy_trainer *t = calloc(1, sizeof *t);
    bns_net_workspace_init(&t->ws, &m->arch, max_batch);
    t->grad_logits = malloc(sizeof(float) * (size_t)max_batch * m->arch.n_classes);
    return t;
}

static void toy_trainer_free(void *trainer) {
    toy_trainer *t = trainer;
    bns_net_workspace_free(&t->ws);
    free(t->grad_logits);
    free(t);
}

static void toy_loss_grad(void *trainer, const bns_model *m, const float *x, const uint8_t *y, int batch,
                          const bns_objective *obj, float *grad, bns_step_stats *stats) {
    toy_trainer *t = trainer;
    const float *logits = bns_net_forward(&m->arch, m->params, x, batch, &t->ws);
    stats->nll_sum = m->likelihood.nll(&m->likelihood, logits, y, batch, m->arch.n_classes, (float)obj->nll_scale, t->grad_logits);
    stats->correct = bns_count_correct(logits, y, batch, m->arch.n_classes);
    stats->reg_per_example = stats->kl = 0.0;
    bns_net_backward(&m->arch, m->params, batch, &t->ws, t->grad_logits, grad, NULL);
}

static const bns_method toy_method = {
    .name = "toy",
    .summary = "test-only: a point estimate with Gaussian weight noise and importance weights",
    .caps = BNS_CAP_STOCHASTIC | BNS_CAP_WEIGHTED,
    .settings = toy_settings,
    .n_params = bns_point_n_params,
    .param_blocks = bns_point_param_blocks,
    .init = toy_init,
    .point_weights = bns_point_weights,
    .sample_weights = toy_sample,
    .log_weight = toy_log_weight,
    .trainer_create = toy_trainer_create,
    .trainer_free = toy_trainer_free,
    .loss_grad = toy_loss_grad,
};

/* ---- a toy attack, also only in this test: one signed-gradient step ---- */

static void nudge_batch(bns_attack_source *src, const bns_attack_settings *s, const bns_attack_batch *b,
                        bns_attack_work *w) {
    size_t n = (size_t)b->b * src->model->arch.n_inputs;
    bns_attack_input_grad(src, b->x, b->y, b->b, w->g, NULL);
    memcpy(b->x_adv, b->x, sizeof(float) * n);
    bns_attack_signed_step(b->x_adv, b->x, w->g, n, (float)(s->eps * b->xmax), 0.0f, s->clip, b->xmax);
    bns_attack_judge(src, b->x_adv, b->y, b->b, 0, b->success, w);
}

static double nudge_cost(const bns_attack_settings *s) {
    (void)s;
    return 1;
}

static const char *const nudge_uses[] = {"eps", NULL};
static const bns_attack nudge_attack = {
    .name = "nudge",
    .summary = "test-only: one signed input-gradient step of eps",
    .uses = nudge_uses,
    .run_batch = nudge_batch,
    .cost_steps = nudge_cost,
};

/* ---- the tests ---- */

/* 3 classes in 12 dimensions, class c = a bump on features 4c..4c+3 plus noise */
static void synthetic(size_t n, uint64_t seed, bns_dataset *out) {
    memset(out, 0, sizeof *out);
    out->n = n, out->d = 12, out->n_classes = 3;
    out->x = malloc(sizeof(float) * n * 12);
    out->y = malloc(n);
    bns_stream s = bns_stream_make(seed, 0, BNS_PURPOSE_DATA);
    bns_stream_normal(&s, 0, 0, n * 12, out->x);
    for (size_t i = 0; i < n; i++) {
        out->y[i] = (uint8_t)(i % 3);
        for (int j = 0; j < 4; j++) out->x[i * 12 + 4 * out->y[i] + j] += 2.0f;
    }
}

static void toy_config(bns_config *cfg) {
    bns_config_defaults(cfg);
    snprintf(cfg->method, sizeof cfg->method, "toy");
    snprintf(cfg->arch, sizeof cfg->arch, "FC-8-3");
    cfg->max_epochs = 15;
    cfg->patience = 0;
    cfg->lr = 0.05;
    cfg->batch_size = 32;
}

static void test_settings_row(void **state) {
    (void)state;
    const bns_config_field *f = bns_config_field_find("toy_noise");
    assert_non_null(f);
    assert_string_equal(f->owner, "toy");
    bns_config cfg;
    toy_config(&cfg);
    assert_true(bns_config_get_double(&cfg, "toy_noise") == 0.05); /* the row's default */
    assert_int_equal(bns_config_set_assignment(&cfg, "toy_noise=0.2"), 0);
    assert_true(bns_config_get_double(&cfg, "toy_noise") == 0.2);
    assert_int_not_equal(bns_config_set(&cfg, "toy_noise", "lots"), 0);
    assert_non_null(strstr(bns_last_error(), "toy_noise"));
    /* the row applies to toy models only: part of their task key, not of others' */
    char with[8192], without[8192];
    bns_spec_config_canonical(&cfg, with, sizeof with);
    assert_non_null(strstr(with, "toy_noise"));
    snprintf(cfg.method, sizeof cfg.method, "bbb");
    bns_spec_config_canonical(&cfg, without, sizeof without);
    assert_null(strstr(without, "toy_noise"));
    /* ... and set on another method's model it is an error, not silently ignored */
    bns_model m;
    assert_int_not_equal(bns_model_create(&cfg, 12, &m), 0);
    assert_non_null(strstr(bns_last_error(), "'toy_noise' belongs to method toy"));
    assert_int_equal(bns_config_set(&cfg, "toy_noise", "0.05"), 0); /* its default again: fine */
    assert_int_equal(bns_model_create(&cfg, 12, &m), 0);
    bns_model_free(&m);
}

static void test_train_save_load(void **state) {
    (void)state;
    bns_dataset train, val;
    synthetic(600, 1, &train);
    synthetic(300, 2, &val);
    bns_config cfg;
    toy_config(&cfg);
    assert_int_equal(bns_config_set(&cfg, "toy_noise", "0.125"), 0);
    bns_model m;
    if (bns_model_create(&cfg, 12, &m)) fail_msg("%s", bns_last_error());
    assert_int_equal(m.n_params, m.arch.n_weights);
    bns_train_history h;
    if (bns_train(&m, &train, &val, &h, NULL)) fail_msg("%s", bns_last_error());
    /* the classes are separable: training through the toy's gradient must find them */
    if (h.best_val_acc < 0.9) fail_msg("toy method reached only %.3f validation accuracy", h.best_val_acc);

    char path[4096];
    tmp_path(path, sizeof path, "toy.h5");
    if (bns_model_save(path, &m, &h)) fail_msg("%s", bns_last_error());
    bns_model back;
    bns_train_history hb;
    if (bns_model_load(path, &back, &hb)) fail_msg("%s", bns_last_error());
    assert_string_equal(back.cfg.method, "toy");
    assert_true(bns_config_get_double(&back.cfg, "toy_noise") == 0.125); /* its own setting saved and read */
    assert_memory_equal(back.params, m.params, sizeof(float) * m.n_params);
    /* the file holds the toy's blocks and its capabilities; no other method's settings */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    assert_true(H5Lexists(f, "layers/1/weight", H5P_DEFAULT) > 0);
    char caps[64] = "";
    assert_true(H5LTget_attribute_string(f, "/", "capabilities", caps) >= 0);
    assert_string_equal(caps, "stochastic,weighted");
    hid_t g = H5Gopen2(f, "config", H5P_DEFAULT);
    assert_true(H5Aexists(g, "toy_noise") > 0);
    H5Gclose(g);
    H5Fclose(f);
    expect_no_temporaries();

    /* prediction: sample k is w + 0.125 eps_k, weighted 1 (even k) and 3 (odd k) */
    bns_predictor pred;
    bns_predictor_init(&pred, &back);
    bns_stream stream = bns_stream_make(5, 0, BNS_PURPOSE_PREDICT);
    size_t rows = 20;
    float *probs = malloc(sizeof(float) * rows * 3), *w = malloc(sizeof(float) * back.arch.n_weights);
    float expect[20 * 3] = {0}, p_s[20 * 3];
    bns_predict_probs(&pred, &back, val.x, rows, 2, &stream, 6, probs);
    for (int s = 0; s < 2; s++) {
        bns_model_sample_weights(&back, &stream, 6 + (uint64_t)s, w);
        for (size_t i = 0; i < back.arch.n_weights; i++) {
            float noise = w[i] - back.params[i];
            assert_true(fabsf(noise) < 0.125f * 6.0f); /* a normal scaled by 0.125 */
        }
        bns_net_workspace ws;
        bns_net_workspace_init(&ws, &back.arch, (int)rows);
        bns_softmax(bns_net_forward(&back.arch, w, val.x, (int)rows, &ws), (int)rows, 3, p_s);
        bns_net_workspace_free(&ws);
        for (size_t i = 0; i < rows * 3; i++) expect[i] += (s == 0 ? 0.25f : 0.75f) * p_s[i];
    }
    for (size_t i = 0; i < rows * 3; i++) assert_true(fabsf(probs[i] - expect[i]) < 1e-6f);
    /* the evaluation pipeline (bnnsweep eval, train's report, sweep EVAL tasks):
     * its samples differ, so single-sample runs spread; OOD scores work */
    bns_evaluator ev;
    bns_evaluator_init(&ev, &back, &val, &stream);
    bns_accuracy_request req = {.n_ensemble = 1, .runs = 6};
    bns_accuracy_result res;
    assert_int_equal(bns_eval_accuracy(&ev, &req, NULL, &res), 0);
    assert_int_equal(res.summary.runs, 6);
    assert_int_equal(res.n_ensemble, 1);
    assert_true(res.summary.mean.acc > 0.8 && res.summary.std.acc > 0.0);
    req.prune = 1, req.prune_rate = 0.5; /* no per-weight std: refused with a message */
    assert_int_not_equal(bns_eval_accuracy(&ev, &req, NULL, &res), 0);
    assert_non_null(strstr(bns_last_error(), "toy"));
    bns_dataset noise;
    synthetic(300, 9, &noise);
    for (size_t i = 0; i < noise.n * noise.d; i++) noise.x[i] = 8.0f * noise.x[i]; /* far from the data */
    bns_ood_result ood;
    assert_int_equal(bns_eval_ood(&ev, &noise, 8, 1u << BNS_SCORE_ENTROPY, &ood), 0);
    assert_int_equal(ood.n_samples, 8);
    assert_true(ood.auroc[BNS_SCORE_ENTROPY] >= 0.0 && ood.auroc[BNS_SCORE_ENTROPY] <= 1.0);
    bns_dataset_free(&noise);
    bns_evaluator_free(&ev);
    float *all = NULL;
    free(all);
    free(probs);
    free(w);
    bns_predictor_free(&pred);
    bns_train_history_free(&hb);
    bns_model_free(&back);
    bns_train_history_free(&h);
    bns_model_free(&m);
    bns_dataset_free(&train);
    bns_dataset_free(&val);
}

static const char *toy_sweep =
    "name: toy-sweep\n"
    "seed: 3\n"
    "data: {train_limit: 3000, test_limit: 300}\n"
    "train: {max_epochs: 3, patience: 0, lr: 0.02, batch_size: 64}\n"
    "models:\n"
    "  toy:  {method: toy, arch: FC-10-10, toy_noise: [0.01, 0.1]}\n"
    "  base: {method: deterministic, arch: FC-10-10}\n"
    "attacks:\n"
    "  nudge: {sources: toy, attack: nudge, eps: 0.1, source: expectation, source_samples: 3}\n"
    "evaluations:\n"
    "  robustness: {models: [toy, base], sets: [test, nudge], runs: 3}\n"
    "  ensembles:  {models: toy, sets: [test], ensemble: [1, 4], runs: 4}\n";

static void test_sweep(void **state) {
    (void)state;
    bns_spec spec;
    bns_plan plan;
    if (bns_spec_load_text("toy.yaml", toy_sweep, NULL, 0, &spec)) fail_msg("%s", bns_last_error());
    if (bns_plan_build(&spec, &plan)) fail_msg("%s", bns_last_error());
    assert_int_equal(plan.count[BNS_TASK_TRAIN], 3);
    assert_int_equal(plan.count[BNS_TASK_ATTACK], 2); /* against each toy model */
    /* pruning needs a per-weight std, which the toy does not declare */
    const char *pruned = "models: {toy: {method: toy, arch: FC-10}}\n"
                         "evaluations: {pruning: {models: toy, rates: [0.5]}}\n";
    bns_spec bad;
    assert_int_not_equal(bns_spec_load_text("pruned.yaml", pruned, NULL, 0, &bad), 0);
    assert_non_null(strstr(bns_last_error(), "impossible combination"));

    char cube[4200];
    run_sweep_in_process(&spec, &plan, "toy-run", cube, sizeof cube);
    hid_t f = H5Fopen(cube, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    /* accuracy [model, set]: 3 models x (test, val, nudge sets) */
    hsize_t dims[3];
    assert_true(H5LTget_dataset_info(f, "accuracy", dims, NULL, NULL) >= 0);
    assert_int_equal(dims[0], 3);
    assert_int_equal(dims[1], 4); /* test, val, the two nudge sets */
    double acc[3 * 4];
    assert_true(H5LTread_dataset_double(f, "accuracy", acc) >= 0);
    /* ensemble_accuracy [model, set, n_ensemble]: the toy models' N = 1 and 4 */
    assert_true(H5LTget_dataset_info(f, "ensemble_accuracy", dims, NULL, NULL) >= 0);
    assert_int_equal(dims[2], 2);
    double *ens = malloc(sizeof(double) * dims[0] * dims[1] * dims[2]);
    assert_true(H5LTread_dataset_double(f, "ensemble_accuracy", ens) >= 0);
    /* the models' methods and capabilities, which analysis/ reads */
    char *methods[3] = {0}, *caps[3] = {0};
    read_cube_strings(f, "model_method", methods);
    read_cube_strings(f, "model_capabilities", caps);
    int toys = 0;
    for (int i = 0; i < 3; i++) {
        if (!(acc[4 * i] > 0.5 && acc[4 * i] <= 1.0)) fail_msg("model %d (%s): test accuracy %g", i, methods[i], acc[4 * i]);
        int is_toy = !strcmp(methods[i], "toy");
        toys += is_toy;
        assert_string_equal(caps[i], is_toy ? "stochastic,weighted" : "");
        for (hsize_t e = 0; e < dims[2]; e++) {
            double v = ens[(size_t)i * dims[1] * dims[2] + e]; /* set index 0: test */
            if (is_toy) assert_true(v > 0.3 && v <= 1.0);
            else assert_true(isnan(v));
        }
        free(methods[i]);
        free(caps[i]);
    }
    assert_int_equal(toys, 2);
    /* the toy attack's sets: it fooled the toy models on some images, and
     * every model lost accuracy on them against the clean test set */
    double success[8];
    assert_true(H5LTget_dataset_info(f, "attack_success_rate", dims, NULL, NULL) >= 0);
    assert_int_equal(dims[0], 2 + 2); /* test, val, two nudge sets */
    assert_true(H5LTread_dataset_double(f, "attack_success_rate", success) >= 0);
    for (int si = 2; si < 4; si++) assert_true(success[si] > 0.05 && success[si] <= 1.0);
    double acc4[3 * 4];
    assert_true(H5LTread_dataset_double(f, "accuracy", acc4) >= 0);
    for (int i = 0; i < 3; i++)
        for (int si = 2; si < 4; si++) assert_true(acc4[4 * i + si] < acc4[4 * i + 0]);
    free(ens);
    H5Fclose(f);
    bns_plan_free(&plan);
    bns_spec_free(&spec);
}

static int setup(void **state) {
    (void)state;
    tmp_dir_setup("method_registry");
    return 0;
}

int main(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* the one registration line of each */
    if (bns_method_register(&toy_method) || bns_attack_register(&nudge_attack) < 0) {
        fprintf(stderr, "%s\n", bns_last_error());
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings_row),
        cmocka_unit_test_setup(test_train_save_load, setup),
        cmocka_unit_test_setup(test_sweep, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
