/* spec.h - sweep files: a whole experiment (METHODS.md s.4-6) as one YAML file.
 *
 * A sweep file is read with libyaml and validated strictly: an unknown key, a
 * value of the wrong type, an empty or duplicated grid value, an impossible
 * combination or a name that refers to nothing is an error naming the file,
 * line, column and key ("sweeps/x.yaml:12:14: models.bnn.rho_init: ...").
 * plan.h expands a loaded spec into tasks.
 *
 * Format (sweeps/example.yaml is the documented version):
 *
 *   name: zhang2020-quick          # optional; default: the file name without .yaml
 *   seed: 1                        # optional (1): the seed of every model and stream
 *   data:                          # optional, all keys optional
 *     pixel_scale: 0.00784313725490196   # 1/127.5: pixels in [0, 2]
 *     train_limit: 0               # first N training rows (0 = all 50k)
 *     test_limit: 1000             # first N validation/test/OOD rows (0 = all 10k)
 *     dataset: mnist               # mnist (default), fashion-mnist, or cifar10
 *     data_path: /path/cifar-10-batches-bin   # cifar10's batch files (default:
 *                                  # <data dir>/cifar-10-batches-bin)
 *     notmnist: /path/notMNIST     # needed only by an ood evaluation naming it
 *     omniglot: /path/omniglot.zip
 *     cifar10: /path/cifar-10-batches-bin  # test_batch.bin or its directory (grayscale OOD set)
 *   train: {max_epochs: 20, patience: 5}   # defaults of any bns_config key (config.h),
 *                                  # single values only
 *   models:                        # groups of models to train (at least one)
 *     bnn:  {method: bbb, rho_init: [-30, -10, -4]}   # a list is a grid axis;
 *     base: {method: deterministic, l2_lambda: [0, 1e-4]}  # axes multiply
 *     apd:  {method: apd, teacher: sgld}   # a distilling method (apd, mog) whose teacher
 *                                  # names a group distils each of that group's models with the
 *                                  # same arch (a task dependency; else teacher is a file path)
 *   attacks:                       # optional: adversarial sets
 *     minnorm: {sources: base, attack: minnorm, c: 1e-9}
 *       # sources: model group(s), one set per source model;
 *       # attack: minnorm|fgsm|pgd|targeted (default: the attack's name);
 *       # any attack setting, single value or grid: source (weights|sample|
 *       # expectation), source_samples, source_index, clip (true|false), batch,
 *       # optimizer (gd|ngd|adam), c, lr, max_steps, search_steps, c_min, c_max,
 *       # beta1, beta2, eps, steps, step_size, random_start, eta,
 *       # target (next | a class number); and (not attack settings) clean:
 *       # test|val (the images attacked, default test) and rows: N (the
 *       # first N of them; default all loaded, more is an error)
 *   evaluations:                   # optional
 *     robustness: {models: [bnn, base], sets: [test, minnorm], runs: 100}
 *     ensembles:  {models: bnn, sets: [minnorm], ensemble: [1, 5, 10]}
 *     pruning:    {models: bnn, sets: [val, test], rates: [0.5, 0.9], samples: 100}
 *     ood:        {models: bnn, ood: [fashion, gaussian], scores: [entropy, bald]}
 *     detection:  {models: [bnn, base], sets: [fgsm], scores: [entropy, bald], samples: 100}
 *       # kind: robustness|ensembles|pruning|ood|detection (default: the evaluation's name)
 *       # models: model group(s) (required); sets: test, val or attack names
 *       # (default [test]); robustness: runs (100; 1 for deterministic models);
 *       # ensembles: ensemble sizes ([1, 5, 10, 25, 100]), runs = total samples
 *       # per size (100: N-sample ensembles over runs/N runs); pruning: rates
 *       # (required, in [0, 1]), samples (100); ood: ood sets among fashion,
 *       # gaussian, uniform, notmnist, omniglot, cifar10 ([fashion, gaussian,
 *       # uniform]), scores among entropy, vr, bald (all), samples (100),
 *       # rows: N in-distribution and N OOD rows (balanced 50/50; a set with
 *       # fewer is an error; default: the sets as loaded, see README);
 *       # detection (METHODS.md s.12, adversarial detection): sets = attack
 *       # names only (required); each adversarial set is scored against its
 *       # clean counterpart (the same rows unperturbed) by the scores
 *       # (default all), AUROC with the adversarial rows positive, and the
 *       # samples-sample ensemble's accuracy on both (samples 100).
 *   active:                        # optional: active learning (active.h)
 *     wang: {models: [sgd, bbb], scores: [entropy, vr, bald, random], seeds: [1, 2, 3],
 *            initial: 20, acquire: 10, rounds: 50, pool: 0, samples: 50, val_rows: 100,
 *            warm_start: false}
 *       # models: model group(s) (required): each point is a training recipe;
 *       # scores (all four), seeds ([the sweep's seed]), initial (20: a
 *       # balanced set, initial / classes per class), acquire (10) images a
 *       # round, rounds (50) acquisitions, pool (0: all training rows),
 *       # samples (50) weight samples for scores and test accuracy,
 *       # val_rows (100) validation images each round's training selects
 *       # its best epoch on (0: data.test_limit's),
 *       # warm_start (false: every round trains from scratch). BALD chains
 *       # of a point estimate are left out (BALD is not defined for it).
 *
 * A "list" may be written in either YAML style ([a, b] or "- a" lines); a
 * single value stands for a one-element list where a list is expected.
 * pixel_scale, train_limit, dataset and data_path belong to data: (all models and sets must
 * share them); task is set by the planner. Impossible combinations:
 * anything bns_config or the method rejects (e.g. method lrt with the
 * mixture prior), pruning or ensembles of a deterministic model, an attack
 * setting the attack rejects.
 *
 * Overrides ("--set PATH=VALUE", Hydra style): PATH is a dotted key path
 * (train.max_epochs, models.bnn.rho_init, attacks.minnorm.c), VALUE is YAML
 * ("3", "[-3, -2]", "{method: bbb}"). An override replaces (or adds) the
 * value before validation; its errors name the override. The spec keeps the
 * override strings and the file text for provenance.
 */
#ifndef BNNSWEEP_SPEC_H
#define BNNSWEEP_SPEC_H

#include <stdint.h>

#include "bnnsweep/attack.h"
#include "bnnsweep/model.h"

enum {
    BNS_SPEC_NAME_LEN = 64,     /* group, attack and evaluation names */
    BNS_SPEC_VALUE_LEN = 64,    /* one grid value, as text */
    BNS_SPEC_MAX_AXES = 16,     /* grid axes of one group or attack */
    BNS_SPEC_MAX_REFS = 32,     /* groups / sets named by one attack or evaluation */
    BNS_SPEC_MAX_LIST = 32,     /* ensemble sizes, pruning rates */
};

/* One grid axis: a setting and its values, as text that the setter parses
 * (bns_config_set for models, bns_spec_attack_set for attacks). */
typedef struct {
    char key[32];
    int n_values;
    char (*values)[BNS_SPEC_VALUE_LEN];
    int line;                   /* where it was written (0 = an override) */
} bns_spec_axis;

typedef struct {
    char name[BNS_SPEC_NAME_LEN];
    bns_config base;            /* defaults + train: + the group's single values + data: + seed */
    int n_axes;
    bns_spec_axis axes[BNS_SPEC_MAX_AXES];   /* in file order (the order of task names) */
    int line;
    int teacher;                /* a distilling method's (apd, mog) `teacher: GROUP`: that group's index
                                   (its models are this group's task dependencies, plan.c); else -1 */
} bns_spec_group;

typedef struct {
    char name[BNS_SPEC_NAME_LEN];
    int n_sources;
    int sources[BNS_SPEC_MAX_REFS];          /* group indices */
    bns_attack_settings base;                /* seed = the spec's; task is set per task */
    int clean_set;              /* `clean:` the images attacked: BNS_SET_TEST (default) or BNS_SET_VAL */
    long rows;                  /* `rows:` the first N of them (0 = all loaded; more is an error) */
    int n_axes;
    bns_spec_axis axes[BNS_SPEC_MAX_AXES];
    int line;
} bns_spec_attack;

enum bns_eval_kind { BNS_EVAL_ROBUSTNESS = 0, BNS_EVAL_ENSEMBLES = 1, BNS_EVAL_PRUNING = 2, BNS_EVAL_OOD = 3,
                     BNS_EVAL_DETECTION = 4 };
const char *bns_eval_kind_name(int kind);
int bns_eval_kind_parse(const char *name);   /* -1 if unknown */

/* An evaluation set: clean validation or test data, or every set of an attack. */
enum bns_set_kind { BNS_SET_TEST = 0, BNS_SET_VAL = 1, BNS_SET_ATTACK = 2 };
typedef struct {
    int kind;                   /* enum bns_set_kind */
    int attack;                 /* BNS_SET_ATTACK: index into spec.attacks */
} bns_spec_set;

/* OOD sets (ood.h, dataset.h) */
enum bns_ood_set { BNS_OOD_FASHION = 0, BNS_OOD_GAUSSIAN = 1, BNS_OOD_UNIFORM = 2, BNS_OOD_NOTMNIST = 3,
                   BNS_OOD_OMNIGLOT = 4, BNS_OOD_CIFAR10 = 5, BNS_OOD_COUNT = 6 };
const char *bns_ood_set_name(int set);
int bns_ood_set_parse(const char *name);     /* -1 if unknown */

typedef struct {
    char name[BNS_SPEC_NAME_LEN];
    int kind;                   /* enum bns_eval_kind */
    int n_models;
    int models[BNS_SPEC_MAX_REFS];           /* group indices */
    int n_sets;
    bns_spec_set sets[BNS_SPEC_MAX_REFS];    /* robustness, ensembles, pruning */
    int runs;                   /* robustness: runs; ensembles: samples per size */
    int samples;                /* pruning, ood: ensemble size */
    int n_ensemble;
    int ensemble[BNS_SPEC_MAX_LIST];
    int n_rates;
    double rates[BNS_SPEC_MAX_LIST];
    int n_ood;
    int ood[BNS_OOD_COUNT];     /* enum bns_ood_set */
    unsigned scores;            /* bit (1 << enum bns_score) per score */
    long rows;                  /* ood: in-distribution and OOD rows each (balanced); 0 = as loaded */
    int line;
} bns_spec_eval;

/* An active-learning section (active.h; METHODS.md s.12): for every model
 * of its groups, every score and every seed, a chain of rounds 0..rounds. */
typedef struct {
    char name[BNS_SPEC_NAME_LEN];
    int n_models;
    int models[BNS_SPEC_MAX_REFS];           /* group indices: the training recipe of every round */
    unsigned scores;            /* bit (1 << enum bns_score or BNS_ACQ_RANDOM) */
    int n_seeds;
    uint64_t seeds[BNS_SPEC_MAX_LIST];       /* each chain's config.seed */
    int initial, acquire, rounds, samples, warm_start;
    long pool;                  /* first N training rows (0 = all) */
    long val_rows;              /* first N validation rows each round validates on (0 = all loaded) */
    int line;
} bns_spec_active;

typedef struct {
    char path[1024];
    char name[BNS_SPEC_NAME_LEN];
    uint64_t seed;
    double pixel_scale;
    long train_limit, test_limit;
    int dataset;                /* enum bns_data_kind: what every model trains and is tested on */
    char data_path[192];        /* cifar10: its directory ("" = the default place) */
    char notmnist[1024], omniglot[1024], cifar10[1024];  /* OOD sets by path (cifar10: grayscale) */
    int n_groups, n_attacks, n_evals;
    bns_spec_group *groups;
    bns_spec_attack *attacks;
    bns_spec_eval *evals;
    int n_actives;
    bns_spec_active *actives;
    /* provenance */
    int n_overrides;
    char **overrides;           /* as given, in order */
    char *text;                 /* the file's bytes, NUL-terminated */
} bns_spec;

/* Limits that keep any sweep file's cost bounded (a hostile or mistaken file
 * gets a clear error, never exhausts memory); each can be raised by setting
 * its environment variable (bns_spec_limit_name) to a positive integer, on
 * every rank and for plan/status/merge alike:
 *   BNNSWEEP_MAX_SWEEP_BYTES    (1 MiB)   size of the sweep file
 *   BNNSWEEP_MAX_SWEEP_EXPANDED (64 MiB)  size of the document with its YAML
 *                                         aliases expanded (64 bytes a node plus
 *                                         its text); an alias inside its own
 *                                         anchor is always an error
 *   BNNSWEEP_MAX_GRID_POINTS    (10000)   points of one group's or attack's grid,
 *                                         and entries of any one list or mapping
 *   BNNSWEEP_MAX_TASKS          (100000)  tasks of the plan (plan.h)
 *   BNNSWEEP_MAX_WEIGHTS        (2e7)     weights (biases included) of one model
 * Nesting is at most 64 levels (fixed). */
enum bns_spec_limit_kind { BNS_LIMIT_SWEEP_BYTES, BNS_LIMIT_EXPANDED_BYTES, BNS_LIMIT_GRID_POINTS, BNS_LIMIT_TASKS,
                           BNS_LIMIT_WEIGHTS, BNS_LIMIT_COUNT };
/* The limit in force (*out); -1 with the error recorded when the variable is
 * set but not a positive integer. */
int bns_spec_limit(int which, long long *out);
const char *bns_spec_limit_name(int which);
/* A sweep file's text (free() it), refused before reading when it is larger
 * than BNS_LIMIT_SWEEP_BYTES or holds a NUL byte; NULL with the error recorded. */
char *bns_spec_read_file(const char *path);

/* Read, apply overrides (n_overrides "path=value" strings) and validate. On
 * error returns -1 with the message recorded (error.h) and *out empty. */
int bns_spec_load(const char *path, const char *const *overrides, int n_overrides, bns_spec *out);
/* The same from text in memory; `path` only names it in messages. */
int bns_spec_load_text(const char *path, const char *text, const char *const *overrides, int n_overrides,
                       bns_spec *out);
void bns_spec_free(bns_spec *spec);

/* Grids: the points of a group or attack are numbered 0..points-1, the first
 * axis varying slowest. */
long bns_spec_axes_points(const bns_spec_axis *axes, int n_axes);
void bns_spec_axes_decode(const bns_spec_axis *axes, int n_axes, long index, int *value_index);
/* "key=value,key=value" of grid point `index` (names tasks and messages). */
void bns_spec_point_label(const bns_spec_axis *axes, int n_axes, long index, char *buf, size_t size);
int bns_spec_group_point(const bns_spec_group *g, long index, bns_config *cfg);
int bns_spec_attack_point(const bns_spec_attack *a, long index, bns_attack_settings *s);

/* 1 if the two configurations' networks have the same layer widths (a
 * teacher group's models that a distilling point can distil). */
int bns_spec_same_arch(const bns_config *a, const bns_config *b);

/* Attack settings by name (the names listed above): parse `value` into s;
 * errors name the key and value. */
int bns_spec_attack_set(bns_attack_settings *s, const char *key, const char *value);
/* "key=value\n" lines of every attack setting (except task), sorted by key,
 * numbers as %.17g: the canonical text used in task keys. */
void bns_spec_attack_canonical(const bns_attack_settings *s, char *buf, size_t size);
/* The same for a bns_config (every field that applies to its method, except task). */
void bns_spec_config_canonical(const bns_config *cfg, char *buf, size_t size);
/* ... without the evaluation settings (config.h): what training depends on,
 * the text of a TRAIN task's key. */
void bns_spec_training_canonical(const bns_config *cfg, char *buf, size_t size);

#endif
