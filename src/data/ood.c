/* ood.c - noise, notMNIST, Omniglot and CIFAR-10 grayscale image sets, and
 * the one loader of an OOD set by kind (see ood.h). Omniglot is read with
 * minizip and decoded with libpng's simplified API; CIFAR-10 with the batch
 * reader of cifar10.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <png.h>
#include <unzip.h>

#include "bnnsweep/error.h"
#include "bnnsweep/idx.h"
#include "bnnsweep/ood.h"
#include "bnnsweep/rng.h"

enum { SIDE = 28, PIXELS = SIDE * SIDE };

static int check_scale(float pixel_scale) {
    if (!(pixel_scale > 0.0f && pixel_scale < 1.0f)) return bns_fail("pixel scale %g is not in (0, 1)", pixel_scale);
    return 0;
}

static void alloc_set(size_t n, const char *name, bns_dataset *out) {
    memset(out, 0, sizeof *out);
    out->n = n;
    out->d = PIXELS;
    out->n_classes = 10;
    out->x = bns_xmalloc(sizeof(float) * (n * PIXELS + 1));
    out->y = bns_xcalloc(n + 1, 1);
    snprintf(out->name, sizeof out->name, "%s", name);
}

int bns_noise_images(int kind, size_t n, uint64_t seed, float pixel_scale, bns_dataset *out) {
    memset(out, 0, sizeof *out);
    if (check_scale(pixel_scale)) return -1;
    if (kind != BNS_NOISE_GAUSSIAN && kind != BNS_NOISE_UNIFORM) return bns_fail("unknown noise kind %d", kind);
    alloc_set(n, kind == BNS_NOISE_GAUSSIAN ? "gaussian-noise" : "uniform-noise", out);
    bns_stream stream = bns_stream_make(seed, 0, BNS_PURPOSE_DATA);
    size_t total = n * PIXELS;
    float top = 255.0f * pixel_scale;
    if (kind == BNS_NOISE_GAUSSIAN) {
        bns_stream_normal(&stream, (uint64_t)kind, 0, total, out->x);
        for (size_t i = 0; i < total; i++) {
            float v = (float)(BNS_NOISE_GAUSSIAN_MEAN + BNS_NOISE_GAUSSIAN_STD * out->x[i]);
            out->x[i] = top * (v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v);
        }
    } else {
        bns_stream_uniform(&stream, (uint64_t)kind, 0, total, out->x);
        for (size_t i = 0; i < total; i++) out->x[i] *= top;
    }
    return 0;
}

/* path itself, or for a directory path/first if it exists, else path/second
 * (a set given as its file or the folder it comes in) */
static int set_file(const char *what, const char *path, const char *first, const char *second, char *file,
                    size_t size) {
    struct stat st;
    if (stat(path, &st) != 0) return bns_fail("%s: '%s' does not exist", what, path);
    snprintf(file, size, "%s", path);
    if (S_ISDIR(st.st_mode)) {
        snprintf(file, size, "%s/%s", path, first);
        if (stat(file, &st) != 0) snprintf(file, size, "%s/%s", path, second);
    }
    return 0;
}

int bns_notmnist_load(const char *path, float pixel_scale, size_t limit, bns_dataset *out) {
    memset(out, 0, sizeof *out);
    if (check_scale(pixel_scale)) return -1;
    char file[4200];
    if (set_file("notMNIST", path, "t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte", file, sizeof file))
        return -1;
    bns_idx idx;
    if (bns_idx_read(file, &idx)) return bns_fail_prefix("notMNIST: ");
    if (idx.rank != 3 || idx.dims[1] != SIDE || idx.dims[2] != SIDE) {
        bns_idx_free(&idx);
        return bns_fail("notMNIST: %s does not hold 28x28 images", file);
    }
    size_t n = idx.dims[0];
    if (limit > 0 && limit < n) n = limit;
    alloc_set(n, "notmnist", out);
    for (size_t i = 0; i < n * PIXELS; i++) out->x[i] = idx.data[i] * pixel_scale;
    bns_idx_free(&idx);
    return 0;
}

void bns_area_downsample_28(const uint8_t *src, int w, int h, float *out) {
    /* output pixel (oy, ox) covers source [oy*h/28, (oy+1)*h/28) x [ox*w/28, (ox+1)*w/28) */
    double sy = (double)h / SIDE, sx = (double)w / SIDE;
    for (int oy = 0; oy < SIDE; oy++) {
        double y0 = oy * sy, y1 = (oy + 1) * sy;
        for (int ox = 0; ox < SIDE; ox++) {
            double x0 = ox * sx, x1 = (ox + 1) * sx, sum = 0;
            for (int y = (int)y0; y < h && y < y1; y++) {
                double wy = fmin(y + 1.0, y1) - fmax((double)y, y0);
                for (int x = (int)x0; x < w && x < x1; x++) {
                    double wx = fmin(x + 1.0, x1) - fmax((double)x, x0);
                    sum += wy * wx * src[(size_t)y * w + x];
                }
            }
            out[oy * SIDE + ox] = (float)(sum / (sy * sx));
        }
    }
}

static int ends_with_png(const char *name) {
    size_t n = strlen(name);
    return n >= 4 && strcmp(name + n - 4, ".png") == 0;
}

/* Decode one PNG (bytes) to grey, fix polarity, downsample into out (784 floats). */
static int omniglot_image(const char *zip_path, const char *name, const uint8_t *png, size_t size, uint8_t **grey,
                          size_t *grey_cap, float pixel_scale, float *out) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, png, size))
        return bns_fail("Omniglot: %s: %s: not a readable PNG (%s)", zip_path, name, img.message);
    img.format = PNG_FORMAT_GRAY;
    size_t need = PNG_IMAGE_SIZE(img);
    if (img.width < 1 || img.height < 1 || img.width > 4096 || img.height > 4096) {
        png_image_free(&img);
        return bns_fail("Omniglot: %s: %s: unexpected size %ux%u", zip_path, name, img.width, img.height);
    }
    if (need > *grey_cap) { /* grows only when a larger image appears (105x105 for all of Omniglot) */
        free(*grey);
        *grey = bns_xmalloc(need);
        *grey_cap = need;
    }
    if (!png_image_finish_read(&img, NULL, *grey, 0, NULL))
        return bns_fail("Omniglot: %s: %s: PNG decode failed (%s)", zip_path, name, img.message);
    size_t count = (size_t)img.width * img.height, sum = 0;
    uint8_t *g = *grey;
    for (size_t i = 0; i < count; i++) sum += g[i];
    if (sum * 2 > count * 255) /* mostly bright: dark strokes on white, invert to MNIST polarity */
        for (size_t i = 0; i < count; i++) g[i] = (uint8_t)(255 - g[i]);
    bns_area_downsample_28(g, (int)img.width, (int)img.height, out);
    for (int i = 0; i < PIXELS; i++) out[i] *= pixel_scale;
    return 0;
}

int bns_omniglot_load(const char *zip_path, float pixel_scale, size_t limit, bns_dataset *out) {
    memset(out, 0, sizeof *out);
    if (check_scale(pixel_scale)) return -1;
    struct stat st;
    if (stat(zip_path, &st) != 0) return bns_fail("Omniglot: '%s' does not exist", zip_path);
    unzFile zf = unzOpen64(zip_path);
    if (!zf) return bns_fail("Omniglot: '%s' is not a readable zip archive", zip_path);
    /* pass 1: count the PNG entries and the largest one */
    char name[1024];
    unz_file_info64 info;
    size_t n = 0, max_size = 0;
    int rc = unzGoToFirstFile(zf);
    while (rc == UNZ_OK) {
        if (unzGetCurrentFileInfo64(zf, &info, name, sizeof name, NULL, 0, NULL, 0) != UNZ_OK) break;
        if (ends_with_png(name)) {
            n++;
            if (info.uncompressed_size > max_size) max_size = (size_t)info.uncompressed_size;
        }
        rc = unzGoToNextFile(zf);
    }
    if (rc != UNZ_END_OF_LIST_OF_FILE) {
        unzClose(zf);
        return bns_fail("Omniglot: %s: corrupt zip directory", zip_path);
    }
    if (n == 0) {
        unzClose(zf);
        return bns_fail("Omniglot: %s holds no .png files", zip_path);
    }
    if (max_size > ((size_t)64 << 20)) {
        unzClose(zf);
        return bns_fail("Omniglot: %s: a PNG of %zu bytes is implausibly large", zip_path, max_size);
    }
    if (limit > 0 && limit < n) n = limit;
    alloc_set(n, "omniglot", out);
    /* pass 2: decode; the file and grey buffers are allocated once */
    uint8_t *file = bns_xmalloc(max_size + 1), *grey = NULL;
    size_t grey_cap = 0, k = 0;
    int status = 0;
    rc = unzGoToFirstFile(zf);
    while (rc == UNZ_OK && k < n && status == 0) {
        if (unzGetCurrentFileInfo64(zf, &info, name, sizeof name, NULL, 0, NULL, 0) != UNZ_OK) {
            status = bns_fail("Omniglot: %s: corrupt zip entry", zip_path);
            break;
        }
        if (ends_with_png(name)) {
            size_t size = (size_t)info.uncompressed_size;
            int got = -1;
            if (unzOpenCurrentFile(zf) == UNZ_OK) {
                got = unzReadCurrentFile(zf, file, (unsigned)size);
                if (unzCloseCurrentFile(zf) != UNZ_OK) got = -1; /* CRC mismatch */
            }
            if (got < 0 || (size_t)got != size)
                status = bns_fail("Omniglot: %s: cannot read %s (corrupt archive?)", zip_path, name);
            else
                status = omniglot_image(zip_path, name, file, size, &grey, &grey_cap, pixel_scale,
                                        out->x + k * PIXELS);
            k++;
        }
        rc = unzGoToNextFile(zf);
    }
    free(file);
    free(grey);
    unzClose(zf);
    if (status == 0 && k != n) status = bns_fail("Omniglot: %s: read %zu of %zu images", zip_path, k, n);
    if (status) bns_dataset_free(out);
    return status;
}

void bns_cifar10_gray_28(const float *rgb, float *out) {
    /* BT.601 luma, as PIL's convert("L") and torchvision's Grayscale (the
     * usual way of making CIFAR-10 an MNIST-shaped OOD set, METHODS.md s.12),
     * rounded to a byte, then area-averaged like Omniglot */
    uint8_t grey[32 * 32];
    for (int i = 0; i < 32 * 32; i++) {
        double v = 0.299 * rgb[i] + 0.587 * rgb[1024 + i] + 0.114 * rgb[2048 + i];
        grey[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v + 0.5);
    }
    bns_area_downsample_28(grey, 32, 32, out);
}

int bns_cifar10_gray_load(const char *path, float pixel_scale, size_t limit, bns_dataset *out) {
    memset(out, 0, sizeof *out);
    if (check_scale(pixel_scale)) return -1;
    char file[4200];
    if (set_file("CIFAR-10", path, "test_batch.bin", "cifar-10-batches-bin/test_batch.bin", file, sizeof file))
        return -1;
    bns_dataset rgb;
    if (bns_cifar10_read(file, 1.0f, &rgb)) return bns_fail_prefix("CIFAR-10 grayscale OOD set: ");
    size_t n = rgb.n;
    if (limit > 0 && limit < n) n = limit;
    alloc_set(n, "cifar10-gray", out);
    for (size_t i = 0; i < n; i++) {
        float *row = out->x + i * PIXELS;
        bns_cifar10_gray_28(rgb.x + i * rgb.d, row);
        for (int j = 0; j < PIXELS; j++) row[j] *= pixel_scale;
    }
    bns_dataset_free(&rgb);
    return 0;
}

int bns_ood_kind_needs_path(const char *kind) {
    if (!strcmp(kind, "notmnist") || !strcmp(kind, "omniglot") || !strcmp(kind, "cifar10")) return 1;
    if (!strcmp(kind, "fashion") || !strcmp(kind, "gaussian") || !strcmp(kind, "uniform")) return 0;
    return bns_fail("unknown OOD set '%s' (fashion, gaussian, uniform, notmnist, omniglot, cifar10)", kind);
}

int bns_ood_load(const char *kind, const char *path, const char *data_dir, float pixel_scale, size_t rows,
                 size_t limit, uint64_t seed, bns_dataset *out) {
    memset(out, 0, sizeof *out);
    if (!strcmp(kind, "fashion")) return bns_fashion_load_test(data_dir, pixel_scale, limit, out);
    if (!strcmp(kind, "gaussian")) return bns_noise_images(BNS_NOISE_GAUSSIAN, rows, seed, pixel_scale, out);
    if (!strcmp(kind, "uniform")) return bns_noise_images(BNS_NOISE_UNIFORM, rows, seed, pixel_scale, out);
    if (!strcmp(kind, "notmnist")) return bns_notmnist_load(path ? path : "", pixel_scale, limit, out);
    if (!strcmp(kind, "omniglot")) return bns_omniglot_load(path ? path : "", pixel_scale, limit, out);
    if (!strcmp(kind, "cifar10")) return bns_cifar10_gray_load(path ? path : "", pixel_scale, limit, out);
    return bns_ood_kind_needs_path(kind); /* -1: unknown kind, error recorded */
}
