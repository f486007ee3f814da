/* fuzz_util.h - what the file-reading fuzz harnesses share: the readers take
 * a path, so each input is written to a private temporary file first. */
#ifndef BNS_FUZZ_UTIL_H
#define BNS_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Writes the input to $TMPDIR/bns-fuzz-TAG.PID (one file per process, reused
 * by every input) and returns its path; aborts if it cannot. */
static const char *fuzz_input_file(const char *tag, const uint8_t *data, size_t size) {
    static char path[512];
    if (!path[0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/bns-fuzz-%s.%ld", dir && dir[0] ? dir : "/tmp", tag, (long)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    if (fclose(f) != 0) abort();
    return path;
}

#endif
