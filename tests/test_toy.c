/* test_toy.c - the 1-D regression toy (toy1d.c, METHODS.md s.12): the
 * targets are the formula of Blundell et al. applied to the keyed stream's
 * own numbers, the draw is reproducible by key and changes with it, the
 * splits have the documented ranges and sizes, and the settings that
 * choose the toy (dataset toy1d, noise_std) are checked with errors that
 * name them. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bnnsweep/config.h"
#include "bnnsweep/dataset.h"
#include "bnnsweep/error.h"
#include "bnnsweep/model.h"
#include "bnnsweep/rng.h"
#include "bnnsweep/train.h"

#define PI 3.14159265358979323846

static void test_formula_and_key(void **state) {
    (void)state;
    enum { N = 500 };
    bns_dataset a, b, c;
    assert_int_equal(bns_toy1d_make(7, 3, 0, N, 0.0, 0.5, 0, &a), 0);
    assert_true(a.n == N && a.d == 1 && a.n_classes == 1 && a.y == NULL && a.t != NULL);
    /* the stream's own numbers: x = 0.5 u, e = 0.02 z (uniforms at 0.., normals at N..) */
    bns_stream s = bns_stream_make(7, 3, BNS_PURPOSE_DATA);
    float u[N], z[N];
    bns_stream_uniform(&s, 0, 0, N, u);
    bns_stream_normal(&s, 0, N, N, z);
    double e_sq = 0, resid_sq = 0;
    for (int i = 0; i < N; i++) {
        double x = 0.5 * u[i], e = 0.02 * z[i];
        double y = x + 0.3 * sin(2 * PI * (x + e)) + 0.3 * sin(4 * PI * (x + e)) + e;
        assert_true(a.x[i] >= 0.0f && a.x[i] <= 0.5f);
        assert_true(fabs(a.x[i] - x) < 1e-7 && fabs(a.t[i] - y) < 1e-6);
        e_sq += e * e;
        double clean = x + 0.3 * sin(2 * PI * x) + 0.3 * sin(4 * PI * x);
        resid_sq += (a.t[i] - clean) * (a.t[i] - clean);
    }
    /* the noise is e ~ N(0, 0.02^2): its sample std is 0.02 within 10%, and it
     * reaches the targets (they are not the clean curve) */
    assert_true(fabs(sqrt(e_sq / N) - 0.02) < 0.002);
    assert_true(sqrt(resid_sq / N) > 0.02);
    /* the same key draws the same set; another seed or substream another */
    assert_int_equal(bns_toy1d_make(7, 3, 0, N, 0.0, 0.5, 0, &b), 0);
    assert_memory_equal(a.x, b.x, sizeof(float) * N);
    assert_memory_equal(a.t, b.t, sizeof(float) * N);
    bns_dataset_free(&b);
    assert_int_equal(bns_toy1d_make(8, 3, 0, N, 0.0, 0.5, 0, &b), 0);
    assert_int_equal(bns_toy1d_make(7, 3, 1, N, 0.0, 0.5, 0, &c), 0);
    assert_true(memcmp(a.x, b.x, sizeof(float) * N) != 0 && memcmp(a.x, c.x, sizeof(float) * N) != 0);
    /* a slice keeps the real targets */
    bns_dataset sl;
    assert_int_equal(bns_dataset_slice(&a, 10, 5, &sl), 0);
    assert_null(sl.y);
    assert_memory_equal(sl.t, a.t + 10, 5 * sizeof(float));
    bns_dataset_free(&sl);
    bns_dataset_free(&a);
    bns_dataset_free(&b);
    bns_dataset_free(&c);
}

static void test_splits_and_errors(void **state) {
    (void)state;
    bns_splits sp;
    assert_int_equal(bns_data_load(BNS_DATA_TOY1D, NULL, NULL, 1.0f, 0, 0, &sp), 0);
    assert_int_equal(sp.train.n, 1000);
    assert_int_equal(sp.val.n, 200);
    assert_int_equal(sp.test.n, 281);
    /* the grid: [-0.2, 1.2] in steps of 0.005, the noiseless curve */
    assert_true(fabsf(sp.test.x[0] + 0.2f) < 1e-7f && fabsf(sp.test.x[280] - 1.2f) < 1e-6f);
    assert_true(fabsf(sp.test.x[240] - 1.0f) < 1e-6f);
    double x = sp.test.x[240];
    assert_true(fabs(sp.test.t[240] - (x + 0.3 * sin(2 * PI * x) + 0.3 * sin(4 * PI * x))) < 1e-6);
    /* validation is another draw than training */
    assert_true(memcmp(sp.train.x, sp.val.x, sizeof(float) * 200) != 0);
    bns_splits_free(&sp);
    assert_int_equal(bns_data_load(BNS_DATA_TOY1D, NULL, NULL, 1.0f, 50, 11, &sp), 0);
    assert_true(sp.train.n == 50 && sp.test.n == 11 && fabsf(sp.test.x[5] - 0.5f) < 1e-6f);
    bns_splits_free(&sp);

    bns_dataset d;
    assert_int_not_equal(bns_toy1d_make(1, 0, 0, 0, 0.0, 0.5, 0, &d), 0);
    assert_non_null(strstr(bns_last_error(), "toy1d"));
    assert_int_not_equal(bns_toy1d_make(1, 0, 0, 10, 0.5, 0.5, 0, &d), 0);
    assert_non_null(strstr(bns_last_error(), "x range"));
}

static void test_settings(void **state) {
    (void)state;
    bns_config cfg;
    bns_model m;
    bns_config_defaults(&cfg);
    assert_int_equal(bns_config_set(&cfg, "arch", "FC-20-1"), 0);
    assert_int_equal(bns_config_set(&cfg, "noise_std", "0.1"), 0);
    assert_int_not_equal(bns_model_alloc(&cfg, 1, &m), 0); /* noise_std without the toy */
    assert_non_null(strstr(bns_last_error(), "noise_std"));
    assert_int_equal(bns_config_set(&cfg, "noise_std", "-1"), 0);
    assert_int_equal(bns_config_set(&cfg, "dataset", "toy1d"), 0);
    assert_int_not_equal(bns_model_alloc(&cfg, 1, &m), 0);
    assert_non_null(strstr(bns_last_error(), "noise_std"));
    assert_int_equal(bns_config_set(&cfg, "noise_std", "0.1"), 0);
    assert_int_equal(bns_model_alloc(&cfg, 1, &m), 0);
    assert_string_equal(m.likelihood.name, "gaussian");
    assert_true(m.likelihood.noise_std == 0.1);
    bns_model_free(&m);
    assert_int_equal(bns_config_set(&cfg, "noise_std", "0"), 0); /* 0: the toy's own 0.02 */
    assert_int_equal(bns_model_alloc(&cfg, 1, &m), 0);
    assert_true(m.likelihood.noise_std == 0.02);
    bns_model_free(&m);
    assert_int_equal(bns_config_set(&cfg, "method", "alpha"), 0);
    assert_int_not_equal(bns_model_alloc(&cfg, 1, &m), 0);
    assert_non_null(strstr(bns_last_error(), "toy1d"));
}

/* A classification model refuses the toy's real targets, and a regression
 * model trained on them fits inside the data: the validation score (minus
 * the RMSE) ends above what the untrained network scores. */
static void test_train(void **state) {
    (void)state;
    bns_config cfg;
    bns_config_defaults(&cfg);
    assert_int_equal(bns_config_set(&cfg, "arch", "FC-1"), 0);
    assert_int_equal(bns_config_set(&cfg, "method", "deterministic"), 0);
    bns_splits sp;
    assert_int_equal(bns_toy1d_load(0, 0, 200, 0, &sp), 0);
    bns_model m;
    bns_train_history h;
    assert_int_equal(bns_model_create(&cfg, 1, &m), 0);
    assert_int_not_equal(bns_train(&m, &sp.train, &sp.val, &h, NULL), 0);
    assert_non_null(strstr(bns_last_error(), "class-label"));
    bns_model_free(&m);

    assert_int_equal(bns_config_set(&cfg, "dataset", "toy1d"), 0);
    assert_int_equal(bns_config_set(&cfg, "arch", "FC-50-1"), 0);
    assert_int_equal(bns_config_set(&cfg, "optimizer", "adam"), 0);
    assert_int_equal(bns_config_set(&cfg, "lr", "0.01"), 0);
    assert_int_equal(bns_config_set(&cfg, "batch_size", "50"), 0);
    assert_int_equal(bns_config_set(&cfg, "patience", "0"), 0);
    assert_int_equal(bns_config_set(&cfg, "max_epochs", "1"), 0);
    assert_int_equal(bns_model_create(&cfg, 1, &m), 0);
    assert_int_equal(bns_train(&m, &sp.train, &sp.val, &h, NULL), 0);
    double first = h.epochs[0].val_acc;
    bns_train_history_free(&h);
    bns_model_free(&m);
    assert_int_equal(bns_config_set(&cfg, "max_epochs", "100"), 0);
    assert_int_equal(bns_model_create(&cfg, 1, &m), 0);
    assert_int_equal(bns_train(&m, &sp.train, &sp.val, &h, NULL), 0);
    assert_true(h.best_val_acc < 0 && h.best_val_acc > first);
    /* the noise reaches y through the sines too: the fit cannot beat ~0.05 */
    assert_true(-h.best_val_acc < 0.15 && -h.best_val_acc > 0.03);
    bns_train_history_free(&h);
    bns_model_free(&m);
    bns_splits_free(&sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formula_and_key),
        cmocka_unit_test(test_splits_and_errors),
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_train),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
