/* util.h - whole-file reading, atomic writing and the one clock, shared by
 * every module that keeps files (sweep files, run directories, results) or
 * times its work. */
#ifndef BNNSWEEP_UTIL_H
#define BNNSWEEP_UTIL_H

#include <stddef.h>

/* The file's bytes plus a terminating NUL (free() it); *len (may be NULL)
 * gets the byte count. NULL with the error recorded (naming the path). */
char *bns_read_file(const char *path, size_t *len);
/* Write text to bns_temp_path(path), fsync, rename over path: readers see the
 * old file or the new one, never half of one. */
int bns_write_file_atomic(const char *path, const char *text);
/* The last step of every atomic write: given rc, the outcome of writing and
 * closing the temporary file, fsync it and rename it over path (rc = 0), or
 * remove it (rc != 0 or either step fails). Returns 0 or -1 (error recorded). */
int bns_commit_file(const char *tmp, const char *path, int rc);
/* The temporary name of an atomic write of path: PATH.tmp.HOST.PID, HOST
 * being this machine's name with every byte outside [A-Za-z0-9_-] made '_'
 * (so the name has no '.' of its own). Processes that write into one
 * directory side by side, on one host or on several sharing a file system,
 * never share a temporary. Returns 0, or -1 with the error recorded (naming
 * path) when the name does not fit in size (tmp is then ""). */
int bns_temp_path(const char *path, char *tmp, size_t size);
/* 1 when name (a file name or path) is the temporary of a write that can
 * never finish: a bns_temp_path name of this host whose writer pid no longer
 * runs (no such process, or a zombie). The names of older versions,
 * PATH.tmp.PID, count as this host's. Temporaries of other hosts or of
 * living writers, and names that are not temporaries, give 0: a run that
 * starts beside others (SLURM shards) must not delete their writes. */
int bns_temp_is_stale(const char *name);

/* This machine's name with every byte outside [A-Za-z0-9_-] made '_'
 * (at most 64 bytes; "unknown" when it has none): the HOST of temporaries
 * and locks. */
#define BNS_HOST_TAG_SIZE 65
void bns_host_tag(char out[BNS_HOST_TAG_SIZE]);
/* 1 when process pid of this host no longer runs (no such process, or a
 * zombie), 0 when it runs or cannot be told (pid <= 1, no permission). */
int bns_pid_gone(long pid);

/* Locks: a file created with O_EXCL that holds "HOST PID" of its holder.
 * A lock whose holder is a process of this host that is gone is stale and
 * is taken over; a holder on another host cannot be checked from here, so
 * it always counts as live. (Two processes taking over one stale lock at
 * the same instant can both succeed: a window of microseconds after a
 * crash, not of a normal start.)
 * bns_lock_acquire: 0 when this process now holds path; -1 with the error
 * "PATH: held by host HOST, pid PID" recorded when another does (or on I/O errors). */
int bns_lock_acquire(const char *path);
/* 1 with holder = "host HOST, pid PID" when a live (or other-host) process holds
 * path, 0 when nobody does (a stale lock is removed), -1 on errors. */
int bns_lock_holder(const char *path, char *holder, size_t size);
/* Removes path if this process holds it (never another's lock). */
void bns_lock_release(const char *path);

/* Seconds on CLOCK_MONOTONIC: only differences mean anything. */
double bns_now_seconds(void);

#endif
