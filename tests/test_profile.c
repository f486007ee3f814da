/* test_profile.c - timing logs (profile.h): written and read back, the
 * latest successful record of each task chosen, idle and peak RSS per
 * process, and the simulated schedule against hand-worked makespans. */
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <unistd.h>

#include "bnnsweep/profile.h"
#include "test_util.h"

/*   A(1) --> C(3) --> E(1)
 *   B(2) --/         /
 *   A ------> D(5) -/         and G(4), independent: 16 s in all, critical path A D E = 7 */
static void small_plan(bns_plan *p) {
    memset(p, 0, sizeof *p);
    int a = bns_plan_add(p, BNS_TASK_TRAIN, "train/a", "A", NULL, 0, 1);
    int b = bns_plan_add(p, BNS_TASK_TRAIN, "train/b", "B", NULL, 0, 2);
    int ab[2] = {a, b};
    int c = bns_plan_add(p, BNS_TASK_ATTACK, "attack/c", "C", ab, 2, 3);
    int d = bns_plan_add(p, BNS_TASK_ATTACK, "attack/d", "D", &a, 1, 5);
    int cd[2] = {c, d};
    bns_plan_add(p, BNS_TASK_EVAL, "eval/e", "E", cd, 2, 1);
    bns_plan_add(p, BNS_TASK_TRAIN, "train/g", "G", NULL, 0, 4);
    bns_plan_link(p);
}

static void test_simulate(void **state) {
    (void)state;
    bns_plan p;
    small_plan(&p);
    double cost[6], priority[6];
    for (int t = 0; t < 6; t++) cost[t] = priority[t] = p.tasks[t].cost;
    assert_true(bns_profile_simulate(&p, priority, cost, 1) == 16.0); /* one rank: the sum */
    assert_true(bns_profile_simulate(&p, priority, cost, 50) == 7.0); /* enough ranks: the critical path */
    /* 2 ranks, longest first: G(0-4) B(0-2); A(2-3); D(3-8) (5 > C's 3); C(4-7); E(8-9) */
    assert_true(bns_profile_simulate(&p, priority, cost, 2) == 9.0);
    /* the priority, not the duration, picks: A first: A(0-1) G(0-4); D(1-6); B(4-6); C(6-9); E(9-10) */
    priority[0] = 10;
    assert_true(bns_profile_simulate(&p, priority, cost, 2) == 10.0);
    double seconds[6] = {1, 2, 3, 5, 1, 4}, path_seconds[6] = {1, 1, 1, 1, 1, 100};
    int path[6], len = 0;
    assert_true(bns_plan_critical_path_with(&p, path_seconds, path, &len) == 100.0); /* G alone */
    assert_int_equal(len, 1);
    assert_int_equal(path[0], 5);
    assert_true(bns_plan_critical_path_with(&p, seconds, path, &len) == bns_plan_critical_path(&p, NULL, NULL));
    bns_plan_free(&p);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_read_logs(void **state) {
    (void)state;
    tmp_dir_setup("profile_read");
    bns_plan p;
    small_plan(&p);
    char dir[4200], path[4400], text[4096];
    snprintf(dir, sizeof dir, "%s/profile", tmp_dir);
    mkdir_p(dir);
    char key[6][40];
    for (int t = 0; t < 6; t++)
        snprintf(key[t], sizeof key[t], "%s-%016" PRIx64, bns_task_kind_name(p.tasks[t].kind), p.tasks[t].key);
    /* run R1, 2 ranks, 0..10 s: rank 1 was killed (no end line) after C failed */
    snprintf(text, sizeof text,
             "begin run=R1 rank=0 size=2 host=h0 pid=10 time=100.0\n"
             "task %s start=100.0 end=101.0 rc=0 rss_kb=1000\n"
             "task %s start=101.0 end=106.0 rc=0 rss_kb=3000\n"
             "task train-00000000000000ff start=106 end=107 rc=0 rss_kb=10\n"
             "end time=110.0\n", key[0], key[3]);
    snprintf(path, sizeof path, "%s/R1.r0.h0.10.log", dir);
    write_text(path, text);
    snprintf(text, sizeof text,
             "begin run=R1 rank=1 size=2 host=h1 pid=11 time=100.5\n"
             "task %s start=100.5 end=102.5 rc=0 rss_kb=2000\n"
             "task %s start=102.5 end=104.0 rc=1 rss_kb=2500\n"
             "garbage\n", key[1], key[2]);
    snprintf(path, sizeof path, "%s/R1.r1.h1.11.log", dir);
    write_text(path, text);
    /* a later run R2 redoes C (3.5 s) and runs E */
    snprintf(text, sizeof text,
             "begin run=R2 rank=0 size=1 host=h0 pid=20 time=200.0\n"
             "task %s start=200.0 end=203.5 rc=0 rss_kb=500\n"
             "task %s start=203.5 end=204.0 rc=0 rss_kb=600\n"
             "end time=204.5 rss_kb=700\n", key[2], key[4]);
    snprintf(path, sizeof path, "%s/R2.r0.h0.20.log", dir);
    write_text(path, text);
    snprintf(path, sizeof path, "%s/notes.txt", dir); /* not a log */
    write_text(path, "begin nothing\n");

    bns_profile prof;
    assert_int_equal(bns_profile_read(tmp_dir, &p, &prof), 0);
    assert_int_equal(prof.n_procs, 3);
    assert_string_equal(prof.procs[0].run, "R1");
    assert_int_equal(prof.procs[0].rank, 0);
    assert_int_equal(prof.procs[1].rank, 1);
    assert_string_equal(prof.procs[1].host, "h1");
    assert_string_equal(prof.procs[2].run, "R2");
    assert_int_equal(prof.n_records, 7);
    assert_int_equal(prof.n_foreign, 1);
    assert_int_equal(prof.n_bad, 1);
    assert_true(prof.procs[0].ended && !prof.procs[1].ended);
    assert_true(prof.procs[0].end == 110.0);
    assert_true(prof.procs[1].end == 104.0); /* the last task's end */
    assert_int_equal(prof.procs[0].n_tasks, 2);
    assert_true(prof.procs[0].busy == 6.0);
    assert_true(prof.procs[1].busy == 3.5);  /* the failed attempt took rank time too */
    assert_int_equal(prof.procs[0].peak_rss_kb, 3000);
    assert_int_equal(prof.procs[1].peak_rss_kb, 2500);
    assert_int_equal(prof.procs[2].peak_rss_kb, 700); /* the end line's, after the last task */
    /* C: the successful record of R2 wins over R1's failure */
    assert_int_equal(prof.tasks[2].proc, 2);
    assert_int_equal(prof.tasks[2].rc, 0);
    assert_int_equal(prof.tasks[5].proc, -1); /* G never ran */
    double seconds[6], fallback[6] = {9, 9, 9, 9, 9, 9};
    assert_int_equal(bns_profile_seconds(&prof, &p, fallback, seconds), 5);
    assert_true(seconds[0] == 1.0 && seconds[1] == 2.0 && seconds[2] == 3.5 && seconds[3] == 5.0);
    assert_true(seconds[4] == 0.5 && seconds[5] == 9.0);
    bns_profile_free(&prof);

    /* no profile directory: an empty profile */
    snprintf(path, sizeof path, "%s/elsewhere", tmp_dir);
    mkdir_p(path);
    assert_int_equal(bns_profile_read(path, &p, &prof), 0);
    assert_int_equal(prof.n_procs, 0);
    assert_int_equal(prof.tasks[0].proc, -1);
    bns_profile_free(&prof);
    bns_plan_free(&p);
}

/* What a process writes, the reader reads: rank, size, the task's key and
 * times in order, a positive peak RSS. */
static void test_write_read(void **state) {
    (void)state;
    tmp_dir_setup("profile_write");
    char run_dir[4200];
    snprintf(run_dir, sizeof run_dir, "%s/run-%ld", tmp_dir, (long)getpid()); /* no earlier test's log */
    mkdir_p(run_dir);
    bns_plan p;
    small_plan(&p);
    bns_spec spec;
    memset(&spec, 0, sizeof spec);
    bns_runner r;
    assert_int_equal(bns_runner_open(&r, &spec, &p, run_dir, NULL, 0), 0);
    char run[64];
    bns_profile_run_name(run, sizeof run);
    assert_true(strlen(run) > 17 && run[8] == 'T' && run[15] == 'Z');
    double t0 = bns_wall_clock();
    bns_profile_open(&r, run, 3, 4);
    assert_non_null(r.profile);
    bns_profile_task(&r, 4, t0, 0);
    bns_profile_task(&r, 1, t0, 1);
    bns_profile_close(&r);
    assert_null(r.profile);
    bns_runner_close(&r);
    bns_profile prof;
    assert_int_equal(bns_profile_read(run_dir, &p, &prof), 0);
    assert_int_equal(prof.n_procs, 1);
    assert_string_equal(prof.procs[0].run, run);
    assert_int_equal(prof.procs[0].rank, 3);
    assert_int_equal(prof.procs[0].size, 4);
    assert_true(prof.procs[0].ended);
    assert_int_equal(prof.n_records, 2);
    assert_int_equal(prof.n_bad, 0);
    assert_int_equal(prof.tasks[4].proc, 0);
    assert_int_equal(prof.tasks[1].rc, 1);
    assert_true(prof.tasks[4].start == prof.tasks[4].start && prof.tasks[4].end >= prof.tasks[4].start);
    assert_true(fabs(prof.tasks[4].start - t0) < 1e-5);
    assert_true(prof.tasks[4].rss_kb > 0 && prof.procs[0].peak_rss_kb >= prof.tasks[4].rss_kb);
    bns_profile_free(&prof);
    bns_plan_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simulate),
        cmocka_unit_test(test_read_logs),
        cmocka_unit_test(test_write_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
