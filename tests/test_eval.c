/* test_eval.c - evaluation runs, ensembles, SNR pruning, OOD sets, and the
 * evaluation pipeline (eval_pipeline.h) against those primitives.
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
#include <jansson.h>

#include "bnnsweep/error.h"
#include "bnnsweep/eval_pipeline.h"
#include "bnnsweep/evaluate.h"
#include "bnnsweep/metrics.h"
#include "bnnsweep/model.h"
#include "bnnsweep/nn.h"
#include "bnnsweep/ood.h"
#include "bnnsweep/prior.h"

static void make_model_method(bns_model *m, const char *method, const char *arch, double rho_init) {
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.method, sizeof cfg.method, "%s", method);
    snprintf(cfg.arch, sizeof cfg.arch, "%s", arch);
    cfg.rho_init = rho_init;
    cfg.seed = 7;
    if (bns_model_create(&cfg, 784, m)) fail_msg("bns_model_create: %s", bns_last_error());
}

static void make_model(bns_model *m, const char *arch, double rho_init) { make_model_method(m, "bbb", arch, rho_init); }

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
    bns_net_workspace ws;
    bns_net_workspace_init(&ws, &m.arch, 50);
    bns_softmax(bns_net_forward(&m.arch, w, set.x, 50, &ws), 50, 10, ref);
    for (int i = 0; i < 500; i++) assert_true(probs[i] == ref[i]);
    bns_net_workspace_free(&ws);
    free(w);
    free(ref);
    free(probs);
    free(mask);
    bns_predictor_free(&p);
    bns_dataset_free(&set);
    bns_model_free(&m);
}

/* The sample cache (predict.h) gives bit-identical predictions: fresh,
 * cached, past its capacity, under a pruning mask (which must not leak into
 * the cached sample), and after rebinding to another stream or owner. */
static void test_sample_cache_is_bit_identical(void **state) {
    (void)state;
    bns_model m;
    bns_dataset set;
    make_model(&m, "FC-20-10", -2.0);
    make_set(&m, 120, &set);
    size_t n = m.arch.n_weights, out = set.n * 10;
    bns_stream stream = bns_stream_make(m.cfg.seed, 11, BNS_PURPOSE_PREDICT), other = bns_stream_make(m.cfg.seed, 12, BNS_PURPOSE_PREDICT);
    float *ref = malloc(sizeof(float) * out), *probs = malloc(sizeof(float) * out);
    bns_predictor plain, cached;
    bns_predictor_init(&plain, &m);
    bns_predictor_init(&cached, &m);
    bns_sample_cache cache;
    bns_sample_cache_init(&cache, sizeof(float) * n * 4); /* room for samples 0..3 */
    bns_sample_cache_bind(&cache, 99, &stream, n);
    assert_int_equal(cache.cap, 4);
    cached.cache = &cache;
    uint8_t *mask = malloc(n);
    assert_int_equal(bns_snr_mask(&m, 0.5, mask, NULL), 0);
    for (int pass = 0; pass < 3; pass++) { /* pass 0 fills the cache, 1 reads it, 2 reads it under a mask */
        plain.mask = cached.mask = pass == 2 ? mask : NULL;
        bns_predict_probs(&plain, &m, set.x, set.n, 6, &stream, 0, ref);   /* samples 0..5: 4 cached, 2 not */
        bns_predict_probs(&cached, &m, set.x, set.n, 6, &stream, 0, probs);
        assert_memory_equal(ref, probs, sizeof(float) * out);
    }
    assert_int_equal(cache.draws, 4);
    assert_int_equal(cache.hits, 8);
    /* another stream: not the cache's, drawn directly, still identical */
    bns_predict_probs(&plain, &m, set.x, set.n, 3, &other, 1, ref);
    bns_predict_probs(&cached, &m, set.x, set.n, 3, &other, 1, probs);
    assert_memory_equal(ref, probs, sizeof(float) * out);
    assert_int_equal(cache.draws, 4);
    assert_int_equal(cache.hits, 8);
    /* rebinding: the same binding keeps the samples, another owner empties them */
    bns_sample_cache_bind(&cache, 99, &stream, n);
    assert_true(cache.have[0]);
    bns_sample_cache_bind(&cache, 100, &stream, n);
    assert_false(cache.have[0]);
    bns_predict_probs(&plain, &m, set.x, set.n, 2, &stream, 2, ref);
    bns_predict_probs(&cached, &m, set.x, set.n, 2, &stream, 2, probs);
    assert_memory_equal(ref, probs, sizeof(float) * out);
    assert_int_equal(cache.draws, 6);
    bns_sample_cache_free(&cache);
    free(mask);
    free(ref);
    free(probs);
    bns_predictor_free(&plain);
    bns_predictor_free(&cached);
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

/* ---- the evaluation pipeline (eval_pipeline.h) ---- */

static int same_metrics(const bns_run_metrics *a, const bns_run_metrics *b) {
    return a->acc == b->acc && a->nll == b->nll && a->ece == b->ece;
}

static int same_summary(const bns_run_summary *a, const bns_run_summary *b) {
    return a->runs == b->runs && same_metrics(&a->mean, &b->mean) && same_metrics(&a->std, &b->std);
}

static void test_pipeline_accuracy_is_the_primitives(void **state) {
    (void)state;
    bns_model m;
    bns_dataset set;
    make_model(&m, "FC-20-10", -2.0);
    make_set(&m, 400, &set);
    bns_stream stream = bns_stream_make(m.cfg.seed, 11, BNS_PURPOSE_PREDICT);
    bns_evaluator ev;
    bns_evaluator_init(&ev, &m, &set, &stream);
    assert_true(ev.stochastic);
    bns_predictor p;
    bns_predictor_init(&p, &m);
    float *probs = malloc(sizeof(float) * set.n * 10);
    bns_accuracy_result res;
    bns_run_summary ref;
    bns_run_metrics per_run[4], ref_runs[4];
    /* the mean weights */
    assert_int_equal(bns_eval_accuracy(&ev, &(bns_accuracy_request){.n_ensemble = 0, .runs = 3}, per_run, &res), 0);
    bns_eval_runs(&p, &m, &set, 0, 1, &stream, 0, probs, ref_runs, &ref);
    assert_true(same_summary(&res.summary, &ref) && res.summary.runs == 1 && res.n_ensemble == 0);
    bns_predict_probs(&p, &m, set.x, set.n, 0, NULL, 0, probs);
    assert_true(res.summary.mean.acc == bns_accuracy_of_probs(probs, set.y, set.n, 10));
    /* 4 runs of 3-sample ensembles from sample 5 */
    assert_int_equal(bns_eval_accuracy(&ev, &(bns_accuracy_request){.n_ensemble = 3, .runs = 4, .first = 5}, per_run,
                                       &res), 0);
    bns_eval_runs(&p, &m, &set, 3, 4, &stream, 5, probs, ref_runs, &ref);
    assert_true(same_summary(&res.summary, &ref) && res.n_ensemble == 3 && res.n_pruned == 0);
    for (int r = 0; r < 4; r++) assert_true(same_metrics(&per_run[r], &ref_runs[r]));
    bns_predict_probs(&p, &m, set.x, set.n, 3, &stream, 5 + 3 * 3, probs);
    assert_true(per_run[3].acc == bns_accuracy_of_probs(probs, set.y, set.n, 10));
    assert_true(res.summary.std.acc > 0);
    /* pruned: the SNR mask on every sample, then gone again */
    uint8_t *mask = malloc(m.arch.n_weights);
    size_t pruned = 0;
    assert_int_equal(bns_snr_mask(&m, 0.75, mask, &pruned), 0);
    bns_accuracy_request prune = {.n_ensemble = 4, .runs = 2, .prune = 1, .prune_rate = 0.75};
    assert_int_equal(bns_eval_accuracy(&ev, &prune, per_run, &res), 0);
    p.mask = mask;
    bns_eval_runs(&p, &m, &set, 4, 2, &stream, 0, probs, ref_runs, &ref);
    p.mask = NULL;
    assert_true(same_summary(&res.summary, &ref) && res.n_pruned == pruned && pruned > 0);
    assert_null(ev.pred.mask);
    bns_run_summary unpruned;
    bns_eval_runs(&p, &m, &set, 4, 2, &stream, 0, probs, NULL, &unpruned);
    assert_false(same_summary(&unpruned, &ref)); /* pruning changed the numbers */
    assert_int_equal(bns_eval_accuracy(&ev, &(bns_accuracy_request){.n_ensemble = 4, .runs = 2}, NULL, &res), 0);
    assert_true(same_summary(&res.summary, &unpruned));
    prune.prune_rate = 1.5;
    assert_int_equal(bns_eval_accuracy(&ev, &prune, NULL, &res), -1);
    free(mask);
    free(probs);
    bns_predictor_free(&p);
    bns_evaluator_free(&ev);
    bns_dataset_free(&set);
    bns_model_free(&m);
}

static void test_pipeline_deterministic_model(void **state) {
    (void)state;
    bns_model m;
    bns_dataset set;
    make_model_method(&m, "deterministic", "FC-20-10", -2.0);
    make_set(&m, 100, &set);
    bns_stream stream = bns_stream_make(1, 0, BNS_PURPOSE_PREDICT);
    bns_evaluator ev;
    bns_evaluator_init(&ev, &m, &set, &stream);
    assert_false(ev.stochastic);
    bns_accuracy_result res;
    /* ensembles of a deterministic model: one run of its weights */
    assert_int_equal(bns_eval_accuracy(&ev, &(bns_accuracy_request){.n_ensemble = 5, .runs = 4}, NULL, &res), 0);
    assert_int_equal(res.n_ensemble, 0);
    assert_int_equal(res.summary.runs, 1);
    assert_true(res.summary.mean.acc == 1.0); /* labels are its own predictions */
    /* no SNR to prune by */
    bns_accuracy_request prune = {.n_ensemble = 5, .runs = 1, .prune = 1, .prune_rate = 0.5};
    assert_int_equal(bns_eval_accuracy(&ev, &prune, NULL, &res), -1);
    assert_non_null(strstr(bns_last_error(), "SNR pruning"));
    /* OOD: no samples, so no BALD */
    bns_dataset o;
    assert_int_equal(bns_noise_images(BNS_NOISE_GAUSSIAN, 80, 9, BNS_PIXEL_SCALE_0_2, &o), 0);
    bns_ood_result r;
    assert_int_equal(bns_eval_ood(&ev, &o, 10, 7u, &r), 0);
    assert_int_equal(r.n_samples, 0);
    assert_int_equal(r.scores, (1u << BNS_SCORE_ENTROPY) | (1u << BNS_SCORE_VR));
    assert_int_equal(r.rows, 80);
    assert_string_equal(r.set, "gaussian-noise");
    bns_dataset_free(&o);
    bns_evaluator_free(&ev);
    bns_dataset_free(&set);
    bns_model_free(&m);
}

/* in-distribution rows one-hot (every score 0), OOD rows uniform (every score > 0) */
static void test_ood_detect_known_answer(void **state) {
    (void)state;
    enum { N_IN = 7, N_OUT = 5, K = 10 };
    float p_in[N_IN * K] = {0}, p_out[N_OUT * K], h_in[N_IN] = {0}, h_out[N_OUT] = {0};
    for (int i = 0; i < N_IN; i++) p_in[i * K + i % K] = 1.0f;
    for (int i = 0; i < N_OUT * K; i++) p_out[i] = 1.0f / K;
    bns_ood_result r;
    memset(&r, 0, sizeof r);
    bns_ood_detect(p_in, h_in, N_IN, p_out, h_out, N_OUT, K, 7u, &r);
    assert_int_equal(r.scores, 7u);
    for (int s = 0; s < BNS_SCORE_COUNT; s++) {
        assert_true(r.auroc[s] == 1.0);
        assert_true(r.aupr_in[s] == 1.0);
        assert_true(r.aupr_out[s] == 1.0);
    }
    /* the other way round: every OOD row looks more in-distribution */
    memset(&r, 0, sizeof r);
    bns_ood_detect(p_out, h_out, N_OUT, p_in, h_in, N_IN, K, 1u << BNS_SCORE_VR, &r);
    assert_int_equal(r.scores, 1u << BNS_SCORE_VR);
    assert_true(r.auroc[BNS_SCORE_VR] == 0.0);
    assert_true(r.auroc[BNS_SCORE_ENTROPY] == 0.0 && r.aupr_out[BNS_SCORE_ENTROPY] == 0.0); /* not computed */
}

static void test_pipeline_ood_is_the_primitives(void **state) {
    (void)state;
    bns_model m;
    bns_dataset set, o;
    make_model(&m, "FC-20-10", -2.0);
    make_set(&m, 300, &set);
    assert_int_equal(bns_noise_images(BNS_NOISE_GAUSSIAN, 200, 4, BNS_PIXEL_SCALE_0_2, &o), 0);
    bns_stream stream = bns_stream_make(m.cfg.seed, 3, BNS_PURPOSE_PREDICT);
    bns_evaluator ev;
    bns_evaluator_init(&ev, &m, &set, &stream);
    bns_ood_result r;
    assert_int_equal(bns_eval_ood(&ev, &o, 5, 7u, &r), 0);
    assert_int_equal(r.n_samples, 5);
    assert_int_equal(r.scores, 7u);
    assert_int_equal(r.rows, 200);
    /* the same numbers from the primitives */
    bns_predictor p;
    bns_predictor_init(&p, &m);
    float *pi = malloc(sizeof(float) * 300 * 10), *hi = malloc(sizeof(float) * 300), *si = malloc(sizeof(float) * 300);
    float *po = malloc(sizeof(float) * 200 * 10), *ho = malloc(sizeof(float) * 200), *so = malloc(sizeof(float) * 200);
    bns_predict_probs_entropy(&p, &m, set.x, 300, 5, &stream, 0, pi, hi);
    bns_predict_probs_entropy(&p, &m, o.x, 200, 5, &stream, 0, po, ho);
    for (int s = 0; s < BNS_SCORE_COUNT; s++) {
        bns_uncertainty_score(pi, hi, 300, 10, s, si);
        bns_uncertainty_score(po, ho, 200, 10, s, so);
        assert_true(r.auroc[s] == bns_auroc(si, 300, so, 200));
        assert_true(r.aupr_in[s] == bns_aupr_in(si, 300, so, 200));
        assert_true(r.aupr_out[s] == bns_aupr_out(si, 300, so, 200));
        assert_true(r.auroc[s] != 0.5);
    }
    /* the set's predictions are kept between calls, and redone for another sample count */
    bns_ood_result again, three;
    assert_int_equal(bns_eval_ood(&ev, &o, 5, 7u, &again), 0);
    assert_memory_equal(&again, &r, sizeof r);
    assert_int_equal(bns_eval_ood(&ev, &o, 3, 1u << BNS_SCORE_BALD, &three), 0);
    bns_predict_probs_entropy(&p, &m, set.x, 300, 3, &stream, 0, pi, hi);
    bns_predict_probs_entropy(&p, &m, o.x, 200, 3, &stream, 0, po, ho);
    bns_uncertainty_score(pi, hi, 300, 10, BNS_SCORE_BALD, si);
    bns_uncertainty_score(po, ho, 200, 10, BNS_SCORE_BALD, so);
    assert_true(three.auroc[BNS_SCORE_BALD] == bns_auroc(si, 300, so, 200));
    assert_true(three.auroc[BNS_SCORE_BALD] != r.auroc[BNS_SCORE_BALD]);
    /* the set against itself: the same samples, the same scores, AUROC exactly 1/2 */
    bns_ood_result self;
    assert_int_equal(bns_eval_ood(&ev, &set, 5, 7u, &self), 0);
    for (int s = 0; s < BNS_SCORE_COUNT; s++) assert_true(self.auroc[s] == 0.5);
    /* another row width is refused */
    bns_dataset narrow = o;
    narrow.d = 100;
    assert_int_equal(bns_eval_ood(&ev, &narrow, 5, 7u, &self), -1);
    free(pi), free(hi), free(si), free(po), free(ho), free(so);
    bns_predictor_free(&p);
    bns_evaluator_free(&ev);
    bns_dataset_free(&o);
    bns_dataset_free(&set);
    bns_model_free(&m);
}

static void test_ood_load_dispatch(void **state) {
    (void)state;
    const char *kinds[] = {"gaussian", "uniform"};
    for (int i = 0; i < 2; i++) {
        bns_dataset a, b;
        assert_int_equal(bns_ood_load(kinds[i], NULL, NULL, BNS_PIXEL_SCALE_0_2, 30, 5, 8, &a), 0);
        assert_int_equal(bns_noise_images(i == 0 ? BNS_NOISE_GAUSSIAN : BNS_NOISE_UNIFORM, 30, 8,
                                          BNS_PIXEL_SCALE_0_2, &b), 0);
        assert_int_equal(a.n, 30); /* noise: `rows` images, the limit is for files */
        assert_string_equal(a.name, b.name);
        assert_memory_equal(a.x, b.x, sizeof(float) * 30 * 784);
        bns_dataset_free(&a);
        bns_dataset_free(&b);
        assert_int_equal(bns_ood_kind_needs_path(kinds[i]), 0);
    }
    assert_int_equal(bns_ood_kind_needs_path("fashion"), 0);
    assert_int_equal(bns_ood_kind_needs_path("notmnist"), 1);
    assert_int_equal(bns_ood_kind_needs_path("omniglot"), 1);
    assert_int_equal(bns_ood_kind_needs_path("svhn"), -1);
    bns_dataset o;
    assert_int_equal(bns_ood_load("svhn", NULL, NULL, BNS_PIXEL_SCALE_0_2, 30, 0, 8, &o), -1);
    assert_non_null(strstr(bns_last_error(), "unknown OOD set 'svhn'"));
    assert_int_equal(bns_ood_load("notmnist", "/nonexistent/notmnist", NULL, BNS_PIXEL_SCALE_0_2, 30, 0, 8, &o), -1);
    assert_non_null(strstr(bns_last_error(), "notMNIST"));
    assert_int_equal(bns_ood_load("omniglot", "/nonexistent/o.zip", NULL, BNS_PIXEL_SCALE_0_2, 30, 0, 8, &o), -1);
    assert_non_null(strstr(bns_last_error(), "Omniglot"));
    char path[4096];
    FILE *f = fopen(shared_path("data/notmnist/t10k-images-idx3-ubyte.gz", path, sizeof path), "rb");
    if (f) { /* a file set keeps `limit` rows */
        fclose(f);
        assert_int_equal(bns_ood_load("notmnist", shared_path("data/notmnist", path, sizeof path), NULL,
                                      BNS_PIXEL_SCALE_0_2, 30, 12, 8, &o), 0);
        assert_int_equal(o.n, 12);
        bns_dataset_free(&o);
    }
}

static json_t *key(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    if (!v) fail_msg("JSON key '%s' missing", k);
    return v;
}

static void check_summary_json(json_t *o, const bns_run_summary *s) {
    assert_int_equal(json_integer_value(key(o, "runs")), s->runs);
    assert_true(json_real_value(key(o, "acc_mean")) == s->mean.acc); /* reals read back exactly */
    assert_true(json_real_value(key(o, "acc_std")) == s->std.acc);
    assert_true(json_real_value(key(o, "nll_mean")) == s->mean.nll);
    assert_true(json_real_value(key(o, "nll_std")) == s->std.nll);
    assert_true(json_real_value(key(o, "ece_mean")) == s->mean.ece);
    assert_true(json_real_value(key(o, "ece_std")) == s->std.ece);
}

/* A report filled through the pipeline, as `bnnsweep eval` fills it, written
 * by the function it writes --json with, parsed back. */
static void test_eval_report_json(void **state) {
    (void)state;
    bns_model m;
    bns_dataset set, o;
    make_model(&m, "FC-20-10", -2.0);
    make_set(&m, 120, &set);
    assert_int_equal(bns_noise_images(BNS_NOISE_UNIFORM, 120, 4, BNS_PIXEL_SCALE_0_2, &o), 0);
    snprintf(set.name, sizeof set.name, "odd \"name\"\\%s", "x"); /* escaped by jansson */
    bns_stream stream = bns_stream_make(m.cfg.seed, 0, BNS_PURPOSE_PREDICT);
    bns_evaluator ev;
    bns_evaluator_init(&ev, &m, &set, &stream);
    static bns_eval_report rep;
    memset(&rep, 0, sizeof rep);
    rep.model_path = "/some/model.h5";
    rep.method = m.cfg.method;
    rep.arch = m.cfg.arch;
    rep.set = set.name;
    rep.rows = set.n;
    rep.stochastic = 1;
    bns_accuracy_result res;
    bns_eval_accuracy(&ev, &(bns_accuracy_request){.n_ensemble = 0, .runs = 1}, NULL, &res);
    rep.mean_weights = res.summary;
    bns_eval_accuracy(&ev, &(bns_accuracy_request){.n_ensemble = 1, .runs = 4}, NULL, &res);
    rep.single_sample = res.summary;
    for (int e = 0; e < 2; e++) {
        rep.ensemble_n[e] = 2 * e + 1;
        bns_eval_accuracy(&ev, &(bns_accuracy_request){.n_ensemble = 2 * e + 1, .runs = 2}, NULL, &res);
        rep.ensembles[e] = res.summary;
    }
    rep.n_ensembles = 2;
    rep.pruning = 1;
    rep.prune_samples = 3;
    rep.prune_weights = bns_arch_matrix_weights(&m.arch);
    rep.n_rates = 1;
    rep.rates[0] = 0.25;
    bns_eval_accuracy(&ev, &(bns_accuracy_request){.n_ensemble = 3, .runs = 1, .prune = 1, .prune_rate = 0.25},
                      NULL, &res);
    rep.pruned[0] = res.n_pruned;
    rep.pruned_runs[0] = res.summary;
    rep.ood_samples = 3;
    assert_int_equal(bns_eval_ood(&ev, &o, 3, (1u << BNS_SCORE_ENTROPY) | (1u << BNS_SCORE_BALD), &rep.ood[0]), 0);
    rep.n_ood = 1;

    char *text = bns_eval_report_json(&rep);
    assert_non_null(text);
    json_error_t err;
    json_t *root = json_loads(text, 0, &err);
    if (!root) fail_msg("JSON does not parse: %s (line %d)", err.text, err.line);
    assert_string_equal(json_string_value(key(root, "model")), "/some/model.h5");
    assert_string_equal(json_string_value(key(root, "method")), "bbb");
    assert_string_equal(json_string_value(key(root, "arch")), "FC-20-10");
    assert_string_equal(json_string_value(key(root, "set")), set.name);
    assert_int_equal(json_integer_value(key(root, "rows")), 120);
    assert_int_equal(json_integer_value(key(root, "ece_bins")), BNS_ECE_BINS);
    check_summary_json(key(root, "mean_weights"), &rep.mean_weights);
    check_summary_json(key(root, "single_sample"), &rep.single_sample);
    json_t *ens = key(root, "ensembles");
    assert_int_equal(json_array_size(ens), 2);
    for (int e = 0; e < 2; e++) {
        assert_int_equal(json_integer_value(key(json_array_get(ens, e), "n")), 2 * e + 1);
        check_summary_json(json_array_get(ens, e), &rep.ensembles[e]);
    }
    json_t *pr = key(root, "pruning");
    assert_int_equal(json_integer_value(key(pr, "samples")), 3);
    assert_int_equal(json_integer_value(key(pr, "weights")), 784 * 20 + 20 * 10);
    json_t *rate = json_array_get(key(pr, "rates"), 0);
    assert_non_null(rate);
    assert_true(json_real_value(key(rate, "rate")) == 0.25);
    assert_int_equal(json_integer_value(key(rate, "pruned")), rep.pruned[0]);
    assert_true(json_real_value(key(rate, "acc")) == rep.pruned_runs[0].mean.acc);
    assert_true(json_real_value(key(rate, "nll")) == rep.pruned_runs[0].mean.nll);
    assert_true(json_real_value(key(rate, "ece")) == rep.pruned_runs[0].mean.ece);
    json_t *ood = key(root, "ood");
    assert_int_equal(json_integer_value(key(ood, "samples")), 3);
    json_t *sets = key(ood, "sets");
    assert_int_equal(json_array_size(sets), 2); /* one entry per computed score */
    const int scores[2] = {BNS_SCORE_ENTROPY, BNS_SCORE_BALD};
    for (int i = 0; i < 2; i++) {
        json_t *row = json_array_get(sets, i);
        assert_string_equal(json_string_value(key(row, "set")), "uniform-noise");
        assert_int_equal(json_integer_value(key(row, "rows")), 120);
        assert_string_equal(json_string_value(key(row, "score")), bns_score_name(scores[i]));
        assert_true(json_real_value(key(row, "auroc")) == rep.ood[0].auroc[scores[i]]);
        assert_true(json_real_value(key(row, "aupr_in")) == rep.ood[0].aupr_in[scores[i]]);
        assert_true(json_real_value(key(row, "aupr_out")) == rep.ood[0].aupr_out[scores[i]]);
    }
    json_decref(root);
    free(text);

    /* a deterministic-style report: no sample sections */
    rep.stochastic = 0;
    rep.pruning = 0;
    rep.n_ood = 0;
    text = bns_eval_report_json(&rep);
    root = json_loads(text, 0, &err);
    assert_non_null(root);
    assert_null(json_object_get(root, "single_sample"));
    assert_null(json_object_get(root, "ensembles"));
    assert_null(json_object_get(root, "pruning"));
    assert_int_equal(json_array_size(key(key(root, "ood"), "sets")), 0);
    json_decref(root);
    free(text);
    /* a path that is not UTF-8 is an error, not a broken file */
    rep.model_path = "bad\xff.h5";
    assert_null(bns_eval_report_json(&rep));
    assert_non_null(strstr(bns_last_error(), "JSON"));

    bns_evaluator_free(&ev);
    bns_dataset_free(&o);
    bns_dataset_free(&set);
    bns_model_free(&m);
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
        cmocka_unit_test(test_pipeline_accuracy_is_the_primitives),
        cmocka_unit_test(test_pipeline_deterministic_model),
        cmocka_unit_test(test_ood_detect_known_answer),
        cmocka_unit_test(test_pipeline_ood_is_the_primitives),
        cmocka_unit_test(test_ood_load_dispatch),
        cmocka_unit_test(test_eval_report_json),
        cmocka_unit_test(test_sample_cache_is_bit_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
