/* rng.h - counter-based random streams (Philox4x32-10, Random123).
 *
 * Every random number in bnnsweep is a pure function of (seed, task, purpose,
 * substream, index): a stream is keyed by (seed, task, purpose) and any
 * number in it can be computed directly, in any order, on any rank. Results
 * therefore never depend on rank count, scheduling order or batching.
 *
 * Counter layout: (index / 4) in words 0-1, the 64-bit substream id in words
 * 2-3; one Philox call yields 4 uint32 = 4 uniforms = 4 normals (Box-Muller).
 */
#ifndef BNNSWEEP_RNG_H
#define BNNSWEEP_RNG_H

#include <stddef.h>
#include <stdint.h>

/* What a stream is used for: part of its key, so streams never overlap. */
enum bns_purpose {
    BNS_PURPOSE_INIT = 1,      /* parameter initialisation */
    BNS_PURPOSE_SHUFFLE = 2,   /* minibatch order, substream = epoch */
    BNS_PURPOSE_WEIGHT = 3,    /* training noise: BBB weights, dropout masks; substream = step */
    BNS_PURPOSE_LRT = 4,       /* LRT pre-activation noise, substream = step */
    BNS_PURPOSE_PREDICT = 5,   /* weight samples for evaluation, substream = run */
    BNS_PURPOSE_VALIDATE = 6,  /* weight samples for validation during training */
    BNS_PURPOSE_ATTACK = 7,
    BNS_PURPOSE_DATA = 8,      /* synthetic data (noise OOD sets, tests) */
};

typedef struct {
    uint32_t key[2];
} bns_stream;

bns_stream bns_stream_make(uint64_t seed, uint64_t task, uint32_t purpose);

/* The raw Philox4x32-10 bijection: out = philox(counter, key). */
void bns_philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

/* Numbers [offset, offset + n) of substream `sub`. */
void bns_stream_uniform(const bns_stream *s, uint64_t sub, uint64_t offset, size_t n, float *out); /* in (0,1) */
void bns_stream_normal(const bns_stream *s, uint64_t sub, uint64_t offset, size_t n, float *out);  /* N(0,1) */
uint64_t bns_stream_u64(const bns_stream *s, uint64_t sub, uint64_t index);
/* Uniform integer in [0, n) (multiply-shift on 64 bits; bias below n / 2^64). */
uint64_t bns_stream_below(const bns_stream *s, uint64_t sub, uint64_t index, uint64_t n);

/* Fisher-Yates permutation of 0..n-1 from substream `sub`. */
void bns_stream_permutation(const bns_stream *s, uint64_t sub, size_t n, uint32_t *perm);

/* 64-bit FNV-1a of a string: turns a task's key text into a task id. */
uint64_t bns_hash64(const char *text);

#endif
