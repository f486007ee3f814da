/* task_heap.c - a binary heap of task indices (see task_heap.h). */
#include <stdio.h>
#include <stdlib.h>

#include "bnnsweep/task_heap.h"
#include "bnnsweep/error.h"

void bns_task_heap_init(bns_task_heap *h, const double *key, int max_first, int capacity) {
    h->cap = capacity > 0 ? capacity : 1;
    h->item = bns_xmalloc(sizeof *h->item * (size_t)h->cap);
    h->n = 0;
    h->key = key;
    h->max_first = max_first;
    h->compares = 0;
}

void bns_task_heap_free(bns_task_heap *h) {
    free(h->item);
    h->item = NULL;
    h->n = h->cap = 0;
}

static int before(bns_task_heap *h, int a, int b) {
    h->compares++;
    return bns_task_heap_before(h, a, b);
}

int bns_task_heap_before(const bns_task_heap *h, int a, int b) {
    double ka = h->key ? h->key[a] : 0, kb = h->key ? h->key[b] : 0;
    if (ka != kb) return h->max_first ? ka > kb : ka < kb;
    return a < b;
}

void bns_task_heap_push(bns_task_heap *h, int task) {
    if (h->n >= h->cap) {
        fprintf(stderr, "bnnsweep: task heap full (%d tasks)\n", h->cap);
        abort();
    }
    int i = h->n++;
    while (i > 0) { /* sift up: move parents down until task's place is found */
        int parent = (i - 1) / 2;
        if (!before(h, task, h->item[parent])) break;
        h->item[i] = h->item[parent];
        i = parent;
    }
    h->item[i] = task;
}

int bns_task_heap_pop(bns_task_heap *h) {
    if (h->n == 0) return -1;
    int top = h->item[0], last = h->item[--h->n], i = 0;
    for (;;) { /* sift the last item down from the root */
        int l = 2 * i + 1, r = l + 1, m = l;
        if (l >= h->n) break;
        if (r < h->n && before(h, h->item[r], h->item[l])) m = r;
        if (!before(h, h->item[m], last)) break;
        h->item[i] = h->item[m];
        i = m;
    }
    if (h->n > 0) h->item[i] = last;
    return top;
}
