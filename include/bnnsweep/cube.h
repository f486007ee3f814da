/* cube.h - the results of a sweep as one netCDF-4 compatible HDF5 file.
 *
 * A cube is built in memory (dimensions, then variables, then values) and
 * written at once. The file follows the netCDF-4 data model on top of HDF5,
 * so `xarray.open_dataset(path, engine="h5netcdf")` (or ncdump) sees named
 * dimensions and labelled arrays:
 *   /<dim>        one dataset per dimension, an HDF5 dimension scale with a
 *                 _Netcdf4Dimid attribute. String labels -> variable-length
 *                 UTF-8 strings; numbers -> float64; a plain dimension
 *                 (bns_cube_add_dim) -> an unwritten float32 dataset whose
 *                 NAME is netCDF's "This is a netCDF dimension but not a
 *                 netCDF variable." marker, so it has no coordinate values.
 *   /<var>        float64 over its dimensions (scales attached), fill NaN,
 *                 attributes _FillValue (NaN), long_name and units; or a 1-D
 *                 variable-length UTF-8 string variable (per-task text).
 *   /             global attributes: format "bnnsweep-cube", format_version,
 *                 bnnsweep_version, git_commit, plus whatever the caller sets.
 * Cells never set stay NaN (strings stay ""), so a partial cube is readable.
 * Dimensions and variables share one namespace (a coordinate variable is its
 * dimension). The file is written to <path>.tmp.<host>.<pid>, fsynced and renamed.
 * Every function returns 0, or -1 with a message in bns_last_error().
 */
#ifndef BNNSWEEP_CUBE_H
#define BNNSWEEP_CUBE_H

#include <stddef.h>

#define BNS_CUBE_MAX_DIMS 8

typedef struct bns_cube bns_cube;

bns_cube *bns_cube_new(void);
void bns_cube_free(bns_cube *c);

/* Dimensions: n >= 1. Labels and values are copied. */
int bns_cube_add_dim(bns_cube *c, const char *name, size_t n); /* no coordinate values */
int bns_cube_add_dim_strings(bns_cube *c, const char *name, const char *const *labels, size_t n);
int bns_cube_add_dim_numbers(bns_cube *c, const char *name, const double *values, size_t n);
/* Position of label in a string dimension (or of value in a numeric one). */
int bns_cube_find_label(const bns_cube *c, const char *dim, const char *label, size_t *index);
int bns_cube_find_number(const bns_cube *c, const char *dim, double value, size_t *index);

/* float64 variable over existing dimensions, every cell NaN until set.
 * units may be NULL; long_name may be NULL. */
int bns_cube_add_var(bns_cube *c, const char *name, const char *const *dims, int n_dims, const char *units,
                     const char *long_name);
/* index has one entry per dimension of var, in the order given to add_var. */
int bns_cube_set(bns_cube *c, const char *var, const size_t *index, double value);

/* 1-D text variable over dim (status, host, error message); unset entries are "". */
int bns_cube_add_string_var(bns_cube *c, const char *name, const char *dim);
int bns_cube_set_string(bns_cube *c, const char *var, size_t index, const char *text);

/* Global attributes; setting a name again replaces the value. */
int bns_cube_set_attr_string(bns_cube *c, const char *name, const char *value);
int bns_cube_set_attr_double(bns_cube *c, const char *name, double value);
int bns_cube_set_attr_int(bns_cube *c, const char *name, long long value);

int bns_cube_write(const bns_cube *c, const char *path);

/* Read a float64 variable back (flattened, C order): *values is malloc'd, free it. */
int bns_cube_read_var(const char *path, const char *var, double **values, size_t *count);
/* Read a string variable back: *texts is an array of malloc'd strings, free with bns_cube_free_strings. */
int bns_cube_read_strings(const char *path, const char *var, char ***texts, size_t *count);
void bns_cube_free_strings(char **texts, size_t count);

#endif
