/* dataset.h - labelled image sets held in memory (MNIST, Fashion-MNIST, CIFAR-10)
 * and the 1-D regression toy (real-valued targets).
 *
 * A dataset is n rows of d floats (row-major) with one class label per row,
 * or (a regression set) n_classes real targets per row in t and y NULL.
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
    int n_classes;  /* labels are 0..n_classes-1; a regression set: outputs per row */
    float *x;       /* n*d, row-major, owned */
    uint8_t *y;     /* n labels, owned; NULL for a regression set */
    float *t;       /* n*n_classes real targets, owned (regression); NULL for a labelled set */
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

/* The training data sets (the `dataset` setting): 0 mnist, 1 fashion-mnist, 2 cifar10, 3 toy1d. */
enum bns_data_kind { BNS_DATA_MNIST = 0, BNS_DATA_FASHION = 1, BNS_DATA_CIFAR10 = 2, BNS_DATA_TOY1D = 3 };

/* Blundell et al.'s regression toy (METHODS.md s.12):
 *   y = x + 0.3 sin(2 pi (x + e)) + 0.3 sin(4 pi (x + e)) + e,  e ~ N(0, 0.02^2)
 * n rows, d = 1, n_classes = 1 (one real target). x ~ U[x_lo, x_hi], or, with
 * grid set, the n points x_lo + (x_hi - x_lo) i / (n - 1) and e = 0 (the
 * noiseless curve, for plotting a prediction). Uniforms and normals come from
 * the stream (seed, task, BNS_PURPOSE_DATA), substream `sub` (one per split). */
int bns_toy1d_make(uint64_t seed, uint64_t task, uint64_t sub, size_t n, double x_lo, double x_hi, int grid,
                   bns_dataset *out);
/* The toy's splits: train = 1000 points with x in [0, 0.5] (train_limit > 0:
 * that many), val = 200 more from the same law, test = the noiseless curve on
 * a grid of 281 points over [-0.2, 1.2] (test_limit > 0: that many points). */
int bns_toy1d_load(uint64_t seed, uint64_t task, size_t train_limit, size_t test_limit, bns_splits *out);

/* Fashion-MNIST from <dir>/fashion-mnist/ (raw or .gz), split like MNIST:
 * train = the first 50,000 rows of its training file, val the last 10,000,
 * test its test file. Names "fashion-train", "fashion-val", "fashion-test". */
int bns_fashion_load(const char *dir, float pixel_scale, size_t train_limit, size_t test_limit, bns_splits *out);

/* One CIFAR-10 binary batch file (data_batch_N.bin, test_batch.bin): records
 * of 1 label byte (0..9) and 3072 pixel bytes (the 1024 red, then green,
 * then blue values of a 32x32 image, row-major: an NCHW row as it is), any
 * positive number of records. x = byte * pixel_scale, d = 3072. Errors name
 * the file: missing, empty, a size that is not a whole number of records
 * (truncated), a label out of range (with its record). */
int bns_cifar10_read(const char *path, float pixel_scale, bns_dataset *out);
/* CIFAR-10 from the directory `dir` holding data_batch_1.bin .. data_batch_5.bin
 * and test_batch.bin: train = batches 1-4, val = batch 5, test = test_batch
 * (the MNIST split's proportions: 40,000 / 10,000 / 10,000 for the real
 * files). Limits as for bns_mnist_load. */
int bns_cifar10_load(const char *dir, float pixel_scale, size_t train_limit, size_t test_limit, bns_splits *out);

/* The data set `kind` (enum bns_data_kind): MNIST and Fashion-MNIST from the
 * data directory dir (NULL = bns_data_dir()), CIFAR-10 from `path` (empty or
 * NULL: <dir>/cifar-10-batches-bin). toy1d is drawn: bns_toy1d_load with
 * seed 0, task 0 (the same data for every model; bns_toy1d_load for others). */
int bns_data_load(int kind, const char *dir, const char *path, float pixel_scale, size_t train_limit,
                  size_t test_limit, bns_splits *out);

/* Features per row of data set `kind`: 784 (1x28x28) for MNIST and
 * Fashion-MNIST, 3072 (3x32x32) for CIFAR-10 (what an arch is built for). */
int bns_data_inputs(int kind);

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
