/* str_index.c - a string hash table (see str_index.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/error.h"
#include "bnnsweep/rng.h"
#include "bnnsweep/str_index.h"

void bns_str_index_init(bns_str_index *ix) { memset(ix, 0, sizeof *ix); }

void bns_str_index_free(bns_str_index *ix) {
    free(ix->key);
    free(ix->value);
    memset(ix, 0, sizeof *ix);
}

/* the slot of key, or of the empty slot where it would go (n_slots is a power of 2) */
static size_t slot_of(const bns_str_index *ix, const char *key) {
    size_t mask = ix->n_slots - 1, h = (size_t)bns_hash64(key) & mask;
    while (ix->key[h] && strcmp(ix->key[h], key) != 0) h = (h + 1) & mask;
    return h;
}

long bns_str_index_find(const bns_str_index *ix, const char *key) {
    if (!ix->n_slots) return -1;
    size_t h = slot_of(ix, key);
    return ix->key[h] ? ix->value[h] : -1;
}

static void grow(bns_str_index *ix) {
    bns_str_index old = *ix;
    ix->n_slots = old.n_slots ? 2 * old.n_slots : 64;
    ix->key = bns_xcalloc(ix->n_slots, sizeof *ix->key);
    ix->value = bns_xcalloc(ix->n_slots, sizeof *ix->value);
    for (size_t i = 0; i < old.n_slots; i++)
        if (old.key[i]) {
            size_t h = slot_of(ix, old.key[i]);
            ix->key[h] = old.key[i];
            ix->value[h] = old.value[i];
        }
    free(old.key);
    free(old.value);
}

long bns_str_index_add(bns_str_index *ix, const char *key, long value) {
    if (2 * (ix->n + 1) > ix->n_slots) grow(ix); /* at most half full: short probes */
    size_t h = slot_of(ix, key);
    if (ix->key[h]) return ix->value[h];
    ix->key[h] = key;
    ix->value[h] = value;
    ix->n++;
    return value;
}
