/* cmd_run.c - `bnnsweep run`, `status` and `merge`: a sweep into a run directory.
 *
 * run:    every rank reads the sweep (rank 0 reads the file and broadcasts its
 *         text), builds the same plan, and joins the scheduler; rank 0 prints
 *         progress and writes the cube and posteriors at the end. Tasks whose
 *         output exists are done already (resume). With --stage/--shard one
 *         process runs its share of one stage, for SLURM job arrays.
 * status: what is done, failed and left, read from the run directory (no MPI).
 * merge:  the cube and posteriors from whatever is done (after array shards,
 *         or to look at a sweep while it runs).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include "bnnsweep/backend.h"
#include "bnnsweep/error.h"
#include "bnnsweep/profile.h"
#include "bnnsweep/runner.h"
#include "bnnsweep/util.h"
#include "bnnsweep/version.h"
#include "cli.h"

enum { OPT_OUT = 1000, OPT_SET, OPT_DATA_DIR, OPT_THREADS, OPT_STAGE, OPT_SHARD, OPT_QUIET, OPT_RERUN_STALE,
       OPT_ACCEPT_STALE, OPT_TIME_LIMIT, OPT_HELP };

static void run_usage(FILE *out) {
    fprintf(out,
            "usage: mpirun -n N bnnsweep run SPEC.yaml --out RUN_DIR [OPTIONS]\n"
            "       bnnsweep run SPEC.yaml --out RUN_DIR --stage train|attack|eval|active --shard I/N\n\n"
            "Run a sweep (see `bnnsweep plan` and sweeps/example.yaml): rank 0 hands tasks to\n"
            "idle ranks (longest first) and computes too; each rank runs single-threaded BLAS.\n"
            "Results: RUN_DIR/cube.h5 (netCDF-4 conventions: xarray.open_dataset(path,\n"
            "engine=\"h5netcdf\")), RUN_DIR/posteriors.h5, and one file per task in RUN_DIR/tasks.\n"
            "Running again into the same RUN_DIR redoes only what is missing: a run killed at\n"
            "any moment loses only the tasks it was running.\n\n"
            "options:\n"
            "  --out RUN_DIR       run directory (created if needed); required\n"
            "  --set PATH=VALUE    override a value of the sweep file (repeatable; YAML value)\n"
            "  --data-dir DIR      data cache (default $BNNSWEEP_DATA or ~/.cache/bnnsweep)\n"
            "  --threads N         BLAS threads per rank (default 1)\n"
            "  --stage KIND        with --shard: run only train, attack, eval or active tasks\n"
            "  --shard I/N         the tasks of the stage with index %% N == I (0-based), one\n"
            "                      process, no scheduler; then `bnnsweep merge RUN_DIR`. A shard\n"
            "                      exits 0 even when some of its tasks fail (they are recorded;\n"
            "                      merge's exit status says whether the sweep is complete)\n"
            "  --rerun-stale       recompute finished tasks whose files hold another results\n"
            "                      version (numerics of another program version) and what\n"
            "                      depends on them; without it or --accept-stale such a run\n"
            "                      directory is refused, with the list of those tasks\n"
            "  --accept-stale      keep them (recorded in RUN_DIR/accepted_stale.txt and the cube)\n"
            "  --task-time-limit S a task still running after S seconds is stopped and recorded\n"
            "                      as failed (\"time limit exceeded\"); the run goes on (each task\n"
            "                      then runs in a child process). Default: no limit\n"
            "  --quiet             no progress lines\n\n"
            "Started by srun as N tasks that MPI does not join (srun without --mpi=pmix/pmi2 on\n"
            "a site whose MpiDefault is none), every task stops at once with a message.\n\n"
            "exit status: 0 every task done, 1 some task failed or was skipped (the rest is\n"
            "kept; see `bnnsweep status RUN_DIR`), or the run directory is in use or holds\n"
            "results of another results version, 2 usage, invalid sweep file or launch\n");
}

static void utc_now(char *buf, size_t size) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Leftovers of writes that a killed run never renamed: only this host's
 * whose writer is gone, since shards of one run may be writing beside us. */
static void remove_stale_temporaries(const char *run_dir) {
    char dir_path[1100];
    snprintf(dir_path, sizeof dir_path, "%s/tasks", run_dir);
    DIR *dir = opendir(dir_path);
    if (!dir) return;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (!bns_temp_is_stale(e->d_name)) continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir_path, e->d_name);
        unlink(path);
    }
    closedir(dir);
}

/* Two processes on one run directory: a full run holds RUN_DIR/run.lock, each
 * shard RUN_DIR/shard.lock.HOST.PID. Shards work side by side (disjoint
 * tasks); a full run and anything else would compute the same tasks twice,
 * so whichever starts second refuses. Each creates its own lock before
 * looking for the other's, so two starting at one instant cannot both miss
 * each other. lock (size 1200) gets the path to release. */
static int take_run_lock(const char *run_dir, int shard, char *lock, size_t size) {
    char host[BNS_HOST_TAG_SIZE], holder[256], other[1400];
    bns_host_tag(host);
    if (shard) snprintf(lock, size, "%s/shard.lock.%s.%ld", run_dir, host, (long)getpid());
    else snprintf(lock, size, "%s/run.lock", run_dir);
    int rc = bns_lock_acquire(lock);
    if (rc) {
        lock[0] = '\0';
        if (shard) return -1;
        char why[1100];
        snprintf(why, sizeof why, "%s", bns_last_error());
        return bns_fail("%s is in use by another `bnnsweep run` (%s). Wait for it to finish; if it is gone "
                        "(a run on another host cannot be checked from here), remove %s/run.lock",
                        run_dir, why, run_dir);
    }
    int held = 0;
    if (shard) {
        snprintf(other, sizeof other, "%s/run.lock", run_dir);
        held = bns_lock_holder(other, holder, sizeof holder);
    } else {
        DIR *dir = opendir(run_dir);
        struct dirent *e;
        while (dir && held == 0 && (e = readdir(dir)) != NULL) {
            if (strncmp(e->d_name, "shard.lock.", 11) != 0) continue;
            snprintf(other, sizeof other, "%s/%s", run_dir, e->d_name);
            held = bns_lock_holder(other, holder, sizeof holder);
        }
        if (dir) closedir(dir);
    }
    if (held == 0) return 0;
    bns_lock_release(lock);
    lock[0] = '\0';
    if (held < 0) return -1;
    if (shard)
        return bns_fail("%s is in use by a full `bnnsweep run` (%s, %s): shards beside it would compute its tasks "
                        "twice. Wait for it; if it is gone, remove that file", run_dir, holder, other);
    return bns_fail("%s is in use by shards (--stage/--shard) of a sweep (%s, %s): a full run beside them would "
                    "compute their tasks twice. Wait for them; if they are gone, remove that file", run_dir, holder,
                    other);
}

typedef struct {
    const bns_plan *plan;
    double t0, done_cost, total_cost;
    int quiet;
} progress_state;

static void count_states(const bns_task_record *rec, int n, int *done, int *running, int *failed, int *left) {
    *done = *running = *failed = *left = 0;
    for (int t = 0; t < n; t++) {
        switch (rec[t].state) {
        case BNS_TASK_DONE: (*done)++; break;
        case BNS_TASK_RUNNING: (*running)++; break;
        case BNS_TASK_FAILED:
        case BNS_TASK_SKIPPED: (*failed)++; break;
        default: (*left)++;
        }
    }
}

static void on_event(int task, const bns_task_record *rec, int n, const bns_sched_counts *counts, void *ctx) {
    (void)n;
    progress_state *ps = ctx;
    const bns_task *t = &ps->plan->tasks[task];
    if (rec[task].state == BNS_TASK_DONE) ps->done_cost += t->cost;
    if (ps->quiet) return;
    /* the scheduler's counts: a scan of every record per event was quadratic */
    int done = counts->done, running = counts->running, failed = counts->failed, left = counts->pending;
    double elapsed = bns_now_seconds() - ps->t0;
    char eta[32] = "?";
    if (ps->done_cost > 0 && ps->total_cost > ps->done_cost)
        snprintf(eta, sizeof eta, "%.0fs", elapsed * (ps->total_cost - ps->done_cost) / ps->done_cost);
    const char *what = rec[task].state == BNS_TASK_DONE     ? "done"
                       : rec[task].state == BNS_TASK_FAILED ? "FAILED"
                                                            : "skipped";
    printf("[%4d done %3d running %3d failed %4d left | %6.0fs, eta %s] %s %s", done, running, failed, left, elapsed,
           eta, what, t->name);
    if (rec[task].state == BNS_TASK_DONE) printf(" (%.1fs, rank %d)", rec[task].seconds, rec[task].rank);
    if (rec[task].state != BNS_TASK_DONE) printf(": %s", rec[task].error);
    printf("\n");
    fflush(stdout);
}

/* Sweep text and plan, identical on every rank. */
static int load_plan(const char *spec_path, const char *text, const char *const *overrides, int n_overrides,
                     bns_spec *spec, bns_plan *plan) {
    if (bns_spec_load_text(spec_path, text, overrides, n_overrides, spec)) return -1;
    if (bns_plan_build(spec, plan)) {
        bns_spec_free(spec);
        return -1;
    }
    return 0;
}

enum { STALE_REFUSE, STALE_RERUN, STALE_ACCEPT };


/* The shard of each task of `stage` (others: -1): tasks in turn, except that
 * a task with a dependency in its own stage runs in that dependency's shard,
 * after it (plan.c): a model view in its model's, a distilling model in its
 * teacher's, an active-learning round in its chain's (round r needs r-1). */
static int *shard_assignment(const bns_plan *plan, int stage, int n_shards) {
    int *shard_of = bns_xcalloc((size_t)plan->n_tasks + 1, sizeof *shard_of), position = 0;
    for (int t = 0; t < plan->n_tasks; t++) {
        const bns_task *task = &plan->tasks[t];
        if (task->kind != stage) {
            shard_of[t] = -1;
            continue;
        }
        int same_stage = -1;
        for (int k = 0; k < task->n_deps; k++)
            if (plan->tasks[task->deps[k]].kind == stage) same_stage = task->deps[k];
        shard_of[t] = same_stage >= 0 ? shard_of[same_stage] : position++ % n_shards;
    }
    return shard_of;
}

/* Finished tasks of another results version (version.h): refuse (listing
 * them), remove them so they run again, or record that they are kept. */
static int resolve_stale(bns_runner *runner, int policy, int stage, int shard, int n_shards, int quiet) {
    const bns_plan *plan = runner->plan;
    int n = plan->n_tasks;
    unsigned char *stale = bns_xcalloc((size_t)n + 1, 1);
    int *versions = bns_xcalloc((size_t)n + 1, sizeof *versions);
    bns_runner_find_stale(runner, stale, versions);
    /* a shard looks only at its own share (the rule of run_shard) */
    int count = 0, rc = 0;
    int *shard_of = stage < 0 ? NULL : shard_assignment(plan, stage, n_shards);
    for (int t = 0; t < n; t++) {
        int mine = stage < 0 || shard_of[t] == shard;
        if (!mine) stale[t] = 0;
        count += stale[t];
    }
    free(shard_of);
    if (count && policy == STALE_REFUSE) {
        fprintf(stderr, "bnnsweep run: %s holds %d finished task%s of another results version (this program: %d):\n",
                runner->run_dir, count, count > 1 ? "s" : "", BNS_RESULTS_VERSION);
        int listed = 0;
        for (int t = 0; t < n; t++) {
            if (!stale[t]) continue;
            if (listed++ < 50) {
                if (versions[t] == BNS_RESULTS_VERSION) fprintf(stderr, "  %s (depends on a stale task)\n", plan->tasks[t].name);
                else fprintf(stderr, "  %s (results version %d)\n", plan->tasks[t].name, versions[t]);
            }
        }
        if (listed > 50) fprintf(stderr, "  ... and %d more\n", listed - 50);
        rc = bns_fail("refusing to mix results versions: run again with --rerun-stale (recompute them) or "
                      "--accept-stale (keep them, recorded in accepted_stale.txt)");
    } else if (count && policy == STALE_RERUN) {
        for (int t = 0; t < n; t++) {
            if (!stale[t]) continue;
            char path[1200];
            bns_runner_task_path(runner, t, ".h5", path, sizeof path);
            if (unlink(path) != 0) {
                rc = bns_fail("%s: cannot remove a stale result: %s", path, strerror(errno));
                break;
            }
        }
        if (rc == 0 && !quiet) printf("removed %d stale task%s to recompute them\n", count, count > 1 ? "s" : "");
    } else if (count) {
        rc = bns_runner_accept_stale(runner, stale, versions);
        if (rc == 0 && !quiet)
            printf("kept %d task%s of another results version (recorded in %s/accepted_stale.txt)\n", count,
                   count > 1 ? "s" : "", runner->run_dir);
    }
    free(stale);
    free(versions);
    return rc;
}

/* Set by Open MPI's mpirun, by PMIx launchers (srun --mpi=pmix) and by PMI ones (MPICH). */
static int launched_by_mpi(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK") || getenv("PMI_SIZE");
}

/* Tasks of the srun step this process belongs to (0: not in a step). The
 * batch script of an allocation has SLURM_NTASKS but no step: a plain
 * `bnnsweep run` there is one process, as intended. */
static long srun_step_tasks(void) {
    const char *v = getenv("SLURM_STEP_NUM_TASKS");
    if (!v && getenv("SLURM_STEP_ID") && getenv("SLURM_PROCID")) v = getenv("SLURM_NTASKS");
    if (!v && getenv("SLURM_STEPID") && getenv("SLURM_PROCID")) v = getenv("SLURM_NTASKS");
    return v ? strtol(v, NULL, 10) : 0;
}

/* srun started N copies of this command, but MPI (if any) sees one process
 * each: srun without an MPI plugin (MpiDefault=none), or a shard under srun
 * -n N. Every copy would do the same work into the same directory, so all
 * stop before any work. Returns 0 or the message's exit status. */
static int check_launch(int mpi_size, int shard) {
    long tasks = srun_step_tasks();
    if (tasks <= 1 || mpi_size > 1) return 0;
    const char *procid = getenv("SLURM_PROCID");
    if (!procid || !strcmp(procid, "0")) {
        if (shard)
            fprintf(stderr,
                    "bnnsweep run: started by srun as %ld tasks, but a shard (--stage/--shard) is one process: all %ld "
                    "would run the same tasks. Run it with srun -n 1 (or directly in the batch script)\n",
                    tasks, tasks);
        else
            fprintf(stderr,
                    "bnnsweep run: started by srun as %ld tasks (SLURM_STEP_NUM_TASKS), but MPI sees 1 process: "
                    "each task would run the whole sweep into the same directory. This srun starts no MPI job (no "
                    "PMI: the site's MpiDefault is none?): use srun --mpi=pmix or --mpi=pmi2 (see srun --mpi=list), "
                    "or mpirun inside the allocation (slurm/sweep.sbatch)\n",
                    tasks);
    }
    return BNS_EXIT_USAGE;
}

static int parse_shard(const char *text, int *index, int *count) {
    char tail;
    if (sscanf(text, "%d/%d%c", index, count, &tail) != 2 || *count < 1 || *index < 0 || *index >= *count)
        return bns_fail("--shard '%s': expected I/N with 0 <= I < N", text);
    return 0;
}

static int run_shard(bns_runner *runner, int stage, int shard, int n_shards, int quiet) {
    const bns_plan *plan = runner->plan;
    int failures = 0, ran = 0;
    int *shard_of = shard_assignment(plan, stage, n_shards);
    for (int t = 0; t < plan->n_tasks; t++) {
        const bns_task *task = &plan->tasks[t];
        if (shard_of[t] != shard) continue;
        if (bns_runner_is_done(runner, t)) continue;
        char err[512] = "";
        for (int k = 0; k < task->n_deps; k++)
            if (!bns_runner_is_done(runner, task->deps[k]))
                snprintf(err, sizeof err, "dependency %s is not done (run its stage first)",
                         plan->tasks[task->deps[k]].name);
        double t0 = bns_now_seconds();
        int rc = err[0] ? 1 : bns_runner_run_task(t, runner, err, sizeof err);
        ran++;
        if (rc) failures++;
        if (!quiet) {
            printf("%s %s (%.1fs)%s%s\n", rc ? "FAILED" : "done", task->name, bns_now_seconds() - t0, rc ? ": " : "",
                   rc ? err : "");
            fflush(stdout);
        }
    }
    free(shard_of);
    if (!quiet) printf("shard %d/%d of stage %s: %d tasks run, %d failed\n", shard, n_shards,
                       bns_task_kind_name(stage), ran, failures);
    /* A failed task is a result (recorded in its .failed file, reported by
     * status and merge), not a broken shard: exit 0 so that job arrays chained
     * with afterok go on and the rest of the sweep still runs. */
    return 0;
}

int cmd_run(int argc, char **argv) {
    static const struct option options[] = {
        {"out", required_argument, NULL, OPT_OUT},         {"set", required_argument, NULL, OPT_SET},
        {"data-dir", required_argument, NULL, OPT_DATA_DIR}, {"threads", required_argument, NULL, OPT_THREADS},
        {"stage", required_argument, NULL, OPT_STAGE},     {"shard", required_argument, NULL, OPT_SHARD},
        {"quiet", no_argument, NULL, OPT_QUIET},           {"help", no_argument, NULL, OPT_HELP},
        {"rerun-stale", no_argument, NULL, OPT_RERUN_STALE}, {"accept-stale", no_argument, NULL, OPT_ACCEPT_STALE},
        {"task-time-limit", required_argument, NULL, OPT_TIME_LIMIT},
        {NULL, 0, NULL, 0},
    };
    const char **overrides = bns_xcalloc((size_t)argc + 1, sizeof *overrides);
    const char *out = NULL, *data_dir = NULL, *stage_name = NULL, *shard_text = NULL;
    int n_overrides = 0, threads = 1, quiet = 0, c, stale_policy = STALE_REFUSE, stale_flags = 0;
    const char *time_limit_text = NULL;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case OPT_OUT: out = optarg; break;
        case OPT_SET: overrides[n_overrides++] = optarg; break;
        case OPT_DATA_DIR: data_dir = optarg; break;
        case OPT_THREADS: threads = atoi(optarg); break;
        case OPT_STAGE: stage_name = optarg; break;
        case OPT_SHARD: shard_text = optarg; break;
        case OPT_QUIET: quiet = 1; break;
        case OPT_RERUN_STALE: stale_policy = STALE_RERUN; stale_flags++; break;
        case OPT_ACCEPT_STALE: stale_policy = STALE_ACCEPT; stale_flags++; break;
        case OPT_TIME_LIMIT: time_limit_text = optarg; break;
        case 'h':
        case OPT_HELP: run_usage(stdout); free(overrides); return BNS_EXIT_OK;
        default:
            fprintf(stderr, "bnnsweep run: unknown or incomplete option '%s' (see --help)\n", argv[optind - 1]);
            free(overrides);
            return BNS_EXIT_USAGE;
        }
    }
    const char *spec_path = optind < argc ? argv[optind] : NULL;
    int usage_error = 0;
    if (!spec_path || optind + 1 < argc) {
        fprintf(stderr, "bnnsweep run: expected one sweep file (see --help)\n");
        usage_error = 1;
    } else if (!out) {
        fprintf(stderr, "bnnsweep run: --out RUN_DIR is required (see --help)\n");
        usage_error = 1;
    } else if (threads < 1) {
        fprintf(stderr, "bnnsweep run: --threads must be a positive count\n");
        usage_error = 1;
    } else if (stale_flags > 1) {
        fprintf(stderr, "bnnsweep run: --rerun-stale and --accept-stale exclude each other\n");
        usage_error = 1;
    } else if ((stage_name != NULL) != (shard_text != NULL)) {
        fprintf(stderr, "bnnsweep run: --stage and --shard go together\n");
        usage_error = 1;
    }
    double time_limit = 0;
    if (!usage_error && time_limit_text) {
        char *end;
        errno = 0;
        time_limit = strtod(time_limit_text, &end);
        if (end == time_limit_text || *end || errno || !(time_limit > 0) || !isfinite(time_limit)) {
            fprintf(stderr, "bnnsweep run: --task-time-limit '%s': expected a positive number of seconds\n",
                    time_limit_text);
            usage_error = 1;
        }
    }
    int stage = -1, shard = 0, n_shards = 1;
    if (!usage_error && stage_name) {
        for (int k = 0; k < BNS_TASK_KINDS; k++)
            if (!strcmp(stage_name, bns_task_kind_name(k))) stage = k;
        if (stage < 0) {
            fprintf(stderr, "bnnsweep run: --stage '%s': expected train, attack, eval or active\n", stage_name);
            usage_error = 1;
        } else if (parse_shard(shard_text, &shard, &n_shards)) {
            fprintf(stderr, "bnnsweep run: %s\n", bns_last_error());
            usage_error = 1;
        }
    }
    if (usage_error) {
        free(overrides);
        return BNS_EXIT_USAGE;
    }
    bns_set_blas_threads(threads);

    /* A shard, or a run not started by an MPI launcher, is one plain process
     * that never calls MPI: a singleton MPI_Init starts helper daemons,
     * which neither job-array tasks nor laptops need. */
    int use_mpi = stage < 0 && launched_by_mpi();
    int provided, rank = 0, size = 1;
    if (use_mpi) {
        MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &size);
        if (provided < MPI_THREAD_FUNNELED && rank == 0)
            fprintf(stderr, "bnnsweep run: warning: MPI does not promise FUNNELED threading\n");
    }

    int launch_status = check_launch(size, stage >= 0);
    if (launch_status) {
        if (use_mpi) MPI_Finalize();
        free(overrides);
        return launch_status;
    }

    /* rank 0 reads the file; everyone parses the same bytes */
    char *text = NULL;
    long text_len = 0;
    if (rank == 0) {
        text = bns_spec_read_file(spec_path);
        text_len = text ? (long)strlen(text) + 1 : -1;
    }
    if (use_mpi) MPI_Bcast(&text_len, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    int status = BNS_EXIT_OK;
    if (text_len < 0) {
        if (rank == 0) fprintf(stderr, "bnnsweep run: %s\n", bns_last_error());
        if (use_mpi) MPI_Finalize();
        free(overrides);
        return BNS_EXIT_USAGE;
    }
    if (rank != 0) text = bns_xmalloc((size_t)text_len);
    if (use_mpi) MPI_Bcast(text, (int)text_len, MPI_CHAR, 0, MPI_COMM_WORLD);

    bns_spec spec;
    bns_plan plan;
    if (load_plan(spec_path, text, overrides, n_overrides, &spec, &plan)) {
        if (rank == 0) fprintf(stderr, "bnnsweep run: %s\n", bns_last_error());
        free(text);
        free(overrides);
        if (use_mpi) MPI_Finalize();
        return BNS_EXIT_USAGE;
    }
    free(text);

    bns_runner runner;
    int open_rc = 0;
    char lock[1200] = "";
    if (rank == 0) {
        /* the lock before the provenance: a refused run must not rewrite sweep.yaml */
        open_rc = bns_runner_open(&runner, &spec, &plan, out, data_dir, 0);
        if (open_rc == 0) open_rc = take_run_lock(out, stage >= 0, lock, sizeof lock);
        if (open_rc == 0) open_rc = bns_runner_open(&runner, &spec, &plan, out, data_dir, 1);
        if (open_rc == 0) open_rc = resolve_stale(&runner, stale_policy, stage, shard, n_shards, quiet);
        if (open_rc == 0) remove_stale_temporaries(out);
    }
    if (use_mpi) MPI_Bcast(&open_rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (open_rc) {
        if (rank == 0) fprintf(stderr, "bnnsweep run: %s\n", bns_last_error());
        status = BNS_EXIT_ERROR;
        goto done;
    }
    if (rank != 0) bns_runner_open(&runner, &spec, &plan, out, data_dir, 0);
    runner.task_time_limit = time_limit;

    char run_name[64];
    if (rank == 0) bns_profile_run_name(run_name, sizeof run_name);
    if (use_mpi) MPI_Bcast(run_name, sizeof run_name, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (stage >= 0) { /* one shard of one stage, no scheduler */
        char shard_run[128];
        snprintf(shard_run, sizeof shard_run, "%s-%s-shard%d", run_name, bns_task_kind_name(stage), shard);
        bns_profile_open(&runner, shard_run, shard, n_shards);
        status = run_shard(&runner, stage, shard, n_shards, quiet || rank != 0);
        bns_profile_close(&runner);
        bns_runner_close(&runner);
        goto done;
    }

    int n = plan.n_tasks;
    int *n_deps = bns_xcalloc(n + 1, sizeof(int));
    const int **deps = bns_xcalloc(n + 1, sizeof(int *));
    double *cost = bns_xcalloc(n + 1, sizeof(double));
    for (int t = 0; t < n; t++) {
        n_deps[t] = plan.tasks[t].n_deps;
        deps[t] = plan.tasks[t].deps;
        cost[t] = plan.tasks[t].cost;
    }
    bns_task_graph graph = {n, n_deps, (const int *const *)deps, cost};
    bns_task_record *records = NULL;
    progress_state ps = {&plan, bns_now_seconds(), 0, 0, quiet};
    bns_run_info info = {size, "", "", 0};
    utc_now(info.start_time, sizeof info.start_time);
    if (rank == 0) {
        records = bns_xcalloc(n + 1, sizeof *records);
        int already = 0;
        for (int t = 0; t < n; t++) {
            records[t].rank = -1;
            if (bns_runner_is_done(&runner, t)) {
                records[t].state = BNS_TASK_DONE;
                already++;
            } else {
                ps.total_cost += plan.tasks[t].cost;
            }
        }
        if (!quiet) {
            char active[32] = ""; /* only a sweep with active learning says so */
            if (plan.count[BNS_TASK_ACTIVE]) snprintf(active, sizeof active, ", %d active", plan.count[BNS_TASK_ACTIVE]);
            printf("sweep %s: %d tasks (%d train, %d attack, %d eval%s), %d already done in %s; %d rank%s\n",
                   spec.name, n, plan.count[BNS_TASK_TRAIN], plan.count[BNS_TASK_ATTACK], plan.count[BNS_TASK_EVAL],
                   active, already, out, size, size > 1 ? "s" : "");
            fflush(stdout);
        }
    }
    bns_profile_open(&runner, run_name, rank, size);
    int rc = bns_schedule(use_mpi ? MPI_COMM_WORLD : MPI_COMM_NULL, &graph, records, bns_runner_run_task, &runner, on_event, &ps);
    bns_profile_close(&runner);
    bns_runner_close(&runner);
    if (rc < 0) status = BNS_EXIT_ERROR;
    else if (rc > 0) status = 1;
    if (rank == 0) {
        utc_now(info.end_time, sizeof info.end_time);
        info.wall_seconds = bns_now_seconds() - ps.t0;
        if (bns_runner_write_cube(&runner, records, &info) || bns_runner_write_posteriors(&runner)) {
            fprintf(stderr, "bnnsweep run: %s\n", bns_last_error());
            status = BNS_EXIT_ERROR;
        }
        int d, r_, f, l;
        count_states(records, n, &d, &r_, &f, &l);
        printf("finished in %.1fs on %d rank%s: %d done, %d failed or skipped; results in %s/cube.h5\n",
               info.wall_seconds, size, size > 1 ? "s" : "", d, f, out);
        if (f) printf("incomplete: `bnnsweep status %s` lists what failed; run again to retry\n", out);
    }
    free(records);
    free(n_deps);
    free(deps);
    free(cost);
done:
    if (lock[0]) bns_lock_release(lock);
    bns_plan_free(&plan);
    bns_spec_free(&spec);
    free(overrides);
    if (use_mpi) MPI_Finalize();
    return status;
}

/* ---- status and merge: from the run directory alone ---- */

static int open_run_dir(const char *run_dir, bns_spec *spec, bns_plan *plan, bns_runner *runner) {
    char path[1100];
    snprintf(path, sizeof path, "%s/sweep.yaml", run_dir);
    char *text = bns_spec_read_file(path);
    if (!text && access(path, F_OK) != 0) return bns_fail("%s: not a run directory (no sweep.yaml)", run_dir);
    if (!text) return -1;
    snprintf(path, sizeof path, "%s/overrides.txt", run_dir);
    char *ov_text = bns_read_file(path, NULL);
    const char *overrides[256];
    int n_overrides = 0;
    for (char *line = ov_text ? strtok(ov_text, "\n") : NULL; line && n_overrides < 256; line = strtok(NULL, "\n"))
        overrides[n_overrides++] = line;
    snprintf(path, sizeof path, "%s/sweep.yaml", run_dir);
    int rc = load_plan(path, text, overrides, n_overrides, spec, plan);
    free(text);
    free(ov_text);
    if (rc) return -1;
    return bns_runner_open(runner, spec, plan, run_dir, NULL, 0);
}

static int run_dir_command(int argc, char **argv, int merge) {
    const char *name = merge ? "merge" : "status";
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: bnnsweep %s %sRUN_DIR\n\n%s\n", name, merge ? "" : "[--profile] ",
               merge ? "Write RUN_DIR/cube.h5 and RUN_DIR/posteriors.h5 from every finished task (after\n"
                       "SLURM array shards, or to look at a sweep while it runs). No MPI needed."
                     : "Show what is done, failed and left in a run directory, per stage, and why each\n"
                       "failed task failed. No MPI needed.\n\n"
                       "  --profile   also where the time went, from the runs' timing logs\n"
                       "              (RUN_DIR/profile): per run, each rank's tasks, busy and idle\n"
                       "              time and peak RSS; time by stage and kind; the critical path\n"
                       "              of measured task times; the slowest tasks");
        return BNS_EXIT_OK;
    }
    int profile = 0;
    for (int i = 1; !merge && i < argc; i++)
        if (!strcmp(argv[i], "--profile")) {
            profile = 1;
            memmove(argv + i, argv + i + 1, sizeof *argv * (size_t)(argc - i - 1));
            argc--;
            break;
        }
    if (argc != 2) {
        fprintf(stderr, "bnnsweep %s: expected one run directory (see --help)\n", name);
        return BNS_EXIT_USAGE;
    }
    bns_spec spec;
    bns_plan plan;
    bns_runner runner;
    if (open_run_dir(argv[1], &spec, &plan, &runner)) {
        fprintf(stderr, "bnnsweep %s: %s\n", name, bns_last_error());
        return BNS_EXIT_ERROR;
    }
    int done[BNS_TASK_KINDS] = {0}, failed[BNS_TASK_KINDS] = {0}, left[BNS_TASK_KINDS] = {0}, status = 0;
    for (int t = 0; t < plan.n_tasks; t++) {
        int k = plan.tasks[t].kind;
        char why[512];
        if (bns_runner_is_done(&runner, t)) {
            done[k]++;
            continue;
        }
        bns_runner_failure(&runner, t, why, sizeof why);
        if (why[0]) {
            failed[k]++;
            if (!merge) printf("failed  %s: %s\n", plan.tasks[t].name, why);
        } else {
            left[k]++;
        }
    }
    printf("%-8s %6s %6s %6s\n", "stage", "done", "failed", "left");
    int all_done = 1;
    for (int k = 0; k < BNS_TASK_KINDS; k++) {
        if (k == BNS_TASK_ACTIVE && !done[k] && !failed[k] && !left[k]) continue; /* none in this sweep */
        printf("%-8s %6d %6d %6d\n", bns_task_kind_name(k), done[k], failed[k], left[k]);
        if (failed[k] || left[k]) all_done = 0;
    }
    if (merge) {
        if (bns_runner_write_cube(&runner, NULL, NULL) || bns_runner_write_posteriors(&runner)) {
            fprintf(stderr, "bnnsweep merge: %s\n", bns_last_error());
            status = BNS_EXIT_ERROR;
        } else {
            if (runner.cube_kept) printf("wrote %s/posteriors.h5 (partial); kept the more complete %s/cube.h5\n", argv[1], argv[1]);
            else printf("wrote %s/cube.h5 and %s/posteriors.h5%s\n", argv[1], argv[1], all_done ? "" : " (partial)");
        }
    }
    if (profile && cli_print_profile(argv[1], &plan)) {
        fprintf(stderr, "bnnsweep status: %s\n", bns_last_error());
        status = BNS_EXIT_ERROR;
    }
    if (status == 0 && !all_done) status = 1;
    bns_runner_close(&runner);
    bns_plan_free(&plan);
    bns_spec_free(&spec);
    return status;
}

int cmd_status(int argc, char **argv) { return run_dir_command(argc, argv, 0); }
int cmd_merge(int argc, char **argv) { return run_dir_command(argc, argv, 1); }
