/* scheduler.c - longest-first dynamic scheduling over MPI (see scheduler.h).
 *
 * Rank 0: the main thread owns the graph and all MPI traffic; a compute
 * thread runs the tasks rank 0 gives itself and wakes the main thread when
 * one finishes. Waiting is a loop of MPI_Test calls and short sleeps (50 us
 * growing to 1 ms), not a blocking receive (Open MPI spins in those, which
 * would steal the core the compute thread needs).
 * Other ranks: receive a task index, run it, send back a result; -1 stops.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bnnsweep/error.h"
#include "bnnsweep/scheduler.h"
#include "bnnsweep/task_heap.h"
#include "bnnsweep/util.h"

enum { TAG_TASK = 101, TAG_RESULT = 102, STOP = -1 };

typedef struct {
    int task;
    int ok;
    double seconds;
    char host[64];
    char error[256];
} task_result;

/* Waits between polls: 50 us doubling to 1 ms while nothing happens, back to
 * 50 us after anything did (*level = 0). An answer that comes soon (the
 * next task for a worker that has just sent its result; a result of a tiny
 * task) is seen within microseconds, not a whole millisecond per task; a
 * long wait still polls only once a millisecond. */
enum { NAP_MIN_NS = 50000, NAP_MAX_NS = 1000000 };
static long nap_ns(int *level) {
    long ns = (long)NAP_MIN_NS << *level;
    if (ns >= NAP_MAX_NS) ns = NAP_MAX_NS;
    else (*level)++;
    return ns;
}

static void nap(int *level) {
    struct timespec ts = {0, nap_ns(level)};
    nanosleep(&ts, NULL);
}

static void run_one(int task, bns_task_run run, void *ctx, task_result *out) {
    memset(out, 0, sizeof *out);
    out->task = task;
    gethostname(out->host, sizeof out->host - 1);
    double t0 = bns_now_seconds();
    out->ok = run(task, ctx, out->error, sizeof out->error) == 0;
    out->seconds = bns_now_seconds() - t0;
    if (!out->ok && !out->error[0]) snprintf(out->error, sizeof out->error, "task failed");
}

/* ---- rank 0's compute thread ---- */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;     /* a task or stop for the compute thread */
    pthread_cond_t finished_cond; /* the compute thread finished one: the main thread need not wait for its nap */
    int task;        /* assigned task, -1 none */
    int finished;    /* result holds a finished task */
    int stop;
    task_result result;
    bns_task_run run;
    void *ctx;
} local_worker;

static void *local_main(void *arg) {
    local_worker *lw = arg;
    pthread_mutex_lock(&lw->lock);
    for (;;) {
        while (lw->task < 0 && !lw->stop) pthread_cond_wait(&lw->wake, &lw->lock);
        if (lw->task < 0 && lw->stop) break;
        int task = lw->task;
        pthread_mutex_unlock(&lw->lock);
        task_result r;
        run_one(task, lw->run, lw->ctx, &r);
        pthread_mutex_lock(&lw->lock);
        lw->result = r;
        lw->finished = 1;
        lw->task = -1;
        pthread_cond_signal(&lw->finished_cond);
    }
    pthread_mutex_unlock(&lw->lock);
    return NULL;
}

/* ---- worker ranks ---- */
static int worker_loop(MPI_Comm comm, bns_task_run run, void *ctx) {
    for (;;) {
        int task, level = 0;
        MPI_Request req;
        if (MPI_Irecv(&task, 1, MPI_INT, 0, TAG_TASK, comm, &req) != MPI_SUCCESS) return -1;
        int done = 0;
        while (!done) {
            if (MPI_Test(&req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) return -1;
            if (!done) nap(&level);
        }
        if (task == STOP) return 0;
        task_result r;
        run_one(task, run, ctx, &r);
        if (MPI_Send(&r, (int)sizeof r, MPI_BYTE, 0, TAG_RESULT, comm) != MPI_SUCCESS) return -1;
    }
}

/* ---- rank 0: the graph ---- */
typedef struct {
    const bns_task_graph *g;
    bns_task_record *rec;
    int *unmet;          /* dependencies not yet DONE */
    int *dep_count;      /* dependents of each task */
    int **dependents;
    bns_task_heap ready; /* ready tasks, longest first (task_heap.h) */
    bns_sched_counts counts;
    bns_sched_event on_event;
    void *event_ctx;
} graph_state;

static void announce(graph_state *st, int task) {
    if (st->on_event) st->on_event(task, st->rec, st->g->n_tasks, &st->counts, st->event_ctx);
}

/* The ready task of largest cost, ties by smaller index (so the order is the
 * same on every run), marked running. The heap gives exactly the pick of a
 * scan over all ready tasks (task_heap.h), in O(log n) rather than O(n). */
static int pop_longest(graph_state *st) {
    int task = bns_task_heap_pop(&st->ready);
    st->rec[task].state = BNS_TASK_RUNNING;
    st->counts.pending--;
    st->counts.running++;
    return task;
}

static void skip_dependents(graph_state *st, int task) {
    for (int k = 0; k < st->dep_count[task]; k++) {
        int d = st->dependents[task][k];
        if (st->rec[d].state != BNS_TASK_PENDING) continue;
        st->rec[d].state = BNS_TASK_SKIPPED;
        st->counts.pending--;
        st->counts.failed++;
        snprintf(st->rec[d].error, sizeof st->rec[d].error, "skipped: dependency %d did not finish", task);
        announce(st, d);
        skip_dependents(st, d);
    }
}

static void finish(graph_state *st, const task_result *r, int rank) {
    bns_task_record *rec = &st->rec[r->task];
    rec->rank = rank;
    rec->seconds = r->seconds;
    snprintf(rec->host, sizeof rec->host, "%s", r->host);
    snprintf(rec->error, sizeof rec->error, "%s", r->error);
    rec->state = r->ok ? BNS_TASK_DONE : BNS_TASK_FAILED;
    st->counts.running--;
    if (r->ok) st->counts.done++;
    else st->counts.failed++;
    announce(st, r->task);
    if (!r->ok) {
        skip_dependents(st, r->task);
        return;
    }
    for (int k = 0; k < st->dep_count[r->task]; k++) {
        int d = st->dependents[r->task][k];
        if (--st->unmet[d] == 0 && st->rec[d].state == BNS_TASK_PENDING) bns_task_heap_push(&st->ready, d);
    }
}

static int schedule_root(MPI_Comm comm, int size, const bns_task_graph *g, bns_task_record *rec, bns_task_run run,
                         void *run_ctx, bns_sched_event on_event, void *event_ctx) {
    int n = g->n_tasks, rc = 0;
    graph_state st = {g, rec, bns_xcalloc(n + 1, sizeof(int)), bns_xcalloc(n + 1, sizeof(int)),
                      bns_xcalloc(n + 1, sizeof(int *)), {0}, {0}, on_event, event_ctx};
    bns_task_heap_init(&st.ready, g->cost, 1, n); /* each task becomes ready at most once */
    for (int t = 0; t < n; t++)
        for (int k = 0; k < g->n_deps[t]; k++) st.dep_count[g->deps[t][k]]++;
    for (int t = 0; t < n; t++) st.dependents[t] = bns_xcalloc(st.dep_count[t] + 1, sizeof(int));
    int *fill = bns_xcalloc(n + 1, sizeof(int));
    for (int t = 0; t < n; t++)
        for (int k = 0; k < g->n_deps[t]; k++) {
            int d = g->deps[t][k];
            st.dependents[d][fill[d]++] = t;
        }
    free(fill);
    for (int t = 0; t < n; t++) {
        rec[t].rank = -1;
        if (rec[t].state != BNS_TASK_DONE) rec[t].state = BNS_TASK_PENDING;
        if (rec[t].state == BNS_TASK_DONE) st.counts.done++;
        else st.counts.pending++;
    }
    for (int t = 0; t < n; t++) {
        if (rec[t].state != BNS_TASK_PENDING) continue;
        for (int k = 0; k < g->n_deps[t]; k++) st.unmet[t] += rec[g->deps[t][k]].state != BNS_TASK_DONE;
        if (st.unmet[t] == 0) bns_task_heap_push(&st.ready, t);
    }

    local_worker lw = {.task = -1, .run = run, .ctx = run_ctx};
    pthread_mutex_init(&lw.lock, NULL);
    pthread_cond_init(&lw.wake, NULL);
    pthread_cond_init(&lw.finished_cond, NULL);
    pthread_t thread;
    pthread_create(&thread, NULL, local_main, &lw);
    int local_busy = 0;

    int n_remote = size - 1;
    int *remote_task = bns_xmalloc(sizeof(int) * (n_remote + 1));
    MPI_Request *reqs = bns_xmalloc(sizeof(MPI_Request) * (n_remote + 1));
    task_result *results = bns_xmalloc(sizeof(task_result) * (n_remote + 1));
    for (int w = 0; w < n_remote; w++) {
        remote_task[w] = -1;
        reqs[w] = MPI_REQUEST_NULL;
    }
    int running = 0, level = 0;
    for (;;) {
        /* hand out ready tasks: remote ranks first, so rank 0's own thread
         * takes what is left */
        for (int w = 0; w < n_remote && st.ready.n > 0; w++) {
            if (remote_task[w] >= 0) continue;
            int task = pop_longest(&st);
            remote_task[w] = task;
            if (MPI_Send(&task, 1, MPI_INT, w + 1, TAG_TASK, comm) != MPI_SUCCESS ||
                MPI_Irecv(&results[w], (int)sizeof(task_result), MPI_BYTE, w + 1, TAG_RESULT, comm, &reqs[w]) !=
                    MPI_SUCCESS) {
                rc = -1;
                goto out;
            }
            running++;
        }
        if (!local_busy && st.ready.n > 0) {
            int task = pop_longest(&st);
            pthread_mutex_lock(&lw.lock);
            lw.task = task;
            pthread_cond_signal(&lw.wake);
            pthread_mutex_unlock(&lw.lock);
            local_busy = 1;
            running++;
        }
        if (running == 0) break;

        int progressed = 0;
        for (int w = 0; w < n_remote; w++) {
            if (remote_task[w] < 0) continue;
            int done = 0;
            if (MPI_Test(&reqs[w], &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
                rc = -1;
                goto out;
            }
            if (!done) continue;
            remote_task[w] = -1;
            running--;
            progressed = 1;
            finish(&st, &results[w], w + 1);
        }
        if (local_busy) {
            task_result r;
            int got = 0;
            pthread_mutex_lock(&lw.lock);
            if (!lw.finished && !progressed) {
                /* nothing came in: wait for the compute thread for up to
                 * a nap, woken at once when it finishes (a tiny task then
                 * costs no nap of its own), then poll the ranks again */
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                until.tv_nsec += n_remote ? nap_ns(&level) : NAP_MAX_NS; /* no ranks to poll: no hurry */
                if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
                pthread_cond_timedwait(&lw.finished_cond, &lw.lock, &until);
                progressed = -1; /* waited: no nap after this */
            }
            if (lw.finished) {
                r = lw.result;
                lw.finished = 0;
                got = 1;
            }
            pthread_mutex_unlock(&lw.lock);
            if (got) {
                local_busy = 0;
                running--;
                progressed = 1;
                finish(&st, &r, 0);
            }
        }
        if (progressed == 1) level = 0;
        else if (progressed == 0) nap(&level);
    }
    /* anything still pending had an unsatisfiable dependency (a cycle) */
    for (int t = 0; t < n; t++)
        if (rec[t].state == BNS_TASK_PENDING) {
            rec[t].state = BNS_TASK_SKIPPED;
            st.counts.pending--;
            st.counts.failed++;
            snprintf(rec[t].error, sizeof rec[t].error, "skipped: dependency cycle");
            announce(&st, t);
        }
out:
    for (int w = 0; w < n_remote; w++) {
        int stop = STOP;
        MPI_Send(&stop, 1, MPI_INT, w + 1, TAG_TASK, comm);
    }
    pthread_mutex_lock(&lw.lock);
    lw.stop = 1;
    pthread_cond_signal(&lw.wake);
    pthread_mutex_unlock(&lw.lock);
    pthread_join(thread, NULL);
    pthread_mutex_destroy(&lw.lock);
    pthread_cond_destroy(&lw.wake);
    pthread_cond_destroy(&lw.finished_cond);
    free(remote_task);
    free(reqs);
    free(results);
    for (int t = 0; t < n; t++) free(st.dependents[t]);
    free(st.dependents);
    free(st.dep_count);
    free(st.unmet);
    bns_task_heap_free(&st.ready);
    if (rc) return rc;
    for (int t = 0; t < n; t++)
        if (rec[t].state != BNS_TASK_DONE) return 1;
    return 0;
}

int bns_schedule(MPI_Comm comm, const bns_task_graph *graph, bns_task_record *records, bns_task_run run,
                 void *run_ctx, bns_sched_event on_event, void *event_ctx) {
    if (comm == MPI_COMM_NULL) /* one process without MPI: the compute thread does it all */
        return schedule_root(comm, 1, graph, records, run, run_ctx, on_event, event_ctx);
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int rc;
    if (rank == 0)
        rc = schedule_root(comm, size, graph, records, run, run_ctx, on_event, event_ctx);
    else
        rc = worker_loop(comm, run, run_ctx);
    /* everyone learns the outcome */
    MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
    return rc;
}
