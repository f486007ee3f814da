/* test_idx.c - IDX reader/writer and dataset loading.
 *
 * Small files are built in $BNS_TEST_TMP (created here if needed), then
 * broken in each way a download can be broken; every case must fail with a
 * message that says what is wrong and names the file. The real-MNIST test runs
 * only if fetch-data.sh has populated the data directory, and skips otherwise.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"
#include <zlib.h>

#include "bnnsweep/dataset.h"
#include "bnnsweep/error.h"
#include "bnnsweep/idx.h"
#include "bnnsweep/util.h"


/* ---- helpers ---- */


static int setup_tmp(void **state) {
    (void)state;
    const char *base = getenv("BNS_TEST_TMP");
    if (base && base[0]) snprintf(tmp_dir, sizeof tmp_dir, "%s/test_idx", base);
    else snprintf(tmp_dir, sizeof tmp_dir, "/tmp/bnnsweep-test_idx.%ld", (long)getpid());
    mkdir_p(tmp_dir);
    return 0;
}


static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint8_t next_byte(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint8_t)(rng_state >> 32);
}

static bns_idx make_idx(int rank, const uint32_t *dims) {
    bns_idx idx = {.rank = rank, .count = 1};
    for (int i = 0; i < rank; i++) {
        idx.dims[i] = dims[i];
        idx.count *= dims[i];
    }
    idx.data = malloc(idx.count);
    for (size_t i = 0; i < idx.count; i++) idx.data[i] = next_byte();
    return idx;
}

static void write_bytes(const char *path, const void *buf, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static uint8_t *read_bytes(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void write_gz_bytes(const char *path, const void *buf, size_t len) {
    gzFile gz = gzopen(path, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, buf, (unsigned)len), (int)len);
    assert_int_equal(gzclose(gz), Z_OK);
}

/* Read must fail and the message must contain every given substring. */
static void expect_read_error(const char *path, ...) {
    bns_idx idx;
    bns_clear_error();
    assert_int_equal(bns_idx_read(path, &idx), -1);
    assert_null(idx.data);
    const char *msg = bns_last_error();
    assert_non_null(strstr(msg, path)); /* every error names the file */
    va_list ap;
    va_start(ap, path);
    for (const char *want; (want = va_arg(ap, const char *));) {
        if (!strstr(msg, want)) fail_msg("error \"%s\" lacks \"%s\"", msg, want);
    }
    va_end(ap);
}

static void expect_error_contains(const char *want) {
    const char *msg = bns_last_error();
    if (!strstr(msg, want)) fail_msg("error \"%s\" lacks \"%s\"", msg, want);
}

/* A raw IDX file with a hand-made header (4-byte magic, dims) and n data bytes. */
static void write_raw_idx(const char *path, const uint8_t magic[4], const uint32_t *dims,
                          int ndims, size_t n_data) {
    uint8_t buf[4 + 4 * 8 + 256];
    size_t len = 0;
    memcpy(buf, magic, 4);
    len = 4;
    for (int i = 0; i < ndims; i++) {
        buf[len++] = (uint8_t)(dims[i] >> 24);
        buf[len++] = (uint8_t)(dims[i] >> 16);
        buf[len++] = (uint8_t)(dims[i] >> 8);
        buf[len++] = (uint8_t)dims[i];
    }
    assert_true(n_data <= 256);
    for (size_t i = 0; i < n_data; i++) buf[len++] = next_byte();
    write_bytes(path, buf, len);
}

/* ---- IDX round trip ---- */

static void round_trip(int gzip) {
    char path[4200];
    tmp_path(path, sizeof path, gzip ? "roundtrip.idx.gz" : "roundtrip.idx");
    const uint32_t dims[3] = {7, 5, 3};
    bns_idx in = make_idx(3, dims), back;
    assert_int_equal(bns_idx_write(path, &in, gzip), 0);

    size_t len;
    uint8_t *file = read_bytes(path, &len);
    if (gzip) {
        assert_int_equal(file[0], 0x1f);
        assert_int_equal(file[1], 0x8b);
    } else {
        static const uint8_t header[16] = {0, 0, 8, 3, 0, 0, 0, 7, 0, 0, 0, 5, 0, 0, 0, 3};
        assert_int_equal(len, 16 + in.count);
        assert_memory_equal(file, header, 16);
    }
    free(file);

    assert_int_equal(bns_idx_read(path, &back), 0);
    assert_int_equal(back.rank, 3);
    assert_int_equal(back.dims[0], 7);
    assert_int_equal(back.dims[1], 5);
    assert_int_equal(back.dims[2], 3);
    assert_int_equal(back.count, in.count);
    assert_memory_equal(back.data, in.data, in.count);

    /* No temporary file is left next to the result. */
    char tmp[4300];
    assert_int_equal(bns_temp_path(path, tmp, sizeof tmp), 0);
    assert_int_not_equal(access(tmp, F_OK), 0);

    bns_idx_free(&back);
    assert_null(back.data);
    free(in.data);
}

static void test_round_trip_raw(void **state) {
    (void)state;
    round_trip(0);
}

static void test_round_trip_gzip(void **state) {
    (void)state;
    round_trip(1);
}

static void test_round_trip_ranks_1_and_4(void **state) {
    (void)state;
    char path[4200];
    tmp_path(path, sizeof path, "rank.idx");
    const uint32_t d1[1] = {300}, d4[4] = {2, 3, 4, 5};
    bns_idx a = make_idx(1, d1), b = make_idx(4, d4), back;
    assert_int_equal(bns_idx_write(path, &a, 0), 0);
    assert_int_equal(bns_idx_read(path, &back), 0);
    assert_int_equal(back.rank, 1);
    assert_int_equal(back.dims[0], 300);
    assert_memory_equal(back.data, a.data, a.count);
    bns_idx_free(&back);
    assert_int_equal(bns_idx_write(path, &b, 1), 0); /* overwrites atomically */
    assert_int_equal(bns_idx_read(path, &back), 0);
    assert_int_equal(back.rank, 4);
    assert_int_equal(back.count, 120);
    assert_memory_equal(back.data, b.data, b.count);
    bns_idx_free(&back);
    free(a.data);
    free(b.data);
}

static void test_write_rejects_bad_idx(void **state) {
    (void)state;
    char path[4200];
    tmp_path(path, sizeof path, "bad-write.idx");
    uint8_t byte = 0;
    bns_idx bad = {.rank = 5, .dims = {1, 1, 1, 1}, .count = 1, .data = &byte};
    assert_int_equal(bns_idx_write(path, &bad, 0), -1);
    expect_error_contains("rank");
    bad.rank = 2; /* count 1 is right for 1x1 */
    bad.count = 3;
    assert_int_equal(bns_idx_write(path, &bad, 0), -1);
    expect_error_contains("product");
}

/* ---- malformed files ---- */

static void test_missing_file(void **state) {
    (void)state;
    char path[4200];
    tmp_path(path, sizeof path, "does-not-exist.idx");
    expect_read_error(path, "cannot open", "No such file", NULL);
}

static void test_truncated_raw(void **state) {
    (void)state;
    char path[4200];
    tmp_path(path, sizeof path, "truncated.idx");
    const uint32_t dims[2] = {10, 10};
    bns_idx idx = make_idx(2, dims);
    assert_int_equal(bns_idx_write(path, &idx, 0), 0);
    size_t len;
    uint8_t *file = read_bytes(path, &len);
    write_bytes(path, file, len - 37); /* header 12 bytes + 63 of the 100 data bytes */
    expect_read_error(path, "truncated", "expected 100", "found 63", NULL);

    write_bytes(path, file, 9); /* cut inside the dimensions */
    expect_read_error(path, "truncated header", NULL);
    write_bytes(path, file, 0);
    expect_read_error(path, "truncated header", NULL);
    free(file);
    free(idx.data);
}

static void test_truncated_gzip(void **state) {
    (void)state;
    char path[4200];
    tmp_path(path, sizeof path, "truncated.idx.gz");
    const uint32_t dims[2] = {100, 50};
    bns_idx idx = make_idx(2, dims);
    assert_int_equal(bns_idx_write(path, &idx, 1), 0);
    size_t len;
    uint8_t *file = read_bytes(path, &len);
    write_bytes(path, file, len / 2);
    expect_read_error(path, "truncated gzip", "unexpected end of file", NULL);
    /* Cut only the 8-byte trailer (CRC + length): all data decompress, the
     * end of stream does not arrive. */
    write_bytes(path, file, len - 4);
    expect_read_error(path, "truncated gzip", NULL);
    free(file);
    free(idx.data);
}

static void test_corrupt_gzip(void **state) {
    (void)state;
    char path[4200];
    tmp_path(path, sizeof path, "corrupt.idx.gz");
    const uint32_t dims[2] = {100, 50};
    bns_idx idx = make_idx(2, dims); /* random bytes: deflate stores them, so only the CRC can notice */
    assert_int_equal(bns_idx_write(path, &idx, 1), 0);
    size_t len;
    uint8_t *file = read_bytes(path, &len);
    for (size_t i = len / 2; i < len / 2 + 8; i++) file[i] ^= 0x5a;
    write_bytes(path, file, len);
    expect_read_error(path, "corrupt gzip", "zlib", NULL);

    /* Compressible data: flipped bits land in the Huffman-coded stream. */
    memset(idx.data, 7, idx.count);
    assert_int_equal(bns_idx_write(path, &idx, 1), 0);
    free(file);
    file = read_bytes(path, &len);
    for (size_t i = 12; i < len - 8; i++) file[i] ^= 0xff;
    write_bytes(path, file, len);
    expect_read_error(path, "gzip", "zlib", NULL);
    free(file);
    free(idx.data);
}

static void test_wrong_magic(void **state) {
    (void)state;
    char path[4200];
    tmp_path(path, sizeof path, "magic.idx");
    const uint32_t dims[1] = {4};
    const uint8_t magic[4] = {0x12, 0x34, 0x08, 0x01};
    write_raw_idx(path, magic, dims, 1, 4);
    expect_read_error(path, "magic", NULL);
    write_bytes(path, "hello, world, this is text\n", 27);
    expect_read_error(path, "magic", NULL);
}

static void test_wrong_type(void **state) {
    (void)state;
    char path[4200];
    tmp_path(path, sizeof path, "type.idx");
    const uint32_t dims[1] = {4};
    const uint8_t magic[4] = {0, 0, 0x0d, 0x01}; /* 0x0d = float */
    write_raw_idx(path, magic, dims, 1, 16);
    expect_read_error(path, "type 0x0d", NULL);
}

static void test_bad_rank(void **state) {
    (void)state;
    char path[4200];
    tmp_path(path, sizeof path, "rank-bad.idx");
    const uint32_t dims[5] = {1, 1, 1, 1, 1};
    const uint8_t rank0[4] = {0, 0, 8, 0}, rank5[4] = {0, 0, 8, 5};
    write_raw_idx(path, rank0, dims, 0, 1);
    expect_read_error(path, "rank 0", NULL);
    write_raw_idx(path, rank5, dims, 5, 1);
    expect_read_error(path, "rank 5", NULL);
}

static void test_bad_dims(void **state) {
    (void)state;
    char path[4200];
    tmp_path(path, sizeof path, "dims.idx");
    const uint8_t magic2[4] = {0, 0, 8, 2}, magic4[4] = {0, 0, 8, 4};
    const uint32_t zero[2] = {3, 0};
    write_raw_idx(path, magic2, zero, 2, 0);
    expect_read_error(path, "dimension 1 is zero", NULL);
    /* 2^128 elements: must be refused without wrapping or allocating. */
    const uint32_t huge[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    write_raw_idx(path, magic4, huge, 4, 16);
    expect_read_error(path, "absurd", NULL);
    /* Plausible-looking but lying header: 60000 x 28 x 28 with 16 bytes of data. */
    const uint8_t magic3[4] = {0, 0, 8, 3};
    const uint32_t mnist[3] = {60000, 28, 28};
    write_raw_idx(path, magic3, mnist, 3, 16);
    expect_read_error(path, "truncated", "expected 47040000", "found 16", NULL);
}

static void test_trailing_garbage(void **state) {
    (void)state;
    char path[4200];
    tmp_path(path, sizeof path, "trailing.idx");
    const uint32_t dims[2] = {3, 4};
    const uint8_t magic[4] = {0, 0, 8, 2};
    write_raw_idx(path, magic, dims, 2, 12 + 5);
    expect_read_error(path, "trailing garbage", "5 bytes", NULL);

    /* The same inside a gzip stream. */
    tmp_path(path, sizeof path, "trailing.idx.gz");
    uint8_t buf[4 + 8 + 20] = {0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 4};
    write_gz_bytes(path, buf, sizeof buf);
    expect_read_error(path, "trailing garbage", "8 bytes", NULL);
}

/* ---- datasets ---- */

/* n images of rows x cols with pixel value (i*7 + j) % 256, labels as given. */
static void write_image_set(const char *images_path, const char *labels_path, uint32_t n,
                            uint32_t n_labels, const uint8_t *labels, int gzip) {
    const uint32_t dims[3] = {n, 2, 3};
    bns_idx images = make_idx(3, dims);
    for (size_t i = 0; i < images.count; i++) images.data[i] = (uint8_t)((i * 7) % 256);
    assert_int_equal(bns_idx_write(images_path, &images, gzip), 0);
    bns_idx lab = {.rank = 1, .dims = {n_labels}, .count = n_labels, .data = (uint8_t *)labels};
    assert_int_equal(bns_idx_write(labels_path, &lab, gzip), 0);
    free(images.data);
}

static void test_dataset_load_and_slice(void **state) {
    (void)state;
    char ipath[4200], lpath[4200];
    tmp_path(ipath, sizeof ipath, "set-images.idx.gz");
    tmp_path(lpath, sizeof lpath, "set-labels.idx");
    const uint8_t labels[6] = {0, 1, 2, 9, 4, 5};
    write_image_set(ipath, lpath, 6, 6, labels, 1);
    /* Mixed compression on purpose: the reader goes by content. */
    bns_idx lab = {.rank = 1, .dims = {6}, .count = 6, .data = (uint8_t *)labels};
    assert_int_equal(bns_idx_write(lpath, &lab, 0), 0);

    bns_dataset ds, sl;
    assert_int_equal(bns_dataset_load_idx(ipath, lpath, BNS_PIXEL_SCALE_0_2, &ds), 0);
    assert_int_equal(ds.n, 6);
    assert_int_equal(ds.d, 6);
    assert_int_equal(ds.n_classes, 10);
    assert_string_equal(ds.name, "set-images.idx.gz");
    for (size_t i = 0; i < ds.n * ds.d; i++)
        assert_true(ds.x[i] == (float)((i * 7) % 256) * (1.0f / 127.5f));
    assert_memory_equal(ds.y, labels, 6);

    assert_int_equal(bns_dataset_slice(&ds, 2, 3, &sl), 0);
    assert_int_equal(sl.n, 3);
    assert_int_equal(sl.d, 6);
    assert_int_equal(sl.n_classes, 10);
    assert_memory_equal(sl.x, ds.x + 2 * 6, 3 * 6 * sizeof(float));
    assert_memory_equal(sl.y, labels + 2, 3);
    assert_ptr_not_equal(sl.x, ds.x + 12); /* a copy, not a view */
    bns_dataset_free(&sl);
    assert_null(sl.x);

    assert_int_equal(bns_dataset_slice(&ds, 0, 6, &sl), 0); /* whole set */
    bns_dataset_free(&sl);
    assert_int_equal(bns_dataset_slice(&ds, 4, 3, &sl), -1);
    expect_error_contains("outside");
    assert_int_equal(bns_dataset_slice(&ds, 7, 0, &sl), -1);
    assert_int_equal(bns_dataset_slice(&ds, 1, SIZE_MAX, &sl), -1); /* begin+count wraps */
    bns_dataset_free(&ds);
}

static void test_pixel_scaling(void **state) {
    (void)state;
    char ipath[4200], lpath[4200];
    tmp_path(ipath, sizeof ipath, "scale-images.idx");
    tmp_path(lpath, sizeof lpath, "scale-labels.idx");
    uint8_t pixels[4] = {0, 1, 128, 255}, label = 3;
    bns_idx images = {.rank = 3, .dims = {1, 2, 2}, .count = 4, .data = pixels};
    bns_idx labels = {.rank = 1, .dims = {1}, .count = 1, .data = &label};
    assert_int_equal(bns_idx_write(ipath, &images, 0), 0);
    assert_int_equal(bns_idx_write(lpath, &labels, 0), 0);

    bns_dataset ds;
    assert_int_equal(bns_dataset_load_idx(ipath, lpath, BNS_PIXEL_SCALE_0_2, &ds), 0);
    assert_true(ds.x[0] == 0.0f);
    assert_true(ds.x[3] == 2.0f); /* 255 / 127.5 is exactly 2 after float rounding */
    assert_float_equal(ds.x[2], 128.0 / 127.5, 1e-6);
    bns_dataset_free(&ds);
    assert_int_equal(bns_dataset_load_idx(ipath, lpath, BNS_PIXEL_SCALE_0_1, &ds), 0);
    assert_true(ds.x[3] == 1.0f);
    assert_float_equal(ds.x[1], 1.0 / 255.0, 1e-9);
    bns_dataset_free(&ds);
    assert_int_equal(bns_dataset_load_idx(ipath, lpath, 0.0f, &ds), -1);
    expect_error_contains("pixel_scale");
}

static void test_dataset_count_mismatch(void **state) {
    (void)state;
    char ipath[4200], lpath[4200];
    tmp_path(ipath, sizeof ipath, "mismatch-images.idx");
    tmp_path(lpath, sizeof lpath, "mismatch-labels.idx");
    const uint8_t labels[4] = {1, 2, 3, 4};
    write_image_set(ipath, lpath, 5, 4, labels, 0);
    bns_dataset ds;
    assert_int_equal(bns_dataset_load_idx(ipath, lpath, 1.0f, &ds), -1);
    assert_null(ds.x);
    expect_error_contains("mismatch");
    expect_error_contains(ipath);
    expect_error_contains(lpath);
    expect_error_contains("5 images");
    expect_error_contains("4 labels");
}

static void test_dataset_bad_label(void **state) {
    (void)state;
    char ipath[4200], lpath[4200];
    tmp_path(ipath, sizeof ipath, "badlabel-images.idx");
    tmp_path(lpath, sizeof lpath, "badlabel-labels.idx");
    const uint8_t labels[3] = {1, 10, 2};
    write_image_set(ipath, lpath, 3, 3, labels, 0);
    bns_dataset ds;
    assert_int_equal(bns_dataset_load_idx(ipath, lpath, 1.0f, &ds), -1);
    expect_error_contains(lpath);
    expect_error_contains("label 10 at index 1");
}

static void test_dataset_images_not_rank3(void **state) {
    (void)state;
    char ipath[4200], lpath[4200];
    tmp_path(ipath, sizeof ipath, "rank2-images.idx");
    tmp_path(lpath, sizeof lpath, "rank2-labels.idx");
    const uint32_t dims[2] = {3, 4};
    bns_idx images = make_idx(2, dims);
    uint8_t labels[3] = {0, 1, 2};
    bns_idx lab = {.rank = 1, .dims = {3}, .count = 3, .data = labels};
    assert_int_equal(bns_idx_write(ipath, &images, 0), 0);
    assert_int_equal(bns_idx_write(lpath, &lab, 0), 0);
    bns_dataset ds;
    assert_int_equal(bns_dataset_load_idx(ipath, lpath, 1.0f, &ds), -1);
    expect_error_contains(ipath);
    expect_error_contains("rank-3");
    free(images.data);
}

/* ---- data directory and the MNIST / Fashion-MNIST loaders ---- */

static void restore_env(const char *name, const char *saved) {
    if (saved) setenv(name, saved, 1);
    else unsetenv(name);
}

static void test_data_dir(void **state) {
    (void)state;
    char *saved[3];
    const char *names[3] = {"BNNSWEEP_DATA", "XDG_CACHE_HOME", "HOME"};
    for (int i = 0; i < 3; i++) saved[i] = getenv(names[i]) ? strdup(getenv(names[i])) : NULL;

    char buf[256];
    setenv("BNNSWEEP_DATA", "/data/x", 1);
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    setenv("HOME", "/home/u", 1);
    assert_string_equal(bns_data_dir(buf, sizeof buf), "/data/x");
    unsetenv("BNNSWEEP_DATA");
    assert_string_equal(bns_data_dir(buf, sizeof buf), "/xdg/bnnsweep");
    setenv("XDG_CACHE_HOME", "", 1); /* empty counts as unset */
    assert_string_equal(bns_data_dir(buf, sizeof buf), "/home/u/.cache/bnnsweep");
    char tiny[8];
    assert_null(bns_data_dir(tiny, sizeof tiny));
    expect_error_contains("too long");
    unsetenv("XDG_CACHE_HOME");
    unsetenv("HOME");
    assert_null(bns_data_dir(buf, sizeof buf));

    for (int i = 0; i < 3; i++) {
        restore_env(names[i], saved[i]);
        free(saved[i]);
    }
}

static void test_mnist_missing_says_how_to_fetch(void **state) {
    (void)state;
    char dir[4200];
    tmp_path(dir, sizeof dir, "empty-data-dir");
    mkdir_p(dir);
    bns_splits s;
    assert_int_equal(bns_mnist_load(dir, BNS_PIXEL_SCALE_0_2, 0, 0, &s), -1);
    expect_error_contains("missing");
    expect_error_contains("train-images-idx3-ubyte");
    expect_error_contains("bash src/scripts/fetch-data.sh");
    assert_null(s.train.x);
    bns_dataset f;
    assert_int_equal(bns_fashion_load_test(dir, BNS_PIXEL_SCALE_0_2, 0, &f), -1);
    expect_error_contains("Fashion-MNIST");
    expect_error_contains("bash src/scripts/fetch-data.sh");
}

/* A fake data directory with the official shapes: .gz-only MNIST files (the
 * fallback name) and plain Fashion-MNIST files (its fallback); labels i % 10,
 * pixel (row index) % 256 so rows can be recognised after the split. */
static void write_fake_set(const char *images_path, const char *labels_path, uint32_t n, int gzip) {
    const uint32_t dims[3] = {n, 28, 28};
    bns_idx images = {.rank = 3, .dims = {dims[0], dims[1], dims[2]}, .count = (size_t)n * 784};
    images.data = malloc(images.count);
    for (size_t i = 0; i < n; i++) memset(images.data + i * 784, (int)(i % 256), 784);
    bns_idx labels = {.rank = 1, .dims = {n}, .count = n};
    labels.data = malloc(n);
    for (size_t i = 0; i < n; i++) labels.data[i] = (uint8_t)(i % 10);
    assert_int_equal(bns_idx_write(images_path, &images, gzip), 0);
    assert_int_equal(bns_idx_write(labels_path, &labels, gzip), 0);
    free(images.data);
    free(labels.data);
}

static void test_mnist_split_and_limits_on_fake_data(void **state) {
    (void)state;
    char dir[4200], sub[4300], a[4400], b[4400];
    tmp_path(dir, sizeof dir, "fake-data-dir");
    snprintf(sub, sizeof sub, "%s/mnist", dir);
    mkdir_p(sub);
    snprintf(a, sizeof a, "%s/train-images-idx3-ubyte.gz", sub);
    snprintf(b, sizeof b, "%s/train-labels-idx1-ubyte.gz", sub);
    write_fake_set(a, b, 60000, 1);
    snprintf(a, sizeof a, "%s/t10k-images-idx3-ubyte.gz", sub);
    snprintf(b, sizeof b, "%s/t10k-labels-idx1-ubyte.gz", sub);
    write_fake_set(a, b, 10000, 1);

    bns_splits s;
    assert_int_equal(bns_mnist_load(dir, 1.0f, 100, 20, &s), 0);
    assert_int_equal(s.train.n, 100);
    assert_int_equal(s.val.n, 20);
    assert_int_equal(s.test.n, 20);
    assert_string_equal(s.train.name, "mnist-train");
    assert_string_equal(s.val.name, "mnist-val");
    assert_string_equal(s.test.name, "mnist-test");
    /* val starts at row 50000 of the training file: 50000 % 256 = 80, label 0 */
    assert_true(s.val.x[0] == 80.0f);
    assert_int_equal(s.val.y[3], 3);
    assert_true(s.train.x[99 * 784] == 99.0f);
    bns_splits_free(&s);
    assert_null(s.train.x);

    assert_int_equal(bns_mnist_load(dir, 1.0f, 0, 0, &s), 0);
    assert_int_equal(s.train.n, 50000);
    assert_int_equal(s.val.n, 10000);
    assert_int_equal(s.test.n, 10000);
    assert_true(s.train.x[49999 * 784] == (float)(49999 % 256));
    assert_true(s.val.x[9999 * 784] == (float)(59999 % 256));
    bns_splits_free(&s);

    /* A wrong-sized training file is refused (here: the test file under the training name). */
    snprintf(a, sizeof a, "%s/train-images-idx3-ubyte.gz", sub);
    snprintf(b, sizeof b, "%s/train-labels-idx1-ubyte.gz", sub);
    write_fake_set(a, b, 10000, 1);
    assert_int_equal(bns_mnist_load(dir, 1.0f, 0, 0, &s), -1);
    expect_error_contains("expected 60000 x 28 x 28");

    snprintf(sub, sizeof sub, "%s/fashion-mnist", dir);
    mkdir_p(sub);
    snprintf(a, sizeof a, "%s/t10k-images-idx3-ubyte", sub);
    snprintf(b, sizeof b, "%s/t10k-labels-idx1-ubyte", sub);
    write_fake_set(a, b, 10000, 0);
    bns_dataset f;
    assert_int_equal(bns_fashion_load_test(dir, BNS_PIXEL_SCALE_0_2, 5, &f), 0);
    assert_int_equal(f.n, 5);
    assert_int_equal(f.d, 784);
    assert_string_equal(f.name, "fashion-mnist-test");
    bns_dataset_free(&f);
}

static void test_real_mnist(void **state) {
    (void)state;
    char dir[4096], probe[4200];
    assert_non_null(bns_data_dir(dir, sizeof dir));
    snprintf(probe, sizeof probe, "%s/mnist/train-images-idx3-ubyte", dir);
    char probe_gz[4300];
    snprintf(probe_gz, sizeof probe_gz, "%s.gz", probe);
    if (access(probe, F_OK) != 0 && access(probe_gz, F_OK) != 0) {
        print_message("MNIST not in %s/mnist (run bash src/scripts/fetch-data.sh); skipping\n", dir);
        skip();
    }

    bns_splits s;
    if (bns_mnist_load(NULL, BNS_PIXEL_SCALE_0_2, 0, 0, &s) != 0) fail_msg("%s", bns_last_error());
    assert_int_equal(s.train.n, 50000);
    assert_int_equal(s.val.n, 10000);
    assert_int_equal(s.test.n, 10000);
    assert_int_equal(s.train.d, 784);
    assert_int_equal(s.test.d, 784);

    const bns_dataset *sets[3] = {&s.train, &s.val, &s.test};
    for (int k = 0; k < 3; k++) {
        float lo = 1e9f, hi = -1e9f;
        for (size_t i = 0; i < sets[k]->n * sets[k]->d; i++) {
            if (sets[k]->x[i] < lo) lo = sets[k]->x[i];
            if (sets[k]->x[i] > hi) hi = sets[k]->x[i];
        }
        assert_true(lo == 0.0f);
        assert_true(hi == 2.0f);
    }

    /* Known class counts of the official files: train+val together must give
     * the 60k training histogram, test the 10k one. */
    static const size_t train60k[10] = {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
    static const size_t test10k[10] = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
    size_t h_train[10] = {0}, h_val[10] = {0}, h_test[10] = {0}, sum = 0;
    for (size_t i = 0; i < s.train.n; i++) h_train[s.train.y[i]]++;
    for (size_t i = 0; i < s.val.n; i++) h_val[s.val.y[i]]++;
    for (size_t i = 0; i < s.test.n; i++) h_test[s.test.y[i]]++;
    for (int c = 0; c < 10; c++) {
        sum += h_train[c];
        assert_true(h_train[c] > 4000); /* every class well represented in train */
        assert_int_equal(h_train[c] + h_val[c], train60k[c]);
        assert_int_equal(h_test[c], test10k[c]);
    }
    assert_int_equal(sum, 50000);
    /* The first training digit of MNIST is a 5, the first test digit a 7. */
    assert_int_equal(s.train.y[0], 5);
    assert_int_equal(s.test.y[0], 7);

    /* Limits take the first rows. */
    bns_splits small;
    assert_int_equal(bns_mnist_load(NULL, BNS_PIXEL_SCALE_0_2, 1000, 100, &small), 0);
    assert_int_equal(small.train.n, 1000);
    assert_int_equal(small.val.n, 100);
    assert_int_equal(small.test.n, 100);
    assert_memory_equal(small.train.x, s.train.x, 1000 * 784 * sizeof(float));
    assert_memory_equal(small.val.x, s.val.x, 100 * 784 * sizeof(float));
    assert_memory_equal(small.test.y, s.test.y, 100);
    bns_splits_free(&small);
    bns_splits_free(&s);

    /* Fashion-MNIST comes with the same set-up; check it when it is there. */
    snprintf(probe, sizeof probe, "%s/fashion-mnist/t10k-images-idx3-ubyte.gz", dir);
    if (access(probe, F_OK) == 0) {
        bns_dataset f;
        if (bns_fashion_load_test(NULL, BNS_PIXEL_SCALE_0_2, 0, &f) != 0) fail_msg("%s", bns_last_error());
        assert_int_equal(f.n, 10000);
        assert_int_equal(f.d, 784);
        size_t h[10] = {0};
        for (size_t i = 0; i < f.n; i++) h[f.y[i]]++;
        for (int c = 0; c < 10; c++) assert_int_equal(h[c], 1000); /* Fashion-MNIST test is balanced */
        bns_dataset_free(&f);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_raw),
        cmocka_unit_test(test_round_trip_gzip),
        cmocka_unit_test(test_round_trip_ranks_1_and_4),
        cmocka_unit_test(test_write_rejects_bad_idx),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_truncated_raw),
        cmocka_unit_test(test_truncated_gzip),
        cmocka_unit_test(test_corrupt_gzip),
        cmocka_unit_test(test_wrong_magic),
        cmocka_unit_test(test_wrong_type),
        cmocka_unit_test(test_bad_rank),
        cmocka_unit_test(test_bad_dims),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_dataset_load_and_slice),
        cmocka_unit_test(test_pixel_scaling),
        cmocka_unit_test(test_dataset_count_mismatch),
        cmocka_unit_test(test_dataset_bad_label),
        cmocka_unit_test(test_dataset_images_not_rank3),
        cmocka_unit_test(test_data_dir),
        cmocka_unit_test(test_mnist_missing_says_how_to_fetch),
        cmocka_unit_test(test_mnist_split_and_limits_on_fake_data),
        cmocka_unit_test(test_real_mnist),
    };
    return cmocka_run_group_tests(tests, setup_tmp, NULL);
}
