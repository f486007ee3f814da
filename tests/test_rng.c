/* test_rng.c - Philox4x32-10 streams (rng.h).
 *
 * Known-answer vectors of Random123 (kat_vectors, philox4x32_10), then the
 * properties the rest of the project relies on: a number depends only on
 * (seed, task, purpose, substream, index), never on how it was read (order,
 * chunking, alignment); distinct keys give distinct numbers; the normal and
 * uniform transforms have the right moments and never hit the open interval's
 * ends; permutations are permutations; bounded integers stay in range.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bnnsweep/rng.h"

/* ---- known answers (Random123 kat_vectors) ---- */

static void expect_philox(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1,
                          uint32_t o0, uint32_t o1, uint32_t o2, uint32_t o3) {
    const uint32_t ctr[4] = {c0, c1, c2, c3}, key[2] = {k0, k1};
    uint32_t out[4];
    bns_philox4x32(ctr, key, out);
    const uint32_t want[4] = {o0, o1, o2, o3};
    for (int i = 0; i < 4; i++)
        if (out[i] != want[i])
            fail_msg("philox4x32-10(%08x %08x %08x %08x; %08x %08x)[%d] = %08x, want %08x", c0, c1, c2, c3, k0,
                     k1, i, out[i], want[i]);
}

static void test_philox_known_answers(void **state) {
    (void)state;
    expect_philox(0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8);
    expect_philox(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e,
                  0xa20bc7c6, 0x6d5451fd);
    expect_philox(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb,
                  0x5001e420, 0x24126ea1);
}

/* ---- reproducibility and independence of reading order ---- */

enum { N_REF = 1003 };

static void test_same_key_same_numbers(void **state) {
    (void)state;
    bns_stream a = bns_stream_make(42, 7, BNS_PURPOSE_DATA), b = bns_stream_make(42, 7, BNS_PURPOSE_DATA);
    assert_memory_equal(a.key, b.key, sizeof a.key);
    float x[64], y[64];
    bns_stream_normal(&a, 3, 0, 64, x);
    bns_stream_normal(&b, 3, 0, 64, y);
    assert_memory_equal(x, y, sizeof x);
    bns_stream_uniform(&a, 3, 0, 64, x);
    bns_stream_uniform(&b, 3, 0, 64, y);
    assert_memory_equal(x, y, sizeof x);
}

typedef void (*fill_fn)(const bns_stream *, uint64_t, uint64_t, size_t, float *);

/* Reading [0, n) in two pieces [0, a) + [a, n), at every split point, one
 * number at a time in reverse order, and windows at unaligned offsets, must
 * give exactly the numbers of one call. */
static void check_chunking(fill_fn fill, const char *what) {
    bns_stream s = bns_stream_make(2024, 99, BNS_PURPOSE_DATA);
    const uint64_t sub = 5;
    float ref[N_REF], got[N_REF];
    fill(&s, sub, 0, N_REF, ref);
    for (size_t a = 0; a <= 40; a++) {
        memset(got, 0, sizeof got);
        fill(&s, sub, 0, a, got);
        fill(&s, sub, a, N_REF - a, got + a);
        if (memcmp(got, ref, sizeof ref) != 0) fail_msg("%s: split at %zu differs from one call", what, a);
    }
    for (size_t a = N_REF - 9; a <= N_REF; a++) {
        fill(&s, sub, 0, a, got);
        fill(&s, sub, a, N_REF - a, got + a);
        if (memcmp(got, ref, sizeof ref) != 0) fail_msg("%s: split at %zu differs from one call", what, a);
    }
    /* one number at a time, backwards */
    for (size_t i = N_REF; i-- > 0;) fill(&s, sub, i, 1, got + i);
    if (memcmp(got, ref, sizeof ref) != 0) fail_msg("%s: reading one at a time backwards differs", what);
    /* unaligned windows of every length up to 13 at offsets 0..11 */
    for (uint64_t off = 0; off < 12; off++)
        for (size_t len = 0; len <= 13; len++) {
            float win[16];
            fill(&s, sub, off, len, win);
            if (len && memcmp(win, ref + off, len * sizeof(float)) != 0)
                fail_msg("%s: window [%llu, +%zu) differs", what, (unsigned long long)off, len);
        }
    /* three pieces with odd boundaries */
    fill(&s, sub, 0, 333, got);
    fill(&s, sub, 333, 7, got + 333);
    fill(&s, sub, 340, N_REF - 340, got + 340);
    if (memcmp(got, ref, sizeof ref) != 0) fail_msg("%s: 333 + 7 + rest differs", what);
}

static void test_normal_chunking(void **state) {
    (void)state;
    check_chunking(bns_stream_normal, "normal");
}

static void test_uniform_chunking(void **state) {
    (void)state;
    check_chunking(bns_stream_uniform, "uniform");
}

/* Uniform i of a substream is word i % 4 of Philox block i / 4 (counter
 * {block lo, block hi, sub lo, sub hi}, the stream's key), as 24 bits
 * centred in their cell: checked one by one against the plain Philox call,
 * across group boundaries and beyond 2^32 numbers. */
static void test_uniform_is_philox_words(void **state) {
    (void)state;
    bns_stream s = bns_stream_make(11, 4, BNS_PURPOSE_WEIGHT);
    const uint64_t offsets[] = {0, 61, 1000003, (uint64_t)1 << 33};
    const uint64_t sub = ((uint64_t)7 << 32) | 5;
    float got[150];
    for (int o = 0; o < 4; o++) {
        bns_stream_uniform(&s, sub, offsets[o], 150, got);
        for (int i = 0; i < 150; i++) {
            uint64_t idx = offsets[o] + (uint64_t)i, blk = idx / 4;
            uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), (uint32_t)sub, (uint32_t)(sub >> 32)}, out[4];
            bns_philox4x32(ctr, s.key, out);
            float want = ((float)(out[idx % 4] >> 8) + 0.5f) * (1.0f / 16777216.0f);
            if (got[i] != want) fail_msg("offset %llu + %d: %.9g, want %.9g", (unsigned long long)offsets[o], i, got[i], want);
        }
    }
}

/* Large offsets (beyond 2^32 numbers) address different blocks. */
static void test_large_offsets(void **state) {
    (void)state;
    bns_stream s = bns_stream_make(1, 0, BNS_PURPOSE_DATA);
    float a[8], b[8], c[8];
    const uint64_t far = (1ull << 34) + 2; /* unaligned, block index above 2^32 */
    bns_stream_normal(&s, 0, 2, 8, a);
    bns_stream_normal(&s, 0, far, 8, b);
    assert_memory_not_equal(a, b, sizeof a);
    for (int i = 0; i < 8; i++) bns_stream_normal(&s, 0, far + (uint64_t)i, 1, c + i);
    assert_memory_equal(b, c, sizeof b);
}

static int count_equal(const float *a, const float *b, size_t n) {
    int same = 0;
    for (size_t i = 0; i < n; i++) same += a[i] == b[i];
    return same;
}

static void expect_streams_differ(bns_stream a, bns_stream b, const char *what) {
    enum { N = 256 };
    float x[N], y[N];
    bns_stream_uniform(&a, 0, 0, N, x);
    bns_stream_uniform(&b, 0, 0, N, y);
    /* 24-bit uniforms of independent streams coincide with probability 2^-24 each */
    if (count_equal(x, y, N) > 2) fail_msg("%s: streams share %d of %d numbers", what, count_equal(x, y, N), N);
    bns_stream_normal(&a, 0, 0, N, x);
    bns_stream_normal(&b, 0, 0, N, y);
    if (count_equal(x, y, N) > 2) fail_msg("%s: normal streams share numbers", what);
}

static void test_different_keys_differ(void **state) {
    (void)state;
    bns_stream base = bns_stream_make(42, 7, BNS_PURPOSE_DATA);
    expect_streams_differ(base, bns_stream_make(42, 7, BNS_PURPOSE_INIT), "purpose");
    expect_streams_differ(base, bns_stream_make(42, 7, BNS_PURPOSE_WEIGHT), "purpose weight");
    expect_streams_differ(base, bns_stream_make(42, 8, BNS_PURPOSE_DATA), "task");
    expect_streams_differ(base, bns_stream_make(43, 7, BNS_PURPOSE_DATA), "seed");
    /* the high 32 bits of seed and task are part of the key too */
    expect_streams_differ(base, bns_stream_make(42 + (1ull << 32), 7, BNS_PURPOSE_DATA), "seed high bits");
    expect_streams_differ(base, bns_stream_make(42, 7 + (1ull << 32), BNS_PURPOSE_DATA), "task high bits");
    /* all purposes pairwise distinct */
    for (uint32_t p = BNS_PURPOSE_INIT; p <= BNS_PURPOSE_DATA; p++)
        for (uint32_t q = p + 1; q <= BNS_PURPOSE_DATA; q++) {
            bns_stream a = bns_stream_make(1, 0, p), b = bns_stream_make(1, 0, q);
            if (a.key[0] == b.key[0] && a.key[1] == b.key[1]) fail_msg("purposes %u and %u share a key", p, q);
        }
}

static void test_substreams_differ(void **state) {
    (void)state;
    bns_stream s = bns_stream_make(3, 1, BNS_PURPOSE_WEIGHT);
    enum { N = 256 };
    float x[N], y[N];
    for (uint64_t sub = 0; sub < 4; sub++) {
        bns_stream_normal(&s, sub, 0, N, x);
        bns_stream_normal(&s, sub + 1, 0, N, y);
        assert_true(count_equal(x, y, N) <= 2);
        /* substream ids above 2^32 are distinct from their low halves */
        bns_stream_normal(&s, sub + (1ull << 32), 0, N, y);
        assert_true(count_equal(x, y, N) <= 2);
    }
}

/* ---- distributions ---- */

static void test_normal_moments(void **state) {
    (void)state;
    enum { N = 1000000 };
    float *z = malloc(sizeof(float) * N);
    assert_non_null(z);
    bns_stream s = bns_stream_make(11, 0, BNS_PURPOSE_DATA);
    bns_stream_normal(&s, 0, 0, N, z);
    double m1 = 0, m2 = 0, m4 = 0, lane_mean[4] = {0}, lane_var[4] = {0};
    for (size_t i = 0; i < N; i++) {
        double v = z[i];
        assert_true(isfinite(v));
        m1 += v;
        m2 += v * v;
        m4 += v * v * v * v;
        lane_mean[i % 4] += v;
        lane_var[i % 4] += v * v;
    }
    m1 /= N;
    m2 /= N;
    m4 /= N;
    double var = m2 - m1 * m1;
    /* standard errors: mean 1/sqrt(N), variance sqrt(2/N), E z^4 sqrt(96/N) */
    double se_mean = 1.0 / sqrt(N), se_var = sqrt(2.0 / N), se_m4 = sqrt(96.0 / N);
    if (fabs(m1) > 5 * se_mean) fail_msg("normal mean %g (se %g)", m1, se_mean);
    if (fabs(var - 1) > 5 * se_var) fail_msg("normal variance %g (se %g)", var, se_var);
    if (fabs(m4 - 3) > 5 * se_m4) fail_msg("normal 4th moment %g (se %g)", m4, se_m4);
    /* each Box-Muller lane (cos and sin halves) is standard normal on its own */
    for (int l = 0; l < 4; l++) {
        double mean = lane_mean[l] / (N / 4), v = lane_var[l] / (N / 4) - mean * mean;
        if (fabs(mean) > 5 * se_mean * 2) fail_msg("lane %d mean %g", l, mean);
        if (fabs(v - 1) > 5 * se_var * 2) fail_msg("lane %d variance %g", l, v);
    }
    /* neighbours uncorrelated (the pair of a Box-Muller draw included) */
    double c01 = 0, c12 = 0;
    for (size_t i = 0; i + 1 < N; i += 2) c01 += (double)z[i] * z[i + 1];
    for (size_t i = 1; i + 1 < N; i += 2) c12 += (double)z[i] * z[i + 1];
    c01 /= N / 2;
    c12 /= N / 2 - 1;
    if (fabs(c01) > 5 * sqrt(2.0 / N)) fail_msg("correlation of Box-Muller pairs %g", c01);
    if (fabs(c12) > 5 * sqrt(2.0 / N)) fail_msg("correlation across pairs %g", c12);
    /* tails: P(|z| > 3) = 0.0026998 */
    size_t tail = 0;
    for (size_t i = 0; i < N; i++) tail += fabsf(z[i]) > 3.0f;
    double p = 0.0026998, se_p = sqrt(p * (1 - p) / N);
    if (fabs((double)tail / N - p) > 5 * se_p) fail_msg("P(|z|>3) = %g, want %g", (double)tail / N, p);
    free(z);
}

static void test_uniform_open_interval(void **state) {
    (void)state;
    enum { N = 1000000 };
    float *u = malloc(sizeof(float) * N);
    assert_non_null(u);
    bns_stream s = bns_stream_make(12, 0, BNS_PURPOSE_DATA);
    bns_stream_uniform(&s, 0, 0, N, u);
    double m1 = 0, m2 = 0;
    float lo = 1, hi = 0;
    for (size_t i = 0; i < N; i++) {
        if (!(u[i] > 0.0f && u[i] < 1.0f)) fail_msg("uniform %zu = %.9g is not in (0,1)", i, u[i]);
        lo = u[i] < lo ? u[i] : lo;
        hi = u[i] > hi ? u[i] : hi;
        m1 += u[i];
        m2 += (double)u[i] * u[i];
    }
    m1 /= N;
    double var = m2 / N - m1 * m1;
    /* sd of U(0,1) is 1/sqrt(12); sd of its square-deviation ~ sqrt(1/180) */
    if (fabs(m1 - 0.5) > 5 * sqrt(1.0 / 12 / N)) fail_msg("uniform mean %g", m1);
    if (fabs(var - 1.0 / 12) > 5 * sqrt(1.0 / 180 / N)) fail_msg("uniform variance %g", var);
    assert_true(lo < 1e-4f && hi > 1 - 1e-4f); /* covers the interval */
    free(u);
}

/* Known answer for the top cell: Philox word 7169056 of (seed 12, task 0,
 * DATA) substream 0 is 0xffffff89, whose 24 bits 2^24 - 1 give
 * (2^24 - 0.5) / 2^24, which float rounds to exactly 1. It must come out as
 * the largest float below 1, its neighbours as the plain formula; and the
 * Box-Muller pair that uses it as radius draw has radius
 * sqrt(-2 log(1 - 2^-24)), not 0. */
static void test_uniform_top_cell(void **state) {
    (void)state;
    const uint64_t at = 7169056;
    bns_stream s = bns_stream_make(12, 0, BNS_PURPOSE_DATA);
    uint32_t ctr[4] = {(uint32_t)(at / 4), 0, 0, 0}, out[4];
    bns_philox4x32(ctr, s.key, out);
    assert_int_equal(out[at % 4], 0xffffff89u);
    float u[3];
    bns_stream_uniform(&s, 0, at - 1, 3, u);
    if (u[1] != 0x1.fffffep-1f) fail_msg("top cell: %.9g, want 1 - 2^-24", u[1]);
    for (int i = 0; i < 3; i += 2) {
        uint64_t idx = at - 1 + (uint64_t)i;
        uint32_t c[4] = {(uint32_t)(idx / 4), 0, 0, 0}, o[4];
        bns_philox4x32(c, s.key, o);
        float want = ((float)(o[idx % 4] >> 8) + 0.5f) * (1.0f / 16777216.0f);
        if (u[i] != want) fail_msg("uniform %llu: %.9g, want %.9g", (unsigned long long)idx, u[i], want);
    }
    float z[2];
    bns_stream_normal(&s, 0, at, 2, z); /* words 0 (radius) and 1 (angle) of the block */
    double r = sqrt((double)z[0] * z[0] + (double)z[1] * z[1]), want = sqrt(-2.0 * log(0x1.fffffep-1));
    if (!(fabs(r - want) < 1e-3 * want)) fail_msg("radius %.6g, want %.6g", r, want);
}

/* ---- integers and permutations ---- */

static void test_below_in_range(void **state) {
    (void)state;
    bns_stream s = bns_stream_make(5, 5, BNS_PURPOSE_SHUFFLE);
    const uint64_t ns[] = {1, 2, 3, 7, 10, 1000, (1ull << 33) + 5, UINT64_MAX};
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
        uint64_t max_seen = 0;
        for (uint64_t i = 0; i < 20000; i++) {
            uint64_t v = bns_stream_below(&s, 1, i, ns[k]);
            if (v >= ns[k]) fail_msg("below(%llu) gave %llu", (unsigned long long)ns[k], (unsigned long long)v);
            max_seen = v > max_seen ? v : max_seen;
        }
        /* the top of the range is reached (or nearly, for huge n) */
        if (ns[k] <= 1000) assert_true(max_seen == ns[k] - 1);
        else assert_true(max_seen > ns[k] / 2);
    }
    /* uniformity over 10 values: chi-square with 9 dof, 99.99% quantile ~ 33.7 */
    enum { DRAWS = 100000 };
    long counts[10] = {0};
    for (uint64_t i = 0; i < DRAWS; i++) counts[bns_stream_below(&s, 2, i, 10)]++;
    double chi2 = 0;
    for (int c = 0; c < 10; c++) chi2 += (counts[c] - DRAWS / 10.0) * (counts[c] - DRAWS / 10.0) / (DRAWS / 10.0);
    if (chi2 > 33.7) fail_msg("below(10) chi-square %g", chi2);
    /* u64 reads are reproducible and index-addressed */
    assert_true(bns_stream_u64(&s, 3, 17) == bns_stream_u64(&s, 3, 17));
    assert_true(bns_stream_u64(&s, 3, 17) != bns_stream_u64(&s, 3, 18));
    assert_true(bns_stream_u64(&s, 3, 17) != bns_stream_u64(&s, 4, 17));
}

static void expect_permutation(const uint32_t *perm, size_t n) {
    char *seen = calloc(n ? n : 1, 1);
    for (size_t i = 0; i < n; i++) {
        if (perm[i] >= n) fail_msg("perm[%zu] = %u is out of range %zu", i, perm[i], n);
        if (seen[perm[i]]) fail_msg("perm has %u twice", perm[i]);
        seen[perm[i]] = 1;
    }
    free(seen);
}

static void test_permutation(void **state) {
    (void)state;
    enum { N = 1000 };
    bns_stream s = bns_stream_make(9, 2, BNS_PURPOSE_SHUFFLE);
    uint32_t a[N], b[N], c[N];
    bns_stream_permutation(&s, 1, N, a);
    bns_stream_permutation(&s, 2, N, b);
    bns_stream_permutation(&s, 1, N, c);
    expect_permutation(a, N);
    expect_permutation(b, N);
    assert_memory_equal(a, c, sizeof a); /* reproducible */
    int same = 0, fixed = 0;
    for (int i = 0; i < N; i++) {
        same += a[i] == b[i];
        fixed += a[i] == (uint32_t)i;
    }
    /* two random permutations agree in ~1 place, and have ~1 fixed point */
    assert_true(same < 10);
    assert_true(fixed < 10);
    /* every position is reachable: over many small permutations each element
     * lands everywhere with frequency ~ 1/n */
    enum { M = 5, REPS = 20000 };
    long where[M][M] = {{0}};
    for (uint64_t r = 0; r < REPS; r++) {
        uint32_t p[M];
        bns_stream_permutation(&s, 1000 + r, M, p);
        expect_permutation(p, M);
        for (int i = 0; i < M; i++) where[p[i]][i]++;
    }
    for (int v = 0; v < M; v++)
        for (int i = 0; i < M; i++) {
            double expect = (double)REPS / M, se = sqrt(expect);
            if (fabs(where[v][i] - expect) > 6 * se) fail_msg("value %d at %d: %ld times, want ~%g", v, i, where[v][i], expect);
        }
    /* edge sizes */
    uint32_t one[1] = {77};
    bns_stream_permutation(&s, 0, 1, one);
    assert_int_equal(one[0], 0);
    bns_stream_permutation(&s, 0, 0, one); /* must not touch anything */
}

static void test_hash64(void **state) {
    (void)state;
    /* FNV-1a 64 reference values (offset basis 14695981039346656037 =
     * 0xcbf29ce484222325, prime 1099511628211).
     * Regression: src/core/rng.c once started from 1469598103934665603 (the
     * basis without its last digit), which is not FNV-1a as rng.h promises;
     * fixed in 94a7130. */
    if (bns_hash64("") != 0xcbf29ce484222325ull)
        fail_msg("bns_hash64(\"\") = %016llx, want FNV-1a offset basis cbf29ce484222325 "
                 "(src/core/rng.c: basis constant lacks its last digit)",
                 (unsigned long long)bns_hash64(""));
    assert_true(bns_hash64("a") == 0xaf63dc4c8601ec8cull);
    assert_true(bns_hash64("foobar") == 0x85944171f73967e8ull);
    /* whatever the basis, distinct short keys hash apart */
    assert_true(bns_hash64("task-1") != bns_hash64("task-2"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_philox_known_answers),
        cmocka_unit_test(test_uniform_is_philox_words),
        cmocka_unit_test(test_same_key_same_numbers),
        cmocka_unit_test(test_normal_chunking),
        cmocka_unit_test(test_uniform_chunking),
        cmocka_unit_test(test_large_offsets),
        cmocka_unit_test(test_different_keys_differ),
        cmocka_unit_test(test_substreams_differ),
        cmocka_unit_test(test_normal_moments),
        cmocka_unit_test(test_uniform_open_interval),
        cmocka_unit_test(test_uniform_top_cell),
        cmocka_unit_test(test_below_in_range),
        cmocka_unit_test(test_permutation),
        cmocka_unit_test(test_hash64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
