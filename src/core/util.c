/* util.c - whole files in and out, temporary names, the clock (see util.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* HOST of a temporary name: at most 64 bytes, like a POSIX host name. */
#define HOST_TAG_SIZE 65

static int host_byte_ok(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static void host_tag(char out[HOST_TAG_SIZE]) {
    char name[256];
    if (gethostname(name, sizeof name) != 0) name[0] = '\0';
    name[sizeof name - 1] = '\0';
    size_t n = 0;
    for (; name[n] && n + 1 < HOST_TAG_SIZE; n++) out[n] = host_byte_ok((unsigned char)name[n]) ? name[n] : '_';
    out[n] = '\0';
    if (n == 0) snprintf(out, HOST_TAG_SIZE, "unknown");
}

int bns_temp_path(const char *path, char *tmp, size_t size) {
    char host[HOST_TAG_SIZE];
    host_tag(host);
    int n = snprintf(tmp, size, "%s.tmp.%s.%ld", path, host, (long)getpid());
    if (n >= 0 && (size_t)n < size) return 0;
    if (size > 0) tmp[0] = '\0';
    return bns_fail("%s: path too long (its temporary file name does not fit in %zu bytes)", path, size);
}

/* An exited process its parent has not reaped yet still answers kill(pid, 0):
 * its state in /proc/PID/stat (after the parenthesised name) is 'Z'. */
static int is_zombie(long pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' && paren[2] == 'Z';
}

/* [begin, end) ends with ".tmp". */
static int ends_with_tmp(const char *begin, const char *end) {
    return end - begin >= 4 && memcmp(end - 4, ".tmp", 4) == 0;
}

int bns_temp_is_stale(const char *name) {
    /* from the end: ".PID", then ".tmp.HOST" (HOST has no '.') or ".tmp" */
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    const char *digits = dot + 1;
    size_t nd = strlen(digits);
    if (nd == 0 || nd > 9 || strspn(digits, "0123456789") != nd) return 0;
    const char *host_dot = dot - 1;
    while (host_dot > name && *host_dot != '.') host_dot--;
    if (*host_dot == '.' && host_dot + 1 < dot && ends_with_tmp(name, host_dot)) {
        char mine[HOST_TAG_SIZE];
        host_tag(mine);
        for (const char *c = host_dot + 1; c < dot; c++)
            if (!host_byte_ok((unsigned char)*c)) return 0;
        if ((size_t)(dot - host_dot - 1) != strlen(mine) || memcmp(host_dot + 1, mine, strlen(mine)) != 0) return 0;
    } else if (!ends_with_tmp(name, dot)) {
        return 0;
    }
    long pid = strtol(digits, NULL, 10);
    if (pid <= 1 || pid == (long)getpid()) return 0;
    if (kill((pid_t)pid, 0) == 0) return is_zombie(pid);
    return errno == ESRCH;
}

double bns_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int bns_write_file_atomic(const char *path, const char *text) {
    char tmp[4200];
    if (bns_temp_path(path, tmp, sizeof tmp) != 0) return -1;
    FILE *f = fopen(tmp, "w");
    if (!f) return bns_fail("%s: cannot write: %s", tmp, strerror(errno));
    fputs(text, f);
    int bad = fflush(f) != 0;
    bad |= fclose(f) != 0;
    return bns_commit_file(tmp, path, bad ? bns_fail("%s: cannot write", tmp) : 0);
}
