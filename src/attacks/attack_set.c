/* attack_set.c - HDF5 attack-set files (see attack_set.h for the layout). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "bnnsweep/attack_set.h"
#include "bnnsweep/attack_settings.h"
#include "bnnsweep/provenance.h"
#include "bnnsweep/util.h"
#include "bnnsweep/error.h"

#define SET_FORMAT "bnnsweep-attack-set"
#define SET_FORMAT_VERSION 1

_Static_assert(sizeof(unsigned long) == sizeof(uint64_t), "unsigned long must be 64-bit");

static void quiet_hdf5(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* ---- the settings as attributes: one per named row of the settings table ---- */

/* string attribute `name` of object `obj` into buf, failing if it does not fit */
static int get_string_attr(hid_t loc, const char *obj, const char *name, char *buf, size_t size) {
    hsize_t dims;
    H5T_class_t cls;
    size_t len;
    if (H5LTget_attribute_info(loc, obj, name, &dims, &cls, &len) < 0 || cls != H5T_STRING || len >= size) return -1;
    return H5LTget_attribute_string(loc, obj, name, buf) < 0 ? -1 : 0;
}

static int write_settings(hid_t file, const bns_attack_settings *s) {
    hid_t g = H5Gcreate2(file, "settings", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return bns_fail("cannot create /settings");
    int rc = 0;
    for (const bns_attack_setting *f = bns_attack_setting_table(); (f->name || f->key) && rc == 0; f++) {
        if (!f->name) continue;
        const char *p = (const char *)s + f->offset;
        switch (f->type) {
        case BNS_ASET_INT:
        case BNS_ASET_BOOL: rc = H5LTset_attribute_int(g, ".", f->name, (const int *)p, 1); break;
        case BNS_ASET_DOUBLE: rc = H5LTset_attribute_double(g, ".", f->name, (const double *)p, 1); break;
        case BNS_ASET_U64: rc = H5LTset_attribute_ulong(g, ".", f->name, (const unsigned long *)p, 1); break;
        default: {
            char text[64];
            bns_attack_setting_format(f, s, 0, text, sizeof text);
            rc = H5LTset_attribute_string(g, ".", f->name, text);
        }
        }
        if (rc < 0) rc = bns_fail("cannot write attribute /settings/%s", f->name);
    }
    H5Gclose(g);
    return rc;
}

static int read_settings(hid_t file, const char *path, bns_attack_settings *s) {
    bns_attack_defaults(s, BNS_ATTACK_MINNORM);
    hid_t g = H5Gopen2(file, "settings", H5P_DEFAULT);
    if (g < 0) return bns_fail("%s: no /settings group", path);
    int rc = 0;
    for (const bns_attack_setting *f = bns_attack_setting_table(); (f->name || f->key) && rc == 0; f++) {
        if (!f->name) continue;
        char *p = (char *)s + f->offset;
        switch (f->type) {
        case BNS_ASET_INT:
        case BNS_ASET_BOOL: rc = H5LTget_attribute_int(g, ".", f->name, (int *)p); break;
        case BNS_ASET_DOUBLE: rc = H5LTget_attribute_double(g, ".", f->name, (double *)p); break;
        case BNS_ASET_U64: rc = H5LTget_attribute_ulong(g, ".", f->name, (unsigned long *)p); break;
        default: {
            char text[64];
            int v = get_string_attr(g, ".", f->name, text, sizeof text) ? -1 : bns_attack_setting_choice(f, text);
            if (v < 0) rc = -1;
            else *(int *)p = v;
        }
        }
        if (rc < 0) rc = bns_fail("%s: missing or malformed attribute /settings/%s", path, f->name);
    }
    H5Gclose(g);
    return rc;
}

/* ---- source identity ---- */

int bns_attack_set_identify(bns_attack_set *set, const char *model_path) {
    quiet_hdf5();
    if (snprintf(set->model_path, sizeof set->model_path, "%s", model_path) >= (int)sizeof set->model_path)
        return bns_fail("%s: path too long", model_path);
    FILE *f = fopen(model_path, "rb");
    if (!f) return bns_fail("%s: cannot read file", model_path);
    /* 64-bit FNV-1a over the bytes */
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    enum { CHUNK = 1 << 16 };
    unsigned char *buf = bns_xmalloc(CHUNK);
    size_t got;
    while ((got = fread(buf, 1, CHUNK, f)) > 0)
        for (size_t i = 0; i < got; i++) h = (h ^ buf[i]) * UINT64_C(0x100000001b3);
    int bad = ferror(f);
    fclose(f);
    free(buf);
    if (bad) return bns_fail("%s: read error", model_path);
    snprintf(set->model_hash, sizeof set->model_hash, "%016llx", (unsigned long long)h);
    snprintf(set->model_git_commit, sizeof set->model_git_commit, "unknown");
    hid_t file = H5Fopen(model_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file >= 0) {
        if (get_string_attr(file, "/", "git_commit", set->model_git_commit, sizeof set->model_git_commit))
            snprintf(set->model_git_commit, sizeof set->model_git_commit, "unknown");
        H5Fclose(file);
    }
    return 0;
}

/* ---- save ---- */

static int make_u8(hid_t file, const char *name, hsize_t n, const uint8_t *v) {
    return H5LTmake_dataset(file, name, 1, &n, H5T_NATIVE_UINT8, v) < 0 ? bns_fail("cannot write /%s", name) : 0;
}

int bns_attack_set_save(const char *path, const bns_attack_set *set) {
    quiet_hdf5();
    char tmp[4096];
    if (bns_temp_path(path, tmp, sizeof tmp) != 0) return -1;
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) return bns_fail("%s: cannot create file (directory missing or not writable?)", tmp);
    int rc = bns_provenance_write(file, SET_FORMAT, SET_FORMAT_VERSION), n_classes = set->n_classes;
    unsigned long n = (unsigned long)set->n, d = (unsigned long)set->d;
    rc |= H5LTset_attribute_ulong(file, "/", "n", &n, 1);
    rc |= H5LTset_attribute_ulong(file, "/", "d", &d, 1);
    rc |= H5LTset_attribute_int(file, "/", "n_classes", &n_classes, 1);
    rc |= H5LTset_attribute_double(file, "/", "seconds", &set->seconds, 1);
    if (rc < 0) rc = bns_fail("cannot write file attributes");
    hsize_t dims[2] = {(hsize_t)set->n, (hsize_t)set->d};
    if (rc == 0 && H5LTmake_dataset_float(file, "x_adv", 2, dims, set->x_adv) < 0) rc = bns_fail("cannot write /x_adv");
    if (rc == 0) rc = make_u8(file, "label", dims[0], set->label);
    if (rc == 0) rc = make_u8(file, "target", dims[0], set->target);
    if (rc == 0) rc = make_u8(file, "success", dims[0], set->success);
    if (rc == 0 && H5LTmake_dataset_float(file, "l2", 1, dims, set->l2) < 0) rc = bns_fail("cannot write /l2");
    if (rc == 0 && H5LTmake_dataset(file, "clean_index", 1, dims, H5T_NATIVE_INT64, set->clean_index) < 0)
        rc = bns_fail("cannot write /clean_index");
    if (rc == 0) {
        hid_t g = H5Gcreate2(file, "source", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        int r = g < 0 ? -1 : 0;
        if (r == 0) {
            r |= H5LTset_attribute_string(g, ".", "model_path", set->model_path);
            r |= H5LTset_attribute_string(g, ".", "model_hash", set->model_hash);
            r |= H5LTset_attribute_string(g, ".", "model_git_commit", set->model_git_commit);
            r |= H5LTset_attribute_string(g, ".", "model_arch", set->model_arch);
            r |= H5LTset_attribute_string(g, ".", "model_method", set->model_method);
            r |= H5LTset_attribute_double(g, ".", "pixel_scale", &set->pixel_scale, 1);
            r |= H5LTset_attribute_string(g, ".", "model_config", set->model_config);
            H5Gclose(g);
        }
        if (r < 0) rc = bns_fail("cannot write /source");
    }
    if (rc == 0) rc = write_settings(file, &set->settings);
    if (rc == 0) {
        hid_t g = H5Gcreate2(file, "summary", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        unsigned long ns = (unsigned long)set->n_success;
        int r = g < 0 ? -1 : 0;
        if (r == 0) {
            r |= H5LTset_attribute_ulong(g, ".", "n_success", &ns, 1);
            r |= H5LTset_attribute_double(g, ".", "success_rate", &set->success_rate, 1);
            r |= H5LTset_attribute_double(g, ".", "mean_distortion", &set->mean_distortion, 1);
            r |= H5LTset_attribute_double(g, ".", "mean_distortion_success", &set->mean_distortion_success, 1);
            r |= H5LTset_attribute_double(g, ".", "mean_l2", &set->mean_l2, 1);
            H5Gclose(g);
        }
        if (r < 0) rc = bns_fail("cannot write /summary");
    }
    if (H5Fclose(file) < 0 && rc == 0) rc = bns_fail("cannot close file");
    if (bns_commit_file(tmp, path, rc)) return bns_fail_prefix("writing %s: ", path);
    return 0;
}

/* ---- load ---- */

/* open path and check its format attribute */
static hid_t open_set(const char *path) {
    quiet_hdf5();
    if (access(path, R_OK) != 0) {
        bns_fail("%s: cannot read file", path);
        return -1;
    }
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        bns_fail("%s: not an HDF5 file (or damaged)", path);
        return -1;
    }
    char format[64];
    if (get_string_attr(file, "/", "format", format, sizeof format) || strcmp(format, SET_FORMAT) != 0) {
        H5Fclose(file);
        bns_fail("%s: not a bnnsweep attack set (format attribute missing or wrong)", path);
        return -1;
    }
    return file;
}

/* dataset `name` must have rank `rank` and shape n (x d): read as `type` */
static int read_array(hid_t file, const char *path, const char *name, int rank, size_t n, size_t d, hid_t type,
                      void *out) {
    int got_rank;
    hsize_t dims[2] = {0, 0};
    H5T_class_t cls;
    size_t size;
    if (H5LTget_dataset_ndims(file, name, &got_rank) < 0 || got_rank != rank ||
        H5LTget_dataset_info(file, name, dims, &cls, &size) < 0 || dims[0] != n || (rank == 2 && dims[1] != d))
        return bns_fail("%s: /%s is missing or has the wrong shape (expected %zu%s)", path, name, n,
                        rank == 2 ? " x d" : "");
    if (H5LTread_dataset(file, name, type, out) < 0) return bns_fail("%s: cannot read /%s", path, name);
    return 0;
}

static int read_header(hid_t file, const char *path, size_t *n, size_t *d, int *n_classes) {
    unsigned long un, ud;
    if (H5LTget_attribute_ulong(file, "/", "n", &un) < 0 || H5LTget_attribute_ulong(file, "/", "d", &ud) < 0 ||
        H5LTget_attribute_int(file, "/", "n_classes", n_classes) < 0 || ud < 1 || ud > 100000000UL ||
        un > 1000000000UL || *n_classes < 1 || *n_classes > 256)
        return bns_fail("%s: missing or malformed attributes n, d, n_classes", path);
    *n = un;
    *d = ud;
    return 0;
}

int bns_attack_set_read(const char *path, bns_attack_set *set) {
    memset(set, 0, sizeof *set);
    hid_t file = open_set(path);
    if (file < 0) return -1;
    int rc = read_header(file, path, &set->n, &set->d, &set->n_classes);
    if (rc == 0 && H5LTget_attribute_double(file, "/", "seconds", &set->seconds) < 0)
        rc = bns_fail("%s: missing attribute seconds", path);
    size_t n = set->n ? set->n : 1;
    if (rc == 0) {
        set->x_adv = bns_xmalloc(sizeof(float) * n * set->d);
        set->label = bns_xmalloc(n);
        set->target = bns_xmalloc(n);
        set->success = bns_xmalloc(n);
        set->l2 = bns_xmalloc(sizeof(float) * n);
        set->clean_index = bns_xmalloc(sizeof(int64_t) * n);
        rc = read_array(file, path, "x_adv", 2, set->n, set->d, H5T_NATIVE_FLOAT, set->x_adv);
    }
    if (rc == 0) rc = read_array(file, path, "label", 1, set->n, 0, H5T_NATIVE_UINT8, set->label);
    if (rc == 0) rc = read_array(file, path, "target", 1, set->n, 0, H5T_NATIVE_UINT8, set->target);
    if (rc == 0) rc = read_array(file, path, "success", 1, set->n, 0, H5T_NATIVE_UINT8, set->success);
    if (rc == 0) rc = read_array(file, path, "l2", 1, set->n, 0, H5T_NATIVE_FLOAT, set->l2);
    if (rc == 0) rc = read_array(file, path, "clean_index", 1, set->n, 0, H5T_NATIVE_INT64, set->clean_index);
    if (rc == 0 && (get_string_attr(file, "source", "model_path", set->model_path, sizeof set->model_path) ||
                    get_string_attr(file, "source", "model_hash", set->model_hash, sizeof set->model_hash) ||
                    get_string_attr(file, "source", "model_git_commit", set->model_git_commit,
                                    sizeof set->model_git_commit) ||
                    get_string_attr(file, "source", "model_arch", set->model_arch, sizeof set->model_arch) ||
                    get_string_attr(file, "source", "model_method", set->model_method, sizeof set->model_method) ||
                    get_string_attr(file, "source", "model_config", set->model_config, sizeof set->model_config) ||
                    H5LTget_attribute_double(file, "source", "pixel_scale", &set->pixel_scale) < 0))
        rc = bns_fail("%s: missing or malformed /source attributes", path);
    if (rc == 0) rc = read_settings(file, path, &set->settings);
    unsigned long ns = 0;
    if (rc == 0 && (H5LTget_attribute_ulong(file, "summary", "n_success", &ns) < 0 ||
                    H5LTget_attribute_double(file, "summary", "success_rate", &set->success_rate) < 0 ||
                    H5LTget_attribute_double(file, "summary", "mean_distortion", &set->mean_distortion) < 0 ||
                    H5LTget_attribute_double(file, "summary", "mean_distortion_success",
                                             &set->mean_distortion_success) < 0 ||
                    H5LTget_attribute_double(file, "summary", "mean_l2", &set->mean_l2) < 0))
        rc = bns_fail("%s: missing or malformed /summary attributes", path);
    set->n_success = ns;
    H5Fclose(file);
    if (rc) bns_attack_set_free(set);
    return rc;
}

int bns_attack_set_read_summary(const char *path, double *success_rate, double *mean_distortion) {
    hid_t file = open_set(path);
    if (file < 0) return -1;
    int rc = 0;
    if (H5LTget_attribute_double(file, "summary", "success_rate", success_rate) < 0 ||
        H5LTget_attribute_double(file, "summary", "mean_distortion", mean_distortion) < 0)
        rc = bns_fail("%s: missing or malformed /summary attributes", path);
    H5Fclose(file);
    return rc;
}

int bns_attack_set_load(const char *path, bns_dataset *out) {
    memset(out, 0, sizeof *out);
    hid_t file = open_set(path);
    if (file < 0) return -1;
    int rc = read_header(file, path, &out->n, &out->d, &out->n_classes);
    if (rc == 0) {
        size_t n = out->n ? out->n : 1;
        out->x = bns_xmalloc(sizeof(float) * n * out->d);
        out->y = bns_xmalloc(n);
        rc = read_array(file, path, "x_adv", 2, out->n, out->d, H5T_NATIVE_FLOAT, out->x);
        if (rc == 0) rc = read_array(file, path, "label", 1, out->n, 0, H5T_NATIVE_UINT8, out->y);
    }
    H5Fclose(file);
    if (rc) {
        free(out->x);
        free(out->y);
        memset(out, 0, sizeof *out);
        return rc;
    }
    const char *base = strrchr(path, '/');
    snprintf(out->name, sizeof out->name, "%s", base ? base + 1 : path);
    return 0;
}
