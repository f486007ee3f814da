/* scheduler.h - rank 0 hands ready tasks of a dependency graph to idle ranks.
 *
 * Every rank calls bns_schedule collectively. Rank 0 keeps the graph: a task
 * is ready when all its dependencies succeeded; ready tasks go out longest
 * first (estimated cost), to shorten the critical path. Rank 0 computes
 * too: a compute thread of its own runs tasks while the main thread
 * schedules, polling MPI with short sleeps so that waiting burns no core
 * (with 2 ranks on 2 cores, 2 ranks do the work of 2). A task whose run
 * fails is recorded with its error text; every task depending on it, directly
 * or not, is skipped; the rest goes on.
 *
 * Only the main threads make MPI calls (MPI_THREAD_FUNNELED is enough).
 * Tasks must not depend on which rank runs them: results are reproducible
 * because every random stream is keyed by the task, not by the rank.
 */
#ifndef BNNSWEEP_SCHEDULER_H
#define BNNSWEEP_SCHEDULER_H

#include <stddef.h>

#include <mpi.h>

enum bns_task_state {
    BNS_TASK_PENDING = 0,
    BNS_TASK_DONE = 1,      /* finished now or in an earlier run (resume) */
    BNS_TASK_FAILED = 2,
    BNS_TASK_SKIPPED = 3,   /* a dependency failed or was skipped */
    BNS_TASK_RUNNING = 4,
};

typedef struct {
    int n_tasks;
    const int *n_deps;       /* n_tasks */
    const int *const *deps;  /* deps[t][0 .. n_deps[t]) */
    const double *cost;      /* estimated seconds, for longest-first (may be NULL) */
} bns_task_graph;

/* Runs task t on the calling rank. Returns 0, or nonzero with a message in err. */
typedef int (*bns_task_run)(int task, void *ctx, char *err, size_t err_size);

/* Per-task record, filled on rank 0. */
typedef struct {
    int state;               /* enum bns_task_state */
    int rank;                /* who ran it (-1: not run in this call) */
    double seconds;
    char host[64];
    char error[256];
} bns_task_record;

/* How many tasks are in each state, kept by the scheduler as they change (a
 * progress line needs no scan of every record: that made a sweep's progress
 * lines quadratic in its tasks). failed counts FAILED and SKIPPED. */
typedef struct {
    int done, running, failed, pending;
} bns_sched_counts;

/* Rank 0 only: called after every change (a task finished, failed or was
 * skipped), for progress lines and incremental saving of results; counts are
 * the states after that change. */
typedef void (*bns_sched_event)(int task, const bns_task_record *records, int n_tasks, const bns_sched_counts *counts,
                                void *ctx);

/* Collective over comm. On rank 0, records[t].state must hold the initial
 * state of each task (PENDING, or DONE if already finished); on return it
 * holds the outcome. Other ranks may pass NULL. Returns 0 when every task
 * is DONE, 1 when some failed or were skipped, -1 on an MPI error.
 * Rank 0's work per task is O(log tasks + the task's dependents): ready
 * tasks wait in a heap (task_heap.h).
 * comm = MPI_COMM_NULL: a single process that never calls MPI. */
int bns_schedule(MPI_Comm comm, const bns_task_graph *graph, bns_task_record *records, bns_task_run run,
                 void *run_ctx, bns_sched_event on_event, void *event_ctx);

#endif
