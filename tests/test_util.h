/* test_util.h - the scratch directory every file-writing test uses:
 * tmp_dir (set by each test's setup), mkdir_p and tmp_path. Include after
 * cmocka.h. */
#ifndef BNNSWEEP_TEST_UTIL_H
#define BNNSWEEP_TEST_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bnnsweep/error.h"

static char tmp_dir[4000];

static void mkdir_p(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) fail_msg("mkdir %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) fail_msg("mkdir %s: %s", buf, strerror(errno));
}

/* tmp_dir = $BNS_TEST_TMP/name (or /tmp/bns-test/name), created: a test's setup. */
static inline void tmp_dir_setup(const char *name) {
    const char *base = getenv("BNS_TEST_TMP");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/%s", base && base[0] ? base : "/tmp/bns-test", name);
    mkdir_p(tmp_dir);
}

static inline const char *tmp_path(char *buf, size_t size, const char *name) {
    snprintf(buf, size, "%s/%s", tmp_dir, name);
    return buf;
}

/* The recorded error names the file (and says `also`, if given). */
static inline void expect_error_names(const char *path, const char *also) {
    const char *msg = bns_last_error();
    if (!strstr(msg, path)) fail_msg("error \"%s\" does not name %s", msg, path);
    if (also && !strstr(msg, also)) fail_msg("error \"%s\" lacks \"%s\"", msg, also);
}

/* No "*.tmp.*" file may be left in the scratch directory. */
static inline void expect_no_temporaries(void) {
    DIR *d = opendir(tmp_dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".tmp.")) fail_msg("temporary file %s/%s left behind", tmp_dir, e->d_name);
    closedir(d);
}

#endif
