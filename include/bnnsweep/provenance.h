/* provenance.h - the root attributes every result file starts with: what wrote it.
 *
 * Model, attack-set and evaluation files (and the task files of a sweep) all
 * open with the same attributes, written by this one function:
 *   format, format_version   what the file is (each writer's own name/version)
 *   bnnsweep_version, git_commit   the build (version.h)
 *   results_version          the numerics (version.h)
 *   blas_kernel, blas_threads   the OpenBLAS kernels and thread count of the
 *                               process that computed it
 * The last two are there because results depend on them (docs/performance.md,
 * "Reproducibility"): the same task run with another kernel or thread count
 * gives other last bits, and a training run another trajectory. They never
 * depend on the rank count or on which rank ran what as long as every
 * process uses the same kernels; `bnnsweep run` warns when they did not.
 */
#ifndef BNNSWEEP_PROVENANCE_H
#define BNNSWEEP_PROVENANCE_H

#include <hdf5.h>
#include <stddef.h>

/* Writes the attributes above on the root of file. Returns 0, or -1 with a
 * message (error.h). */
int bns_provenance_write(hid_t file, const char *format, int format_version);

/* This process's BLAS configuration as one label, e.g. "SkylakeX x1"
 * (kernel, 'x', threads): what the cube's per-task variable "blas" holds and
 * what the merge compares across tasks. */
void bns_blas_config(char *buf, size_t size);

/* The same label read back from a result file's attributes; "" when the
 * file predates them. */
void bns_blas_config_read(hid_t file, char *buf, size_t size);

#endif
