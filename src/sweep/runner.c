/* runner.c - one task of a plan, run into the run directory; the cube and
 * the posteriors file assembled from the outputs (see runner.h). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "bnnsweep/active.h"
#include "bnnsweep/attack_set.h"
#include "bnnsweep/cube.h"
#include "bnnsweep/error.h"
#include "bnnsweep/eval_pipeline.h"
#include "bnnsweep/method.h"
#include "bnnsweep/metrics.h"
#include "bnnsweep/model_io.h"
#include "bnnsweep/ood.h"
#include "bnnsweep/profile.h"
#include "bnnsweep/runner.h"
#include "bnnsweep/str_index.h"
#include "bnnsweep/train.h"
#include "bnnsweep/provenance.h"
#include "bnnsweep/util.h"
#include "bnnsweep/version.h"

#define EVAL_FORMAT "bnnsweep-eval"

/* mkdir -p: `run --out results/new/x` creates results/new too */
static int make_dir(const char *path) {
    char buf[1200];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return bns_fail("%s: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return bns_fail("%s: cannot create directory %s: %s", path, buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) == 0 || errno == EEXIST) return 0;
    return bns_fail("%s: cannot create directory: %s", path, strerror(errno));
}

int bns_runner_open(bns_runner *r, const bns_spec *spec, const bns_plan *plan, const char *run_dir,
                    const char *data_dir, int write_provenance) {
    memset(r, 0, sizeof *r);
    r->spec = spec;
    r->plan = plan;
    bns_sample_cache_init(&r->samples, BNS_RUNNER_SAMPLE_CACHE_BYTES);
    if (snprintf(r->run_dir, sizeof r->run_dir, "%s", run_dir) >= (int)sizeof r->run_dir)
        return bns_fail("%s: run directory path too long", run_dir);
    snprintf(r->data_dir, sizeof r->data_dir, "%s", data_dir ? data_dir : "");
    char path[1100];
    snprintf(path, sizeof path, "%s/tasks", r->run_dir);
    if (make_dir(r->run_dir) || make_dir(path)) return -1;
    if (!write_provenance) return 0;
    snprintf(path, sizeof path, "%s/sweep.yaml", r->run_dir);
    if (bns_write_file_atomic(path, spec->text ? spec->text : "")) return -1;
    size_t len = 1;
    for (int i = 0; i < spec->n_overrides; i++) len += strlen(spec->overrides[i]) + 1;
    char *text = bns_xcalloc(len, 1);
    for (int i = 0; i < spec->n_overrides; i++) {
        strcat(text, spec->overrides[i]);
        strcat(text, "\n");
    }
    snprintf(path, sizeof path, "%s/overrides.txt", r->run_dir);
    int rc = bns_write_file_atomic(path, text);
    free(text);
    return rc;
}

void bns_runner_close(bns_runner *r) {
    bns_sample_cache_free(&r->samples);
    if (r->data_loaded) bns_splits_free(&r->data);
    r->data_loaded = 0;
}

void bns_runner_task_path(const bns_runner *r, int task, const char *suffix, char *buf, size_t size) {
    const bns_task *t = &r->plan->tasks[task];
    snprintf(buf, size, "%s/tasks/%s-%016" PRIx64 "%s", r->run_dir, bns_task_kind_name(t->kind), t->key, suffix);
}

int bns_runner_is_done(const bns_runner *r, int task) {
    char path[1200];
    bns_runner_task_path(r, task, ".h5", path, sizeof path);
    return access(path, F_OK) == 0;
}

void bns_runner_failure(const bns_runner *r, int task, char *buf, size_t size) {
    char path[1200];
    bns_runner_task_path(r, task, ".failed", path, sizeof path);
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
    while (n > 0 && buf[n - 1] == '\n') buf[--n] = '\0';
}

static const bns_dataset *need_data(bns_runner *r) {
    if (!r->data_loaded) {
        const bns_spec *s = r->spec;
        if (bns_data_load(s->dataset, r->data_dir[0] ? r->data_dir : NULL, s->data_path, (float)s->pixel_scale,
                          (size_t)s->train_limit, (size_t)s->test_limit, &r->data))
            return NULL;
        r->data_loaded = 1;
    }
    return &r->data.train;
}

/* ---- TRAIN ---- */
/* A model view (plan.c): its model's file with the view's evaluation settings. */
static int run_view(bns_runner *r, const bns_task *t, const char *out) {
    char model_path[1200];
    bns_runner_task_path(r, t->model, ".h5", model_path, sizeof model_path);
    bns_model m;
    bns_train_history h;
    if (bns_model_load(model_path, &m, &h)) return -1;
    int rc = bns_config_copy_evaluation(&m.cfg, &t->config);
    if (rc == 0) rc = bns_model_save(out, &m, &h);
    bns_train_history_free(&h);
    bns_model_free(&m);
    return rc;
}

/* 1 and the file of the TRAIN task that t distils (its `teacher` setting
 * "task:KEY", one of its deps: plan.c), else 0 */
static int teacher_task_path(const bns_runner *r, const bns_task *t, char *buf, size_t size) {
    const bns_config_field *f = bns_config_field_find("teacher");
    if (!f || !bns_config_field_applies(&t->config, f)) return 0;
    uint64_t key;
    char tail;
    if (sscanf(bns_config_get_string(&t->config, "teacher"), "task:%16" SCNx64 "%c", &key, &tail) != 1) return 0;
    int teacher = bns_plan_find(r->plan, key);
    if (teacher < 0) return 0;
    bns_runner_task_path(r, teacher, ".h5", buf, size);
    return 1;
}

static int run_train(bns_runner *r, const bns_task *t, const char *out) {
    if (bns_task_is_view(t)) return run_view(r, t, out);
    if (!need_data(r)) return -1;
    bns_model m;
    if (bns_model_create(&t->config, (int)r->data.train.d, &m)) return -1;
    bns_model teacher; /* a distilling method's: a model file, or a teacher task (plan.c: "task:KEY") */
    char teacher_path[1200], *from = NULL;
    if (teacher_task_path(r, t, teacher_path, sizeof teacher_path)) from = teacher_path;
    if (bns_model_load_teacher_from(&m, from, &teacher)) {
        bns_model_free(&m);
        return -1;
    }
    bns_train_history h;
    int rc = bns_train(&m, &r->data.train, &r->data.val, &h, NULL);
    bns_model_free(&teacher);
    m.teacher = NULL;
    if (rc == 0 && h.status == BNS_TRAIN_DIVERGED) rc = bns_fail("training diverged: %s", h.message);
    if (rc == 0) rc = bns_model_save(out, &m, &h);
    if (rc == 0) bns_train_history_free(&h);
    else if (h.epochs) bns_train_history_free(&h);
    bns_model_free(&m);
    return rc;
}

/* ---- ACTIVE: one acquisition round (active.h), from the round before's file ---- */
static int run_active(bns_runner *r, const bns_task *t, const char *out) {
    if (!need_data(r)) return -1;
    char prev[1200];
    if (t->model >= 0) bns_runner_task_path(r, t->model, ".h5", prev, sizeof prev);
    return bns_active_run_round(&t->config, &t->active, &r->data, t->model >= 0 ? prev : NULL, out);
}

/* ---- ATTACK ---- */
static int run_attack(bns_runner *r, const bns_task *t, const char *out) {
    if (!need_data(r)) return -1;
    char model_path[1200];
    bns_runner_task_path(r, t->model, ".h5", model_path, sizeof model_path);
    bns_model m;
    if (bns_model_load(model_path, &m, NULL)) return -1;
    /* the images attacked: the first attack_rows of the test or validation set */
    const bns_dataset *clean = t->clean_set == BNS_SET_VAL ? &r->data.val : &r->data.test;
    bns_dataset rows = *clean;
    if (t->attack_rows > 0) {
        if ((size_t)t->attack_rows > clean->n) {
            bns_model_free(&m);
            return bns_fail("attack rows %ld: the %s set has only %zu rows (data.test_limit %ld)", t->attack_rows,
                            t->clean_set == BNS_SET_VAL ? "val" : "test", clean->n, t->test_limit);
        }
        rows.n = (size_t)t->attack_rows;
    }
    bns_attack_set set;
    int rc = bns_attack_run(&m, &t->attack, &rows, NULL, &set, NULL, NULL);
    if (rc == 0) {
        /* the path inside the run directory: the same whichever rank ran it */
        rc = bns_attack_set_identify(&set, model_path);
        if (rc == 0) rc = bns_attack_set_save(out, &set);
        bns_attack_set_free(&set);
    }
    bns_model_free(&m);
    return rc;
}

/* ---- EVAL ---- */
static int load_eval_set(bns_runner *r, const bns_task *t, bns_dataset *set, char *name, size_t name_size) {
    const bns_eval_settings *e = &t->eval;
    if (e->set == BNS_SET_ATTACK) {
        char path[1200];
        bns_runner_task_path(r, t->set_task, ".h5", path, sizeof path);
        snprintf(name, name_size, "%s", r->plan->tasks[t->set_task].name);
        return bns_attack_set_load(path, set);
    }
    if (!need_data(r)) return -1;
    const bns_dataset *src = e->set == BNS_SET_VAL ? &r->data.val : &r->data.test;
    snprintf(name, name_size, "%s", e->set == BNS_SET_VAL ? "val" : "test");
    return bns_dataset_slice(src, 0, src->n, set);
}

/* rows: of the noise sets; limit: first rows of a set read from a file (0 = all) */
static int load_ood_set(bns_runner *r, int ood, size_t rows, size_t limit, uint64_t seed, bns_dataset *out) {
    const bns_spec *s = r->spec;
    const char *path = ood == BNS_OOD_NOTMNIST ? s->notmnist
                       : ood == BNS_OOD_OMNIGLOT ? s->omniglot
                       : ood == BNS_OOD_CIFAR10  ? s->cifar10
                                                 : NULL;
    if (ood < 0 || ood >= BNS_OOD_COUNT) return bns_fail("unknown OOD set %d", ood);
    return bns_ood_load(bns_ood_set_name(ood), path, r->data_dir[0] ? r->data_dir : NULL, (float)s->pixel_scale,
                        rows, limit, seed, out);
}

static int attr_d(hid_t f, const char *name, double v) { return H5LTset_attribute_double(f, "/", name, &v, 1) < 0; }

static int save_runs(hid_t f, const bns_run_metrics *per_run, const bns_run_summary *sum) {
    int bad = 0, runs = sum->runs;
    bad |= attr_d(f, "runs", runs);
    bad |= attr_d(f, "acc_mean", sum->mean.acc) | attr_d(f, "acc_std", sum->std.acc);
    bad |= attr_d(f, "nll_mean", sum->mean.nll) | attr_d(f, "nll_std", sum->std.nll);
    bad |= attr_d(f, "ece_mean", sum->mean.ece) | attr_d(f, "ece_std", sum->std.ece);
    double *v = bns_xmalloc(sizeof(double) * (runs > 0 ? runs : 1));
    hsize_t n = (hsize_t)runs;
    const char *names[3] = {"acc", "nll", "ece"};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < runs; i++) v[i] = k == 0 ? per_run[i].acc : k == 1 ? per_run[i].nll : per_run[i].ece;
        bad |= H5LTmake_dataset_double(f, names[k], 1, &n, v) < 0;
    }
    free(v);
    return bad;
}

/* Detection (METHODS.md s.12): the clean counterpart of an attack set, row i
 * = row clean_index[i] of the set the attack perturbed. */
static int load_clean_rows(bns_runner *r, const bns_task *t, bns_dataset *out) {
    char path[1200];
    bns_runner_task_path(r, t->set_task, ".h5", path, sizeof path);
    const bns_task *atk = &r->plan->tasks[t->set_task];
    if (!need_data(r)) return -1;
    const bns_dataset *src = atk->clean_set == BNS_SET_VAL ? &r->data.val : &r->data.test;
    bns_attack_set set;
    if (bns_attack_set_read(path, &set)) return -1;
    int rc = src->y && set.d == src->d ? 0 : bns_fail("%s: not an attack on the %zu-feature labelled rows", path, src->d);
    memset(out, 0, sizeof *out);
    if (rc == 0) {
        out->d = src->d;
        out->n_classes = src->n_classes;
        out->n = set.n;
        out->x = bns_xmalloc(sizeof(float) * (set.n * src->d + 1));
        out->y = bns_xmalloc(set.n + 1);
        for (size_t i = 0; i < set.n && rc == 0; i++) {
            int64_t c = set.clean_index[i];
            if (c < 0 || (size_t)c >= src->n || set.label[i] != src->y[c]) {
                rc = bns_fail("%s: row %zu is not row %lld of the clean %s set (another data.test_limit?)", path, i,
                              (long long)c, atk->clean_set == BNS_SET_VAL ? "val" : "test");
                break;
            }
            memcpy(out->x + i * src->d, src->x + (size_t)c * src->d, sizeof(float) * src->d);
            out->y[i] = src->y[c];
        }
        snprintf(out->name, sizeof out->name, "clean rows of %s", atk->name);
    }
    bns_attack_set_free(&set);
    if (rc) bns_dataset_free(out);
    return rc;
}

/* auroc_SCORE, aupr_in_SCORE, aupr_out_SCORE of every computed score */
static int save_scores(hid_t f, const bns_ood_result *res) {
    int bad = 0;
    for (int s = 0; s < BNS_SCORE_COUNT; s++) {
        if (!(res->scores & (1u << s))) continue;
        const char *metric[3] = {"auroc", "aupr_in", "aupr_out"};
        const double value[3] = {res->auroc[s], res->aupr_in[s], res->aupr_out[s]};
        for (int j = 0; j < 3; j++) {
            char name[64];
            snprintf(name, sizeof name, "%s_%s", metric[j], bns_score_name(s));
            bad |= attr_d(f, name, value[j]);
        }
    }
    return bad;
}

static int run_eval(bns_runner *r, const bns_task *t, const char *out) {
    const bns_eval_settings *e = &t->eval;
    char model_path[1200], set_name[256];
    bns_runner_task_path(r, t->model, ".h5", model_path, sizeof model_path);
    bns_model m;
    if (bns_model_load(model_path, &m, NULL)) return -1;
    bns_dataset set = {0};
    if (load_eval_set(r, t, &set, set_name, sizeof set_name)) {
        bns_model_free(&m);
        return -1;
    }
    if (e->test_limit > 0 && (size_t)e->test_limit < set.n) set.n = (size_t)e->test_limit;
    /* balanced OOD detection (METHODS.md s.12: half in-distribution, half OOD):
     * exactly ood_rows of each, the first rows of both sets */
    size_t ood_rows = e->kind == BNS_EVAL_OOD && e->ood_rows > 0 ? (size_t)e->ood_rows : 0;
    if (ood_rows > set.n) {
        bns_fail("ood rows %zu: the in-distribution set %s has only %zu rows (data.test_limit %ld)", ood_rows,
                 set_name, set.n, e->test_limit);
        bns_model_free(&m);
        bns_dataset_free(&set);
        return -1;
    }
    if (ood_rows) set.n = ood_rows;
    bns_dataset clean = {0}; /* detection: the evaluator's set is the clean counterpart */
    if (e->kind == BNS_EVAL_DETECTION && load_clean_rows(r, t, &clean)) {
        bns_model_free(&m);
        bns_dataset_free(&set);
        return -1;
    }
    if ((int)set.d != m.arch.n_inputs) {
        bns_model_free(&m);
        bns_dataset_free(&set);
        return bns_fail("set %s has %zu features, the model expects %d", set_name, set.d, m.arch.n_inputs);
    }
    int rc = 0;
    bns_stream stream = bns_stream_make(e->seed, e->task, BNS_PURPOSE_PREDICT);
    bns_evaluator ev;
    bns_evaluator_init(&ev, &m, e->kind == BNS_EVAL_DETECTION ? &clean : &set, &stream);
    if (ev.stochastic) { /* the model's samples, shared by its evaluations on every set */
        bns_sample_cache_bind(&r->samples, r->plan->tasks[t->model].key, &stream, m.arch.n_weights);
        ev.pred.cache = &r->samples;
    }
    char tmp[1300];
    if (bns_temp_path(out, tmp, sizeof tmp) != 0) rc = -1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = rc ? H5I_INVALID_HID : H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0 && rc == 0) rc = bns_fail("%s: cannot create", tmp);
    int bad = 0;
    if (rc == 0) {
        char key[32];
        snprintf(key, sizeof key, "%016" PRIx64, r->plan->tasks[t->model].key);
        bad |= bns_provenance_write(f, EVAL_FORMAT, 1) < 0;
        bad |= H5LTset_attribute_string(f, "/", "kind", bns_eval_kind_name(e->kind)) < 0;
        bad |= H5LTset_attribute_string(f, "/", "model_key", key) < 0;
        bad |= H5LTset_attribute_string(f, "/", "set", set_name) < 0;
        bad |= attr_d(f, "n_rows", (double)set.n);
    }
    if (rc == 0 && e->kind == BNS_EVAL_DETECTION) {
        bns_detection_result res;
        rc = bns_eval_detection(&ev, &set, e->n_ensemble, e->scores, &res);
        if (rc == 0) {
            bad |= attr_d(f, "n_ensemble", res.det.n_samples);
            bad |= attr_d(f, "acc_clean", res.acc_clean) | attr_d(f, "acc_adv", res.acc_adv);
            bad |= save_scores(f, &res.det);
        }
    } else if (rc == 0 && e->kind != BNS_EVAL_OOD) {
        bns_accuracy_request req = {.n_ensemble = e->n_ensemble, .runs = e->runs > 0 ? e->runs : 1,
                                    .prune = e->kind == BNS_EVAL_PRUNING, .prune_rate = e->prune_rate};
        bns_run_metrics *per_run = bns_xcalloc(req.runs, sizeof *per_run);
        bns_accuracy_result res;
        rc = bns_eval_accuracy(&ev, &req, per_run, &res);
        if (rc == 0 && req.prune) bad |= attr_d(f, "rate", e->prune_rate) | attr_d(f, "n_pruned", (double)res.n_pruned);
        if (rc == 0) {
            bad |= attr_d(f, "n_ensemble", res.n_ensemble);
            bad |= save_runs(f, per_run, &res.summary);
        }
        free(per_run);
    } else if (rc == 0) {
        bns_dataset ood = {0};
        rc = load_ood_set(r, e->ood, set.n, ood_rows ? ood_rows : (size_t)r->spec->test_limit, m.cfg.seed, &ood);
        if (rc == 0 && ood_rows && ood.n < ood_rows)
            rc = bns_fail("ood rows %zu: the OOD set %s has only %zu rows", ood_rows, bns_ood_set_name(e->ood), ood.n);
        if (ood_rows && ood.n > ood_rows) ood.n = ood_rows;
        bns_ood_result res;
        if (rc == 0) rc = bns_eval_ood(&ev, &ood, e->n_ensemble, e->scores, &res);
        if (rc == 0) {
            bad |= H5LTset_attribute_string(f, "/", "ood_set", bns_ood_set_name(e->ood)) < 0;
            bad |= attr_d(f, "ood_rows", (double)ood.n) | attr_d(f, "n_ensemble", res.n_samples);
            bad |= save_scores(f, &res);
        }
        bns_dataset_free(&ood);
    }
    if (rc == 0 && bad) rc = bns_fail("%s: cannot write results", tmp);
    if (f >= 0 && H5Fclose(f) < 0 && rc == 0) rc = bns_fail("%s: cannot close", tmp);
    rc = bns_commit_file(tmp, out, rc);
    bns_evaluator_free(&ev);
    bns_dataset_free(&set);
    bns_dataset_free(&clean);
    bns_model_free(&m);
    return rc;
}

static void record_failure(const char *failed, const char *err) {
    char text[1400];
    snprintf(text, sizeof text, "%s\n", err);
    bns_write_file_atomic(failed, text);
}

static int run_in_process(bns_runner *r, int task, char *err, size_t err_size) {
    const bns_task *t = &r->plan->tasks[task];
    char out[1200], failed[1200];
    bns_runner_task_path(r, task, ".h5", out, sizeof out);
    bns_runner_task_path(r, task, ".failed", failed, sizeof failed);
    unlink(failed);
    bns_clear_error();
    int rc;
    switch (t->kind) {
    case BNS_TASK_TRAIN: rc = run_train(r, t, out); break;
    case BNS_TASK_ATTACK: rc = run_attack(r, t, out); break;
    case BNS_TASK_ACTIVE: rc = run_active(r, t, out); break;
    default: rc = run_eval(r, t, out); break;
    }
    if (rc) {
        snprintf(err, err_size, "%s", bns_last_error());
        record_failure(failed, err);
    }
    return rc;
}

/* With a time limit, the task runs in a child process (fork: the data the
 * parent has loaded is shared, copy-on-write) that the parent kills once the
 * limit has passed, recording the failure; the sweep goes on. The child
 * writes its file atomically, so a killed one leaves at most a temporary
 * whose writer is gone (removed by the next start). The child never calls
 * MPI and leaves by _exit. */
static int run_limited(bns_runner *r, int task, char *err, size_t err_size) {
    char failed[1200];
    bns_runner_task_path(r, task, ".failed", failed, sizeof failed);
    unlink(failed);
    need_data(r); /* once, here, rather than in every child (a failure is the child's to report) */
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, err_size, "cannot start the task's process: %s", strerror(errno));
        record_failure(failed, err);
        return 1;
    }
    if (pid == 0) {
        int rc = run_in_process(r, task, err, err_size);
        fflush(stdout);
        fflush(stderr);
        _exit(rc ? 1 : 0);
    }
    double start = bns_now_seconds();
    int status = 0;
    for (;;) {
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) break;
        if (got < 0 && errno != EINTR) break;
        if (bns_now_seconds() - start > r->task_time_limit) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
            snprintf(err, err_size, "time limit exceeded: stopped after %.3g s (task_time_limit %g s)",
                     bns_now_seconds() - start, r->task_time_limit);
            record_failure(failed, err);
            return 1;
        }
        struct timespec pause = {0, 10 * 1000 * 1000}; /* 10 ms */
        nanosleep(&pause, NULL);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFEXITED(status) && access(failed, F_OK) == 0) {
        bns_runner_failure(r, task, err, err_size); /* the child recorded why */
        return 1;
    }
    if (WIFSIGNALED(status)) snprintf(err, err_size, "the task's process died of signal %d", WTERMSIG(status));
    else snprintf(err, err_size, "the task's process ended with status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    record_failure(failed, err);
    return 1;
}

int bns_runner_run_task(int task, void *runner, char *err, size_t err_size) {
    bns_runner *r = runner;
    double start = bns_wall_clock();
    int rc = r->task_time_limit > 0 ? run_limited(r, task, err, err_size) : run_in_process(r, task, err, err_size);
    bns_profile_task(r, task, start, rc);
    return rc;
}

/* ---- results versions (version.h) ---- */

int bns_runner_results_version(const bns_runner *r, int task) {
    char path[1200];
    bns_runner_task_path(r, task, ".h5", path, sizeof path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return -1;
    int v = BNS_RESULTS_VERSION_UNRECORDED;
    if (H5Aexists(f, BNS_RESULTS_VERSION_ATTR) > 0 && H5LTget_attribute_int(f, "/", BNS_RESULTS_VERSION_ATTR, &v) < 0)
        v = -1;
    H5Fclose(f);
    return v;
}

/* "KIND-KEY" of a task: its file name without the suffix */
static void task_file_name(const bns_runner *r, int task, char *buf, size_t size) {
    const bns_task *t = &r->plan->tasks[task];
    snprintf(buf, size, "%s-%016" PRIx64, bns_task_kind_name(t->kind), t->key);
}

/* accepted_stale.txt holds "KIND-KEY results_version=N ..." lines: read
 * once into a set of "KIND-KEY N" (a scan of the whole text per task was
 * quadratic in a sweep whose tasks were all accepted) */
typedef struct {
    char **keys;
    int n;
    bns_str_index index;
} accepted_set;

static void accepted_read(const char *text, accepted_set *a) {
    memset(a, 0, sizeof *a);
    size_t lines = 1;
    for (const char *c = text; c && *c; c++) lines += *c == '\n';
    a->keys = bns_xcalloc(lines, sizeof *a->keys);
    for (const char *line = text; line && *line;) {
        char file[64], key[96];
        int v;
        if (sscanf(line, "%63s results_version=%d", file, &v) == 2) {
            snprintf(key, sizeof key, "%s %d", file, v);
            a->keys[a->n] = bns_xstrdup(key);
            if (bns_str_index_add(&a->index, a->keys[a->n], a->n) == a->n) a->n++;
            else free(a->keys[a->n]);
        }
        line = strchr(line, '\n');
        if (line) line++;
    }
}

static int is_accepted(const accepted_set *a, const char *name, int version) {
    char key[96];
    snprintf(key, sizeof key, "%s %d", name, version);
    return bns_str_index_find(&a->index, key) >= 0;
}

static void accepted_free(accepted_set *a) {
    bns_str_index_free(&a->index);
    for (int i = 0; i < a->n; i++) free(a->keys[i]);
    free(a->keys);
}

int bns_runner_find_stale(const bns_runner *r, unsigned char *stale, int *versions) {
    char path[1100];
    snprintf(path, sizeof path, "%s/accepted_stale.txt", r->run_dir);
    char *text = access(path, F_OK) == 0 ? bns_read_file(path, NULL) : NULL;
    accepted_set accepted;
    accepted_read(text, &accepted);
    free(text);
    int count = 0;
    /* dependencies have lower indices: one pass carries staleness down */
    for (int t = 0; t < r->plan->n_tasks; t++) {
        const bns_task *task = &r->plan->tasks[t];
        stale[t] = 0;
        versions[t] = BNS_RESULTS_VERSION;
        if (!bns_runner_is_done(r, t)) continue;
        int v = bns_runner_results_version(r, t);
        versions[t] = v;
        char name[64];
        task_file_name(r, t, name, sizeof name);
        if (v != BNS_RESULTS_VERSION && !is_accepted(&accepted, name, v)) stale[t] = 1;
        for (int k = 0; k < task->n_deps && !stale[t]; k++) stale[t] = stale[task->deps[k]];
        count += stale[t];
    }
    accepted_free(&accepted);
    return count;
}

int bns_runner_accept_stale(const bns_runner *r, const unsigned char *stale, const int *versions) {
    char path[1100], when[32];
    snprintf(path, sizeof path, "%s/accepted_stale.txt", r->run_dir);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *old = access(path, F_OK) == 0 ? bns_read_file(path, NULL) : NULL;
    /* room for every line: 200 bytes besides the task's name (names may be longer than that) */
    size_t used = old ? strlen(old) : 0, cap = used + 256;
    for (int t = 0; t < r->plan->n_tasks; t++)
        if (stale[t]) cap += 200 + strlen(BNS_VERSION) + strlen(r->plan->tasks[t].name);
    char *text = bns_xcalloc(cap, 1);
    if (old) memcpy(text, old, used);
    free(old);
    for (int t = 0; t < r->plan->n_tasks; t++) {
        if (!stale[t]) continue;
        char name[64];
        task_file_name(r, t, name, sizeof name);
        used += (size_t)snprintf(text + used, cap - used,
                                 "%s results_version=%d accepted by bnnsweep %s (results version %d) at %s: %s\n", name,
                                 versions[t], BNS_VERSION, BNS_RESULTS_VERSION, when, r->plan->tasks[t].name);
    }
    int rc = bns_write_file_atomic(path, text);
    free(text);
    return rc;
}

/* ---- the cube ---- */

/* labels of a dimension, from task names without their "kind/" prefix */
static const char *short_name(const char *name) {
    const char *slash = strchr(name, '/');
    return slash ? slash + 1 : name;
}

/* A dimension's labels in order of first appearance; the index finds a
 * label seen before (a scan per task was quadratic in models x tasks). */
typedef struct {
    const char **labels;
    int n;
    bns_str_index index;
} label_list;

static int label_add(label_list *l, const char *label) {
    long i = bns_str_index_add(&l->index, label, l->n);
    if (i == l->n) l->labels[l->n++] = label;
    return (int)i;
}

static int number_add(double *values, int *n, double v) {
    for (int i = 0; i < *n; i++)
        if (values[i] == v) return i;
    values[*n] = v;
    return (*n)++;
}

static double read_attr(hid_t f, const char *name) {
    double v = NAN;
    if (H5Aexists(f, name) > 0) H5LTget_attribute_double(f, "/", name, &v);
    return v;
}

/* The plan's identity: a hash over its task keys (a cube of another sweep is never "more complete"). */
static void plan_identity(const bns_plan *p, char *buf, size_t size) {
    uint64_t h = 1469598103934665603ULL;
    for (int t = 0; t < p->n_tasks; t++) {
        char key[32];
        snprintf(key, sizeof key, "%016" PRIx64 ";", p->tasks[t].key);
        h ^= bns_hash64(key);
        h *= 1099511628211ULL;
    }
    snprintf(buf, size, "%016" PRIx64, h);
}

/* tasks_done of an existing cube of the same plan (-1: none, another plan,
 * or written before these attributes) */
static long existing_tasks_done(const char *path, const char *plan_id) {
    if (access(path, F_OK) != 0) return -1;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return -1;
    long long v = -1;
    char *id = NULL; /* the cube's strings are variable-length UTF-8 (cube.h) */
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t a = H5Aexists(f, "plan_id") > 0 ? H5Aopen(f, "plan_id", H5P_DEFAULT) : -1;
    if (a < 0 || H5Aread(a, t, &id) < 0 || !id || strcmp(id, plan_id) != 0 || H5Aexists(f, "tasks_done") <= 0 ||
        H5LTget_attribute_long_long(f, "/", "tasks_done", &v) < 0)
        v = -1;
    if (id) H5free_memory(id);
    if (a >= 0) H5Aclose(a);
    H5Tclose(t);
    H5Fclose(f);
    return (long)v;
}

/* Active learning in the cube: al_accuracy[al_model, al_score, al_seed,
 * acquired] (and al_nll), al_model = "SECTION/GROUP[/POINT][/teacher=POINT]", acquired =
 * round * acquire, al_method[al_model] its method; only when the plan has
 * ACTIVE tasks. */
static void active_model_label(const bns_spec *s, const bns_task *t, char *buf, size_t size) {
    const bns_spec_group *g = &s->groups[t->active.group];
    char point[512], teacher[512] = "";
    bns_spec_point_label(g->axes, g->n_axes, t->active.point, point, sizeof point);
    /* a distilling recipe's chains per teacher point (plan.c), named only where there are several */
    const bns_spec_group *tg = g->teacher >= 0 && t->active.teacher ? &s->groups[g->teacher] : NULL;
    if (tg && bns_spec_axes_points(tg->axes, tg->n_axes) > 1) {
        memcpy(teacher, "/teacher=", 10);
        bns_spec_point_label(tg->axes, tg->n_axes, t->active.teacher_point, teacher + 9, sizeof teacher - 9);
    }
    snprintf(buf, size, "%s/%s%s%s%s", s->actives[t->spec_index].name, g->name, point[0] ? "/" : "", point, teacher);
}

static int active_cube_dims(bns_cube *c, const bns_runner *r) {
    const bns_plan *p = r->plan;
    int n = p->n_tasks, n_labels = 0, n_seeds = 0, n_acq = 0;
    char **labels = bns_xcalloc((size_t)n + 1, sizeof *labels);
    double *seeds = bns_xcalloc((size_t)n + 1, sizeof *seeds), *acq = bns_xcalloc((size_t)n + 1, sizeof *acq);
    bns_str_index seen;
    bns_str_index_init(&seen);
    for (int t = 0; t < n; t++) {
        const bns_task *task = &p->tasks[t];
        if (task->kind != BNS_TASK_ACTIVE) continue;
        char label[1024];
        active_model_label(r->spec, task, label, sizeof label);
        if (bns_str_index_find(&seen, label) < 0) {
            labels[n_labels] = bns_xstrdup(label);
            bns_str_index_add(&seen, labels[n_labels], n_labels);
            n_labels++;
        }
        number_add(seeds, &n_seeds, (double)task->active.seed);
        number_add(acq, &n_acq, (double)task->active.round * task->active.acquire);
    }
    int rc = 0;
    if (n_labels) {
        const char *scores[BNS_ACQ_COUNT], *dims[4] = {"al_model", "al_score", "al_seed", "acquired"};
        for (int sc = 0; sc < BNS_ACQ_COUNT; sc++) scores[sc] = bns_acq_name(sc);
        rc |= bns_cube_add_dim_strings(c, "al_model", (const char *const *)labels, (size_t)n_labels);
        rc |= bns_cube_add_dim_strings(c, "al_score", scores, BNS_ACQ_COUNT);
        rc |= bns_cube_add_dim_numbers(c, "al_seed", seeds, (size_t)n_seeds);
        rc |= bns_cube_add_dim_numbers(c, "acquired", acq, (size_t)n_acq);
        rc |= bns_cube_add_var(c, "al_accuracy", dims, 4, NULL, "active learning: test accuracy after `acquired` acquisitions");
        rc |= bns_cube_add_var(c, "al_nll", dims, 4, "nats", "active learning: test negative log-likelihood");
        rc |= bns_cube_add_string_var(c, "al_method", "al_model");
    }
    bns_str_index_free(&seen);
    for (int i = 0; i < n_labels; i++) free(labels[i]);
    free(labels);
    free(seeds);
    free(acq);
    return rc;
}

/* one round's numbers into its chain's cell (round 0: every score's chain of its section) */
static int active_cube_fill(bns_cube *c, const bns_runner *r, int t) {
    const bns_task *task = &r->plan->tasks[t];
    char path[1200], label[1024];
    bns_runner_task_path(r, t, ".h5", path, sizeof path);
    bns_active_result res;
    if (bns_active_read(path, &res)) return -1;
    active_model_label(r->spec, task, label, sizeof label);
    size_t idx[4];
    int rc = bns_cube_find_label(c, "al_model", label, &idx[0]);
    rc |= bns_cube_find_number(c, "al_seed", (double)task->active.seed, &idx[2]);
    rc |= bns_cube_find_number(c, "acquired", (double)task->active.round * task->active.acquire, &idx[3]);
    rc |= bns_cube_set_string(c, "al_method", idx[0], task->config.method);
    const bns_spec_active *a = &r->spec->actives[task->spec_index];
    int stochastic = bns_method_find(task->config.method) &&
                     (bns_method_caps(bns_method_find(task->config.method), &task->config) & BNS_CAP_STOCHASTIC);
    for (int sc = 0; sc < BNS_ACQ_COUNT && rc == 0; sc++) {
        if (task->active.round ? sc != task->active.score : !(a->scores & (1u << sc)) || (sc == BNS_SCORE_BALD && !stochastic))
            continue;
        idx[1] = (size_t)sc;
        rc |= bns_cube_set(c, "al_accuracy", idx, res.accuracy);
        rc |= bns_cube_set(c, "al_nll", idx, res.nll);
    }
    /* round 1 also fills its chain's start: a round 0 shared with another section */
    if (rc == 0 && task->active.round == 1 && task->model >= 0 && bns_runner_is_done(r, task->model)) {
        bns_runner_task_path(r, task->model, ".h5", path, sizeof path);
        rc = bns_active_read(path, &res);
        idx[1] = (size_t)task->active.score;
        idx[3] = 0;
        if (rc == 0 && bns_cube_find_number(c, "acquired", 0, &idx[3]) == 0) {
            rc |= bns_cube_set(c, "al_accuracy", idx, res.accuracy);
            rc |= bns_cube_set(c, "al_nll", idx, res.nll);
        }
    }
    return rc;
}

/* A model file's mean epoch seconds (/training/epoch_seconds: training steps
 * only, validation apart) and epochs run; -1 if it has none (a view's file
 * carries its trained model's history). */
static int read_epoch_seconds(const char *path, double *per_epoch, double *epochs) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return -1;
    int rc = -1;
    hsize_t n = 0;
    H5T_class_t cls;
    size_t size;
    if (H5Lexists(f, "training", H5P_DEFAULT) > 0 && H5Lexists(f, "training/epoch_seconds", H5P_DEFAULT) > 0 &&
        H5LTget_dataset_info(f, "training/epoch_seconds", &n, &cls, &size) >= 0 && n > 0 && n < 10000000) {
        double *v = bns_xmalloc(sizeof(double) * n);
        if (H5LTread_dataset_double(f, "training/epoch_seconds", v) >= 0) {
            double sum = 0;
            for (hsize_t i = 0; i < n; i++) sum += v[i];
            *per_epoch = sum / (double)n;
            *epochs = (double)n;
            rc = 0;
        }
        free(v);
    }
    H5Fclose(f);
    return rc;
}

/* The BLAS configurations the task files were computed with (provenance.h),
 * counted: results depend on them, so a run whose tasks saw more than one is
 * not reproducible as a whole and the merge says so. */
enum { BLAS_SEEN_MAX = 8 };
typedef struct {
    char label[BLAS_SEEN_MAX][64];
    long count[BLAS_SEEN_MAX];
    int n;
    long unrecorded, other;
} blas_tally;

static void blas_tally_add(blas_tally *b, const char *label) {
    if (!label[0]) {
        b->unrecorded++;
        return;
    }
    for (int i = 0; i < b->n; i++)
        if (strcmp(b->label[i], label) == 0) {
            b->count[i]++;
            return;
        }
    if (b->n == BLAS_SEEN_MAX) {
        b->other++;
        return;
    }
    snprintf(b->label[b->n], sizeof b->label[b->n], "%s", label);
    b->count[b->n++] = 1;
}

static void blas_tally_format(const blas_tally *b, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < b->n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s (%ld tasks)", i ? "; " : "", b->label[i], b->count[i]);
    if (b->other && used < size)
        used += (size_t)snprintf(buf + used, size - used, "%s%ld tasks with other configurations", used ? "; " : "", b->other);
    if (b->unrecorded && used < size)
        snprintf(buf + used, size - used, "%s%ld tasks unrecorded (older files)", used ? "; " : "", b->unrecorded);
}

/* the label of a task file that the cube assembly does not otherwise open */
static void task_file_blas(const char *path, char *buf, size_t size) {
    buf[0] = 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return;
    bns_blas_config_read(f, buf, size);
    H5Fclose(f);
}

int bns_runner_write_cube(bns_runner *r, const bns_task_record *records, const bns_run_info *info) {
    const bns_plan *p = r->plan;
    int n = p->n_tasks;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* dimensions: models (all trained), sets (test, val, every attack),
     * ensemble sizes, pruning rates, OOD sets, scores */
    label_list models = {bns_xcalloc(n + r->spec->n_groups + 1, sizeof(char *)), 0, {0}},
               sets = {bns_xcalloc(n + 3, sizeof(char *)), 0, {0}};
    label_list oods = {bns_xcalloc(BNS_OOD_COUNT + 1, sizeof(char *)), 0, {0}};
    double *ens = bns_xcalloc(n + 1, sizeof(double)), *rates = bns_xcalloc(n + 1, sizeof(double));
    int n_ens = 0, n_rates = 0, n_detect = 0;
    int *model_index = bns_xcalloc(n + 1, sizeof(int)), *set_index = bns_xcalloc(n + 1, sizeof(int));
    label_add(&sets, "test");
    label_add(&sets, "val");
    /* no model trained (every group only an active-learning recipe, plan.c): the groups name the dimension */
    int any_train = 0;
    for (int t = 0; t < n; t++) any_train |= p->tasks[t].kind == BNS_TASK_TRAIN;
    for (int g = 0; !any_train && g < r->spec->n_groups; g++) label_add(&models, r->spec->groups[g].name);
    for (int t = 0; t < n; t++) {
        const bns_task *task = &p->tasks[t];
        if (task->kind == BNS_TASK_TRAIN) model_index[t] = label_add(&models, short_name(task->name));
        if (task->kind == BNS_TASK_ATTACK) set_index[t] = label_add(&sets, short_name(task->name));
        if (task->kind != BNS_TASK_EVAL) continue;
        if (task->eval.kind == BNS_EVAL_ENSEMBLES) number_add(ens, &n_ens, task->eval.n_ensemble);
        if (task->eval.kind == BNS_EVAL_PRUNING) number_add(rates, &n_rates, task->eval.prune_rate);
        if (task->eval.kind == BNS_EVAL_OOD) label_add(&oods, bns_ood_set_name(task->eval.ood));
        n_detect += task->eval.kind == BNS_EVAL_DETECTION;
    }
    const char *score_labels[BNS_SCORE_COUNT];
    for (int s = 0; s < BNS_SCORE_COUNT; s++) score_labels[s] = bns_score_name(s);

    bns_cube *c = bns_cube_new();
    int rc = 0;
    rc |= bns_cube_add_dim_strings(c, "model", models.labels, models.n);
    rc |= bns_cube_add_dim_strings(c, "set", sets.labels, sets.n);
    if (n_ens) rc |= bns_cube_add_dim_numbers(c, "n_ensemble", ens, n_ens);
    if (n_rates) rc |= bns_cube_add_dim_numbers(c, "rate", rates, n_rates);
    if (oods.n) rc |= bns_cube_add_dim_strings(c, "ood", oods.labels, oods.n);
    if (oods.n || n_detect) rc |= bns_cube_add_dim_strings(c, "score", score_labels, BNS_SCORE_COUNT);
    rc |= bns_cube_add_dim(c, "task", n);
    const char *ms[] = {"model", "set"};
    const char *mse[] = {"model", "set", "n_ensemble"}, *msr[] = {"model", "set", "rate"};
    const char *mos[] = {"model", "ood", "score"}, *s1[] = {"set"}, *t1[] = {"task"};
    rc |= bns_cube_add_var(c, "accuracy", ms, 2, NULL, "accuracy (BNN: mean over single-sample runs)");
    rc |= bns_cube_add_var(c, "accuracy_std", ms, 2, NULL, "standard deviation of accuracy over runs");
    rc |= bns_cube_add_var(c, "nll", ms, 2, "nats", "negative log-likelihood (mean over runs)");
    rc |= bns_cube_add_var(c, "ece", ms, 2, NULL, "expected calibration error, 15 bins (mean over runs)");
    if (n_ens) {
        rc |= bns_cube_add_var(c, "ensemble_accuracy", mse, 3, NULL, "accuracy of N-sample ensembles (mean over runs)");
        rc |= bns_cube_add_var(c, "ensemble_accuracy_std", mse, 3, NULL, "its standard deviation over runs");
    }
    if (n_rates) rc |= bns_cube_add_var(c, "pruned_accuracy", msr, 3, NULL, "accuracy after SNR pruning");
    if (oods.n) {
        rc |= bns_cube_add_var(c, "auroc", mos, 3, NULL, "AUROC, test (in) vs OOD set");
        rc |= bns_cube_add_var(c, "aupr_in", mos, 3, NULL, "area under PR curve, in-distribution positive");
        rc |= bns_cube_add_var(c, "aupr_out", mos, 3, NULL, "area under PR curve, OOD positive");
    }
    if (n_detect) { /* adversarial detection (METHODS.md s.12): model = detector, set = adversarial set */
        const char *mss[] = {"model", "set", "score"};
        rc |= bns_cube_add_var(c, "detection_auroc", mss, 3, NULL, "AUROC, clean rows vs their adversarial set (positive)");
        rc |= bns_cube_add_var(c, "detection_aupr_in", mss, 3, NULL, "area under PR curve, clean rows positive");
        rc |= bns_cube_add_var(c, "detection_aupr_out", mss, 3, NULL, "area under PR curve, adversarial rows positive");
        rc |= bns_cube_add_var(c, "detection_accuracy", ms, 2, NULL, "accuracy on the adversarial set (ensemble mean)");
        rc |= bns_cube_add_var(c, "detection_clean_accuracy", ms, 2, NULL, "accuracy on its clean rows (ensemble mean)");
    }
    const char *m1[] = {"model"};
    rc |= bns_cube_add_var(c, "train_seconds_per_epoch", m1, 1, "s", "mean wall time of a training epoch's steps");
    rc |= bns_cube_add_var(c, "train_epochs", m1, 1, NULL, "epochs trained");
    rc |= bns_cube_add_var(c, "parameters", m1, 1, NULL, "parameters the model file stores (the method's n_params)");
    rc |= bns_cube_add_string_var(c, "model_method", "model");
    rc |= bns_cube_add_string_var(c, "model_capabilities", "model");
    rc |= bns_cube_add_var(c, "attack_success_rate", s1, 1, NULL, "fraction of examples that fooled the source");
    rc |= bns_cube_add_var(c, "attack_mean_distortion", s1, 1, NULL, "(1/n) sum sqrt(|r|^2 / d)");
    rc |= bns_cube_add_string_var(c, "task_name", "task");
    rc |= bns_cube_add_string_var(c, "task_key", "task");
    rc |= bns_cube_add_string_var(c, "task_kind", "task");
    rc |= bns_cube_add_string_var(c, "status", "task");
    rc |= bns_cube_add_string_var(c, "host", "task");
    rc |= bns_cube_add_string_var(c, "blas", "task");
    rc |= bns_cube_add_string_var(c, "error", "task");
    rc |= bns_cube_add_var(c, "wall_seconds", t1, 1, "s", "task wall time (NaN: not run in this run)");
    rc |= bns_cube_add_var(c, "rank", t1, 1, NULL, "MPI rank that ran the task");
    rc |= active_cube_dims(c, r);

    long n_done = 0;
    blas_tally blas = {0};
    char blas_label[64];
    for (int t = 0; t < n && rc == 0; t++) {
        const bns_task *task = &p->tasks[t];
        char path[1200], key[32], text[512];
        snprintf(key, sizeof key, "%016" PRIx64, task->key);
        int done = bns_runner_is_done(r, t);
        n_done += done;
        const char *status = done ? "done" : "pending";
        bns_runner_failure(r, t, text, sizeof text);
        if (records && records[t].state == BNS_TASK_SKIPPED) status = "skipped";
        else if (!done && text[0]) status = "failed";
        if (records && records[t].error[0] && !done) snprintf(text, sizeof text, "%s", records[t].error);
        size_t ti = (size_t)t;
        if (task->kind == BNS_TASK_TRAIN) { /* what analysis/ needs to know of the model, from its method */
            const bns_method *method = bns_method_find(task->config.method);
            char caps[128];
            bns_caps_format(method ? bns_method_caps(method, &task->config) : 0, caps, sizeof caps);
            rc |= bns_cube_set_string(c, "model_method", (size_t)model_index[t], task->config.method);
            rc |= bns_cube_set_string(c, "model_capabilities", (size_t)model_index[t], caps);
            size_t mi = (size_t)model_index[t];
            bns_arch arch;
            if (method && bns_arch_parse(task->config.arch, bns_data_inputs(task->config.dataset), &arch) == 0)
                rc |= bns_cube_set(c, "parameters", &mi, (double)method->n_params(&task->config, &arch));
            if (done) {
                double per_epoch, epochs;
                bns_runner_task_path(r, t, ".h5", path, sizeof path);
                if (read_epoch_seconds(path, &per_epoch, &epochs) == 0) {
                    rc |= bns_cube_set(c, "train_seconds_per_epoch", &mi, per_epoch);
                    rc |= bns_cube_set(c, "train_epochs", &mi, epochs);
                }
            }
        }
        rc |= bns_cube_set_string(c, "task_name", ti, task->name);
        rc |= bns_cube_set_string(c, "task_key", ti, key);
        rc |= bns_cube_set_string(c, "task_kind", ti, bns_task_kind_name(task->kind));
        rc |= bns_cube_set_string(c, "status", ti, status);
        rc |= bns_cube_set_string(c, "error", ti, done ? "" : text);
        if (records && records[t].rank >= 0) {
            rc |= bns_cube_set_string(c, "host", ti, records[t].host);
            rc |= bns_cube_set(c, "wall_seconds", &ti, records[t].seconds);
            rc |= bns_cube_set(c, "rank", &ti, records[t].rank);
        }
        if (done && task->kind != BNS_TASK_EVAL) { /* an evaluation's file is opened below anyway */
            bns_runner_task_path(r, t, ".h5", path, sizeof path);
            task_file_blas(path, blas_label, sizeof blas_label);
            blas_tally_add(&blas, blas_label);
            rc |= bns_cube_set_string(c, "blas", ti, blas_label);
        }
        if (!done || task->kind == BNS_TASK_TRAIN) continue;
        if (task->kind == BNS_TASK_ACTIVE) {
            rc |= active_cube_fill(c, r, t);
            continue;
        }
        bns_runner_task_path(r, t, ".h5", path, sizeof path);
        if (task->kind == BNS_TASK_ATTACK) { /* its two numbers, not its images */
            double success_rate, mean_distortion;
            if (bns_attack_set_read_summary(path, &success_rate, &mean_distortion)) {
                rc = -1;
                break;
            }
            size_t si = (size_t)set_index[t];
            rc |= bns_cube_set(c, "attack_success_rate", &si, success_rate);
            rc |= bns_cube_set(c, "attack_mean_distortion", &si, mean_distortion);
            continue;
        }
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (f < 0) {
            rc = bns_fail("%s: cannot open", path);
            break;
        }
        bns_blas_config_read(f, blas_label, sizeof blas_label);
        blas_tally_add(&blas, blas_label);
        rc |= bns_cube_set_string(c, "blas", ti, blas_label);
        const bns_eval_settings *e = &task->eval;
        size_t mi = (size_t)model_index[task->model];
        size_t si = e->set == BNS_SET_ATTACK ? (size_t)set_index[task->set_task] : e->set == BNS_SET_VAL ? 1 : 0;
        size_t idx3[3] = {mi, si, 0}, idx2[2] = {mi, si};
        if (e->kind == BNS_EVAL_ROBUSTNESS) {
            rc |= bns_cube_set(c, "accuracy", idx2, read_attr(f, "acc_mean"));
            rc |= bns_cube_set(c, "accuracy_std", idx2, read_attr(f, "acc_std"));
            rc |= bns_cube_set(c, "nll", idx2, read_attr(f, "nll_mean"));
            rc |= bns_cube_set(c, "ece", idx2, read_attr(f, "ece_mean"));
        } else if (e->kind == BNS_EVAL_ENSEMBLES) {
            rc |= bns_cube_find_number(c, "n_ensemble", e->n_ensemble, &idx3[2]);
            rc |= bns_cube_set(c, "ensemble_accuracy", idx3, read_attr(f, "acc_mean"));
            rc |= bns_cube_set(c, "ensemble_accuracy_std", idx3, read_attr(f, "acc_std"));
        } else if (e->kind == BNS_EVAL_PRUNING) {
            rc |= bns_cube_find_number(c, "rate", e->prune_rate, &idx3[2]);
            rc |= bns_cube_set(c, "pruned_accuracy", idx3, read_attr(f, "acc_mean"));
        } else if (e->kind == BNS_EVAL_DETECTION) {
            rc |= bns_cube_set(c, "detection_accuracy", idx2, read_attr(f, "acc_adv"));
            rc |= bns_cube_set(c, "detection_clean_accuracy", idx2, read_attr(f, "acc_clean"));
            for (int s = 0; s < BNS_SCORE_COUNT; s++) {
                size_t idx[3] = {mi, si, (size_t)s};
                const char *metric[3] = {"auroc", "aupr_in", "aupr_out"};
                for (int k = 0; k < 3; k++) {
                    char name[64], var[64];
                    snprintf(name, sizeof name, "%s_%s", metric[k], bns_score_name(s));
                    snprintf(var, sizeof var, "detection_%s", metric[k]);
                    double v = read_attr(f, name);
                    if (!isnan(v)) rc |= bns_cube_set(c, var, idx, v);
                }
            }
        } else {
            size_t oi;
            rc |= bns_cube_find_label(c, "ood", bns_ood_set_name(e->ood), &oi);
            for (int s = 0; s < BNS_SCORE_COUNT; s++) {
                size_t idx[3] = {mi, oi, (size_t)s};
                const char *metric[3] = {"auroc", "aupr_in", "aupr_out"};
                for (int k = 0; k < 3; k++) {
                    char name[64];
                    snprintf(name, sizeof name, "%s_%s", metric[k], bns_score_name(s));
                    double v = read_attr(f, name);
                    if (!isnan(v)) rc |= bns_cube_set(c, metric[k], idx, v);
                }
            }
        }
        H5Fclose(f);
    }
    const bns_spec *s = r->spec;
    rc |= bns_cube_set_attr_string(c, "sweep_name", s->name);
    rc |= bns_cube_set_attr_string(c, "sweep", s->text ? s->text : "");
    {
        size_t len = 1;
        for (int i = 0; i < s->n_overrides; i++) len += strlen(s->overrides[i]) + 1;
        char *ov = bns_xcalloc(len, 1);
        for (int i = 0; i < s->n_overrides; i++) {
            strcat(ov, s->overrides[i]);
            strcat(ov, "\n");
        }
        rc |= bns_cube_set_attr_string(c, "overrides", ov);
        free(ov);
    }
    {
        char configs[1024];
        blas_tally_format(&blas, configs, sizeof configs);
        rc |= bns_cube_set_attr_string(c, "blas_configs", configs);
        if (blas.n + (blas.other > 0) > 1)
            fprintf(stderr,
                    "warning: %s: the tasks ran with different BLAS kernels or thread counts (%s); their results "
                    "are not those one configuration would give. Set OPENBLAS_CORETYPE and --threads alike "
                    "for every process (docs/performance.md, \"Reproducibility\").\n",
                    r->run_dir, configs);
    }
    rc |= bns_cube_set_attr_int(c, "seed", (long long)s->seed);
    rc |= bns_cube_set_attr_int(c, BNS_RESULTS_VERSION_ATTR, BNS_RESULTS_VERSION);
    {
        /* tasks of another results version kept with --accept-stale */
        char accepted_path[1100];
        snprintf(accepted_path, sizeof accepted_path, "%s/accepted_stale.txt", r->run_dir);
        char *accepted = access(accepted_path, F_OK) == 0 ? bns_read_file(accepted_path, NULL) : NULL;
        if (accepted) rc |= bns_cube_set_attr_string(c, "accepted_stale", accepted);
        free(accepted);
    }
    if (info) {
        rc |= bns_cube_set_attr_int(c, "mpi_size", info->mpi_size);
        rc |= bns_cube_set_attr_string(c, "start_time", info->start_time);
        rc |= bns_cube_set_attr_string(c, "end_time", info->end_time);
        rc |= bns_cube_set_attr_double(c, "wall_seconds", info->wall_seconds);
    }
    char path[1100];
    snprintf(path, sizeof path, "%s/cube.h5", r->run_dir);
    char plan_id[32];
    plan_identity(p, plan_id, sizeof plan_id);
    rc |= bns_cube_set_attr_int(c, "tasks_done", n_done);
    rc |= bns_cube_set_attr_string(c, "plan_id", plan_id);
    /* never replace a cube by a less complete one: a merge that read the run
     * directory before the run's own final merge must not undo it (the check
     * and the rename are not one step: a merge racing the same instant can
     * still win; finished task files are never lost either way) */
    long existing = existing_tasks_done(path, plan_id);
    r->cube_kept = rc == 0 && existing > n_done;
    if (r->cube_kept)
        fprintf(stderr, "%s: kept (it has %ld tasks done; this assembly only %ld)\n", path, existing, n_done);
    if (rc == 0 && !r->cube_kept) rc = bns_cube_write(c, path);
    else bns_fail_prefix("assembling %s: ", path);
    bns_cube_free(c);
    free(models.labels);
    free(sets.labels);
    free(oods.labels);
    bns_str_index_free(&models.index);
    bns_str_index_free(&sets.index);
    bns_str_index_free(&oods.index);
    free(ens);
    free(rates);
    free(model_index);
    free(set_index);
    return rc ? -1 : 0;
}

typedef struct {
    hid_t dst;
    int failed;
} copy_context;

static herr_t copy_link(hid_t src, const char *name, const H5L_info_t *info, void *ctx) {
    (void)info;
    copy_context *c = ctx;
    if (H5Ocopy(src, name, c->dst, name, H5P_DEFAULT, H5P_DEFAULT) < 0) c->failed = 1;
    return c->failed ? -1 : 0;
}

static herr_t copy_attribute(hid_t src, const char *name, const H5A_info_t *info, void *ctx) {
    (void)info;
    copy_context *c = ctx;
    hid_t a = H5Aopen(src, name, H5P_DEFAULT), type = a >= 0 ? H5Aget_type(a) : -1, space = a >= 0 ? H5Aget_space(a) : -1;
    size_t size = (size_t)H5Aget_storage_size(a);
    void *buf = bns_xmalloc(size ? size : 1);
    hid_t b = -1;
    if (a < 0 || type < 0 || space < 0 || H5Aread(a, type, buf) < 0 ||
        (b = H5Acreate2(c->dst, name, type, space, H5P_DEFAULT, H5P_DEFAULT)) < 0 || H5Awrite(b, type, buf) < 0)
        c->failed = 1;
    if (b >= 0) H5Aclose(b);
    free(buf);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (a >= 0) H5Aclose(a);
    return c->failed ? -1 : 0;
}

int bns_runner_write_posteriors(const bns_runner *r) {
    char path[1100], tmp[1200];
    snprintf(path, sizeof path, "%s/posteriors.h5", r->run_dir);
    if (bns_temp_path(path, tmp, sizeof tmp) != 0) return -1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t out = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (out < 0) return bns_fail("%s: cannot create", tmp);
    int rc = H5LTset_attribute_string(out, "/", "format", "bnnsweep-posteriors") < 0;
    hid_t models = H5Gcreate2(out, "models", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    for (int t = 0; t < r->plan->n_tasks && rc == 0 && models >= 0; t++) {
        const bns_task *task = &r->plan->tasks[t];
        if (task->kind != BNS_TASK_TRAIN || !bns_runner_is_done(r, t)) continue;
        char src_path[1200], group[32];
        bns_runner_task_path(r, t, ".h5", src_path, sizeof src_path);
        snprintf(group, sizeof group, "%016" PRIx64, task->key);
        hid_t src = H5Fopen(src_path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (src < 0) {
            rc = bns_fail("%s: cannot open", src_path);
            break;
        }
        /* one group per model: the whole model file (whatever blocks its
         * method stores, model_io.h), its root attributes, and its name */
        hid_t g = H5Gcreate2(models, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        copy_context cc = {g, 0};
        if (g >= 0 && (H5Literate(src, H5_INDEX_NAME, H5_ITER_INC, NULL, copy_link, &cc) < 0 || cc.failed ||
                       H5Aiterate2(src, H5_INDEX_NAME, H5_ITER_INC, NULL, copy_attribute, &cc) < 0 || cc.failed))
            rc = bns_fail("%s: cannot copy it into the posteriors file", src_path);
        if (g < 0 || H5LTset_attribute_string(g, ".", "name", task->name) < 0) rc = bns_fail("%s: cannot write", tmp);
        if (g >= 0) H5Gclose(g);
        H5Fclose(src);
    }
    if (models >= 0) H5Gclose(models);
    else rc = bns_fail("%s: cannot create /models", tmp);
    if (H5Fclose(out) < 0 && rc == 0) rc = bns_fail("%s: cannot close", tmp);
    return bns_commit_file(tmp, path, rc);
}
