/* rng.c - Philox4x32-10 streams (see rng.h). */
#include <math.h>

#include <Random123/philox.h>

#include "bnnsweep/rng.h"

void bns_philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]) {
    philox4x32_ctr_t c = {{counter[0], counter[1], counter[2], counter[3]}};
    philox4x32_key_t k = {{key[0], key[1]}};
    philox4x32_ctr_t r = philox4x32(c, k);
    for (int i = 0; i < 4; i++) out[i] = r.v[i];
}

bns_stream bns_stream_make(uint64_t seed, uint64_t task, uint32_t purpose) {
    /* Derive the stream key by one Philox call keyed by the seed: distinct
     * (task, purpose) pairs give unrelated keys. The constant tags the use. */
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t ctr[4] = {(uint32_t)task, (uint32_t)(task >> 32), purpose, 0xB5EE0001u};
    uint32_t out[4];
    bns_philox4x32(ctr, key, out);
    bns_stream s = {{out[0], out[1]}};
    return s;
}

static void block(const bns_stream *s, uint64_t sub, uint64_t blk, uint32_t out[4]) {
    uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), (uint32_t)sub, (uint32_t)(sub >> 32)};
    bns_philox4x32(ctr, s->key, out);
}

/* 24 random bits centred in their cell: never exactly 0 or 1, so log(u) is finite. */
static inline float u32_to_open01(uint32_t x) {
    return ((float)(x >> 8) + 0.5f) * (1.0f / 16777216.0f);
}

void bns_stream_uniform(const bns_stream *s, uint64_t sub, uint64_t offset, size_t n, float *out) {
    uint32_t r[4];
    uint64_t blk = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        uint64_t idx = offset + i;
        if (idx / 4 != blk) {
            blk = idx / 4;
            block(s, sub, blk, r);
        }
        out[i] = u32_to_open01(r[idx % 4]);
    }
}

/* Box-Muller on (u0,u1) -> (z0,z1) and (u2,u3) -> (z2,z3). */
static void normal_block(const bns_stream *s, uint64_t sub, uint64_t blk, float z[4]) {
    uint32_t r[4];
    block(s, sub, blk, r);
    for (int p = 0; p < 4; p += 2) {
        float radius = sqrtf(-2.0f * logf(u32_to_open01(r[p])));
        float angle = 6.2831853071795864f * u32_to_open01(r[p + 1]);
        z[p] = radius * cosf(angle);
        z[p + 1] = radius * sinf(angle);
    }
}

void bns_stream_normal(const bns_stream *s, uint64_t sub, uint64_t offset, size_t n, float *out) {
    float z[4];
    size_t i = 0;
    /* unaligned head */
    while (i < n && (offset + i) % 4 != 0) {
        uint64_t idx = offset + i;
        normal_block(s, sub, idx / 4, z);
        out[i++] = z[idx % 4];
    }
    for (; i + 4 <= n; i += 4) {
        normal_block(s, sub, (offset + i) / 4, out + i);
    }
    if (i < n) {
        normal_block(s, sub, (offset + i) / 4, z);
        for (int k = 0; i < n; i++, k++) out[i] = z[k];
    }
}

uint64_t bns_stream_u64(const bns_stream *s, uint64_t sub, uint64_t index) {
    uint32_t r[4];
    block(s, sub, index / 2, r);
    int lane = (int)(index % 2) * 2;
    return ((uint64_t)r[lane + 1] << 32) | r[lane];
}

uint64_t bns_stream_below(const bns_stream *s, uint64_t sub, uint64_t index, uint64_t n) {
    unsigned __int128 product = (unsigned __int128)bns_stream_u64(s, sub, index) * n;
    return (uint64_t)(product >> 64);
}

void bns_stream_permutation(const bns_stream *s, uint64_t sub, size_t n, uint32_t *perm) {
    for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)bns_stream_below(s, sub, i, i);
        uint32_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}

uint64_t bns_hash64(const char *text) {
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return h;
}
