/* active.c - one acquisition round of pool-based active learning (active.h;
 * METHODS.md s.12, Wang et al. 2018). In the sweep layer: a round is a task
 * that trains (train.h), evaluates (eval_pipeline.h) and writes a model file
 * (model_io.h), the three layers below it. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "bnnsweep/active.h"
#include "bnnsweep/error.h"
#include "bnnsweep/eval_pipeline.h"
#include "bnnsweep/model_io.h"
#include "bnnsweep/train.h"
#include "bnnsweep/util.h"

static const char *const acq_names[BNS_ACQ_COUNT] = {"entropy", "vr", "bald", "random"};

const char *bns_acq_name(int score) { return score >= 0 && score < BNS_ACQ_COUNT ? acq_names[score] : "?"; }

int bns_acq_parse(const char *name) {
    for (int s = 0; s < BNS_ACQ_COUNT; s++)
        if (!strcmp(name, acq_names[s])) return s;
    return bns_fail("unknown acquisition score '%s' (entropy, vr, bald or random)", name);
}

/* ---- the acquisition step ---- */

typedef struct {
    float score;
    uint32_t index;
} ranked;

/* best first: higher score, NaN last, then the lower pool index */
static int cmp_ranked(const void *pa, const void *pb) {
    const ranked *a = pa, *b = pb;
    int na = isnan(a->score), nb = isnan(b->score);
    if (na != nb) return na - nb;
    if (!na && a->score != b->score) return a->score > b->score ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

size_t bns_active_select(const float *score, size_t n_pool, uint8_t *labelled, size_t k, uint32_t *chosen) {
    ranked *r = bns_xmalloc(sizeof *r * (n_pool + 1));
    size_t n = 0;
    for (size_t i = 0; i < n_pool; i++)
        if (!labelled[i]) r[n++] = (ranked){score[i], (uint32_t)i};
    qsort(r, n, sizeof *r, cmp_ranked);
    size_t take = k < n ? k : n;
    for (size_t j = 0; j < take; j++) {
        chosen[j] = r[j].index;
        labelled[r[j].index] = 1;
    }
    free(r);
    return take;
}

int bns_active_initial(uint64_t seed, const uint8_t *labels, size_t n_pool, int n_classes, int per_class,
                       uint32_t *out) {
    bns_stream st = bns_stream_make(seed, bns_hash64("active-initial"), BNS_PURPOSE_DATA);
    uint32_t *perm = bns_xmalloc(sizeof *perm * (n_pool + 1));
    int *have = bns_xcalloc((size_t)n_classes + 1, sizeof *have);
    bns_stream_permutation(&st, 0, n_pool, perm);
    size_t n = 0;
    for (size_t j = 0; j < n_pool; j++) {
        int c = labels[perm[j]];
        if (c < n_classes && have[c] < per_class) {
            have[c]++;
            out[n++] = perm[j];
        }
    }
    int rc = 0;
    for (int c = 0; c < n_classes && rc == 0; c++)
        if (have[c] < per_class)
            rc = bns_fail("active learning: the pool has %d image%s of class %d, the initial set needs %d per class",
                          have[c], have[c] == 1 ? "" : "s", c, per_class);
    free(perm);
    free(have);
    return rc;
}

/* ---- round files ---- */

static int read_attr_num(hid_t g, const char *name, double *v) {
    return H5Aexists(g, name) > 0 && H5LTget_attribute_double(g, ".", name, v) >= 0 ? 0 : -1;
}

int bns_active_read(const char *path, bns_active_result *out) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return bns_fail("%s: cannot open", path);
    hid_t g = H5Lexists(f, "active", H5P_DEFAULT) > 0 ? H5Gopen2(f, "active", H5P_DEFAULT) : -1;
    double round = 0, score = 0, n = 0;
    int bad = g < 0 || read_attr_num(g, "round", &round) || read_attr_num(g, "score", &score) ||
              read_attr_num(g, "n_labelled", &n) || read_attr_num(g, "accuracy", &out->accuracy) ||
              read_attr_num(g, "nll", &out->nll) || read_attr_num(g, "ece", &out->ece);
    if (g >= 0) H5Gclose(g);
    H5Fclose(f);
    if (bad) return bns_fail("%s: not an active-learning round file (no /active group with its numbers)", path);
    out->round = (int)round;
    out->score = (int)score;
    out->n_labelled = (long)n;
    return 0;
}

int bns_active_read_labelled(const char *path, uint32_t **idx, size_t *n) {
    *idx = NULL;
    *n = 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return bns_fail("%s: cannot open", path);
    hsize_t dims[1] = {0};
    H5T_class_t cls;
    size_t size;
    int rc = 0;
    if (H5Lexists(f, "active", H5P_DEFAULT) <= 0 || H5Lexists(f, "active/labelled", H5P_DEFAULT) <= 0 ||
        H5LTget_dataset_info(f, "active/labelled", dims, &cls, &size) < 0 || cls != H5T_INTEGER)
        rc = bns_fail("%s: no /active/labelled (not an active-learning round file)", path);
    if (rc == 0) {
        *idx = bns_xmalloc(sizeof **idx * ((size_t)dims[0] + 1));
        *n = (size_t)dims[0];
        if (H5LTread_dataset(f, "active/labelled", H5T_NATIVE_UINT32, *idx) < 0) {
            rc = bns_fail("%s: cannot read /active/labelled", path);
            free(*idx);
            *idx = NULL;
            *n = 0;
        }
    }
    H5Fclose(f);
    return rc;
}

/* /active of a round file: the numbers and the labelled set */
static int write_active_group(const char *path, const bns_active_settings *s, const uint32_t *labelled, size_t n,
                              const uint32_t *acquired, const double *acq_scores, size_t n_acq, long pool,
                              const bns_accuracy_result *acc, double teacher_accuracy) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return bns_fail("%s: cannot reopen", path);
    hid_t g = H5Gcreate2(f, "active", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int bad = g < 0;
    const struct {
        const char *name;
        double v;
    } attrs[] = {{"round", s->round},           {"score", s->score},
                 {"n_labelled", (double)n},      {"pool", (double)pool},
                 {"acquire", s->acquire},        {"samples", s->samples},
                 {"warm_start", s->warm_start},  {"accuracy", acc->summary.mean.acc},
                 {"nll", acc->summary.mean.nll}, {"ece", acc->summary.mean.ece},
                 {"n_ensemble", acc->n_ensemble}};
    for (size_t i = 0; !bad && i < sizeof attrs / sizeof attrs[0]; i++)
        bad |= H5LTset_attribute_double(g, ".", attrs[i].name, &attrs[i].v, 1) < 0;
    if (!bad && !isnan(teacher_accuracy))
        bad |= H5LTset_attribute_double(g, ".", "teacher_accuracy", &teacher_accuracy, 1) < 0;
    if (!bad) bad |= H5LTset_attribute_string(g, ".", "score_name", s->round ? bns_acq_name(s->score) : "") < 0;
    hsize_t dn = n, da = n_acq;
    if (!bad) bad |= H5LTmake_dataset(g, "labelled", 1, &dn, H5T_NATIVE_UINT32, labelled) < 0;
    if (!bad && n_acq) {
        bad |= H5LTmake_dataset(g, "acquired", 1, &da, H5T_NATIVE_UINT32, acquired) < 0;
        bad |= H5LTmake_dataset_double(g, "acquired_scores", 1, &da, acq_scores) < 0;
    }
    if (g >= 0) H5Gclose(g);
    if (H5Fclose(f) < 0) bad = 1;
    return bad ? bns_fail("%s: cannot write the /active group", path) : 0;
}

/* ---- one round ---- */

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* the labelled rows of the pool, in pool order (the order they were labelled
 * in does not change what is trained on) */
static void gather(const bns_dataset *pool, const uint32_t *idx, size_t n, bns_dataset *out) {
    uint32_t *sorted = bns_xmalloc(sizeof *sorted * (n + 1));
    memcpy(sorted, idx, sizeof *sorted * n);
    qsort(sorted, n, sizeof *sorted, cmp_u32);
    memset(out, 0, sizeof *out);
    out->n = n;
    out->d = pool->d;
    out->n_classes = pool->n_classes;
    out->x = bns_xmalloc(sizeof(float) * (n * pool->d + 1));
    out->y = bns_xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        memcpy(out->x + i * pool->d, pool->x + (size_t)sorted[i] * pool->d, sizeof(float) * pool->d);
        out->y[i] = pool->y[sorted[i]];
    }
    snprintf(out->name, sizeof out->name, "%.40s-labelled", pool->name);
    free(sorted);
}

/* Scores every pool row with round r-1's model and acquires s->acquire of them. */
static int acquire(const bns_model *prev, const bns_config *cfg, const bns_active_settings *s, const bns_dataset *pool,
                   uint8_t *labelled, uint32_t *chosen, double *chosen_scores, size_t *n_chosen) {
    float *score = bns_xmalloc(sizeof(float) * (pool->n + 1));
    int rc = 0;
    if (s->score == BNS_ACQ_RANDOM) {
        bns_stream st = bns_stream_make(s->seed, cfg->task, BNS_PURPOSE_DATA);
        bns_stream_uniform(&st, 0, 0, pool->n, score);
    } else {
        /* the model's own PREDICT stream, as its test accuracy used: common random numbers */
        bns_stream st = bns_stream_make(prev->cfg.seed, prev->cfg.task, BNS_PURPOSE_PREDICT);
        bns_evaluator ev;
        bns_evaluator_init(&ev, prev, pool, &st);
        rc = bns_eval_scores(&ev, s->samples, s->score, score);
        bns_evaluator_free(&ev);
    }
    if (rc == 0) {
        *n_chosen = bns_active_select(score, pool->n, labelled, (size_t)s->acquire, chosen);
        for (size_t j = 0; j < *n_chosen; j++) chosen_scores[j] = score[chosen[j]];
        if (*n_chosen < (size_t)s->acquire)
            rc = bns_fail("active learning round %d: only %zu unlabelled pool images left, %d to acquire (a larger "
                          "pool, or fewer rounds)", s->round, *n_chosen, s->acquire);
    }
    free(score);
    return rc;
}

/* Trains m on the labelled pool rows idx[0..n) (distilling teacher_file, or
 * for NULL its own teacher setting's file, if its method distils), tests it,
 * and writes it with its /active group to `out` atomically; *accuracy gets
 * its test accuracy. */
static int fit_and_write(bns_model *m, const bns_active_settings *s, const bns_splits *data, const bns_dataset *pool,
                         const bns_dataset *val, const uint32_t *idx, size_t n, size_t n_acq, const double *acq_scores,
                         const char *teacher_file, double teacher_accuracy, const char *out, double *accuracy) {
    bns_model teacher;
    int rc = bns_model_load_teacher_from(m, teacher_file, &teacher); /* a distilling method's (apd, mog) */
    if (rc) return rc;
    bns_dataset sub;
    gather(pool, idx, n, &sub);
    bns_train_history h;
    rc = bns_train(m, &sub, val, &h, NULL); /* h is zeroed first, even on error */
    bns_model_free(&teacher);
    m->teacher = NULL;
    bns_dataset_free(&sub);
    if (rc == 0 && h.status == BNS_TRAIN_DIVERGED) rc = bns_fail("training diverged: %s", h.message);
    bns_accuracy_result acc;
    if (rc == 0) {
        bns_stream st = bns_stream_make(m->cfg.seed, m->cfg.task, BNS_PURPOSE_PREDICT);
        bns_evaluator ev;
        bns_evaluator_init(&ev, m, &data->test, &st);
        bns_accuracy_request req = {.n_ensemble = s->samples, .runs = 1};
        rc = bns_eval_accuracy(&ev, &req, NULL, &acc);
        bns_evaluator_free(&ev);
    }
    char tmp[1300];
    if (rc == 0) rc = bns_temp_path(out, tmp, sizeof tmp);
    if (rc == 0 && (rc = bns_model_save(tmp, m, &h)) == 0) {
        rc = write_active_group(tmp, s, idx, n, idx + n - n_acq, acq_scores, n_acq, (long)pool->n, &acc,
                                teacher_accuracy);
        rc = bns_commit_file(tmp, out, rc);
    }
    if (rc == 0) *accuracy = acc.summary.mean.acc;
    bns_train_history_free(&h);
    return rc;
}

/* RUN_DIR/tasks/teacher-KEY.h5 beside the round file `round_path` */
static int teacher_path(const char *round_path, uint64_t key, char *buf, size_t size) {
    const char *slash = strrchr(round_path, '/');
    int dir = slash ? (int)(slash - round_path + 1) : 0;
    int w = snprintf(buf, size, "%.*steacher-%016" PRIx64 ".h5", dir, round_path, key);
    return w > 0 && (size_t)w < size ? 0 : bns_fail("%s: path too long for its teacher file", round_path);
}

/* the teacher key of a distilling round's recipe (its teacher setting "task:KEY", plan.c) */
static int teacher_key_of(const bns_config *cfg, const char *where, uint64_t *key) {
    const bns_config_field *f = bns_config_field_find("teacher");
    char tail;
    if (f && bns_config_field_applies(cfg, f) &&
        sscanf(bns_config_get_string(cfg, "teacher"), "task:%16" SCNx64 "%c", key, &tail) == 1)
        return 0;
    return bns_fail("%s: its recipe (method %s) names no teacher task (teacher: task:KEY)", where, cfg->method);
}

/* 1 when `path` is the teacher file this round would write: the teacher's
 * key and the same labelled set (a run killed after writing it resumes
 * with it; anything else is trained again over it). */
static int teacher_file_is(const char *path, uint64_t key, const uint32_t *idx, size_t n, double *accuracy) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fclose(f);
    uint32_t *got = NULL;
    size_t n_got = 0;
    bns_active_result res;
    bns_model tm;
    int same = bns_active_read(path, &res) == 0 && bns_active_read_labelled(path, &got, &n_got) == 0 && n_got == n &&
               !memcmp(got, idx, sizeof *idx * n);
    free(got);
    if (same && bns_model_load(path, &tm, NULL) == 0) {
        same = tm.cfg.task == key;
        bns_model_free(&tm);
    } else {
        same = 0;
    }
    bns_clear_error();
    if (same) *accuracy = res.accuracy;
    return same;
}

int bns_active_run_round(const bns_config *cfg, const bns_active_settings *s, const bns_splits *data,
                         const char *prev, const char *out) {
    const bns_dataset *train = &data->train;
    if (!train->y) return bns_fail("active learning needs a labelled (classification) training set");
    if (s->pool > 0 && (size_t)s->pool > train->n)
        return bns_fail("active learning pool %ld: the training split has only %zu rows (data.train_limit)", s->pool,
                        train->n);
    if (s->initial % train->n_classes)
        return bns_fail("active learning initial %d: not a multiple of the %d classes (a balanced set)", s->initial,
                        train->n_classes);
    bns_dataset pool = *train, val = data->val; /* views of the first rows: nothing to free */
    if (s->pool > 0) pool.n = (size_t)s->pool;
    if (s->val_rows > 0 && (size_t)s->val_rows < val.n) val.n = (size_t)s->val_rows;
    size_t cap = (size_t)s->initial + (size_t)s->round * (size_t)s->acquire + 1, n = 0, n_acq = 0;
    uint32_t *idx = bns_xmalloc(sizeof *idx * cap);
    double *acq_scores = bns_xmalloc(sizeof *acq_scores * ((size_t)s->acquire + 1));
    uint8_t *labelled = bns_xcalloc(pool.n + 1, 1);
    bns_model m, pm;
    int have_model = 0, have_prev = 0, rc = 0;
    if (s->round == 0) {
        rc = bns_active_initial(s->seed, pool.y, pool.n, pool.n_classes, s->initial / pool.n_classes, idx);
        n = (size_t)s->initial;
    } else {
        uint32_t *got = NULL;
        rc = bns_active_read_labelled(prev, &got, &n);
        if (rc == 0 && n + (size_t)s->acquire > cap)
            rc = bns_fail("%s: %zu labelled images, round %d expects %zu", prev, n, s->round - 1, cap - 1 - s->acquire);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (got[i] >= pool.n || labelled[got[i]])
                rc = bns_fail("%s: labelled index %" PRIu32 " is outside the pool of %zu or repeated", prev, got[i],
                              pool.n);
            else labelled[got[i]] = 1;
        }
        if (rc == 0) memcpy(idx, got, sizeof *idx * n);
        free(got);
        if (rc == 0 && (rc = bns_model_load(prev, &pm, NULL)) == 0) {
            have_prev = 1;
            rc = acquire(&pm, cfg, s, &pool, labelled, idx + n, acq_scores, &n_acq);
            n += n_acq;
        }
    }
    /* A distilling recipe (plan.c): its teacher recipe first, trained on
     * this round's labelled set (warm: from round r-1's teacher) with the
     * teacher's key, written beside the round file; the recipe then distils
     * that file. */
    char tpath[1300] = "";
    double teacher_accuracy = NAN;
    if (rc == 0 && s->teacher && (rc = teacher_path(out, s->teacher->task, tpath, sizeof tpath)) == 0 &&
        !teacher_file_is(tpath, s->teacher->task, idx, n, &teacher_accuracy)) {
        bns_model tm;
        int have_tm = 0;
        if (s->warm_start && have_prev) {
            uint64_t prev_key;
            char wpath[1300];
            if ((rc = teacher_key_of(&pm.cfg, prev, &prev_key)) == 0 &&
                (rc = teacher_path(prev, prev_key, wpath, sizeof wpath)) == 0 &&
                (rc = bns_model_load(wpath, &tm, NULL)) == 0) {
                tm.cfg.task = s->teacher->task; /* round r-1's teacher's parameters, this round's streams */
                have_tm = 1;
            } else {
                rc = bns_fail_prefix("round %d's teacher (warm start from round %d's): ", s->round, s->round - 1);
            }
        } else {
            rc = bns_model_create(s->teacher, (int)pool.d, &tm);
            have_tm = rc == 0;
        }
        if (rc == 0)
            rc = fit_and_write(&tm, s, data, &pool, &val, idx, n, n_acq, acq_scores, NULL, NAN, tpath,
                               &teacher_accuracy);
        if (rc) rc = bns_fail_prefix("teacher %s (method %s): ", tpath, s->teacher->method);
        if (have_tm) bns_model_free(&tm);
    }
    if (rc == 0 && have_prev && s->warm_start) {
        m = pm; /* continue from round r-1's parameters, with this round's streams */
        have_prev = 0;
        m.cfg.task = cfg->task;
        if (s->teacher && bns_config_set(&m.cfg, "teacher", bns_config_get_string(cfg, "teacher"))) rc = -1;
        have_model = 1;
    }
    if (have_prev) bns_model_free(&pm);
    if (rc == 0 && !have_model) {
        rc = bns_model_create(cfg, (int)pool.d, &m);
        have_model = rc == 0;
    }
    double accuracy;
    if (rc == 0)
        rc = fit_and_write(&m, s, data, &pool, &val, idx, n, n_acq, acq_scores, s->teacher ? tpath : NULL,
                           teacher_accuracy, out, &accuracy);
    if (have_model) bns_model_free(&m);
    free(idx);
    free(acq_scores);
    free(labelled);
    return rc;
}
