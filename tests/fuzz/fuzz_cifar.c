/* fuzz_cifar.c - libFuzzer harness for the CIFAR-10 binary reader (cifar10.c)
 * and the grayscale OOD loader built on it (ood.c): any file must load or
 * fail with a message naming it, never crash, hang or read past a record.
 * The readers take a path, so each input is written to a private temporary
 * file first. Built by BNS_FUZZ (tests/fuzz/run.sh); replay_main.c replays
 * the corpus in the ordinary test suite. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnnsweep/dataset.h"
#include "bnnsweep/error.h"
#include "bnnsweep/ood.h"
#include "fuzz_util.h"

enum { RECORD = 1 + 3072 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* a loaded set is what the file says: whole records, labels 0..9, pixels
 * byte * scale in [0, 255 * scale] */
static void check_set(const bns_dataset *ds, size_t d, size_t max_rows, float scale) {
    if (ds->d != d || ds->n < 1 || ds->n > max_rows) abort();
    for (size_t i = 0; i < ds->n; i++)
        if (ds->y[i] > 9) abort();
    for (size_t i = 0; i < ds->n * d; i++)
        if (!(ds->x[i] >= 0.0f && ds->x[i] <= 255.0f * scale + 1e-4f)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_input_file("cifar", data, size);
    const float scale = 1.0f / 127.5f;
    bns_dataset ds;
    if (bns_cifar10_read(path, scale, &ds) == 0) {
        if (size % RECORD != 0) abort(); /* a truncated record must be refused */
        check_set(&ds, 3072, size / RECORD, scale);
        bns_dataset_free(&ds);
    } else if (!strstr(bns_last_error(), path)) {
        abort(); /* errors name the file */
    }
    if (bns_cifar10_gray_load(path, scale, 3, &ds) == 0) {
        check_set(&ds, 784, 3, scale);
        bns_dataset_free(&ds);
    } else if (!bns_last_error()[0]) {
        abort();
    }
    unlink(path);
    return 0;
}
