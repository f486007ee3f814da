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

#define HOST_TAG_SIZE BNS_HOST_TAG_SIZE

static int host_byte_ok(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

void bns_host_tag(char out[HOST_TAG_SIZE]) {
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
    bns_host_tag(host);
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
        bns_host_tag(mine);
        for (const char *c = host_dot + 1; c < dot; c++)
            if (!host_byte_ok((unsigned char)*c)) return 0;
        if ((size_t)(dot - host_dot - 1) != strlen(mine) || memcmp(host_dot + 1, mine, strlen(mine)) != 0) return 0;
    } else if (!ends_with_tmp(name, dot)) {
        return 0;
    }
    long pid = strtol(digits, NULL, 10);
    if (pid == (long)getpid()) return 0;
    return bns_pid_gone(pid);
}

int bns_pid_gone(long pid) {
    if (pid <= 1) return 0;
    if (kill((pid_t)pid, 0) == 0) return is_zombie(pid);
    return errno == ESRCH;
}

/* ---- locks ---- */

/* The holder written in a lock file: "HOST PID". 1 when it names a process
 * of this host that is gone (the lock can never be released). */
static int lock_is_stale(const char *text) {
    char host[128], mine[HOST_TAG_SIZE];
    long pid;
    if (sscanf(text, "%127s %ld", host, &pid) != 2) return 0;
    bns_host_tag(mine);
    return !strcmp(host, mine) && pid != (long)getpid() && bns_pid_gone(pid);
}

int bns_lock_holder(const char *path, char *holder, size_t size) {
    holder[0] = '\0';
    for (int attempt = 0; attempt < 2; attempt++) {
        FILE *f = fopen(path, "r");
        if (!f) return errno == ENOENT ? 0 : bns_fail("%s: cannot read the lock: %s", path, strerror(errno));
        char text[256] = "";
        size_t n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        text[n] = '\0';
        text[strcspn(text, "\n")] = '\0';
        if (!lock_is_stale(text)) {
            char host[128];
            long pid;
            if (sscanf(text, "%127s %ld", host, &pid) == 2) snprintf(holder, size, "host %s, pid %ld", host, pid);
            else snprintf(holder, size, "an unknown process (lock file holds '%.60s')", text);
            return 1;
        }
        /* the writer died without removing it (SIGKILL, a node crash on this host) */
        unlink(path);
    }
    return 0;
}

int bns_lock_acquire(const char *path) {
    char host[HOST_TAG_SIZE], text[128], holder[256];
    bns_host_tag(host);
    int n = snprintf(text, sizeof text, "%s %ld\n", host, (long)getpid());
    for (int attempt = 0; attempt < 3; attempt++) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd >= 0) {
            int bad = write(fd, text, (size_t)n) != n;
            bad |= close(fd) != 0;
            if (!bad) return 0;
            unlink(path);
            return bns_fail("%s: cannot write the lock", path);
        }
        if (errno != EEXIST) return bns_fail("%s: cannot create the lock: %s", path, strerror(errno));
        int held = bns_lock_holder(path, holder, sizeof holder);
        if (held < 0) return -1;
        if (held) return bns_fail("%s: held by %s", path, holder);
    }
    return bns_fail("%s: the lock keeps changing hands", path);
}

void bns_lock_release(const char *path) {
    char host[HOST_TAG_SIZE], mine[128], text[128] = "";
    bns_host_tag(host);
    snprintf(mine, sizeof mine, "%s %ld\n", host, (long)getpid());
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    if (!strcmp(text, mine)) unlink(path); /* only our own */
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
