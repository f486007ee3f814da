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
#include "bnnsweep/provenance.h"
#include "bnnsweep/util.h"

#define MODEL_FORMAT "bnnsweep-model"
/* 1: /layers of a deterministic or Gaussian model; 2: any method's blocks
 * (the same names for those two), plus root attributes n_inputs, capabilities */
#define MODEL_FORMAT_VERSION 2

/* uint64 settings are stored as unsigned long (HDF5 1.10 HL has no ullong). */
_Static_assert(sizeof(unsigned long) == sizeof(uint64_t), "unsigned long must be 64-bit");

/* HDF5 prints its own error stacks by default; we report our own messages. */
static void quiet_hdf5(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static int write_config(hid_t file, const bns_config *cfg) {
    hid_t group = H5Gcreate2(file, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (group < 0) return bns_fail("cannot create /config");
    int rc = 0;
    for (const bns_config_field *f = bns_config_fields(); f->name && rc == 0; f++) {
        if (!bns_config_field_applies(cfg, f)) continue; /* another method's setting */
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

/* Creates the groups along a block's path ("layers/0/weight" -> /layers, /layers/0). */
static int make_parents(hid_t file, const char *path) {
    char group[64];
    for (const char *slash = strchr(path, '/'); slash; slash = strchr(slash + 1, '/')) {
        size_t len = (size_t)(slash - path);
        if (len >= sizeof group) return -1;
        memcpy(group, path, len);
        group[len] = '\0';
        if (H5Lexists(file, group, H5P_DEFAULT) > 0) continue;
        hid_t g = H5Gcreate2(file, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) return -1;
        H5Gclose(g);
    }
    return 0;
}


/* A float dataset of rank 1 or 2; compressed: one row per chunk, shuffle +
 * deflate (the bytes of a float differ most in their low bits, so grouping
 * them by position first is what lets deflate find anything). */
static int write_float_block(hid_t file, const bns_param_block *b, const float *data) {
    hsize_t dims[2] = {b->dims[0], b->dims[1]};
    if (!b->compress) return H5LTmake_dataset_float(file, b->path, b->rank, dims, data) < 0 ? -1 : 0;
    hsize_t chunk[2] = {b->rank == 2 ? 1 : dims[0], dims[1]};
    hid_t space = H5Screate_simple(b->rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE), set = -1;
    int rc = -1;
    if (space >= 0 && dcpl >= 0 && dims[0] > 0 && (b->rank == 1 || dims[1] > 0) && H5Pset_chunk(dcpl, b->rank, chunk) >= 0 &&
        H5Pset_shuffle(dcpl) >= 0 && H5Pset_deflate(dcpl, 4) >= 0) {
        set = H5Dcreate2(file, b->path, H5T_NATIVE_FLOAT, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (set >= 0 && H5Dwrite(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0) rc = 0;
    }
    if (set >= 0) H5Dclose(set);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return rc;
}

/* The kept layer statistics (model.h stats): /layers/<i>/<name> [C] per
 * name of a layer type's stat_names (batch norm: running_mean, running_var),
 * in the order of m->stats. Writes them if has_stats; reads them if present. */
static int stat_path(const bns_layer *op, const char *name, char *buf, size_t size) {
    return snprintf(buf, size, "layers/%d/%s", op->dense_index, name) >= (int)size ? -1 : 0;
}

static int write_stats(hid_t file, const bns_model *m) {
    const float *at = m->stats;
    for (int i = 0; i < m->arch.n_ops; i++) {
        const bns_layer *op = &m->arch.ops[i];
        for (const char *const *name = op->type->stat_names; name && *name; name++, at += op->in.c) {
            char path[64];
            bns_param_block b = {.rank = 1, .dims = {(size_t)op->in.c, 0}};
            if (stat_path(op, *name, path, sizeof path) || make_parents(file, path))
                return bns_fail("cannot write /%s", path);
            snprintf(b.path, sizeof b.path, "%s", path);
            if (write_float_block(file, &b, at)) return bns_fail("cannot write /%s", path);
        }
    }
    return 0;
}

/* All present: has_stats = 1; none: 0 (a file from before they were kept,
 * or never trained: batch statistics at evaluation); some, or a wrong
 * shape: an error. */
static int read_stats(hid_t file, const char *path, bns_model *m) {
    size_t found = 0, wanted = 0;
    float *at = m->stats;
    for (int i = 0; i < m->arch.n_ops; i++) {
        const bns_layer *op = &m->arch.ops[i];
        for (const char *const *name = op->type->stat_names; name && *name; name++, at += op->in.c) {
            char set[64];
            hsize_t got = 0;
            H5T_class_t cls;
            size_t size;
            int rank = 0;
            wanted++;
            if (stat_path(op, *name, set, sizeof set) || H5Lexists(file, set, H5P_DEFAULT) <= 0) continue;
            if (H5LTget_dataset_ndims(file, set, &rank) < 0 || rank != 1 ||
                H5LTget_dataset_info(file, set, &got, &cls, &size) < 0 || got != (hsize_t)op->in.c ||
                H5LTread_dataset_float(file, set, at) < 0)
                return bns_fail("%s: /%s has the wrong shape for %s (want [%d])", path, set, m->cfg.arch, op->in.c);
            found++;
        }
    }
    if (found && found != wanted)
        return bns_fail("%s: %zu of the %zu batch-norm statistics datasets are missing", path, wanted - found, wanted);
    m->has_stats = found > 0;
    return 0;
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
    char bad[128];
    if (bns_model_find_nonfinite(m, bad, sizeof bad)) /* bns_model_load would refuse it */
        return bns_fail("writing %s: %s is not finite (the model diverged); not saved", path, bad);
    char tmp[4096];
    if (bns_temp_path(path, tmp, sizeof tmp) != 0) return -1;
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) return bns_fail("%s: cannot create file (directory missing or not writable?)", tmp);
    int rc = bns_provenance_write(file, MODEL_FORMAT, MODEL_FORMAT_VERSION);
    if (rc == 0) {
        int n_inputs = m->arch.n_inputs;
        char caps[128];
        bns_caps_format(bns_model_caps(m), caps, sizeof caps);
        if (H5LTset_attribute_int(file, "/", "n_inputs", &n_inputs, 1) < 0 ||
            H5LTset_attribute_string(file, "/", "capabilities", caps) < 0)
            rc = bns_fail("cannot write file attributes");
    }
    if (rc == 0) rc = write_config(file, &m->cfg);
    /* the method's parameter blocks (method.h), whatever they are */
    bns_param_block blocks[BNS_MAX_PARAM_BLOCKS];
    int nb = rc == 0 ? bns_model_param_blocks(m, blocks) : 0;
    for (int b = 0; b < nb && rc == 0; b++) {
        if (make_parents(file, blocks[b].path) || write_float_block(file, &blocks[b], m->params + blocks[b].offset))
            rc = bns_fail("cannot write /%s", blocks[b].path);
    }
    if (rc == 0 && m->has_stats) rc = write_stats(file, m);
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
    int version = 0;
    if (H5Aexists(file, "format_version") <= 0 || H5LTget_attribute_int(file, "/", "format_version", &version) < 0) {
        H5Fclose(file);
        return bns_fail("%s: no format_version attribute (not a bnnsweep model file?)", path);
    }
    if (version < 1 || version > MODEL_FORMAT_VERSION) {
        H5Fclose(file);
        return bns_fail("%s: model format version %d; this bnnsweep reads versions 1 to %d%s", path, version,
                        MODEL_FORMAT_VERSION, version > MODEL_FORMAT_VERSION ? " (written by a newer bnnsweep?)" : "");
    }
    bns_config cfg;
    rc = read_config(file, path, &cfg);
    /* The input width is not a config field: an attribute since version 2,
     * before that the row count of the method's first matrix block. */
    int n_inputs = 0;
    if (rc == 0 && version >= 2 && H5LTget_attribute_int(file, "/", "n_inputs", &n_inputs) < 0)
        rc = bns_fail("%s: cannot read the n_inputs attribute", path);
    if (rc == 0 && version == 1) {
        bns_model probe;
        if (bns_model_alloc(&cfg, 1, &probe)) {
            rc = bns_fail_prefix("%s: ", path);
        } else {
            bns_param_block first[BNS_MAX_PARAM_BLOCKS];
            bns_model_param_blocks(&probe, first);
            if (H5LTget_dataset_info(file, first[0].path, dims, &cls, &size) < 0)
                rc = bns_fail("%s: missing /%s", path, first[0].path);
            else n_inputs = (int)dims[0];
            bns_model_free(&probe);
        }
    }
    if (rc == 0 && bns_model_alloc(&cfg, n_inputs, m)) rc = bns_fail_prefix("%s: ", path);
    bns_param_block blocks[BNS_MAX_PARAM_BLOCKS];
    int nb = rc == 0 ? bns_model_param_blocks(m, blocks) : 0;
    for (int b = 0; b < nb && rc == 0; b++) {
        const char *name = blocks[b].path;
        hsize_t got[2] = {0, 0};
        int rank;
        if (H5Lexists(file, name, H5P_DEFAULT) <= 0 || H5LTget_dataset_ndims(file, name, &rank) < 0 ||
            rank != blocks[b].rank || H5LTget_dataset_info(file, name, got, &cls, &size) < 0 ||
            got[0] != blocks[b].dims[0] || (rank == 2 && got[1] != blocks[b].dims[1]))
            rc = bns_fail("%s: /%s is missing or has the wrong shape for %s", path, name, cfg.arch);
        else if (H5LTread_dataset_float(file, name, m->params + blocks[b].offset) < 0)
            rc = bns_fail("%s: cannot read /%s", path, name);
    }
    if (rc == 0) rc = read_stats(file, path, m);
    /* a NaN rho would be clamped into a finite sigma by the fused kernels
     * and evaluate as if nothing were wrong: such a file is refused */
    char bad[128];
    if (rc == 0 && bns_model_find_nonfinite(m, bad, sizeof bad))
        rc = bns_fail("%s: %s is not finite (a diverged model?); refusing to load it", path, bad);
    if (rc == 0 && history) rc = read_history(file, path, history);
    H5Fclose(file);
    if (rc) bns_model_free(m);
    return rc;
}

int bns_model_load_teacher(bns_model *m, bns_model *teacher) {
    return bns_model_load_teacher_from(m, NULL, teacher);
}

int bns_model_load_teacher_from(bns_model *m, const char *path, bns_model *teacher) {
    memset(teacher, 0, sizeof *teacher);
    const bns_config_field *f = bns_config_field_find("teacher");
    if (!f || !bns_config_field_applies(&m->cfg, f)) return 0; /* the method distils nothing */
    if (!path) path = bns_config_get_string(&m->cfg, "teacher");
    if (!path[0]) return 0; /* the method's validate accepted none (online APD makes its own samples) */
    if (bns_model_load(path, teacher, NULL)) return bns_fail_prefix("teacher: ");
    if (teacher->arch.n_weights != m->arch.n_weights || teacher->arch.n_layers != m->arch.n_layers ||
        memcmp(teacher->arch.width, m->arch.width, sizeof m->arch.width) != 0) {
        bns_fail("teacher: %s is a %s network, the model is %s", path, teacher->cfg.arch, m->cfg.arch);
        bns_model_free(teacher);
        return -1;
    }
    m->teacher = teacher;
    return 0;
}
