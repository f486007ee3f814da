/* idx.h - read and write IDX files, the container format of MNIST.
 *
 * Only the unsigned-byte element type (0x08) and ranks 1..4 are supported,
 * which covers every file of MNIST and Fashion-MNIST. Files may be raw or
 * gzip-compressed; the reader tells them apart by content, not by name.
 * Layout: 00 00 <type> <rank>, then rank big-endian uint32 dims, then the
 * elements in row-major order and nothing after them.
 */
#ifndef BNNSWEEP_IDX_H
#define BNNSWEEP_IDX_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int rank;          /* 1..4 */
    uint32_t dims[4];  /* dims[0] is the slowest-varying (e.g. image count) */
    size_t count;      /* product of dims[0..rank) */
    uint8_t *data;     /* count bytes, owned */
} bns_idx;

/* Read a raw or gzip IDX file. On failure *out is zeroed and the error names
 * the file and what is wrong with it (missing, corrupt gzip, bad magic,
 * wrong type, bad rank/dims, truncated, trailing bytes). */
int bns_idx_read(const char *path, bns_idx *out);

/* Write atomically: the bytes go to <path>.tmp.<host>.<pid>, are fsync'd, then the
 * file is renamed over path, so readers never see a partial file. */
int bns_idx_write(const char *path, const bns_idx *idx, int gzip);

void bns_idx_free(bns_idx *idx);

#endif
