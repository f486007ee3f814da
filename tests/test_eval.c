/* test_eval.c - evaluation runs, ensembles, SNR pruning and OOD sets.
 *
 * Models are small and untrained (FC-20-10 on 784 inputs, rho_init -2 so
 * that weight samples differ); inputs are uniform-noise images labelled by
 * the posterior-mean prediction, so accuracies are far from 0 and 1 and
 * differ between samples. Omniglot and notMNIST come from ../shared/data
 * (BNS_TEST_SHARED); the tests skip only if those files are absent.
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

#include "bnnsweep/error.h"
#include "bnnsweep/evaluate.h"
#include "bnnsweep/metrics.h"
#include "bnnsweep/model.h"
#include "bnnsweep/nn.h"
#include "bnnsweep/ood.h"
#include "bnnsweep/prior.h"

static void make_model(bns_model *m, const char *arch, double rho_init) {
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.method, sizeof cfg.method, "bbb");
    snprintf(cfg.arch, sizeof cfg.arch, "%s", arch);
    cfg.rho_init = rho_init;
    cfg.seed = 7;
    if (bns_model_create(&cfg, 784, m)) fail_msg("bns_model_create: %s", bns_last_error());
}

/* uniform-noise images labelled by the mean-weight prediction */
static void make_set(const bns_model *m, size_t n, bns_dataset *set) {
    if (bns_noise_images(BNS_NOISE_UNIFORM, n, 3, BNS_PIXEL_SCALE_0_2, set)) fail_msg("%s", bns_last_error());
    bns_predictor p;
    bns_predictor_init(&p, m);
    float *probs = malloc(sizeof(float) * n * 10);
    bns_predict_probs(&p, m, set->x, n, 0, NULL, 0, probs);
    bns_argmax_rows(probs, (int)n, 10, set->y);
    free(probs);
    bns_predictor_free(&p);
}

static void test_ensemble_of_one_is_single_sample(void **state) {
    (void)state;
    bns_model m;
    bns_dataset set;
    make_model(&m, "FC-20-10", -2.0);
    make_set(&m, 600, &set);
    bns_predictor p;
    bns_predictor_init(&p, &m);
    float *probs = malloc(sizeof(float) * set.n * 10);
    bns_stream stream = bns_stream_make(m.cfg.seed, 11, BNS_PURPOSE_PREDICT);
    enum { R = 6 };
    bns_run_metrics single[R], ens[R];
    bns_run_summary s_single, s_ens;
    bns_eval_single_sample(&p, &m, &set, R, &stream, 0, probs, single, &s_single);
    bns_eval_runs(&p, &m, &set, 1, R, &stream, 0, probs, ens, &s_ens);
    assert_int_equal(s_single.runs, R);
    assert_true(s_single.mean.acc == s_ens.mean.acc && s_single.std.acc == s_ens.std.acc);
    for (int r = 0; r < R; r++)
        assert_true(single[r].acc == ens[r].acc && single[r].nll == ens[r].nll && single[r].ece == ens[r].ece);
    /* the runs really use samples 0..R-1, and they differ */
    int differ = 0;
    for (int r = 0; r < R; r++) {
        bns_predict_probs(&p, &m, set.x, set.n, 1, &stream, (uint64_t)r, probs);
        assert_true(bns_accuracy_of_probs(probs, set.y, set.n, 10) == single[r].acc);
        differ |= single[r].acc != single[0].acc;
    }
    assert_true(differ);
    assert_true(s_single.std.acc > 0 && s_single.mean.acc > 0.2 && s_single.mean.acc < 0.99);
    /* N = 3: run r uses samples [3r, 3r + 3), disjoint */
    bns_run_metrics three[2];
    bns_run_summary s_three;
    bns_eval_runs(&p, &m, &set, 3, 2, &stream, 0, probs, three, &s_three);
    bns_predict_probs(&p, &m, set.x, set.n, 3, &stream, 3, probs);
    assert_true(bns_accuracy_of_probs(probs, set.y, set.n, 10) == three[1].acc);
    /* sample std over runs */
    double mean = 0, ss = 0;
    for (int r = 0; r < R; r++) mean += single[r].acc / R;
    for (int r = 0; r < R; r++) ss += (single[r].acc - mean) * (single[r].acc - mean);
    assert_true(fabs(s_single.std.acc - sqrt(ss / (R - 1))) < 1e-12);
    free(probs);
    bns_predictor_free(&p);
    bns_dataset_free(&set);
    bns_model_free(&m);
}

static void test_pruning_counts_and_order(void **state) {
    (void)state;
    bns_model m;
    make_model(&m, "FC-20-10", -3.0);
    const bns_arch *a = &m.arch;
    size_t n = a->n_weights, n_w = bns_arch_matrix_weights(a);
    assert_int_equal(n_w, 784 * 20 + 20 * 10);
    float *mu = m.params, *rho = m.params + n;
    /* ties: a block of identical SNRs in each layer */
    for (size_t i = 100; i < 400; i++) mu[i] = 0.01f, rho[i] = -3.0f;
    for (size_t i = a->weight_offset[1]; i < a->weight_offset[1] + 50; i++) mu[i] = 0.01f, rho[i] = -3.0f;
    uint8_t *mask = malloc(n);
    const double rates[] = {0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98, 1.0, 0.001};
    for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
        size_t pruned = 0, zeros = 0;
        assert_int_equal(bns_snr_mask(&m, rates[k], mask, &pruned), 0);
        size_t expect = (size_t)floor(rates[k] * n_w + 0.5);
        assert_int_equal(pruned, expect);
        for (size_t i = 0; i < n; i++) zeros += !mask[i];
        assert_int_equal(zeros, expect);
        double max_pruned = -1, min_kept = INFINITY;
        size_t max_pruned_i = 0, min_kept_i = 0;
        for (int l = 0; l < a->n_layers; l++) {
            for (size_t i = a->bias_offset[l]; i < a->bias_offset[l] + (size_t)a->width[l + 1]; i++)
                assert_int_equal(mask[i], 1); /* biases are kept */
            for (size_t i = a->weight_offset[l]; i < a->bias_offset[l]; i++) {
                double snr = fabs(mu[i]) / bns_softplus(rho[i]);
                if (!mask[i] && (snr > max_pruned || (snr == max_pruned && i > max_pruned_i)))
                    max_pruned = snr, max_pruned_i = i;
                if (mask[i] && (snr < min_kept || (snr == min_kept && i < min_kept_i))) min_kept = snr, min_kept_i = i;
            }
        }
        if (expect > 0 && expect < n_w) { /* lowest SNR pruned; ties by lower index */
            assert_true(max_pruned <= min_kept);
            if (max_pruned == min_kept) assert_true(max_pruned_i < min_kept_i);
        }
    }
    assert_int_equal(bns_snr_mask(&m, 1.5, mask, NULL), -1);
    free(mask);
    bns_model_free(&m);
}

static void test_mask_zeroes_sampled_weights(void **state) {
    (void)state;
    bns_model m;
    bns_dataset set;
    make_model(&m, "FC-20-10", -2.0);
    make_set(&m, 50, &set);
    size_t n = m.arch.n_weights;
    uint8_t *mask = malloc(n);
    assert_int_equal(bns_snr_mask(&m, 0.5, mask, NULL), 0);
    bns_predictor p;
    bns_predictor_init(&p, &m);
    p.mask = mask;
    bns_stream stream = bns_stream_make(1, 2, BNS_PURPOSE_PREDICT);
    float *probs = malloc(sizeof(float) * 50 * 10), *ref = malloc(sizeof(float) * 50 * 10);
    float *w = malloc(sizeof(float) * n);
    bns_predict_probs(&p, &m, set.x, 50, 1, &stream, 4, probs);
    bns_model_sample_weights(&m, &stream, 4, w);
    size_t nonzero_before = 0;
    for (size_t i = 0; i < n; i++) {
        if (mask[i]) {
            assert_true(p.w[i] == w[i]);
        } else {
            nonzero_before += w[i] != 0.0f;
            assert_true(p.w[i] == 0.0f && !signbit(p.w[i]));
            w[i] = 0.0f;
        }
    }
    assert_true(nonzero_before > 0);
    /* the predictions are those of the masked weights */
    bns_mlp_workspace ws;
    bns_mlp_workspace_init(&ws, &m.arch, 50);
    bns_softmax(bns_mlp_forward(&m.arch, w, set.x, 50, &ws), 50, 10, ref);
    for (int i = 0; i < 500; i++) assert_true(probs[i] == ref[i]);
    bns_mlp_workspace_free(&ws);
    free(w);
    free(ref);
    free(probs);
    free(mask);
    bns_predictor_free(&p);
    bns_dataset_free(&set);
    bns_model_free(&m);
}

static void test_noise_sets(void **state) {
    (void)state;
    bns_dataset a, b, c;
    for (int kind = BNS_NOISE_GAUSSIAN; kind <= BNS_NOISE_UNIFORM; kind++) {
        assert_int_equal(bns_noise_images(kind, 200, 5, BNS_PIXEL_SCALE_0_2, &a), 0);
        assert_int_equal(bns_noise_images(kind, 200, 5, BNS_PIXEL_SCALE_0_2, &b), 0);
        assert_int_equal(bns_noise_images(kind, 200, 6, BNS_PIXEL_SCALE_0_2, &c), 0);
        assert_int_equal(a.n, 200);
        assert_int_equal(a.d, 784);
        assert_memory_equal(a.x, b.x, sizeof(float) * 200 * 784);
        assert_true(memcmp(a.x, c.x, sizeof(float) * 200 * 784) != 0);
        double sum = 0;
        size_t at_zero = 0, at_top = 0, total = 200 * 784;
        for (size_t i = 0; i < total; i++) {
            assert_true(a.x[i] >= 0.0f && a.x[i] <= 2.0f);
            sum += a.x[i];
            at_zero += a.x[i] == 0.0f;
            at_top += a.x[i] == 2.0f;
        }
        assert_true(fabs(sum / total - 1.0) < 0.02); /* both have mean intensity 0.5 */
        if (kind == BNS_NOISE_GAUSSIAN) {         /* N(0.5, 1) clipped: P(z < -0.5) = 0.3085 at each end */
            assert_true(fabs((double)at_zero / total - 0.3085) < 0.01);
            assert_true(fabs((double)at_top / total - 0.3085) < 0.01);
        } else {
            assert_true(at_zero == 0 && at_top < 10);
        }
        bns_dataset_free(&a);
        bns_dataset_free(&b);
        bns_dataset_free(&c);
    }
}

static void test_area_downsample(void **state) {
    (void)state;
    uint8_t *img = malloc(105 * 105);
    float out[784];
    memset(img, 200, 105 * 105);
    bns_area_downsample_28(img, 105, 105, out);
    for (int i = 0; i < 784; i++) assert_true(fabsf(out[i] - 200.0f) < 1e-3f);
    /* 56x56 of 2x2 blocks: each output pixel is its block's mean */
    for (int y = 0; y < 56; y++)
        for (int x = 0; x < 56; x++) img[y * 56 + x] = (uint8_t)((x + 3 * y) % 251);
    bns_area_downsample_28(img, 56, 56, out);
    for (int oy = 0; oy < 28; oy++)
        for (int ox = 0; ox < 28; ox++) {
            const uint8_t *b = img + 2 * oy * 56 + 2 * ox;
            assert_true(fabsf(out[oy * 28 + ox] - (b[0] + b[1] + b[56] + b[57]) / 4.0f) < 1e-3f);
        }
    free(img);
}

static const char *shared_path(const char *rel, char *buf, size_t size) {
    const char *root = getenv("BNS_TEST_SHARED");
    snprintf(buf, size, "%s/%s", root ? root : "../shared", rel);
    return buf;
}

static void test_omniglot_loader(void **state) {
    (void)state;
    char path[4096];
    shared_path("data/omniglot/images_background_small1.zip", path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        print_message("skipping: %s is absent\n", path);
        skip();
    }
    fclose(f);
    bns_dataset o;
    if (bns_omniglot_load(path, BNS_PIXEL_SCALE_0_2, 0, &o)) fail_msg("%s", bns_last_error());
    assert_int_equal(o.n, 2720);
    assert_int_equal(o.d, 784);
    size_t dark_border = 0;
    for (size_t i = 0; i < o.n; i++) {
        const float *x = o.x + i * 784;
        double sum = 0;
        float hi = 0;
        for (int j = 0; j < 784; j++) {
            assert_true(x[j] >= 0.0f && x[j] <= 2.0f);
            sum += x[j];
            hi = x[j] > hi ? x[j] : hi;
        }
        assert_true(sum / 784 < 0.5); /* dark background ... */
        assert_true(hi > 1.0f);        /* ... with bright strokes */
        dark_border += x[0] == 0.0f && x[27] == 0.0f && x[27 * 28] == 0.0f && x[783] == 0.0f;
    }
    assert_true(dark_border > o.n * 9 / 10);
    bns_dataset_free(&o);
    assert_int_equal(bns_omniglot_load(path, BNS_PIXEL_SCALE_0_2, 100, &o), 0);
    assert_int_equal(o.n, 100);
    bns_dataset_free(&o);
    assert_int_equal(bns_omniglot_load("/nonexistent/omniglot.zip", BNS_PIXEL_SCALE_0_2, 0, &o), -1);
    assert_non_null(strstr(bns_last_error(), "does not exist"));
}

static void test_notmnist_loader(void **state) {
    (void)state;
    char path[4096];
    shared_path("data/notmnist", path, sizeof path);
    FILE *f = fopen(shared_path("data/notmnist/t10k-images-idx3-ubyte.gz", path, sizeof path), "rb");
    if (!f) skip();
    fclose(f);
    bns_dataset s;
    shared_path("data/notmnist", path, sizeof path);
    if (bns_notmnist_load(path, BNS_PIXEL_SCALE_0_2, 500, &s)) fail_msg("%s", bns_last_error());
    assert_int_equal(s.n, 500);
    double sum = 0;
    for (size_t i = 0; i < 500 * 784; i++) {
        assert_true(s.x[i] >= 0.0f && s.x[i] <= 2.0f);
        sum += s.x[i];
    }
    assert_true(sum / (500 * 784) < 1.0); /* bright letters on dark, like MNIST */
    bns_dataset_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ensemble_of_one_is_single_sample),
        cmocka_unit_test(test_pruning_counts_and_order),
        cmocka_unit_test(test_mask_zeroes_sampled_weights),
        cmocka_unit_test(test_noise_sets),
        cmocka_unit_test(test_area_downsample),
        cmocka_unit_test(test_omniglot_loader),
        cmocka_unit_test(test_notmnist_loader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
