/* test_plan.c - expanding sweeps into tasks: counts of the Zhang & Chen
 * sweep, keys stable under key order and number spelling and sensitive to
 * every setting, shared and duplicated tasks merged, stream ids = keys,
 * dependency links, and the critical path of a known graph. */
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bnnsweep/config.h"
#include "bnnsweep/error.h"
#include "bnnsweep/dataset.h"
#include "bnnsweep/metrics.h"
#include "bnnsweep/net.h"
#include "bnnsweep/plan.h"
#include "bnnsweep/spec.h"

static char source_dir[1024];

static void load_text(const char *text, const char *const *ov, int n_ov, bns_spec *s, bns_plan *p) {
    if (bns_spec_load_text("t.yaml", text, ov, n_ov, s)) fail_msg("%s", bns_last_error());
    if (bns_plan_build(s, p)) fail_msg("%s", bns_last_error());
}

static void free_both(bns_spec *s, bns_plan *p) {
    bns_plan_free(p);
    bns_spec_free(s);
}

static int find_name(const bns_plan *p, const char *name) {
    for (int t = 0; t < p->n_tasks; t++)
        if (!strcmp(p->tasks[t].name, name)) return t;
    return -1;
}

static void test_example_counts(void **state) {
    (void)state;
    char path[2048];
    snprintf(path, sizeof path, "%s/../sweeps/example.yaml", source_dir);
    bns_spec s;
    bns_plan p;
    if (bns_spec_load(path, NULL, 0, &s)) fail_msg("%s", bns_last_error());
    if (bns_plan_build(&s, &p)) fail_msg("%s", bns_last_error());
    /* 7 BNNs + 4 baselines + 12 sources; one min-norm set per source */
    assert_int_equal(p.count[BNS_TASK_TRAIN], 7 + 4 + 12);
    assert_int_equal(p.count[BNS_TASK_ATTACK], 12);
    /* robustness 11 models x (test + 12 sets); ensembles 7 x 12 x 5 sizes;
     * pruning 7 x (val + test + 12) x 6 rates; ood 11 x 3 sets */
    int robustness = 11 * 14, ensembles = 7 * 12 * 5, pruning = 7 * 14 * 6, ood = 11 * 3; /* sets: val, test, 12 attacks */
    assert_int_equal(p.count[BNS_TASK_EVAL], robustness + ensembles + pruning + ood);
    assert_int_equal(p.n_tasks, 23 + 12 + robustness + ensembles + pruning + ood);
    /* dependencies point backwards, dependents mirror them */
    for (int t = 0; t < p.n_tasks; t++) {
        const bns_task *task = &p.tasks[t];
        for (int d = 0; d < task->n_deps; d++) {
            int dep = task->deps[d], found = 0;
            assert_true(dep < t);
            for (int i = 0; i < p.tasks[dep].n_dependents; i++) found |= p.tasks[dep].dependents[i] == t;
            assert_true(found);
        }
        if (task->kind == BNS_TASK_TRAIN) assert_int_equal(task->n_deps, 0);
        if (task->kind == BNS_TASK_ATTACK) assert_int_equal(task->n_deps, 1);
    }
    /* one robustness task per attack set with both inputs */
    int t = find_name(&p, "eval/robustness/bnn/rho_init=-3/minnorm/source/arch=FC-200-200-10,l2_lambda=0.0001");
    assert_true(t >= 0);
    int a = find_name(&p, "attack/minnorm/source/arch=FC-200-200-10,l2_lambda=0.0001");
    int m = find_name(&p, "train/bnn/rho_init=-3");
    assert_true(a >= 0 && m >= 0);
    assert_int_equal(p.tasks[t].n_deps, 2);
    assert_int_equal(p.tasks[t].deps[0], m);
    assert_int_equal(p.tasks[t].deps[1], a);
    assert_int_equal(p.tasks[t].eval.runs, 100);
    assert_int_equal(p.tasks[t].eval.n_ensemble, 1);
    /* a deterministic baseline: one run of its weights */
    t = find_name(&p, "eval/robustness/baseline/l2_lambda=1/test");
    assert_true(t >= 0);
    assert_int_equal(p.tasks[t].eval.runs, 1);
    assert_int_equal(p.tasks[t].eval.n_ensemble, 0);
    /* ensembles: N samples over 100/N runs */
    t = find_name(&p, "eval/ensembles/bnn/rho_init=-2/minnorm/source/arch=FC-10,l2_lambda=0/N=25");
    assert_true(t >= 0);
    assert_int_equal(p.tasks[t].eval.runs, 4);
    assert_int_equal(p.tasks[t].eval.n_ensemble, 25);
    t = find_name(&p, "eval/pruning/bnn/rho_init=-2/val/rate=0.98");
    assert_true(t >= 0);
    assert_true(p.tasks[t].eval.prune_rate == 0.98);
    /* costs: the calibration points of plan.h */
    assert_true(bns_plan_critical_path(&p, NULL, NULL) > 0);
    assert_true(bns_plan_total_cost(&p) >= bns_plan_critical_path(&p, NULL, NULL));
    free_both(&s, &p);
}

static void test_calibration(void **state) {
    (void)state;
    bns_config cfg;
    bns_config_defaults(&cfg);
    cfg.max_epochs = 1;
    cfg.val_samples = 0;
    snprintf(cfg.method, sizeof cfg.method, "deterministic");
    double det = bns_plan_cost_train(&cfg, 1); /* a 1-row validation: the epoch alone */
    assert_true(det > 0.29 && det < 0.33);
    snprintf(cfg.method, sizeof cfg.method, "bbb");
    double bbb = bns_plan_cost_train(&cfg, 1);
    assert_true(bbb > 0.49 && bbb < 0.53);
    bns_attack_settings a;
    bns_attack_defaults(&a, BNS_ATTACK_MINNORM);
    snprintf(cfg.method, sizeof cfg.method, "deterministic");
    snprintf(cfg.arch, sizeof cfg.arch, "FC-200-200-10");
    double attack = bns_plan_cost_attack(&a, &cfg, 0);
    assert_true(attack > 6.0 && attack < 7.0);
    bns_eval_settings e = {.kind = BNS_EVAL_ENSEMBLES, .runs = 1, .n_ensemble = 100, .test_limit = 3000};
    snprintf(cfg.arch, sizeof cfg.arch, "FC-100-100-10");
    double eval = bns_plan_cost_eval(&e, &cfg); /* 3000 images at 3000/s */
    assert_true(eval > 0.95 && eval < 1.05);
    /* a conv net costs its multiply-adds (net.h bns_arch_macs), not its weights */
    e.kind = BNS_EVAL_ROBUSTNESS, e.n_ensemble = 0;
    snprintf(cfg.arch, sizeof cfg.arch, "FC-10");
    double fc_train = bns_plan_cost_train(&cfg, 1), fc_eval = bns_plan_cost_eval(&e, &cfg);
    snprintf(cfg.arch, sizeof cfg.arch, "lenet");
    bns_arch lenet;
    assert_int_equal(bns_arch_parse("lenet", 784, &lenet), 0);
    double ratio = bns_arch_macs(&lenet) / 7850.0; /* ~54 */
    assert_true(fabs(bns_plan_cost_train(&cfg, 1) / fc_train - ratio) < 1e-9 * ratio);
    assert_true(fabs(bns_plan_cost_eval(&e, &cfg) / fc_eval - ratio) < 1e-9 * ratio);
    cfg.dataset = BNS_DATA_CIFAR10; /* its 32x32x3 inputs */
    assert_int_equal(bns_arch_parse("lenet", 3072, &lenet), 0);
    assert_true(fabs(bns_plan_cost_train(&cfg, 1) / fc_train - bns_arch_macs(&lenet) / 7850.0) < 1e-6);
}

/* APD's estimate: offline, a generator iteration per batch_size rows at
 * the cost bench measures (docs/apd.md s.3: 1.32-1.40 CPU-s at the defaults on
 * fcNN1); online, the SGLD chain's deterministic steps plus GAN iterations
 * only from the step at which the buffer is full. */
static void test_apd_cost(void **state) {
    (void)state;
    bns_config cfg;
    bns_config_defaults(&cfg);
    assert_int_equal(bns_config_set(&cfg, "method", "apd"), 0);
    assert_int_equal(bns_config_set(&cfg, "arch", "FC-100-10"), 0);
    cfg.max_epochs = 1, cfg.val_samples = 1, cfg.batch_size = 500; /* 100 iterations an epoch */
    double offline = bns_plan_cost_train(&cfg, 1) / 100;
    assert_true(offline > 1.0 && offline < 1.6);
    /* online, 20 epochs = 2000 steps; the buffer full after 500 + 20 x 50 = 1500: a quarter of them */
    assert_int_equal(bns_config_set(&cfg, "apd_mode", "online"), 0);
    assert_int_equal(bns_config_set(&cfg, "teacher_samples", "50"), 0);
    cfg.max_epochs = 20;
    double online = bns_plan_cost_train(&cfg, 1);
    bns_config det = cfg;
    assert_int_equal(bns_config_set(&det, "method", "deterministic"), 0);
    double chain = bns_plan_cost_train(&det, 1); /* its SGLD steps, at a deterministic step's cost */
    assert_true(fabs(online - chain - 0.25 * 2000 * offline) < 1e-6 * online);
    assert_int_equal(bns_config_set(&cfg, "apd_sgld_burn_in", "5000"), 0); /* never full: the chain alone */
    assert_true(fabs(bns_plan_cost_train(&cfg, 1) - chain) < 1e-9 * chain);
}

static const char *base_text =
    "seed: 5\n"
    "data: {test_limit: 100}\n"
    "train: {max_epochs: 3, lr: 0.001}\n"
    "models:\n"
    "  bnn: {method: bbb, arch: FC-20-10, rho_init: [-4, -3]}\n"
    "  base: {method: deterministic, arch: FC-20-10, l2_lambda: [0, 1e-4]}\n"
    "attacks:\n"
    "  fgsm: {sources: base, eps: 0.1}\n"
    "evaluations:\n"
    "  robustness: {models: [bnn, base], sets: [test, fgsm]}\n"
    "  ood: {models: bnn, ood: [gaussian]}\n";

/* the same sweep: keys reordered, numbers spelled differently, defaults explicit */
static const char *reordered_text =
    "evaluations:\n"
    "  ood: {ood: gaussian, models: [bnn], scores: [entropy, vr, bald]}\n"
    "  robustness: {sets: [test, fgsm], models: [bnn, base], runs: 100}\n"
    "attacks:\n"
    "  fgsm: {eps: 1.0e-1, attack: fgsm, sources: [base]}\n"
    "models:\n"
    "  base: {l2_lambda: [0.0, 0.0001], arch: FC-20-10, method: deterministic}\n"
    "  bnn: {rho_init: [-4.0, -3e0], method: bbb, arch: FC-20-10}\n"
    "train: {lr: 1e-3, max_epochs: 3}\n"
    "data: {test_limit: 100, pixel_scale: 0.00784313725490196}\n"
    "seed: 5\n";

static int same_key_set(const bns_plan *a, const bns_plan *b) {
    if (a->n_tasks != b->n_tasks) return 0;
    for (int t = 0; t < a->n_tasks; t++)
        if (bns_plan_find(b, a->tasks[t].key) < 0) return 0;
    return 1;
}

static int shared_keys(const bns_plan *a, const bns_plan *b) {
    int n = 0;
    for (int t = 0; t < a->n_tasks; t++) n += bns_plan_find(b, a->tasks[t].key) >= 0;
    return n;
}

static void test_keys_stable(void **state) {
    (void)state;
    bns_spec s1, s2;
    bns_plan p1, p2;
    load_text(base_text, NULL, 0, &s1, &p1);
    load_text(reordered_text, NULL, 0, &s2, &p2);
    assert_int_equal(p1.count[BNS_TASK_TRAIN], 4);
    assert_int_equal(p1.count[BNS_TASK_ATTACK], 2);
    assert_int_equal(p1.count[BNS_TASK_EVAL], 4 * 3 + 2);
    assert_true(same_key_set(&p1, &p2));
    /* and the same names for the same keys */
    for (int t = 0; t < p1.n_tasks; t++)
        assert_string_equal(p1.tasks[t].name, p2.tasks[bns_plan_find(&p2, p1.tasks[t].key)].name);
    free_both(&s2, &p2);
    /* the default data set spelt out: the same keys (mnist sweeps keep theirs) */
    const char *mnist[] = {"data.dataset=mnist"};
    load_text(base_text, mnist, 1, &s2, &p2);
    assert_true(same_key_set(&p1, &p2));
    free_both(&s2, &p2);

    /* every kind of change moves the keys it should */
    struct {
        const char *override;
        int changed_trains;   /* of 4 */
    } cases[] = {
        {"train.lr=0.002", 4},
        {"train.max_epochs=4", 4},
        {"seed=6", 4},
        {"data.test_limit=200", 4},
        {"data.dataset=fashion-mnist", 4},
        {"models.bnn.rho_init=[-4, -2]", 1},
        {"models.bnn.samples=2", 2},
        {"models.base.init_std=0.1", 2},
        {"attacks.fgsm.eps=0.2", 0},
        {"evaluations.robustness.runs=50", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *ov[] = {cases[i].override};
        load_text(base_text, ov, 1, &s2, &p2);
        int trains_same = 0;
        for (int t = 0; t < p2.n_tasks; t++)
            if (p2.tasks[t].kind == BNS_TASK_TRAIN) trains_same += bns_plan_find(&p1, p2.tasks[t].key) >= 0;
        if (4 - trains_same != cases[i].changed_trains)
            fail_msg("%s: %d TRAIN keys changed, expected %d", cases[i].override, 4 - trains_same,
                     cases[i].changed_trains);
        /* something always changes */
        assert_true(shared_keys(&p2, &p1) < p1.n_tasks);
        free_both(&s2, &p2);
    }
    /* an attack change moves the attack sets and the evaluations on them only */
    const char *ov[] = {"attacks.fgsm.eps=0.2"};
    load_text(base_text, ov, 1, &s2, &p2);
    for (int t = 0; t < p2.n_tasks; t++) {
        const bns_task *task = &p2.tasks[t];
        int same = bns_plan_find(&p1, task->key) >= 0;
        int on_attack = task->kind == BNS_TASK_ATTACK || task->set_task >= 0;
        assert_int_equal(same, !on_attack);
    }
    free_both(&s2, &p2);
    free_both(&s1, &p1);
}

/* the balanced-OOD setting `rows` (METHODS.md s.12): in the key of the OOD
 * tasks only when set (the keys of existing sweeps stay), moving those and
 * nothing else; bad values and a cifar10 set without its path are errors */
static void test_ood_rows(void **state) {
    (void)state;
    bns_spec s1, s2;
    bns_plan p1, p2;
    load_text(base_text, NULL, 0, &s1, &p1);
    int ood = find_name(&p1, "eval/ood/bnn/rho_init=-3/ood=gaussian");
    assert_true(ood >= 0);
    assert_null(strstr(p1.tasks[ood].canonical, "ood_rows"));
    const char *ov[] = {"evaluations.ood.rows=50"};
    load_text(base_text, ov, 1, &s2, &p2);
    assert_int_equal(s2.evals[1].rows, 50);
    for (int t = 0; t < p2.n_tasks; t++) {
        const bns_task *task = &p2.tasks[t];
        int is_ood = task->kind == BNS_TASK_EVAL && task->eval.kind == BNS_EVAL_OOD;
        assert_int_equal(bns_plan_find(&p1, task->key) >= 0, !is_ood);
        if (is_ood) {
            assert_int_equal(task->eval.ood_rows, 50);
            assert_non_null(strstr(task->canonical, "ood_rows=50\n"));
        }
    }
    free_both(&s2, &p2);
    free_both(&s1, &p1);
    const char *bad[][1] = {{"evaluations.ood.rows=0"}, {"evaluations.robustness.rows=10"},
                            {"evaluations.ood.ood=[cifar10]"}};
    const char *what[] = {"rows", "rows", "data.cifar10"};
    for (int i = 0; i < 3; i++) {
        assert_int_not_equal(bns_spec_load_text("t.yaml", base_text, bad[i], 1, &s2), 0);
        if (!strstr(bns_last_error(), what[i])) fail_msg("%s: '%s' lacks '%s'", bad[i][0], bns_last_error(), what[i]);
    }
    const char *ok[] = {"data.cifar10=/x/cifar-10-batches-bin", "evaluations.ood.ood=[cifar10]"};
    load_text(base_text, ok, 2, &s2, &p2);
    ood = find_name(&p2, "eval/ood/bnn/rho_init=-3/ood=cifar10");
    assert_true(ood >= 0);
    assert_non_null(strstr(p2.tasks[ood].canonical, "ood_path=/x/cifar-10-batches-bin\n"));
    free_both(&s2, &p2);
}

/* Adversarial detection (issue 12): attacks on the first `rows` validation
 * images (`clean: val`) get new keys while the default attacks keep theirs;
 * a detection evaluation is one EVAL per (detector, attack set) that depends
 * on both, and refuses clean sets. */
static void test_detection(void **state) {
    (void)state;
    bns_spec s1, s2;
    bns_plan p1, p2;
    load_text(base_text, NULL, 0, &s1, &p1);
    const char *ov[] = {"attacks.val6={sources: [base, bnn], attack: fgsm, eps: 0.3, source: sample, clean: val, rows: 60}",
                        "evaluations.detection={models: [bnn, base], sets: [val6, fgsm], scores: [bald, entropy], samples: 7}"};
    load_text(base_text, ov, 2, &s2, &p2);
    int fgsm = find_name(&p1, "attack/fgsm/base/l2_lambda=0");
    assert_true(fgsm >= 0);
    assert_null(strstr(p1.tasks[fgsm].canonical, "clean="));
    assert_true(bns_plan_find(&p2, p1.tasks[fgsm].key) >= 0); /* the default attack's key is unchanged */
    int val6 = find_name(&p2, "attack/val6/bnn/rho_init=-3");
    assert_true(val6 >= 0);
    assert_int_equal(p2.tasks[val6].clean_set, BNS_SET_VAL);
    assert_int_equal(p2.tasks[val6].attack_rows, 60);
    assert_non_null(strstr(p2.tasks[val6].canonical, "clean=val\nrows=60\n"));
    int n_detect = 0;
    for (int t = 0; t < p2.n_tasks; t++) {
        const bns_task *task = &p2.tasks[t];
        if (task->kind != BNS_TASK_EVAL || task->eval.kind != BNS_EVAL_DETECTION) continue;
        n_detect++;
        const bns_task *m = &p2.tasks[task->model], *set = &p2.tasks[task->set_task];
        assert_int_equal(set->kind, BNS_TASK_ATTACK);
        assert_int_equal(task->n_deps, 2);
        /* the name says which detector and which set: eval/detection/DETECTOR/ATTACK/SOURCE */
        char want[512];
        snprintf(want, sizeof want, "eval/detection/%s/%s", strchr(m->name, '/') + 1, strchr(set->name, '/') + 1);
        assert_string_equal(task->name, want);
        int bayes = strncmp(m->name, "train/bnn", 9) == 0;
        assert_int_equal(task->eval.n_ensemble, bayes ? 7 : 0);
        assert_int_equal(task->eval.scores, (1u << BNS_SCORE_BALD) | (1u << BNS_SCORE_ENTROPY));
    }
    assert_int_equal(n_detect, 4 * (4 + 2)); /* 4 detectors x (val6: 4 sources, fgsm: 2) */
    free_both(&s2, &p2);
    free_both(&s1, &p1);
    const char *bad[][2] = {{"attacks.fgsm.clean=train", NULL},
                            {"attacks.fgsm.rows=0", NULL},
                            {"evaluations.detection={models: bnn, sets: [test]}", NULL},
                            {"evaluations.detection={models: bnn}", NULL},
                            {"evaluations.detection={models: bnn, sets: fgsm, rows: 3}", NULL}};
    const char *what[] = {"attacks.fgsm.clean: 'train' is not one of test, val", "attacks.fgsm.rows",
                          "detection sets must be attacks", "missing key 'sets'", "unknown key"};
    for (int i = 0; i < 5; i++) {
        assert_int_not_equal(bns_spec_load_text("t.yaml", base_text, bad[i], 1, &s2), 0);
        if (!strstr(bns_last_error(), what[i])) fail_msg("%s: '%s' lacks '%s'", bad[i][0], bns_last_error(), what[i]);
    }
}

static void test_stream_ids(void **state) {
    (void)state;
    bns_spec s;
    bns_plan p;
    load_text(base_text, NULL, 0, &s, &p);
    for (int t = 0; t < p.n_tasks; t++) {
        const bns_task *task = &p.tasks[t];
        assert_int_equal(task->key, bns_hash64(task->canonical));
        if (task->kind == BNS_TASK_TRAIN) {
            assert_int_equal(task->config.task, task->key);
            assert_int_equal(task->config.seed, 5);
            assert_int_equal(task->config.max_epochs, 3);
        }
        if (task->kind == BNS_TASK_ATTACK) {
            assert_int_equal(task->attack.task, task->key);
            assert_int_equal(task->attack.seed, 5);
            assert_int_equal(task->attack.kind, BNS_ATTACK_FGSM);
            assert_int_equal(p.tasks[task->model].kind, BNS_TASK_TRAIN);
        }
        if (task->kind == BNS_TASK_EVAL) {
            assert_int_equal(task->eval.task, p.tasks[task->model].key);
            assert_int_equal(task->eval.seed, 5);
            assert_int_equal(task->eval.test_limit, 100);
        }
    }
    free_both(&s, &p);
}

static void test_shared_and_duplicate_tasks(void **state) {
    (void)state;
    /* a model in two evaluations, and two groups naming the same model */
    const char *text =
        "models:\n"
        "  a: {method: deterministic, arch: FC-10}\n"
        "  b: {method: deterministic, arch: FC-10}\n"
        "  c: {method: deterministic, arch: [FC-10, FC-20-10]}\n"
        "evaluations:\n"
        "  robustness: {models: [a, b, c]}\n"
        "  again: {kind: robustness, models: a}\n"
        "  ood: {models: a}\n";
    bns_spec s;
    bns_plan p;
    load_text(text, NULL, 0, &s, &p);
    assert_int_equal(p.count[BNS_TASK_TRAIN], 2);           /* FC-10 once, FC-20-10 */
    assert_int_equal(p.count[BNS_TASK_EVAL], 2 + 3);        /* robustness on the test set; ood: 3 default sets */
    int fc10 = find_name(&p, "train/a");
    assert_true(fc10 >= 0);
    assert_int_equal(p.tasks[fc10].n_dependents, 4);
    free_both(&s, &p);
}

static void test_critical_path(void **state) {
    (void)state;
    /*   A(1) --> C(3) --> E(1)
     *   B(2) --/         /
     *   A ------> D(5) -/          longest: A D E = 7 */
    bns_plan p;
    memset(&p, 0, sizeof p);
    int a = bns_plan_add(&p, BNS_TASK_TRAIN, "A", "A", NULL, 0, 1);
    int b = bns_plan_add(&p, BNS_TASK_TRAIN, "B", "B", NULL, 0, 2);
    int ab[2] = {a, b};
    int c = bns_plan_add(&p, BNS_TASK_ATTACK, "C", "C", ab, 2, 3);
    int d = bns_plan_add(&p, BNS_TASK_ATTACK, "D", "D", &a, 1, 5);
    int cd[2] = {c, d};
    int e = bns_plan_add(&p, BNS_TASK_EVAL, "E", "E", cd, 2, 1);
    assert_int_equal(bns_plan_add(&p, BNS_TASK_TRAIN, "A again", "A", NULL, 0, 1), a); /* same key: same task */
    int bad = 99;
    assert_int_equal(bns_plan_add(&p, BNS_TASK_EVAL, "F", "F", &bad, 1, 1), -1);
    bns_plan_link(&p);
    assert_int_equal(p.n_tasks, 5);
    assert_int_equal(p.tasks[a].n_dependents, 2);
    int path[5], len = 0;
    assert_true(bns_plan_critical_path(&p, path, &len) == 7.0);
    assert_int_equal(len, 3);
    assert_int_equal(path[0], a);
    assert_int_equal(path[1], d);
    assert_int_equal(path[2], e);
    assert_true(bns_plan_total_cost(&p) == 12.0);
    int order[5];
    assert_int_equal(bns_plan_topo_order(&p, order), 0);
    int pos[5];
    for (int i = 0; i < 5; i++) pos[order[i]] = i;
    assert_true(pos[a] < pos[c] && pos[b] < pos[c] && pos[c] < pos[e] && pos[d] < pos[e]);
    bns_plan_free(&p);
}

/* A distilling group's `teacher: GROUP` (spec.h): each point depends on the
 * teacher models of its arch, which come first whatever the file order; the
 * teacher's key is part of the student's (a changed teacher retrains it);
 * bad teacher groups are refused naming the key. */
static void test_teacher_groups(void **state) {
    (void)state;
    static const char *text =
        "train: {max_epochs: 1}\n"
        "models:\n"
        "  apd: {method: apd, arch: [FC-10-10, FC-12-10], teacher: sgld}\n"
        "  mog: {method: mog, arch: FC-12-10, teacher: sgld}\n"
        "  sgld: {method: sgld, arch: [FC-10-10, FC-12-10], sgld_lr: [0.05, 0.1]}\n"
        "  file: {method: mog, teacher: some/model.h5}\n";
    bns_spec s;
    bns_plan p;
    load_text(text, NULL, 0, &s, &p);
    assert_int_equal(s.groups[0].teacher, 2);
    assert_int_equal(s.groups[3].teacher, -1);
    int students = 0;
    for (int t = 0; t < p.n_tasks; t++) {
        const bns_task *task = &p.tasks[t];
        if (task->kind != BNS_TASK_TRAIN || (strcmp(task->config.method, "apd") && strcmp(task->config.method, "mog")))
            continue;
        if (!strcmp(bns_config_get_string(&task->config, "teacher"), "some/model.h5")) {
            assert_int_equal(task->n_deps, 0); /* a file, not a task */
            continue;
        }
        students++;
        assert_int_equal(task->n_deps, 1);
        const bns_task *teacher = &p.tasks[task->deps[0]];
        assert_true(task->deps[0] < t);
        assert_string_equal(teacher->config.method, "sgld");
        assert_string_equal(teacher->config.arch, task->config.arch);
        char want[32];
        snprintf(want, sizeof want, "task:%016" PRIx64, teacher->key);
        assert_string_equal(bns_config_get_string(&task->config, "teacher"), want);
        assert_non_null(strstr(task->canonical, want));
    }
    assert_int_equal(students, 2 * 2 + 2); /* apd: 2 archs x 2 teachers each; mog: 2 teachers */
    int a = find_name(&p, "train/apd/arch=FC-10-10,teacher=sgld:arch=FC-10-10,sgld_lr=0.05");
    assert_true(a >= 0);
    uint64_t key = p.tasks[a].key;
    free_both(&s, &p);
    /* another teacher (its step size), another student key; the student's own name stays */
    const char *ov[] = {"models.sgld.sgld_lr=[0.05, 0.2]"};
    load_text(text, ov, 1, &s, &p);
    a = find_name(&p, "train/apd/arch=FC-10-10,teacher=sgld:arch=FC-10-10,sgld_lr=0.05");
    assert_true(a >= 0 && p.tasks[a].key == key);
    int b = find_name(&p, "train/apd/arch=FC-10-10,teacher=sgld:arch=FC-10-10,sgld_lr=0.2");
    assert_true(b >= 0 && p.tasks[b].key != key);
    free_both(&s, &p);
    const struct {
        const char *override, *fragment;
    } bad[] = {
        {"models.apd.teacher=apd", "its own teacher"},
        {"models.mog.teacher=apd", "one level of teachers"},
        {"models.sgld.arch=FC-10-10", "no model of arch FC-12-10"},
        {"models.mog.teacher=[sgld, file]", "a single value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(bns_spec_load_text("t.yaml", text, &bad[i].override, 1, &s), -1);
        const char *msg = bns_last_error();
        if (!strstr(msg, bad[i].fragment) || !strstr(msg, ".teacher"))
            fail_msg("%s: error lacks '%s' or the key: %s", bad[i].override, bad[i].fragment, msg);
    }
}

int main(void) {
    snprintf(source_dir, sizeof source_dir, "%s", __FILE__);
    char *slash = strrchr(source_dir, '/');
    if (slash) *slash = '\0';
    else snprintf(source_dir, sizeof source_dir, ".");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_counts), cmocka_unit_test(test_calibration), cmocka_unit_test(test_apd_cost), cmocka_unit_test(test_teacher_groups),
        cmocka_unit_test(test_keys_stable),
        cmocka_unit_test(test_ood_rows), cmocka_unit_test(test_detection), cmocka_unit_test(test_stream_ids),
        cmocka_unit_test(test_shared_and_duplicate_tasks), cmocka_unit_test(test_critical_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
