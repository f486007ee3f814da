/* fuzz_idx.c - libFuzzer harness for the IDX reader (idx.c), raw and gzip:
 * any file must load or fail with a message, never crash, hang or allocate
 * more than its header honestly asks for. The reader takes a path, so each
 * input is written to a private temporary file first.
 * Built by BNS_FUZZ (tests/fuzz/run.sh); replay_main.c replays the corpus in
 * the ordinary test suite. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnnsweep/error.h"
#include "bnnsweep/idx.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_input_file("idx", data, size);
    bns_idx idx;
    if (bns_idx_read(path, &idx) == 0) {
        /* what loaded is what the header says */
        size_t count = 1;
        for (int i = 0; i < idx.rank; i++) count *= idx.dims[i];
        if (idx.rank < 1 || idx.rank > 4 || count != idx.count) abort();
        bns_idx_free(&idx);
    } else if (!bns_last_error()[0]) {
        abort();
    }
    unlink(path);
    return 0;
}
