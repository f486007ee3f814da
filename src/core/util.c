/* util.c - whole files in and out (see util.h). */
#include <errno.h>
#include <fcntl.h>
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

int bns_commit_file(const char *tmp, const char *path, int rc) {
    if (rc == 0) {
        int fd = open(tmp, O_RDONLY);
        if (fd < 0 || fsync(fd) != 0) rc = bns_fail("%s: cannot sync: %s", tmp, strerror(errno));
        if (fd >= 0) close(fd);
    }
    if (rc == 0 && rename(tmp, path) != 0) rc = bns_fail("cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (rc) unlink(tmp);
    return rc ? -1 : 0;
}

int bns_write_file_atomic(const char *path, const char *text) {
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return bns_fail("%s: path too long", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return bns_fail("%s: cannot write: %s", tmp, strerror(errno));
    fputs(text, f);
    int bad = fflush(f) != 0;
    bad |= fclose(f) != 0;
    return bns_commit_file(tmp, path, bad ? bns_fail("%s: cannot write", tmp) : 0);
}
