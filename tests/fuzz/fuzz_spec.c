/* fuzz_spec.c - libFuzzer harness for the sweep-file reader (spec.c) and the
 * planner behind it: any bytes must load or fail with a message, in bounded
 * time and memory (the limits of spec.h), never crash or leak.
 * Built by BNS_FUZZ (tests/fuzz/run.sh); replay_main.c replays the corpus in
 * the ordinary test suite. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/error.h"
#include "bnnsweep/plan.h"
#include "bnnsweep/spec.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Smaller bounds than the defaults (the same code enforces them), so that
 * each input runs in milliseconds under the sanitizers; setenv(.., 0) keeps
 * any value the caller exported. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    setenv("BNNSWEEP_MAX_SWEEP_EXPANDED", "1000000", 0);
    setenv("BNNSWEEP_MAX_GRID_POINTS", "64", 0);
    setenv("BNNSWEEP_MAX_TASKS", "2000", 0);
    setenv("BNNSWEEP_MAX_WEIGHTS", "2000000", 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* the text is NUL-terminated (bns_spec_read_file refuses NUL bytes) */
    if (memchr(data, 0, size)) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    bns_spec spec;
    if (bns_spec_load_text("fuzz.yaml", text, NULL, 0, &spec) == 0) {
        bns_plan plan;
        if (bns_plan_build(&spec, &plan) == 0) bns_plan_free(&plan);
        bns_spec_free(&spec);
    } else if (!bns_last_error()[0]) {
        abort(); /* a failure must say why */
    }
    free(text);
    return 0;
}
