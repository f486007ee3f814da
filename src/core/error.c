/* error.c - per-thread error message buffer (see error.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/error.h"

static _Thread_local char last_error[2048];

int bns_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return -1;
}

int bns_fail_prefix(const char *fmt, ...) {
    char prefix[1024], old[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, last_error, sizeof old);
    size_t used = strlen(prefix);
    memcpy(last_error, prefix, used + 1);
    /* append as much of the old message as fits */
    strncat(last_error, old, sizeof last_error - used - 1);
    return -1;
}

const char *bns_last_error(void) { return last_error[0] ? last_error : "unknown error"; }

void bns_clear_error(void) { last_error[0] = '\0'; }

static void out_of_memory(size_t bytes) {
    fprintf(stderr, "bnnsweep: out of memory allocating %zu bytes\n", bytes);
    abort();
}

void *bns_xmalloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) out_of_memory(bytes);
    return p;
}

void *bns_xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) out_of_memory(count * size);
    return p;
}

char *bns_xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = bns_xmalloc(n);
    memcpy(p, s, n);
    return p;
}
