/* plan.h - a sweep (spec.h) expanded into a graph of tasks.
 *
 *   TRAIN   one model: a point of a model group's grid
 *   ATTACK  one adversarial set: an attack point against one source model
 *   EVAL    one model on one set: a robustness run set, one ensemble size,
 *           one pruning rate, one OOD set, or one adversarial set detected
 *           among its clean rows
 *   ACTIVE  one acquisition round of an active-learning chain (active.h):
 *           round r depends on round r-1 of its chain (model = that task);
 *           round 0 (the initial set) is shared by the chain's scores
 *
 * Every task has a stable key: bns_hash64 of its canonical text - its kind,
 * every resolved setting as sorted "key=value" lines with numbers printed
 * %.17g, and its inputs' keys - so the same work gets the same key whatever
 * the file's key order or number spelling, and a task reached twice (a
 * model trained for several evaluations, two identical groups) is one task.
 * The key is also the task id of its random streams (TRAIN: config.task;
 * ATTACK: attack.task), so results never depend on scheduling. An EVAL's
 * PREDICT stream is the evaluated model's (seed, config.task), as `bnnsweep
 * eval` uses, so a number can be reproduced by hand from the model file and
 * every evaluation of one model shares its weight samples (common random
 * numbers across sets).
 *
 * Tasks are stored dependencies-first (a task's deps have lower indices);
 * deps/dependents give the graph for a scheduler.
 */
#ifndef BNNSWEEP_PLAN_H
#define BNNSWEEP_PLAN_H

#include <stdint.h>

#include "bnnsweep/active.h"
#include "bnnsweep/spec.h"

enum bns_task_kind { BNS_TASK_TRAIN = 0, BNS_TASK_ATTACK = 1, BNS_TASK_EVAL = 2, BNS_TASK_ACTIVE = 3, BNS_TASK_KINDS = 4 };
const char *bns_task_kind_name(int kind);   /* "train", "attack", "eval", "active" */
#define bns_task_is_view(t) ((t)->kind == BNS_TASK_TRAIN && (t)->model >= 0)

/* What an EVAL task computes (cf. bnnsweep eval). */
typedef struct {
    int kind;                 /* enum bns_eval_kind */
    int set;                  /* enum bns_set_kind (BNS_EVAL_OOD: the in-distribution set, test) */
    int ood;                  /* BNS_EVAL_OOD: enum bns_ood_set; else -1 */
    int runs;                 /* runs of n_ensemble-sample ensembles */
    int n_ensemble;           /* weight samples per run; 0 = the mean weights (deterministic models) */
    double prune_rate;        /* BNS_EVAL_PRUNING; else 0 */
    unsigned scores;          /* BNS_EVAL_OOD: bit (1 << enum bns_score) */
    long test_limit;          /* first N rows of the set (0 = all) */
    long ood_rows;            /* BNS_EVAL_OOD: N in-distribution + N OOD rows (balanced); 0 = as loaded */
    uint64_t seed, task;      /* PREDICT stream key: the model's seed and TRAIN key */
} bns_eval_settings;

typedef struct {
    int kind;                 /* enum bns_task_kind */
    uint64_t key;             /* bns_hash64(canonical) */
    char *name;               /* human-readable: "train/bnn/rho_init=-3" */
    char *canonical;          /* the text the key hashes */
    int spec_index;           /* the spec's group / attack / evaluation it came from (first, if shared) */
    bns_config config;        /* TRAIN: fully resolved, config.task = key */
    long test_limit;          /* TRAIN, ATTACK: validation / attacked rows (0 = all) */
    int clean_set;            /* ATTACK: the images attacked (enum bns_set_kind: test or val) */
    long attack_rows;         /* ATTACK: the first N of them (0 = all loaded) */
    bns_attack_settings attack;  /* ATTACK: seed = the spec's, task = key */
    bns_eval_settings eval;   /* EVAL */
    bns_active_settings active;  /* ACTIVE (config: the round's training recipe, config.task = key) */
    int model;                /* ATTACK: source TRAIN task; EVAL: evaluated TRAIN task; ACTIVE: the round
                                 before (-1 for round 0); TRAIN: -1, or for
                                 a model view (plan.c) the TRAIN task whose model it evaluates differently */
    int set_task;             /* EVAL on an attack set: its ATTACK task; else -1 */
    double cost;              /* estimated seconds on one thread */
    int n_deps, *deps;        /* tasks that must finish first (lower indices) */
    int n_dependents, *dependents;
} bns_task;

typedef struct {
    int n_tasks, cap;
    bns_task *tasks;
    int count[BNS_TASK_KINDS];
    double cost[BNS_TASK_KINDS];
    /* key -> index (open addressing, -1 empty) */
    int n_slots;
    int *slots;
    long long max_tasks;      /* bns_plan_add refuses task max_tasks + 1 (0: no bound) */
} bns_plan;

/* Expand a validated spec. Tasks come out TRAIN, then ATTACK, then EVAL, then ACTIVE, in
 * spec order. The plan is linked (dependents filled). More tasks than
 * BNS_LIMIT_TASKS (spec.h) is an error, found before they are all made. */
int bns_plan_build(const bns_spec *spec, bns_plan *out);
void bns_plan_free(bns_plan *plan);

/* Low-level construction (bns_plan_build uses it; tests build small graphs):
 * add a task whose key is bns_hash64(canonical), or find the existing task
 * with that key (a different canonical text under the same key is a hash
 * collision and an error). Returns the task's index, or -1. The new task
 * has model = set_task = -1, spec_index = -1. deps must be existing tasks. */
int bns_plan_add(bns_plan *plan, int kind, const char *name, const char *canonical, const int *deps, int n_deps,
                 double cost);
/* Fill dependents from deps and the per-kind totals (again after adding). */
void bns_plan_link(bns_plan *plan);
int bns_plan_find(const bns_plan *plan, uint64_t key);   /* index or -1 */

/* Kahn order (ties by index) into order[n_tasks]; -1 on a cycle. */
int bns_plan_topo_order(const bns_plan *plan, int *order);
/* The longest chain of dependent tasks, in estimated seconds: no allocation
 * can finish sooner. path (n_tasks entries, may be NULL) receives the chain's
 * tasks first to last, *path_len their count (may be NULL). */
double bns_plan_critical_path(const bns_plan *plan, int *path, int *path_len);
/* The same with seconds[t] in place of the estimated costs (measured task
 * times: profile.h). */
double bns_plan_critical_path_with(const bns_plan *plan, const double *seconds, int *path, int *path_len);
/* Sum of all estimated costs. */
double bns_plan_total_cost(const bns_plan *plan);

/* Cost model: seconds on one BLAS thread, calibrated on the development
 * machine (AVX-512, 1 thread). rows x weights ("row-weights") is the unit:
 *   TRAIN  = max_epochs * (train rows * W * S * TRAIN_{DET,BAYES}
 *                          + val rows * W * val samples * PREDICT)
 *            (max_epochs: early stopping usually ends sooner; an upper bound)
 *   ATTACK = test rows * steps * W * K * ATTACK_STEP, K = source samples
 *            (expectation source of a stochastic model), steps = the
 *            attack's cost_steps (attack.h; minnorm: max_steps * search_steps
 *            * 0.35, as examples stop when fooled)
 *   EVAL   = rows * runs * samples * W * PREDICT (OOD: test + OOD rows)
 *   a model view (TRAIN with a model): VIEW, rewriting one model file
 * W = the architecture's weights and biases (FC-100-100-10: 89,610). */
/* (training costs: each method's train_cost, method.h) */
#define BNS_COST_PREDICT 3.7e-11       /* s/row-weight/sample: 100-sample ensemble, 3000 images/s */
#define BNS_COST_ATTACK_STEP 4.6e-11   /* s/row-weight/step: forward + input backward (2/3 of a train step) */
#define BNS_COST_VIEW 0.05             /* s: a model view's file */
#define BNS_MNIST_TRAIN_ROWS 50000
#define BNS_MNIST_TEST_ROWS 10000

double bns_plan_cost_train(const bns_config *cfg, long test_limit);
double bns_plan_cost_attack(const bns_attack_settings *s, const bns_config *source, long test_limit);
double bns_plan_cost_eval(const bns_eval_settings *e, const bns_config *model);

#endif
