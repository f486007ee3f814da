/* idx.c - IDX reader/writer (see idx.h).
 *
 * Reading goes through zlib's gzread, which decompresses gzip and passes any
 * other file through unchanged, so one code path serves both. Every way a file
 * can be wrong gets its own message naming the file, because a bad download is
 * the usual cause and the user has to know which file to fetch again.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "bnnsweep/error.h"
#include "bnnsweep/idx.h"
#include "bnnsweep/util.h"

/* Largest payload we agree to read. MNIST's biggest file is 47 MB; a header
 * promising more than this is corrupt, and refusing it early avoids a huge
 * allocation driven by a garbage header. */
#define IDX_MAX_BYTES ((uint64_t)1 << 34)
#define IDX_TYPE_UBYTE 0x08
/* Data are read in pieces of this size so that a lying header cannot make us
 * allocate more than the file actually holds (plus one piece). */
#define IDX_READ_CHUNK ((size_t)1 << 22)

static uint32_t load_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void store_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* If zlib recorded a stream error, fail with its text; otherwise return 0.
 * Z_BUF_ERROR is zlib's "unexpected end of file", i.e. a truncated gzip. */
static int check_gz(gzFile gz, const char *path) {
    int zerr = Z_OK;
    const char *msg = gzerror(gz, &zerr);
    if (zerr == Z_OK) return 0;
    /* zlib prefixes its message with the path given to gzopen; we add our own. */
    size_t path_len = strlen(path);
    if (strncmp(msg, path, path_len) == 0 && strncmp(msg + path_len, ": ", 2) == 0)
        msg += path_len + 2;
    if (zerr == Z_ERRNO) return bns_fail("%s: read error: %s", path, strerror(errno));
    if (zerr == Z_BUF_ERROR)
        return bns_fail("%s: truncated gzip stream (zlib: %s); download it again", path, msg);
    return bns_fail("%s: corrupt gzip stream (zlib: %s); download it again", path, msg);
}

/* gzread of up to len bytes; returns how many were read (short only at end of
 * data) or -1 with the error recorded. Loops because gzread takes an unsigned
 * int length. */
static long long read_some(gzFile gz, const char *path, uint8_t *buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        size_t want = len - got;
        if (want > (1u << 30)) want = 1u << 30;
        int n = gzread(gz, buf + got, (unsigned)want);
        if (n < 0) {
            if (check_gz(gz, path) == 0) bns_fail("%s: read error", path);
            return -1;
        }
        if (n == 0) break;
        got += (size_t)n;
    }
    /* A short read can hide a stream error (e.g. truncated gzip). */
    if (got < len && check_gz(gz, path) != 0) return -1;
    return (long long)got;
}

static const char *kind_of(gzFile gz) { return gzdirect(gz) ? "file" : "gzip file"; }

static int read_header(gzFile gz, const char *path, bns_idx *out) {
    uint8_t magic[4];
    long long n = read_some(gz, path, magic, sizeof magic);
    if (n < 0) return -1;
    if (n < 4)
        return bns_fail("%s: truncated header: expected 4 magic bytes, found %lld "
                        "(empty or not an IDX file)", path, n);
    if (magic[0] != 0 || magic[1] != 0)
        return bns_fail("%s: bad magic %02x %02x %02x %02x: an IDX file starts with 00 00 "
                        "(not an IDX file?)", path, magic[0], magic[1], magic[2], magic[3]);
    if (magic[2] != IDX_TYPE_UBYTE)
        return bns_fail("%s: unsupported IDX data type 0x%02x in magic (only 0x08, unsigned "
                        "byte, is supported)", path, magic[2]);
    if (magic[3] < 1 || magic[3] > 4)
        return bns_fail("%s: IDX rank %d in magic is out of range 1..4", path, magic[3]);
    out->rank = magic[3];

    uint8_t dimbuf[16];
    size_t dimbytes = 4 * (size_t)out->rank;
    n = read_some(gz, path, dimbuf, dimbytes);
    if (n < 0) return -1;
    if ((size_t)n < dimbytes)
        return bns_fail("%s: truncated header: expected %zu bytes of dimensions, found %lld",
                        path, dimbytes, n);
    uint64_t count = 1;
    for (int i = 0; i < out->rank; i++) {
        out->dims[i] = load_be32(dimbuf + 4 * i);
        if (out->dims[i] == 0) return bns_fail("%s: dimension %d is zero", path, i);
        /* Checked before multiplying, so the product can never wrap. */
        if (count > IDX_MAX_BYTES / out->dims[i])
            return bns_fail("%s: absurd dimensions (dimension %d = %u makes more than %llu "
                            "elements): corrupt header", path, i, out->dims[i],
                            (unsigned long long)IDX_MAX_BYTES);
        count *= out->dims[i];
    }
    out->count = (size_t)count;
    return 0;
}

/* Read exactly out->count data bytes, then make sure nothing follows. */
static int read_data(gzFile gz, const char *path, bns_idx *out) {
    size_t cap = out->count < IDX_READ_CHUNK ? out->count : IDX_READ_CHUNK;
    size_t got = 0;
    out->data = bns_xmalloc(cap);
    for (;;) {
        long long n = read_some(gz, path, out->data + got, cap - got);
        if (n < 0) return -1;
        got += (size_t)n;
        if (got < cap) break;                 /* end of file */
        if (got == out->count) break;         /* all promised bytes */
        cap = cap * 2 < out->count ? cap * 2 : out->count;
        uint8_t *grown = realloc(out->data, cap);
        if (!grown) return bns_fail("%s: out of memory reading %zu bytes", path, cap);
        out->data = grown;
    }
    if (got < out->count)
        return bns_fail("%s: truncated data: expected %zu data bytes (from the header), "
                        "found %zu in the %s", path, out->count, got, kind_of(gz));

    /* Probe for trailing bytes. For gzip this read also reaches the end of the
     * stream, which is where zlib checks the CRC, so it detects corruption too. */
    uint8_t extra[4096];
    size_t trailing = 0;
    for (;;) {
        long long n = read_some(gz, path, extra, sizeof extra);
        if (n < 0) return -1;
        trailing += (size_t)n;
        if ((size_t)n < sizeof extra) break;
    }
    if (trailing > 0)
        return bns_fail("%s: trailing garbage: %zu bytes after the %zu data bytes the header "
                        "promises", path, trailing, out->count);
    return 0;
}

int bns_idx_read(const char *path, bns_idx *out) {
    memset(out, 0, sizeof *out);
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return bns_fail("%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    /* Bigger than zlib's 8 KB default: MNIST train images are 47 MB. */
    gzbuffer(gz, 1u << 18);

    int rc = read_header(gz, path, out);
    if (rc == 0) rc = read_data(gz, path, out);
    int close_rc = gzclose_r(gz);
    if (rc == 0 && close_rc != Z_OK)
        rc = bns_fail("%s: error closing (zlib code %d)", path, close_rc);
    if (rc != 0) bns_idx_free(out);
    return rc;
}

void bns_idx_free(bns_idx *idx) {
    if (!idx) return;
    free(idx->data);
    memset(idx, 0, sizeof *idx);
}

static int validate_for_write(const char *path, const bns_idx *idx) {
    if (idx->rank < 1 || idx->rank > 4)
        return bns_fail("%s: cannot write IDX of rank %d (must be 1..4)", path, idx->rank);
    uint64_t count = 1;
    for (int i = 0; i < idx->rank; i++) {
        if (idx->dims[i] == 0) return bns_fail("%s: cannot write IDX: dimension %d is zero", path, i);
        if (count > IDX_MAX_BYTES / idx->dims[i])
            return bns_fail("%s: cannot write IDX: dimensions too large", path);
        count *= idx->dims[i];
    }
    if (count != idx->count)
        return bns_fail("%s: cannot write IDX: count %zu is not the product of dims (%llu)",
                        path, idx->count, (unsigned long long)count);
    if (!idx->data) return bns_fail("%s: cannot write IDX: no data", path);
    return 0;
}

static int write_all_fd(int fd, const uint8_t *buf, size_t len, const char *tmp) {
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return bns_fail("%s: write failed: %s", tmp, strerror(errno));
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_all_gz(gzFile gz, const uint8_t *buf, size_t len, const char *tmp) {
    while (len > 0) {
        unsigned piece = len > (1u << 30) ? 1u << 30 : (unsigned)len;
        int n = gzwrite(gz, buf, piece);
        if (n <= 0) {
            int zerr;
            const char *msg = gzerror(gz, &zerr);
            return bns_fail("%s: gzip write failed: %s", tmp,
                            zerr == Z_ERRNO ? strerror(errno) : msg);
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* fsync the directory holding path so the rename itself survives a crash. */
static void sync_parent_dir(const char *path) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse fsync on directories */
        close(fd);
    }
}

int bns_idx_write(const char *path, const bns_idx *idx, int gzip) {
    if (validate_for_write(path, idx) != 0) return -1;

    uint8_t header[4 + 16] = {0, 0, IDX_TYPE_UBYTE, (uint8_t)idx->rank};
    for (int i = 0; i < idx->rank; i++) store_be32(header + 4 + 4 * i, idx->dims[i]);
    size_t header_len = 4 + 4 * (size_t)idx->rank;

    char tmp[4096];
    if (bns_temp_path(path, tmp, sizeof tmp) != 0) return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return bns_fail("%s: cannot create: %s", tmp, strerror(errno));

    int rc = 0;
    if (gzip) {
        /* gzclose closes the descriptor it was given; keep our own for fsync. */
        int gzfd = dup(fd);
        gzFile gz = gzfd >= 0 ? gzdopen(gzfd, "wb") : NULL;
        if (!gz) {
            if (gzfd >= 0) close(gzfd);
            rc = bns_fail("%s: cannot start gzip stream", tmp);
        } else {
            rc = write_all_gz(gz, header, header_len, tmp);
            if (rc == 0) rc = write_all_gz(gz, idx->data, idx->count, tmp);
            int zrc = gzclose_w(gz);
            if (rc == 0 && zrc != Z_OK) rc = bns_fail("%s: finishing gzip stream failed (zlib code %d)", tmp, zrc);
        }
    } else {
        rc = write_all_fd(fd, header, header_len, tmp);
        if (rc == 0) rc = write_all_fd(fd, idx->data, idx->count, tmp);
    }
    if (rc == 0 && fsync(fd) != 0) rc = bns_fail("%s: fsync failed: %s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == 0) rc = bns_fail("%s: close failed: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = bns_fail("%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
    if (rc != 0) {
        unlink(tmp);
        return -1;
    }
    sync_parent_dir(path);
    return 0;
}
