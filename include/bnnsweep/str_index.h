/* str_index.h - strings to numbers in a hash table: the label look-ups of
 * the sweep's cube (cube.c, runner.c) that were a scan of every label per
 * look-up, quadratic in a sweep's models and tasks.
 *
 * Open addressing over bns_hash64 (rng.h); keys are not copied (they must
 * outlive the index). O(1) expected per add and find.
 */
#ifndef BNNSWEEP_STR_INDEX_H
#define BNNSWEEP_STR_INDEX_H

#include <stddef.h>

typedef struct {
    const char **key;   /* n_slots; NULL = empty */
    long *value;
    size_t n_slots, n;
} bns_str_index;

void bns_str_index_init(bns_str_index *ix);
void bns_str_index_free(bns_str_index *ix);
/* The value stored under key, or -1. */
long bns_str_index_find(const bns_str_index *ix, const char *key);
/* The value already stored under key; else stores value under key and
 * returns it. value must be >= 0. */
long bns_str_index_add(bns_str_index *ix, const char *key, long value);

#endif
