/* test_attack_registry.c - the attack registry and the attack settings table
 * (attack.h, attack_settings.h).
 *
 * The built-ins sit at their enum positions and name every setting they use;
 * every row of the table round-trips through its text. A toy attack, "shift"
 * (x_adv = clip(x + eps * xmax)), is registered here only, as a plugin would
 * be: it runs through bns_attack_run (x_adv checked exactly, success against
 * the source's own predictions), its attack set saves and reads back under
 * its name, and a sweep file naming it plans one attack task whose canonical
 * text names it. Scratch files go to $BNS_TEST_TMP.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"

#include "bnnsweep/attack.h"
#include "bnnsweep/attack_set.h"
#include "bnnsweep/attack_settings.h"
#include "bnnsweep/error.h"
#include "bnnsweep/model.h"
#include "bnnsweep/nn.h"
#include "bnnsweep/plan.h"
#include "bnnsweep/rng.h"
#include "bnnsweep/spec.h"

/* ---- the toy attack: one file's worth ---- */

static void shift_batch(bns_attack_source *src, const bns_attack_settings *s, const bns_attack_batch *b,
                        bns_attack_work *w) {
    size_t n = (size_t)b->b * src->model->arch.width[0];
    float step = (float)(s->eps * b->xmax);
    for (size_t j = 0; j < n; j++) {
        float v = b->x[j] + step;
        b->x_adv[j] = s->clip ? bns_attack_clampf(v, 0.0f, b->xmax) : v;
    }
    bns_attack_judge(src, b->x_adv, b->y, b->b, 0, b->success, w);
}

static int shift_validate(const bns_attack_settings *s, const bns_model *m) {
    (void)m;
    return s->eps >= 0 ? 0 : bns_fail("eps: %g must be >= 0", s->eps);
}

static double shift_cost(const bns_attack_settings *s) {
    (void)s;
    return 1; /* one prediction */
}

static const char *const shift_uses[] = {"eps", NULL};

static const bns_attack shift_attack = {
    .name = "shift",
    .summary = "x + eps * xmax, clipped (a test attack)",
    .uses = shift_uses,
    .validate = shift_validate,
    .run_batch = shift_batch,
    .cost_steps = shift_cost,
};

static int shift_kind = -1;

static int setup(void **state) {
    (void)state;
    const char *base = getenv("BNS_TEST_TMP");
    if (base && base[0]) snprintf(tmp_dir, sizeof tmp_dir, "%s/test_attack_registry", base);
    else snprintf(tmp_dir, sizeof tmp_dir, "/tmp/bnnsweep-test_attack_registry.%ld", (long)getpid());
    mkdir_p(tmp_dir);
    if (shift_kind < 0) shift_kind = bns_attack_register(&shift_attack);
    return shift_kind < 0 ? -1 : 0;
}

/* ---- built-ins and the table ---- */

static void test_builtins(void **state) {
    (void)state;
    static const char *const names[] = {"minnorm", "fgsm", "pgd", "targeted"};
    static const int kinds[] = {BNS_ATTACK_MINNORM, BNS_ATTACK_FGSM, BNS_ATTACK_PGD, BNS_ATTACK_TARGETED};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(bns_attack_find(names[i]), kinds[i]);
        assert_string_equal(bns_attack_kind_name(kinds[i]), names[i]);
    }
    assert_null(bns_attack_get(-1));
    assert_null(bns_attack_get(bns_attack_count()));
    assert_string_equal(bns_attack_kind_name(bns_attack_count()), "?");
    /* every attack's settings are rows of the table, with a sweep key and a flag */
    for (int k = 0; k < bns_attack_count(); k++) {
        const bns_attack *a = bns_attack_get(k);
        for (int u = 0; a->uses && a->uses[u]; u++) {
            const bns_attack_setting *f = bns_attack_setting_by_key(a->uses[u]);
            if (!f) fail_msg("%s uses '%s', not a key of the settings table", a->name, a->uses[u]);
            assert_non_null(f->flag);
            assert_true(f->flags & BNS_ASET_SWEEP);
        }
    }
    char text[256];
    bns_attack_names(text, sizeof text, ", ", " or ");
    assert_string_equal(text, "minnorm, fgsm, pgd, targeted or shift");
    /* refused: a taken name, an attack that cannot run */
    assert_int_equal(bns_attack_register(&shift_attack), -1);
    bns_attack broken = shift_attack;
    broken.name = "broken";
    broken.run_batch = NULL;
    assert_int_equal(bns_attack_register(&broken), -1);
    assert_int_equal(bns_attack_find("broken"), -1);
}

static void test_rows_round_trip(void **state) {
    (void)state;
    bns_attack_settings s, t;
    bns_attack_defaults(&s, BNS_ATTACK_TARGETED);
    s.c = 1.0 / 3.0;
    s.margin = 0.25;
    s.budget = 1.0 / 7.0;
    s.target_mode = BNS_TARGET_FIXED;
    s.target_class = 7;
    s.clip = 0;
    s.source_index = UINT64_C(18446744073709551615);
    bns_attack_defaults(&t, BNS_ATTACK_MINNORM);
    int n_keys = 0;
    for (const bns_attack_setting *f = bns_attack_setting_table(); f->name || f->key; f++) {
        if (f->name) assert_ptr_equal(bns_attack_setting_by_name(f->name), f);
        if (!f->key) continue;
        n_keys++;
        assert_ptr_equal(bns_attack_setting_by_key(f->key), f);
        for (int canonical = 0; canonical < 2; canonical++) {
            char v[64];
            bns_attack_setting_format(f, &s, canonical, v, sizeof v);
            if (bns_attack_setting_parse(f, &t, v, BNS_ASET_FROM_SWEEP)) fail_msg("%s=%s: %s", f->key, v, bns_last_error());
        }
    }
    assert_int_equal(n_keys, 24); /* 22 + minnorm margin and budget */
    t.task = s.task; /* the one field without a key: set per task */
    assert_memory_equal(&s, &t, sizeof s);
    /* per-attack defaults over the table's */
    bns_attack_defaults(&s, BNS_ATTACK_PGD);
    assert_int_equal(s.steps, 40);
    bns_attack_defaults(&s, BNS_ATTACK_TARGETED);
    assert_true(s.eps == 0.0 && s.steps == 20);
    bns_attack_defaults(&s, shift_kind);
    assert_int_equal(s.kind, shift_kind);
    assert_true(s.eps == 0.1);
    /* the command line's dialect keeps its wording */
    const bns_attack_setting *eps = bns_attack_setting_by_key("eps");
    assert_int_equal(bns_attack_setting_parse(eps, &s, "x", BNS_ASET_FROM_CLI), -1);
    assert_string_equal(bns_last_error(), "'x' is not a number");
    assert_int_equal(bns_attack_setting_parse(eps, &s, "x", BNS_ASET_FROM_SWEEP), -1);
    assert_string_equal(bns_last_error(), "'x' is not a finite number");
}

/* ---- the toy attack end to end ---- */

static void small_model(bns_model *m) {
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.method, sizeof cfg.method, "deterministic");
    snprintf(cfg.arch, sizeof cfg.arch, "FC-8-4");
    cfg.seed = 4;
    cfg.init_std = 0.5;
    if (bns_model_create(&cfg, 12, m)) fail_msg("bns_model_create: %s", bns_last_error());
}

static void test_shift_runs(void **state) {
    (void)state;
    enum { N = 7, D = 12, C = 4 };
    bns_model m;
    small_model(&m);
    bns_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n = N;
    ds.d = D;
    ds.n_classes = C;
    ds.x = bns_xmalloc(sizeof(float) * N * D);
    ds.y = bns_xmalloc(N);
    bns_stream st = bns_stream_make(8, 0, BNS_PURPOSE_DATA);
    bns_stream_uniform(&st, 0, 0, N * D, ds.x);
    for (size_t i = 0; i < N * D; i++) ds.x[i] *= 2.0f; /* over the whole [0, 2] pixel range */
    for (int i = 0; i < N; i++) ds.y[i] = (uint8_t)(i % C);
    snprintf(ds.name, sizeof ds.name, "synthetic");

    bns_attack_settings s;
    bns_attack_defaults(&s, shift_kind);
    s.eps = 0.1;
    s.batch = 3; /* batches of 3, 3, 1 */
    bns_attack_set set;
    if (bns_attack_run(&m, &s, &ds, NULL, &set, NULL, NULL)) fail_msg("%s", bns_last_error());
    float xmax = (float)(255.0 * m.cfg.pixel_scale), step = (float)(s.eps * xmax);
    size_t n_success = 0;
    bns_net_workspace ws;
    bns_net_workspace_init(&ws, &m.arch, N);
    const float *logits = bns_net_forward(&m.arch, bns_model_mean(&m), set.x_adv, N, &ws);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < D; j++) {
            float want = bns_attack_clampf(ds.x[i * D + j] + step, 0.0f, xmax);
            assert_true(set.x_adv[i * D + j] == want);
        }
        int fooled = bns_attack_argmax(logits + i * C, C) != ds.y[i];
        assert_int_equal(set.success[i], fooled);
        assert_int_equal(set.target[i], ds.y[i]); /* untargeted */
        assert_int_equal(set.clean_index[i], i);
        n_success += (size_t)fooled;
    }
    assert_int_equal(set.n_success, n_success);
    bns_net_workspace_free(&ws);

    /* saved and read back under its name */
    char path[4096];
    tmp_path(path, sizeof path, "shift.h5");
    snprintf(set.model_path, sizeof set.model_path, "none");
    assert_int_equal(bns_attack_set_save(path, &set), 0);
    bns_attack_set back;
    if (bns_attack_set_read(path, &back)) fail_msg("%s", bns_last_error());
    assert_int_equal(back.settings.kind, shift_kind);
    assert_memory_equal(&back.settings, &set.settings, sizeof set.settings);
    assert_memory_equal(back.x_adv, set.x_adv, sizeof(float) * N * D);
    remove(path);
    bns_attack_set_free(&back);
    bns_attack_set_free(&set);
    free(ds.x);
    free(ds.y);
    bns_model_free(&m);
}

static void test_shift_in_a_sweep(void **state) {
    (void)state;
    const char *text = "seed: 6\n"
                       "data: {test_limit: 50}\n"
                       "models:\n"
                       "  m: {method: deterministic, arch: FC-10}\n"
                       "attacks:\n"
                       "  toy: {sources: m, attack: shift, eps: 0.1}\n";
    bns_spec spec;
    if (bns_spec_load_text("toy.yaml", text, NULL, 0, &spec)) fail_msg("%s", bns_last_error());
    assert_int_equal(spec.n_attacks, 1);
    assert_int_equal(spec.attacks[0].base.kind, shift_kind);
    bns_plan plan;
    if (bns_plan_build(&spec, &plan)) fail_msg("%s", bns_last_error());
    assert_int_equal(plan.count[BNS_TASK_ATTACK], 1);
    int found = 0;
    for (int t = 0; t < plan.n_tasks; t++) {
        const bns_task *task = &plan.tasks[t];
        if (task->kind != BNS_TASK_ATTACK) continue;
        found++;
        assert_int_equal(task->attack.kind, shift_kind);
        assert_true(task->attack.eps == 0.1);
        assert_int_equal(task->attack.seed, 6);
        assert_int_equal(task->attack.task, task->key);
        assert_non_null(strstr(task->canonical, "\nattack=shift\n"));
        assert_non_null(strstr(task->name, "attack/toy"));
        assert_true(task->cost > 0);
        assert_int_equal(plan.tasks[task->model].kind, BNS_TASK_TRAIN);
    }
    assert_int_equal(found, 1);
    bns_plan_free(&plan);
    bns_spec_free(&spec);
    /* its own validation speaks for it */
    const char *bad = "models: {m: {method: deterministic, arch: FC-10}}\n"
                      "attacks: {toy: {sources: m, attack: shift, eps: -1}}\n";
    assert_int_equal(bns_spec_load_text("bad.yaml", bad, NULL, 0, &spec), -1);
    assert_non_null(strstr(bns_last_error(), "eps: -1 must be >= 0"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins),
        cmocka_unit_test(test_rows_round_trip),
        cmocka_unit_test(test_shift_runs),
        cmocka_unit_test(test_shift_in_a_sweep),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
