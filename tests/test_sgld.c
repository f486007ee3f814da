/* test_sgld.c - the sgld method (src/methods/sgld.c, METHODS.md s.9).
 *
 * The Langevin update rule on a known density (N(m, s^2)): its iterates
 * have that mean and variance, and without noise it is gradient ascent to
 * the mode; the ESS estimator on a series whose ESS is known; the method on
 * an MNIST subset (accuracy, the number of kept samples, sample k = stored
 * iterate k, the ring order, the model file round trip); and a sweep mixing
 * bbb and sgld models through the runner (test set, FGSM, Gaussian OOD). */
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
#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/model_io.h"
#include "bnnsweep/plan.h"
#include "bnnsweep/runner.h"
#include "bnnsweep/sgld.h"
#include "bnnsweep/spec.h"
#include "bnnsweep/train.h"
#include "test_util.h"
#include "test_sweep_util.h"

/* ---- the update rule on N(M, S^2): grad log p = -(theta - M) / S^2 ---- */

#define M 3.0
#define S 2.0

static void gaussian_grad(const float *theta, size_t n, float *g) {
    for (size_t i = 0; i < n; i++) g[i] = (float)(-(theta[i] - M) / (S * S));
}

/* CHAINS independent chains (normal i of each step's substream drives chain
 * i) from 0; after STEPS steps (the start forgotten: (1 - eps / 2S^2)^STEPS =
 * e^-15) their states are independent draws from the chain's stationary
 * law, the AR(1) with phi = 1 - eps / (2 S^2) and innovation variance eps:
 * mean M, variance eps / (1 - phi^2) = S^2 / (1 - eps / (4 S^2)) (4.01: the
 * discretisation's excess, below the tolerance but used exactly). Both
 * moments must agree within 4 standard errors (a 6e-5 false-alarm rate
 * each); Welling & Teh's noise N(0, eps) is what this fixes: the other
 * convention's N(0, 2 eps) would double the variance (~45 standard errors). */
static void test_update_samples_gaussian(void **state) {
    (void)state;
    enum { CHAINS = 4000, STEPS = 3000 };
    const double eps = 0.04;
    float *theta = calloc(CHAINS, sizeof(float)), *g = malloc(sizeof(float) * CHAINS);
    bns_stream stream = bns_stream_make(11, 0, BNS_PURPOSE_DATA);
    for (uint64_t t = 1; t <= STEPS; t++) {
        gaussian_grad(theta, CHAINS, g);
        bns_sgld_update(theta, g, CHAINS, eps, &stream, t, 1, theta);
    }
    double mean = 0, var = 0;
    for (int i = 0; i < CHAINS; i++) mean += theta[i];
    mean /= CHAINS;
    for (int i = 0; i < CHAINS; i++) var += (theta[i] - mean) * (theta[i] - mean);
    var /= CHAINS - 1;
    double expect_var = S * S / (1.0 - eps / (4 * S * S));
    double z_mean = (mean - M) / sqrt(expect_var / CHAINS);
    double z_var = (var - expect_var) / (expect_var * sqrt(2.0 / (CHAINS - 1)));
    if (fabs(z_mean) > 4 || fabs(z_var) > 4)
        fail_msg("chains: mean %.4f (z %.2f), variance %.4f vs %.4f (z %.2f)", mean, z_mean, var, expect_var, z_var);
    free(theta);
    free(g);
}

/* One chain, thinned, its mean tested with the ESS the method's diagnostic
 * computes: phi = 0.9 gives ESS = n (1 - phi) / (1 + phi) = n / 19 exactly
 * for the AR(1); the estimate must be within 30% of it, and the time
 * average within 4 standard errors of M using the estimate. */
static void test_single_chain_with_ess(void **state) {
    (void)state;
    enum { N = 40000, BURN = 200 };
    const double eps = 0.2 * S * S; /* phi = 1 - eps / (2 S^2) = 0.9 */
    const double phi = 0.9, stationary_var = eps / (1 - phi * phi);
    double *x = malloc(sizeof(double) * N);
    float theta = 0, g;
    bns_stream stream = bns_stream_make(12, 0, BNS_PURPOSE_DATA);
    for (uint64_t t = 1; t <= BURN + N; t++) {
        gaussian_grad(&theta, 1, &g);
        bns_sgld_update(&theta, &g, 1, eps, &stream, t, 1, &theta);
        if (t > BURN) x[t - BURN - 1] = theta;
    }
    double ess = bns_effective_sample_size(x, N), expect = N * (1 - phi) / (1 + phi);
    if (fabs(ess / expect - 1) > 0.3) fail_msg("ESS %.0f, expected %.0f", ess, expect);
    double mean = 0;
    for (int i = 0; i < N; i++) mean += x[i];
    mean /= N;
    double z = (mean - M) / sqrt(stationary_var / ess);
    if (fabs(z) > 4) fail_msg("time average %.4f (z %.2f with ESS %.0f)", mean, z, ess);
    /* independent draws: ESS near n; a constant series: n */
    bns_stream_normal(&stream, 999, 0, 1, &theta);
    for (int i = 0; i < 2000; i++) {
        float u;
        bns_stream_normal(&stream, 1000, (uint64_t)i, 1, &u);
        x[i] = u;
    }
    ess = bns_effective_sample_size(x, 2000);
    if (ess < 1600 || ess > 2500) fail_msg("ESS of white noise %.0f of 2000", ess);
    for (int i = 0; i < 100; i++) x[i] = 1.5;
    assert_true(bns_effective_sample_size(x, 100) == 100.0);
    free(x);
}

/* Without noise the update is gradient ascent with step eps / 2 (bit for
 * bit), so it converges to the mode M; with noise it adds sqrt(eps) z. */
static void test_noise_off_is_gradient_ascent(void **state) {
    (void)state;
    enum { N = 5 };
    const double eps = 0.04;
    float theta[N] = {-4, 0, 1, 7, 30}, g[N], out[N], noisy[N], z[N];
    bns_stream stream = bns_stream_make(13, 0, BNS_PURPOSE_DATA);
    gaussian_grad(theta, N, g);
    bns_sgld_update(theta, g, N, eps, &stream, 1, 0, out);
    bns_sgld_update(theta, g, N, eps, &stream, 1, 1, noisy);
    bns_stream_normal(&stream, 1, 0, N, z);
    for (int i = 0; i < N; i++) {
        float expect = theta[i] + (float)(0.5 * eps) * g[i];
        assert_memory_equal(&out[i], &expect, sizeof(float));
        assert_true(fabsf(noisy[i] - out[i] - (float)sqrt(eps) * z[i]) < 1e-5f);
        assert_true(noisy[i] != out[i]);
    }
    for (uint64_t t = 1; t <= 3000; t++) { /* contraction 0.995 per step: e^-15 of the start */
        gaussian_grad(theta, N, g);
        bns_sgld_update(theta, g, N, eps, &stream, t, 0, theta);
    }
    for (int i = 0; i < N; i++)
        if (fabsf(theta[i] - (float)M) > 1e-3f) fail_msg("chain %d ended at %g, not the mode %g", i, theta[i], M);
}

/* ---- the method on MNIST ---- */

static bns_splits splits;
static int have_mnist;
static char mnist_error[512];

static void require_mnist(void) {
    if (!have_mnist)
        fail_msg("MNIST is not available (%s): run `bash src/scripts/fetch-data.sh` to download it", mnist_error);
}

static void sgld_config(bns_config *cfg, int samples) {
    bns_config_defaults(cfg);
    snprintf(cfg->method, sizeof cfg->method, "sgld");
    snprintf(cfg->arch, sizeof cfg->arch, "FC-100-10");
    cfg->max_epochs = 6;
    cfg->batch_size = 100; /* 5000 rows: 50 steps an epoch, 300 in all */
    cfg->patience = 0;
    char text[32];
    snprintf(text, sizeof text, "%d", samples);
    if (bns_config_set(cfg, "sgld_lr", "0.5") || bns_config_set(cfg, "sgld_burn_in", "100") ||
        bns_config_set(cfg, "sgld_thin", "10") || bns_config_set(cfg, "sgld_samples", text))
        fail_msg("%s", bns_last_error());
}

static const bns_param_block *find_block(const bns_param_block *b, int n, const char *path) {
    for (int i = 0; i < n; i++)
        if (!strcmp(b[i].path, path)) return &b[i];
    fail_msg("no parameter block %s", path);
    return NULL;
}

static void train_model(int samples, bns_model *m, bns_train_history *h) {
    bns_config cfg;
    sgld_config(&cfg, samples);
    if (bns_model_create(&cfg, 784, m)) fail_msg("%s", bns_last_error());
    if (bns_train(m, &splits.train, &splits.val, h, NULL)) fail_msg("%s", bns_last_error());
}

static void test_mnist(void **state) {
    (void)state;
    require_mnist();
    /* settings are checked */
    bns_config bad;
    sgld_config(&bad, 8);
    assert_int_equal(bns_config_set(&bad, "sgld_thin", "0"), 0);
    bns_model m;
    assert_int_not_equal(bns_model_create(&bad, 784, &m), 0);
    assert_non_null(strstr(bns_last_error(), "sgld_thin"));

    /* the same chain stored in a ring of 8 (full) and in one of 25 (not full) */
    bns_model b;
    bns_train_history h, hb;
    train_model(8, &m, &h);
    train_model(25, &b, &hb);
    size_t nw = m.arch.n_weights;
    assert_int_equal(m.n_params, 9 * nw + 2 * 8 + 5);
    assert_int_equal(h.epochs_run, 6);
    bns_param_block blocks[BNS_MAX_PARAM_BLOCKS], bblocks[BNS_MAX_PARAM_BLOCKS];
    int nb = bns_model_param_blocks(&m, blocks), nbb = bns_model_param_blocks(&b, bblocks);
    const float *st = m.params + find_block(blocks, nb, "sgld/state")->offset;
    const float *bst = b.params + find_block(bblocks, nbb, "sgld/state")->offset;
    /* steps 110, 120, ..., 300 kept: 20 iterates; the ring keeps the last 8 in order */
    assert_true(st[0] == 8.0f && st[1] == 0.0f && st[2] == 20.0f);
    assert_true(bst[0] == 20.0f && bst[1] == 0.0f && bst[2] == 20.0f);
    assert_true(st[3] > 0 && st[3] <= 8 * log10(8.0) + 1e-3 && st[4] > 0 && st[4] <= 8 * log10(8.0) + 1e-3);
    assert_memory_equal(m.params, b.params, sizeof(float) * nw); /* the chain does not depend on the store */
    const bns_param_block *sw = find_block(blocks, nb, "samples/weights");
    assert_int_equal(sw->rank, 2);
    assert_int_equal(sw->dims[0], 8);
    assert_int_equal(sw->dims[1], nw);
    assert_int_equal(sw->compress, 1);
    const float *rows = m.params + sw->offset, *brows = b.params + find_block(bblocks, nbb, "samples/weights")->offset;
    const float *nll = m.params + find_block(blocks, nb, "sgld/sample_nll")->offset;
    const float *bnll = b.params + find_block(bblocks, nbb, "sgld/sample_nll")->offset;
    const float *norm = m.params + find_block(blocks, nb, "sgld/sample_norm")->offset;
    float *w = malloc(sizeof(float) * nw);
    bns_stream stream = bns_stream_make(1, 0, BNS_PURPOSE_PREDICT);
    for (int k = 0; k < 16; k++) {
        /* sample k = stored row k mod 8 = iterate 12 + k mod 8 of the unfull store */
        bns_model_sample_weights(&m, &stream, (uint64_t)k, w);
        assert_memory_equal(w, rows + (size_t)(k % 8) * nw, sizeof(float) * nw);
        assert_memory_equal(w, brows + (size_t)(12 + k % 8) * nw, sizeof(float) * nw);
        if (k < 8) {
            assert_true(nll[k] == bnll[12 + k] && nll[k] > 0 && isfinite(nll[k]));
            double sq = 0;
            for (size_t i = 0; i < nw; i++) sq += (double)w[i] * w[i];
            assert_true(fabs(sqrt(sq) - norm[k]) < 1e-4 * norm[k]);
        }
    }
    /* the last kept iterate is the one after step 300: the final (point) weights,
     * so training kept its final state rather than the best epoch's */
    assert_memory_equal(rows + 7 * nw, m.params, sizeof(float) * nw);
    assert_ptr_equal(bns_model_mean(&m), m.params);
    assert_memory_not_equal(rows, rows + nw, sizeof(float) * nw); /* the chain moved */
    /* accuracy: 10-sample ensemble (samples 0..9) on the 2000 validation rows */
    double acc = bns_validation_accuracy(&m, &splits.val);
    if (acc < 0.85) fail_msg("sgld reached only %.4f validation accuracy", acc);

    /* the model file: every block back bit for bit; the samples chunked and deflated */
    char path[4096];
    tmp_path(path, sizeof path, "sgld.h5");
    if (bns_model_save(path, &m, &h)) fail_msg("%s", bns_last_error());
    bns_model back;
    if (bns_model_load(path, &back, NULL)) fail_msg("%s", bns_last_error());
    assert_int_equal(back.n_params, m.n_params);
    assert_memory_equal(back.params, m.params, sizeof(float) * m.n_params);
    bns_model_sample_weights(&back, &stream, 5, w);
    assert_memory_equal(w, rows + 5 * nw, sizeof(float) * nw);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    char caps[64] = "";
    assert_true(H5LTget_attribute_string(f, "/", "capabilities", caps) >= 0);
    assert_string_equal(caps, "stochastic");
    hid_t d = H5Dopen2(f, "samples/weights", H5P_DEFAULT), p = H5Dget_create_plist(d);
    assert_int_equal(H5Pget_layout(p), H5D_CHUNKED);
    assert_true(H5Pget_nfilters(p) == 2);
    H5Pclose(p);
    H5Dclose(d);
    d = H5Dopen2(f, "layers/0/weight", H5P_DEFAULT), p = H5Dget_create_plist(d);
    assert_int_equal(H5Pget_layout(p), H5D_CONTIGUOUS); /* blocks without the flag: as before */
    H5Pclose(p);
    H5Dclose(d);
    H5Fclose(f);
    expect_no_temporaries();
    free(w);
    bns_model_free(&back);
    bns_model_free(&b);
    bns_model_free(&m);
    bns_train_history_free(&h);
    bns_train_history_free(&hb);
}

/* ---- a sweep of bbb and sgld models through the runner ---- */

static const char *mixed_sweep =
    "name: sgld-sweep\n"
    "seed: 5\n"
    "data: {train_limit: 2000, test_limit: 200}\n"
    "train: {max_epochs: 2, patience: 0, val_samples: 2, batch_size: 100}\n"
    "models:\n"
    "  bnn:  {method: bbb, arch: FC-20-10}\n"
    "  sgld: {method: sgld, arch: FC-20-10, sgld_lr: 0.5, sgld_burn_in: 10, sgld_thin: 5, sgld_samples: 6}\n"
    "attacks:\n"
    "  fgsm: {sources: bnn, eps: 0.1}\n"
    "evaluations:\n"
    "  robustness: {models: [bnn, sgld], sets: [test, fgsm], runs: 3}\n"
    "  ensembles:  {models: [bnn, sgld], sets: [test], ensemble: [1, 4], runs: 2}\n"
    "  ood:        {models: [bnn, sgld], ood: [gaussian], scores: [entropy, bald], samples: 4}\n";

static void test_sweep(void **state) {
    (void)state;
    require_mnist();
    bns_spec spec;
    bns_plan plan;
    if (bns_spec_load_text("sgld.yaml", mixed_sweep, NULL, 0, &spec)) fail_msg("%s", bns_last_error());
    if (bns_plan_build(&spec, &plan)) fail_msg("%s", bns_last_error());
    assert_int_equal(plan.count[BNS_TASK_TRAIN], 2);
    char cube[4200];
    run_sweep_in_process(&spec, &plan, "sgld-run", cube, sizeof cube);
    hid_t f = H5Fopen(cube, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    char *methods[2] = {0}, *caps[2] = {0};
    read_cube_strings(f, "model_method", methods);
    read_cube_strings(f, "model_capabilities", caps);
    int s = -1;
    for (int i = 0; i < 2; i++)
        if (!strcmp(methods[i], "sgld")) s = i;
    assert_true(s >= 0);
    assert_string_equal(caps[s], "stochastic");
    /* accuracy [model, set]: test, val, fgsm */
    hsize_t dims[3];
    assert_true(H5LTget_dataset_info(f, "accuracy", dims, NULL, NULL) >= 0);
    assert_int_equal(dims[0], 2);
    double *acc = malloc(sizeof(double) * dims[0] * dims[1]);
    assert_true(H5LTread_dataset_double(f, "accuracy", acc) >= 0);
    for (hsize_t j = 0; j < dims[1]; j++) {
        double v = acc[(size_t)s * dims[1] + j];
        if (j != 1 && !(v > 0.1 && v <= 1.0)) fail_msg("sgld accuracy on set %d: %g", (int)j, v);
    }
    assert_true(acc[(size_t)s * dims[1]] > 0.6); /* the test set */
    /* ensembles [model, set, n_ensemble] and the OOD AUROCs are finite for sgld */
    assert_true(H5LTget_dataset_info(f, "ensemble_accuracy", dims, NULL, NULL) >= 0);
    double *ens = malloc(sizeof(double) * dims[0] * dims[1] * dims[2]);
    assert_true(H5LTread_dataset_double(f, "ensemble_accuracy", ens) >= 0);
    for (hsize_t e = 0; e < dims[2]; e++) assert_true(isfinite(ens[(size_t)s * dims[1] * dims[2] + e]));
    int rank;
    assert_true(H5LTget_dataset_ndims(f, "auroc", &rank) >= 0);
    hsize_t od[4] = {0};
    assert_true(H5LTget_dataset_info(f, "auroc", od, NULL, NULL) >= 0);
    size_t total = 1;
    for (int i = 0; i < rank; i++) total *= od[i];
    double *auroc = malloc(sizeof(double) * total);
    assert_true(H5LTread_dataset_double(f, "auroc", auroc) >= 0);
    int finite = 0;
    for (size_t i = 0; i < total / od[0]; i++) {
        double v = auroc[(size_t)s * (total / od[0]) + i];
        if (isfinite(v)) {
            assert_true(v >= 0 && v <= 1);
            finite++;
        }
    }
    assert_true(finite >= 2); /* entropy and BALD on the Gaussian set */
    for (int i = 0; i < 2; i++) {
        free(methods[i]);
        free(caps[i]);
    }
    free(auroc);
    free(ens);
    free(acc);
    H5Fclose(f);
    bns_plan_free(&plan);
    bns_spec_free(&spec);
}

static int setup(void **state) {
    (void)state;
    tmp_dir_setup("sgld");
    return 0;
}

static int load_mnist(void **state) {
    (void)state;
    if (bns_mnist_load(NULL, BNS_PIXEL_SCALE_0_2, 5000, 2000, &splits) == 0) have_mnist = 1;
    else snprintf(mnist_error, sizeof mnist_error, "%s", bns_last_error());
    return 0;
}

static int free_mnist(void **state) {
    (void)state;
    if (have_mnist) bns_splits_free(&splits);
    return 0;
}

int main(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_samples_gaussian),
        cmocka_unit_test(test_single_chain_with_ess),
        cmocka_unit_test(test_noise_off_is_gradient_ascent),
        cmocka_unit_test_setup(test_mnist, setup),
        cmocka_unit_test_setup(test_sweep, setup),
    };
    return cmocka_run_group_tests(tests, load_mnist, free_mnist);
}
