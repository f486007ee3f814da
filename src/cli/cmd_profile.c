/* cmd_profile.c - `bnnsweep status --profile RUN_DIR`: where the time of a
 * run directory's runs went, from the timing logs every process writes
 * (profile.h). Per run: each rank's task count, busy and idle seconds (idle:
 * the run's wall time, first begin to last end over its ranks, minus the
 * rank's task time) and peak RSS; then over the latest successful record of
 * each task: time by stage and by kind (the task name's first two parts:
 * the sweep's model group, attack or evaluation), the critical path of the
 * measured times, and the slowest tasks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/error.h"
#include "bnnsweep/profile.h"
#include "cli.h"

/* "train/bnn/rho_init=-3" -> "train/bnn" */
static void kind_label(const char *name, char *buf, size_t size) {
    snprintf(buf, size, "%s", name);
    char *slash = strchr(buf, '/');
    if (slash) slash = strchr(slash + 1, '/');
    if (slash) *slash = '\0';
}

typedef struct {
    char label[96];
    int stage, count;
    double total, max;
} kind_row;

static int by_total(const void *a, const void *b) {
    const kind_row *x = a, *y = b;
    if (x->stage != y->stage) return x->stage - y->stage;
    return x->total < y->total ? 1 : x->total > y->total ? -1 : strcmp(x->label, y->label);
}

static void print_runs(const bns_profile *p) {
    for (int i = 0; i < p->n_procs;) {
        int j = i;
        double begin = p->procs[i].begin, end = p->procs[i].end, busy = 0;
        int ended = 1;
        for (; j < p->n_procs && !strcmp(p->procs[j].run, p->procs[i].run); j++) {
            if (p->procs[j].begin < begin) begin = p->procs[j].begin;
            if (p->procs[j].end > end) end = p->procs[j].end;
            busy += p->procs[j].busy;
            ended &= p->procs[j].ended;
        }
        double wall = end - begin;
        printf("run %s: %d process%s (size %d), wall %.2f s%s\n", p->procs[i].run, j - i, j - i > 1 ? "es" : "",
               p->procs[i].size, wall, ended ? "" : " (no end line: killed or still running)");
        printf("  %5s  %-20s %6s %10s %10s %7s %13s\n", "rank", "host", "tasks", "busy s", "idle s", "idle", "peak RSS MiB");
        for (int k = i; k < j; k++) {
            const bns_profile_proc *pr = &p->procs[k];
            double idle = wall - pr->busy;
            printf("  %5d  %-20s %6d %10.2f %10.2f %6.1f%% %13.1f\n", pr->rank, pr->host, pr->n_tasks, pr->busy, idle,
                   wall > 0 ? 100 * idle / wall : 0.0, pr->peak_rss_kb / 1024.0);
        }
        double idle = wall * (j - i) - busy;
        printf("  idle %.2f of %.2f rank-seconds (%.1f%%)\n", idle, wall * (j - i),
               wall > 0 ? 100 * idle / (wall * (j - i)) : 0.0);
        i = j;
    }
}

int cli_print_profile(const char *run_dir, const bns_plan *plan) {
    bns_profile p;
    if (bns_profile_read(run_dir, plan, &p)) return -1;
    printf("\nprofile of %s (%s/profile: %d process log%s, %d task records", run_dir, run_dir, p.n_procs,
           p.n_procs == 1 ? "" : "s", p.n_records);
    if (p.n_foreign) printf(", %d of tasks not in this plan", p.n_foreign);
    if (p.n_bad) printf(", %d unreadable lines", p.n_bad);
    printf(")\n");
    if (!p.n_procs) {
        printf("no timing logs: the runs into %s predate them, or none has started\n", run_dir);
        bns_profile_free(&p);
        return 0;
    }
    print_runs(&p);

    int n = plan->n_tasks;
    double *seconds = bns_xcalloc((size_t)n + 1, sizeof *seconds);
    int measured = bns_profile_seconds(&p, plan, NULL, seconds);
    kind_row *rows = bns_xcalloc((size_t)n + 1, sizeof *rows);
    int n_rows = 0;
    double stage_total[BNS_TASK_KINDS] = {0}, total = 0;
    int stage_count[BNS_TASK_KINDS] = {0};
    for (int t = 0; t < n; t++) {
        if (p.tasks[t].proc < 0 || p.tasks[t].rc != 0) continue;
        const bns_task *task = &plan->tasks[t];
        char label[96];
        kind_label(task->name, label, sizeof label);
        int r = 0;
        while (r < n_rows && strcmp(rows[r].label, label)) r++; /* kinds are few: a sweep's groups */
        if (r == n_rows) rows[n_rows++] = (kind_row){.stage = task->kind};
        snprintf(rows[r].label, sizeof rows[r].label, "%s", label);
        rows[r].count++;
        rows[r].total += seconds[t];
        if (seconds[t] > rows[r].max) rows[r].max = seconds[t];
        stage_total[task->kind] += seconds[t];
        stage_count[task->kind]++;
        total += seconds[t];
    }
    qsort(rows, (size_t)n_rows, sizeof *rows, by_total);
    printf("\ntime by stage and kind (%d of %d tasks measured; the latest successful run of each):\n", measured, n);
    printf("  %-40s %6s %10s %9s %9s %7s\n", "stage / kind", "tasks", "total s", "mean s", "max s", "share");
    for (int k = 0; k < BNS_TASK_KINDS; k++) {
        if (!stage_count[k]) continue;
        printf("  %-40s %6d %10.2f %9.3f %9s %6.1f%%\n", bns_task_kind_name(k), stage_count[k], stage_total[k],
               stage_total[k] / stage_count[k], "", total > 0 ? 100 * stage_total[k] / total : 0.0);
        for (int r = 0; r < n_rows; r++)
            if (rows[r].stage == k)
                printf("    %-38s %6d %10.2f %9.3f %9.3f %6.1f%%\n", rows[r].label, rows[r].count, rows[r].total,
                       rows[r].total / rows[r].count, rows[r].max, total > 0 ? 100 * rows[r].total / total : 0.0);
    }
    printf("  %-40s %6d %10.2f\n", "total", measured, total);

    int *path = bns_xcalloc((size_t)n + 1, sizeof *path), path_len = 0;
    double critical = bns_plan_critical_path_with(plan, seconds, path, &path_len);
    printf("\ncritical path of the measured times (unmeasured tasks count 0): %.2f s over %d tasks\n", critical,
           path_len);
    for (int i = 0; i < path_len; i++)
        printf("  %s%9.2f s  %s\n", i ? "-> " : "   ", seconds[path[i]], plan->tasks[path[i]].name);
    int size = p.procs[p.n_procs - 1].size > 0 ? p.procs[p.n_procs - 1].size : 1;
    double bound = total / size > critical ? total / size : critical;
    printf("with %d rank%s (the last run's): no schedule finishes sooner than %.2f s (max of critical path, "
           "total / ranks)\n", size, size > 1 ? "s" : "", bound);

    /* the slowest tasks: a partial selection, 5 passes over the table */
    printf("\nslowest tasks:\n");
    unsigned char *shown = bns_xcalloc((size_t)n + 1, 1);
    for (int k = 0; k < 5; k++) {
        int best = -1;
        for (int t = 0; t < n; t++)
            if (!shown[t] && p.tasks[t].proc >= 0 && p.tasks[t].rc == 0 && (best < 0 || seconds[t] > seconds[best]))
                best = t;
        if (best < 0) break;
        shown[best] = 1;
        const bns_profile_proc *pr = &p.procs[p.tasks[best].proc];
        printf("  %9.2f s  %7.1f MiB  rank %d  %s\n", seconds[best], p.tasks[best].rss_kb / 1024.0, pr->rank,
               plan->tasks[best].name);
    }
    free(shown);
    free(path);
    free(rows);
    free(seconds);
    bns_profile_free(&p);
    return 0;
}
