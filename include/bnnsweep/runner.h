/* runner.h - executing a plan's tasks into a run directory, and its cube.
 *
 * Run directory layout:
 *   RUN_DIR/sweep.yaml              the sweep file's text, as run
 *   RUN_DIR/overrides.txt           the --set overrides, one per line
 *   RUN_DIR/tasks/train-KEY.h5      a trained model (model_io.h format)
 *   RUN_DIR/tasks/attack-KEY.h5     an attack set (attack_set.h format)
 *   RUN_DIR/tasks/eval-KEY.h5       one evaluation's numbers (format below)
 *   RUN_DIR/tasks/KIND-KEY.failed   why a task failed (text); removed on retry
 *   RUN_DIR/run.lock                held by a full `run` while it works; shards
 *   RUN_DIR/shard.lock.HOST.PID     hold one each (util.h locks; cmd_run.c)
 *   RUN_DIR/accepted_stale.txt      tasks of another results version kept by
 *                                   `run --accept-stale` (version.h)
 *   RUN_DIR/cube.h5                 the results cube (cube.h; netCDF-4 conventions)
 *   RUN_DIR/posteriors.h5           every trained model's parameters, one group each
 *   RUN_DIR/profile/RUN.rR.HOST.PID.log  when each task ran, per process (profile.h)
 * KEY is the task's 64-bit key in 16 hex digits. Every file is written to a
 * temporary name and renamed, so a task is done exactly when its .h5 exists:
 * a run killed at any moment loses only the tasks in flight, and running the
 * same sweep into the same directory again redoes only what is missing.
 *
 * Evaluation file (format "bnnsweep-eval", version 1): root attributes
 * bnnsweep_version, git_commit, results_version (version.h), kind,
 * model_key, set, n_rows, and the numbers as double attributes:
 *   robustness/ensembles/pruning: runs, n_ensemble, acc_mean, acc_std,
 *     nll_mean, nll_std, ece_mean, ece_std (pruning also rate, n_pruned),
 *     and datasets acc, nll, ece (one value per run);
 *   ood: ood_set, ood_rows, and auroc_SCORE, aupr_in_SCORE, aupr_out_SCORE
 *     for each score computed (entropy, vr, bald).
 */
#ifndef BNNSWEEP_RUNNER_H
#define BNNSWEEP_RUNNER_H

#include <stddef.h>
#include <stdio.h>

#include "bnnsweep/dataset.h"
#include "bnnsweep/plan.h"
#include "bnnsweep/predict.h"
#include "bnnsweep/scheduler.h"

typedef struct {
    const bns_spec *spec;
    const bns_plan *plan;
    char run_dir[1024];
    char data_dir[1024];      /* "" = the default data directory */
    int verbose;
    int data_loaded;          /* MNIST is read on first use, once per process */
    int cube_kept;            /* the last write_cube kept a more complete existing cube */
    double task_time_limit;   /* seconds a task may run (0 = no limit; run --task-time-limit) */
    bns_splits data;
    FILE *profile;            /* this process's timing log (profile.h), or NULL */
    bns_sample_cache samples; /* the last evaluated model's weight samples, reused by its next
                                 evaluations in this process (predict.h) */
} bns_runner;

/* Bytes of weight samples a runner keeps (FC-100-100-10: 731 samples; evaluations use <= 100). */
#define BNS_RUNNER_SAMPLE_CACHE_BYTES ((size_t)256 << 20)

/* Creates RUN_DIR/tasks if needed; with write_provenance, saves sweep.yaml
 * and overrides.txt (rank 0 only). */
int bns_runner_open(bns_runner *r, const bns_spec *spec, const bns_plan *plan, const char *run_dir,
                    const char *data_dir, int write_provenance);
void bns_runner_close(bns_runner *r);

/* RUN_DIR/tasks/KIND-KEY + suffix (".h5" or ".failed") */
void bns_runner_task_path(const bns_runner *r, int task, const char *suffix, char *buf, size_t size);
int bns_runner_is_done(const bns_runner *r, int task);
/* The task's failure text, if its .failed file exists (else ""). */
void bns_runner_failure(const bns_runner *r, int task, char *buf, size_t size);

/* Results versions (version.h). The results version of a finished task's
 * file (BNS_RESULTS_VERSION_UNRECORDED when it records none, -1 when it
 * cannot be read). */
int bns_runner_results_version(const bns_runner *r, int task);
/* A finished task is stale when its file has another results version than
 * this program's (and is not accepted in RUN_DIR/accepted_stale.txt), or when
 * it depends on a stale task. Sets stale[t] (0/1) and versions[t] (the file's
 * results version, this program's for tasks not done) for every task;
 * returns the stale count. */
int bns_runner_find_stale(const bns_runner *r, unsigned char *stale, int *versions);
/* Keeps the stale[] tasks as they are: appends one line per task to
 * RUN_DIR/accepted_stale.txt ("KIND-KEY results_version=N accepted by
 * bnnsweep V (results version M) at TIME: NAME"), which the cube copies into
 * its attribute accepted_stale. */
int bns_runner_accept_stale(const bns_runner *r, const unsigned char *stale, const int *versions);

/* Runs one task (a bns_task_run for the scheduler: ctx is the runner). */
int bns_runner_run_task(int task, void *runner, char *err, size_t err_size);

/* Everything the run knows, for the cube's global attributes. */
typedef struct {
    int mpi_size;
    char start_time[32], end_time[32];   /* ISO 8601, UTC */
    double wall_seconds;
} bns_run_info;

/* Reads every finished task's output and writes RUN_DIR/cube.h5 (global
 * attributes tasks_done, how many tasks it holds, and plan_id, a hash of the
 * plan's task keys); records may be NULL (states are then read from the run
 * directory). An existing cube of the same plan with more tasks done is kept
 * (r->cube_kept = 1; still 0 returned). */
int bns_runner_write_cube(bns_runner *r, const bns_task_record *records, const bns_run_info *info);
/* Collects every trained model into RUN_DIR/posteriors.h5: group
 * /models/KEY is the whole model file (model_io.h: its root attributes, its
 * method's parameter blocks, /config, /training), plus attribute name. */
int bns_runner_write_posteriors(const bns_runner *r);

#endif
