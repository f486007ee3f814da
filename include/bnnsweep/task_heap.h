/* task_heap.h - task indices in a binary heap, ordered by a key per task.
 *
 * The longest-first pick of the scheduler (scheduler.c) and of its replay
 * (profile.c, bns_profile_simulate): with max_first, the task of largest
 * key[t] comes out first, equal keys by smaller index; without, smallest key
 * first (finish times), equal keys by smaller index. Task indices are
 * distinct, so this is a total order and the pops are the same as picking
 * the best of all waiting tasks each time (what scheduler.c did before, one
 * linear scan per pick: quadratic in the ready tasks), in O(log n) each.
 * key NULL: every key 0 (the order of the indices).
 */
#ifndef BNNSWEEP_TASK_HEAP_H
#define BNNSWEEP_TASK_HEAP_H

typedef struct {
    int *item;         /* the heap, item[0] first out */
    int n, cap;
    const double *key; /* per task index (may be NULL) */
    int max_first;
    long compares;     /* order comparisons so far: O(log n) per push and pop (tests check the bound) */
} bns_task_heap;

/* Room for capacity tasks (a task is pushed at most once per schedule, so
 * the task count is enough; push beyond it aborts). */
void bns_task_heap_init(bns_task_heap *h, const double *key, int max_first, int capacity);
void bns_task_heap_free(bns_task_heap *h);
/* 1 when task a comes out before task b */
int bns_task_heap_before(const bns_task_heap *h, int a, int b);
void bns_task_heap_push(bns_task_heap *h, int task);
/* The first task, removed; -1 when empty. */
int bns_task_heap_pop(bns_task_heap *h);

#endif
