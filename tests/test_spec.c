/* test_spec.c - sweep files: every malformed case names file, line and key;
 * a good file loads with its defaults; overrides apply, are validated and
 * recorded. Fixtures live in tests/data/specs (found next to this file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bnnsweep/dataset.h"
#include "bnnsweep/error.h"
#include "bnnsweep/metrics.h"
#include "bnnsweep/plan.h"
#include "bnnsweep/spec.h"

static char fixture_dir[1024];

static const char *fixture(const char *name) {
    static char path[2048];
    snprintf(path, sizeof path, "%s/%s", fixture_dir, name);
    return path;
}

/* Loading must fail, and the message must hold each of the NULL-terminated
 * fragments (file, ":line:", key, what). */
static void expect_error(const char *file, const char *const *overrides, int n_overrides, ...) {
    bns_spec spec;
    int rc = bns_spec_load(fixture(file), overrides, n_overrides, &spec);
    if (rc == 0) {
        bns_spec_free(&spec);
        fail_msg("%s loaded but should not", file);
    }
    const char *msg = bns_last_error();
    va_list ap;
    va_start(ap, n_overrides);
    for (const char *frag = va_arg(ap, const char *); frag; frag = va_arg(ap, const char *))
        if (!strstr(msg, frag)) {
            va_end(ap);
            fail_msg("error for %s lacks '%s': %s", file, frag, msg);
        }
    va_end(ap);
}

static void test_unknown_keys(void **state) {
    (void)state;
    expect_error("bad_unknown_top.yaml", NULL, 0, "bad_unknown_top.yaml:4:1:", "modles", "unknown key", NULL);
    expect_error("bad_unknown_nested.yaml", NULL, 0, "bad_unknown_nested.yaml:4:5:", "models.bnn.rho_int",
                 "unknown key", NULL);
    expect_error("bad_dup_key.yaml", NULL, 0, "bad_dup_key.yaml:3:3:", "models.bnn", "duplicated key", NULL);
}

static void test_wrong_types(void **state) {
    (void)state;
    expect_error("bad_wrong_type.yaml", NULL, 0, "bad_wrong_type.yaml:2:15:", "train.max_epochs", "many", NULL);
    expect_error("bad_wrong_type_list.yaml", NULL, 0, "bad_wrong_type_list.yaml:2:7:", "train.lr", "single value",
                 NULL);
}

static void test_grids(void **state) {
    (void)state;
    expect_error("bad_empty_grid.yaml", NULL, 0, "bad_empty_grid.yaml:4:15:", "models.bnn.rho_init", "empty grid",
                 NULL);
    /* 1e-4 and 0.0001 are the same number */
    expect_error("bad_dup_grid.yaml", NULL, 0, "bad_dup_grid.yaml:4:26:", "models.base.l2_lambda",
                 "duplicated grid value", NULL);
}

static void test_impossible_combinations(void **state) {
    (void)state;
    expect_error("bad_lrt_mixture.yaml", NULL, 0, "bad_lrt_mixture.yaml:3:3:", "models.fast", "impossible combination",
                 "Gaussian prior", NULL);
    expect_error("bad_prune_det.yaml", NULL, 0, "bad_prune_det.yaml:6:13:", "evaluations.pruning.models",
                 "impossible combination", "'base'", NULL);
    expect_error("bad_attack_setting.yaml", NULL, 0, "bad_attack_setting.yaml:4:3:", "attacks.pgd", "steps", NULL);
}

static void test_missing_references(void **state) {
    (void)state;
    expect_error("bad_missing_source.yaml", NULL, 0, "bad_missing_source.yaml:5:21:", "attacks.minnorm.sources",
                 "missing reference", "sauce", NULL);
    expect_error("bad_missing_set.yaml", NULL, 0, "bad_missing_set.yaml:8:18:", "evaluations.robustness.sets",
                 "missing reference", "pgd", NULL);
}

static void test_syntax_error(void **state) {
    (void)state;
    expect_error("bad_syntax.yaml", NULL, 0, "bad_syntax.yaml:2:", "YAML syntax error", NULL);
    bns_spec spec;
    assert_int_equal(bns_spec_load(fixture("no_such_file.yaml"), NULL, 0, &spec), -1);
    assert_non_null(strstr(bns_last_error(), "no_such_file.yaml"));
}

static void test_good_spec(void **state) {
    (void)state;
    bns_spec s;
    if (bns_spec_load(fixture("good_small.yaml"), NULL, 0, &s)) fail_msg("%s", bns_last_error());
    assert_string_equal(s.name, "small");
    assert_int_equal(s.seed, 3);
    assert_int_equal(s.test_limit, 100);
    assert_int_equal(s.train_limit, 500);
    assert_int_equal(s.n_groups, 2);
    assert_string_equal(s.groups[0].name, "bnn");
    assert_int_equal(s.groups[0].n_axes, 1);
    assert_string_equal(s.groups[0].axes[0].key, "rho_init");
    assert_int_equal(s.groups[0].axes[0].n_values, 2);
    assert_int_equal(s.groups[0].base.max_epochs, 2);
    assert_int_equal(s.groups[0].base.seed, 3);
    assert_int_equal(s.groups[0].base.train_limit, 500);
    /* grid values are stored canonically: 1e-4 reads 0.0001 */
    assert_string_equal(s.groups[1].axes[0].values[1], "0.0001");
    assert_int_equal(s.n_attacks, 1);
    assert_int_equal(s.attacks[0].base.kind, BNS_ATTACK_FGSM); /* from the attack's name */
    assert_int_equal(s.attacks[0].n_sources, 1);
    assert_int_equal(s.attacks[0].sources[0], 1);
    assert_int_equal(s.n_evals, 2);
    assert_int_equal(s.evals[0].kind, BNS_EVAL_ROBUSTNESS);
    assert_int_equal(s.evals[0].runs, 10);
    assert_int_equal(s.evals[0].n_sets, 2);
    assert_int_equal(s.evals[0].sets[1].kind, BNS_SET_ATTACK);
    assert_int_equal(s.evals[1].kind, BNS_EVAL_OOD);
    assert_int_equal(s.evals[1].scores, (1u << BNS_SCORE_COUNT) - 1); /* default: all */
    assert_int_equal(s.n_overrides, 0);
    assert_non_null(strstr(s.text, "name: small"));
    bns_spec_free(&s);
}

static void test_overrides(void **state) {
    (void)state;
    const char *ov[] = {"train.max_epochs=7", "models.bnn.rho_init=[-3, -2, -1]", "models.extra={method: lrt, prior: gaussian}",
                        "evaluations.robustness.runs=3"};
    bns_spec s;
    if (bns_spec_load(fixture("good_small.yaml"), ov, 4, &s)) fail_msg("%s", bns_last_error());
    assert_int_equal(s.groups[0].base.max_epochs, 7);
    assert_int_equal(s.groups[0].axes[0].n_values, 3);
    assert_string_equal(s.groups[0].axes[0].values[2], "-1");
    assert_int_equal(s.n_groups, 3);
    assert_string_equal(s.groups[2].name, "extra");
    assert_int_equal(s.groups[2].base.max_epochs, 7);
    assert_int_equal(s.evals[0].runs, 3);
    /* recorded for provenance */
    assert_int_equal(s.n_overrides, 4);
    assert_string_equal(s.overrides[1], "models.bnn.rho_init=[-3, -2, -1]");
    assert_non_null(strstr(s.text, "rho_init: [-4, -3]"));
    bns_spec_free(&s);

    /* bad overrides name themselves and the key */
    const char *bad_value[] = {"train.max_epochs=abc"};
    expect_error("good_small.yaml", bad_value, 1, "override 'train.max_epochs=abc'", "train.max_epochs", "abc", NULL);
    const char *bad_key[] = {"models.bnn.rho_nit=1"};
    expect_error("good_small.yaml", bad_key, 1, "override 'models.bnn.rho_nit=1'", "models.bnn.rho_nit", "unknown key",
                 NULL);
    const char *no_eq[] = {"train.max_epochs"};
    expect_error("good_small.yaml", no_eq, 1, "override 'train.max_epochs'", "PATH=VALUE", NULL);
    const char *empty_grid[] = {"models.bnn.rho_init=[]"};
    expect_error("good_small.yaml", empty_grid, 1, "override 'models.bnn.rho_init=[]'", "empty grid", NULL);
    const char *not_map[] = {"seed.x=1"};
    expect_error("good_small.yaml", not_map, 1, "override 'seed.x=1'", "not a mapping", NULL);
    const char *syntax[] = {"models.bnn.rho_init=[-3"};
    expect_error("good_small.yaml", syntax, 1, "override 'models.bnn.rho_init=[-3'", "YAML syntax error", NULL);
}

static void test_text_and_defaults(void **state) {
    (void)state;
    /* the smallest sweep: one group, everything else defaulted */
    bns_spec s;
    if (bns_spec_load_text("mini.yaml", "models: {m: {}}\n", NULL, 0, &s)) fail_msg("%s", bns_last_error());
    assert_string_equal(s.name, "mini");
    assert_int_equal(s.seed, 1);
    assert_int_equal(s.n_groups, 1);
    assert_int_equal(s.n_attacks, 0);
    assert_int_equal(s.n_evals, 0);
    bns_spec_free(&s);
    assert_int_equal(bns_spec_load_text("e.yaml", "", NULL, 0, &s), -1);
    assert_non_null(strstr(bns_last_error(), "e.yaml"));
    assert_int_equal(bns_spec_load_text("e.yaml", "- 1\n- 2\n", NULL, 0, &s), -1);
    assert_non_null(strstr(bns_last_error(), "e.yaml:1:1:"));
    /* reserved settings */
    assert_int_equal(bns_spec_load_text("r.yaml", "models:\n  m: {task: 3}\n", NULL, 0, &s), -1);
    assert_non_null(strstr(bns_last_error(), "r.yaml:2:7: models.m.task"));
    assert_int_equal(bns_spec_load_text("r.yaml", "train: {pixel_scale: 1}\nmodels: {m: {}}\n", NULL, 0, &s), -1);
    assert_non_null(strstr(bns_last_error(), "train.pixel_scale"));
    /* a null value */
    assert_int_equal(bns_spec_load_text("n.yaml", "seed:\nmodels: {m: {}}\n", NULL, 0, &s), -1);
    assert_non_null(strstr(bns_last_error(), "n.yaml:1:6: seed: missing value"));
}

/* data: chooses the data set of every model (their dataset/data_path
 * settings, so model files and keys record it); names are the training
 * setting's; the training settings themselves are reserved for data:. */
static void test_data_section(void **state) {
    (void)state;
    bns_spec s;
    if (bns_spec_load_text("d.yaml", "models: {m: {}}\n", NULL, 0, &s)) fail_msg("%s", bns_last_error());
    assert_int_equal(s.dataset, BNS_DATA_MNIST);
    assert_int_equal(s.groups[0].base.dataset, BNS_DATA_MNIST);
    assert_string_equal(s.groups[0].base.data_path, "");
    bns_spec_free(&s);
    if (bns_spec_load_text("d.yaml", "data: {dataset: fashion-mnist}\nmodels: {m: {}}\n", NULL, 0, &s))
        fail_msg("%s", bns_last_error());
    assert_int_equal(s.dataset, BNS_DATA_FASHION);
    assert_int_equal(s.groups[0].base.dataset, BNS_DATA_FASHION);
    bns_spec_free(&s);
    /* a conv net is checked at CIFAR-10's input shape (lenet needs a square image of 1 or 3 channels) */
    if (bns_spec_load_text("d.yaml", "data: {dataset: cifar10, data_path: /c10}\nmodels: {m: {arch: lenet}}\n", NULL, 0,
                           &s))
        fail_msg("%s", bns_last_error());
    assert_int_equal(s.groups[0].base.dataset, BNS_DATA_CIFAR10);
    assert_string_equal(s.groups[0].base.data_path, "/c10");
    bns_spec_free(&s);
    assert_int_equal(bns_spec_load_text("d.yaml", "data: {dataset: svhn}\nmodels: {m: {}}\n", NULL, 0, &s), -1);
    assert_non_null(strstr(bns_last_error(), "d.yaml:1:17: data.dataset"));
    assert_non_null(strstr(bns_last_error(), "svhn"));
    assert_int_equal(bns_spec_load_text("d.yaml", "train: {dataset: cifar10}\nmodels: {m: {}}\n", NULL, 0, &s), -1);
    assert_non_null(strstr(bns_last_error(), "train.dataset"));
    assert_non_null(strstr(bns_last_error(), "data:"));
    assert_int_equal(bns_spec_load_text("d.yaml", "models: {m: {data_path: /x}}\n", NULL, 0, &s), -1);
    assert_non_null(strstr(bns_last_error(), "models.m.data_path"));
}

/* Loading text must fail with a message holding `frag`. */
static void expect_text_error(const char *text, const char *frag) {
    bns_spec s;
    if (bns_spec_load_text("hostile.yaml", text, NULL, 0, &s) == 0) {
        bns_spec_free(&s);
        fail_msg("loaded but should not: %.60s", text);
    }
    if (!strstr(bns_last_error(), frag)) fail_msg("error lacks '%s': %s", frag, bns_last_error());
}

/* "Billion laughs": nine levels of nine aliases are 9^9 scalars from 300
 * bytes. Expanding it must stop at the bound, with the line of the node. */
static void test_alias_bomb(void **state) {
    (void)state;
    char text[4096];
    size_t used = (size_t)snprintf(text, sizeof text, "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (int level = 1; level < 10; level++) {
        used += (size_t)snprintf(text + used, sizeof text - used, "a%d: &a%d [", level, level);
        for (int i = 0; i < 9; i++)
            used += (size_t)snprintf(text + used, sizeof text - used, "%s*a%d", i ? ", " : "", level - 1);
        used += (size_t)snprintf(text + used, sizeof text - used, "]\n");
    }
    expect_text_error(text, "aliases expand the document to more than");
    expect_text_error(text, "BNNSWEEP_MAX_SWEEP_EXPANDED");
    /* an alias inside its own anchor is infinite, whatever the bound */
    expect_text_error("a: &a [*a, *a]\nmodels: {m: {}}\n", "hostile.yaml:1:4: an alias refers to a node that contains it");
    expect_text_error("models: &m {g: {x: *m}}\n", "an alias refers to a node that contains it");
    /* an honest alias still works: a value written once, used twice */
    bns_spec s;
    if (bns_spec_load_text("a.yaml", "models:\n  a: {method: bbb, rho_init: &r -4}\n  b: {method: bbb, rho_init: *r}\n",
                           NULL, 0, &s))
        fail_msg("%s", bns_last_error());
    assert_int_equal(s.n_groups, 2);
    assert_true(s.groups[1].base.rho_init == -4);
    bns_spec_free(&s);
}

/* 70 nested lists: the depth check must fire (a truncated tree must not load). */
static void test_deep_nesting(void **state) {
    (void)state;
    char text[512] = "models: {m: {rho_init: ";
    for (int i = 0; i < 70; i++) strcat(text, "[");
    strcat(text, "1");
    for (int i = 0; i < 70; i++) strcat(text, "]");
    strcat(text, "}}\n");
    expect_text_error(text, "YAML nesting deeper than 64 levels");
    expect_text_error(text, "hostile.yaml:1:");
    /* half a megabyte of '[' (libyaml alone needs hours for it): refused at the 65th */
    size_t n = 500000;
    char *deep = malloc(2 * n + 16);
    assert_non_null(deep);
    memcpy(deep, "models: ", 8);
    memset(deep + 8, '[', n);
    memset(deep + 8 + n, ']', n);
    deep[8 + 2 * n] = '\0';
    expect_text_error(deep, "hostile.yaml:1:73: YAML nesting deeper than 64 levels");
    free(deep);
    /* brackets in quotes and comments are text, not nesting; 64 levels are allowed */
    char ok[1024] = "name: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[['  # {{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\nmodels: {m: {}}\nx: ";
    for (int i = 0; i < 62; i++) strcat(ok, "[");
    for (int i = 0; i < 62; i++) strcat(ok, "]");
    strcat(ok, "\n");
    expect_text_error(ok, "hostile.yaml:3:1: x: unknown key");
}

static void with_env(const char *name, const char *value) {
    if (value) setenv(name, value, 1);
    else unsetenv(name);
}

/* grid points, list lengths, tasks and file size are bounded; each bound can be moved */
static void test_limits(void **state) {
    (void)state;
    /* 10^5 points > 10^4 (the default): refused at the axis that crosses it */
    expect_text_error("models:\n  m: {method: bbb, rho_init: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],\n"
                      "       lr: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], batch_size: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],\n"
                      "       max_epochs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], patience: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}\n",
                      "the grid has more than 10000 points");
    const char *six = "models:\n  m: {method: bbb, rho_init: [-1, -2, -3], lr: [0.1, 0.2]}\n";
    bns_spec s;
    bns_plan p;
    with_env("BNNSWEEP_MAX_GRID_POINTS", "5");
    expect_text_error(six, "hostile.yaml:2:48: models.m.lr: the grid has more than 5 points");
    expect_text_error("models: {m: {rho_init: [-1, -2, -3, -4, -5, -6]}}\n", "a list with 6 entries, more than 5");
    with_env("BNNSWEEP_MAX_GRID_POINTS", "6");
    if (bns_spec_load_text("six.yaml", six, NULL, 0, &s)) fail_msg("%s", bns_last_error());
    with_env("BNNSWEEP_MAX_TASKS", "5");
    assert_int_equal(bns_plan_build(&s, &p), -1);
    assert_non_null(strstr(bns_last_error(), "more than 5 tasks"));
    assert_non_null(strstr(bns_last_error(), "BNNSWEEP_MAX_TASKS"));
    with_env("BNNSWEEP_MAX_TASKS", "6");
    if (bns_plan_build(&s, &p)) fail_msg("%s", bns_last_error());
    assert_int_equal(p.n_tasks, 6);
    bns_plan_free(&p);
    with_env("BNNSWEEP_MAX_TASKS", "lots");
    assert_int_equal(bns_plan_build(&s, &p), -1);
    assert_non_null(strstr(bns_last_error(), "BNNSWEEP_MAX_TASKS='lots': expected a positive integer"));
    bns_spec_free(&s);
    with_env("BNNSWEEP_MAX_TASKS", NULL);
    with_env("BNNSWEEP_MAX_GRID_POINTS", NULL);
    /* file size: refused before it is read */
    with_env("BNNSWEEP_MAX_SWEEP_BYTES", "10");
    expect_error("good_small.yaml", NULL, 0, "good_small.yaml:", "bytes, more than the 10 a sweep file may have",
                 "BNNSWEEP_MAX_SWEEP_BYTES", NULL);
    expect_text_error("models: {m: {}}\n", "more than the 10 a sweep file may have");
    with_env("BNNSWEEP_MAX_SWEEP_BYTES", NULL);
    /* a small expansion bound catches a small fan-out */
    with_env("BNNSWEEP_MAX_SWEEP_EXPANDED", "1000");
    expect_text_error("x: &x [a, b, c, d]\ny: [*x, *x, *x, *x, *x]\nmodels: {m: {}}\n", "more than 1000 bytes");
    with_env("BNNSWEEP_MAX_SWEEP_EXPANDED", NULL);
    /* a huge network is refused before it is allocated (found by fuzz_spec: 10 GB) */
    expect_text_error("models: {m: {arch: FC-12000-215010}}\n", "more than 20000000 (raise the limit with BNNSWEEP_MAX_WEIGHTS");
}

static void test_attack_canonical_sorted(void **state) {
    (void)state;
    bns_attack_settings a;
    bns_attack_defaults(&a, BNS_ATTACK_PGD);
    char text[4096];
    bns_spec_attack_canonical(&a, text, sizeof text);
    /* lines sorted by key, and every line parses back */
    char prev[64] = "";
    bns_attack_settings b;
    bns_attack_defaults(&b, BNS_ATTACK_MINNORM);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *eq = strchr(line, '=');
        assert_non_null(eq);
        *eq = '\0';
        assert_true(strcmp(prev, line) < 0);
        snprintf(prev, sizeof prev, "%s", line);
        assert_int_equal(bns_spec_attack_set(&b, line, eq + 1), 0);
    }
    assert_memory_equal(&a, &b, sizeof a);
    assert_int_equal(bns_spec_attack_set(&b, "eps", "x"), -1);
    assert_int_equal(bns_spec_attack_set(&b, "nope", "1"), -1);
}

int main(void) {
    snprintf(fixture_dir, sizeof fixture_dir, "%s", __FILE__);
    char *slash = strrchr(fixture_dir, '/');
    if (slash) *slash = '\0';
    else snprintf(fixture_dir, sizeof fixture_dir, ".");
    strncat(fixture_dir, "/data/specs", sizeof fixture_dir - strlen(fixture_dir) - 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_keys),       cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_grids),              cmocka_unit_test(test_impossible_combinations),
        cmocka_unit_test(test_missing_references), cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_good_spec),          cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_text_and_defaults),  cmocka_unit_test(test_attack_canonical_sorted),
        cmocka_unit_test(test_alias_bomb),         cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_limits),             cmocka_unit_test(test_data_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
