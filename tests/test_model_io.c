/* test_model_io.c - HDF5 model files (model_io.h) and settings parsing (config.h).
 *
 * Nothing is trained: models get random parameters and a made-up history,
 * go through save + load, and must come back bit for bit with every config
 * field and the history intact. Files are written atomically (no temporary
 * left behind). Every failure (missing file, not HDF5, HDF5 but not a model,
 * a model with a dataset missing, an unwritable destination) must return -1
 * with a message that names the path. Scratch files go to $BNS_TEST_TMP.
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
#include <hdf5.h>
#include <hdf5_hl.h>

#include "bnnsweep/config.h"
#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/model.h"
#include "bnnsweep/model_io.h"
#include "bnnsweep/predict.h"
#include "bnnsweep/rng.h"
#include "bnnsweep/train.h"



static int setup_tmp(void **state) {
    (void)state;
    const char *base = getenv("BNS_TEST_TMP");
    if (base && base[0]) snprintf(tmp_dir, sizeof tmp_dir, "%s/test_model_io", base);
    else snprintf(tmp_dir, sizeof tmp_dir, "/tmp/bnnsweep-test_model_io.%ld", (long)getpid());
    mkdir_p(tmp_dir);
    return 0;
}




/* A config with every field away from its default, so that a field the
 * writer or reader forgets cannot round-trip by accident. */
static void distinctive_config(bns_config *cfg, const char *method) {
    bns_config_defaults(cfg);
    snprintf(cfg->arch, sizeof cfg->arch, "FC-7-5-4");
    snprintf(cfg->method, sizeof cfg->method, "%s", method);
    int gaussian = strcmp(method, "lrt") == 0;
    bns_prior_defaults(&cfg->prior, gaussian ? BNS_PRIOR_GAUSSIAN : BNS_PRIOR_MIXTURE);
    cfg->prior.pi = 0.3125;
    cfg->prior.sigma1 = 0.41;
    cfg->prior.sigma2 = 1.0 / 3.0; /* needs 17 digits */
    cfg->prior.sigma = 0.77;
    cfg->rho_init = -4.25;
    cfg->init_std = 0.05;
    cfg->l2_lambda = 1e-4;
    cfg->samples = 3;
    cfg->reduction = BNS_REDUCE_SUM;
    cfg->optimizer = BNS_OPT_ADAM;
    cfg->lr = 0.0123456789012345;
    cfg->momentum = 0.9;
    cfg->beta1 = 0.85;
    cfg->beta2 = 0.9995;
    cfg->adam_eps = 1e-7;
    cfg->batch_size = 64;
    cfg->max_epochs = 7;
    cfg->patience = 2;
    cfg->val_samples = 4;
    cfg->pixel_scale = 1.0 / 255.0;
    cfg->train_limit = 12345;
    cfg->seed = (1ull << 63) + 5; /* above INT64_MAX: must survive as unsigned */
    cfg->task = 0xfedcba9876543210ull;
}

static void fake_history(bns_train_history *h) {
    memset(h, 0, sizeof *h);
    h->status = BNS_TRAIN_EARLY_STOPPED;
    h->epochs_run = 3;
    h->best_epoch = 2;
    h->best_val_acc = 0.9137;
    snprintf(h->message, sizeof h->message, "no validation improvement for 1 epochs");
    h->epochs = calloc(3, sizeof *h->epochs);
    for (int e = 0; e < 3; e++) {
        bns_epoch_record *r = &h->epochs[e];
        r->train_loss = 1.0 / (e + 1.5);
        r->train_nll = 0.9 / (e + 1.7);
        r->train_kl = 1234.5 + e;
        r->train_acc = 0.8 + 0.01 * e;
        r->val_acc = 0.85 + 0.031 * e;
        r->seconds = 2.25 * (e + 1);
        r->val_seconds = 0.125 + e;
    }
}

static void expect_same_config(const bns_config *a, const bns_config *b) {
    for (const bns_config_field *f = bns_config_fields(); f->name; f++) {
        char x[256], y[256];
        bns_config_format_field(a, f, x, sizeof x);
        bns_config_format_field(b, f, y, sizeof y);
        if (strcmp(x, y) != 0) fail_msg("config field %s: saved %s, loaded %s", f->name, x, y);
    }
}

static void round_trip(const char *method) {
    bns_config cfg;
    distinctive_config(&cfg, method);
    bns_model m;
    if (bns_model_create(&cfg, 9, &m)) fail_msg("%s: %s", method, bns_last_error());
    bns_stream s = bns_stream_make(99, 1, BNS_PURPOSE_DATA);
    bns_stream_normal(&s, 0, 0, m.n_params, m.params);
    /* values whose bits a lossy path would change */
    m.params[0] = -0.0f;
    m.params[1] = 1e-40f; /* subnormal */
    m.params[2] = 3.4e38f;
    m.params[m.n_params - 1] = 0.1f;
    bns_train_history h, h2;
    fake_history(&h);
    char path[4200];
    snprintf(path, sizeof path, "%s/model-%s.h5", tmp_dir, method);
    unlink(path);
    if (bns_model_save(path, &m, &h)) fail_msg("save: %s", bns_last_error());
    expect_no_temporaries();
    /* overwriting an existing file works the same way */
    if (bns_model_save(path, &m, &h)) fail_msg("save again: %s", bns_last_error());
    expect_no_temporaries();

    bns_model l;
    if (bns_model_load(path, &l, &h2)) fail_msg("load: %s", bns_last_error());
    assert_string_equal(l.method->name, method);
    assert_int_equal(l.n_params, m.n_params);
    assert_int_equal(l.arch.n_layers, m.arch.n_layers);
    for (int i = 0; i <= m.arch.n_layers; i++) assert_int_equal(l.arch.width[i], m.arch.width[i]);
    assert_memory_equal(l.params, m.params, sizeof(float) * m.n_params);
    expect_same_config(&m.cfg, &l.cfg);
    assert_memory_equal(&l.cfg.prior, &m.cfg.prior, sizeof m.cfg.prior);
    assert_true(l.cfg.seed == cfg.seed && l.cfg.task == cfg.task && l.cfg.lr == cfg.lr);

    assert_int_equal(h2.status, h.status);
    assert_int_equal(h2.epochs_run, h.epochs_run);
    assert_int_equal(h2.best_epoch, h.best_epoch);
    assert_true(h2.best_val_acc == h.best_val_acc);
    assert_string_equal(h2.message, h.message);
    assert_memory_equal(h2.epochs, h.epochs, 3 * sizeof *h.epochs);

    /* history is optional on load */
    bns_model l2;
    if (bns_model_load(path, &l2, NULL)) fail_msg("load without history: %s", bns_last_error());
    assert_memory_equal(l2.params, m.params, sizeof(float) * m.n_params);
    bns_model_free(&l2);

    /* and on save */
    char path2[4300];
    snprintf(path2, sizeof path2, "%s/model-%s-nohist.h5", tmp_dir, method);
    if (bns_model_save(path2, &m, NULL)) fail_msg("save without history: %s", bns_last_error());
    if (bns_model_load(path2, &l2, NULL)) fail_msg("load of a file without history: %s", bns_last_error());
    assert_memory_equal(l2.params, m.params, sizeof(float) * m.n_params);
    bns_model_free(&l2);

    bns_model_free(&l);
    bns_model_free(&m);
    bns_train_history_free(&h);
    bns_train_history_free(&h2);
}

static void test_round_trip_deterministic(void **state) {
    (void)state;
    round_trip("deterministic");
}

static void test_round_trip_bbb(void **state) {
    (void)state;
    round_trip("bbb");
}

static void test_round_trip_lrt(void **state) {
    (void)state;
    round_trip("lrt");
}

/* An empty history (diverged in epoch 1: epochs_run 0) also round-trips. */
static void test_round_trip_empty_history(void **state) {
    (void)state;
    bns_config cfg;
    distinctive_config(&cfg, "bbb");
    bns_model m, l;
    assert_int_equal(bns_model_create(&cfg, 4, &m), 0);
    bns_train_history h = {0}, h2;
    h.status = BNS_TRAIN_DIVERGED;
    snprintf(h.message, sizeof h.message, "loss became non-finite at epoch 1, step 3");
    char path[4200];
    tmp_path(path, sizeof path, "empty-history.h5");
    if (bns_model_save(path, &m, &h)) fail_msg("save: %s", bns_last_error());
    if (bns_model_load(path, &l, &h2)) fail_msg("load: %s", bns_last_error());
    assert_int_equal(h2.status, BNS_TRAIN_DIVERGED);
    assert_int_equal(h2.epochs_run, 0);
    assert_int_equal(h2.best_epoch, 0);
    assert_string_equal(h2.message, h.message);
    assert_memory_equal(l.params, m.params, sizeof(float) * m.n_params);
    bns_model_free(&m);
    bns_model_free(&l);
    bns_train_history_free(&h2);
}

static void test_load_errors(void **state) {
    (void)state;
    char path[4200];
    bns_model m;
    bns_train_history h;

    /* missing */
    tmp_path(path, sizeof path, "does-not-exist.h5");
    unlink(path);
    bns_clear_error();
    assert_int_equal(bns_model_load(path, &m, &h), -1);
    expect_error_names(path, NULL);
    assert_null(m.params);

    /* not HDF5 */
    tmp_path(path, sizeof path, "garbage.h5");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 4096; i++) fputc((i * 7919) & 0xff, f);
    fclose(f);
    bns_clear_error();
    assert_int_equal(bns_model_load(path, &m, NULL), -1);
    expect_error_names(path, NULL);

    /* empty file */
    tmp_path(path, sizeof path, "empty.h5");
    f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    bns_clear_error();
    assert_int_equal(bns_model_load(path, &m, NULL), -1);
    expect_error_names(path, NULL);

    /* HDF5, but not a model */
    tmp_path(path, sizeof path, "other.h5");
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(file >= 0);
    float data[3] = {1, 2, 3};
    hsize_t dims = 3;
    assert_true(H5LTmake_dataset_float(file, "data", 1, &dims, data) >= 0);
    assert_true(H5LTset_attribute_string(file, "/", "format", "something-else") >= 0);
    H5Fclose(file);
    bns_clear_error();
    assert_int_equal(bns_model_load(path, &m, NULL), -1);
    expect_error_names(path, "not a bnnsweep model");

    /* a model with one parameter dataset removed */
    bns_config cfg;
    distinctive_config(&cfg, "bbb");
    bns_model good;
    assert_int_equal(bns_model_create(&cfg, 5, &good), 0);
    tmp_path(path, sizeof path, "damaged.h5");
    assert_int_equal(bns_model_save(path, &good, NULL), 0);
    file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(file >= 0);
    assert_true(H5Ldelete(file, "/layers/1/bias_rho", H5P_DEFAULT) >= 0);
    H5Fclose(file);
    bns_clear_error();
    assert_int_equal(bns_model_load(path, &m, NULL), -1);
    expect_error_names(path, "bias_rho");
    assert_null(m.params);

    /* a model asked for a history it does not have */
    assert_int_equal(bns_model_save(path, &good, NULL), 0);
    bns_clear_error();
    assert_int_equal(bns_model_load(path, &m, &h), -1);
    expect_error_names(path, "training");

    /* a model whose config holds an invalid setting */
    file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(file >= 0);
    hid_t g = H5Gopen2(file, "config", H5P_DEFAULT);
    assert_true(g >= 0);
    H5Adelete(g, "prior");
    assert_true(H5LTset_attribute_string(g, ".", "prior", "laplace") >= 0);
    H5Gclose(g);
    H5Fclose(file);
    bns_clear_error();
    assert_int_equal(bns_model_load(path, &m, NULL), -1);
    expect_error_names(path, "laplace");
    bns_model_free(&good);
}

/* Non-finite parameters (a diverged run): a file holding a NaN or an inf
 * is refused on load with a message naming the file and the dataset, and
 * such a model is never written. */
static void poison_dataset(const char *path, const char *name, size_t index, float value) {
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(file >= 0);
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    assert_true(d >= 0);
    hid_t space = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    assert_true(n > (hssize_t)index);
    float *data = malloc(sizeof(float) * (size_t)n);
    assert_true(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    data[index] = value;
    assert_true(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    free(data);
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(file);
}

static void test_nonfinite_params(void **state) {
    (void)state;
    bns_config cfg;
    distinctive_config(&cfg, "bbb");
    bns_model good, m;
    assert_int_equal(bns_model_create(&cfg, 5, &good), 0);
    char path[4200];
    tmp_path(path, sizeof path, "nonfinite.h5");
    const struct {
        const char *dataset;
        size_t index;
        float value;
        const char *want;
    } cases[] = {
        {"/layers/1/bias_rho", 2, NAN, "/layers/1/bias_rho[2] = nan"},
        {"/layers/0/weight_mu", 7, INFINITY, "/layers/0/weight_mu[7] = inf"},
        {"/layers/0/weight_rho", 0, -INFINITY, "/layers/0/weight_rho[0] = -inf"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        assert_int_equal(bns_model_save(path, &good, NULL), 0);
        assert_int_equal(bns_model_load(path, &m, NULL), 0); /* the clean file loads */
        bns_model_free(&m);
        poison_dataset(path, cases[k].dataset, cases[k].index, cases[k].value);
        bns_clear_error();
        assert_int_equal(bns_model_load(path, &m, NULL), -1);
        expect_error_names(path, cases[k].want);
        expect_error_names(path, "not finite");
        assert_null(m.params);
    }

    /* saving: refused, no file and no temporary left */
    unlink(path);
    good.params[good.n_params - 1] = NAN;
    bns_clear_error();
    assert_int_equal(bns_model_save(path, &good, NULL), -1);
    expect_error_names(path, "not finite");
    assert_int_equal(access(path, F_OK), -1);
    expect_no_temporaries();
    bns_model_free(&good);
}

/* A version-1 file (written before the posterior interface: no n_inputs or
 * capabilities attribute) still loads, for each method's layout; a version
 * this build does not know is refused with a message naming it. */
static void test_format_versions(void **state) {
    (void)state;
    const char *methods[] = {"deterministic", "bbb", "lrt"};
    for (int k = 0; k < 3; k++) {
        bns_config cfg;
        distinctive_config(&cfg, methods[k]);
        bns_model m, l;
        assert_int_equal(bns_model_create(&cfg, 7, &m), 0);
        char path[4200];
        tmp_path(path, sizeof path, "version1.h5");
        assert_int_equal(bns_model_save(path, &m, NULL), 0);
        hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        assert_true(file >= 0);
        int one = 1;
        assert_true(H5Adelete(file, "n_inputs") >= 0);
        assert_true(H5Adelete(file, "capabilities") >= 0);
        assert_true(H5LTset_attribute_int(file, "/", "format_version", &one, 1) >= 0);
        H5Fclose(file);
        if (bns_model_load(path, &l, NULL)) fail_msg("%s version 1: %s", methods[k], bns_last_error());
        assert_int_equal(l.arch.n_inputs, 7); /* from the first weight block's rows */
        assert_int_equal(l.n_params, m.n_params);
        assert_memory_equal(l.params, m.params, sizeof(float) * m.n_params);
        bns_model_free(&l);

        file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        int future = 99;
        assert_true(H5LTset_attribute_int(file, "/", "format_version", &future, 1) >= 0);
        H5Fclose(file);
        bns_clear_error();
        assert_int_equal(bns_model_load(path, &l, NULL), -1);
        expect_error_names(path, "format version 99");
        assert_null(l.params);
        bns_model_free(&m);
    }
}

static void test_save_errors(void **state) {
    (void)state;
    bns_config cfg;
    distinctive_config(&cfg, "deterministic");
    bns_model m;
    assert_int_equal(bns_model_create(&cfg, 5, &m), 0);
    char path[4400], file_path[4200];

    /* directory missing */
    tmp_path(path, sizeof path, "no-such-dir/model.h5");
    bns_clear_error();
    assert_int_equal(bns_model_save(path, &m, NULL), -1);
    expect_error_names(path, NULL);

    /* a "directory" that is a regular file (fails even for root) */
    tmp_path(file_path, sizeof file_path, "plain-file");
    FILE *f = fopen(file_path, "wb");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/model.h5", file_path);
    bns_clear_error();
    assert_int_equal(bns_model_save(path, &m, NULL), -1);
    expect_error_names(path, NULL);

    /* a read-only directory (root ignores permissions: checked only for others) */
    if (geteuid() != 0) {
        char ro[4200];
        tmp_path(ro, sizeof ro, "read-only");
        mkdir_p(ro);
        assert_int_equal(chmod(ro, 0555), 0);
        snprintf(path, sizeof path, "%s/model.h5", ro);
        bns_clear_error();
        assert_int_equal(bns_model_save(path, &m, NULL), -1);
        expect_error_names(path, NULL);
        chmod(ro, 0755);
    }
    expect_no_temporaries();
    bns_model_free(&m);
}

/* ---- settings ---- */

static void expect_set_error(const char *key, const char *value, const char *want) {
    bns_config cfg, before;
    bns_config_defaults(&cfg);
    before = cfg;
    bns_clear_error();
    if (bns_config_set(&cfg, key, value) != -1) fail_msg("set %s=%s was accepted", key, value);
    const char *msg = bns_last_error();
    if (!strstr(msg, key)) fail_msg("error \"%s\" does not name the key %s", msg, key);
    if (want && !strstr(msg, want)) fail_msg("error \"%s\" lacks \"%s\"", msg, want);
    assert_memory_equal(&cfg, &before, sizeof cfg); /* a rejected value changes nothing */
}

static void test_config_set_errors(void **state) {
    (void)state;
    expect_set_error("no_such_key", "1", "unknown");
    expect_set_error("lr", "abc", "abc");
    expect_set_error("lr", "0.1x", "0.1x");
    expect_set_error("lr", "", NULL);
    expect_set_error("lr", "1e999", "1e999");
    expect_set_error("lr", "nan", "nan");
    expect_set_error("batch_size", "99999999999", "out of range");
    expect_set_error("batch_size", "2.5", "2.5");
    expect_set_error("samples", "", NULL);
    expect_set_error("seed", "-1", "-1");
    expect_set_error("seed", "12x", "12x");
    expect_set_error("train_limit", "ten", "ten");
    expect_set_error("prior", "laplace", "laplace");
    expect_set_error("reduction", "median", "mean, sum"); /* lists the choices */
    expect_set_error("optimizer", "rmsprop", "sgd, adam");
    expect_set_error("arch", "", NULL);
    char longval[200];
    memset(longval, 'x', sizeof longval - 1);
    longval[sizeof longval - 1] = '\0';
    expect_set_error("arch", longval, NULL);
}

static void test_config_set_values(void **state) {
    (void)state;
    bns_config cfg;
    bns_config_defaults(&cfg);
    assert_int_equal(bns_config_set_assignment(&cfg, "train.lr=0.01"), 0);
    assert_true(cfg.lr == 0.01);
    assert_int_equal(bns_config_set_assignment(&cfg, "samples=4"), 0);
    assert_int_equal(cfg.samples, 4);
    assert_int_equal(bns_config_set_assignment(&cfg, "model.prior=gaussian"), 0);
    assert_int_equal(cfg.prior.kind, BNS_PRIOR_GAUSSIAN);
    assert_int_equal(bns_config_set(&cfg, "reduction", "sum"), 0);
    assert_int_equal(cfg.reduction, BNS_REDUCE_SUM);
    assert_int_equal(bns_config_set(&cfg, "seed", "18446744073709551615"), 0);
    assert_true(cfg.seed == UINT64_MAX);
    assert_int_equal(bns_config_set(&cfg, "rho_init", "-30"), 0);
    assert_true(cfg.rho_init == -30.0);
    assert_int_equal(bns_config_set(&cfg, "arch", "FC-200-200-10"), 0);
    assert_string_equal(cfg.arch, "FC-200-200-10");
    bns_clear_error();
    assert_int_equal(bns_config_set_assignment(&cfg, "lr"), -1);
    assert_int_equal(bns_config_set_assignment(&cfg, "=5"), -1);
    assert_int_equal(bns_config_set_assignment(&cfg, "train.nope=5"), -1);
    assert_non_null(strstr(bns_last_error(), "nope"));

    /* every field's text form parses back to the same value */
    const char *methods[] = {"deterministic", "bbb", "lrt"};
    for (int k = 0; k < 3; k++) {
        bns_config a, b;
        distinctive_config(&a, methods[k]);
        bns_config_defaults(&b);
        for (const bns_config_field *f = bns_config_fields(); f->name; f++) {
            char text[256];
            bns_config_format_field(&a, f, text, sizeof text);
            if (bns_config_set(&b, f->name, text)) fail_msg("%s=%s does not parse back: %s", f->name, text, bns_last_error());
            assert_non_null(bns_config_field_find(f->name));
        }
        expect_same_config(&a, &b);
        assert_memory_equal(&a.prior, &b.prior, sizeof a.prior);
        assert_true(a.lr == b.lr && a.seed == b.seed && a.task == b.task && a.pixel_scale == b.pixel_scale);
    }
}

static void expect_create_error(const char *method, int prior, const char *arch, const char *want) {
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.method, sizeof cfg.method, "%s", method);
    bns_prior_defaults(&cfg.prior, prior);
    snprintf(cfg.arch, sizeof cfg.arch, "%s", arch);
    bns_model m;
    bns_clear_error();
    if (bns_model_create(&cfg, 784, &m) != -1) fail_msg("method %s arch %s was accepted", method, arch);
    assert_null(m.params);
    if (want && !strstr(bns_last_error(), want)) fail_msg("error \"%s\" lacks \"%s\"", bns_last_error(), want);
}

static void test_model_create_errors(void **state) {
    (void)state;
    expect_create_error("lrt", BNS_PRIOR_MIXTURE, "FC-10", "gaussian");
    expect_create_error("nosuchmethod", BNS_PRIOR_MIXTURE, "FC-10", "nosuchmethod");
    expect_create_error("nosuchmethod", BNS_PRIOR_MIXTURE, "FC-10", "bbb"); /* lists the known ones */
    expect_create_error("bbb", BNS_PRIOR_MIXTURE, "FC-", "FC-");
    expect_create_error("bbb", BNS_PRIOR_MIXTURE, "FC-10-x", "FC-10-x");
    expect_create_error("bbb", BNS_PRIOR_MIXTURE, "FC-0-10", "FC-0-10");
    expect_create_error("deterministic", BNS_PRIOR_MIXTURE, "FC-10--3", "FC-10--3");
    expect_create_error("deterministic", BNS_PRIOR_MIXTURE, "FC-1-1-1-1-1-1-1-1-1-10", NULL); /* > 8 layers */
    /* invalid numeric settings */
    bns_config cfg;
    bns_model m;
    bns_config_defaults(&cfg);
    cfg.samples = 0;
    assert_int_equal(bns_model_create(&cfg, 784, &m), -1);
    bns_config_defaults(&cfg);
    cfg.lr = -1;
    assert_int_equal(bns_model_create(&cfg, 784, &m), -1);
    bns_config_defaults(&cfg);
    cfg.prior.pi = 1.0;
    assert_int_equal(bns_model_create(&cfg, 784, &m), -1);
    /* and the good ones work, with the documented parameter counts */
    bns_config_defaults(&cfg);
    snprintf(cfg.arch, sizeof cfg.arch, "FC-100-100-10");
    assert_int_equal(bns_model_create(&cfg, 784, &m), 0);
    assert_int_equal(m.arch.n_weights, 784 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10);
    assert_int_equal(m.n_params, 2 * m.arch.n_weights);
    /* init: biases' mu = 0, rho = rho_init, |mu| <= 2 std (METHODS.md s.1) */
    double std = bns_init_std(&cfg);
    for (int l = 0; l < m.arch.n_layers; l++) {
        for (size_t i = m.arch.weight_offset[l]; i < m.arch.bias_offset[l]; i++)
            assert_true(fabs(m.params[i]) <= 2 * std * (1 + 1e-6));
        for (int j = 0; j < m.arch.width[l + 1]; j++) assert_true(m.params[m.arch.bias_offset[l] + j] == 0.0f);
    }
    for (size_t i = 0; i < m.arch.n_weights; i++) assert_true(m.params[m.arch.n_weights + i] == (float)cfg.rho_init);
    bns_model_free(&m);
    snprintf(cfg.arch, sizeof cfg.arch, "FC-10");
    snprintf(cfg.method, sizeof cfg.method, "deterministic");
    assert_int_equal(bns_model_create(&cfg, 784, &m), 0);
    assert_int_equal(m.n_params, 7850);
    bns_model_free(&m);
}

/* Batch norm's kept statistics: bns_net_stats_estimate gives the mean over
 * full chunks of each chunk's mean and unbiased variance (closed form on a
 * lone batch-norm layer); a trained resnet20's statistics survive save +
 * load bit for bit, and with them a row's prediction is the same alone and
 * in a batch (without them it is not: batch statistics of one row). */
static void test_bn_stats(void **state) {
    (void)state;
    enum { C = 2, P = 3, CHUNK = 4, ROWS = 2 * CHUNK + 1 };
    bns_arch a;
    bns_arch_begin(&a, (bns_shape){C, 1, P});
    assert_int_equal(bns_arch_add_simple(&a, &bns_layer_batchnorm), 0);
    assert_int_equal((int)bns_net_stats_floats(&a), 2 * C);
    float w[2 * C] = {1.5f, 0.5f, 0.25f, -1.0f}, x[ROWS * C * P], stats[2 * C];
    for (int i = 0; i < ROWS * C * P; i++) x[i] = (float)((i * 37) % 11) - 3.0f + (i % 2 ? 2.0f : 0.0f);
    bns_net_workspace ws;
    bns_net_workspace_init(&ws, &a, CHUNK);
    bns_net_stats_estimate(&a, w, x, ROWS, &ws, stats);
    for (int c = 0; c < C; c++) {
        double want_mean = 0, want_var = 0;
        for (int k = 0; k < 2; k++) { /* the last, one-row chunk is skipped */
            double s1 = 0, s2 = 0, m = CHUNK * P;
            for (int n = k * CHUNK; n < (k + 1) * CHUNK; n++)
                for (int p = 0; p < P; p++) s1 += x[(n * C + c) * P + p];
            for (int n = k * CHUNK; n < (k + 1) * CHUNK; n++)
                for (int p = 0; p < P; p++) s2 += pow(x[(n * C + c) * P + p] - s1 / m, 2);
            want_mean += s1 / m / 2, want_var += s2 / (m - 1) / 2;
        }
        assert_true(fabs(stats[c] - want_mean) < 1e-5);
        assert_true(fabs(stats[C + c] - want_var) < 1e-4);
    }
    bns_net_workspace_free(&ws);

    /* a resnet20 on 8x8x1 inputs, random weights, statistics from 40 rows */
    enum { N = 40, D = 64 };
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.arch, sizeof cfg.arch, "resnet20");
    snprintf(cfg.method, sizeof cfg.method, "bbb");
    bns_model m, back;
    assert_int_equal(bns_model_create(&cfg, D, &m), 0);
    assert_true(m.n_stats > 0 && !m.has_stats);
    bns_dataset train = {.n = N, .d = D, .n_classes = 10};
    train.x = malloc(sizeof(float) * N * D);
    for (int i = 0; i < N * D; i++) train.x[i] = (float)((i * 7919) % 255) / 127.5f;
    char path[4096];
    tmp_path(path, sizeof path, "bn_none.h5");
    assert_int_equal(bns_model_save(path, &m, NULL), 0); /* none estimated: none written, none loaded */
    assert_int_equal(bns_model_load(path, &back, NULL), 0);
    assert_false(back.has_stats);
    bns_model_free(&back);
    bns_model_estimate_stats(&m, &train);
    assert_true(m.has_stats);
    tmp_path(path, sizeof path, "bn_stats.h5");
    assert_int_equal(bns_model_save(path, &m, NULL), 0);
    assert_int_equal(bns_model_load(path, &back, NULL), 0);
    assert_true(back.has_stats);
    assert_int_equal(back.n_stats, m.n_stats);
    assert_memory_equal(back.stats, m.stats, sizeof(float) * m.n_stats);

    /* predictions (posterior mean and 2 samples): row 3 alone = row 3 of the batch */
    bns_predictor pred;
    float probs[N * 10], one[10];
    bns_stream stream = bns_stream_make(1, 0, BNS_PURPOSE_PREDICT);
    for (int samples = 0; samples <= 2; samples += 2) {
        bns_predictor_init(&pred, &back);
        bns_predict_probs(&pred, &back, train.x, N, samples, &stream, 0, probs);
        bns_predict_probs(&pred, &back, train.x + 3 * D, 1, samples, &stream, 0, one);
        for (int k = 0; k < 10; k++) assert_true(fabs(one[k] - probs[3 * 10 + k]) < 1e-5);
        bns_predictor_free(&pred);
    }
    back.has_stats = 0; /* batch statistics: a lone row's prediction changes */
    bns_predictor_init(&pred, &back);
    bns_predict_probs(&pred, &back, train.x, N, 0, &stream, 0, probs);
    bns_predict_probs(&pred, &back, train.x + 3 * D, 1, 0, &stream, 0, one);
    double diff = 0;
    for (int k = 0; k < 10; k++) diff += fabs(one[k] - probs[3 * 10 + k]);
    assert_true(diff > 1e-3);
    bns_predictor_free(&pred);
    bns_model_free(&back);

    /* a statistics dataset missing or misshapen: an error naming it */
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(file >= 0);
    assert_true(H5Ldelete(file, "layers/1/running_var", H5P_DEFAULT) >= 0);
    H5Fclose(file);
    assert_int_not_equal(bns_model_load(path, &back, NULL), 0);
    assert_non_null(strstr(bns_last_error(), "missing"));
    file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hsize_t three = 3;
    assert_true(H5LTmake_dataset_float(file, "layers/1/running_var", 1, &three, stats) >= 0);
    H5Fclose(file);
    assert_int_not_equal(bns_model_load(path, &back, NULL), 0);
    assert_non_null(strstr(bns_last_error(), "layers/1/running_var"));
    free(train.x);
    bns_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_deterministic),
        cmocka_unit_test(test_round_trip_bbb),
        cmocka_unit_test(test_round_trip_lrt),
        cmocka_unit_test(test_round_trip_empty_history),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_nonfinite_params),
        cmocka_unit_test(test_format_versions),
        cmocka_unit_test(test_save_errors),
        cmocka_unit_test(test_config_set_errors),
        cmocka_unit_test(test_config_set_values),
        cmocka_unit_test(test_model_create_errors),
        cmocka_unit_test(test_bn_stats),
    };
    return cmocka_run_group_tests(tests, setup_tmp, NULL);
}
