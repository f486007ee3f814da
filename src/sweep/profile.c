/* profile.c - per-task timing logs of a run, read back and replayed (see
 * profile.h). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bnnsweep/error.h"
#include "bnnsweep/profile.h"
#include "bnnsweep/task_heap.h"
#include "bnnsweep/util.h"

double bns_wall_clock(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void bns_profile_run_name(char *buf, size_t size) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(buf, size, "%s-%ld", stamp, (long)getpid());
}

static long peak_rss_kb(void) {
    struct rusage self, children;
    long kb = 0;
    if (getrusage(RUSAGE_SELF, &self) == 0) kb = self.ru_maxrss;
    if (getrusage(RUSAGE_CHILDREN, &children) == 0 && children.ru_maxrss > kb) kb = children.ru_maxrss;
    return kb;
}

void bns_profile_open(bns_runner *r, const char *run, int rank, int size) {
    char dir[1100], path[1400], host[BNS_HOST_TAG_SIZE];
    r->profile = NULL;
    snprintf(dir, sizeof dir, "%s/profile", r->run_dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "bnnsweep: warning: %s: %s (no timing profile for this run)\n", dir, strerror(errno));
        return;
    }
    bns_host_tag(host);
    snprintf(path, sizeof path, "%s/%s.r%d.%s.%ld.log", dir, run, rank, host, (long)getpid());
    FILE *f = fopen(path, "a");
    if (!f) {
        fprintf(stderr, "bnnsweep: warning: %s: %s (no timing profile for this run)\n", path, strerror(errno));
        return;
    }
    fprintf(f, "begin run=%s rank=%d size=%d host=%s pid=%ld time=%.6f\n", run, rank, size, host, (long)getpid(),
            bns_wall_clock());
    fflush(f);
    r->profile = f;
}

void bns_profile_task(bns_runner *r, int task, double start, int rc) {
    FILE *f = r->profile;
    if (!f) return;
    const bns_task *t = &r->plan->tasks[task];
    fprintf(f, "task %s-%016" PRIx64 " start=%.6f end=%.6f rc=%d rss_kb=%ld\n", bns_task_kind_name(t->kind), t->key,
            start, bns_wall_clock(), rc, peak_rss_kb());
    fflush(f); /* a killed run keeps every finished task's line */
}

void bns_profile_close(bns_runner *r) {
    FILE *f = r->profile;
    if (!f) return;
    fprintf(f, "end time=%.6f rss_kb=%ld\n", bns_wall_clock(), peak_rss_kb());
    fclose(f);
    r->profile = NULL;
}

/* ---- reading ---- */

typedef struct {
    char *text;
    bns_profile_proc proc;
} log_file;

static int by_run_then_rank(const void *a, const void *b) {
    const bns_profile_proc *x = &((const log_file *)a)->proc, *y = &((const log_file *)b)->proc;
    int c = strcmp(x->run, y->run);
    if (c) return c;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static int kind_of(const char *name) {
    for (int k = 0; k < BNS_TASK_KINDS; k++)
        if (!strcmp(name, bns_task_kind_name(k))) return k;
    return -1;
}

/* One "task ..." line into the per-task table. */
static void read_task_line(bns_profile *p, const bns_plan *plan, int proc, const char *line) {
    char kind[16];
    uint64_t key;
    double start, end;
    int rc;
    long rss;
    if (sscanf(line, "task %15[a-z]-%16" SCNx64 " start=%lf end=%lf rc=%d rss_kb=%ld", kind, &key, &start, &end, &rc,
               &rss) != 6) {
        p->n_bad++;
        return;
    }
    p->n_records++;
    int t = bns_plan_find(plan, key);
    if (t < 0 || plan->tasks[t].kind != kind_of(kind)) {
        p->n_foreign++;
        return;
    }
    bns_profile_proc *pr = &p->procs[proc];
    pr->n_tasks++;
    pr->busy += end - start;
    if (rss > pr->peak_rss_kb) pr->peak_rss_kb = rss;
    if (end > pr->end) pr->end = end;
    bns_profile_time *old = &p->tasks[t];
    /* the latest successful record wins; a failure only replaces failures */
    int better = old->proc < 0 || (rc == 0 && old->rc != 0) || ((rc == 0) == (old->rc == 0) && end > old->end);
    if (better) *old = (bns_profile_time){proc, rc, start, end, rss};
}

int bns_profile_read(const char *run_dir, const bns_plan *plan, bns_profile *out) {
    memset(out, 0, sizeof *out);
    out->tasks = bns_xcalloc((size_t)plan->n_tasks + 1, sizeof *out->tasks);
    for (int t = 0; t < plan->n_tasks; t++) out->tasks[t].proc = -1;
    char dir_path[1100];
    snprintf(dir_path, sizeof dir_path, "%s/profile", run_dir);
    DIR *dir = opendir(dir_path);
    if (!dir) return 0;
    int n = 0, cap = 0;
    log_file *files = NULL;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".log")) continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir_path, e->d_name);
        char *text = bns_read_file(path, NULL);
        if (!text) continue;
        bns_profile_proc pr = {.rank = -1};
        double begin;
        if (sscanf(text, "begin run=%63s rank=%d size=%d host=%64s pid=%ld time=%lf", pr.run, &pr.rank, &pr.size,
                   pr.host, &pr.pid, &begin) != 6) {
            out->n_bad++;
            free(text);
            continue;
        }
        pr.begin = pr.end = begin;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            log_file *grown = bns_xmalloc(sizeof *files * (size_t)cap);
            if (n) memcpy(grown, files, sizeof *files * (size_t)n);
            free(files);
            files = grown;
        }
        files[n++] = (log_file){text, pr};
    }
    closedir(dir);
    if (n) qsort(files, (size_t)n, sizeof *files, by_run_then_rank);
    out->procs = bns_xcalloc((size_t)n + 1, sizeof *out->procs);
    out->n_procs = n;
    for (int i = 0; i < n; i++) {
        out->procs[i] = files[i].proc;
        char *line = strchr(files[i].text, '\n');
        while (line && *++line) {
            char *next = strchr(line, '\n');
            if (next) *next = '\0';
            double t;
            long rss = 0;
            if (!strncmp(line, "task ", 5)) {
                read_task_line(out, plan, i, line);
            } else if (sscanf(line, "end time=%lf rss_kb=%ld", &t, &rss) >= 1) {
                out->procs[i].ended = 1;
                if (t > out->procs[i].end) out->procs[i].end = t;
                if (rss > out->procs[i].peak_rss_kb) out->procs[i].peak_rss_kb = rss;
            } else if (line[0]) {
                out->n_bad++;
            }
            line = next;
        }
        free(files[i].text);
    }
    free(files);
    return 0;
}

void bns_profile_free(bns_profile *p) {
    free(p->procs);
    free(p->tasks);
    memset(p, 0, sizeof *p);
}

int bns_profile_seconds(const bns_profile *p, const bns_plan *plan, const double *fallback, double *seconds) {
    int measured = 0;
    for (int t = 0; t < plan->n_tasks; t++) {
        const bns_profile_time *m = &p->tasks[t];
        if (m->proc >= 0 && m->rc == 0) {
            seconds[t] = m->end - m->start;
            measured++;
        } else {
            seconds[t] = fallback ? fallback[t] : 0.0;
        }
    }
    return measured;
}

/* ---- a simulated schedule ---- */

double bns_profile_simulate(const bns_plan *plan, const double *priority, const double *seconds, int ranks) {
    int n = plan->n_tasks;
    int *waiting = bns_xcalloc((size_t)n + 1, sizeof *waiting);
    double *finish = bns_xcalloc((size_t)n + 1, sizeof *finish);
    bns_task_heap ready, running; /* the scheduler's order (task_heap.h); finish times, earliest first */
    bns_task_heap_init(&ready, priority, 1, n);
    bns_task_heap_init(&running, finish, 0, n);
    for (int t = 0; t < n; t++) {
        waiting[t] = plan->tasks[t].n_deps;
        if (!waiting[t]) bns_task_heap_push(&ready, t);
    }
    double now = 0.0;
    int free_ranks = ranks;
    for (;;) {
        while (free_ranks > 0 && ready.n) {
            int t = bns_task_heap_pop(&ready);
            finish[t] = now + seconds[t];
            bns_task_heap_push(&running, t);
            free_ranks--;
        }
        if (!running.n) break;
        now = finish[running.item[0]];
        while (running.n && finish[running.item[0]] == now) { /* every task ending now frees its rank first */
            int t = bns_task_heap_pop(&running);
            free_ranks++;
            for (int k = 0; k < plan->tasks[t].n_dependents; k++) {
                int d = plan->tasks[t].dependents[k];
                if (--waiting[d] == 0) bns_task_heap_push(&ready, d);
            }
        }
    }
    free(waiting);
    free(finish);
    bns_task_heap_free(&ready);
    bns_task_heap_free(&running);
    return now;
}
