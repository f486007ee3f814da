/* ood.h - out-of-distribution image sets for detection tests (METHODS.md s.6).
 *
 * Every set comes out as a bns_dataset of 28x28 images (d = 784) in MNIST's
 * polarity (bright strokes on a dark background), pixels in
 * [0, 255 * pixel_scale], labels all 0 (unused), n_classes 10.
 * Fashion-MNIST is loaded by dataset.h (bns_fashion_load_test).
 */
#ifndef BNNSWEEP_OOD_H
#define BNNSWEEP_OOD_H

#include <stddef.h>
#include <stdint.h>

#include "bnnsweep/dataset.h"

/* Noise images after Hendrycks & Gimpel (2017), in intensity units [0, 1]
 * then scaled by 255 * pixel_scale:
 *   gaussian: each pixel i.i.d. N(0.5, 1), clipped to [0, 1];
 *   uniform:  each pixel i.i.d. U(0, 1).
 * Pixel j of image i is number i*784 + j of substream `kind` of the stream
 * bns_stream_make(seed, 0, BNS_PURPOSE_DATA): a pure function of the seed. */
enum bns_noise_kind { BNS_NOISE_GAUSSIAN = 1, BNS_NOISE_UNIFORM = 2 };
#define BNS_NOISE_GAUSSIAN_MEAN 0.5
#define BNS_NOISE_GAUSSIAN_STD 1.0
int bns_noise_images(int kind, size_t n, uint64_t seed, float pixel_scale, bns_dataset *out);

/* notMNIST in IDX format: path is the images file (raw or gzip) or a
 * directory holding t10k-images-idx3-ubyte[.gz]. limit > 0 keeps the first
 * limit images. Labels are not read. */
int bns_notmnist_load(const char *path, float pixel_scale, size_t limit, bns_dataset *out);

/* Omniglot from a zip of PNGs (alphabet/characterNN/NNNN_NN.png, 105x105
 * 1-bit; any size and bit depth libpng reads is accepted), in zip order.
 * Each image is converted to 8-bit grey, inverted when its mean is above
 * half scale (Omniglot draws dark strokes on white), and area-averaged to
 * 28x28 (each output pixel = mean of the source area it covers, fractional
 * overlaps weighted). limit > 0 keeps the first limit images. */
int bns_omniglot_load(const char *zip_path, float pixel_scale, size_t limit, bns_dataset *out);

/* CIFAR-10 grayscale (Wang et al. 2018's OOD set, METHODS.md s.12) from the
 * binary version: path is a batch file (normally test_batch.bin) or a
 * directory holding test_batch.bin or cifar-10-batches-bin/test_batch.bin.
 * Each 32x32 RGB image becomes BT.601 luma 0.299 R + 0.587 G + 0.114 B,
 * rounded to a byte, area-averaged to 28x28 (bns_area_downsample_28).
 * limit > 0 keeps the first limit images. Labels are not kept. */
int bns_cifar10_gray_load(const char *path, float pixel_scale, size_t limit, bns_dataset *out);
/* One image: rgb = 3072 floats in [0, 255] (R, G, B planes of 32x32), out = 784. */
void bns_cifar10_gray_28(const float *rgb, float *out);

/* One OOD set by kind, the one dispatch `bnnsweep eval --ood` and the sweep
 * runner's OOD tasks share: "fashion" (Fashion-MNIST test from data_dir, NULL
 * = the default cache), "gaussian" / "uniform" (`rows` noise images from
 * `seed`, normally the model's seed), "notmnist" / "omniglot" / "cifar10"
 * (grayscale; read from path). limit > 0 keeps the first limit images of a set read from a file. */
int bns_ood_load(const char *kind, const char *path, const char *data_dir, float pixel_scale, size_t rows,
                 size_t limit, uint64_t seed, bns_dataset *out);
/* 1 if kind is read from a path (notmnist, omniglot, cifar10), 0 if it is
 * not, -1 (error recorded) if kind is none of the six. */
int bns_ood_kind_needs_path(const char *kind);

/* Area-average a w x h grey image (bytes) to 28x28 floats in [0, 255]. */
void bns_area_downsample_28(const uint8_t *src, int w, int h, float *out);

#endif
