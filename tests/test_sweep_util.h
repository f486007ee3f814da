/* test_sweep_util.h - a whole sweep in-process: every task of a built plan
 * through the runner in dependency order, then the cube (the pattern of
 * `bnnsweep run` on one rank). Include after cmocka.h and test_util.h. */
#ifndef BNNSWEEP_TEST_SWEEP_UTIL_H
#define BNNSWEEP_TEST_SWEEP_UTIL_H

#include <stdlib.h>

#include <hdf5.h>

#include "bnnsweep/plan.h"
#include "bnnsweep/runner.h"
#include "bnnsweep/spec.h"

/* Runs the plan in tmp_dir/run_name; cube receives the cube's path. */
static inline void run_sweep_in_process(bns_spec *spec, bns_plan *plan, const char *run_name, char *cube,
                                        size_t cube_size) {
    char run_dir[4096];
    tmp_path(run_dir, sizeof run_dir, run_name);
    bns_runner r;
    if (bns_runner_open(&r, spec, plan, run_dir, NULL, 1)) fail_msg("%s", bns_last_error());
    int *order = malloc(sizeof(int) * (size_t)plan->n_tasks);
    assert_int_equal(bns_plan_topo_order(plan, order), 0);
    for (int i = 0; i < plan->n_tasks; i++) {
        char err[1024];
        if (bns_runner_run_task(order[i], &r, err, sizeof err)) fail_msg("%s: %s", plan->tasks[order[i]].name, err);
    }
    if (bns_runner_write_cube(&r, NULL, NULL)) fail_msg("%s", bns_last_error());
    snprintf(cube, cube_size, "%s/cube.h5", run_dir);
    free(order);
    bns_runner_close(&r);
}

/* A string variable of a cube (variable-length UTF-8, cube.h) into out
 * (one malloc'd string per entry: free them). */
static inline void read_cube_strings(hid_t f, const char *name, char **out) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT), t = H5Tcopy(H5T_C_S1);
    assert_true(d >= 0);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    assert_true(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0);
    H5Tclose(t);
    H5Dclose(d);
}

#endif
