/* model_io.c - HDF5 model files (see model_io.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "bnnsweep/config.h"
#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/model_io.h"
#include "bnnsweep/util.h"

#define MODEL_FORMAT "bnnsweep-model"
#define MODEL_FORMAT_VERSION 1

/* uint64 settings are stored as unsigned long (HDF5 1.10 HL has no ullong). */
_Static_assert(sizeof(unsigned long) == sizeof(uint64_t), "unsigned long must be 64-bit");

/* HDF5 prints its own error stacks by default; we report our own messages. */
static void quiet_hdf5(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static int write_config(hid_t file, const bns_config *cfg) {
    hid_t group = H5Gcreate2(file, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (group < 0) return bns_fail("cannot create /config");
    int rc = 0;
    for (const bns_config_field *f = bns_config_fields(); f->name && rc == 0; f++) {
        const char *field = (const char *)cfg + f->offset;
        switch (f->type) {
        case BNS_FIELD_DOUBLE: rc = H5LTset_attribute_double(group, ".", f->name, (const double *)field, 1); break;
        case BNS_FIELD_INT: rc = H5LTset_attribute_int(group, ".", f->name, (const int *)field, 1); break;
        case BNS_FIELD_LONG: rc = H5LTset_attribute_long(group, ".", f->name, (const long *)field, 1); break;
        case BNS_FIELD_U64:
            rc = H5LTset_attribute_ulong(group, ".", f->name, (const unsigned long *)field, 1);
            break;
        default: {
            char text[256];
            bns_config_format_field(cfg, f, text, sizeof text);
            rc = H5LTset_attribute_string(group, ".", f->name, text);
        }
        }
        if (rc < 0) rc = bns_fail("cannot write attribute /config/%s", f->name);
    }
    H5Gclose(group);
    return rc;
}

static int read_config(hid_t file, const char *path, bns_config *cfg) {
    bns_config_defaults(cfg);
    hid_t group = H5Gopen2(file, "config", H5P_DEFAULT);
    if (group < 0) return bns_fail("%s: no /config group (not a bnnsweep model?)", path);
    int rc = 0;
    for (const bns_config_field *f = bns_config_fields(); f->name && rc == 0; f++) {
        if (H5Aexists(group, f->name) <= 0) continue; /* older file: keep the default */
        char *field = (char *)cfg + f->offset;
        switch (f->type) {
        case BNS_FIELD_DOUBLE: rc = H5LTget_attribute_double(group, ".", f->name, (double *)field); break;
        case BNS_FIELD_INT: rc = H5LTget_attribute_int(group, ".", f->name, (int *)field); break;
        case BNS_FIELD_LONG: rc = H5LTget_attribute_long(group, ".", f->name, (long *)field); break;
        case BNS_FIELD_U64: rc = H5LTget_attribute_ulong(group, ".", f->name, (unsigned long *)field); break;
        default: {
            hsize_t dims;
            H5T_class_t cls;
            size_t size;
            char text[256];
            if (H5LTget_attribute_info(group, ".", f->name, &dims, &cls, &size) < 0 || cls != H5T_STRING ||
                size >= sizeof text) {
                rc = -1;
                break;
            }
            rc = H5LTget_attribute_string(group, ".", f->name, text);
            if (rc >= 0 && bns_config_set(cfg, f->name, text)) {
                H5Gclose(group);
                return bns_fail_prefix("%s: /config: ", path);
            }
        }
        }
        if (rc < 0) rc = bns_fail("%s: cannot read attribute /config/%s", path, f->name);
    }
    H5Gclose(group);
    return rc;
}

/* the parameter blocks of layer l as (dataset name, offset into params, rows, cols) */
typedef struct {
    const char *name;
    size_t offset;
    hsize_t dims[2];
    int rank;
} param_block;

static int layer_blocks(const bns_model *m, int l, param_block out[4]) {
    const bns_arch *a = &m->arch;
    size_t n = a->n_weights;
    hsize_t n_in = (hsize_t)a->width[l], n_out = (hsize_t)a->width[l + 1];
    if (!m->method->bayesian) {
        out[0] = (param_block){"weight", a->weight_offset[l], {n_in, n_out}, 2};
        out[1] = (param_block){"bias", a->bias_offset[l], {n_out, 0}, 1};
        return 2;
    }
    out[0] = (param_block){"weight_mu", a->weight_offset[l], {n_in, n_out}, 2};
    out[1] = (param_block){"weight_rho", n + a->weight_offset[l], {n_in, n_out}, 2};
    out[2] = (param_block){"bias_mu", a->bias_offset[l], {n_out, 0}, 1};
    out[3] = (param_block){"bias_rho", n + a->bias_offset[l], {n_out, 0}, 1};
    return 4;
}

static int write_double_series(hid_t group, const char *name, const bns_train_history *h, size_t member) {
    int count = h->epochs_run;
    double *values = bns_xmalloc(sizeof(double) * (count ? count : 1));
    for (int i = 0; i < count; i++) values[i] = *(const double *)((const char *)&h->epochs[i] + member);
    hsize_t dims = (hsize_t)count;
    int rc = H5LTmake_dataset_double(group, name, 1, &dims, values);
    free(values);
    return rc < 0 ? bns_fail("cannot write /training/%s", name) : 0;
}

static const struct {
    const char *name;
    size_t member;
} series[] = {
    {"train_loss", offsetof(bns_epoch_record, train_loss)},
    {"train_nll", offsetof(bns_epoch_record, train_nll)},
    {"train_kl", offsetof(bns_epoch_record, train_kl)},
    {"train_acc", offsetof(bns_epoch_record, train_acc)},
    {"val_acc", offsetof(bns_epoch_record, val_acc)},
    {"epoch_seconds", offsetof(bns_epoch_record, seconds)},
    {"val_seconds", offsetof(bns_epoch_record, val_seconds)},
};
#define N_SERIES (sizeof series / sizeof series[0])

static int write_history(hid_t file, const bns_train_history *h) {
    hid_t group = H5Gcreate2(file, "training", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (group < 0) return bns_fail("cannot create /training");
    int rc = 0;
    rc |= H5LTset_attribute_string(group, ".", "status", bns_train_status_name(h->status));
    rc |= H5LTset_attribute_string(group, ".", "message", h->message);
    rc |= H5LTset_attribute_int(group, ".", "epochs_run", &h->epochs_run, 1);
    rc |= H5LTset_attribute_int(group, ".", "best_epoch", &h->best_epoch, 1);
    rc |= H5LTset_attribute_double(group, ".", "best_val_acc", &h->best_val_acc, 1);
    if (rc < 0) rc = bns_fail("cannot write /training attributes");
    for (size_t i = 0; i < N_SERIES && rc == 0; i++) rc = write_double_series(group, series[i].name, h, series[i].member);
    H5Gclose(group);
    return rc;
}

static int read_history(hid_t file, const char *path, bns_train_history *h) {
    memset(h, 0, sizeof *h);
    hid_t group = H5Gopen2(file, "training", H5P_DEFAULT);
    if (group < 0) return bns_fail("%s: no /training group", path);
    char status[64] = "";
    hsize_t dims;
    H5T_class_t cls;
    size_t size;
    int rc = 0;
    if (H5LTget_attribute_int(group, ".", "epochs_run", &h->epochs_run) < 0 ||
        H5LTget_attribute_int(group, ".", "best_epoch", &h->best_epoch) < 0 ||
        H5LTget_attribute_double(group, ".", "best_val_acc", &h->best_val_acc) < 0 ||
        H5LTget_attribute_info(group, ".", "status", &dims, &cls, &size) < 0 || size >= sizeof status ||
        H5LTget_attribute_string(group, ".", "status", status) < 0 ||
        H5LTget_attribute_info(group, ".", "message", &dims, &cls, &size) < 0 || size >= sizeof h->message ||
        H5LTget_attribute_string(group, ".", "message", h->message) < 0 || h->epochs_run < 0 ||
        h->epochs_run > 1000000) {
        H5Gclose(group);
        return bns_fail("%s: malformed /training attributes", path);
    }
    h->status = -1;
    for (int s = 0; s <= BNS_TRAIN_DIVERGED; s++)
        if (strcmp(status, bns_train_status_name(s)) == 0) h->status = s;
    h->epochs = bns_xcalloc(h->epochs_run ? h->epochs_run : 1, sizeof *h->epochs);
    double *values = bns_xmalloc(sizeof(double) * (h->epochs_run ? h->epochs_run : 1));
    for (size_t i = 0; i < N_SERIES && rc == 0; i++) {
        hsize_t len;
        if (H5LTget_dataset_info(group, series[i].name, &len, &cls, &size) < 0 || len != (hsize_t)h->epochs_run ||
            H5LTread_dataset_double(group, series[i].name, values) < 0) {
            rc = bns_fail("%s: missing or malformed /training/%s", path, series[i].name);
            break;
        }
        for (int e = 0; e < h->epochs_run; e++) *(double *)((char *)&h->epochs[e] + series[i].member) = values[e];
    }
    free(values);
    H5Gclose(group);
    if (rc) bns_train_history_free(h);
    return rc;
}

int bns_model_save(const char *path, const bns_model *m, const bns_train_history *history) {
    quiet_hdf5();
    char tmp[4096];
    if (bns_temp_path(path, tmp, sizeof tmp) != 0) return -1;
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) return bns_fail("%s: cannot create file (directory missing or not writable?)", tmp);
    int rc = 0;
    int version = MODEL_FORMAT_VERSION;
    rc |= H5LTset_attribute_string(file, "/", "format", MODEL_FORMAT);
    rc |= H5LTset_attribute_int(file, "/", "format_version", &version, 1);
    rc |= H5LTset_attribute_string(file, "/", "bnnsweep_version", BNS_VERSION);
    rc |= H5LTset_attribute_string(file, "/", "git_commit", BNS_GIT_COMMIT);
    if (rc < 0) rc = bns_fail("cannot write file attributes");
    if (rc == 0) rc = write_config(file, &m->cfg);
    hid_t layers = rc == 0 ? H5Gcreate2(file, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
    if (rc == 0 && layers < 0) rc = bns_fail("cannot create /layers");
    for (int l = 0; rc == 0 && l < m->arch.n_layers; l++) {
        char name[16];
        snprintf(name, sizeof name, "%d", l);
        hid_t group = H5Gcreate2(layers, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        param_block blocks[4];
        int nb = layer_blocks(m, l, blocks);
        for (int b = 0; b < nb && rc == 0; b++)
            if (group < 0 || H5LTmake_dataset_float(group, blocks[b].name, blocks[b].rank, blocks[b].dims,
                                                    m->params + blocks[b].offset) < 0)
                rc = bns_fail("cannot write /layers/%d/%s", l, blocks[b].name);
        if (group >= 0) H5Gclose(group);
    }
    if (layers >= 0) H5Gclose(layers);
    if (rc == 0 && history) rc = write_history(file, history);
    if (H5Fclose(file) < 0 && rc == 0) rc = bns_fail("cannot close file");
    if (bns_commit_file(tmp, path, rc)) return bns_fail_prefix("writing %s: ", path);
    return 0;
}

int bns_model_load(const char *path, bns_model *m, bns_train_history *history) {
    quiet_hdf5();
    memset(m, 0, sizeof *m);
    if (access(path, R_OK) != 0) return bns_fail("%s: cannot read file", path);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return bns_fail("%s: not an HDF5 file (or damaged)", path);
    char format[64] = "";
    hsize_t dims[2];
    H5T_class_t cls;
    size_t size;
    int rc = 0;
    if (H5LTget_attribute_info(file, "/", "format", dims, &cls, &size) < 0 || size >= sizeof format ||
        H5LTget_attribute_string(file, "/", "format", format) < 0 || strcmp(format, MODEL_FORMAT) != 0) {
        H5Fclose(file);
        return bns_fail("%s: not a bnnsweep model file (format attribute missing or wrong)", path);
    }
    bns_config cfg;
    rc = read_config(file, path, &cfg);
    /* The input width is not a config field: it is the first layer's row count. */
    int n_inputs = 0;
    if (rc == 0) {
        const char *first = strcmp(cfg.method, "deterministic") == 0 ? "/layers/0/weight" : "/layers/0/weight_mu";
        if (H5LTget_dataset_info(file, first, dims, &cls, &size) < 0) rc = bns_fail("%s: missing %s", path, first);
        else n_inputs = (int)dims[0];
    }
    if (rc == 0 && bns_model_alloc(&cfg, n_inputs, m)) rc = bns_fail_prefix("%s: ", path);
    for (int l = 0; rc == 0 && l < m->arch.n_layers; l++) {
        param_block blocks[4];
        int nb = layer_blocks(m, l, blocks);
        for (int b = 0; b < nb && rc == 0; b++) {
            char name[64];
            snprintf(name, sizeof name, "/layers/%d/%s", l, blocks[b].name);
            hsize_t got[2] = {0, 0};
            int rank;
            if (H5LTget_dataset_ndims(file, name, &rank) < 0 || rank != blocks[b].rank ||
                H5LTget_dataset_info(file, name, got, &cls, &size) < 0 || got[0] != blocks[b].dims[0] ||
                (rank == 2 && got[1] != blocks[b].dims[1]))
                rc = bns_fail("%s: %s is missing or has the wrong shape for %s", path, name, cfg.arch);
            else if (H5LTread_dataset_float(file, name, m->params + blocks[b].offset) < 0)
                rc = bns_fail("%s: cannot read %s", path, name);
        }
    }
    if (rc == 0 && history) rc = read_history(file, path, history);
    H5Fclose(file);
    if (rc) bns_model_free(m);
    return rc;
}
