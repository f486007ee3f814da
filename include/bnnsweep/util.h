/* util.h - whole-file reading and atomic writing, shared by every module
 * that keeps text files (sweep files, run directories). */
#ifndef BNNSWEEP_UTIL_H
#define BNNSWEEP_UTIL_H

#include <stddef.h>

/* The file's bytes plus a terminating NUL (free() it); *len (may be NULL)
 * gets the byte count. NULL with the error recorded (naming the path). */
char *bns_read_file(const char *path, size_t *len);
/* Write text to path.tmp.<pid>, fsync, rename over path: readers see the
 * old file or the new one, never half of one. */
int bns_write_file_atomic(const char *path, const char *text);
/* The last step of every atomic write: given rc, the outcome of writing and
 * closing the temporary file, fsync it and rename it over path (rc = 0), or
 * remove it (rc != 0 or either step fails). Returns 0 or -1 (error recorded). */
int bns_commit_file(const char *tmp, const char *path, int rc);

#endif
