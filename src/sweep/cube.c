/* cube.c - sweep results as one netCDF-4 compatible HDF5 file (see cube.h).
 *
 * The netCDF-4 conventions used here (what netCDF-C and h5netcdf write and
 * expect): every dimension is a dataset that is an HDF5 dimension scale and
 * carries an int32 _Netcdf4Dimid; a dimension without coordinate values is a
 * float32 dataset that is never written, whose scale NAME starts with
 * "This is a netCDF dimension but not a netCDF variable."; variables attach
 * the scales of their dimensions in order; links and attributes have their
 * creation order tracked (netCDF-C lists variables in that order).
 */
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "bnnsweep/cube.h"
#include "bnnsweep/error.h"
#include "bnnsweep/str_index.h"
#include "bnnsweep/util.h"

#define CUBE_FORMAT "bnnsweep-cube"
#define CUBE_FORMAT_VERSION 1
#define NOT_A_VARIABLE "This is a netCDF dimension but not a netCDF variable."

enum { DIM_PLAIN, DIM_STRINGS, DIM_NUMBERS };
enum { VAR_DOUBLE, VAR_STRING };
enum { ATTR_STRING, ATTR_DOUBLE, ATTR_INT };

typedef struct {
    char *name;
    int kind;
    size_t n;
    char **labels;  /* DIM_STRINGS */
    bns_str_index index; /* DIM_STRINGS: label -> position (a sweep's model labels number thousands) */
    double *values; /* DIM_NUMBERS */
} cube_dim;

typedef struct {
    char *name;
    int kind;
    int n_dims;
    int dims[BNS_CUBE_MAX_DIMS]; /* indices into bns_cube.dims */
    size_t count;                /* product of the dimension lengths */
    double *data;                /* VAR_DOUBLE, C order */
    char **text;                 /* VAR_STRING, NULL = "" */
    char *units, *long_name;     /* may be NULL */
} cube_var;

typedef struct {
    char *name;
    int kind;
    char *text;
    double d;
    long long i;
} cube_attr;

struct bns_cube {
    cube_dim *dims;
    int n_dims;
    cube_var *vars;
    int n_vars;
    cube_attr *attrs;
    int n_attrs;
};

static void quiet_hdf5(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static char *dup_or_null(const char *s) { return s ? bns_xstrdup(s) : NULL; }

/* Grow an array by one zeroed element (cubes have tens of entries: no doubling needed). */
static void *grow(void *array, int n, size_t size) {
    char *p = realloc(array, (size_t)(n + 1) * size);
    if (!p) {
        fprintf(stderr, "bnnsweep: out of memory growing a cube\n");
        abort();
    }
    memset(p + (size_t)n * size, 0, size);
    return p;
}

bns_cube *bns_cube_new(void) { return bns_xcalloc(1, sizeof(bns_cube)); }

void bns_cube_free(bns_cube *c) {
    if (!c) return;
    for (int d = 0; d < c->n_dims; d++) {
        cube_dim *dim = &c->dims[d];
        if (dim->labels)
            for (size_t i = 0; i < dim->n; i++) free(dim->labels[i]);
        free(dim->labels);
        bns_str_index_free(&dim->index);
        free(dim->values);
        free(dim->name);
    }
    for (int v = 0; v < c->n_vars; v++) {
        cube_var *var = &c->vars[v];
        if (var->text)
            for (size_t i = 0; i < var->count; i++) free(var->text[i]);
        free(var->text);
        free(var->data);
        free(var->name);
        free(var->units);
        free(var->long_name);
    }
    for (int a = 0; a < c->n_attrs; a++) {
        free(c->attrs[a].name);
        free(c->attrs[a].text);
    }
    free(c->dims);
    free(c->vars);
    free(c->attrs);
    free(c);
}

static int find_dim(const bns_cube *c, const char *name) {
    for (int d = 0; d < c->n_dims; d++)
        if (strcmp(c->dims[d].name, name) == 0) return d;
    return -1;
}

static int find_var(const bns_cube *c, const char *name) {
    for (int v = 0; v < c->n_vars; v++)
        if (strcmp(c->vars[v].name, name) == 0) return v;
    return -1;
}

/* Names become HDF5 link names in the root group, so '/' and "." are out;
 * dimensions and variables share that group, hence one namespace. */
static int check_new_name(const bns_cube *c, const char *what, const char *name) {
    if (!name || !name[0]) return bns_fail("cube: %s name is empty", what);
    if (strchr(name, '/') || strcmp(name, ".") == 0 || strlen(name) > 255)
        return bns_fail("cube: %s name '%s' is not allowed (no '/', not '.', at most 255 bytes)", what, name);
    if (find_dim(c, name) >= 0) return bns_fail("cube: %s '%s': a dimension of that name already exists", what, name);
    if (find_var(c, name) >= 0) return bns_fail("cube: %s '%s': a variable of that name already exists", what, name);
    return 0;
}

static cube_dim *new_dim(bns_cube *c, const char *name, int kind, size_t n) {
    c->dims = grow(c->dims, c->n_dims, sizeof *c->dims);
    cube_dim *dim = &c->dims[c->n_dims++];
    dim->name = bns_xstrdup(name);
    dim->kind = kind;
    dim->n = n;
    return dim;
}

static int check_dim(const bns_cube *c, const char *name, size_t n) {
    if (check_new_name(c, "dimension", name)) return -1;
    /* netCDF only allows length 0 for unlimited dimensions, which a cube has none of */
    if (n == 0) return bns_fail("cube: dimension '%s' has length 0", name);
    return 0;
}

int bns_cube_add_dim(bns_cube *c, const char *name, size_t n) {
    if (check_dim(c, name, n)) return -1;
    new_dim(c, name, DIM_PLAIN, n);
    return 0;
}

int bns_cube_add_dim_strings(bns_cube *c, const char *name, const char *const *labels, size_t n) {
    if (check_dim(c, name, n)) return -1;
    /* duplicates through a hash table (a scan of every pair was quadratic in
     * the labels): the first label seen before, named with its first place */
    bns_str_index index;
    bns_str_index_init(&index);
    for (size_t i = 0; i < n; i++) {
        if (!labels[i]) {
            bns_str_index_free(&index);
            return bns_fail("cube: dimension '%s': label %zu is NULL", name, i);
        }
        long first = bns_str_index_add(&index, labels[i], (long)i);
        if (first != (long)i) {
            bns_fail("cube: dimension '%s': label '%s' appears twice (%ld and %zu)", name, labels[i], first, i);
            bns_str_index_free(&index);
            return -1;
        }
    }
    cube_dim *dim = new_dim(c, name, DIM_STRINGS, n);
    dim->labels = bns_xcalloc(n, sizeof *dim->labels);
    for (size_t i = 0; i < n; i++) dim->labels[i] = bns_xstrdup(labels[i]);
    /* the index now keys the cube's own copies (the caller's may go) */
    for (size_t h = 0; h < index.n_slots; h++)
        if (index.key[h]) index.key[h] = dim->labels[index.value[h]];
    dim->index = index;
    return 0;
}

int bns_cube_add_dim_numbers(bns_cube *c, const char *name, const double *values, size_t n) {
    if (check_dim(c, name, n)) return -1;
    cube_dim *dim = new_dim(c, name, DIM_NUMBERS, n);
    dim->values = bns_xmalloc(n * sizeof *dim->values);
    memcpy(dim->values, values, n * sizeof *dim->values);
    return 0;
}

int bns_cube_find_label(const bns_cube *c, const char *dim, const char *label, size_t *index) {
    int d = find_dim(c, dim);
    if (d < 0) return bns_fail("cube: no dimension '%s'", dim);
    if (c->dims[d].kind != DIM_STRINGS) return bns_fail("cube: dimension '%s' has no string labels", dim);
    long i = label ? bns_str_index_find(&c->dims[d].index, label) : -1;
    if (i >= 0) {
        *index = (size_t)i;
        return 0;
    }
    return bns_fail("cube: dimension '%s' has no label '%s'", dim, label);
}

int bns_cube_find_number(const bns_cube *c, const char *dim, double value, size_t *index) {
    int d = find_dim(c, dim);
    if (d < 0) return bns_fail("cube: no dimension '%s'", dim);
    if (c->dims[d].kind != DIM_NUMBERS) return bns_fail("cube: dimension '%s' has no numeric values", dim);
    for (size_t i = 0; i < c->dims[d].n; i++)
        if (c->dims[d].values[i] == value) {
            *index = i;
            return 0;
        }
    return bns_fail("cube: dimension '%s' has no value %g", dim, value);
}

int bns_cube_add_var(bns_cube *c, const char *name, const char *const *dims, int n_dims, const char *units,
                     const char *long_name) {
    if (check_new_name(c, "variable", name)) return -1;
    if (n_dims < 1 || n_dims > BNS_CUBE_MAX_DIMS)
        return bns_fail("cube: variable '%s': %d dimensions (need 1 to %d)", name, n_dims, BNS_CUBE_MAX_DIMS);
    int ids[BNS_CUBE_MAX_DIMS];
    size_t count = 1;
    for (int k = 0; k < n_dims; k++) {
        ids[k] = find_dim(c, dims[k]);
        if (ids[k] < 0) return bns_fail("cube: variable '%s': no dimension '%s'", name, dims[k]);
        count *= c->dims[ids[k]].n;
    }
    c->vars = grow(c->vars, c->n_vars, sizeof *c->vars);
    cube_var *var = &c->vars[c->n_vars++];
    var->name = bns_xstrdup(name);
    var->kind = VAR_DOUBLE;
    var->n_dims = n_dims;
    memcpy(var->dims, ids, sizeof ids[0] * (size_t)n_dims);
    var->count = count;
    var->data = bns_xmalloc(count * sizeof *var->data);
    for (size_t i = 0; i < count; i++) var->data[i] = NAN;
    var->units = dup_or_null(units);
    var->long_name = dup_or_null(long_name);
    return 0;
}

int bns_cube_add_string_var(bns_cube *c, const char *name, const char *dim) {
    if (check_new_name(c, "variable", name)) return -1;
    int d = find_dim(c, dim);
    if (d < 0) return bns_fail("cube: variable '%s': no dimension '%s'", name, dim);
    c->vars = grow(c->vars, c->n_vars, sizeof *c->vars);
    cube_var *var = &c->vars[c->n_vars++];
    var->name = bns_xstrdup(name);
    var->kind = VAR_STRING;
    var->n_dims = 1;
    var->dims[0] = d;
    var->count = c->dims[d].n;
    var->text = bns_xcalloc(var->count, sizeof *var->text);
    return 0;
}

static cube_var *lookup_var(bns_cube *c, const char *name, int kind) {
    int v = find_var(c, name);
    if (v < 0) {
        bns_fail(find_dim(c, name) >= 0 ? "cube: '%s' is a dimension, not a variable" : "cube: no variable '%s'",
                 name);
        return NULL;
    }
    if (c->vars[v].kind != kind) {
        bns_fail("cube: variable '%s' holds %s, not %s", name, kind == VAR_STRING ? "numbers" : "strings",
                 kind == VAR_STRING ? "strings" : "numbers");
        return NULL;
    }
    return &c->vars[v];
}

int bns_cube_set(bns_cube *c, const char *name, const size_t *index, double value) {
    cube_var *var = lookup_var(c, name, VAR_DOUBLE);
    if (!var) return -1;
    size_t flat = 0;
    for (int k = 0; k < var->n_dims; k++) {
        const cube_dim *dim = &c->dims[var->dims[k]];
        if (index[k] >= dim->n)
            return bns_fail("cube: %s: index %zu out of range for dimension '%s' (length %zu)", name, index[k],
                            dim->name, dim->n);
        flat = flat * dim->n + index[k];
    }
    var->data[flat] = value;
    return 0;
}

int bns_cube_set_string(bns_cube *c, const char *name, size_t index, const char *text) {
    cube_var *var = lookup_var(c, name, VAR_STRING);
    if (!var) return -1;
    if (index >= var->count)
        return bns_fail("cube: %s: index %zu out of range for dimension '%s' (length %zu)", name, index,
                        c->dims[var->dims[0]].name, var->count);
    free(var->text[index]);
    var->text[index] = dup_or_null(text);
    return 0;
}

/* The attribute called name, created (with kind) if new; its old text is freed. */
static cube_attr *attr_slot(bns_cube *c, const char *name, int kind) {
    cube_attr *a = NULL;
    for (int i = 0; i < c->n_attrs && !a; i++)
        if (strcmp(c->attrs[i].name, name) == 0) a = &c->attrs[i];
    if (!a) {
        c->attrs = grow(c->attrs, c->n_attrs, sizeof *c->attrs);
        a = &c->attrs[c->n_attrs++];
        a->name = bns_xstrdup(name);
    }
    free(a->text);
    a->text = NULL;
    a->kind = kind;
    return a;
}

/* The writer sets these itself; a caller's value would be silently replaced. */
static int check_attr_name(const char *name) {
    static const char *const reserved[] = {"format", "format_version", "bnnsweep_version", "git_commit"};
    if (!name || !name[0]) return bns_fail("cube: attribute name is empty");
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcmp(name, reserved[i]) == 0) return bns_fail("cube: attribute '%s' is set by the writer", name);
    return 0;
}

int bns_cube_set_attr_string(bns_cube *c, const char *name, const char *value) {
    if (check_attr_name(name)) return -1;
    if (!value) return bns_fail("cube: attribute '%s': value is NULL", name);
    attr_slot(c, name, ATTR_STRING)->text = bns_xstrdup(value);
    return 0;
}

int bns_cube_set_attr_double(bns_cube *c, const char *name, double value) {
    if (check_attr_name(name)) return -1;
    attr_slot(c, name, ATTR_DOUBLE)->d = value;
    return 0;
}

int bns_cube_set_attr_int(bns_cube *c, const char *name, long long value) {
    if (check_attr_name(name)) return -1;
    attr_slot(c, name, ATTR_INT)->i = value;
    return 0;
}

/* ---- writing ---- */

/* Variable-length UTF-8 strings: what h5py/h5netcdf read as str and netCDF-C as NC_STRING. */
static hid_t vlen_string_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

/* A scalar attribute of type (file and memory type the same). */
static int write_attr(hid_t obj, const char *name, hid_t type, const void *value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = attr >= 0 && H5Awrite(attr, type, value) >= 0 ? 0 : -1;
    if (attr >= 0) H5Aclose(attr);
    H5Sclose(space);
    return rc;
}

static int write_attr_string(hid_t obj, const char *name, const char *value) {
    hid_t type = vlen_string_type();
    int rc = write_attr(obj, name, type, &value);
    H5Tclose(type);
    return rc;
}

/* Datasets track attribute creation order, as netCDF-C's do. */
static hid_t make_dataset(hid_t file, const char *name, hid_t type, int rank, const hsize_t *shape, hid_t dcpl) {
    hid_t space = H5Screate_simple(rank, shape, NULL);
    hid_t ds = H5Dcreate2(file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Sclose(space);
    return ds;
}

static int write_dim(hid_t file, const cube_dim *dim, int id, hid_t dcpl, hid_t *out) {
    hsize_t n = dim->n;
    hid_t ds = -1;
    int rc = 0;
    if (dim->kind == DIM_STRINGS) {
        hid_t type = vlen_string_type();
        ds = make_dataset(file, dim->name, type, 1, &n, dcpl);
        if (ds < 0 || H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, dim->labels) < 0) rc = -1;
        H5Tclose(type);
    } else if (dim->kind == DIM_NUMBERS) {
        ds = make_dataset(file, dim->name, H5T_IEEE_F64LE, 1, &n, dcpl);
        if (ds < 0 || H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, dim->values) < 0) rc = -1;
    } else {
        /* netCDF-C writes a dimension without a variable exactly like this: big-endian
         * float32, never written (so it takes no space), length in the NAME. */
        ds = make_dataset(file, dim->name, H5T_IEEE_F32BE, 1, &n, dcpl);
        if (ds < 0) rc = -1;
    }
    char scale_name[128];
    if (dim->kind == DIM_PLAIN) snprintf(scale_name, sizeof scale_name, "%s%10zu", NOT_A_VARIABLE, dim->n);
    if (rc == 0 && H5DSset_scale(ds, dim->kind == DIM_PLAIN ? scale_name : dim->name) < 0) rc = -1;
    int32_t dimid = id;
    if (rc == 0 && write_attr(ds, "_Netcdf4Dimid", H5T_NATIVE_INT32, &dimid) < 0) rc = -1;
    if (rc) {
        if (ds >= 0) H5Dclose(ds);
        return bns_fail("cannot write dimension /%s", dim->name);
    }
    *out = ds;
    return 0;
}

static int write_var(hid_t file, const bns_cube *c, const cube_var *var, const hid_t *dim_ds, hid_t dcpl) {
    hsize_t shape[BNS_CUBE_MAX_DIMS];
    for (int k = 0; k < var->n_dims; k++) shape[k] = c->dims[var->dims[k]].n;
    hid_t ds = -1;
    int rc = 0;
    if (var->kind == VAR_STRING) {
        /* HDF5 would store a NULL pointer as an empty string too, but readers differ */
        const char **text = bns_xmalloc(var->count * sizeof *text);
        for (size_t i = 0; i < var->count; i++) text[i] = var->text[i] ? var->text[i] : "";
        hid_t type = vlen_string_type();
        ds = make_dataset(file, var->name, type, 1, shape, dcpl);
        if (ds < 0 || H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, text) < 0) rc = -1;
        H5Tclose(type);
        free(text);
    } else {
        double nan = NAN;
        hid_t fill_dcpl = H5Pcopy(dcpl);
        H5Pset_fill_value(fill_dcpl, H5T_NATIVE_DOUBLE, &nan);
        ds = make_dataset(file, var->name, H5T_IEEE_F64LE, var->n_dims, shape, fill_dcpl);
        H5Pclose(fill_dcpl);
        if (ds < 0 || H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, var->data) < 0 ||
            write_attr(ds, "_FillValue", H5T_NATIVE_DOUBLE, &nan) < 0 ||
            (var->long_name && write_attr_string(ds, "long_name", var->long_name) < 0) ||
            (var->units && write_attr_string(ds, "units", var->units) < 0))
            rc = -1;
    }
    for (int k = 0; k < var->n_dims && rc == 0; k++)
        if (H5DSattach_scale(ds, dim_ds[var->dims[k]], (unsigned)k) < 0) rc = -1;
    if (ds >= 0) H5Dclose(ds);
    return rc ? bns_fail("cannot write variable /%s", var->name) : 0;
}

static int write_globals(hid_t file, const bns_cube *c) {
    int version = CUBE_FORMAT_VERSION;
    int rc = 0;
    rc |= write_attr_string(file, "format", CUBE_FORMAT);
    rc |= write_attr(file, "format_version", H5T_NATIVE_INT, &version);
    rc |= write_attr_string(file, "bnnsweep_version", BNS_VERSION);
    rc |= write_attr_string(file, "git_commit", BNS_GIT_COMMIT);
    if (rc) return bns_fail("cannot write the format attributes");
    for (int i = 0; i < c->n_attrs; i++) {
        const cube_attr *a = &c->attrs[i];
        if (a->kind == ATTR_STRING) rc = write_attr_string(file, a->name, a->text);
        else if (a->kind == ATTR_DOUBLE) rc = write_attr(file, a->name, H5T_NATIVE_DOUBLE, &a->d);
        else rc = write_attr(file, a->name, H5T_NATIVE_LLONG, &a->i);
        if (rc) return bns_fail("cannot write global attribute '%s'", a->name);
    }
    return 0;
}

static int write_file(const bns_cube *c, const char *tmp) {
    /* Creation order on links and attributes, as netCDF-C writes it: readers
     * then list dimensions, variables and attributes in the order added.
     * (Text attributes are variable-length strings, kept in the global heap,
     * so a long sweep file does not hit the 64 KiB object-header limit.) */
    unsigned order = H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED;
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5Pset_link_creation_order(fcpl, order);
    H5Pset_attr_creation_order(fcpl, order);
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
    H5Pclose(fcpl);
    if (file < 0) return bns_fail("%s: cannot create file (directory missing or not writable?)", tmp);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_attr_creation_order(dcpl, order);
    /* the dimension datasets stay open: every variable attaches them */
    hid_t *dim_ds = bns_xmalloc(sizeof *dim_ds * (size_t)(c->n_dims ? c->n_dims : 1));
    for (int d = 0; d < c->n_dims; d++) dim_ds[d] = -1;
    int rc = write_globals(file, c);
    for (int d = 0; d < c->n_dims && rc == 0; d++) rc = write_dim(file, &c->dims[d], d, dcpl, &dim_ds[d]);
    for (int v = 0; v < c->n_vars && rc == 0; v++) rc = write_var(file, c, &c->vars[v], dim_ds, dcpl);
    for (int d = 0; d < c->n_dims; d++)
        if (dim_ds[d] >= 0) H5Dclose(dim_ds[d]);
    free(dim_ds);
    H5Pclose(dcpl);
    if (H5Fclose(file) < 0 && rc == 0) rc = bns_fail("cannot close file");
    return rc;
}

/* fsync a file or directory by path; directories too, so the rename is durable. */
static int sync_path(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int bns_cube_write(const bns_cube *c, const char *path) {
    quiet_hdf5();
    char tmp[4096], dir[4096];
    if (bns_temp_path(path, tmp, sizeof tmp) != 0) return -1;
    int rc = write_file(c, tmp);
    if (rc == 0 && sync_path(tmp) != 0) rc = bns_fail("cannot fsync %s", tmp);
    if (rc == 0 && rename(tmp, path) != 0) rc = bns_fail("cannot rename %s to %s", tmp, path);
    if (rc) {
        unlink(tmp);
        return bns_fail_prefix("writing %s: ", path);
    }
    /* best effort: the file is complete either way, this only makes the new name survive a crash */
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = '\0';
    else if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    sync_path(dir);
    return 0;
}

/* ---- reading ---- */

/* Open path/var and check it is a dataset of class cls; returns the file id via *file. */
static hid_t open_var(const char *path, const char *name, H5T_class_t cls, hid_t *file, hsize_t *count) {
    quiet_hdf5();
    if (access(path, R_OK) != 0) return bns_fail("%s: cannot read file", path);
    *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*file < 0) return bns_fail("%s: not an HDF5 file (or damaged)", path);
    hid_t ds = H5Lexists(*file, name, H5P_DEFAULT) > 0 ? H5Dopen2(*file, name, H5P_DEFAULT) : -1;
    if (ds < 0) {
        H5Fclose(*file);
        return bns_fail("%s: no variable '%s'", path, name);
    }
    hid_t type = H5Dget_type(ds), space = H5Dget_space(ds);
    H5T_class_t got = H5Tget_class(type);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    int variable = H5Tis_variable_str(type) > 0;
    H5Tclose(type);
    H5Sclose(space);
    if (got != cls || n < 0 || (cls == H5T_STRING && !variable)) {
        H5Dclose(ds);
        H5Fclose(*file);
        return bns_fail("%s: '%s' is not a %s variable", path, name,
                        cls == H5T_STRING ? "variable-length string" : "floating-point");
    }
    *count = (hsize_t)n;
    return ds;
}

int bns_cube_read_var(const char *path, const char *var, double **values, size_t *count) {
    hid_t file;
    hsize_t n;
    hid_t ds = open_var(path, var, H5T_FLOAT, &file, &n);
    if (ds < 0) return -1;
    double *out = bns_xmalloc(sizeof *out * (size_t)(n ? n : 1));
    int rc = H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0 ? -1 : 0;
    H5Dclose(ds);
    H5Fclose(file);
    if (rc) {
        free(out);
        return bns_fail("%s: cannot read variable '%s'", path, var);
    }
    *values = out;
    *count = (size_t)n;
    return 0;
}

int bns_cube_read_strings(const char *path, const char *var, char ***texts, size_t *count) {
    hid_t file;
    hsize_t n;
    hid_t ds = open_var(path, var, H5T_STRING, &file, &n);
    if (ds < 0) return -1;
    char **raw = bns_xcalloc((size_t)(n ? n : 1), sizeof *raw);
    hid_t type = vlen_string_type();
    int rc = H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0 ? -1 : 0;
    char **out = NULL;
    if (rc == 0) {
        /* copy out of HDF5's allocations so callers free with plain free() */
        out = bns_xcalloc((size_t)(n ? n : 1), sizeof *out);
        for (hsize_t i = 0; i < n; i++) out[i] = bns_xstrdup(raw[i] ? raw[i] : "");
        hid_t space = H5Dget_space(ds);
        H5Dvlen_reclaim(type, space, H5P_DEFAULT, raw);
        H5Sclose(space);
    }
    H5Tclose(type);
    free(raw);
    H5Dclose(ds);
    H5Fclose(file);
    if (rc) return bns_fail("%s: cannot read variable '%s'", path, var);
    *texts = out;
    *count = (size_t)n;
    return 0;
}

void bns_cube_free_strings(char **texts, size_t count) {
    if (!texts) return;
    for (size_t i = 0; i < count; i++) free(texts[i]);
    free(texts);
}
