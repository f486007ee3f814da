/* test_train.c - short real training runs on MNIST subsets (train.h).
 *
 * 5,000 training and 2,000 validation images (pixels in [0, 2]). Each run
 * takes a few seconds; together they check that the methods learn, that a
 * run is a pure function of its seed, that divergence is caught and leaves
 * usable parameters behind, and the early-stopping rule. MNIST must be in the
 * data cache: if it is missing every test fails and says how to fetch it.
 * Set BNS_TRAIN_VERBOSE=1 to print each epoch.
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

#include "bnnsweep/dataset.h"
#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/model.h"
#include "bnnsweep/train.h"

static bns_splits splits;
static int have_mnist;
static char mnist_error[512];

static int load_mnist(void **state) {
    (void)state;
    if (bns_mnist_load(NULL, BNS_PIXEL_SCALE_0_2, 5000, 2000, &splits) == 0) {
        have_mnist = 1;
    } else {
        snprintf(mnist_error, sizeof mnist_error, "%s", bns_last_error());
    }
    return 0;
}

static int free_mnist(void **state) {
    (void)state;
    if (have_mnist) bns_splits_free(&splits);
    return 0;
}

static void require_mnist(void) {
    if (!have_mnist)
        fail_msg("MNIST is not available (%s): run `bash src/scripts/fetch-data.sh` to download it", mnist_error);
    assert_int_equal(splits.train.n, 5000);
    assert_int_equal(splits.val.n, 2000);
}

static int verbose(void) {
    const char *v = getenv("BNS_TRAIN_VERBOSE");
    return v && v[0] && v[0] != '0';
}

static void print_epoch(const bns_model *m, const bns_train_history *h, void *ctx) {
    (void)m;
    (void)ctx;
    if (!verbose()) return;
    const bns_epoch_record *r = &h->epochs[h->epochs_run - 1];
    print_message("  epoch %d: loss %.4f nll %.4f kl %.1f train acc %.4f val acc %.4f (%.2fs + %.2fs)\n",
                  h->epochs_run, r->train_loss, r->train_nll, r->train_kl, r->train_acc, r->val_acc, r->seconds,
                  r->val_seconds);
}

static void base_config(bns_config *cfg, const char *method, const char *arch) {
    bns_config_defaults(cfg);
    snprintf(cfg->method, sizeof cfg->method, "%s", method);
    snprintf(cfg->arch, sizeof cfg->arch, "%s", arch);
    cfg->batch_size = 64;
    cfg->patience = 0;
    cfg->seed = 1;
}

static void train_or_fail(bns_model *m, bns_train_history *h) {
    if (verbose()) print_message("%s %s lr %g:\n", m->cfg.method, m->cfg.arch, m->cfg.lr);
    if (bns_train(m, &splits.train, &splits.val, h, &(bns_train_hooks){.on_epoch = print_epoch})) fail_msg("bns_train: %s", bns_last_error());
}

static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* The history obeys the rules of train.h: best_epoch is the first epoch of
 * highest validation accuracy, and the restored parameters are the best ones
 * (their validation accuracy, measured again, is best_val_acc). */
static void expect_consistent_history(const bns_model *m, const bns_train_history *h) {
    assert_true(h->epochs_run >= 0 && h->epochs_run <= m->cfg.max_epochs);
    if (h->epochs_run == 0) {
        assert_int_equal(h->best_epoch, 0);
        return;
    }
    int best = 1;
    for (int e = 2; e <= h->epochs_run; e++)
        if (h->epochs[e - 1].val_acc > h->epochs[best - 1].val_acc) best = e;
    assert_int_equal(h->best_epoch, best);
    assert_true(h->best_val_acc == h->epochs[best - 1].val_acc);
    for (int e = 1; e <= h->epochs_run; e++) {
        const bns_epoch_record *r = &h->epochs[e - 1];
        assert_true(r->val_acc >= 0 && r->val_acc <= 1 && r->train_acc >= 0 && r->train_acc <= 1);
        assert_true(r->seconds >= 0 && r->val_seconds >= 0);
        if (isfinite(r->train_loss)) assert_true(r->train_loss >= r->train_nll - 1e-9 || m->cfg.l2_lambda == 0);
    }
    assert_true(all_finite(m->params, m->n_params));
    double again = bns_validation_accuracy(m, &splits.val);
    if (again != h->best_val_acc)
        fail_msg("restored parameters have validation accuracy %.4f, history says best %.4f (epoch %d)", again,
                 h->best_val_acc, h->best_epoch);
}

static void test_deterministic_learns(void **state) {
    (void)state;
    require_mnist();
    bns_config cfg;
    base_config(&cfg, "deterministic", "FC-100-10");
    cfg.lr = 0.05;
    cfg.momentum = 0.9;
    cfg.max_epochs = 5;
    bns_model m;
    assert_int_equal(bns_model_create(&cfg, 784, &m), 0);
    double before = bns_validation_accuracy(&m, &splits.val);
    bns_train_history h;
    train_or_fail(&m, &h);
    assert_int_equal(h.status, BNS_TRAIN_MAX_EPOCHS);
    assert_int_equal(h.epochs_run, 5);
    expect_consistent_history(&m, &h);
    if (h.best_val_acc < 0.88) fail_msg("deterministic FC-100-10: validation accuracy %.4f < 0.88 after 5 epochs", h.best_val_acc);
    assert_true(before < 0.3); /* it was not good to start with */
    /* the training NLL fell */
    assert_true(h.epochs[4].train_nll < 0.5 * h.epochs[0].train_nll + 0.2);
    for (int e = 0; e < 5; e++) assert_true(h.epochs[e].train_kl == 0.0);
    bns_train_history_free(&h);
    bns_model_free(&m);
}

static void test_bbb_learns(void **state) {
    (void)state;
    require_mnist();
    bns_config cfg;
    base_config(&cfg, "bbb", "FC-100-10");
    cfg.rho_init = -3;
    cfg.val_samples = 5;
    cfg.optimizer = BNS_OPT_ADAM;
    cfg.lr = 2e-3;
    cfg.max_epochs = 8; /* ~0.88 by epoch 5 in practice; 8 leaves a margin */
    bns_model m;
    assert_int_equal(bns_model_create(&cfg, 784, &m), 0);
    bns_train_history h;
    train_or_fail(&m, &h);
    expect_consistent_history(&m, &h);
    if (h.best_val_acc < 0.85) fail_msg("bbb FC-100-10: validation accuracy %.4f < 0.85 after 8 epochs", h.best_val_acc);
    /* a Bayesian run reports its KL, and the loss includes KL / N */
    for (int e = 0; e < h.epochs_run; e++) {
        assert_true(h.epochs[e].train_kl > 0);
        assert_true(h.epochs[e].train_loss > h.epochs[e].train_nll);
    }
    bns_train_history_free(&h);
    bns_model_free(&m);
}

/* A run is a pure function of its configuration: same seed, same bits. */
static void run_small(const char *method, uint64_t seed, int threads_hint, bns_model *m, bns_train_history *h) {
    (void)threads_hint;
    bns_config cfg;
    base_config(&cfg, method, "FC-20-10");
    if (strcmp(method, "lrt") == 0) bns_prior_defaults(&cfg.prior, BNS_PRIOR_GAUSSIAN);
    cfg.seed = seed;
    cfg.lr = 0.01;
    cfg.samples = 2;
    cfg.val_samples = 2;
    cfg.max_epochs = 2;
    assert_int_equal(bns_model_create(&cfg, 784, m), 0);
    train_or_fail(m, h);
}

static void test_reproducible(void **state) {
    (void)state;
    require_mnist();
    const char *methods[] = {"bbb", "lrt", "deterministic"};
    for (int k = 0; k < 3; k++) {
        bns_model a, b, c;
        bns_train_history ha, hb, hc;
        run_small(methods[k], 7, 0, &a, &ha);
        run_small(methods[k], 7, 0, &b, &hb);
        run_small(methods[k], 8, 0, &c, &hc);
        if (memcmp(a.params, b.params, sizeof(float) * a.n_params) != 0)
            fail_msg("%s: two runs with seed 7 gave different parameters", methods[k]);
        assert_int_equal(ha.epochs_run, hb.epochs_run);
        for (int e = 0; e < ha.epochs_run; e++) {
            assert_true(ha.epochs[e].train_loss == hb.epochs[e].train_loss);
            assert_true(ha.epochs[e].val_acc == hb.epochs[e].val_acc);
        }
        if (memcmp(a.params, c.params, sizeof(float) * a.n_params) == 0)
            fail_msg("%s: seeds 7 and 8 gave the same parameters", methods[k]);
        bns_model_free(&a);
        bns_model_free(&b);
        bns_model_free(&c);
        bns_train_history_free(&ha);
        bns_train_history_free(&hb);
        bns_train_history_free(&hc);
    }
}

/* The step hook sees every step of every epoch in order (done = 1..steps,
 * steps = ceil(n / batch), the epoch's seconds never decreasing), and
 * reporting changes nothing: the same parameters as a run without hooks. */
typedef struct {
    int epoch, bad;
    size_t next, calls, steps;
    double seconds;
} step_log;

static void record_step(int epoch, size_t done, size_t steps, double seconds, void *ctx) {
    step_log *l = ctx;
    if (epoch != l->epoch) {
        if (epoch != l->epoch + 1 || (l->epoch > 0 && l->next != steps + 1)) l->bad = 1;
        l->epoch = epoch;
        l->next = 1;
        l->seconds = 0.0;
    }
    if (done != l->next || steps != l->steps || seconds < l->seconds) l->bad = 1;
    l->next = done + 1;
    l->seconds = seconds;
    l->calls++;
}

static void test_step_hook(void **state) {
    (void)state;
    require_mnist();
    bns_config cfg;
    base_config(&cfg, "bbb", "FC-20-10");
    cfg.max_epochs = 2;
    cfg.samples = 2;
    cfg.val_samples = 2;
    bns_model a, b;
    bns_train_history ha, hb;
    assert_int_equal(bns_model_create(&cfg, 784, &a), 0);
    assert_int_equal(bns_model_create(&cfg, 784, &b), 0);
    size_t steps = (splits.train.n + cfg.batch_size - 1) / cfg.batch_size;
    step_log log = {.steps = steps};
    if (bns_train(&a, &splits.train, &splits.val, &ha, &(bns_train_hooks){.on_step = record_step, .ctx = &log}))
        fail_msg("%s", bns_last_error());
    if (bns_train(&b, &splits.train, &splits.val, &hb, NULL)) fail_msg("%s", bns_last_error());
    assert_false(log.bad);
    assert_int_equal(log.epoch, 2);
    assert_int_equal(log.calls, 2 * steps);
    assert_memory_equal(a.params, b.params, sizeof(float) * a.n_params);
    bns_model_free(&a);
    bns_model_free(&b);
    bns_train_history_free(&ha);
    bns_train_history_free(&hb);
}

/* A hopeless learning rate: training stops with status diverged and a
 * message, and does not hand back garbage: either no epoch finished
 * (best_epoch 0, nothing to restore) or the best epoch's finite parameters. */
static void test_divergence_detected(void **state) {
    (void)state;
    require_mnist();
    const char *methods[] = {"bbb", "deterministic"};
    for (int k = 0; k < 2; k++) {
        bns_config cfg;
        base_config(&cfg, methods[k], "FC-100-10");
        cfg.lr = 1e6;
        cfg.max_epochs = 3;
        cfg.val_samples = 1;
        /* wide weights: from a small init the first step can kill every
         * ReLU instead, leaving a constant (finite) network */
        cfg.init_std = 0.3;
        bns_model m;
        assert_int_equal(bns_model_create(&cfg, 784, &m), 0);
        bns_train_history h;
        train_or_fail(&m, &h);
        if (h.status != BNS_TRAIN_DIVERGED)
            fail_msg("%s with lr 1e6: status %s, not diverged (val acc %g)", methods[k], bns_train_status_name(h.status),
                     h.best_val_acc);
        assert_true(strlen(h.message) > 0);
        if (h.best_epoch > 0) {
            assert_true(all_finite(m.params, m.n_params));
            expect_consistent_history(&m, &h);
        }
        bns_train_history_free(&h);
        bns_model_free(&m);
    }
}

/* Divergence after good epochs: the parameters are blown up (to +-1e30)
 * from the epoch callback after epoch 2, so the next step's loss is
 * non-finite. Training must stop as diverged and restore the best of
 * epochs 1-2 exactly. */
typedef struct {
    int blow_up_after;
    float *snapshot[8];
    size_t n;
} blowup_ctx;

static void blow_up(const bns_model *cm, const bns_train_history *h, void *p) {
    blowup_ctx *c = p;
    print_epoch(cm, h, NULL);
    bns_model *m = (bns_model *)cm; /* the model bns_train was given is not const */
    c->n = m->n_params;
    c->snapshot[h->epochs_run] = malloc(sizeof(float) * m->n_params);
    memcpy(c->snapshot[h->epochs_run], m->params, sizeof(float) * m->n_params);
    if (h->epochs_run == c->blow_up_after)
        for (size_t i = 0; i < m->n_params; i++) m->params[i] = (i % 2 ? 1e30f : -1e30f);
}

static void test_divergence_restores_best(void **state) {
    (void)state;
    require_mnist();
    const char *methods[] = {"deterministic", "bbb"};
    for (int k = 0; k < 2; k++) {
        bns_config cfg;
        base_config(&cfg, methods[k], "FC-20-10");
        cfg.lr = 0.01;
        cfg.max_epochs = 5;
        cfg.val_samples = 2;
        bns_model m;
        assert_int_equal(bns_model_create(&cfg, 784, &m), 0);
        bns_train_history h;
        blowup_ctx c = {.blow_up_after = 2};
        if (bns_train(&m, &splits.train, &splits.val, &h, &(bns_train_hooks){.on_epoch = blow_up, .ctx = &c})) fail_msg("%s", bns_last_error());
        if (h.status != BNS_TRAIN_DIVERGED) fail_msg("%s: status %s after blow-up", methods[k], bns_train_status_name(h.status));
        assert_int_equal(h.epochs_run, 2);
        assert_true(h.best_epoch == 1 || h.best_epoch == 2);
        assert_non_null(strstr(h.message, "epoch 3"));
        assert_memory_equal(m.params, c.snapshot[h.best_epoch], sizeof(float) * m.n_params);
        expect_consistent_history(&m, &h);
        for (int e = 0; e < 8; e++) free(c.snapshot[e]);
        bns_train_history_free(&h);
        bns_model_free(&m);
    }
}

/* A NaN rho hides: the fused kernels clamp sigma, so the loss stays finite
 * and training would go on with a NaN parameter (and save it). One rho set
 * to NaN after epoch 2 must stop training as diverged in epoch 3, naming the
 * parameter, with the best finite epoch restored. */
static void poison_rho(const bns_model *cm, const bns_train_history *h, void *p) {
    (void)p;
    print_epoch(cm, h, NULL);
    if (h->epochs_run != 2) return;
    bns_model *m = (bns_model *)cm;
    bns_param_block blocks[BNS_MAX_PARAM_BLOCKS];
    int nb = bns_model_param_blocks(m, blocks);
    for (int b = 0; b < nb; b++)
        if (strstr(blocks[b].path, "weight_rho")) {
            m->params[blocks[b].offset + 3] = NAN;
            return;
        }
    fail_msg("%s has no weight_rho block", m->cfg.method);
}

static void test_nan_rho_detected(void **state) {
    (void)state;
    require_mnist();
    bns_config cfg;
    base_config(&cfg, "bbb", "FC-20-10");
    cfg.lr = 0.01;
    cfg.max_epochs = 4;
    cfg.val_samples = 2;
    bns_model m;
    assert_int_equal(bns_model_create(&cfg, 784, &m), 0);
    bns_train_history h;
    if (bns_train(&m, &splits.train, &splits.val, &h, &(bns_train_hooks){.on_epoch = poison_rho, .ctx = NULL})) fail_msg("%s", bns_last_error());
    if (h.status != BNS_TRAIN_DIVERGED) fail_msg("NaN rho: status %s, not diverged", bns_train_status_name(h.status));
    if (!strstr(h.message, "weight_rho[3]") || !strstr(h.message, "epoch 3")) fail_msg("message: %s", h.message);
    assert_int_equal(h.epochs_run, 2);
    assert_true(all_finite(m.params, m.n_params));
    char where[128];
    assert_int_equal(bns_model_find_nonfinite(&m, where, sizeof where), 0);
    bns_train_history_free(&h);
    bns_model_free(&m);
}

/* Early stopping: with a learning rate too small to change any prediction,
 * validation accuracy never improves after epoch 1, so training stops after
 * exactly 1 + patience epochs with the epoch-1 parameters restored. */
static void test_early_stopping(void **state) {
    (void)state;
    require_mnist();
    const int patiences[] = {1, 2};
    for (int k = 0; k < 2; k++) {
        bns_config cfg;
        base_config(&cfg, "deterministic", "FC-20-10");
        cfg.lr = 1e-12;
        cfg.momentum = 0;
        cfg.max_epochs = 10;
        cfg.patience = patiences[k];
        bns_model m;
        assert_int_equal(bns_model_create(&cfg, 784, &m), 0);
        bns_train_history h;
        blowup_ctx c = {.blow_up_after = -1};
        if (bns_train(&m, &splits.train, &splits.val, &h, &(bns_train_hooks){.on_epoch = blow_up, .ctx = &c})) fail_msg("%s", bns_last_error());
        if (h.status != BNS_TRAIN_EARLY_STOPPED)
            fail_msg("patience %d: status %s after %d epochs", cfg.patience, bns_train_status_name(h.status), h.epochs_run);
        assert_int_equal(h.best_epoch, 1);
        assert_int_equal(h.epochs_run, 1 + cfg.patience);
        assert_memory_equal(m.params, c.snapshot[1], sizeof(float) * m.n_params);
        expect_consistent_history(&m, &h);
        for (int e = 0; e < 8; e++) free(c.snapshot[e]);
        bns_train_history_free(&h);
        bns_model_free(&m);
    }
    /* patience 0 = off: all epochs run */
    bns_config cfg;
    base_config(&cfg, "deterministic", "FC-20-10");
    cfg.lr = 1e-12;
    cfg.max_epochs = 3;
    cfg.patience = 0;
    bns_model m;
    assert_int_equal(bns_model_create(&cfg, 784, &m), 0);
    bns_train_history h;
    train_or_fail(&m, &h);
    assert_int_equal(h.status, BNS_TRAIN_MAX_EPOCHS);
    assert_int_equal(h.epochs_run, 3);
    bns_train_history_free(&h);
    bns_model_free(&m);
}

/* Mismatched data is an error, not a crash. */
static void test_train_rejects_bad_data(void **state) {
    (void)state;
    require_mnist();
    bns_config cfg;
    base_config(&cfg, "deterministic", "FC-10");
    cfg.max_epochs = 1;
    bns_model m;
    assert_int_equal(bns_model_create(&cfg, 100, &m), 0); /* expects 100 features, data has 784 */
    bns_train_history h;
    bns_clear_error();
    assert_int_equal(bns_train(&m, &splits.train, &splits.val, &h, NULL), -1);
    assert_non_null(strstr(bns_last_error(), "784"));
    bns_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic_learns),
        cmocka_unit_test(test_bbb_learns),
        cmocka_unit_test(test_reproducible),
        cmocka_unit_test(test_step_hook),
        cmocka_unit_test(test_divergence_detected),
        cmocka_unit_test(test_divergence_restores_best),
        cmocka_unit_test(test_nan_rho_detected),
        cmocka_unit_test(test_early_stopping),
        cmocka_unit_test(test_train_rejects_bad_data),
    };
    return cmocka_run_group_tests(tests, load_mnist, free_mnist);
}
