/* test_cifar.c - the CIFAR-10 binary reader and split on small synthetic
 * batch files written here (the real files are not downloadable on this
 * machine): known contents, every malformed-file case naming the file, the
 * dataset/data_path settings leaving existing task keys unchanged, the conv
 * nets built for the files' 3x32x32 shape training on them, and the
 * CIFAR-10 grayscale OOD set (ood.h) on the same files. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bnnsweep/config.h"
#include "bnnsweep/dataset.h"
#include "bnnsweep/error.h"
#include "bnnsweep/model.h"
#include "bnnsweep/ood.h"
#include "bnnsweep/spec.h"
#include "bnnsweep/train.h"

#include "test_util.h"

enum { RECORD = 3073 };

/* record i of file `seed`: label (seed + i) % 10, pixel j = (seed * 7 + i * 3 + j) % 256 */
static void write_batch(const char *name, int seed, int records, long cut, int bad_label_at) {
    char path[4200];
    tmp_path(path, sizeof path, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < records; i++) {
        uint8_t rec[RECORD];
        rec[0] = (uint8_t)(i == bad_label_at ? 10 : (seed + i) % 10);
        for (int j = 0; j < 3072; j++) rec[1 + j] = (uint8_t)((seed * 7 + i * 3 + j) % 256);
        assert_int_equal(fwrite(rec, 1, RECORD, f), RECORD);
    }
    fclose(f);
    if (cut) assert_int_equal(truncate(path, (long)records * RECORD - cut), 0);
}

static int setup(void **state) {
    (void)state;
    tmp_dir_setup("cifar");
    return 0;
}

static void test_read_known(void **state) {
    (void)state;
    write_batch("ok.bin", 3, 4, 0, -1);
    char path[4200];
    bns_dataset ds;
    assert_int_equal(bns_cifar10_read(tmp_path(path, sizeof path, "ok.bin"), 0.5f, &ds), 0);
    assert_int_equal(ds.n, 4);
    assert_int_equal(ds.d, 3072);
    assert_int_equal(ds.n_classes, 10);
    assert_string_equal(ds.name, "ok.bin");
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ds.y[i], (3 + i) % 10);
        /* the bytes in file order: red plane, green, blue (NCHW) */
        for (int j = 0; j < 3072; j += 511) assert_true(ds.x[i * 3072 + j] == 0.5f * (float)((21 + i * 3 + j) % 256));
    }
    bns_dataset_free(&ds);
}

static void test_read_malformed(void **state) {
    (void)state;
    char path[4200];
    bns_dataset ds;
    write_batch("cut.bin", 1, 3, 1, -1); /* one byte short */
    assert_int_not_equal(bns_cifar10_read(tmp_path(path, sizeof path, "cut.bin"), 1.0f, &ds), 0);
    expect_error_names(path, "truncated");
    write_batch("cut2.bin", 1, 3, RECORD - 1, -1); /* 2 records and one byte */
    assert_int_not_equal(bns_cifar10_read(tmp_path(path, sizeof path, "cut2.bin"), 1.0f, &ds), 0);
    expect_error_names(path, "2 records");
    write_batch("label.bin", 1, 3, 0, 1);
    assert_int_not_equal(bns_cifar10_read(tmp_path(path, sizeof path, "label.bin"), 1.0f, &ds), 0);
    expect_error_names(path, "label 10 of record 1");
    write_batch("empty.bin", 1, 0, 0, -1);
    assert_int_not_equal(bns_cifar10_read(tmp_path(path, sizeof path, "empty.bin"), 1.0f, &ds), 0);
    expect_error_names(path, "empty");
    assert_int_not_equal(bns_cifar10_read(tmp_path(path, sizeof path, "absent.bin"), 1.0f, &ds), 0);
    expect_error_names(path, "cannot open");
    assert_int_not_equal(bns_cifar10_read(tmp_path(path, sizeof path, "ok.bin"), 0.0f, &ds), 0);
    assert_null(ds.x);
}

static void test_load_split(void **state) {
    (void)state;
    const int rows[5] = {2, 3, 1, 2, 4};
    char name[64], dir[4200];
    for (int b = 0; b < 5; b++) {
        snprintf(name, sizeof name, "data_batch_%d.bin", b + 1);
        write_batch(name, 10 * (b + 1), rows[b], 0, -1);
    }
    write_batch("test_batch.bin", 99, 3, 0, -1);
    snprintf(dir, sizeof dir, "%s", tmp_dir);
    bns_splits s;
    assert_int_equal(bns_data_load(BNS_DATA_CIFAR10, NULL, dir, 1.0f, 0, 0, &s), 0);
    assert_int_equal(s.train.n, 8); /* batches 1-4 */
    assert_int_equal(s.val.n, 4);   /* batch 5 */
    assert_int_equal(s.test.n, 3);
    assert_string_equal(s.train.name, "cifar10-train");
    /* batches in order: train row 2 is batch 2's record 0, row 7 batch 4's record 1 */
    assert_int_equal(s.train.y[2], 20 % 10);
    assert_true(s.train.x[2 * 3072 + 5] == (float)((140 + 5) % 256));
    assert_int_equal(s.train.y[7], (40 + 1) % 10);
    assert_true(s.val.x[3 * 3072] == (float)((350 + 9) % 256));
    bns_splits_free(&s);
    assert_int_equal(bns_cifar10_load(dir, 1.0f, 3, 2, &s), 0); /* limits */
    assert_int_equal(s.train.n, 3);
    assert_int_equal(s.val.n, 2);
    assert_int_equal(s.test.n, 2);
    bns_splits_free(&s);
    /* a bad batch fails the whole load, naming the file and the data_path */
    write_batch("data_batch_3.bin", 30, 1, 5, -1);
    assert_int_not_equal(bns_cifar10_load(dir, 1.0f, 0, 0, &s), 0);
    expect_error_names("data_batch_3.bin", "data_path");
    assert_null(s.train.x);
    char path[4200];
    remove(tmp_path(path, sizeof path, "data_batch_3.bin"));
    assert_int_not_equal(bns_cifar10_load(dir, 1.0f, 0, 0, &s), 0);
    expect_error_names("data_batch_3.bin", "cannot open");
}

/* The conv nets take their input shape from the data set (3x32x32 for
 * CIFAR-10, 1x28x28 for (Fashion-)MNIST) and train on CIFAR-10 files through
 * bns_train with the sampling methods (ris, bbb): one epoch of 8 rows,
 * finite objective and parameters, and resnet20's batch-norm statistics kept. */
static void test_conv_nets_train_on_files(void **state) {
    (void)state;
    for (int b = 0; b < 5; b++) {
        char name[64];
        snprintf(name, sizeof name, "data_batch_%d.bin", b + 1);
        write_batch(name, 3 * b + 1, 2, 0, -1);
    }
    write_batch("test_batch.bin", 5, 2, 0, -1);
    assert_int_equal(bns_data_inputs(BNS_DATA_CIFAR10), 3072);
    assert_int_equal(bns_data_inputs(BNS_DATA_FASHION), 784);
    bns_splits s;
    assert_int_equal(bns_data_load(BNS_DATA_CIFAR10, NULL, tmp_dir, 1.0f / 255, 0, 0, &s), 0);
    static const struct {
        const char *arch, *method, *setting;
    } cases[] = {{"lenet", "ris", "ris_samples=2"}, {"lenet", "bbb", "samples=2"}, {"resnet20", "ris", "ris_samples=1"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bns_config cfg;
        bns_config_defaults(&cfg);
        snprintf(cfg.arch, sizeof cfg.arch, "%s", cases[i].arch);
        snprintf(cfg.method, sizeof cfg.method, "%s", cases[i].method);
        assert_int_equal(bns_config_set(&cfg, "dataset", "cifar10"), 0);
        if (strcmp(cases[i].method, "ris") == 0) bns_prior_defaults(&cfg.prior, BNS_PRIOR_GAUSSIAN);
        if (cases[i].setting) assert_int_equal(bns_config_set_assignment(&cfg, cases[i].setting), 0);
        cfg.max_epochs = 1;
        cfg.batch_size = 8;
        cfg.val_samples = 1;
        bns_model m;
        if (bns_model_create(&cfg, bns_data_inputs(cfg.dataset), &m)) fail_msg("%s", bns_last_error());
        const bns_shape in = m.arch.ops[0].in;
        assert_true(in.c == 3 && in.h == 32 && in.w == 32);
        bns_train_history h;
        if (bns_train(&m, &s.train, &s.val, &h, NULL)) fail_msg("%s %s: %s", cases[i].arch, cases[i].method, bns_last_error());
        assert_int_equal(h.epochs_run, 1);
        if (!isfinite(h.epochs[0].train_loss)) fail_msg("%s %s: loss %g", cases[i].arch, cases[i].method, h.epochs[0].train_loss);
        for (size_t k = 0; k < m.n_params; k++) assert_true(isfinite(m.params[k]));
        if (strcmp(cases[i].arch, "resnet20") == 0) assert_true(m.n_stats > 0 && m.has_stats);
        else assert_int_equal(m.n_stats, 0); /* lenet has no batch norm */
        bns_train_history_free(&h);
        bns_model_free(&m);
    }
    bns_splits_free(&s);
}

/* dataset and data_path are left out of the task key (and model file) at their defaults */
static void test_settings_keys(void **state) {
    (void)state;
    bns_config cfg;
    bns_config_defaults(&cfg);
    char key[8192];
    bns_spec_config_canonical(&cfg, key, sizeof key);
    assert_null(strstr(key, "dataset"));
    assert_null(strstr(key, "data_path"));
    assert_int_equal(bns_config_set(&cfg, "dataset", "cifar10"), 0);
    assert_int_equal(bns_config_set(&cfg, "data_path", "/x/cifar"), 0);
    assert_int_equal(cfg.dataset, BNS_DATA_CIFAR10);
    bns_spec_config_canonical(&cfg, key, sizeof key);
    assert_non_null(strstr(key, "dataset"));
    assert_non_null(strstr(key, "/x/cifar"));
    assert_int_not_equal(bns_config_set(&cfg, "dataset", "imagenet"), 0);
    assert_non_null(strstr(bns_last_error(), "dataset"));
}

/* one image whose three planes hold the same 32x32 pattern: its luma is
 * that pattern (0.299 + 0.587 + 0.114 = 1), so the 28x28 output must equal
 * the area average of the pattern itself; and a flat colour (100, 200, 50):
 * luma 29.9 + 117.4 + 5.7 = 153 everywhere */
static void test_gray_known(void **state) {
    (void)state;
    float rgb[3072], out[784], want[784];
    uint8_t pattern[1024];
    for (int i = 0; i < 1024; i++) {
        pattern[i] = (uint8_t)((i * 37 + (i / 32) * 11) % 256);
        rgb[i] = rgb[1024 + i] = rgb[2048 + i] = pattern[i];
    }
    bns_cifar10_gray_28(rgb, out);
    bns_area_downsample_28(pattern, 32, 32, want);
    for (int i = 0; i < 784; i++) assert_float_equal(out[i], want[i], 1e-4);
    for (int i = 0; i < 1024; i++) rgb[i] = 100, rgb[1024 + i] = 200, rgb[2048 + i] = 50;
    bns_cifar10_gray_28(rgb, out);
    for (int i = 0; i < 784; i++) assert_float_equal(out[i], 153.0f, 1e-3);
}

/* the OOD set from a synthetic test_batch.bin: by file and by directory,
 * through bns_ood_load, each row = bns_cifar10_gray_28 of its record times
 * the pixel scale; limit; error paths name the set */
static void test_gray_ood_set(void **state) {
    (void)state;
    write_batch("test_batch.bin", 5, 3, 0, -1);
    char path[4200];
    tmp_path(path, sizeof path, "test_batch.bin");
    bns_dataset rgb, g, by_dir;
    assert_int_equal(bns_cifar10_read(path, 1.0f, &rgb), 0);
    assert_int_equal(bns_ood_kind_needs_path("cifar10"), 1);
    assert_int_equal(bns_ood_load("cifar10", path, NULL, 0.5f, 0, 0, 1, &g), 0);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.d, 784);
    assert_int_equal(g.n_classes, 10);
    assert_string_equal(g.name, "cifar10-gray");
    float want[784];
    for (size_t i = 0; i < 3; i++) {
        bns_cifar10_gray_28(rgb.x + i * 3072, want);
        for (int j = 0; j < 784; j++) assert_float_equal(g.x[i * 784 + j], 0.5f * want[j], 1e-4);
    }
    assert_int_equal(bns_cifar10_gray_load(tmp_dir, 0.5f, 2, &by_dir), 0);
    assert_int_equal(by_dir.n, 2);
    assert_memory_equal(by_dir.x, g.x, sizeof(float) * 2 * 784);
    bns_dataset_free(&by_dir);
    bns_dataset_free(&g);
    bns_dataset_free(&rgb);
    assert_int_equal(bns_cifar10_gray_load(tmp_path(path, sizeof path, "absent"), 0.5f, 0, &g), -1);
    assert_non_null(strstr(bns_last_error(), "CIFAR-10"));
    write_batch("cut.bin", 1, 2, 7, -1);
    assert_int_equal(bns_cifar10_gray_load(tmp_path(path, sizeof path, "cut.bin"), 0.5f, 0, &g), -1);
    assert_non_null(strstr(bns_last_error(), "CIFAR-10 grayscale"));
    assert_non_null(strstr(bns_last_error(), "cut.bin"));
    assert_int_equal(bns_cifar10_gray_load(tmp_dir, 1.5f, 0, &g), -1); /* scale outside (0, 1) */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_read_known, setup),
        cmocka_unit_test_setup(test_read_malformed, setup),
        cmocka_unit_test_setup(test_load_split, setup),
        cmocka_unit_test_setup(test_settings_keys, setup),
        cmocka_unit_test_setup(test_conv_nets_train_on_files, setup),
        cmocka_unit_test(test_gray_known),
        cmocka_unit_test_setup(test_gray_ood_set, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
