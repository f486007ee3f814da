/* util.c - whole files in and out (see util.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnnsweep/error.h"
#include "bnnsweep/util.h"

char *bns_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        bns_fail("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, used = 0, got;
    char *text = bns_xmalloc(cap);
    while ((got = fread(text + used, 1, cap - used - 1, f)) > 0) {
        used += got;
        if (used + 1 == cap) {
            cap *= 2;
            char *bigger = realloc(text, cap);
            if (!bigger) abort();
            text = bigger;
        }
    }
    int err = ferror(f);
    fclose(f);
    text[used] = '\0';
    if (err) {
        free(text);
        bns_fail("%s: read error", path);
        return NULL;
    }
    if (len) *len = used;
    return text;
}

int bns_write_file_atomic(const char *path, const char *text) {
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return bns_fail("%s: path too long", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return bns_fail("%s: cannot write: %s", tmp, strerror(errno));
    fputs(text, f);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return bns_fail("%s: cannot write", path);
    }
    return 0;
}
