/* error.h - one error message per thread, SQLite style.
 *
 * A failing function records a human-readable message (naming the file, field
 * or value at fault) with bns_fail() and returns -1; the caller either adds
 * context with bns_fail_prefix() or shows bns_last_error() to the user.
 */
#ifndef BNNSWEEP_ERROR_H
#define BNNSWEEP_ERROR_H

#include <stddef.h>

#if defined(__GNUC__)
#define BNS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define BNS_PRINTF(a, b)
#endif

/* Record a message; always returns -1 so that `return bns_fail(...)` reads well. */
int bns_fail(const char *fmt, ...) BNS_PRINTF(1, 2);
/* Prepend context ("reading model.h5: ") to the message already recorded; returns -1. */
int bns_fail_prefix(const char *fmt, ...) BNS_PRINTF(1, 2);
const char *bns_last_error(void);
void bns_clear_error(void);

/* Allocation that never returns NULL: prints and aborts on exhaustion (no
 * recovery is possible mid-numerics, and buffers are allocated up front). */
void *bns_xmalloc(size_t bytes);
void *bns_xcalloc(size_t count, size_t size);
char *bns_xstrdup(const char *s);

#endif
