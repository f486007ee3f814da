/* test_cube.c - the results cube (cube.h): a netCDF-4 compatible HDF5 file.
 *
 * A small cube (model x set x n_ensemble, plus a task dimension without
 * coordinates) is written and read back with plain HDF5 calls: values, NaN
 * in cells never set, dimension scales attached in order, coordinate values,
 * the netCDF markers (_Netcdf4Dimid, the "not a variable" NAME), global
 * attributes, and no temporary file left behind. Misuse (unknown names,
 * duplicates, out-of-range indices, wrong kinds, unwritable paths) must fail
 * with a message naming the culprit; so must a duplicate among 200,000
 * labels (de-duplicated by hashing, not by comparing every pair).
 *
 * `test_cube --sample PATH` only writes the sample cube, for
 * tests/cube_xarray_check.py (registered as a ctest fixture).
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"
#include <hdf5.h>
#include <hdf5_hl.h>

#include "bnnsweep/cube.h"
#include "bnnsweep/error.h"



static int setup_tmp(void **state) {
    (void)state;
    const char *base = getenv("BNS_TEST_TMP");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/cube", base && base[0] ? base : "/tmp/bnnsweep-test");
    mkdir_p(tmp_dir);
    return 0;
}


static void expect_error(const char *a, const char *b) {
    const char *msg = bns_last_error();
    if (a && !strstr(msg, a)) fail_msg("error '%s' does not mention '%s'", msg, a);
    if (b && !strstr(msg, b)) fail_msg("error '%s' does not mention '%s'", msg, b);
}

/* ---- the sample cube ---- */

static const char *const models[] = {"mlp-det", "mlp-bbb", "mlp-lrt"};
static const char *const sets[] = {"clean", "fgsm-0.1", "pgd-0.1", "ood-fashion"};
static const double ensembles[] = {1, 2, 5, 10, 20};
#define N_MODEL 3
#define N_SET 4
#define N_ENS 5
#define N_TASK 6

/* a distinct, exactly representable value per cell */
static double cell(size_t m, size_t s, size_t e) {
    return 0.5 + (double)m * 0.125 + (double)s * 0.0078125 + (double)e / 1024;
}

/* ensemble_accuracy is filled only for models 0 and 2 and the first 3 ensemble sizes */
static int ens_is_set(size_t m, size_t e) { return m != 1 && e < 3; }

static bns_cube *build_sample(void) {
    bns_cube *c = bns_cube_new();
    const char *const d2[] = {"model", "set"};
    const char *const d3[] = {"model", "set", "n_ensemble"};
    const char *const dt[] = {"task"};
    assert_int_equal(bns_cube_add_dim_strings(c, "model", models, N_MODEL), 0);
    assert_int_equal(bns_cube_add_dim_strings(c, "set", sets, N_SET), 0);
    assert_int_equal(bns_cube_add_dim_numbers(c, "n_ensemble", ensembles, N_ENS), 0);
    assert_int_equal(bns_cube_add_dim(c, "task", N_TASK), 0);
    assert_int_equal(bns_cube_add_var(c, "accuracy", d2, 2, "1", "test accuracy (posterior mean prediction)"), 0);
    assert_int_equal(bns_cube_add_var(c, "accuracy_std", d2, 2, NULL, "spread of accuracy over seeds"), 0);
    assert_int_equal(bns_cube_add_var(c, "ensemble_accuracy", d3, 3, "1", "accuracy of an n-sample ensemble"), 0);
    assert_int_equal(bns_cube_add_var(c, "wall_seconds", dt, 1, "s", "task wall time"), 0);
    assert_int_equal(bns_cube_add_string_var(c, "status", "task"), 0);
    assert_int_equal(bns_cube_add_string_var(c, "host", "task"), 0);
    assert_int_equal(bns_cube_add_string_var(c, "error", "task"), 0);
    for (size_t m = 0; m < N_MODEL; m++)
        for (size_t s = 0; s < N_SET; s++) {
            size_t i2[2] = {m, s};
            assert_int_equal(bns_cube_set(c, "accuracy", i2, cell(m, s, 0)), 0);
            if (s != 3) assert_int_equal(bns_cube_set(c, "accuracy_std", i2, cell(m, s, 0) / 100), 0);
            for (size_t e = 0; e < N_ENS; e++) {
                size_t i3[3] = {m, s, e};
                if (ens_is_set(m, e)) assert_int_equal(bns_cube_set(c, "ensemble_accuracy", i3, cell(m, s, e)), 0);
            }
        }
    for (size_t t = 0; t < N_TASK; t++) {
        if (t == 5) continue; /* a task that never reported */
        assert_int_equal(bns_cube_set(c, "wall_seconds", &t, 10.0 + (double)t), 0);
        assert_int_equal(bns_cube_set_string(c, "status", t, t == 4 ? "failed" : "done"), 0);
        assert_int_equal(bns_cube_set_string(c, "host", t, t % 2 ? "node-b" : "node-a"), 0);
    }
    assert_int_equal(bns_cube_set_string(c, "error", 4, "train: loss diverged (NaN) at epoch 3 \xc2\xb5"), 0);
    assert_int_equal(bns_cube_set_attr_string(c, "sweep", "models: [mlp-det, mlp-bbb]\nsets: [clean]\n"), 0);
    assert_int_equal(bns_cube_set_attr_int(c, "mpi_size", 4), 0);
    assert_int_equal(bns_cube_set_attr_string(c, "start_time", "2024-01-01T00:00:00Z"), 0);
    assert_int_equal(bns_cube_set_attr_string(c, "end_time", "replaced below"), 0);
    assert_int_equal(bns_cube_set_attr_string(c, "end_time", "2024-01-01T01:00:00Z"), 0);
    assert_int_equal(bns_cube_set_attr_double(c, "total_seconds", 3600.5), 0);
    return c;
}

/* ---- reading back with plain HDF5 ---- */

static char *read_string_attr(hid_t obj, const char *name) {
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    assert_true(attr >= 0);
    hid_t type = H5Aget_type(attr);
    assert_int_equal(H5Tget_class(type), H5T_STRING);
    assert_true(H5Tis_variable_str(type) > 0);
    char *value = NULL;
    assert_true(H5Aread(attr, type, &value) >= 0);
    char *copy = bns_xstrdup(value);
    H5free_memory(value);
    H5Tclose(type);
    H5Aclose(attr);
    return copy;
}

static void check_string_attr(hid_t obj, const char *name, const char *want) {
    char *got = read_string_attr(obj, name);
    assert_string_equal(got, want);
    free(got);
}

static void check_strings(hid_t file, const char *name, const char *const *want, size_t n) {
    hid_t ds = H5Dopen2(file, name, H5P_DEFAULT);
    assert_true(ds >= 0);
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    H5Tset_cset(type, H5T_CSET_UTF8);
    char **got = calloc(n, sizeof *got);
    assert_true(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, got) >= 0);
    for (size_t i = 0; i < n; i++) assert_string_equal(got[i], want[i]);
    hid_t space = H5Dget_space(ds);
    assert_int_equal(H5Sget_simple_extent_npoints(space), (hssize_t)n);
    H5Dvlen_reclaim(type, space, H5P_DEFAULT, got);
    free(got);
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(ds);
}

static int dimid(hid_t ds) {
    int id = -1;
    assert_true(H5LTget_attribute_int(ds, ".", "_Netcdf4Dimid", &id) >= 0);
    return id;
}

/* var's dimension k has the scale of dataset dim attached */
static void check_attached(hid_t file, const char *var, const char *const *dims, int n_dims) {
    hid_t ds = H5Dopen2(file, var, H5P_DEFAULT);
    assert_true(ds >= 0);
    assert_int_equal(H5DSis_scale(ds), 0);
    for (int k = 0; k < n_dims; k++) {
        hid_t dim = H5Dopen2(file, dims[k], H5P_DEFAULT);
        assert_true(dim >= 0);
        if (H5DSis_attached(ds, dim, (unsigned)k) != 1) fail_msg("%s: %s not attached to dim %d", var, dims[k], k);
        assert_int_equal(H5DSget_num_scales(ds, (unsigned)k), 1);
        H5Dclose(dim);
    }
    H5Dclose(ds);
}

static void write_sample(const char *path) {
    bns_cube *c = build_sample();
    if (bns_cube_write(c, path)) fail_msg("%s", bns_last_error());
    bns_cube_free(c);
}

static void test_write_and_read_back(void **state) {
    (void)state;
    char path[4096];
    tmp_path(path, sizeof path, "sample.h5");
    unlink(path);
    write_sample(path);

    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);

    /* dimensions: scales with netCDF ids in the order added */
    const char *const dims[] = {"model", "set", "n_ensemble", "task"};
    for (int d = 0; d < 4; d++) {
        hid_t ds = H5Dopen2(file, dims[d], H5P_DEFAULT);
        assert_true(ds >= 0);
        assert_int_equal(H5DSis_scale(ds), 1);
        assert_int_equal(dimid(ds), d);
        char name[128] = "";
        assert_true(H5DSget_scale_name(ds, name, sizeof name) > 0);
        if (d < 3) assert_string_equal(name, dims[d]);
        else assert_string_equal(name, "This is a netCDF dimension but not a netCDF variable.         6");
        H5Dclose(ds);
    }
    check_strings(file, "model", models, N_MODEL);
    check_strings(file, "set", sets, N_SET);
    double ens[N_ENS];
    assert_true(H5LTread_dataset_double(file, "n_ensemble", ens) >= 0);
    assert_memory_equal(ens, ensembles, sizeof ens);
    hsize_t shape[3];
    H5T_class_t cls;
    size_t size;
    assert_true(H5LTget_dataset_info(file, "task", shape, &cls, &size) >= 0);
    assert_int_equal(shape[0], N_TASK);

    /* variables: shapes, values, NaN where never set, attributes */
    assert_true(H5LTget_dataset_info(file, "ensemble_accuracy", shape, &cls, &size) >= 0);
    assert_int_equal(shape[0], N_MODEL);
    assert_int_equal(shape[1], N_SET);
    assert_int_equal(shape[2], N_ENS);
    assert_int_equal(cls, H5T_FLOAT);
    assert_int_equal(size, 8);
    double acc[N_MODEL * N_SET], std[N_MODEL * N_SET], ensacc[N_MODEL * N_SET * N_ENS];
    assert_true(H5LTread_dataset_double(file, "accuracy", acc) >= 0);
    assert_true(H5LTread_dataset_double(file, "accuracy_std", std) >= 0);
    assert_true(H5LTread_dataset_double(file, "ensemble_accuracy", ensacc) >= 0);
    int n_nan = 0;
    for (size_t m = 0; m < N_MODEL; m++)
        for (size_t s = 0; s < N_SET; s++) {
            assert_true(acc[m * N_SET + s] == cell(m, s, 0));
            if (s == 3) assert_true(isnan(std[m * N_SET + s]));
            else assert_true(std[m * N_SET + s] == cell(m, s, 0) / 100);
            for (size_t e = 0; e < N_ENS; e++) {
                double v = ensacc[(m * N_SET + s) * N_ENS + e];
                if (ens_is_set(m, e)) assert_true(v == cell(m, s, e));
                else {
                    assert_true(isnan(v));
                    n_nan++;
                }
            }
        }
    assert_int_equal(n_nan, N_SET * (N_ENS + 2 * 2));
    hid_t ds = H5Dopen2(file, "accuracy", H5P_DEFAULT);
    check_string_attr(ds, "units", "1");
    check_string_attr(ds, "long_name", "test accuracy (posterior mean prediction)");
    double fill = 0;
    assert_true(H5LTget_attribute_double(file, "accuracy", "_FillValue", &fill) >= 0);
    assert_true(isnan(fill));
    H5Dclose(ds);
    assert_int_equal(H5Aexists_by_name(file, "accuracy_std", "units", H5P_DEFAULT), 0);

    const char *const d2[] = {"model", "set"};
    const char *const d3[] = {"model", "set", "n_ensemble"};
    const char *const dt[] = {"task"};
    check_attached(file, "accuracy", d2, 2);
    check_attached(file, "accuracy_std", d2, 2);
    check_attached(file, "ensemble_accuracy", d3, 3);
    check_attached(file, "wall_seconds", dt, 1);
    check_attached(file, "status", dt, 1);
    check_attached(file, "error", dt, 1);

    const char *const status[] = {"done", "done", "done", "done", "failed", ""};
    const char *const host[] = {"node-a", "node-b", "node-a", "node-b", "node-a", ""};
    const char *const error[] = {"", "", "", "", "train: loss diverged (NaN) at epoch 3 \xc2\xb5", ""};
    check_strings(file, "status", status, N_TASK);
    check_strings(file, "host", host, N_TASK);
    check_strings(file, "error", error, N_TASK);

    /* global attributes */
    check_string_attr(file, "format", "bnnsweep-cube");
    check_string_attr(file, "bnnsweep_version", BNS_VERSION);
    check_string_attr(file, "git_commit", BNS_GIT_COMMIT);
    check_string_attr(file, "sweep", "models: [mlp-det, mlp-bbb]\nsets: [clean]\n");
    check_string_attr(file, "start_time", "2024-01-01T00:00:00Z");
    check_string_attr(file, "end_time", "2024-01-01T01:00:00Z");
    int version = 0;
    long mpi_size = 0;
    double total = 0;
    assert_true(H5LTget_attribute_int(file, "/", "format_version", &version) >= 0);
    assert_int_equal(version, 1);
    assert_true(H5LTget_attribute_long(file, "/", "mpi_size", &mpi_size) >= 0);
    assert_int_equal(mpi_size, 4);
    assert_true(H5LTget_attribute_double(file, "/", "total_seconds", &total) >= 0);
    assert_true(total == 3600.5);
    H5Fclose(file);

    /* atomic write: nothing but the file itself */
    DIR *dir = opendir(tmp_dir);
    assert_non_null(dir);
    for (struct dirent *e; (e = readdir(dir));)
        if (strncmp(e->d_name, "sample.h5.tmp", 13) == 0) fail_msg("temporary file %s left behind", e->d_name);
    closedir(dir);

    /* the library's own readers */
    double *values = NULL;
    size_t count = 0;
    assert_int_equal(bns_cube_read_var(path, "ensemble_accuracy", &values, &count), 0);
    assert_int_equal(count, N_MODEL * N_SET * N_ENS);
    assert_true(values[2] == cell(0, 0, 2));
    assert_true(isnan(values[3]));
    free(values);
    char **texts = NULL;
    assert_int_equal(bns_cube_read_strings(path, "status", &texts, &count), 0);
    assert_int_equal(count, N_TASK);
    assert_string_equal(texts[4], "failed");
    assert_string_equal(texts[5], "");
    bns_cube_free_strings(texts, count);
}

static void test_rewrite_replaces(void **state) {
    (void)state;
    char path[4096];
    tmp_path(path, sizeof path, "rewrite.h5");
    bns_cube *c = bns_cube_new();
    const double xs[] = {0.0, 0.5};
    const char *const dx[] = {"rate"};
    assert_int_equal(bns_cube_add_dim_numbers(c, "rate", xs, 2), 0);
    assert_int_equal(bns_cube_add_var(c, "pruned_accuracy", dx, 1, NULL, NULL), 0);
    assert_int_equal(bns_cube_write(c, path), 0); /* all NaN */
    size_t i = 1;
    assert_int_equal(bns_cube_set(c, "pruned_accuracy", &i, 0.75), 0);
    assert_int_equal(bns_cube_write(c, path), 0); /* over the old file */
    double *values = NULL;
    size_t count = 0;
    assert_int_equal(bns_cube_read_var(path, "pruned_accuracy", &values, &count), 0);
    assert_int_equal(count, 2);
    assert_true(isnan(values[0]));
    assert_true(values[1] == 0.75);
    free(values);
    assert_int_equal(bns_cube_find_number(c, "rate", 0.5, &i), 0);
    assert_int_equal(i, 1);
    bns_cube_free(c);
}

static void test_long_sweep_text(void **state) {
    (void)state;
    /* a sweep file bigger than HDF5's 64 KiB compact attribute limit */
    char path[4096];
    tmp_path(path, sizeof path, "long-attr.h5");
    size_t n = 200000;
    char *text = malloc(n + 1);
    for (size_t i = 0; i < n; i++) text[i] = i % 64 == 63 ? '\n' : (char)('a' + i % 26);
    text[n] = '\0';
    bns_cube *c = bns_cube_new();
    assert_int_equal(bns_cube_add_dim(c, "task", 1), 0);
    assert_int_equal(bns_cube_set_attr_string(c, "sweep", text), 0);
    if (bns_cube_write(c, path)) fail_msg("%s", bns_last_error());
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    check_string_attr(file, "sweep", text);
    H5Fclose(file);
    bns_cube_free(c);
    free(text);
}

static void test_errors(void **state) {
    (void)state;
    bns_cube *c = bns_cube_new();
    const char *const ab[] = {"a", "b"};
    const char *const aa[] = {"a", "a"};
    const double xs[] = {1, 2, 3};
    assert_int_equal(bns_cube_add_dim_strings(c, "model", ab, 2), 0);
    assert_int_equal(bns_cube_add_dim_numbers(c, "x", xs, 3), 0);

    assert_int_equal(bns_cube_add_dim_strings(c, "model", ab, 2), -1);
    expect_error("model", "already exists");
    assert_int_equal(bns_cube_add_dim_strings(c, "dup", aa, 2), -1);
    expect_error("dup", "'a' appears twice");
    assert_int_equal(bns_cube_add_dim(c, "empty", 0), -1);
    expect_error("empty", "length 0");
    assert_int_equal(bns_cube_add_dim(c, "a/b", 2), -1);
    expect_error("a/b", "not allowed");
    assert_int_equal(bns_cube_add_dim(c, "", 2), -1);
    expect_error("empty", NULL);

    const char *const good[] = {"model", "x"};
    const char *const bad[] = {"model", "nope"};
    assert_int_equal(bns_cube_add_var(c, "v", bad, 2, NULL, NULL), -1);
    expect_error("'v'", "no dimension 'nope'");
    assert_int_equal(bns_cube_add_var(c, "v", good, 0, NULL, NULL), -1);
    expect_error("'v'", "0 dimensions");
    assert_int_equal(bns_cube_add_var(c, "v", good, 2, NULL, NULL), 0);
    assert_int_equal(bns_cube_add_var(c, "v", good, 1, NULL, NULL), -1);
    expect_error("'v'", "variable of that name already exists");
    assert_int_equal(bns_cube_add_var(c, "x", good, 1, NULL, NULL), -1);
    expect_error("'x'", "dimension of that name already exists");
    assert_int_equal(bns_cube_add_dim(c, "v", 2), -1);
    expect_error("'v'", "variable of that name already exists");
    assert_int_equal(bns_cube_add_string_var(c, "s", "nope"), -1);
    expect_error("'s'", "no dimension 'nope'");
    assert_int_equal(bns_cube_add_string_var(c, "s", "x"), 0);

    size_t in[2] = {1, 2}, out0[2] = {2, 0}, out1[2] = {0, 3};
    assert_int_equal(bns_cube_set(c, "v", in, 1.0), 0);
    assert_int_equal(bns_cube_set(c, "v", out0, 1.0), -1);
    expect_error("index 2 out of range", "dimension 'model' (length 2)");
    assert_int_equal(bns_cube_set(c, "v", out1, 1.0), -1);
    expect_error("index 3 out of range", "dimension 'x' (length 3)");
    assert_int_equal(bns_cube_set(c, "w", in, 1.0), -1);
    expect_error("no variable 'w'", NULL);
    assert_int_equal(bns_cube_set(c, "model", in, 1.0), -1);
    expect_error("'model' is a dimension", NULL);
    assert_int_equal(bns_cube_set(c, "s", in, 1.0), -1);
    expect_error("'s' holds strings", NULL);
    assert_int_equal(bns_cube_set_string(c, "v", 0, "x"), -1);
    expect_error("'v' holds numbers", NULL);
    assert_int_equal(bns_cube_set_string(c, "s", 3, "x"), -1);
    expect_error("index 3 out of range", "'x'");
    assert_int_equal(bns_cube_set_string(c, "s", 2, "ok"), 0);

    size_t idx = 9;
    assert_int_equal(bns_cube_find_label(c, "model", "b", &idx), 0);
    assert_int_equal(idx, 1);
    assert_int_equal(bns_cube_find_label(c, "model", "c", &idx), -1);
    expect_error("no label 'c'", "'model'");
    assert_int_equal(bns_cube_find_label(c, "x", "c", &idx), -1);
    expect_error("'x' has no string labels", NULL);
    assert_int_equal(bns_cube_find_number(c, "x", 4, &idx), -1);
    expect_error("'x' has no value 4", NULL);

    assert_int_equal(bns_cube_set_attr_string(c, "format", "mine"), -1);
    expect_error("'format'", "set by the writer");
    assert_int_equal(bns_cube_set_attr_string(c, "note", NULL), -1);
    expect_error("'note'", "NULL");

    /* unwritable destination: fails naming it, leaves nothing behind */
    char path[4096], dir_path[4096];
    tmp_path(path, sizeof path, "no-such-dir/cube.h5");
    assert_int_equal(bns_cube_write(c, path), -1);
    expect_error(path, "cannot create");
    tmp_path(dir_path, sizeof dir_path, "a-directory");
    mkdir_p(dir_path);
    assert_int_equal(bns_cube_write(c, dir_path), -1); /* rename onto a directory */
    expect_error(dir_path, "rename");
    DIR *dir = opendir(tmp_dir);
    assert_non_null(dir);
    for (struct dirent *e; (e = readdir(dir));)
        if (strstr(e->d_name, ".tmp.")) fail_msg("temporary file %s left behind", e->d_name);
    closedir(dir);
    bns_cube_free(c);

    /* readers */
    double *values = NULL;
    char **texts = NULL;
    size_t count = 0;
    tmp_path(path, sizeof path, "does-not-exist.h5");
    assert_int_equal(bns_cube_read_var(path, "v", &values, &count), -1);
    expect_error(path, "cannot read");
    tmp_path(path, sizeof path, "sample.h5");
    write_sample(path);
    assert_int_equal(bns_cube_read_var(path, "nope", &values, &count), -1);
    expect_error(path, "no variable 'nope'");
    assert_int_equal(bns_cube_read_var(path, "status", &values, &count), -1);
    expect_error("'status'", "not a floating-point variable");
    assert_int_equal(bns_cube_read_strings(path, "accuracy", &texts, &count), -1);
    expect_error("'accuracy'", "not a variable-length string variable");
}

/* A dimension of a sweep's scale (a model per grid point, a task each):
 * 200,000 labels. De-duplication and look-up go through a hash table; the
 * pairwise scan they replaced would take 2e10 comparisons here (the test
 * would run for many minutes and hit ctest's timeout, not pass slowly).
 * A duplicate is still refused, naming both places, the first one first. */
#define N_BIG 200000
static void test_many_labels(void **state) {
    (void)state;
    char **labels = malloc(sizeof *labels * N_BIG);
    assert_non_null(labels);
    for (size_t i = 0; i < N_BIG; i++) {
        char text[64];
        snprintf(text, sizeof text, "train/m/l2_lambda=%zu", (i * 7919) % N_BIG); /* distinct, out of order */
        labels[i] = strdup(text);
    }
    bns_cube *c = bns_cube_new();
    assert_int_equal(bns_cube_add_dim_strings(c, "model", (const char *const *)labels, N_BIG), 0);
    for (size_t i = 0; i < N_BIG; i += 997) {
        size_t idx = 0;
        assert_int_equal(bns_cube_find_label(c, "model", labels[i], &idx), 0);
        assert_int_equal(idx, i);
    }
    size_t idx = 0;
    assert_int_equal(bns_cube_find_label(c, "model", "train/m/l2_lambda=200000", &idx), -1);
    expect_error("no label 'train/m/l2_lambda=200000'", "'model'");

    /* the label of place 123456 again at the end, and at 150000 another's */
    free(labels[N_BIG - 1]);
    labels[N_BIG - 1] = strdup(labels[123456]);
    free(labels[150000]);
    labels[150000] = strdup(labels[150001 + 7]);
    assert_int_equal(bns_cube_add_dim_strings(c, "dup", (const char *const *)labels, N_BIG), -1);
    /* the first repeated label is the one at 150008 (first at 150000) */
    char want[128];
    snprintf(want, sizeof want, "label '%s' appears twice (150000 and 150008)", labels[150000]);
    expect_error("'dup'", want);
    free(labels[150000]);
    labels[150000] = strdup("another");
    assert_int_equal(bns_cube_add_dim_strings(c, "dup", (const char *const *)labels, N_BIG), -1);
    snprintf(want, sizeof want, "label '%s' appears twice (123456 and %d)", labels[123456], N_BIG - 1);
    expect_error("'dup'", want);
    bns_cube_free(c);
    for (size_t i = 0; i < N_BIG; i++) free(labels[i]);
    free(labels);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--sample") == 0) {
        bns_cube *c = build_sample();
        int rc = bns_cube_write(c, argv[2]);
        bns_cube_free(c);
        if (rc) fprintf(stderr, "test_cube: %s\n", bns_last_error());
        return rc ? 1 : 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_and_read_back),
        cmocka_unit_test(test_rewrite_replaces),
        cmocka_unit_test(test_long_sweep_text),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_many_labels),
    };
    return cmocka_run_group_tests(tests, setup_tmp, NULL);
}
