/* test_scheduler.c - the longest-first pick (task_heap.h, scheduler.h) is
 * exactly the pick it replaced, at a cost that cannot grow quadratically.
 *
 * The scheduler used to scan every ready task per pick (largest cost, ties
 * by smaller index): O(n^2) on a sweep whose evaluations are all ready at
 * once. The heap must give the same task every time, so a sweep's schedule
 * does not change: checked on random keys with many ties, pushes and pops
 * interleaved as the scheduler does them, against that scan. Its comparison
 * count must stay within 3 n log2 n (a counted bound, not a timing: a scan
 * would need n^2 / 2). And one process's whole schedule (bns_schedule with
 * MPI_COMM_NULL: the compute thread runs tasks one at a time, so the order
 * they run in is the order of the picks) on a random graph with a failing
 * task and tasks done before must be the order the old scan gives, with the
 * scheduler's state counts equal to the records' at every event.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bnnsweep/scheduler.h"
#include "bnnsweep/task_heap.h"

/* a small deterministic generator (the test must not depend on libc's rand) */
static uint64_t rng_state;
static uint64_t next_u64(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static int below(int n) { return (int)(next_u64() % (uint64_t)n); }

/* The pick scheduler.c made before the heap (3d724ef), verbatim in effect:
 * removes and returns the best of ready[0 .. *n). */
static int linear_pick(int *ready, int *n, const double *cost, int max_first) {
    int best = 0;
    for (int i = 1; i < *n; i++) {
        double ci = cost ? cost[ready[i]] : 0, cb = cost ? cost[ready[best]] : 0;
        int better = max_first ? ci > cb : ci < cb;
        if (better || (ci == cb && ready[i] < ready[best])) best = i;
    }
    int task = ready[best];
    ready[best] = ready[--*n];
    return task;
}

static void check_against_scan(int n, int distinct_keys, int max_first, int with_keys) {
    double *key = malloc(sizeof *key * (size_t)n);
    int *mirror = malloc(sizeof *mirror * (size_t)n), *order = malloc(sizeof *order * (size_t)n);
    for (int i = 0; i < n; i++) {
        key[i] = distinct_keys ? (double)below(distinct_keys) * 0.25 : 0.0; /* few values: many ties */
        order[i] = i;
    }
    for (int i = n - 1; i > 0; i--) { /* push in a random order */
        int j = below(i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    bns_task_heap h;
    bns_task_heap_init(&h, with_keys ? key : NULL, max_first, n);
    int pushed = 0, in_mirror = 0, popped = 0;
    while (popped < n) {
        /* like the scheduler: a few become ready, one or more are taken */
        int push = pushed < n ? below(4) : 0;
        for (int k = 0; k < push && pushed < n; k++) {
            bns_task_heap_push(&h, order[pushed]);
            mirror[in_mirror++] = order[pushed++];
        }
        int pop = in_mirror ? 1 + below(2) : 0;
        for (int k = 0; k < pop && in_mirror; k++) {
            int want = linear_pick(mirror, &in_mirror, with_keys ? key : NULL, max_first);
            int got = bns_task_heap_pop(&h);
            if (got != want)
                fail_msg("pop %d: heap gave task %d (key %g), the scan %d (key %g)", popped, got,
                         with_keys ? key[got] : 0.0, want, with_keys ? key[want] : 0.0);
            popped++;
        }
    }
    assert_int_equal(h.n, 0);
    assert_int_equal(bns_task_heap_pop(&h), -1);
    bns_task_heap_free(&h);
    free(key);
    free(mirror);
    free(order);
}

static void test_heap_equals_scan(void **state) {
    (void)state;
    rng_state = 0x9e3779b97f4a7c15ULL;
    for (int round = 0; round < 40; round++) {
        int n = 1 + below(400);
        check_against_scan(n, 1 + below(6), 1, 1); /* longest first, ties */
        check_against_scan(n, 1 + below(6), 0, 1); /* earliest first (bns_profile_simulate) */
        check_against_scan(n, 0, 1, 1);            /* all equal: index order */
        check_against_scan(n, 0, 1, 0);            /* no costs (graph.cost NULL) */
    }
    check_against_scan(5000, 3, 1, 1);
}

static void test_heap_compares_bounded(void **state) {
    (void)state;
    rng_state = 12345;
    enum { N = 100000 };
    double *key = malloc(sizeof *key * N);
    for (int i = 0; i < N; i++) key[i] = (double)below(50);
    bns_task_heap h;
    bns_task_heap_init(&h, key, 1, N);
    for (int i = 0; i < N; i++) bns_task_heap_push(&h, i);
    int prev = bns_task_heap_pop(&h);
    for (int i = 1; i < N; i++) { /* and the pops come out in order */
        int t = bns_task_heap_pop(&h);
        assert_true(key[t] < key[prev] || (key[t] == key[prev] && t > prev));
        prev = t;
    }
    double bound = 3.0 * N * log2((double)N); /* push <= log2 n, pop <= 2 log2 n */
    if ((double)h.compares > bound) fail_msg("%ld comparisons for %d tasks (bound %.0f)", h.compares, N, bound);
    bns_task_heap_free(&h);
    free(key);
}

/* ---- one process's schedule ---- */

enum { G_TASKS = 3000, G_FAIL = 17 };
static int g_n_deps[G_TASKS], *g_deps[G_TASKS], g_ran[G_TASKS], g_n_ran;
static double g_cost[G_TASKS];
static int g_events, g_bad_counts;

static int run_record(int task, void *ctx, char *err, size_t err_size) {
    (void)ctx;
    g_ran[g_n_ran++] = task;
    if (task == G_FAIL) {
        snprintf(err, err_size, "fails on purpose");
        return 1;
    }
    return 0;
}

static void on_event(int task, const bns_task_record *rec, int n, const bns_sched_counts *counts, void *ctx) {
    (void)task;
    (void)ctx;
    int count[5] = {0};
    for (int t = 0; t < n; t++) count[rec[t].state]++;
    g_events++;
    if (counts->done != count[BNS_TASK_DONE] || counts->running != count[BNS_TASK_RUNNING] ||
        counts->failed != count[BNS_TASK_FAILED] + count[BNS_TASK_SKIPPED] || counts->pending != count[BNS_TASK_PENDING])
        g_bad_counts++;
}

static void test_schedule_order(void **state) {
    (void)state;
    rng_state = 777;
    int initially_done[G_TASKS] = {0};
    for (int t = 0; t < G_TASKS; t++) {
        g_cost[t] = (double)below(8); /* ties */
        g_n_deps[t] = t < 100 ? 0 : below(4);
        g_deps[t] = malloc(sizeof(int) * 4);
        for (int k = 0; k < g_n_deps[t]; k++) g_deps[t][k] = below(t); /* earlier tasks: no cycle */
        initially_done[t] = t < 100 && below(10) == 0;
    }
    initially_done[G_FAIL] = 0;
    bns_task_record *rec = calloc(G_TASKS, sizeof *rec);
    for (int t = 0; t < G_TASKS; t++) rec[t].state = initially_done[t] ? BNS_TASK_DONE : BNS_TASK_PENDING;
    bns_task_graph g = {G_TASKS, g_n_deps, (const int *const *)g_deps, g_cost};
    g_n_ran = g_events = g_bad_counts = 0;
    assert_int_equal(bns_schedule(MPI_COMM_NULL, &g, rec, run_record, NULL, on_event, NULL), 1);
    assert_int_equal(g_bad_counts, 0);
    assert_true(g_events > 0);

    /* the old scheduler on one process, by hand: pick by scan, run, release dependents */
    int *state_ = calloc(G_TASKS, sizeof *state_), *ready = malloc(sizeof(int) * G_TASKS), n_ready = 0;
    int *want = malloc(sizeof(int) * G_TASKS), n_want = 0;
    for (int t = 0; t < G_TASKS; t++) state_[t] = initially_done[t] ? BNS_TASK_DONE : BNS_TASK_PENDING;
    for (;;) {
        n_ready = 0;
        for (int t = 0; t < G_TASKS; t++) {
            if (state_[t] != BNS_TASK_PENDING) continue;
            int ok = 1, dead = 0;
            for (int k = 0; k < g_n_deps[t]; k++) {
                ok &= state_[g_deps[t][k]] == BNS_TASK_DONE;
                dead |= state_[g_deps[t][k]] == BNS_TASK_FAILED || state_[g_deps[t][k]] == BNS_TASK_SKIPPED;
            }
            if (dead) state_[t] = BNS_TASK_SKIPPED; /* a dependency failed (deps have lower indices) */
            else if (ok) ready[n_ready++] = t;
        }
        if (!n_ready) break;
        int t = linear_pick(ready, &n_ready, g_cost, 1);
        want[n_want++] = t;
        state_[t] = t == G_FAIL ? BNS_TASK_FAILED : BNS_TASK_DONE;
    }
    assert_int_equal(g_n_ran, n_want);
    for (int i = 0; i < n_want; i++)
        if (g_ran[i] != want[i]) fail_msg("pick %d: ran task %d, the scan picks %d", i, g_ran[i], want[i]);
    for (int t = 0; t < G_TASKS; t++) {
        int expect = state_[t] == BNS_TASK_PENDING ? BNS_TASK_SKIPPED : state_[t];
        if (rec[t].state != expect) fail_msg("task %d: state %d, want %d", t, rec[t].state, expect);
    }
    assert_int_equal(rec[G_FAIL].state, BNS_TASK_FAILED);
    for (int t = 0; t < G_TASKS; t++) free(g_deps[t]);
    free(rec);
    free(state_);
    free(ready);
    free(want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heap_equals_scan),
        cmocka_unit_test(test_heap_compares_bounded),
        cmocka_unit_test(test_schedule_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
