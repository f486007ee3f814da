/* test_active.c - active learning (active.h): the acquisition step, the
 * balanced initial set, the per-row scores it uses (eval_pipeline.h), one
 * round and the next through their files, and how a sweep's active: section
 * becomes chains of tasks (plan.h).
 *
 *   - select: the chosen k are exactly the k best by (score descending, pool
 *     index ascending), checked against a brute-force reference on scores
 *     with many ties, a NaN never beats a number, labelled rows are never
 *     chosen, repeated rounds never re-acquire and run out cleanly;
 *   - initial: per_class of every class, distinct, a function of the seed
 *     only; a pool lacking a class is an error naming it;
 *   - bns_eval_scores equals the scores computed from the per-sample
 *     predictions (bns_eval_sample_probs + bns_uncertainty); BALD of a point
 *     estimate is refused;
 *   - rounds 0 and 1 on synthetic data: round 1 keeps round 0's labelled
 *     images and adds the top-10 of round 0's model's entropy (recomputed
 *     here), the files read back; a warm start differs from a cold one;
 *   - the planner: round r depends on round r-1, round 0 is shared by the
 *     scores, BALD chains of a point estimate are left out, a group named
 *     only by active: trains no model of its own, bad sections are errors
 *     naming file:line and key.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <inttypes.h>

#include <cmocka.h>

#include "bnnsweep/active.h"
#include "bnnsweep/error.h"
#include "bnnsweep/eval_pipeline.h"
#include "bnnsweep/model_io.h"
#include "bnnsweep/plan.h"
#include "bnnsweep/spec.h"
#include "test_util.h"

/* the reference: position of the best remaining row by (score desc, index asc), NaN last */
static long best_remaining(const float *s, size_t n, const uint8_t *taken) {
    long best = -1;
    for (size_t i = 0; i < n; i++) {
        if (taken[i]) continue;
        if (best < 0) {
            best = (long)i;
            continue;
        }
        float a = s[i], b = s[best];
        if (isnan(b) && !isnan(a)) best = (long)i;
        else if (!isnan(a) && !isnan(b) && a > b) best = (long)i;
    }
    return best;
}

static void test_select_top_scores_ties_by_index(void **state) {
    (void)state;
    /* hand case: ties at 0.5 go by index; NaN last; labelled row 1 (the best) is skipped */
    const float s[8] = {0.5f, 0.9f, NAN, 0.5f, 0.7f, 0.5f, -1.0f, 0.7f};
    uint8_t lab[8] = {0, 1, 0, 0, 0, 0, 0, 0};
    uint32_t got[8];
    assert_int_equal(bns_active_select(s, 8, lab, 4, got), 4);
    const uint32_t want[4] = {4, 7, 0, 3};
    for (int j = 0; j < 4; j++) assert_int_equal(got[j], want[j]);
    for (int j = 0; j < 4; j++) assert_int_equal(lab[want[j]], 1);
    /* the rest, then nothing: never re-acquired */
    assert_int_equal(bns_active_select(s, 8, lab, 10, got), 3);
    assert_int_equal(got[0], 5);
    assert_int_equal(got[1], 6);
    assert_int_equal(got[2], 2); /* NaN only once every number is taken */
    assert_int_equal(bns_active_select(s, 8, lab, 10, got), 0);

    /* random scores on 8 levels (many ties), rounds of 10 until the pool is empty */
    enum { N = 997, K = 10 };
    float *sc = malloc(sizeof(float) * N);
    uint8_t *mine = calloc(N, 1), *ref = calloc(N, 1), *seen = calloc(N, 1);
    bns_stream st = bns_stream_make(3, 4, BNS_PURPOSE_DATA);
    bns_stream_uniform(&st, 0, 0, N, sc);
    for (int i = 0; i < N; i++) sc[i] = floorf(sc[i] * 8) / 8;
    sc[17] = NAN;
    size_t total = 0;
    uint32_t chosen[K];
    for (;;) {
        size_t n = bns_active_select(sc, N, mine, K, chosen);
        for (size_t j = 0; j < n; j++) {
            long r = best_remaining(sc, N, ref);
            assert_true(r >= 0);
            if ((long)chosen[j] != r) fail_msg("round %zu pick %zu: chose %u, the reference %ld", total / K, j, chosen[j], r);
            ref[r] = 1;
            assert_int_equal(seen[chosen[j]], 0); /* never twice */
            seen[chosen[j]] = 1;
        }
        total += n;
        if (n < K) break;
    }
    assert_int_equal(total, N);
    assert_int_equal(chosen[(N % K) - 1], 17); /* the NaN row comes last */
    free(sc);
    free(mine);
    free(ref);
    free(seen);
}

static void test_initial_set_balanced_and_keyed_by_seed(void **state) {
    (void)state;
    enum { N = 500, C = 10, PER = 3 };
    uint8_t y[N];
    for (int i = 0; i < N; i++) y[i] = (uint8_t)((i * 7 + i / 13) % C);
    uint32_t a[C * PER], b[C * PER], c[C * PER];
    assert_int_equal(bns_active_initial(5, y, N, C, PER, a), 0);
    assert_int_equal(bns_active_initial(5, y, N, C, PER, b), 0);
    assert_int_equal(bns_active_initial(6, y, N, C, PER, c), 0);
    int count[C] = {0}, same_seed = 1, other_seed = 1;
    uint8_t seen[N] = {0};
    for (int j = 0; j < C * PER; j++) {
        assert_true(a[j] < N);
        assert_int_equal(seen[a[j]], 0);
        seen[a[j]] = 1;
        count[y[a[j]]]++;
        same_seed &= a[j] == b[j];
        other_seed &= a[j] == c[j];
    }
    for (int k = 0; k < C; k++) assert_int_equal(count[k], PER);
    assert_true(same_seed);
    assert_false(other_seed);
    /* class 9 missing from the pool */
    for (int i = 0; i < N; i++) y[i] = (uint8_t)(i % 9);
    assert_int_equal(bns_active_initial(5, y, N, C, PER, a), -1);
    assert_non_null(strstr(bns_last_error(), "class 9"));
}

/* n rows of 784 noisy pixels, class i % 10 marked by a bright band of pixels */
static void make_split(size_t n, uint64_t sub, bns_dataset *d) {
    memset(d, 0, sizeof *d);
    d->n = n;
    d->d = 784;
    d->n_classes = 10;
    d->x = malloc(sizeof(float) * n * 784);
    d->y = malloc(n);
    bns_stream st = bns_stream_make(9, 9, BNS_PURPOSE_DATA);
    bns_stream_uniform(&st, sub, 0, n * 784, d->x);
    for (size_t i = 0; i < n; i++) {
        d->y[i] = (uint8_t)(i % 10);
        for (int p = 0; p < 40; p++) d->x[i * 784 + d->y[i] * 78 + p] += 1.5f;
    }
    snprintf(d->name, sizeof d->name, "synthetic");
}

static void make_config(bns_config *cfg, const char *method) {
    bns_config_defaults(cfg);
    snprintf(cfg->method, sizeof cfg->method, "%s", method);
    snprintf(cfg->arch, sizeof cfg->arch, "FC-16-10");
    cfg->max_epochs = 5;
    cfg->patience = 0;
    cfg->batch_size = 16;
    cfg->lr = 0.01;
    cfg->seed = 3;
    cfg->task = 1234;
}

static void test_scores_match_sample_predictions(void **state) {
    (void)state;
    bns_config cfg;
    make_config(&cfg, "dropout");
    bns_model m;
    assert_int_equal(bns_model_create(&cfg, 784, &m), 0);
    bns_dataset set;
    make_split(50, 0, &set);
    bns_stream st = bns_stream_make(3, 77, BNS_PURPOSE_PREDICT);
    bns_evaluator ev;
    bns_evaluator_init(&ev, &m, &set, &st);
    enum { S = 6 };
    float *samples = malloc(sizeof(float) * S * 50 * 10), pbar[500], h[50], vr[50], bald[50], got[50];
    assert_int_equal(bns_eval_sample_probs(&ev, &set, S, samples), S);
    bns_uncertainty(samples, S, 50, 10, pbar, h, vr, bald);
    const float *want[3] = {h, vr, bald};
    for (int sc = 0; sc < BNS_SCORE_COUNT; sc++) {
        assert_int_equal(bns_eval_scores(&ev, S, sc, got), 0);
        for (int i = 0; i < 50; i++)
            if (fabsf(got[i] - want[sc][i]) > 2e-5f * (1 + fabsf(want[sc][i])))
                fail_msg("%s row %d: %g, from the samples %g", bns_score_name(sc), i, got[i], want[sc][i]);
    }
    int differ = 0;
    for (int i = 1; i < 50; i++) differ |= bald[i] != bald[0];
    assert_true(differ);
    bns_evaluator_free(&ev);
    bns_model_free(&m);
    /* a point estimate: no BALD */
    make_config(&cfg, "deterministic");
    assert_int_equal(bns_model_create(&cfg, 784, &m), 0);
    bns_evaluator_init(&ev, &m, &set, &st);
    assert_int_equal(bns_eval_scores(&ev, S, BNS_SCORE_BALD, got), -1);
    assert_non_null(strstr(bns_last_error(), "BALD"));
    assert_int_equal(bns_eval_scores(&ev, S, BNS_SCORE_ENTROPY, got), 0);
    bns_evaluator_free(&ev);
    bns_model_free(&m);
    bns_dataset_free(&set);
    free(samples);
}

static void read_labelled(const char *path, uint32_t **idx, size_t *n) {
    if (bns_active_read_labelled(path, idx, n)) fail_msg("%s", bns_last_error());
}

/* What round 1 must acquire from a 250-image pool (the first training rows)
 * when round 0's model m0 labelled l0[0..20): the 10 top `score` values of
 * m0's 4 samples (its PREDICT stream), labelled images excluded. */
static void expected_acquisitions(const bns_model *m0, const bns_dataset *train, const uint32_t *l0, int score_kind,
                                  float score[250], uint32_t want[10]) {
    bns_dataset pool = *train;
    pool.n = 250;
    bns_stream st = bns_stream_make(m0->cfg.seed, m0->cfg.task, BNS_PURPOSE_PREDICT);
    bns_evaluator ev;
    bns_evaluator_init(&ev, m0, &pool, &st);
    assert_int_equal(bns_eval_scores(&ev, 4, score_kind, score), 0);
    bns_evaluator_free(&ev);
    uint8_t lab[250] = {0};
    for (int j = 0; j < 20; j++) lab[l0[j]] = 1;
    assert_int_equal(bns_active_select(score, 250, lab, 10, want), 10);
}

static void test_rounds_through_files(void **state) {
    (void)state;
    tmp_dir_setup("active_rounds");
    bns_splits data;
    make_split(300, 1, &data.train);
    make_split(60, 2, &data.val);
    make_split(100, 3, &data.test);
    bns_config cfg;
    make_config(&cfg, "dropout");
    bns_active_settings s = {.round = 0, .score = -1, .initial = 20, .acquire = 10, .samples = 4, .pool = 250,
                             .val_rows = 30, .seed = 11};
    char r0[4200], r1[4200], r1w[4200];
    tmp_path(r0, sizeof r0, "round0.h5");
    tmp_path(r1, sizeof r1, "round1.h5");
    tmp_path(r1w, sizeof r1w, "round1w.h5");
    if (bns_active_run_round(&cfg, &s, &data, NULL, r0)) fail_msg("round 0: %s", bns_last_error());
    bns_active_result res0, res1, res1w;
    assert_int_equal(bns_active_read(r0, &res0), 0);
    assert_int_equal(res0.round, 0);
    assert_int_equal(res0.n_labelled, 20);
    assert_true(res0.accuracy >= 0 && res0.accuracy <= 1);
    uint32_t *l0, *l1, *l1w;
    size_t n0, n1, n1w;
    read_labelled(r0, &l0, &n0);
    assert_int_equal(n0, 20);
    uint32_t want0[20];
    assert_int_equal(bns_active_initial(11, data.train.y, 250, 10, 2, want0), 0);
    for (int j = 0; j < 20; j++) assert_int_equal(l0[j], want0[j]);

    /* round 1 by entropy: the top 10 of round 0's model's scores over the unlabelled pool */
    cfg.task = 5678;
    s.round = 1;
    s.score = BNS_SCORE_ENTROPY;
    if (bns_active_run_round(&cfg, &s, &data, r0, r1)) fail_msg("round 1: %s", bns_last_error());
    read_labelled(r1, &l1, &n1);
    assert_int_equal(n1, 30);
    for (int j = 0; j < 20; j++) assert_int_equal(l1[j], l0[j]);
    bns_model m0;
    assert_int_equal(bns_model_load(r0, &m0, NULL), 0);
    float score[250];
    uint32_t want1[10];
    expected_acquisitions(&m0, &data.train, l0, BNS_SCORE_ENTROPY, score, want1);
    for (int j = 0; j < 10; j++) assert_int_equal(l1[20 + j], want1[j]);
    for (int j = 1; j < 10; j++) assert_true(score[want1[j - 1]] >= score[want1[j]]);
    assert_int_equal(bns_active_read(r1, &res1), 0);
    assert_int_equal(res1.round, 1);
    assert_int_equal(res1.score, BNS_SCORE_ENTROPY);
    assert_int_equal(res1.n_labelled, 30);

    /* a warm start acquires the same images (round 0's model chose them) but trains on from round 0's weights */
    s.warm_start = 1;
    if (bns_active_run_round(&cfg, &s, &data, r0, r1w)) fail_msg("round 1 warm: %s", bns_last_error());
    read_labelled(r1w, &l1w, &n1w);
    assert_int_equal(n1w, 30);
    assert_memory_equal(l1w, l1, sizeof *l1 * 30);
    bns_model m1, m1w;
    assert_int_equal(bns_model_load(r1, &m1, NULL), 0);
    assert_int_equal(bns_model_load(r1w, &m1w, NULL), 0);
    assert_true(memcmp(m1.params, m1w.params, sizeof(float) * m1.n_params) != 0);
    assert_int_equal(bns_active_read(r1w, &res1w), 0);

    /* a round file that is not one, and a pool larger than the split */
    char bogus[4200];
    tmp_path(bogus, sizeof bogus, "plain-model.h5");
    assert_int_equal(bns_model_save(bogus, &m0, NULL), 0);
    assert_int_equal(bns_active_read(bogus, &res0), -1);
    assert_non_null(strstr(bns_last_error(), "not an active-learning round file"));
    s.pool = 301;
    assert_int_equal(bns_active_run_round(&cfg, &s, &data, r0, r1w), -1);
    assert_non_null(strstr(bns_last_error(), "pool 301"));

    bns_model_free(&m0);
    bns_model_free(&m1);
    bns_model_free(&m1w);
    free(l0);
    free(l1);
    free(l1w);
    bns_splits_free(&data);
}

/* the labelled pool rows in pool order (what a round trains on, active.c) */
static void subset(const bns_dataset *pool, const uint32_t *idx, size_t n, bns_dataset *out) {
    uint8_t *in = calloc(pool->n, 1);
    for (size_t i = 0; i < n; i++) in[idx[i]] = 1;
    memset(out, 0, sizeof *out);
    out->d = pool->d;
    out->n_classes = pool->n_classes;
    out->x = malloc(sizeof(float) * n * pool->d);
    out->y = malloc(n);
    for (size_t i = 0; i < pool->n; i++)
        if (in[i]) {
            memcpy(out->x + out->n * pool->d, pool->x + i * pool->d, sizeof(float) * pool->d);
            out->y[out->n++] = pool->y[i];
        }
    assert_int_equal(out->n, n);
    free(in);
}

/* The teacher file of a distilling round holds the model that training the
 * teacher recipe (with the teacher's key) on the round file's labelled set
 * gives, bit for bit. */
static void expect_teacher_of(const char *round_file, const char *teacher_file, const bns_config *tcfg,
                              const bns_splits *data, long pool_rows, long val_rows) {
    uint32_t *lab, *tlab;
    size_t n, tn;
    read_labelled(round_file, &lab, &n);
    read_labelled(teacher_file, &tlab, &tn);
    assert_int_equal(tn, n);
    assert_memory_equal(tlab, lab, sizeof *lab * n);
    bns_dataset pool = data->train, val = data->val, sub;
    pool.n = (size_t)pool_rows;
    val.n = (size_t)val_rows;
    subset(&pool, lab, n, &sub);
    bns_model want, got;
    bns_train_history h;
    assert_int_equal(bns_model_create(tcfg, 784, &want), 0);
    if (bns_train(&want, &sub, &val, &h, NULL)) fail_msg("%s", bns_last_error());
    bns_train_history_free(&h);
    if (bns_model_load(teacher_file, &got, NULL)) fail_msg("%s", bns_last_error());
    assert_string_equal(got.cfg.method, tcfg->method);
    assert_int_equal(got.cfg.task, tcfg->task);
    assert_int_equal(got.n_params, want.n_params);
    if (memcmp(got.params, want.params, sizeof(float) * want.n_params))
        fail_msg("%s: not the teacher recipe trained on %s's %zu labelled images", teacher_file, round_file, n);
    /* the round names it and records its test accuracy */
    bns_model student;
    assert_int_equal(bns_model_load(round_file, &student, NULL), 0);
    char ref[32];
    snprintf(ref, sizeof ref, "task:%016" PRIx64, tcfg->task);
    assert_string_equal(bns_config_get_string(&student.cfg, "teacher"), ref);
    bns_model_free(&student);
    bns_model_free(&want);
    bns_model_free(&got);
    bns_dataset_free(&sub);
    free(lab);
    free(tlab);
}

static void set_or_fail(bns_config *cfg, const char *key, const char *value) {
    if (bns_config_set(cfg, key, value)) fail_msg("%s=%s: %s", key, value, bns_last_error());
}

static ino_t inode_of(const char *path) {
    struct stat st;
    if (stat(path, &st)) fail_msg("%s: no such file", path);
    return st.st_ino;
}

static void test_distilling_rounds(void **state) {
    (void)state;
    tmp_dir_setup("active_distil");
    bns_splits data;
    make_split(300, 1, &data.train);
    make_split(60, 2, &data.val);
    make_split(100, 3, &data.test);
    bns_config tcfg, cfg, mog;
    make_config(&tcfg, "sgld");
    tcfg.max_epochs = 6;
    set_or_fail(&tcfg, "sgld_burn_in", "4");
    set_or_fail(&tcfg, "sgld_thin", "1");
    set_or_fail(&tcfg, "sgld_samples", "4");
    make_config(&cfg, "apd");
    cfg.batch_size = 1000; /* one GAN iteration an epoch */
    cfg.max_epochs = 3;
    const char *const apd[][2] = {{"teacher_samples", "4"}, {"apd_hidden", "8"}, {"apd_hidden_layers", "1"},
                                  {"apd_noise_dim", "4"},   {"apd_batch", "4"}, {"apd_critic_steps", "2"}};
    for (size_t i = 0; i < sizeof apd / sizeof apd[0]; i++) set_or_fail(&cfg, apd[i][0], apd[i][1]);
    bns_active_settings s = {.round = 0, .score = -1, .initial = 20, .acquire = 10, .samples = 4, .pool = 250,
                             .val_rows = 30, .seed = 11, .teacher = &tcfg};
    char r0[4200], r1[4200], t0[4200], t1[4200], rm[4200], tm[4200];
    tmp_path(r0, sizeof r0, "round0.h5");
    tmp_path(r1, sizeof r1, "round1.h5");
    tmp_path(rm, sizeof rm, "mog1.h5");
    tcfg.task = 0x3e7;
    tmp_path(t0, sizeof t0, "teacher-00000000000003e7.h5");
    tmp_path(t1, sizeof t1, "teacher-00000000000003e8.h5");
    tmp_path(tm, sizeof tm, "teacher-00000000000003e9.h5");
    remove(t0), remove(t1), remove(tm); /* an earlier run's would be taken as this round's */

    /* round 0: the SGLD teacher on the initial set, then APD distilling it */
    set_or_fail(&cfg, "teacher", "task:00000000000003e7");
    if (bns_active_run_round(&cfg, &s, &data, NULL, r0)) fail_msg("round 0: %s", bns_last_error());
    expect_teacher_of(r0, t0, &tcfg, &data, 250, 30);
    bns_active_result res;
    assert_int_equal(bns_active_read(r0, &res), 0);
    assert_int_equal(res.n_labelled, 20);
    assert_true(res.accuracy >= 0 && res.accuracy <= 1);

    /* round 1 by BALD over APD's samples: a new teacher on round 1's 30 images */
    cfg.task = 5678;
    tcfg.task = 0x3e8;
    set_or_fail(&cfg, "teacher", "task:00000000000003e8");
    s.round = 1;
    s.score = BNS_SCORE_BALD;
    if (bns_active_run_round(&cfg, &s, &data, r0, r1)) fail_msg("round 1: %s", bns_last_error());
    expect_teacher_of(r1, t1, &tcfg, &data, 250, 30);
    uint32_t *l0, *l1;
    size_t n0, n1;
    read_labelled(r0, &l0, &n0);
    read_labelled(r1, &l1, &n1);
    assert_int_equal(n1, 30);
    assert_memory_equal(l1, l0, sizeof *l0 * 20);
    /* the 10 acquired are the top BALD scores of round 0's APD model */
    bns_model m0, m1;
    assert_int_equal(bns_model_load(r0, &m0, NULL), 0);
    assert_int_equal(bns_model_load(r1, &m1, NULL), 0);
    float score[250];
    uint32_t want1[10];
    expected_acquisitions(&m0, &data.train, l0, BNS_SCORE_BALD, score, want1);
    assert_memory_equal(l1 + 20, want1, sizeof want1);

    /* resuming a round killed after its teacher file: the file is taken as it is, the round is the same */
    ino_t before = inode_of(t1);
    remove(r1);
    if (bns_active_run_round(&cfg, &s, &data, r0, r1)) fail_msg("round 1 again: %s", bns_last_error());
    assert_true(inode_of(t1) == before);
    bns_model again;
    assert_int_equal(bns_model_load(r1, &again, NULL), 0);
    assert_memory_equal(again.params, m1.params, sizeof(float) * m1.n_params);
    bns_model_free(&again);
    /* a teacher file of another labelled set (round 0's) in its place is trained again */
    bns_model t0m;
    assert_int_equal(bns_model_load(t0, &t0m, NULL), 0);
    t0m.cfg.task = 0x3e8;
    assert_int_equal(bns_model_save(t1, &t0m, NULL), 0);
    bns_model_free(&t0m);
    remove(r1);
    if (bns_active_run_round(&cfg, &s, &data, r0, r1)) fail_msg("round 1 over a stale teacher: %s", bns_last_error());
    expect_teacher_of(r1, t1, &tcfg, &data, 250, 30);
    assert_int_equal(bns_model_load(r1, &again, NULL), 0);
    assert_memory_equal(again.params, m1.params, sizeof(float) * m1.n_params);
    bns_model_free(&again);

    /* mog, the other distilling method, the same way */
    make_config(&mog, "mog");
    set_or_fail(&mog, "teacher_samples", "4");
    set_or_fail(&mog, "mog_components", "2");
    set_or_fail(&mog, "mog_iterations", "5"); /* all in the first epoch: later ones are NaN until run */
    mog.batch_size = 1;
    mog.max_epochs = 1;
    set_or_fail(&mog, "teacher", "task:00000000000003e9");
    mog.task = 777;
    tcfg.task = 0x3e9;
    if (bns_active_run_round(&mog, &s, &data, r0, rm)) fail_msg("mog round 1: %s", bns_last_error());
    expect_teacher_of(rm, tm, &tcfg, &data, 250, 30);
    assert_int_equal(bns_active_read(rm, &res), 0);
    assert_true(res.accuracy >= 0 && res.accuracy <= 1);

    /* a warm start begins round 1's teacher from round 0's (the file the round names) */
    char rw[4200], tw[4200];
    tmp_path(rw, sizeof rw, "round1w.h5");
    tmp_path(tw, sizeof tw, "teacher-00000000000003ea.h5");
    remove(tw);
    tcfg.task = 0x3ea;
    set_or_fail(&cfg, "teacher", "task:00000000000003ea");
    s.warm_start = 1;
    s.score = BNS_SCORE_BALD;
    if (bns_active_run_round(&cfg, &s, &data, r0, rw)) fail_msg("warm round 1: %s", bns_last_error());
    bns_model tw1, tc1;
    assert_int_equal(bns_model_load(tw, &tw1, NULL), 0);
    assert_int_equal(bns_model_load(t1, &tc1, NULL), 0);
    assert_true(memcmp(tw1.params, tc1.params, sizeof(float) * tc1.n_params) != 0);
    bns_model_free(&tw1);
    bns_model_free(&tc1);
    /* ... and fails, naming it, when round 0's teacher file is gone */
    remove(t0);
    remove(tw);
    assert_int_equal(bns_active_run_round(&cfg, &s, &data, r0, rw), -1);
    expect_error_names(t0, "warm start");

    bns_model_free(&m0);
    bns_model_free(&m1);
    free(l0);
    free(l1);
    bns_splits_free(&data);
}

static const char *const sweep_text =
    "train: {arch: FC-16-10, max_epochs: 1}\n"
    "models:\n"
    "  sgd: {method: deterministic}\n"
    "  drop: {method: dropout}\n"
    "active:\n"
    "  al: {models: [sgd, drop], seeds: [1, 2], rounds: 3, initial: 20, acquire: 10}\n";

static void test_plan_chains(void **state) {
    (void)state;
    bns_spec spec;
    if (bns_spec_load_text("al.yaml", sweep_text, NULL, 0, &spec)) fail_msg("%s", bns_last_error());
    bns_plan plan;
    assert_int_equal(bns_plan_build(&spec, &plan), 0);
    /* sgd: 2 seeds x (1 + 3 scores x 3 rounds); drop: 2 x (1 + 4 x 3) */
    assert_int_equal(plan.count[BNS_TASK_ACTIVE], 2 * 10 + 2 * 13);
    assert_int_equal(plan.count[BNS_TASK_TRAIN], 0); /* groups named only by active: are recipes */
    int bald_sgd = 0, rounds0 = 0;
    for (int t = 0; t < plan.n_tasks; t++) {
        const bns_task *task = &plan.tasks[t];
        if (task->kind != BNS_TASK_ACTIVE) continue;
        const bns_active_settings *a = &task->active;
        assert_int_equal(task->config.task, task->key);
        assert_int_equal(task->config.seed, a->seed);
        if (a->round == 0) {
            rounds0++;
            assert_int_equal(task->n_deps, 0);
            assert_int_equal(task->model, -1);
            continue;
        }
        assert_int_equal(task->n_deps, 1);
        const bns_task *prev = &plan.tasks[task->deps[0]];
        assert_int_equal(task->model, task->deps[0]);
        assert_int_equal(prev->kind, BNS_TASK_ACTIVE);
        assert_int_equal(prev->active.round, a->round - 1);
        assert_int_equal(prev->active.seed, a->seed);
        if (a->round > 1) assert_int_equal(prev->active.score, a->score);
        bald_sgd += a->score == BNS_SCORE_BALD && !strcmp(task->config.method, "deterministic");
    }
    assert_int_equal(rounds0, 4); /* one per model and seed, shared by its scores */
    assert_int_equal(bald_sgd, 0);
    bns_plan_free(&plan);
    bns_spec_free(&spec);
    /* a group an evaluation names also gets its own model, trained on the whole pool */
    char text2[2048];
    snprintf(text2, sizeof text2, "%sevaluations:\n  robustness: {models: sgd, runs: 1}\n", sweep_text);
    if (bns_spec_load_text("al.yaml", text2, NULL, 0, &spec)) fail_msg("%s", bns_last_error());
    assert_int_equal(bns_plan_build(&spec, &plan), 0);
    assert_int_equal(plan.count[BNS_TASK_TRAIN], 1);
    assert_string_equal(plan.tasks[0].name, "train/sgd");
    assert_int_equal(plan.count[BNS_TASK_ACTIVE], 2 * 10 + 2 * 13);
    bns_plan_free(&plan);
    bns_spec_free(&spec);

    /* errors name the place and the key */
    const char *const bad[][2] = {
        {"active:\n  al: {models: [sgd], initial: 25}\n", "not a multiple"},
        {"active:\n  al: {models: [sgd], scores: [entropy, margin]}\n", "margin"},
        {"active:\n  al: {models: [nope]}\n", "no model group 'nope'"},
        {"active:\n  al: {models: [sgd], pool: 100, rounds: 10}\n", "more than the pool"},
        {"active:\n  al: {models: [sgd], warm_start: maybe}\n", "not true or false"},
        {"active:\n  al: {models: [sgd], batch: 3}\n", "unknown key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, "train: {arch: FC-16-10}\nmodels:\n  sgd: {method: deterministic}\n%s", bad[i][0]);
        assert_int_equal(bns_spec_load_text("bad.yaml", text, NULL, 0, &spec), -1);
        if (!strstr(bns_last_error(), bad[i][1]) || !strstr(bns_last_error(), "bad.yaml:") ||
            !strstr(bns_last_error(), "active.al"))
            fail_msg("case %zu: %s", i, bns_last_error());
    }
}

/* A distilling recipe's chains: its rounds carry the teacher recipe, keyed
 * as the round would be with the teacher's recipe (round 0: the teacher
 * recipe's own round 0); a teacher group only recipes use trains nothing;
 * one chain per same-arch teacher point. */
static void test_plan_distilling_chains(void **state) {
    (void)state;
    const char *text =
        "train: {arch: FC-16-10, max_epochs: 1}\n"
        "models:\n"
        "  sgld: {method: sgld, sgld_lr: [0.05, 0.1]}\n"
        "  apd: {method: apd, teacher: sgld}\n"
        "  mog: {method: mog, teacher: sgld, mog_components: 2}\n"
        "active:\n"
        "  al: {models: [sgld, apd, mog], seeds: [1, 2], rounds: 2, scores: [bald, random]}\n";
    bns_spec spec;
    if (bns_spec_load_text("al.yaml", text, NULL, 0, &spec)) fail_msg("%s", bns_last_error());
    bns_plan plan;
    if (bns_plan_build(&spec, &plan)) fail_msg("%s", bns_last_error());
    /* sgld: 2 points x 2 seeds x (1 + 2 x 2); apd and mog the same, per teacher point */
    assert_int_equal(plan.count[BNS_TASK_ACTIVE], 3 * 2 * 2 * 5);
    assert_int_equal(plan.count[BNS_TASK_TRAIN], 0);
    int distilling = 0;
    uint64_t *teacher_keys = calloc((size_t)plan.n_tasks, sizeof *teacher_keys);
    for (int t = 0; t < plan.n_tasks; t++) {
        const bns_task *task = &plan.tasks[t];
        const bns_active_settings *a = &task->active;
        int distils = strcmp(task->config.method, "sgld") != 0;
        assert_int_equal(a->teacher != NULL, distils);
        if (!distils) continue;
        distilling++;
        assert_string_equal(a->teacher->method, "sgld");
        assert_int_equal(a->teacher->seed, a->seed);
        assert_true(a->teacher->task != task->key);
        char ref[32];
        snprintf(ref, sizeof ref, "task:%016" PRIx64, a->teacher->task);
        assert_string_equal(bns_config_get_string(&task->config, "teacher"), ref);
        assert_true(strstr(task->name, a->teacher_point ? "/teacher=sgld_lr=0.1/" : "/teacher=sgld_lr=0.05/") != NULL);
        for (int u = 0; u < t; u++) assert_true(teacher_keys[u] != a->teacher->task || strcmp(plan.tasks[u].config.method, task->config.method));
        teacher_keys[t] = a->teacher->task;
        if (a->round == 0) {
            /* the sgld chain's round 0 of that point and seed */
            int sgld = bns_plan_find(&plan, a->teacher->task);
            assert_true(sgld >= 0);
            assert_string_equal(plan.tasks[sgld].config.method, "sgld");
            assert_int_equal(plan.tasks[sgld].active.round, 0);
            assert_int_equal(plan.tasks[sgld].active.seed, a->seed);
            assert_int_equal(plan.tasks[sgld].active.point, a->teacher_point);
        } else {
            assert_int_equal(bns_plan_find(&plan, a->teacher->task), -1);
        }
    }
    assert_int_equal(distilling, 2 * 2 * 2 * 5);
    free(teacher_keys);
    bns_plan_free(&plan);
    bns_spec_free(&spec);
    /* an evaluation of apd trains apd (and so its sgld teacher) on the whole pool too */
    char text2[2048];
    snprintf(text2, sizeof text2, "%sevaluations:\n  robustness: {models: apd, runs: 1}\n", text);
    if (bns_spec_load_text("al.yaml", text2, NULL, 0, &spec)) fail_msg("%s", bns_last_error());
    assert_int_equal(bns_plan_build(&spec, &plan), 0);
    assert_int_equal(plan.count[BNS_TASK_TRAIN], 4); /* 2 sgld, 2 apd */
    bns_plan_free(&plan);
    bns_spec_free(&spec);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_top_scores_ties_by_index),
        cmocka_unit_test(test_initial_set_balanced_and_keyed_by_seed),
        cmocka_unit_test(test_scores_match_sample_predictions),
        cmocka_unit_test(test_rounds_through_files),
        cmocka_unit_test(test_plan_chains),
        cmocka_unit_test(test_distilling_rounds),
        cmocka_unit_test(test_plan_distilling_chains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
