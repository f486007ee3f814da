/* cmd_train.c - `bnnsweep train`: one model from flags, one line per epoch. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "bnnsweep/provenance.h"
#include "bnnsweep/backend.h"
#include "bnnsweep/config.h"
#include "bnnsweep/dataset.h"
#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/model_io.h"
#include "bnnsweep/eval_pipeline.h"
#include "bnnsweep/predict.h"
#include "bnnsweep/train.h"
#include "bnnsweep/util.h"
#include "cli.h"

enum { OPT_OUT = 1000, OPT_DATA_DIR, OPT_SET, OPT_TEST_LIMIT, OPT_THREADS, OPT_QUIET, OPT_HELP, OPT_EPOCHS,
       OPT_LAMBDA, OPT_SAMPLE_OUTPUTS, OPT_OUTPUT_SAMPLES, OPT_FIELD_BASE = 2000 };

static void flag_name(const char *field, char *buf, size_t size) {
    snprintf(buf, size, "%s", field);
    for (char *p = buf; *p; p++)
        if (*p == '_') *p = '-';
}

static void train_usage(FILE *out) {
    bns_config defaults;
    bns_config_defaults(&defaults);
    fprintf(out,
            "usage: bnnsweep train [OPTIONS] --out MODEL.h5\n\n"
            "Train one model on MNIST (50k train / 10k validation / 10k test) with early\n"
            "stopping on validation accuracy, print one line per epoch, report test\n"
            "accuracy, and save the model (parameters, configuration, curves) to HDF5.\n\n"
            "options:\n"
            "  --out FILE          model file to write (atomically); required\n"
            "  --data-dir DIR      data cache (default $BNNSWEEP_DATA or ~/.cache/bnnsweep)\n"
            "  --test-limit N      evaluate on the first N validation/test rows only\n"
            "  --threads N         BLAS threads (default 1)\n"
            "  --set KEY=VALUE     set any setting below by its key (repeatable)\n"
            "  --epochs N          alias of --max-epochs;  --lambda X  alias of --l2-lambda\n"
            "  --quiet             no per-epoch lines, nor the progress of a long epoch (stderr)\n"
            "  --sample-outputs F  regression (dataset toy1d): write the network output of each of\n"
            "                      --output-samples weight samples (default 100; 1 for a point\n"
            "                      estimate) on the test grid to HDF5 file F (analysis/toy.py)\n\n"
            "settings (flag, default, meaning):\n");
    for (const bns_config_field *f = bns_config_fields(); f->name; f++) {
        char flag[64], value[64];
        flag_name(f->name, flag, sizeof flag);
        bns_config_format_field(&defaults, f, value, sizeof value);
        if (f->owner) fprintf(out, "  --%-14s %-20s (%s) %s\n", flag, value, f->owner, f->help);
        else fprintf(out, "  --%-14s %-20s %s\n", flag, value, f->help);
    }
    fprintf(out, "\nmethods (--method):\n");
    for (const bns_method *const *m = bns_method_list(); *m; m++) fprintf(out, "  %-14s %s\n", (*m)->name, (*m)->summary);
    fprintf(out, "\nexit status: 0 trained, 1 error, 2 usage, 3 training diverged (best epoch kept if any)\n");
}

static void print_epoch(const bns_model *m, const bns_train_history *h, void *ctx) {
    (void)m;
    (void)ctx;
    const bns_epoch_record *r = &h->epochs[h->epochs_run - 1];
    printf("epoch %4d  loss %.5f  nll %.5f  kl %10.1f  train_acc %.4f  val_acc %.4f%s  %.2fs (+%.2fs val)\n",
           h->epochs_run, r->train_loss, r->train_nll, r->train_kl, r->train_acc, r->val_acc,
           h->best_epoch == h->epochs_run ? "*" : " ", r->seconds, r->val_seconds);
    fflush(stdout);
}

/* Progress inside a long epoch (a ResNet-20 epoch on one core takes many
 * minutes), on stderr so that stdout keeps one line per epoch: nothing for
 * the first 10 s of an epoch; then a line rewritten in place every second
 * on a terminal, or a new line every 60 s into a log. */
typedef struct {
    int tty;
    double last; /* seconds into the epoch of the last report */
    int open;    /* a terminal line is shown and not yet ended */
} step_progress;

static void print_step(int epoch, size_t done, size_t steps, double seconds, void *ctx) {
    step_progress *p = ctx;
    if (done == 1) p->last = 0.0;
    int final = done == steps;
    if (!final && (seconds < 10.0 || seconds - p->last < (p->tty ? 1.0 : 60.0))) return;
    if (final && !p->open) return;
    p->last = seconds;
    double left = seconds / done * (steps - done);
    fprintf(stderr, "%sepoch %d: step %zu/%zu, %.0f s, about %.0f s left%s", p->tty ? "\r" : "", epoch, done, steps,
            seconds, left, p->tty && !final ? "   " : "\n");
    p->open = p->tty && !final;
    fflush(stderr);
}

static void print_epoch_after_steps(const bns_model *m, const bns_train_history *h, void *ctx) {
    step_progress *p = ctx;
    if (p->open) fputc('\n', stderr);
    p->open = 0;
    print_epoch(m, h, NULL);
}

/* Test accuracy as the papers report it, through the evaluation pipeline:
 * deterministic, or for a stochastic model the posterior mean, single-sample
 * mean +- std over RUNS runs (samples 0..9) and a 10-sample ensemble (samples
 * 10..19). The spread is the sample std (n - 1) of every other evaluation
 * since the one pipeline (before it, this line alone printed the population
 * std); the means are unchanged. */
static void report_test(const bns_model *m, const bns_dataset *test) {
    enum { RUNS = 10, ENSEMBLE = 10 };
    bns_stream stream = bns_stream_make(m->cfg.seed, m->cfg.task, BNS_PURPOSE_PREDICT);
    bns_evaluator ev;
    bns_evaluator_init(&ev, m, test, &stream);
    bns_accuracy_result mean_w, single, ens;
    bns_eval_accuracy(&ev, &(bns_accuracy_request){.n_ensemble = 0, .runs = 1}, NULL, &mean_w);
    if (!ev.stochastic) {
        printf("test accuracy %.4f (%zu images)\n", mean_w.summary.mean.acc, test->n);
    } else {
        bns_eval_accuracy(&ev, &(bns_accuracy_request){.n_ensemble = 1, .runs = RUNS}, NULL, &single);
        bns_eval_accuracy(&ev, &(bns_accuracy_request){.n_ensemble = ENSEMBLE, .runs = 1, .first = RUNS}, NULL, &ens);
        printf("test accuracy (%zu images): single-sample %.4f +- %.4f (%d runs), %d-sample ensemble %.4f, "
               "posterior mean %.4f\n", test->n, single.summary.mean.acc, single.summary.std.acc, RUNS, ENSEMBLE,
               ens.summary.mean.acc, mean_w.summary.mean.acc);
    }
    bns_evaluator_free(&ev);
}

/* A regression set (real targets): the RMSE of the predictive mean against
 * the test targets (toy1d: the noiseless curve on its grid), over the grid
 * points inside the training x range and over all of it. */
static void report_test_regression(const bns_model *m, const bns_dataset *train, const bns_dataset *test) {
    int stochastic = bns_model_has(m, BNS_CAP_STOCHASTIC);
    bns_stream stream = bns_stream_make(m->cfg.seed, m->cfg.task, BNS_PURPOSE_PREDICT);
    bns_predictor pred;
    bns_predictor_init(&pred, m);
    float *mean = bns_xmalloc(sizeof(float) * test->n * test->n_classes);
    bns_predict_probs(&pred, m, test->x, test->n, stochastic ? 100 : 0, &stream, 0, mean);
    float lo = train->x[0], hi = train->x[0];
    for (size_t i = 0; i < train->n * train->d; i++) lo = fminf(lo, train->x[i]), hi = fmaxf(hi, train->x[i]);
    double sq_in = 0, sq_all = 0;
    size_t n_in = 0;
    for (size_t i = 0; i < test->n; i++) {
        double r = (double)mean[i * test->n_classes] - test->t[i * test->n_classes];
        sq_all += r * r;
        if (test->x[i * test->d] >= lo && test->x[i * test->d] <= hi) sq_in += r * r, n_in++;
    }
    printf("test RMSE of the predictive mean (%s, %zu points): %.4f inside the training range [%.3f, %.3f] "
           "(%zu points), %.4f over the whole grid\n", stochastic ? "100 samples" : "point estimate", test->n,
           n_in ? sqrt(sq_in / n_in) : NAN, lo, hi, n_in, sqrt(sq_all / test->n));
    free(mean);
    bns_predictor_free(&pred);
}

/* --sample-outputs: the regression's prediction on the test grid, for the
 * band of analysis/toy.py (METHODS.md s.12). /outputs [samples, n, n_out]:
 * the network output of weight sample k (stream (seed, task, PREDICT),
 * substream k; a point estimate: one row, the mean weights); /x, /target
 * the grid and its noiseless curve; /train_x, /train_t the training data;
 * attribute noise_std the likelihood's fixed s. Written atomically. */
static int write_sample_outputs(const char *path, const bns_model *m, const bns_splits *data, int n_samples) {
    const bns_dataset *g = &data->test, *tr = &data->train;
    int stochastic = bns_model_has(m, BNS_CAP_STOCHASTIC), k = stochastic ? n_samples : 1;
    size_t row = g->n * (size_t)g->n_classes;
    float *out = bns_xmalloc(sizeof(float) * row * (size_t)k);
    bns_stream stream = bns_stream_make(m->cfg.seed, m->cfg.task, BNS_PURPOSE_PREDICT);
    bns_predictor pred;
    bns_predictor_init(&pred, m);
    for (int s = 0; s < k; s++) bns_predict_probs(&pred, m, g->x, g->n, stochastic ? 1 : 0, &stream, (uint64_t)s, out + row * s);
    bns_predictor_free(&pred);
    char tmp[4096];
    int rc = bns_temp_path(path, tmp, sizeof tmp);
    hid_t f = rc ? -1 : H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (!rc && f < 0) rc = bns_fail("cannot create %s", tmp);
    if (!rc) {
        hsize_t od[3] = {(hsize_t)k, g->n, (hsize_t)g->n_classes}, gd[2] = {g->n, g->d}, gt[2] = {g->n, (hsize_t)g->n_classes};
        hsize_t td[2] = {tr->n, tr->d}, tt[2] = {tr->n, (hsize_t)tr->n_classes};
        double noise = m->likelihood.noise_std;
        rc |= bns_provenance_write(f, "bnnsweep-sample-outputs", 1) < 0;
        rc |= H5LTset_attribute_string(f, "/", "method", m->cfg.method) < 0;
        rc |= H5LTset_attribute_string(f, "/", "arch", m->cfg.arch) < 0;
        rc |= H5LTset_attribute_int(f, "/", "stochastic", &stochastic, 1) < 0;
        rc |= H5LTset_attribute_double(f, "/", "noise_std", &noise, 1) < 0;
        rc |= H5LTmake_dataset_float(f, "/outputs", 3, od, out) < 0;
        rc |= H5LTmake_dataset_float(f, "/x", 2, gd, g->x) < 0;
        rc |= H5LTmake_dataset_float(f, "/target", 2, gt, g->t) < 0;
        rc |= H5LTmake_dataset_float(f, "/train_x", 2, td, tr->x) < 0;
        rc |= H5LTmake_dataset_float(f, "/train_t", 2, tt, tr->t) < 0;
        if (rc) bns_fail("cannot write %s", tmp);
        if (H5Fclose(f) < 0 && !rc) rc = bns_fail("cannot close %s", tmp);
        rc = bns_commit_file(tmp, path, rc);
    }
    free(out);
    return rc;
}

int cmd_train(int argc, char **argv) {
    bns_config cfg;
    bns_config_defaults(&cfg);
    const char *out_path = NULL, *data_dir = NULL;
    long test_limit = 0;
    int threads = 1, quiet = 0, output_samples = 100;
    const char *outputs_path = NULL;

    /* long options: the fixed ones, then one per config field */
    /* one flag per field: as many as the table may hold (config.c MAX_FIELDS);
     * at 64 the last rows (mog's) had lost their flags */
    enum { MAX_FLAGS = 160 };
    static char names[MAX_FLAGS][40];
    struct option options[MAX_FLAGS + 16];
    int n_opt = 0;
    const struct option fixed[] = {
        {"out", required_argument, NULL, OPT_OUT},           {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"set", required_argument, NULL, OPT_SET},           {"test-limit", required_argument, NULL, OPT_TEST_LIMIT},
        {"threads", required_argument, NULL, OPT_THREADS},   {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, OPT_HELP},               {"epochs", required_argument, NULL, OPT_EPOCHS},
        {"lambda", required_argument, NULL, OPT_LAMBDA},
        {"sample-outputs", required_argument, NULL, OPT_SAMPLE_OUTPUTS},
        {"output-samples", required_argument, NULL, OPT_OUTPUT_SAMPLES},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) options[n_opt++] = fixed[i];
    const bns_config_field *fields = bns_config_fields();
    for (int i = 0; fields[i].name && i < MAX_FLAGS; i++) {
        flag_name(fields[i].name, names[i], sizeof names[i]);
        options[n_opt++] = (struct option){names[i], required_argument, NULL, OPT_FIELD_BASE + i};
    }
    options[n_opt] = (struct option){NULL, 0, NULL, 0};

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        int rc = 0;
        char *end;
        switch (c) {
        case OPT_OUT: out_path = optarg; break;
        case OPT_DATA_DIR: data_dir = optarg; break;
        case OPT_SET: rc = bns_config_set_assignment(&cfg, optarg); break;
        case OPT_TEST_LIMIT:
            test_limit = strtol(optarg, &end, 10);
            if (*end || test_limit < 0) rc = bns_fail("--test-limit: '%s' is not a count", optarg);
            break;
        case OPT_THREADS:
            threads = (int)strtol(optarg, &end, 10);
            if (*end || threads < 1) rc = bns_fail("--threads: '%s' is not a positive count", optarg);
            break;
        case OPT_QUIET: quiet = 1; break;
        case OPT_SAMPLE_OUTPUTS: outputs_path = optarg; break;
        case OPT_OUTPUT_SAMPLES:
            output_samples = (int)strtol(optarg, &end, 10);
            if (*end || output_samples < 1 || output_samples > 100000)
                rc = bns_fail("--output-samples: '%s' is not a count in 1..100000", optarg);
            break;
        case OPT_EPOCHS: rc = bns_config_set(&cfg, "max_epochs", optarg); break;
        case OPT_LAMBDA: rc = bns_config_set(&cfg, "l2_lambda", optarg); break;
        case 'h':
        case OPT_HELP: train_usage(stdout); return BNS_EXIT_OK;
        case '?':
            fprintf(stderr, "bnnsweep train: unknown or incomplete option '%s' (see --help)\n", argv[optind - 1]);
            return BNS_EXIT_USAGE;
        default: rc = bns_config_set(&cfg, fields[c - OPT_FIELD_BASE].name, optarg); break;
        }
        if (rc) {
            fprintf(stderr, "bnnsweep train: %s\n", bns_last_error());
            return BNS_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bnnsweep train: unexpected argument '%s' (see --help)\n", argv[optind]);
        return BNS_EXIT_USAGE;
    }
    if (!out_path) {
        fprintf(stderr, "bnnsweep train: --out FILE is required (see --help)\n");
        return BNS_EXIT_USAGE;
    }
    if (outputs_path && cfg.dataset != BNS_DATA_TOY1D) {
        fprintf(stderr, "bnnsweep train: --sample-outputs is for the regression data set (--dataset toy1d)\n");
        return BNS_EXIT_USAGE;
    }
    bns_set_blas_threads(threads);

    bns_model model;
    if (bns_model_create(&cfg, 784, &model)) {
        fprintf(stderr, "bnnsweep train: %s\n", bns_last_error());
        return BNS_EXIT_USAGE;
    }
    bns_model teacher;
    if (bns_model_load_teacher(&model, &teacher)) {
        fprintf(stderr, "bnnsweep train: %s\n", bns_last_error());
        bns_model_free(&model);
        return BNS_EXIT_USAGE;
    }
    bns_splits data;
    if (bns_data_load(cfg.dataset, data_dir, cfg.data_path, (float)cfg.pixel_scale, (size_t)cfg.train_limit,
                      (size_t)test_limit, &data)) {
        fprintf(stderr, "bnnsweep train: %s\n", bns_last_error());
        bns_model_free(&model);
        bns_model_free(&teacher);
        return BNS_EXIT_ERROR;
    }
    /* the settings were checked above at MNIST's size; a data set of another
     * size (CIFAR-10: 3072) gets its model made again at its own */
    if ((int)data.train.d != model.arch.n_inputs) {
        bns_model_free(&model);
        if (bns_model_create(&cfg, (int)data.train.d, &model)) {
            fprintf(stderr, "bnnsweep train: %s\n", bns_last_error());
            bns_splits_free(&data);
            return BNS_EXIT_USAGE;
        }
    }
    char update[128], stored[64] = "";
    if (model.method->describe_update) model.method->describe_update(&cfg, update, sizeof update);
    else snprintf(update, sizeof update, "%s lr %g", cfg.optimizer == BNS_OPT_ADAM ? "adam" : "sgd", cfg.lr);
    if (model.n_params != model.arch.n_weights)
        snprintf(stored, sizeof stored, " (%zu stored parameters)", model.n_params);
    printf("training %s %s on %zu images (validation %zu): %zu network weights%s, batch %d, %s, up to %d epochs, "
           "patience %d\n", cfg.method, cfg.arch, data.train.n, data.val.n, model.arch.n_weights, stored,
           cfg.batch_size, update, cfg.max_epochs, cfg.patience);
    fflush(stdout);

    bns_train_history history;
    int status = BNS_EXIT_OK;
    step_progress progress = {.tty = isatty(fileno(stderr))};
    bns_train_hooks hooks = {.on_epoch = print_epoch_after_steps, .on_step = print_step, .ctx = &progress};
    if (bns_train(&model, &data.train, &data.val, &history, quiet ? NULL : &hooks)) {
        fprintf(stderr, "bnnsweep train: %s\n", bns_last_error());
        status = BNS_EXIT_ERROR;
    } else {
        double total = 0;
        for (int e = 0; e < history.epochs_run; e++) total += history.epochs[e].seconds;
        printf("stopped: %s%s%s after %d epochs (%.2fs/epoch); best epoch %d, validation accuracy %.4f\n",
               bns_train_status_name(history.status), history.message[0] ? ": " : "", history.message,
               history.epochs_run, history.epochs_run ? total / history.epochs_run : 0.0, history.best_epoch,
               history.best_val_acc);
        if (history.status == BNS_TRAIN_DIVERGED) status = BNS_EXIT_DIVERGED;
        char bad[128];
        int nonfinite = bns_model_find_nonfinite(&model, bad, sizeof bad); /* a sampler keeps its last iterate */
        if (history.best_epoch > 0 && nonfinite) {
            fprintf(stderr, "bnnsweep train: %s is not finite; nothing saved\n", bad);
        } else if (history.best_epoch > 0) {
            if (data.test.t) report_test_regression(&model, &data.train, &data.test);
            else report_test(&model, &data.test);
            if (model.method->describe) {
                char text[512];
                model.method->describe(&model, text, sizeof text);
                printf("posterior: %s\n", text);
            }
            if (outputs_path && write_sample_outputs(outputs_path, &model, &data, output_samples)) {
                fprintf(stderr, "bnnsweep train: --sample-outputs %s: %s\n", outputs_path, bns_last_error());
                status = BNS_EXIT_ERROR;
            } else if (outputs_path) {
                printf("wrote %s\n", outputs_path);
            }
            if (bns_model_save(out_path, &model, &history)) {
                fprintf(stderr, "bnnsweep train: %s\n", bns_last_error());
                status = BNS_EXIT_ERROR;
            } else {
                printf("saved %s\n", out_path);
            }
        } else {
            fprintf(stderr, "bnnsweep train: no epoch finished; nothing saved\n");
        }
        bns_train_history_free(&history);
    }
    bns_splits_free(&data);
    bns_model_free(&model);
    bns_model_free(&teacher);
    return status;
}
