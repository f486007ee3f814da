/* rng.c - Philox4x32-10 streams (see rng.h). */
#include "vecmath.h"

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

/* 24 random bits centred in their cell, in (0, 1), so log(u) is finite. In
 * float, 2^24 - 1 + 0.5 rounds (to even) up to 2^24, i.e. u = 1 exactly, for
 * the top cell alone; it is clamped to the largest float below 1 (every
 * other input is at most that already, so no other value changes). The
 * comparison form compiles to one vector min. */
static inline float u32_to_open01(uint32_t x) {
    float u = ((float)(x >> 8) + 0.5f) * (1.0f / 16777216.0f);
    return u < 0x1.fffffep-1f ? u : 0x1.fffffep-1f;
}

/* Normals come in groups of 64: Philox blocks 16g .. 16g+15 of the substream,
 * each block's (u0,u1) and (u2,u3) turned into two normals by Box-Muller.
 * The group is always computed whole, with fixed-trip loops that GCC
 * vectorises (Philox's 32x32->64 multiplies, libmvec's logf/sinf/cosf), so
 * normal number j has the same value however a caller slices the stream. */
enum { GROUP_BLOCKS = 16, GROUP_NORMALS = 4 * GROUP_BLOCKS };

/* The 16 blocks' counters are held in 64-bit lanes (values below 2^32):
 * GCC vectorises the 32x32->64 multiplies of that form (vpmullq on AVX-512,
 * three vpmuludq on AVX2), but not those of 32-bit lanes, whose product is
 * used both high and low: those it compiled to scalar code, 3x slower, which
 * made Philox most of the cost of a normal. Integer arithmetic: the same bits. */
static void philox_group(const bns_stream *s, uint64_t sub, uint64_t first_block, uint32_t r[4][GROUP_BLOCKS]) {
    uint64_t c0[GROUP_BLOCKS], c1[GROUP_BLOCKS], c2[GROUP_BLOCKS], c3[GROUP_BLOCKS];
    for (int k = 0; k < GROUP_BLOCKS; k++) {
        uint64_t blk = first_block + (uint64_t)k;
        c0[k] = (uint32_t)blk;
        c1[k] = (uint32_t)(blk >> 32);
        c2[k] = (uint32_t)sub;
        c3[k] = (uint32_t)(sub >> 32);
    }
    uint64_t k0 = s->key[0], k1 = s->key[1];
    /* Philox4x32-10 (Salmon et al. 2011), the same bijection as Random123's. */
    for (int round = 0; round < 10; round++) {
        for (int k = 0; k < GROUP_BLOCKS; k++) {
            uint64_t p0 = 0xD2511F53u * (c0[k] & 0xFFFFFFFFu), p1 = 0xCD9E8D57u * (c2[k] & 0xFFFFFFFFu);
            uint64_t n0 = (p1 >> 32) ^ c1[k] ^ k0, n2 = (p0 >> 32) ^ c3[k] ^ k1;
            c1[k] = p1 & 0xFFFFFFFFu;
            c3[k] = p0 & 0xFFFFFFFFu;
            c0[k] = n0;
            c2[k] = n2;
        }
        k0 = (uint32_t)(k0 + 0x9E3779B9u);
        k1 = (uint32_t)(k1 + 0xBB67AE85u);
    }
    for (int k = 0; k < GROUP_BLOCKS; k++) {
        r[0][k] = (uint32_t)c0[k];
        r[1][k] = (uint32_t)c1[k];
        r[2][k] = (uint32_t)c2[k];
        r[3][k] = (uint32_t)c3[k];
    }
}

/* Uniform number i is word i % 4 of block i / 4 of the substream; they are
 * made 64 at a time by the vectorised group (the same values as one block at
 * a time: dropout draws one per unit and row, so this is its hot loop). */
void bns_stream_uniform(const bns_stream *s, uint64_t sub, uint64_t offset, size_t n, float *out) {
    enum { GROUP_UNIFORMS = 4 * GROUP_BLOCKS };
    uint32_t r[4][GROUP_BLOCKS];
    for (size_t i = 0; i < n;) {
        uint64_t idx = offset + i;
        size_t first = (size_t)(idx % GROUP_UNIFORMS), count = GROUP_UNIFORMS - first;
        if (count > n - i) count = n - i;
        philox_group(s, sub, idx / GROUP_UNIFORMS * GROUP_BLOCKS, r);
        if (count == GROUP_UNIFORMS) {
            /* a whole group (all but a call's ends): convert lane by lane,
             * which vectorises, then interleave; the same values as below
             * (uniform 4k + c is block k's word c) without a % and / each */
            float u[4][GROUP_BLOCKS];
            for (int c = 0; c < 4; c++)
                for (int k = 0; k < GROUP_BLOCKS; k++) u[c][k] = u32_to_open01(r[c][k]);
            for (int k = 0; k < GROUP_BLOCKS; k++)
                for (int c = 0; c < 4; c++) out[i + 4 * (size_t)k + (size_t)c] = u[c][k];
        } else {
            for (size_t j = 0; j < count; j++) {
                size_t q = first + j;
                out[i + j] = u32_to_open01(r[q % 4][q / 4]);
            }
        }
        i += count;
    }
}

static void normal_group(const bns_stream *s, uint64_t sub, uint64_t group, float out[GROUP_NORMALS]) {
    uint32_t r[4][GROUP_BLOCKS];
    philox_group(s, sub, group * GROUP_BLOCKS, r);
    /* pair p of block k: (r[0],r[1]) for p = 0, (r[2],r[3]) for p = 1;
     * pair q = p * GROUP_BLOCKS + k in the flat arrays below */
    float radius[2 * GROUP_BLOCKS], angle[2 * GROUP_BLOCKS], cos_part[2 * GROUP_BLOCKS], sin_part[2 * GROUP_BLOCKS];
    float u_radius[2 * GROUP_BLOCKS], u_angle[2 * GROUP_BLOCKS];
    for (int k = 0; k < GROUP_BLOCKS; k++) {
        u_radius[k] = u32_to_open01(r[0][k]);
        u_angle[k] = u32_to_open01(r[1][k]);
        u_radius[GROUP_BLOCKS + k] = u32_to_open01(r[2][k]);
        u_angle[GROUP_BLOCKS + k] = u32_to_open01(r[3][k]);
    }
    for (int q = 0; q < 2 * GROUP_BLOCKS; q++) radius[q] = sqrtf(-2.0f * logf(u_radius[q]));
    for (int q = 0; q < 2 * GROUP_BLOCKS; q++) angle[q] = 6.2831853071795864f * u_angle[q];
    /* separate loops, so the compiler keeps vector cosf and sinf rather
     * than fusing them into a scalar sincosf call */
    for (int q = 0; q < 2 * GROUP_BLOCKS; q++) cos_part[q] = radius[q] * cosf(angle[q]);
    for (int q = 0; q < 2 * GROUP_BLOCKS; q++) sin_part[q] = radius[q] * sinf(angle[q]);
    for (int k = 0; k < GROUP_BLOCKS; k++) {
        out[4 * k + 0] = cos_part[k];
        out[4 * k + 1] = sin_part[k];
        out[4 * k + 2] = cos_part[GROUP_BLOCKS + k];
        out[4 * k + 3] = sin_part[GROUP_BLOCKS + k];
    }
}

void bns_stream_normal(const bns_stream *s, uint64_t sub, uint64_t offset, size_t n, float *out) {
    float tmp[GROUP_NORMALS];
    size_t i = 0;
    while (i < n) {
        uint64_t idx = offset + i, group = idx / GROUP_NORMALS;
        size_t within = (size_t)(idx % GROUP_NORMALS), take = GROUP_NORMALS - within;
        if (take > n - i) take = n - i;
        if (within == 0 && take == GROUP_NORMALS) {
            normal_group(s, sub, group, out + i);
        } else {
            normal_group(s, sub, group, tmp);
            for (size_t k = 0; k < take; k++) out[i + k] = tmp[within + k];
        }
        i += take;
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
    uint64_t h = 14695981039346656037ull; /* FNV-1a 64-bit offset basis */
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return h;
}
