/* dataset.h - labelled image sets held in memory (MNIST, Fashion-MNIST).
 *
 * A dataset is n rows of d floats (row-major) with one class label per row.
 * Pixels are stored already scaled (byte * pixel_scale) so that training code
 * never deals with bytes. Data live in a cache directory filled by
 * `bash src/scripts/fetch-data.sh`.
 */
#ifndef BNNSWEEP_DATASET_H
#define BNNSWEEP_DATASET_H

#include <stddef.h>
#include <stdint.h>

/* Pixel scales: 1/127.5 maps bytes to [0,2] (the METHODS.md default),
 * 1/255 maps them to [0,1]. */
#define BNS_PIXEL_SCALE_0_2 (1.0f / 127.5f)
#define BNS_PIXEL_SCALE_0_1 (1.0f / 255.0f)

typedef struct {
    size_t n;       /* rows */
    size_t d;       /* features per row (784 for 28x28 images) */
    int n_classes;  /* labels are 0..n_classes-1 */
    float *x;       /* n*d, row-major, owned */
    uint8_t *y;     /* n labels, owned */
    char name[64];  /* for logs: "mnist-train", or the image file's base name */
} bns_dataset;

/* Load an IDX image file (rank 3: count x rows x cols) and its IDX label file
 * (rank 1, labels 0..9); x = byte * pixel_scale. Raw or gzip. */
int bns_dataset_load_idx(const char *images_path, const char *labels_path, float pixel_scale,
                         bns_dataset *out);
void bns_dataset_free(bns_dataset *ds);
/* Deep copy of rows [begin, begin+count) of src. */
int bns_dataset_slice(const bns_dataset *src, size_t begin, size_t count, bns_dataset *out);

typedef struct {
    bns_dataset train, val, test;
} bns_splits;

/* MNIST from <dir>/mnist/ (dir NULL = bns_data_dir()).
 * train = first 50,000 rows of the official training file, val = its last
 * 10,000, test = the 10,000-row test file.
 * train_limit > 0 keeps only the first train_limit rows of train;
 * test_limit > 0 keeps only the first test_limit rows of val and of test
 * (both are evaluation sets). 0 = all rows. For quick runs and tests. */
int bns_mnist_load(const char *dir, float pixel_scale, size_t train_limit, size_t test_limit,
                   bns_splits *out);
void bns_splits_free(bns_splits *s);

/* Fashion-MNIST test set from <dir>/fashion-mnist/ (dir NULL = bns_data_dir()),
 * for out-of-distribution evaluation; limit > 0 keeps the first limit rows. */
int bns_fashion_load_test(const char *dir, float pixel_scale, size_t limit, bns_dataset *out);

/* The data directory: $BNNSWEEP_DATA if set, else $XDG_CACHE_HOME/bnnsweep,
 * else $HOME/.cache/bnnsweep (the same rule as fetch-data.sh). Written into
 * buf; returns buf, or NULL with the error recorded if it does not fit or no
 * variable is set. MNIST lives in <dir>/mnist/, Fashion-MNIST in
 * <dir>/fashion-mnist/. */
const char *bns_data_dir(char *buf, size_t bufsize);

#endif
