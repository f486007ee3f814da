/* cifar10.c - the CIFAR-10 binary format (dataset.h): batch files of
 * 1 + 3072-byte records, read whole and checked like the IDX reader (a
 * size that is not a whole number of records means a truncated or foreign
 * file; labels must be 0..9), and the train/val/test split of the batches. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/dataset.h"
#include "bnnsweep/error.h"

#define CIFAR_PIXELS 3072
#define CIFAR_RECORD (1 + CIFAR_PIXELS)
#define CIFAR_CLASSES 10

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void alloc_rows(bns_dataset *out, size_t n) {
    out->n = n;
    out->d = CIFAR_PIXELS;
    out->n_classes = CIFAR_CLASSES;
    out->x = bns_xmalloc(sizeof(float) * n * CIFAR_PIXELS);
    out->y = bns_xmalloc(n ? n : 1);
}

int bns_cifar10_read(const char *path, float pixel_scale, bns_dataset *out) {
    memset(out, 0, sizeof *out);
    if (!(pixel_scale > 0.0f && pixel_scale < 1e30f))
        return bns_fail("pixel_scale must be a positive finite number, got %g", (double)pixel_scale);
    FILE *f = fopen(path, "rb");
    if (!f) return bns_fail("%s: cannot open CIFAR-10 batch file: %s", path, strerror(errno));
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return bns_fail("%s: cannot determine the file size", path);
    }
    if (size == 0) {
        fclose(f);
        return bns_fail("%s: empty file (a CIFAR-10 batch has records of %d bytes)", path, CIFAR_RECORD);
    }
    if (size % CIFAR_RECORD != 0) {
        fclose(f);
        return bns_fail("%s: %ld bytes is not a whole number of %d-byte CIFAR-10 records (truncated, or not a "
                        "binary-version batch file; %ld records and %ld bytes over)",
                        path, size, CIFAR_RECORD, size / CIFAR_RECORD, size % CIFAR_RECORD);
    }
    size_t n = (size_t)size / CIFAR_RECORD;
    uint8_t *bytes = bns_xmalloc((size_t)size);
    size_t got = fread(bytes, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) {
        free(bytes);
        return bns_fail("%s: read %zu of %ld bytes", path, got, size);
    }
    for (size_t i = 0; i < n; i++)
        if (bytes[i * CIFAR_RECORD] >= CIFAR_CLASSES) {
            unsigned label = bytes[i * CIFAR_RECORD];
            free(bytes);
            return bns_fail("%s: label %u of record %zu is out of range 0..%d", path, label, i, CIFAR_CLASSES - 1);
        }
    alloc_rows(out, n);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *rec = bytes + i * CIFAR_RECORD;
        out->y[i] = rec[0];
        float *row = out->x + i * CIFAR_PIXELS;
        for (int j = 0; j < CIFAR_PIXELS; j++) row[j] = (float)rec[1 + j] * pixel_scale;
    }
    free(bytes);
    snprintf(out->name, sizeof out->name, "%s", base_name(path));
    return 0;
}

/* rows of the files paths[0..count) one after another, the first `limit` (0: all) */
static int read_concat(const char *dir, const char *const *names, int count, size_t limit, float pixel_scale,
                       const char *set_name, bns_dataset *out) {
    bns_dataset parts[5];
    size_t total = 0;
    memset(out, 0, sizeof *out);
    for (int i = 0; i < count; i++) {
        char path[4096 + 64];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (bns_cifar10_read(path, pixel_scale, &parts[i])) {
            for (int j = 0; j < i; j++) bns_dataset_free(&parts[j]);
            return bns_fail_prefix("CIFAR-10 (data_path %s): ", dir);
        }
        total += parts[i].n;
    }
    size_t keep = limit > 0 && limit < total ? limit : total, at = 0;
    alloc_rows(out, keep);
    for (int i = 0; i < count; i++) {
        size_t take = parts[i].n < keep - at ? parts[i].n : keep - at;
        memcpy(out->x + at * CIFAR_PIXELS, parts[i].x, sizeof(float) * take * CIFAR_PIXELS);
        memcpy(out->y + at, parts[i].y, take);
        at += take;
        bns_dataset_free(&parts[i]);
    }
    snprintf(out->name, sizeof out->name, "%s", set_name);
    return 0;
}

int bns_cifar10_load(const char *dir, float pixel_scale, size_t train_limit, size_t test_limit, bns_splits *out) {
    static const char *const train[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                        "data_batch_4.bin"};
    static const char *const val[] = {"data_batch_5.bin"}, *const test[] = {"test_batch.bin"};
    memset(out, 0, sizeof *out);
    if (read_concat(dir, train, 4, train_limit, pixel_scale, "cifar10-train", &out->train) ||
        read_concat(dir, val, 1, test_limit, pixel_scale, "cifar10-val", &out->val) ||
        read_concat(dir, test, 1, test_limit, pixel_scale, "cifar10-test", &out->test)) {
        bns_splits_free(out);
        return -1;
    }
    return 0;
}
