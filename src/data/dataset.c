/* dataset.c - labelled image sets from IDX files (see dataset.h).
 *
 * Images are kept as bytes until the rows a split needs are known, and are
 * then scaled straight into each split's float array: this way the 60,000-row
 * training file is never held as floats twice (once whole, once split).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bnnsweep/dataset.h"
#include "bnnsweep/error.h"
#include "bnnsweep/idx.h"

#define N_DIGIT_CLASSES 10
#define MNIST_TRAIN_FILE_ROWS 60000
#define MNIST_VAL_ROWS 10000
#define MNIST_TEST_ROWS 10000
#define MNIST_SIDE 28
#define FETCH_HINT "run `bash src/scripts/fetch-data.sh` to fetch it " \
                   "(or set BNNSWEEP_DATA to the directory that holds it)"

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Read an image file and its label file and check that they belong together. */
static int load_pair(const char *images_path, const char *labels_path, bns_idx *images,
                     bns_idx *labels) {
    memset(labels, 0, sizeof *labels);
    if (bns_idx_read(images_path, images) != 0) return -1;
    if (images->rank != 3) {
        bns_fail("%s: images must be a rank-3 IDX (count x rows x cols), this one has rank %d",
                 images_path, images->rank);
        goto fail;
    }
    if (bns_idx_read(labels_path, labels) != 0) goto fail;
    if (labels->rank != 1) {
        bns_fail("%s: labels must be a rank-1 IDX, this one has rank %d", labels_path,
                 labels->rank);
        goto fail;
    }
    if (images->dims[0] != labels->dims[0]) {
        bns_fail("image/label count mismatch: %s has %u images but %s has %u labels",
                 images_path, images->dims[0], labels_path, labels->dims[0]);
        goto fail;
    }
    for (size_t i = 0; i < labels->count; i++) {
        if (labels->data[i] >= N_DIGIT_CLASSES) {
            bns_fail("%s: label %u at index %zu is out of range 0..%d", labels_path,
                     labels->data[i], i, N_DIGIT_CLASSES - 1);
            goto fail;
        }
    }
    return 0;
fail:
    bns_idx_free(images);
    bns_idx_free(labels);
    return -1;
}

/* Rows [begin, begin+count) of a checked pair, scaled into a new dataset. */
static void rows_from_idx(const bns_idx *images, const bns_idx *labels, size_t begin,
                          size_t count, float pixel_scale, const char *name, bns_dataset *out) {
    size_t d = (size_t)images->dims[1] * images->dims[2];
    memset(out, 0, sizeof *out);
    out->n = count;
    out->d = d;
    out->n_classes = N_DIGIT_CLASSES;
    out->x = bns_xmalloc(count * d * sizeof *out->x);
    out->y = bns_xmalloc(count);
    const uint8_t *src = images->data + begin * d;
    for (size_t i = 0; i < count * d; i++) out->x[i] = (float)src[i] * pixel_scale;
    memcpy(out->y, labels->data + begin, count);
    snprintf(out->name, sizeof out->name, "%s", name);
}

static int check_scale(float pixel_scale) {
    /* Written so that NaN fails too. */
    if (!(pixel_scale > 0.0f && pixel_scale < 1e30f))
        return bns_fail("pixel_scale must be a positive finite number, got %g", (double)pixel_scale);
    return 0;
}

int bns_dataset_load_idx(const char *images_path, const char *labels_path, float pixel_scale,
                         bns_dataset *out) {
    bns_idx images, labels;
    memset(out, 0, sizeof *out);
    if (check_scale(pixel_scale) != 0) return -1;
    if (load_pair(images_path, labels_path, &images, &labels) != 0) return -1;
    rows_from_idx(&images, &labels, 0, images.dims[0], pixel_scale, base_name(images_path), out);
    bns_idx_free(&images);
    bns_idx_free(&labels);
    return 0;
}

void bns_dataset_free(bns_dataset *ds) {
    if (!ds) return;
    free(ds->x);
    free(ds->y);
    free(ds->t);
    memset(ds, 0, sizeof *ds);
}

int bns_dataset_slice(const bns_dataset *src, size_t begin, size_t count, bns_dataset *out) {
    memset(out, 0, sizeof *out);
    /* Phrased as a subtraction so that begin + count cannot overflow. */
    if (begin > src->n || count > src->n - begin)
        return bns_fail("%s: slice [%zu, %zu+%zu) is outside its %zu rows", src->name, begin,
                        begin, count, src->n);
    out->n = count;
    out->d = src->d;
    out->n_classes = src->n_classes;
    out->x = bns_xmalloc(count * src->d * sizeof *out->x);
    memcpy(out->x, src->x + begin * src->d, count * src->d * sizeof *out->x);
    if (src->y) {
        out->y = bns_xmalloc(count);
        memcpy(out->y, src->y + begin, count);
    }
    if (src->t) {
        size_t k = (size_t)src->n_classes;
        out->t = bns_xmalloc(count * k * sizeof *out->t);
        memcpy(out->t, src->t + begin * k, count * k * sizeof *out->t);
    }
    memcpy(out->name, src->name, sizeof out->name);
    return 0;
}

void bns_splits_free(bns_splits *s) {
    if (!s) return;
    bns_dataset_free(&s->train);
    bns_dataset_free(&s->val);
    bns_dataset_free(&s->test);
}

/* Empty variables count as unset, as in the XDG spec and in fetch-data.sh. */
static const char *env_nonempty(const char *name) {
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

const char *bns_data_dir(char *buf, size_t bufsize) {
    const char *v;
    int n;
    if ((v = env_nonempty("BNNSWEEP_DATA"))) n = snprintf(buf, bufsize, "%s", v);
    else if ((v = env_nonempty("XDG_CACHE_HOME"))) n = snprintf(buf, bufsize, "%s/bnnsweep", v);
    else if ((v = env_nonempty("HOME"))) n = snprintf(buf, bufsize, "%s/.cache/bnnsweep", v);
    else {
        bns_fail("no data directory: none of BNNSWEEP_DATA, XDG_CACHE_HOME, HOME is set");
        return NULL;
    }
    if (n < 0 || (size_t)n >= bufsize) {
        bns_fail("data directory path is too long (%d bytes)", n);
        return NULL;
    }
    return buf;
}

/* <dir>/<sub>/<name>, or the same with ".gz" (prefer_gz chooses which is
 * tried first). Fails without a message if neither exists: the caller knows
 * what to tell the user. */
static int find_data_file(char *buf, size_t bufsize, const char *dir, const char *sub,
                          const char *name, int prefer_gz) {
    for (int attempt = 0; attempt < 2; attempt++) {
        int with_gz = attempt == 0 ? prefer_gz : !prefer_gz;
        int n = snprintf(buf, bufsize, "%s/%s/%s%s", dir, sub, name, with_gz ? ".gz" : "");
        if (n < 0 || (size_t)n >= bufsize) return -1;
        if (access(buf, F_OK) == 0) return 0;
    }
    return -1;
}

/* Locate one image/label pair under <dir>/<sub>/, with the hint on failure. */
static int find_pair(const char *dir, const char *set_name, const char *sub,
                     const char *images_name, const char *labels_name, int prefer_gz,
                     char *images_path, char *labels_path, size_t pathsize) {
    const char *names[2] = {images_name, labels_name};
    char *paths[2] = {images_path, labels_path};
    for (int i = 0; i < 2; i++) {
        if (find_data_file(paths[i], pathsize, dir, sub, names[i], prefer_gz) != 0)
            return bns_fail("%s files are missing: %s/%s/%s (or %s.gz) not found; " FETCH_HINT,
                            set_name, dir, sub, names[i], names[i]);
    }
    return 0;
}

static size_t limit_rows(size_t rows, size_t limit) { return limit > 0 && limit < rows ? limit : rows; }

static int check_shape(const char *path, const bns_idx *images, uint32_t rows) {
    if (images->dims[0] != rows || images->dims[1] != MNIST_SIDE || images->dims[2] != MNIST_SIDE)
        return bns_fail("%s: expected %u x %d x %d images, found %u x %u x %u (wrong file?)", path,
                        rows, MNIST_SIDE, MNIST_SIDE, images->dims[0], images->dims[1],
                        images->dims[2]);
    return 0;
}

/* MNIST and Fashion-MNIST share the file names and the split. */
static int load_mnist_like(const char *dir, const char *set_name, const char *sub, int prefer_gz, const char *prefix,
                           float pixel_scale, size_t train_limit, size_t test_limit, bns_splits *out) {
    char dirbuf[4096], train_images[4096 + 64], train_labels[4096 + 64];
    char test_images[4096 + 64], test_labels[4096 + 64], name[64];
    bns_idx images, labels;
    memset(out, 0, sizeof *out);
    if (check_scale(pixel_scale) != 0) return -1;
    if (!dir && !(dir = bns_data_dir(dirbuf, sizeof dirbuf))) return -1;
    /* Check that all four files exist before reading any: a missing set is the
     * common case and deserves the set-up hint rather than an I/O error. */
    if (find_pair(dir, set_name, sub, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", prefer_gz,
                  train_images, train_labels, sizeof train_images) != 0 ||
        find_pair(dir, set_name, sub, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", prefer_gz,
                  test_images, test_labels, sizeof test_images) != 0)
        return -1;

    if (load_pair(train_images, train_labels, &images, &labels) != 0) return -1;
    if (check_shape(train_images, &images, MNIST_TRAIN_FILE_ROWS) != 0) goto fail;
    size_t n_train = MNIST_TRAIN_FILE_ROWS - MNIST_VAL_ROWS;
    snprintf(name, sizeof name, "%s-train", prefix);
    rows_from_idx(&images, &labels, 0, limit_rows(n_train, train_limit), pixel_scale, name, &out->train);
    snprintf(name, sizeof name, "%s-val", prefix);
    rows_from_idx(&images, &labels, n_train, limit_rows(MNIST_VAL_ROWS, test_limit), pixel_scale, name, &out->val);
    bns_idx_free(&images);
    bns_idx_free(&labels);

    if (load_pair(test_images, test_labels, &images, &labels) != 0) goto fail;
    if (check_shape(test_images, &images, MNIST_TEST_ROWS) != 0) goto fail;
    snprintf(name, sizeof name, "%s-test", prefix);
    rows_from_idx(&images, &labels, 0, limit_rows(MNIST_TEST_ROWS, test_limit), pixel_scale, name, &out->test);
    bns_idx_free(&images);
    bns_idx_free(&labels);
    return 0;
fail:
    bns_idx_free(&images);
    bns_idx_free(&labels);
    bns_splits_free(out);
    return -1;
}

int bns_mnist_load(const char *dir, float pixel_scale, size_t train_limit, size_t test_limit,
                   bns_splits *out) {
    return load_mnist_like(dir, "MNIST", "mnist", 0, "mnist", pixel_scale, train_limit, test_limit, out);
}

int bns_fashion_load(const char *dir, float pixel_scale, size_t train_limit, size_t test_limit, bns_splits *out) {
    return load_mnist_like(dir, "Fashion-MNIST", "fashion-mnist", 1, "fashion", pixel_scale, train_limit, test_limit,
                           out);
}

int bns_data_load(int kind, const char *dir, const char *path, float pixel_scale, size_t train_limit,
                  size_t test_limit, bns_splits *out) {
    switch (kind) {
    case BNS_DATA_MNIST: return bns_mnist_load(dir, pixel_scale, train_limit, test_limit, out);
    case BNS_DATA_FASHION: return bns_fashion_load(dir, pixel_scale, train_limit, test_limit, out);
    case BNS_DATA_CIFAR10: {
        char dirbuf[4096], pathbuf[4096 + 64];
        if (!path || !path[0]) { /* <data dir>/cifar-10-batches-bin, the archive's own folder name */
            if (!dir && !(dir = bns_data_dir(dirbuf, sizeof dirbuf))) return -1;
            snprintf(pathbuf, sizeof pathbuf, "%s/cifar-10-batches-bin", dir);
            path = pathbuf;
        }
        return bns_cifar10_load(path, pixel_scale, train_limit, test_limit, out);
    }
    case BNS_DATA_TOY1D: return bns_toy1d_load(0, 0, train_limit, test_limit, out);
    default: memset(out, 0, sizeof *out); return bns_fail("unknown data set kind %d", kind);
    }
}

int bns_data_inputs(int kind) { return kind == BNS_DATA_CIFAR10 ? 3072 : 784; }

int bns_fashion_load_test(const char *dir, float pixel_scale, size_t limit, bns_dataset *out) {
    char dirbuf[4096], images_path[4096 + 64], labels_path[4096 + 64];
    bns_idx images, labels;
    memset(out, 0, sizeof *out);
    if (check_scale(pixel_scale) != 0) return -1;
    if (!dir && !(dir = bns_data_dir(dirbuf, sizeof dirbuf))) return -1;
    if (find_pair(dir, "Fashion-MNIST", "fashion-mnist", "t10k-images-idx3-ubyte",
                  "t10k-labels-idx1-ubyte", 1, images_path, labels_path, sizeof images_path) != 0)
        return -1;
    if (load_pair(images_path, labels_path, &images, &labels) != 0) return -1;
    if (check_shape(images_path, &images, MNIST_TEST_ROWS) != 0) {
        bns_idx_free(&images);
        bns_idx_free(&labels);
        return -1;
    }
    rows_from_idx(&images, &labels, 0, limit_rows(MNIST_TEST_ROWS, limit), pixel_scale,
                  "fashion-mnist-test", out);
    bns_idx_free(&images);
    bns_idx_free(&labels);
    return 0;
}
