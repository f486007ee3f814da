/* plan.c - expanding a sweep spec into TRAIN -> ATTACK -> EVAL tasks with
 * stable keys, dependency links, cost estimates and the critical path
 * (plan.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/error.h"
#include "bnnsweep/dataset.h"
#include "bnnsweep/method.h"
#include "bnnsweep/metrics.h"
#include "bnnsweep/plan.h"

#define CANON_SIZE 8192
#define NAME_SIZE 1024

static const char *const task_kind_names[] = {"train", "attack", "eval", "active"};
const char *bns_task_kind_name(int kind) { return kind >= 0 && kind < BNS_TASK_KINDS ? task_kind_names[kind] : "?"; }

/* ---- cost model ---- */

/* weight uses per example (net.h bns_arch_macs: n_weights for FC nets) of
 * cfg's arch at its data set's input shape */
static double arch_weights(const bns_config *cfg) {
    bns_arch a;
    if (bns_arch_parse(cfg->arch, bns_data_inputs(cfg->dataset), &a)) return 0;
    return bns_arch_macs(&a);
}

/* what the configured method's posterior can do (0: unknown method) */
static unsigned caps_of(const bns_config *cfg) {
    const bns_method *m = bns_method_find(cfg->method);
    return m ? bns_method_caps(m, cfg) : 0;
}

static double limit_rows(long limit, long all) { return (double)(limit > 0 && limit < all ? limit : all); }

double bns_plan_cost_train(const bns_config *cfg, long test_limit) {
    double w = arch_weights(cfg);
    double train_rows = limit_rows(cfg->train_limit, BNS_MNIST_TRAIN_ROWS);
    double val_rows = limit_rows(test_limit, BNS_MNIST_TEST_ROWS);
    const bns_method *m = bns_method_find(cfg->method);
    double train = m && m->train_cost ? m->train_cost(cfg, train_rows * w) : train_rows * w * BNS_COST_TRAIN_DET;
    double epoch;
    if (caps_of(cfg) & BNS_CAP_STOCHASTIC) {
        int val_samples = cfg->val_samples > 0 ? cfg->val_samples : 1;
        epoch = train + val_rows * w * val_samples * BNS_COST_PREDICT;
    } else {
        epoch = train + val_rows * w * BNS_COST_PREDICT;
    }
    return cfg->max_epochs * epoch;
}

double bns_plan_cost_attack(const bns_attack_settings *s, const bns_config *source, long test_limit) {
    double w = arch_weights(source);
    double rows = limit_rows(test_limit, BNS_MNIST_TEST_ROWS);
    const bns_attack *attack = bns_attack_get(s->kind);
    double steps = attack ? attack->cost_steps(s) : s->steps; /* input-gradient steps per example */
    double k = (caps_of(source) & BNS_CAP_STOCHASTIC) && s->source == BNS_SOURCE_EXPECTATION ? s->source_samples : 1;
    return rows * steps * w * k * BNS_COST_ATTACK_STEP;
}

double bns_plan_cost_eval(const bns_eval_settings *e, const bns_config *model) {
    double w = arch_weights(model);
    double rows = limit_rows(e->test_limit, BNS_MNIST_TEST_ROWS);
    if (e->kind == BNS_EVAL_OOD || e->kind == BNS_EVAL_DETECTION) rows *= 2; /* the clean rows' scores and the others' */
    double samples = (double)e->runs * (e->n_ensemble > 0 ? e->n_ensemble : 1);
    return rows * samples * w * BNS_COST_PREDICT;
}

/* ---- the graph ---- */

static void index_rebuild(bns_plan *p, int n_slots) {
    free(p->slots);
    p->n_slots = n_slots;
    p->slots = bns_xmalloc((size_t)n_slots * sizeof *p->slots);
    for (int i = 0; i < n_slots; i++) p->slots[i] = -1;
    for (int t = 0; t < p->n_tasks; t++) {
        size_t h = (size_t)(p->tasks[t].key & (uint64_t)(n_slots - 1));
        while (p->slots[h] >= 0) h = (h + 1) & (size_t)(n_slots - 1);
        p->slots[h] = t;
    }
}

int bns_plan_find(const bns_plan *p, uint64_t key) {
    if (!p->n_slots) return -1;
    size_t h = (size_t)(key & (uint64_t)(p->n_slots - 1));
    while (p->slots[h] >= 0) {
        if (p->tasks[p->slots[h]].key == key) return p->slots[h];
        h = (h + 1) & (size_t)(p->n_slots - 1);
    }
    return -1;
}

int bns_plan_add(bns_plan *p, int kind, const char *name, const char *canonical, const int *deps, int n_deps,
                 double cost) {
    uint64_t key = bns_hash64(canonical);
    int found = bns_plan_find(p, key);
    if (found >= 0) {
        if (strcmp(p->tasks[found].canonical, canonical) != 0)
            return bns_fail("task key collision: '%s' and '%s' both hash to %016" PRIx64, p->tasks[found].name, name,
                            key);
        return found;
    }
    for (int i = 0; i < n_deps; i++)
        if (deps[i] < 0 || deps[i] >= p->n_tasks) return bns_fail("task '%s': dependency %d does not exist", name, deps[i]);
    if (p->max_tasks > 0 && p->n_tasks >= p->max_tasks)
        return bns_fail("the sweep has more than %lld tasks (raise the limit with %s if this is intended)",
                        p->max_tasks, bns_spec_limit_name(BNS_LIMIT_TASKS));
    if (p->n_tasks == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 64;
        p->tasks = realloc(p->tasks, (size_t)p->cap * sizeof *p->tasks);
        if (!p->tasks) abort();
    }
    bns_task *t = &p->tasks[p->n_tasks++];
    memset(t, 0, sizeof *t);
    t->kind = kind;
    t->key = key;
    t->name = bns_xstrdup(name);
    t->canonical = bns_xstrdup(canonical);
    t->spec_index = -1;
    t->model = -1;
    t->set_task = -1;
    t->cost = cost;
    t->n_deps = n_deps;
    t->deps = bns_xmalloc((size_t)(n_deps ? n_deps : 1) * sizeof *t->deps);
    if (n_deps) memcpy(t->deps, deps, (size_t)n_deps * sizeof *deps);
    if (2 * p->n_tasks > p->n_slots) index_rebuild(p, p->n_slots ? 2 * p->n_slots : 256);
    else {
        size_t h = (size_t)(key & (uint64_t)(p->n_slots - 1));
        while (p->slots[h] >= 0) h = (h + 1) & (size_t)(p->n_slots - 1);
        p->slots[h] = p->n_tasks - 1;
    }
    return p->n_tasks - 1;
}

void bns_plan_link(bns_plan *p) {
    for (int k = 0; k < BNS_TASK_KINDS; k++) {
        p->count[k] = 0;
        p->cost[k] = 0;
    }
    for (int t = 0; t < p->n_tasks; t++) {
        free(p->tasks[t].dependents);
        p->tasks[t].dependents = NULL;
        p->tasks[t].n_dependents = 0;
    }
    for (int t = 0; t < p->n_tasks; t++)
        for (int d = 0; d < p->tasks[t].n_deps; d++) p->tasks[p->tasks[t].deps[d]].n_dependents++;
    for (int t = 0; t < p->n_tasks; t++) {
        bns_task *task = &p->tasks[t];
        task->dependents = bns_xmalloc((size_t)(task->n_dependents ? task->n_dependents : 1) * sizeof(int));
        task->n_dependents = 0;
        if (task->kind >= 0 && task->kind < BNS_TASK_KINDS) {
            p->count[task->kind]++;
            p->cost[task->kind] += task->cost;
        }
    }
    for (int t = 0; t < p->n_tasks; t++)
        for (int d = 0; d < p->tasks[t].n_deps; d++) {
            bns_task *dep = &p->tasks[p->tasks[t].deps[d]];
            dep->dependents[dep->n_dependents++] = t;
        }
}

int bns_plan_topo_order(const bns_plan *p, int *order) {
    int n = p->n_tasks, head = 0, tail = 0;
    int *waiting = bns_xmalloc((size_t)(n ? n : 1) * sizeof *waiting);
    for (int t = 0; t < n; t++) {
        waiting[t] = p->tasks[t].n_deps;
        if (!waiting[t]) order[tail++] = t;
    }
    while (head < tail) {
        const bns_task *t = &p->tasks[order[head++]];
        for (int i = 0; i < t->n_dependents; i++)
            if (--waiting[t->dependents[i]] == 0) order[tail++] = t->dependents[i];
    }
    free(waiting);
    if (tail != n) return bns_fail("the task graph has a cycle (%d of %d tasks ordered)", tail, n);
    return 0;
}

double bns_plan_critical_path(const bns_plan *p, int *path, int *path_len) {
    return bns_plan_critical_path_with(p, NULL, path, path_len);
}

double bns_plan_critical_path_with(const bns_plan *p, const double *seconds, int *path, int *path_len) {
    int n = p->n_tasks;
    if (path_len) *path_len = 0;
    if (n == 0) return 0;
    int *order = bns_xmalloc((size_t)n * sizeof *order), *prev = bns_xmalloc((size_t)n * sizeof *prev);
    double *finish = bns_xmalloc((size_t)n * sizeof *finish);
    if (bns_plan_topo_order(p, order)) {
        free(order);
        free(prev);
        free(finish);
        return -1;
    }
    int last = -1;
    for (int i = 0; i < n; i++) {
        int t = order[i];
        const bns_task *task = &p->tasks[t];
        double start = 0;
        prev[t] = -1;
        for (int d = 0; d < task->n_deps; d++)
            if (prev[t] < 0 || finish[task->deps[d]] > start) {
                start = finish[task->deps[d]];
                prev[t] = task->deps[d];
            }
        finish[t] = start + (seconds ? seconds[t] : task->cost);
        if (last < 0 || finish[t] > finish[last]) last = t;
    }
    double length = finish[last];
    if (path || path_len) {
        int count = 0;
        for (int t = last; t >= 0; t = prev[t]) count++;
        if (path) {
            int i = count;
            for (int t = last; t >= 0; t = prev[t]) path[--i] = t;
        }
        if (path_len) *path_len = count;
    }
    free(order);
    free(prev);
    free(finish);
    return length;
}

double bns_plan_total_cost(const bns_plan *p) {
    double total = 0;
    for (int t = 0; t < p->n_tasks; t++) total += p->tasks[t].cost;
    return total;
}

void bns_plan_free(bns_plan *p) {
    for (int t = 0; t < p->n_tasks; t++) {
        free(p->tasks[t].name);
        free(p->tasks[t].canonical);
        free(p->tasks[t].deps);
        free(p->tasks[t].dependents);
        if (p->tasks[t].kind == BNS_TASK_ACTIVE) free((void *)p->tasks[t].active.teacher);
    }
    free(p->tasks);
    free(p->slots);
    memset(p, 0, sizeof *p);
}

/* ---- expansion ---- */


typedef struct {
    int n, cap;
    int *tasks;               /* task index per point (groups) or per set (attacks) */
} task_list;

static void list_push(task_list *l, int t) {
    if (l->n == l->cap) { /* doubling: a group of 10,000 points is not 10,000 reallocations */
        l->cap = l->cap ? 2 * l->cap : 16;
        l->tasks = realloc(l->tasks, (size_t)l->cap * sizeof *l->tasks);
        if (!l->tasks) abort();
    }
    l->tasks[l->n++] = t;
}

/* the part of a task name after "train/" or "attack/" */
static const char *label_of(const bns_task *t) {
    const char *slash = strchr(t->name, '/');
    return slash ? slash + 1 : t->name;
}

/* Model views. A grid point whose evaluation settings (config.h, e.g.
 * mc_dropout) are not all at their defaults is a view of the model trained
 * with the defaults: training does not depend on them, so the sweep trains
 * once for every value (the "MC dropout and MLP with dropout are one
 * trained model evaluated two ways"). A view is a TRAIN task (a model: a cube
 * model, an attack source, evaluated) whose model is the trained task and
 * whose work is writing that model's file again with the view's settings
 * (runner.c); a shard of the train stage runs a view with its model
 * (cmd_run.c). Its config.task is the trained model's key: the same weights,
 * the same streams. Returns how many evaluation settings `trained` reset. */
static int reset_evaluation_settings(bns_config *trained) {
    int changed = 0;
    for (const bns_config_field *f = bns_config_fields(); f->name; f++) {
        if (!f->evaluation || !bns_config_field_applies(trained, f)) continue;
        char now[128], dflt[128];
        bns_config_format_field(trained, f, now, sizeof now);
        if (bns_config_set(trained, f->name, f->default_value)) abort(); /* a bad default */
        bns_config_format_field(trained, f, dflt, sizeof dflt);
        changed += strcmp(now, dflt) != 0;
    }
    return changed;
}

/* "key=value,..." of a group's axes as set in cfg (the point label, with a
 * view's evaluation settings at their defaults for its trained model) */
static void config_label(const bns_spec_group *g, const bns_config *cfg, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < g->n_axes && used < size; i++) {
        char v[128];
        bns_config_format_field(cfg, bns_config_field_find(g->axes[i].key), v, sizeof v);
        int w = snprintf(buf + used, size - used, "%s%s=%s", i ? "," : "", g->axes[i].key, v);
        if (w > 0) used += (size_t)w;
    }
}

/* the evaluation settings of cfg as "key=value\n" lines (a view's key) */
static void evaluation_text(const bns_config *cfg, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (const bns_config_field *f = bns_config_fields(); f->name && used < size; f++) {
        if (!f->evaluation || !bns_config_field_applies(cfg, f)) continue;
        char v[128];
        bns_config_format_field(cfg, f, v, sizeof v);
        int w = snprintf(buf + used, size - used, "%s=%s\n", f->name, v);
        if (w > 0) used += (size_t)w;
    }
}

/* A group named by active: sections (active.h) and by no attack or
 * evaluation is only a recipe for the rounds: no model of its own is trained
 * on the whole pool (nothing would read it). So is a teacher group whose
 * every pupil is such a recipe: a distilling recipe's rounds train their own
 * teachers on each round's labelled set (active.h), never this model. One
 * level: a group with a teacher group teaches none itself (spec.c). */
static int recipe_only(const bns_spec *s, int g) {
    int active = 0, taught = 0;
    for (int a = 0; a < s->n_actives; a++)
        for (int i = 0; i < s->actives[a].n_models; i++) active |= s->actives[a].models[i] == g;
    for (int h = 0; h < s->n_groups; h++)
        if (s->groups[h].teacher == g) {
            if (!recipe_only(s, h)) return 0;
            taught = 1;
        }
    if (!active && !taught) return 0;
    for (int a = 0; a < s->n_attacks; a++)
        for (int i = 0; i < s->attacks[a].n_sources; i++)
            if (s->attacks[a].sources[i] == g) return 0;
    for (int e = 0; e < s->n_evals; e++)
        for (int i = 0; i < s->evals[e].n_models; i++)
            if (s->evals[e].models[i] == g) return 0;
    return 1;
}

/* One grid point of group g (cfg: its configuration) as a TRAIN task (and a
 * view of it, if any), appended to *out. teacher: for a group with a teacher
 * group (spec.h), the teacher's TRAIN task: a dependency, and its key is the
 * point's `teacher` setting ("task:KEY", resolved to the model file by
 * runner.c), so the teacher's key is part of this task's key. */
static int add_train_point(const bns_spec *s, bns_plan *p, int g, long pt, bns_config cfg, int teacher,
                           task_list *out) {
    char canon[CANON_SIZE], cfg_text[CANON_SIZE - 256], name[NAME_SIZE], label[NAME_SIZE - 128];
    const bns_spec_group *grp = &s->groups[g];
    bns_config trained;
    char teacher_label[NAME_SIZE / 4] = "";
    if (teacher >= 0) {
        char value[32];
        snprintf(value, sizeof value, "task:%016" PRIx64, p->tasks[teacher].key);
        if (bns_config_set(&cfg, "teacher", value)) return bns_fail_prefix("group '%s': ", grp->name);
        snprintf(teacher_label, sizeof teacher_label, "teacher=%s", label_of(&p->tasks[teacher]));
        for (char *c = teacher_label; *c; c++)
            if (*c == '/') *c = ':';
    }
    trained = cfg;
    int is_view = reset_evaluation_settings(&trained) > 0;
    bns_spec_training_canonical(&trained, cfg_text, sizeof cfg_text);
    snprintf(canon, sizeof canon, "task=train\ntest_limit=%ld\nconfig:\n%s", s->test_limit, cfg_text);
    config_label(grp, &trained, label, sizeof label);
    snprintf(name, sizeof name, "train/%s%s%s%s%s", grp->name, label[0] || teacher_label[0] ? "/" : "", label,
             label[0] && teacher_label[0] ? "," : "", teacher_label);
    int before = p->n_tasks;
    int t = bns_plan_add(p, BNS_TASK_TRAIN, name, canon, teacher >= 0 ? &teacher : NULL, teacher >= 0,
                         bns_plan_cost_train(&trained, s->test_limit));
    if (t < 0) return -1;
    if (t == before) {
        bns_task *task = &p->tasks[t];
        task->spec_index = g;
        task->config = trained;
        task->config.task = task->key;
        task->test_limit = s->test_limit;
    }
    if (is_view) {
        uint64_t trained_key = p->tasks[t].key;
        evaluation_text(&cfg, cfg_text, sizeof cfg_text);
        snprintf(canon, sizeof canon, "task=view\nmodel=%016" PRIx64 "\nsettings:\n%s", trained_key, cfg_text);
        bns_spec_point_label(grp->axes, grp->n_axes, pt, label, sizeof label);
        snprintf(name, sizeof name, "train/%s%s%s%s%s", grp->name, label[0] || teacher_label[0] ? "/" : "", label,
                 label[0] && teacher_label[0] ? "," : "", teacher_label);
        int model = t;
        before = p->n_tasks;
        t = bns_plan_add(p, BNS_TASK_TRAIN, name, canon, &model, 1, BNS_COST_VIEW);
        if (t < 0) return -1;
        if (t == before) {
            bns_task *task = &p->tasks[t];
            task->spec_index = g;
            task->config = cfg;
            task->config.task = trained_key;
            task->test_limit = s->test_limit;
            task->model = model;
        }
    }
    list_push(out, t);
    return 0;
}

/* Groups without a teacher group first, so that a teacher's tasks come
 * before (have lower indices than) the tasks that distil them. */
static int add_train_tasks(const bns_spec *s, bns_plan *p, task_list *groups) {
    for (int pass = 0; pass < 2; pass++)
        for (int g = 0; g < s->n_groups; g++) {
            const bns_spec_group *grp = &s->groups[g];
            if ((grp->teacher >= 0) != pass || recipe_only(s, g)) continue;
            long points = bns_spec_axes_points(grp->axes, grp->n_axes);
            for (long pt = 0; pt < points; pt++) {
                bns_config cfg;
                if (bns_spec_group_point(grp, pt, &cfg)) return bns_fail_prefix("group '%s': ", grp->name);
                if (grp->teacher < 0) {
                    if (add_train_point(s, p, g, pt, cfg, -1, &groups[g])) return -1;
                    continue;
                }
                const task_list *teachers = &groups[grp->teacher];
                for (int i = 0; i < teachers->n; i++)
                    if (bns_spec_same_arch(&cfg, &p->tasks[teachers->tasks[i]].config) &&
                        add_train_point(s, p, g, pt, cfg, teachers->tasks[i], &groups[g]))
                        return -1;
            }
        }
    return 0;
}

static int add_attack_tasks(const bns_spec *s, bns_plan *p, const task_list *groups, task_list *attacks) {
    char canon[CANON_SIZE], settings[CANON_SIZE - 256], name[NAME_SIZE], label[256];
    for (int a = 0; a < s->n_attacks; a++) {
        const bns_spec_attack *atk = &s->attacks[a];
        long points = bns_spec_axes_points(atk->axes, atk->n_axes);
        for (int si = 0; si < atk->n_sources; si++) {
            const task_list *src = &groups[atk->sources[si]];
            for (int m = 0; m < src->n; m++) {
                int model = src->tasks[m];
                for (long pt = 0; pt < points; pt++) {
                    bns_attack_settings set;
                    if (bns_spec_attack_point(atk, pt, &set)) return bns_fail_prefix("attack '%s': ", atk->name);
                    set.seed = s->seed;
                    set.task = 0;
                    bns_spec_attack_canonical(&set, settings, sizeof settings);
                    /* the attacked images only when not the default (test, all rows): older keys stay */
                    char clean[64] = "";
                    if (atk->clean_set != BNS_SET_TEST || atk->rows > 0)
                        snprintf(clean, sizeof clean, "clean=%s\nrows=%ld\n",
                                 atk->clean_set == BNS_SET_VAL ? "val" : "test", atk->rows);
                    snprintf(canon, sizeof canon, "task=attack\n%smodel=%016" PRIx64 "\ntest_limit=%ld\nsettings:\n%s",
                             clean, p->tasks[model].key, s->test_limit, settings);
                    bns_spec_point_label(atk->axes, atk->n_axes, pt, label, sizeof label);
                    snprintf(name, sizeof name, "attack/%s%s%s/%s", atk->name, label[0] ? "," : "", label,
                             label_of(&p->tasks[model]));
                    long rows = atk->rows > 0 && (s->test_limit <= 0 || atk->rows < s->test_limit) ? atk->rows
                                                                                                   : s->test_limit;
                    double cost = bns_plan_cost_attack(&set, &p->tasks[model].config, rows);
                    int before = p->n_tasks;
                    int t = bns_plan_add(p, BNS_TASK_ATTACK, name, canon, &model, 1, cost);
                    if (t < 0) return -1;
                    if (t == before) {
                        bns_task *task = &p->tasks[t];
                        task->spec_index = a;
                        task->attack = set;
                        task->attack.task = task->key;
                        task->test_limit = s->test_limit;
                        task->clean_set = atk->clean_set;
                        task->attack_rows = atk->rows;
                        task->model = model;
                    }
                    list_push(&attacks[a], t);
                }
            }
        }
    }
    return 0;
}

static void scores_text(unsigned scores, char *buf, size_t size) {
    buf[0] = '\0';
    for (int sc = 0; sc < BNS_SCORE_COUNT; sc++)
        if (scores & (1u << sc)) {
            strncat(buf, buf[0] ? "," : "", size - strlen(buf) - 1);
            strncat(buf, bns_score_name(sc), size - strlen(buf) - 1);
        }
}

/* one EVAL task of `model` on a set (set_task: its ATTACK task, or -1) */
static int add_eval(const bns_spec *s, bns_plan *p, int e_index, int model, int set_kind, int set_task,
                    bns_eval_settings ev, const char *suffix) {
    const bns_spec_eval *e = &s->evals[e_index];
    const bns_task *m = &p->tasks[model];
    char canon[CANON_SIZE], name[NAME_SIZE * 2], set_text[64], set_label[NAME_SIZE], scores[64], ood_path[1100] = "";
    ev.set = set_kind;
    ev.test_limit = s->test_limit;
    ev.seed = m->config.seed;
    ev.task = m->key;
    if (set_kind == BNS_SET_ATTACK) {
        snprintf(set_text, sizeof set_text, "attack:%016" PRIx64, p->tasks[set_task].key);
        snprintf(set_label, sizeof set_label, "%s", label_of(&p->tasks[set_task]));
    } else {
        snprintf(set_text, sizeof set_text, "%s", set_kind == BNS_SET_VAL ? "val" : "test");
        snprintf(set_label, sizeof set_label, "%s", set_text);
    }
    if (ev.ood == BNS_OOD_NOTMNIST) snprintf(ood_path, sizeof ood_path, "%s", s->notmnist);
    if (ev.ood == BNS_OOD_OMNIGLOT) snprintf(ood_path, sizeof ood_path, "%s", s->omniglot);
    if (ev.ood == BNS_OOD_CIFAR10) snprintf(ood_path, sizeof ood_path, "%s", s->cifar10);
    scores_text(ev.scores, scores, sizeof scores);
    char rows_text[48] = ""; /* only when set: the keys of unbalanced OOD tasks stay what they were */
    if (ev.ood_rows > 0) snprintf(rows_text, sizeof rows_text, "ood_rows=%ld\n", ev.ood_rows);
    snprintf(canon, sizeof canon,
             "task=eval\nensemble=%d\nkind=%s\nmodel=%016" PRIx64 "\nood=%s\nood_path=%s\n%sprune_rate=%.17g\nruns=%d\n"
             "scores=%s\nseed=%" PRIu64 "\nset=%s\nstream_task=%016" PRIx64 "\ntest_limit=%ld\n",
             ev.n_ensemble, bns_eval_kind_name(ev.kind), m->key, ev.ood >= 0 ? bns_ood_set_name(ev.ood) : "",
             ood_path, rows_text, ev.prune_rate, ev.runs, scores, ev.seed, set_text, ev.task, ev.test_limit);
    if (ev.kind == BNS_EVAL_OOD)
        snprintf(name, sizeof name, "eval/%s/%s/%s", e->name, label_of(m), suffix);
    else
        snprintf(name, sizeof name, "eval/%s/%s/%s%s%s", e->name, label_of(m), set_label, suffix[0] ? "/" : "", suffix);
    int deps[2] = {model, set_task};
    int before = p->n_tasks;
    int t = bns_plan_add(p, BNS_TASK_EVAL, name, canon, deps, set_task >= 0 ? 2 : 1,
                         bns_plan_cost_eval(&ev, &m->config));
    if (t < 0) return -1;
    if (t == before) {
        bns_task *task = &p->tasks[t];
        task->spec_index = e_index;
        task->eval = ev;
        task->model = model;
        task->set_task = set_task;
    }
    return 0;
}

static int add_eval_tasks(const bns_spec *s, bns_plan *p, const task_list *groups, const task_list *attacks) {
    for (int ei = 0; ei < s->n_evals; ei++) {
        const bns_spec_eval *e = &s->evals[ei];
        for (int gi = 0; gi < e->n_models; gi++) {
            const task_list *models = &groups[e->models[gi]];
            for (int mi = 0; mi < models->n; mi++) {
                int model = models->tasks[mi];
                unsigned caps = caps_of(&p->tasks[model].config);
                int bayes = (caps & BNS_CAP_STOCHASTIC) != 0;
                /* a group's models that cannot take this evaluation (spec.c) */
                if ((e->kind == BNS_EVAL_ENSEMBLES && !bayes) || (e->kind == BNS_EVAL_PRUNING && !(caps & BNS_CAP_SNR)))
                    continue;
                bns_eval_settings ev;
                memset(&ev, 0, sizeof ev);
                ev.kind = e->kind;
                ev.ood = -1;
                char suffix[64];
                if (e->kind == BNS_EVAL_OOD) {
                    for (int o = 0; o < e->n_ood; o++) {
                        ev.ood = e->ood[o];
                        ev.runs = 1;
                        ev.n_ensemble = bayes ? e->samples : 0;
                        ev.scores = e->scores;
                        ev.ood_rows = e->rows;
                        snprintf(suffix, sizeof suffix, "ood=%s", bns_ood_set_name(ev.ood));
                        if (add_eval(s, p, ei, model, BNS_SET_TEST, -1, ev, suffix)) return -1;
                    }
                    continue;
                }
                /* every set, attack names expanded to all their sets */
                for (int si = 0; si < e->n_sets; si++) {
                    const bns_spec_set *set = &e->sets[si];
                    int n_sets = set->kind == BNS_SET_ATTACK ? attacks[set->attack].n : 1;
                    for (int k = 0; k < n_sets; k++) {
                        int set_task = set->kind == BNS_SET_ATTACK ? attacks[set->attack].tasks[k] : -1;
                        switch (e->kind) {
                        case BNS_EVAL_ROBUSTNESS:
                            /* a deterministic model gives the same answer every run */
                            ev.runs = bayes ? e->runs : 1;
                            ev.n_ensemble = bayes ? 1 : 0;
                            if (add_eval(s, p, ei, model, set->kind, set_task, ev, "")) return -1;
                            break;
                        case BNS_EVAL_ENSEMBLES:
                            for (int n = 0; n < e->n_ensemble; n++) {
                                ev.n_ensemble = e->ensemble[n];
                                ev.runs = e->runs / e->ensemble[n] > 0 ? e->runs / e->ensemble[n] : 1;
                                snprintf(suffix, sizeof suffix, "N=%d", e->ensemble[n]);
                                if (add_eval(s, p, ei, model, set->kind, set_task, ev, suffix)) return -1;
                            }
                            break;
                        case BNS_EVAL_DETECTION:
                            ev.runs = 1;
                            ev.n_ensemble = bayes ? e->samples : 0;
                            ev.scores = e->scores;
                            if (add_eval(s, p, ei, model, set->kind, set_task, ev, "")) return -1;
                            break;
                        case BNS_EVAL_PRUNING:
                            for (int r = 0; r < e->n_rates; r++) {
                                ev.runs = 1;
                                ev.n_ensemble = e->samples;
                                ev.prune_rate = e->rates[r];
                                snprintf(suffix, sizeof suffix, "rate=%g", e->rates[r]);
                                if (add_eval(s, p, ei, model, set->kind, set_task, ev, suffix)) return -1;
                            }
                            break;
                        }
                    }
                }
            }
        }
    }
    return 0;
}

/* Active learning (active.h): per section, model, seed a round 0 shared by
 * the scores, then one chain of rounds per score. Round r's key holds round
 * r-1's (and so, transitively, the recipe, seed and initial set).
 *
 * A distilling recipe (a group with a teacher group, spec.h) makes one chain
 * per same-arch point of its teacher group, and each of its rounds trains
 * that teacher recipe on the round's labelled set first (active.c). The
 * teacher's key (its config.task: its streams) is the key the round would
 * have if its recipe were the teacher's: round 0's text with the teacher's
 * configuration, round r's text as it is (its prev already holds both
 * recipes). So round 0's teacher is the teacher recipe's own round-0 model,
 * and every teacher is a function of its round, whatever the ranks. The
 * round's recipe gets teacher = "task:KEY" (part of its key, as a TRAIN
 * task's teacher is, plan.c add_train_point; the round file's
 * /config/teacher names the teacher file active.c writes). */
static double active_cost(const bns_spec *s, const bns_config *cfg, const bns_spec_active *a, int round) {
    bns_config c = *cfg;
    c.train_limit = a->initial + (long)round * a->acquire; /* the labelled set */
    double w = arch_weights(cfg);
    double pool = limit_rows(a->pool ? a->pool : s->train_limit, BNS_MNIST_TRAIN_ROWS);
    double samples = (caps_of(cfg) & BNS_CAP_STOCHASTIC) ? a->samples : 1;
    double scoring = round > 0 ? pool * w * samples * BNS_COST_PREDICT : 0;
    return bns_plan_cost_train(&c, a->val_rows ? a->val_rows : s->test_limit) + scoring + limit_rows(s->test_limit, BNS_MNIST_TEST_ROWS) * w * samples * BNS_COST_PREDICT;
}

/* a distilling round's teacher: trained, and tested like a round */
static double active_teacher_cost(const bns_spec *s, const bns_config *teacher, const bns_spec_active *a, int round) {
    if (!teacher) return 0;
    return active_cost(s, teacher, a, round) -
           (round > 0 ? limit_rows(a->pool ? a->pool : s->train_limit, BNS_MNIST_TRAIN_ROWS) * arch_weights(teacher) *
                            ((caps_of(teacher) & BNS_CAP_STOCHASTIC) ? a->samples : 1) * BNS_COST_PREDICT
                      : 0); /* the teacher scores nothing */
}

static int add_active_round(bns_plan *p, const char *name, const char *canon, int prev, double cost, int section,
                            const bns_config *cfg, const bns_active_settings *st, const bns_config *teacher,
                            long test_limit) {
    int before = p->n_tasks;
    int t = bns_plan_add(p, BNS_TASK_ACTIVE, name, canon, &prev, prev >= 0 ? 1 : 0, cost);
    if (t == before) {
        bns_task *task = &p->tasks[t];
        task->spec_index = section;
        task->config = *cfg;
        task->config.task = task->key;
        task->active = *st;
        task->active.teacher = NULL;
        if (teacher) { /* the plan owns it (bns_plan_free) */
            bns_config *copy = bns_xmalloc(sizeof *copy);
            *copy = *teacher;
            task->active.teacher = copy;
        }
        task->model = prev;
        task->test_limit = test_limit;
    }
    return t;
}

static void round0_canonical(char *buf, size_t size, const bns_spec *s, const bns_spec_active *a, uint64_t seed,
                             const char *cfg_text) {
    snprintf(buf, size,
             "task=active\nround=0\ninitial=%d\npool=%ld\nsamples=%d\nseed=%" PRIu64
             "\ntest_limit=%ld\nval_rows=%ld\nconfig:\n%s",
             a->initial, a->pool, a->samples, seed, s->test_limit, a->val_rows, cfg_text);
}

/* A distilling recipe's round: its teacher's configuration (tcfg: the
 * teacher recipe, its task = the teacher key of `teacher_canon`) and the
 * recipe's teacher setting pointing at it. */
static int set_round_teacher(const bns_spec_group *grp, bns_config *cfg, bns_config *tcfg, const char *teacher_canon) {
    char value[32];
    tcfg->task = bns_hash64(teacher_canon);
    snprintf(value, sizeof value, "task:%016" PRIx64, tcfg->task);
    return bns_config_set(cfg, "teacher", value) ? bns_fail_prefix("group '%s': ", grp->name) : 0;
}

/* one chain family: group grp's point pt (cfg), seed si, teacher recipe
 * tcfg0 (NULL: not distilling), point tp of its group (tlabel: its point
 * label when the group has several points, else "") */
static int add_active_chains(const bns_spec *s, bns_plan *p, int ai, int gi, long pt, int si, const bns_config *tcfg0,
                             long tp, const char *tlabel) {
    char canon[CANON_SIZE], tcanon[CANON_SIZE], cfg_text[CANON_SIZE - 512], name[NAME_SIZE + 128],
        label[NAME_SIZE - 256], chain[NAME_SIZE];
    const bns_spec_active *a = &s->actives[ai];
    const bns_spec_group *grp = &s->groups[a->models[gi]];
    bns_config cfg, tcfg;
    if (bns_spec_group_point(grp, pt, &cfg)) return bns_fail_prefix("group '%s': ", grp->name);
    cfg.seed = a->seeds[si];
    if (tcfg0) {
        tcfg = *tcfg0;
        tcfg.seed = a->seeds[si];
        bns_spec_config_canonical(&tcfg, cfg_text, sizeof cfg_text);
        round0_canonical(tcanon, sizeof tcanon, s, a, a->seeds[si], cfg_text);
        if (set_round_teacher(grp, &cfg, &tcfg, tcanon)) return -1;
    }
    const bns_config *teacher = tcfg0 ? &tcfg : NULL;
    bns_spec_config_canonical(&cfg, cfg_text, sizeof cfg_text);
    bns_spec_point_label(grp->axes, grp->n_axes, pt, label, sizeof label);
    snprintf(chain, sizeof chain, "active/%s/%s%s%s%s%s/seed=%" PRIu64, a->name, grp->name, label[0] ? "/" : "",
             label, tlabel[0] ? "/teacher=" : "", tlabel, a->seeds[si]);
    bns_active_settings st = {.round = 0, .score = -1, .initial = a->initial, .acquire = a->acquire,
                              .samples = a->samples, .warm_start = a->warm_start, .pool = a->pool, .val_rows = a->val_rows,
                              .seed = a->seeds[si], .group = a->models[gi], .point = pt,
                              .teacher_point = tcfg0 ? tp : -1};
    round0_canonical(canon, sizeof canon, s, a, a->seeds[si], cfg_text);
    snprintf(name, sizeof name, "%s/round=0", chain);
    int r0 = add_active_round(p, name, canon, -1, active_cost(s, &cfg, a, 0) + active_teacher_cost(s, teacher, a, 0),
                              ai, &cfg, &st, teacher, s->test_limit);
    if (r0 < 0) return -1;
    int stochastic = (caps_of(&cfg) & BNS_CAP_STOCHASTIC) != 0;
    for (int sc = 0; sc < BNS_ACQ_COUNT; sc++) {
        /* BALD is not defined for a point estimate: its chain is left out */
        if (!(a->scores & (1u << sc)) || (sc == BNS_SCORE_BALD && !stochastic)) continue;
        int prev = r0;
        for (int r = 1; r <= a->rounds; r++) {
            st.round = r;
            st.score = sc;
            snprintf(canon, sizeof canon,
                     "task=active\nround=%d\nscore=%s\nacquire=%d\nwarm_start=%d\nprev=%016" PRIx64 "\n", r,
                     bns_acq_name(sc), a->acquire, a->warm_start, p->tasks[prev].key);
            if (teacher) {
                if (set_round_teacher(grp, &cfg, &tcfg, canon)) return -1;
                size_t used = strlen(canon);
                snprintf(canon + used, sizeof canon - used, "teacher=%016" PRIx64 "\n", tcfg.task);
            }
            snprintf(name, sizeof name, "%s/%s/round=%d", chain, bns_acq_name(sc), r);
            prev = add_active_round(p, name, canon, prev,
                                    active_cost(s, &cfg, a, r) + active_teacher_cost(s, teacher, a, r), ai, &cfg, &st,
                                    teacher, s->test_limit);
            if (prev < 0) return -1;
        }
    }
    return 0;
}

static int add_active_tasks(const bns_spec *s, bns_plan *p) {
    for (int ai = 0; ai < s->n_actives; ai++) {
        const bns_spec_active *a = &s->actives[ai];
        for (int gi = 0; gi < a->n_models; gi++) {
            const bns_spec_group *grp = &s->groups[a->models[gi]];
            long points = bns_spec_axes_points(grp->axes, grp->n_axes);
            const bns_spec_group *tg = grp->teacher >= 0 ? &s->groups[grp->teacher] : NULL;
            long tpoints = tg ? bns_spec_axes_points(tg->axes, tg->n_axes) : 1;
            for (long pt = 0; pt < points; pt++)
                for (long tp = 0; tp < tpoints; tp++) {
                    bns_config cfg, tcfg;
                    char tlabel[NAME_SIZE / 4] = "";
                    if (tg) {
                        if (bns_spec_group_point(grp, pt, &cfg) || bns_spec_group_point(tg, tp, &tcfg))
                            return bns_fail_prefix("group '%s': ", grp->name);
                        if (!bns_spec_same_arch(&cfg, &tcfg)) continue; /* as a TRAIN task distils (spec.c checked one exists) */
                        if (tpoints > 1) bns_spec_point_label(tg->axes, tg->n_axes, tp, tlabel, sizeof tlabel);
                    }
                    for (int si = 0; si < a->n_seeds; si++)
                        if (add_active_chains(s, p, ai, gi, pt, si, tg ? &tcfg : NULL, tp, tlabel)) return -1;
                }
        }
    }
    return 0;
}

int bns_plan_build(const bns_spec *s, bns_plan *out) {
    memset(out, 0, sizeof *out);
    if (bns_spec_limit(BNS_LIMIT_TASKS, &out->max_tasks)) return -1;
    task_list *groups = bns_xcalloc((size_t)s->n_groups + 1, sizeof *groups);
    task_list *attacks = bns_xcalloc((size_t)s->n_attacks + 1, sizeof *attacks);
    int rc = add_train_tasks(s, out, groups);
    if (!rc) rc = add_attack_tasks(s, out, groups, attacks);
    if (!rc) rc = add_eval_tasks(s, out, groups, attacks);
    if (!rc) rc = add_active_tasks(s, out);
    for (int i = 0; i < s->n_groups; i++) free(groups[i].tasks);
    for (int i = 0; i < s->n_attacks; i++) free(attacks[i].tasks);
    free(groups);
    free(attacks);
    if (rc) {
        bns_plan_free(out);
        return -1;
    }
    bns_plan_link(out);
    return 0;
}
