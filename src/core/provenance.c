/* provenance.c - the root attributes of every result file (see provenance.h). */
#include <hdf5_hl.h>
#include <stdio.h>
#include <string.h>

#include "bnnsweep/backend.h"
#include "bnnsweep/error.h"
#include "bnnsweep/provenance.h"
#include "bnnsweep/version.h"

void bns_blas_config(char *buf, size_t size) { snprintf(buf, size, "%s x%d", bns_blas_kernel(), bns_blas_threads()); }

int bns_provenance_write(hid_t file, const char *format, int format_version) {
    int results_version = BNS_RESULTS_VERSION, threads = bns_blas_threads();
    int bad = 0;
    bad |= H5LTset_attribute_string(file, "/", "format", format) < 0;
    bad |= H5LTset_attribute_int(file, "/", "format_version", &format_version, 1) < 0;
    bad |= H5LTset_attribute_string(file, "/", "bnnsweep_version", BNS_VERSION) < 0;
    bad |= H5LTset_attribute_string(file, "/", "git_commit", BNS_GIT_COMMIT) < 0;
    bad |= H5LTset_attribute_int(file, "/", BNS_RESULTS_VERSION_ATTR, &results_version, 1) < 0;
    bad |= H5LTset_attribute_string(file, "/", "blas_kernel", bns_blas_kernel()) < 0;
    bad |= H5LTset_attribute_int(file, "/", "blas_threads", &threads, 1) < 0;
    return bad ? bns_fail("cannot write the file's format attributes") : 0;
}

/* A string attribute of the root, fixed-length (as this program writes them)
 * or variable-length (as h5py writes a str): -1 if absent or too long. */
static int read_root_string(hid_t file, const char *name, char *buf, size_t size) {
    if (H5Aexists(file, name) <= 0) return -1;
    hid_t attr = H5Aopen(file, name, H5P_DEFAULT);
    hid_t type = attr < 0 ? H5I_INVALID_HID : H5Aget_type(attr);
    int rc = -1;
    if (type >= 0 && H5Tget_class(type) == H5T_STRING) {
        hid_t mem = H5Tcopy(H5T_C_S1);
        if (H5Tis_variable_str(type) > 0) {
            char *text = NULL;
            H5Tset_size(mem, H5T_VARIABLE);
            if (H5Aread(attr, mem, &text) >= 0 && text && strlen(text) < size) {
                snprintf(buf, size, "%s", text);
                rc = 0;
            }
            if (text) H5free_memory(text);
        } else if (H5Tget_size(type) < size) {
            H5Tset_size(mem, size);
            memset(buf, 0, size);
            rc = H5Aread(attr, mem, buf) < 0 ? -1 : 0;
        }
        H5Tclose(mem);
    }
    if (type >= 0) H5Tclose(type);
    if (attr >= 0) H5Aclose(attr);
    return rc;
}

void bns_blas_config_read(hid_t file, char *buf, size_t size) {
    char kernel[64];
    int threads = 0;
    buf[0] = 0;
    if (read_root_string(file, "blas_kernel", kernel, sizeof kernel) || H5Aexists(file, "blas_threads") <= 0 ||
        H5LTget_attribute_int(file, "/", "blas_threads", &threads) < 0)
        return;
    snprintf(buf, size, "%s x%d", kernel, threads);
}
