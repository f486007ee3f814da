/* profile.h - where a sweep's time went: every process of a `bnnsweep run`
 * logs when each of its tasks ran and its peak memory; `bnnsweep status
 * --profile` reads the logs back (time by stage and kind, idle rank time,
 * peak RSS per rank, the measured critical path), and `bnnsweep plan --ranks
 * N --costs RUN_DIR` replays the measured task times on N simulated ranks.
 *
 * The logs are bookkeeping beside the results, never read by a run: one text
 * file per process, RUN_DIR/profile/RUN.rRANK.HOST.PID.log, lines
 *   begin run=RUN rank=R size=N host=HOST pid=PID time=T
 *   task KIND-KEY start=T0 end=T1 rc=RC rss_kb=K
 *   end time=T rss_kb=K
 * T are seconds since the epoch (CLOCK_REALTIME, so ranks on several hosts
 * share one time line); rss_kb is the process's peak resident set so far
 * (getrusage ru_maxrss, with its task children under --task-time-limit).
 * RUN is shared by every rank of one `run` (rank 0's start, broadcast); each
 * SLURM shard (run --shard) is a run of its own whose rank is its shard.
 * A run killed midway has no end line: its last task line ends it.
 */
#ifndef BNNSWEEP_PROFILE_H
#define BNNSWEEP_PROFILE_H

#include <stddef.h>

#include "bnnsweep/plan.h"
#include "bnnsweep/runner.h"
#include "bnnsweep/util.h"

double bns_wall_clock(void);   /* seconds since the epoch */
/* A run's name: UTC start time and the process id ("20261202T054100Z-1234"). */
void bns_profile_run_name(char *buf, size_t size);

/* Writing (each process of a run): open before its first task, close after
 * its last. A log that cannot be written is a warning on stderr, not an
 * error: the run goes on without it. */
void bns_profile_open(bns_runner *r, const char *run, int rank, int size);
/* Called by bns_runner_run_task after task `task` (started at `start`,
 * bns_wall_clock) returned rc. */
void bns_profile_task(bns_runner *r, int task, double start, int rc);
void bns_profile_close(bns_runner *r);

/* Reading. */
typedef struct {
    char run[64], host[BNS_HOST_TAG_SIZE];
    int rank, size, ended;
    long pid;
    double begin, end;        /* end: the end line, else the last task's end */
    int n_tasks;
    double busy;              /* seconds in tasks */
    long peak_rss_kb;
} bns_profile_proc;

typedef struct {
    int proc;                 /* the process that ran it (-1: no record) */
    int rc;
    double start, end;
    long rss_kb;
} bns_profile_time;

typedef struct {
    int n_procs;
    bns_profile_proc *procs;  /* sorted by run, then rank */
    bns_profile_time *tasks;  /* per plan task: its latest successful record, else its latest */
    int n_records, n_foreign, n_bad;  /* task lines; of tasks not in the plan; unreadable lines */
} bns_profile;

/* Reads RUN_DIR/profile/ *.log against the plan. A missing directory is an
 * empty profile (n_procs = 0), not an error. */
int bns_profile_read(const char *run_dir, const bns_plan *plan, bns_profile *out);
void bns_profile_free(bns_profile *p);

/* Measured seconds per task (end - start of its successful record); tasks
 * with none get fallback[t] (may be NULL: 0). Returns how many had one. */
int bns_profile_seconds(const bns_profile *p, const bns_plan *plan, const double *fallback, double *seconds);

/* The scheduler's policy (scheduler.h) replayed on `ranks` simulated ranks:
 * whenever a rank is free it takes the ready task of largest priority[t]
 * (ties: lowest index), which then takes seconds[t]; a task is ready when
 * its dependencies have finished. Returns the makespan. O(tasks log tasks +
 * dependencies). */
double bns_profile_simulate(const bns_plan *plan, const double *priority, const double *seconds, int ranks);

#endif
