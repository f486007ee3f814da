/* cmd_gradvar.c - `bnnsweep gradvar`: the variance of a method's gradient
 * estimator at fixed parameters, per parameter block, and the accuracies of
 * sampled models (the measurement of METHODS.md s.11; docs/ris.md).
 *
 * The model's parameters are fixed; its method's loss_grad runs R times on
 * one fixed minibatch (the first B training rows), repetition r with the
 * noise of step BASE + r, so the repetitions differ only in the estimator's
 * own randomness. Method settings may be overridden (--setting
 * ris_proposal=0: the same parameters under plain MC). Per block (e.g.
 * layers/1/weight_mu) the file gets the mean and sum over its coordinates of
 * the per-coordinate sample variance, and |mean gradient|^2; then the test
 * accuracy of N single weight samples (the evaluation pipeline, PREDICT
 * stream, samples 0..N-1). Everything goes to one HDF5 file, written
 * atomically (bns_temp_path + rename). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "bnnsweep/provenance.h"
#include "bnnsweep/backend.h"
#include "bnnsweep/dataset.h"
#include "bnnsweep/error.h"
#include "bnnsweep/eval_pipeline.h"
#include "bnnsweep/method.h"
#include "bnnsweep/model_io.h"
#include "bnnsweep/train.h"
#include "bnnsweep/util.h"
#include "cli.h"

enum { OPT_MODEL = 1000, OPT_OUT, OPT_REPS, OPT_BATCH, OPT_SETTING, OPT_SAMPLED, OPT_TEST_LIMIT, OPT_DATA_DIR,
       OPT_THREADS, OPT_HELP };
enum { MAX_SETTINGS = 16 };
#define STEP_BASE 1000000000ull /* far from any training step's noise */

static void gradvar_usage(FILE *out) {
    fprintf(out,
            "usage: bnnsweep gradvar --model MODEL.h5 --out GRADVAR.h5 [OPTIONS]\n\n"
            "Variance of the model's gradient estimator at its fixed parameters, per parameter\n"
            "block, over R repeated estimates on one minibatch (the first B training rows),\n"
            "and the test accuracy of N sampled models.\n\n"
            "options:\n"
            "  --model FILE        model file (from bnnsweep train); required\n"
            "  --out FILE          HDF5 file to write (atomically); required\n"
            "  --reps R            repeated gradient estimates (default 200)\n"
            "  --batch B           minibatch rows (default 100)\n"
            "  --setting KEY=VALUE override a setting of the model's method, e.g. ris_proposal=0\n"
            "                      (repeatable)\n"
            "  --sampled N         single-sample models whose test accuracy is stored (default 1000; 0: none)\n"
            "  --test-limit N      first N test rows (default all)\n"
            "  --data-dir DIR      data cache (default $BNNSWEEP_DATA or ~/.cache/bnnsweep)\n"
            "  --threads N         BLAS threads (default 1)\n\n"
            "file: root attributes model, method, settings, reps, batch; per block\n"
            "/blocks/<block path> attributes offset, count, mean_variance, total_variance,\n"
            "mean_grad_sq_norm; /mean_grad [n_params] (the mean estimate); /loss [R] (each\n"
            "estimate's objective per example); /sampled_accuracy [N].\n");
}

typedef struct {
    const bns_model *m;
    const char *model_path, *settings;
    int reps, batch;
    const double *mean, *m2, *loss;
    const double *sampled;
    int n_sampled;
} gradvar_result;

static int write_result(const char *path, const gradvar_result *r) {
    char tmp[4200];
    if (bns_temp_path(path, tmp, sizeof tmp)) return -1;
    hid_t file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) return bns_fail("%s: cannot create", tmp);
    int rc = bns_provenance_write(file, "bnnsweep-gradvar", 1) < 0;
    rc |= H5LTset_attribute_string(file, "/", "model", r->model_path) < 0;
    rc |= H5LTset_attribute_string(file, "/", "method", r->m->method->name) < 0;
    rc |= H5LTset_attribute_string(file, "/", "arch", r->m->cfg.arch) < 0;
    rc |= H5LTset_attribute_string(file, "/", "settings", r->settings) < 0;
    rc |= H5LTset_attribute_int(file, "/", "reps", &r->reps, 1) < 0;
    rc |= H5LTset_attribute_int(file, "/", "batch", &r->batch, 1) < 0;
    hsize_t dims = (hsize_t)r->reps;
    rc |= H5LTmake_dataset_double(file, "/loss", 1, &dims, r->loss) < 0;
    dims = (hsize_t)r->m->n_params;
    rc |= H5LTmake_dataset_double(file, "/mean_grad", 1, &dims, r->mean) < 0;
    dims = (hsize_t)r->n_sampled;
    if (r->n_sampled > 0) rc |= H5LTmake_dataset_double(file, "/sampled_accuracy", 1, &dims, r->sampled) < 0;
    bns_param_block blocks[BNS_MAX_PARAM_BLOCKS];
    int nb = bns_model_param_blocks(r->m, blocks);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    for (int b = 0; b < nb && !rc; b++) {
        size_t count = blocks[b].dims[0] * (blocks[b].rank == 2 ? blocks[b].dims[1] : 1);
        double var_sum = 0.0, sq = 0.0;
        for (size_t i = blocks[b].offset; i < blocks[b].offset + count; i++) {
            var_sum += r->m2[i] / (r->reps - 1);
            sq += r->mean[i] * r->mean[i];
        }
        double mean_var = var_sum / count, n = (double)count;
        char name[sizeof blocks[b].path + 16];
        snprintf(name, sizeof name, "/blocks/%.*s", (int)sizeof blocks[b].path - 1, blocks[b].path);
        hid_t g = H5Gcreate2(file, name, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) {
            rc = 1;
            break;
        }
        H5Gclose(g);
        double offset = (double)blocks[b].offset;
        rc |= H5LTset_attribute_double(file, name, "offset", &offset, 1) < 0;
        rc |= H5LTset_attribute_double(file, name, "count", &n, 1) < 0;
        rc |= H5LTset_attribute_double(file, name, "mean_variance", &mean_var, 1) < 0;
        rc |= H5LTset_attribute_double(file, name, "total_variance", &var_sum, 1) < 0;
        rc |= H5LTset_attribute_double(file, name, "mean_grad_sq_norm", &sq, 1) < 0;
    }
    H5Pclose(lcpl);
    if (H5Fclose(file) < 0) rc = 1;
    if (rc) {
        remove(tmp);
        return bns_fail("%s: cannot write", tmp);
    }
    if (rename(tmp, path)) {
        remove(tmp);
        return bns_fail("%s: cannot rename into place", path);
    }
    return 0;
}

int cmd_gradvar(int argc, char **argv) {
    const char *model_path = NULL, *out_path = NULL, *data_dir = NULL;
    const char *settings[MAX_SETTINGS];
    int n_settings = 0;
    long reps = 200, batch = 100, sampled = 1000, test_limit = 0, threads = 1;
    const struct option options[] = {
        {"model", required_argument, NULL, OPT_MODEL},     {"out", required_argument, NULL, OPT_OUT},
        {"reps", required_argument, NULL, OPT_REPS},       {"batch", required_argument, NULL, OPT_BATCH},
        {"setting", required_argument, NULL, OPT_SETTING}, {"sampled", required_argument, NULL, OPT_SAMPLED},
        {"test-limit", required_argument, NULL, OPT_TEST_LIMIT}, {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"threads", required_argument, NULL, OPT_THREADS}, {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        long *num = NULL;
        long lo = 0, hi = 0;
        switch (c) {
        case OPT_MODEL: model_path = optarg; break;
        case OPT_OUT: out_path = optarg; break;
        case OPT_DATA_DIR: data_dir = optarg; break;
        case OPT_REPS: num = &reps, lo = 2, hi = 1000000; break;
        case OPT_BATCH: num = &batch, lo = 1, hi = 50000; break;
        case OPT_SAMPLED: num = &sampled, lo = 0, hi = 1000000; break;
        case OPT_TEST_LIMIT: num = &test_limit, lo = 0, hi = 1000000000; break;
        case OPT_THREADS: num = &threads, lo = 1, hi = 256; break;
        case OPT_SETTING:
            if (n_settings == MAX_SETTINGS) {
                fprintf(stderr, "bnnsweep gradvar: at most %d --setting\n", MAX_SETTINGS);
                return BNS_EXIT_USAGE;
            }
            settings[n_settings++] = optarg;
            break;
        case 'h':
        case OPT_HELP: gradvar_usage(stdout); return BNS_EXIT_OK;
        default:
            fprintf(stderr, "bnnsweep gradvar: unknown option '%s'\n\n", argv[optind - 1]);
            gradvar_usage(stderr);
            return BNS_EXIT_USAGE;
        }
        if (num) {
            char *end;
            *num = strtol(optarg, &end, 10);
            if (*end || *num < lo || *num > hi) {
                fprintf(stderr, "bnnsweep gradvar: --%s must be an integer in %ld..%ld, got '%s'\n",
                        options[c - OPT_MODEL].name, lo, hi, optarg);
                return BNS_EXIT_USAGE;
            }
        }
    }
    if (!model_path || !out_path) {
        fprintf(stderr, "bnnsweep gradvar: --model and --out are required\n\n");
        gradvar_usage(stderr);
        return BNS_EXIT_USAGE;
    }
    bns_set_blas_threads((int)threads);

    bns_model m;
    if (bns_model_load(model_path, &m, NULL)) {
        fprintf(stderr, "bnnsweep gradvar: %s\n", bns_last_error());
        return BNS_EXIT_ERROR;
    }
    char settings_text[1024] = "";
    for (int i = 0; i < n_settings; i++) {
        if (bns_config_set_assignment(&m.cfg, settings[i]) ||
            (m.method->validate && m.method->validate(&m.cfg))) {
            fprintf(stderr, "bnnsweep gradvar: --setting %s: %s\n", settings[i], bns_last_error());
            bns_model_free(&m);
            return BNS_EXIT_USAGE;
        }
        size_t len = strlen(settings_text);
        snprintf(settings_text + len, sizeof settings_text - len, "%s%s", i ? " " : "", settings[i]);
    }
    bns_splits data;
    if (bns_mnist_load(data_dir, (float)m.cfg.pixel_scale, (size_t)m.cfg.train_limit, (size_t)test_limit, &data)) {
        fprintf(stderr, "bnnsweep gradvar: %s\n", bns_last_error());
        bns_model_free(&m);
        return BNS_EXIT_ERROR;
    }
    int B = batch < (long)data.train.n ? (int)batch : (int)data.train.n, R = (int)reps;
    size_t P = m.n_params;
    double *mean = bns_xcalloc(P, sizeof(double)), *m2 = bns_xcalloc(P, sizeof(double));
    double *loss = bns_xmalloc(sizeof(double) * R), *acc = bns_xmalloc(sizeof(double) * (sampled ? sampled : 1));
    float *grad = bns_xmalloc(sizeof(float) * P);
    void *trainer = m.method->trainer_create(&m, B);
    for (int r = 0; r < R; r++) {
        bns_objective obj = bns_make_objective(&m.cfg, B, data.train.n, STEP_BASE + (uint64_t)r, 1);
        bns_step_stats st;
        m.method->loss_grad(trainer, &m, data.train.x, data.train.y, B, &obj, grad, &st);
        loss[r] = obj.nll_scale * (st.nll_sum + B * st.reg_per_example);
        for (size_t i = 0; i < P; i++) { /* Welford, in double */
            double d = grad[i] - mean[i];
            mean[i] += d / (r + 1);
            m2[i] += d * (grad[i] - mean[i]);
        }
    }
    m.method->trainer_free(trainer);
    int rc = 0;
    if (sampled > 0) {
        bns_stream stream = bns_stream_make(m.cfg.seed, m.cfg.task, BNS_PURPOSE_PREDICT);
        bns_evaluator ev;
        bns_evaluator_init(&ev, &m, &data.test, &stream);
        bns_run_metrics *per_run = bns_xmalloc(sizeof *per_run * (size_t)sampled);
        bns_accuracy_result res;
        rc = bns_eval_accuracy(&ev, &(bns_accuracy_request){.n_ensemble = 1, .runs = (int)sampled}, per_run, &res);
        for (long k = 0; k < sampled; k++) acc[k] = per_run[k].acc;
        free(per_run);
        bns_evaluator_free(&ev);
    }
    gradvar_result out = {&m, model_path, settings_text, R, B, mean, m2, loss, acc, (int)sampled};
    if (!rc) rc = write_result(out_path, &out);
    if (rc)
        fprintf(stderr, "bnnsweep gradvar: %s\n", bns_last_error());
    else
        printf("wrote %s (%d estimates on %d rows, %ld sampled models)\n", out_path, R, B, sampled);
    free(mean), free(m2), free(loss), free(acc), free(grad);
    bns_splits_free(&data);
    bns_model_free(&m);
    return rc ? BNS_EXIT_ERROR : BNS_EXIT_OK;
}
