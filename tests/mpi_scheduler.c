/* mpi_scheduler.c - the MPI scheduler on a graph with a failing task, run by
 * ctest under mpirun with 1, 2 and 3 ranks.
 *
 * Tasks write a marker file when they finish; a task checks that every one
 * of its dependencies' markers exists before it runs, so an ordering bug
 * shows up as a failure. Task FAIL_TASK fails on purpose: its dependents
 * (direct and indirect) must be skipped and everything else done. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bnnsweep/scheduler.h"

enum { N_TASKS = 24, FAIL_TASK = 5 };

static int n_deps[N_TASKS];
static int dep_store[N_TASKS][3];
static const int *deps[N_TASKS];
static double cost[N_TASKS];
static char dir[512];
static int failures = 0, checks = 0;

#define CHECK(cond, ...)                                   \
    do {                                                   \
        checks++;                                          \
        if (!(cond)) {                                     \
            failures++;                                    \
            fprintf(stderr, "FAILED %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                  \
            fprintf(stderr, "\n");                         \
        }                                                  \
    } while (0)

/* a layered graph: tasks 0-7 train, 8-15 depend on one or two of them,
 * 16-23 on two of the middle layer */
static void build_graph(void) {
    for (int t = 0; t < N_TASKS; t++) {
        n_deps[t] = 0;
        if (t >= 8 && t < 16) {
            dep_store[t][n_deps[t]++] = t - 8;
            if (t % 2) dep_store[t][n_deps[t]++] = (t - 7) % 8;
        } else if (t >= 16) {
            dep_store[t][n_deps[t]++] = t - 8;
            dep_store[t][n_deps[t]++] = 8 + (t + 3) % 8;
        }
        deps[t] = dep_store[t];
        cost[t] = 1.0 + (t * 7) % 5;
    }
}

static void marker(int t, char *buf, size_t size) { snprintf(buf, size, "%s/task-%d.done", dir, t); }

static int run_task(int t, void *ctx, char *err, size_t err_size) {
    (void)ctx;
    char path[600];
    for (int k = 0; k < n_deps[t]; k++) {
        marker(deps[t][k], path, sizeof path);
        if (access(path, F_OK) != 0) {
            snprintf(err, err_size, "dependency %d of task %d had not finished", deps[t][k], t);
            return 1;
        }
    }
    struct timespec work = {0, (20 + 3 * (t % 4)) * 1000000L}; /* some work */
    nanosleep(&work, NULL);
    if (t == FAIL_TASK) {
        snprintf(err, err_size, "task %d fails on purpose", t);
        return 1;
    }
    marker(t, path, sizeof path);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, err_size, "cannot write %s", path);
        return 1;
    }
    fclose(f);
    return 0;
}

static int depends_on(int t, int target) {
    for (int k = 0; k < n_deps[t]; k++)
        if (deps[t][k] == target || depends_on(deps[t][k], target)) return 1;
    return 0;
}

static int events = 0;
static void on_event(int task, const bns_task_record *rec, int n, const bns_sched_counts *counts, void *ctx) {
    (void)ctx;
    events++;
    /* the scheduler's running counts are the records' states */
    int count[5] = {0};
    for (int t = 0; t < n; t++) count[rec[t].state]++;
    CHECK(counts->done == count[BNS_TASK_DONE] && counts->running == count[BNS_TASK_RUNNING] &&
              counts->failed == count[BNS_TASK_FAILED] + count[BNS_TASK_SKIPPED] &&
              counts->pending == count[BNS_TASK_PENDING],
          "after task %d: counts done %d running %d failed %d pending %d, records %d %d %d+%d %d", task, counts->done,
          counts->running, counts->failed, counts->pending, count[BNS_TASK_DONE], count[BNS_TASK_RUNNING],
          count[BNS_TASK_FAILED], count[BNS_TASK_SKIPPED], count[BNS_TASK_PENDING]);
    if (rec[task].state == BNS_TASK_DONE)
        for (int k = 0; k < n_deps[task]; k++)
            CHECK(rec[deps[task][k]].state == BNS_TASK_DONE, "task %d done before its dependency %d", task,
                  deps[task][k]);
}

int main(int argc, char **argv) {
    int provided, rank, size;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    build_graph();
    const char *tmp = getenv("BNS_TEST_TMP");
    if (rank == 0) {
        snprintf(dir, sizeof dir, "%s/scheduler-%d-%ld", tmp ? tmp : "/tmp", size, (long)getpid());
        mkdir(tmp ? tmp : "/tmp", 0755);
        mkdir(dir, 0755);
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);

    bns_task_graph g = {N_TASKS, n_deps, deps, cost};
    bns_task_record rec[N_TASKS];
    memset(rec, 0, sizeof rec);
    rec[2].state = BNS_TASK_DONE; /* finished by an earlier run: must not run again */
    if (rank == 0) {
        char path[600];
        marker(2, path, sizeof path);
        fclose(fopen(path, "w"));
    }
    MPI_Barrier(MPI_COMM_WORLD);
    int rc = bns_schedule(MPI_COMM_WORLD, &g, rank == 0 ? rec : NULL, run_task, NULL, on_event, NULL);

    CHECK(rc == 1, "rank %d: schedule returned %d, want 1 (a task failed)", rank, rc);
    if (rank == 0) {
        for (int t = 0; t < N_TASKS; t++) {
            if (t == FAIL_TASK) {
                CHECK(rec[t].state == BNS_TASK_FAILED, "task %d state %d, want FAILED", t, rec[t].state);
                CHECK(strstr(rec[t].error, "on purpose") != NULL, "task %d error '%s'", t, rec[t].error);
            } else if (depends_on(t, FAIL_TASK)) {
                CHECK(rec[t].state == BNS_TASK_SKIPPED, "task %d state %d, want SKIPPED", t, rec[t].state);
                CHECK(strstr(rec[t].error, "did not finish") != NULL, "task %d skipped for '%s'", t, rec[t].error);
            } else {
                CHECK(rec[t].state == BNS_TASK_DONE, "task %d state %d (%s), want DONE", t, rec[t].state,
                      rec[t].error);
            }
        }
        CHECK(rec[2].rank == -1, "task 2 was already done but ran on rank %d", rec[2].rank);
        int used[64] = {0};
        for (int t = 0; t < N_TASKS; t++)
            if (rec[t].rank >= 0 && rec[t].rank < 64) used[rec[t].rank] = 1;
        for (int r = 0; r < size; r++) CHECK(used[r], "rank %d ran no task", r);
        CHECK(events > 0, "no events");
        printf("mpi_scheduler (%d ranks): %d passed, %d failed\n", size, checks - failures, failures);
    }
    int any = failures;
    MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Finalize();
    return any ? 1 : 0;
}
