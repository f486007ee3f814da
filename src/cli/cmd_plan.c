/* cmd_plan.c - `bnnsweep plan`: expand a sweep file into its tasks and size
 * the allocation it needs (total and critical-path estimated seconds). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/error.h"
#include "bnnsweep/plan.h"
#include "bnnsweep/profile.h"
#include "bnnsweep/spec.h"
#include "cli.h"

enum { OPT_SET = 1000, OPT_SUMMARY, OPT_RANKS, OPT_COSTS, OPT_HELP };

static void plan_usage(FILE *out) {
    fprintf(out,
            "usage: bnnsweep plan SPEC.yaml [--set PATH=VALUE ...] [--summary] [--ranks N] [--costs RUN_DIR]\n\n"
            "Read and validate a sweep file, expand its grids into tasks, and print one line\n"
            "per task: index, key, kind, estimated seconds (one thread), dependencies, name.\n"
            "Then the task count and cost per kind, the total, and the critical path (the\n"
            "longest chain of dependent tasks: no allocation finishes sooner).\n\n"
            "  TRAIN   one model (a point of a model group's grid)\n"
            "  ATTACK  one adversarial set from one source model      (needs its TRAIN)\n"
            "  EVAL    one model on one set / ensemble size / pruning rate / OOD set\n"
            "          (needs the model's TRAIN and, on an adversarial set, its ATTACK)\n\n"
            "A task's key is a hash of every resolved setting and its inputs' keys: the\n"
            "same work has the same key in any sweep (it names result files and seeds the\n"
            "task's random streams). The file format is documented in sweeps/example.yaml.\n\n"
            "options:\n"
            "  --set PATH=VALUE    override a value of the file (repeatable), e.g.\n"
            "                      --set train.max_epochs=3  --set models.bnn.rho_init=[-3,-2]\n"
            "                      VALUE is YAML; validated like the file\n"
            "  --summary           totals only, no task lines\n"
            "  --ranks N           also print the lower bound max(critical path, total / N)\n"
            "                      on the wall time with N single-threaded ranks, and the\n"
            "                      scheduler's policy (longest estimated cost first) replayed\n"
            "                      on 1, 2, 4, ..., N simulated ranks: wall time and speed-up\n"
            "  --costs RUN_DIR     use the task times measured by a run of this sweep (its\n"
            "                      timing logs, RUN_DIR/profile: see `status --profile`) in\n"
            "                      place of the estimates, for the tasks it ran; the others'\n"
            "                      estimates scaled by their kind's measured / estimated ratio.\n"
            "                      The schedule's order still follows the estimates, as a run's does\n\n"
            "Costs follow a simple model (plan.h) calibrated on one core: training counts\n"
            "max_epochs (early stopping usually ends sooner), so totals are upper bounds.\n\n"
            "exit status: 0 valid, 1 --costs RUN_DIR without timing logs, 2 usage or invalid sweep\n"
            "file (as for `bnnsweep run`)\n");
}

static void format_seconds(double s, char *buf, size_t size) {
    if (s < 10) snprintf(buf, size, "%.2fs", s);
    else if (s < 120) snprintf(buf, size, "%.1fs", s);
    else if (s < 7200) snprintf(buf, size, "%.1fmin", s / 60);
    else snprintf(buf, size, "%.1fh", s / 3600);
}

int cmd_plan(int argc, char **argv) {
    static const struct option options[] = {
        {"set", required_argument, NULL, OPT_SET},   {"summary", no_argument, NULL, OPT_SUMMARY},
        {"ranks", required_argument, NULL, OPT_RANKS}, {"costs", required_argument, NULL, OPT_COSTS},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char **overrides = calloc((size_t)argc + 1, sizeof *overrides);
    int n_overrides = 0, summary = 0;
    long ranks = 0;
    const char *costs_dir = NULL, *cost_kind = "";
    if (!overrides) return BNS_EXIT_ERROR;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case OPT_SET: overrides[n_overrides++] = optarg; break;
        case OPT_SUMMARY: summary = 1; break;
        case OPT_COSTS: costs_dir = optarg; break;
        case OPT_RANKS: {
            char *end;
            ranks = strtol(optarg, &end, 10);
            if (end == optarg || *end || ranks < 1) {
                fprintf(stderr, "bnnsweep plan: --ranks: '%s' is not a positive count\n", optarg);
                free(overrides);
                return BNS_EXIT_USAGE;
            }
            break;
        }
        case 'h':
        case OPT_HELP:
            plan_usage(stdout);
            free(overrides);
            return BNS_EXIT_OK;
        default:
            fprintf(stderr, "bnnsweep plan: unknown or incomplete option '%s' (see --help)\n", argv[optind - 1]);
            free(overrides);
            return BNS_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "bnnsweep plan: expected one sweep file (see --help)\n");
        free(overrides);
        return BNS_EXIT_USAGE;
    }
    const char *path = argv[optind];

    bns_spec spec;
    bns_plan plan;
    int rc = bns_spec_load(path, overrides, n_overrides, &spec);
    free(overrides);
    if (rc) {
        fprintf(stderr, "bnnsweep plan: %s\n", bns_last_error());
        return BNS_EXIT_USAGE; /* bad input, as `run` says it (cmd_run.c) */
    }
    if (bns_plan_build(&spec, &plan)) { /* e.g. a grid over the task limit */
        fprintf(stderr, "bnnsweep plan: %s\n", bns_last_error());
        bns_spec_free(&spec);
        return BNS_EXIT_USAGE;
    }

    printf("sweep %s (%s), seed %" PRIu64 ": %d model groups, %d attacks, %d evaluations\n", spec.name, spec.path,
           spec.seed, spec.n_groups, spec.n_attacks, spec.n_evals);
    for (int i = 0; i < spec.n_overrides; i++) printf("  --set %s\n", spec.overrides[i]);
    if (!summary) {
        printf("\n%5s  %-16s  %-6s  %9s  %-14s  %s\n", "#", "key", "kind", "cost", "deps", "name");
        for (int t = 0; t < plan.n_tasks; t++) {
            const bns_task *task = &plan.tasks[t];
            char deps[64] = "-", cost[32];
            if (task->n_deps == 1) snprintf(deps, sizeof deps, "%d", task->deps[0]);
            else if (task->n_deps == 2) snprintf(deps, sizeof deps, "%d,%d", task->deps[0], task->deps[1]);
            else if (task->n_deps > 2) snprintf(deps, sizeof deps, "%d,%d,+%d", task->deps[0], task->deps[1], task->n_deps - 2);
            format_seconds(task->cost, cost, sizeof cost);
            printf("%5d  %016" PRIx64 "  %-6s  %9s  %-14s  %s\n", t, task->key, bns_task_kind_name(task->kind), cost,
                   deps, task->name);
        }
    }
    printf("\n");
    for (int k = 0; k < BNS_TASK_KINDS; k++) {
        if (k == BNS_TASK_ACTIVE && !plan.count[k]) continue; /* a sweep without active learning prints as before */
        char cost[32];
        format_seconds(plan.cost[k], cost, sizeof cost);
        printf("%-7s %6d tasks  %10s\n", bns_task_kind_name(k), plan.count[k], cost);
    }
    double *seconds = bns_xcalloc((size_t)plan.n_tasks + 1, sizeof *seconds);
    double *estimate = bns_xcalloc((size_t)plan.n_tasks + 1, sizeof *estimate);
    for (int t = 0; t < plan.n_tasks; t++) seconds[t] = estimate[t] = plan.tasks[t].cost;
    if (costs_dir) {
        bns_profile prof;
        if (bns_profile_read(costs_dir, &plan, &prof) || prof.n_procs == 0) {
            if (prof.n_procs == 0) bns_fail("no timing logs in %s/profile (a run directory of this sweep, run by "
                                            "a bnnsweep with `status --profile`)", costs_dir);
            fprintf(stderr, "bnnsweep plan: --costs %s: %s\n", costs_dir, bns_last_error());
            bns_profile_free(&prof);
            rc = BNS_EXIT_ERROR;
            goto out;
        }
        /* the estimates of the tasks it did not run, scaled by the measured / estimated
         * ratio of their kind's tasks it did run (the machine's speed, its load) */
        double sum[BNS_TASK_KINDS] = {0}, est[BNS_TASK_KINDS] = {0}, ratio[BNS_TASK_KINDS];
        int measured = bns_profile_seconds(&prof, &plan, NULL, seconds);
        for (int t = 0; t < plan.n_tasks; t++)
            if (prof.tasks[t].proc >= 0 && prof.tasks[t].rc == 0)
                sum[plan.tasks[t].kind] += seconds[t], est[plan.tasks[t].kind] += estimate[t];
        printf("measured costs from %s: %d of %d tasks; the rest estimated x measured / estimated of their kind:",
               costs_dir, measured, plan.n_tasks);
        for (int k = 0; k < BNS_TASK_KINDS; k++) {
            ratio[k] = est[k] > 0 ? sum[k] / est[k] : 1.0;
            printf(" %s %.3g", bns_task_kind_name(k), ratio[k]);
        }
        printf("\n");
        for (int t = 0; t < plan.n_tasks; t++)
            if (!(prof.tasks[t].proc >= 0 && prof.tasks[t].rc == 0)) seconds[t] = estimate[t] * ratio[plan.tasks[t].kind];
        cost_kind = measured == plan.n_tasks ? ", measured" : ", measured and scaled";
        bns_profile_free(&prof);
    }
    double total = 0;
    for (int t = 0; t < plan.n_tasks; t++) total += seconds[t];
    int *path_tasks = bns_xcalloc((size_t)plan.n_tasks + 1, sizeof *path_tasks), path_len = 0;
    double critical = bns_plan_critical_path_with(&plan, seconds, path_tasks, &path_len);
    char total_text[32], critical_text[32];
    format_seconds(total, total_text, sizeof total_text);
    format_seconds(critical, critical_text, sizeof critical_text);
    printf("total   %6d tasks  %10s  (%.0f core-seconds%s)\n", plan.n_tasks, total_text, total, cost_kind);
    printf("critical path %s over %d tasks:", critical_text, path_len);
    for (int i = 0; i < path_len; i++) printf(" %d", path_tasks[i]);
    printf("\n");
    if (ranks > 0) {
        double bound = total / (double)ranks > critical ? total / (double)ranks : critical;
        char bound_text[32];
        format_seconds(bound, bound_text, sizeof bound_text);
        printf("with %ld ranks: at least %s wall time\n", ranks, bound_text);
        printf("simulated schedule (longest estimated first, %s task times):\n", costs_dir ? cost_kind + 2 : "estimated");
        printf("  %6s %12s %9s %11s %12s\n", "ranks", "wall", "speed-up", "efficiency", "lower bound");
        for (long r = 1;; r = r * 2 > ranks ? ranks : r * 2) {
            double wall = bns_profile_simulate(&plan, estimate, seconds, (int)r);
            double lower = total / (double)r > critical ? total / (double)r : critical;
            char wall_text[32], lower_text[32];
            format_seconds(wall, wall_text, sizeof wall_text);
            format_seconds(lower, lower_text, sizeof lower_text);
            printf("  %6ld %12s %8.1fx %10.0f%% %12s\n", r, wall_text, wall > 0 ? total / wall : 1.0,
                   wall > 0 ? 100 * total / wall / (double)r : 100.0, lower_text);
            if (r == ranks) break;
        }
    }
    free(path_tasks);
    rc = BNS_EXIT_OK;
out:
    free(seconds);
    free(estimate);
    bns_plan_free(&plan);
    bns_spec_free(&spec);
    return rc;
}
