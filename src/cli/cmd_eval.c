/* cmd_eval.c - `bnnsweep eval`: accuracy over runs, ensembles, SNR pruning,
 * NLL/ECE and OOD detection of one saved model (METHODS.md s.4 and s.6).
 *
 * Every weight sample comes from the (seed, task, BNS_PURPOSE_PREDICT) stream
 * of the model's configuration, so each table is a pure function of the
 * model file and the flags. All analyses start at sample 0 (common random
 * numbers); within one table runs use disjoint samples (evaluate.h).
 * The numbers come from the evaluation pipeline (eval_pipeline.h), the OOD
 * sets from bns_ood_load (ood.h); this file parses flags, prints the tables
 * and writes the JSON (bns_eval_report_json) atomically.
 */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>
#include <hdf5_hl.h>

#include "bnnsweep/provenance.h"
#include "bnnsweep/attack_set.h"
#include "bnnsweep/backend.h"
#include "bnnsweep/dataset.h"
#include "bnnsweep/error.h"
#include "bnnsweep/eval_pipeline.h"
#include "bnnsweep/metrics.h"
#include "bnnsweep/model_io.h"
#include "bnnsweep/ood.h"
#include "bnnsweep/util.h"
#include "cli.h"

enum { MAX_LIST = BNS_REPORT_MAX_LIST, MAX_OOD = BNS_REPORT_MAX_OOD };

enum { OPT_MODEL = 1000, OPT_SET, OPT_DATA_DIR, OPT_TEST_LIMIT, OPT_RUNS, OPT_ENSEMBLE, OPT_PRUNE, OPT_PRUNE_SAMPLES,
       OPT_OOD, OPT_OOD_SAMPLES, OPT_SCORE, OPT_JSON, OPT_THREADS, OPT_QUIET, OPT_HELP, OPT_SETTING,
       OPT_SAMPLE_PROBS };

typedef struct { /* one requested OOD set */
    char kind[16];    /* fashion, gaussian, uniform, notmnist, omniglot, cifar10 */
    char path[4096];  /* notmnist / omniglot / cifar10 */
} ood_request;

static void eval_usage(FILE *out) {
    fprintf(out,
            "usage: bnnsweep eval --model MODEL.h5 [OPTIONS]\n\n"
            "Evaluate one trained model (METHODS.md s.4, s.6): accuracy (a BNN: one weight\n"
            "sample per run, mean +- sample std over runs), N-sample ensembles (mean of\n"
            "softmax) over R/N disjoint runs, SNR pruning, NLL and ECE (15 equal-width\n"
            "bins), and OOD detection (AUROC, AUPR-in, AUPR-out) by uncertainty scores.\n\n"
            "options:\n"
            "  --model FILE        model file (from bnnsweep train); required\n"
            "  --set SET           test (default), val, or an attack-set FILE.h5\n"
            "  --setting KEY=VAL   change an evaluation setting of the model (repeatable), e.g.\n"
            "                      mc_dropout=0: a dropout net as the plain trained network\n"
            "  --data-dir DIR      data cache (default $BNNSWEEP_DATA or ~/.cache/bnnsweep)\n"
            "  --test-limit N      first N rows of the evaluation set and of each OOD set\n"
            "  --runs R            single-sample runs; ensembles of N use R/N runs (default 100)\n"
            "  --ensemble LIST     ensemble sizes (default 1,5,10,25,100)\n"
            "  --prune LIST        SNR pruning rates, e.g. 0.25,0.5,0.75,0.9,0.95,0.98 (default none);\n"
            "                      weights only (biases kept), round(rate * count) removed\n"
            "  --prune-samples N   ensemble size for pruned models (default 100)\n"
            "  --ood LIST          fashion,gaussian,uniform (default), notmnist=PATH (IDX file or dir),\n"
            "                      omniglot=ZIP, cifar10=PATH (test_batch.bin or its dir; grayscale);\n"
            "                      'none' for no OOD evaluation\n"
            "  --ood-samples N     ensemble size for uncertainty scores (default 100)\n"
            "  --score LIST        entropy,vr,bald (default all; higher = more OOD)\n"
            "  --json FILE         also write every number as JSON\n"
            "  --sample-probs FILE write the softmax of each of the --ood-samples weight samples for\n"
            "                      every row of the evaluation set (group /in) and of each OOD set\n"
            "                      (group /KIND) to FILE.h5: probs [samples, rows, classes] float,\n"
            "                      images [rows, d] (bytes, 255 = the top pixel), labels [rows]\n"
            "  --threads N         BLAS threads (default 1)\n"
            "  --quiet             no progress lines (on stderr)\n\n"
            "noise sets: gaussian N(0.5, 1) / uniform U(0, 1) per pixel in [0, 1] intensity,\n"
            "clipped, scaled to the model's pixel range; drawn from the model seed's DATA stream.\n"
            "exit status: 0 done, 1 error (also: an OOD set asked for could not be read), 2 usage\n");
}

/* ---- progress on stderr ---- */

static int quiet;
static double t_start;

static void progress(const char *fmt, ...) BNS_PRINTF(1, 2);
static void progress(const char *fmt, ...) {
    if (quiet) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[%7.1fs] ", bns_now_seconds() - t_start);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- --sample-probs (Semko's OOD histograms, METHODS.md s.12) ---- */

/* Group /group of file: the per-sample softmax of every row of x
 * (bns_eval_sample_probs), its images as bytes and its labels. 0, or -1
 * with the error recorded. */
static int write_sample_probs(hid_t file, const char *group, bns_evaluator *ev, const bns_dataset *x,
                              int n_samples, float xmax) {
    int k = ev->set->n_classes;
    float *probs = bns_xmalloc(sizeof(float) * ((size_t)(n_samples > 0 ? n_samples : 1) * x->n * (size_t)k + 1));
    uint8_t *img = bns_xmalloc(x->n * x->d + 1);
    int slices = bns_eval_sample_probs(ev, x, n_samples, probs);
    int rc = slices < 0;
    if (!rc) {
        for (size_t i = 0; i < x->n * x->d; i++) {
            float v = x->x[i] / xmax * 255.0f + 0.5f;
            img[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        hid_t g = H5Gcreate2(file, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        char path[96];
        hsize_t pd[3] = {(hsize_t)slices, x->n, (hsize_t)k}, id[2] = {x->n, x->d}, ld[1] = {x->n};
        rc |= g < 0;
        snprintf(path, sizeof path, "/%s/probs", group);
        rc |= H5LTmake_dataset_float(file, path, 3, pd, probs) < 0;
        snprintf(path, sizeof path, "/%s/images", group);
        rc |= H5LTmake_dataset(file, path, 2, id, H5T_NATIVE_UINT8, img) < 0;
        snprintf(path, sizeof path, "/%s/labels", group);
        rc |= H5LTmake_dataset(file, path, 1, ld, H5T_NATIVE_UINT8, x->y) < 0;
        rc |= H5LTset_attribute_string(file, group, "name", x->name) < 0;
        if (g >= 0) H5Gclose(g);
        if (rc) bns_fail("cannot write group /%s", group);
    }
    free(probs);
    free(img);
    return rc ? -1 : 0;
}

/* ---- flag parsing ---- */

static int parse_count(const char *flag, const char *text, long *out) {
    char *end;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end || v < 1) return bns_fail("%s: '%s' is not a positive count", flag, text);
    *out = v;
    return 0;
}

/* comma-separated numbers into out[max]; integers > 0 if `counts` */
static int parse_list(const char *flag, const char *text, int counts, double *out, int *n) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", text);
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        double v = strtod(tok, &end);
        if (*end || (counts && (v < 1 || v != floor(v) || v > 1e6)) || (!counts && !(v >= 0 && v <= 1)))
            return bns_fail("%s: '%s' is not %s", flag, tok, counts ? "a positive count" : "a rate in [0, 1]");
        if (*n == MAX_LIST) return bns_fail("%s: more than %d entries", flag, MAX_LIST);
        out[(*n)++] = v;
    }
    if (*n == 0) return bns_fail("%s: empty list", flag);
    return 0;
}

static int parse_ood(const char *text, ood_request *out, int *n) {
    char buf[8192];
    snprintf(buf, sizeof buf, "%s", text);
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "none") == 0) continue;
        if (*n == MAX_OOD) return bns_fail("--ood: more than %d sets", MAX_OOD);
        ood_request *r = &out[*n];
        memset(r, 0, sizeof *r);
        char *eq = strchr(tok, '=');
        if (eq) *eq = '\0';
        snprintf(r->kind, sizeof r->kind, "%s", tok);
        int needs_path = bns_ood_kind_needs_path(tok);
        if (needs_path < 0)
            return bns_fail("--ood: unknown set '%s' (fashion, gaussian, uniform, notmnist=PATH, omniglot=ZIP, cifar10=PATH)", tok);
        if (needs_path != (eq != NULL))
            return bns_fail("--ood: %s %s", tok, needs_path ? "needs =PATH" : "takes no path");
        if (eq) snprintf(r->path, sizeof r->path, "%s", eq + 1);
        (*n)++;
    }
    return 0;
}

static int parse_scores(const char *text, int *use) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    memset(use, 0, sizeof(int) * BNS_SCORE_COUNT);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int s = bns_score_parse(tok);
        if (s < 0) return bns_fail_prefix("--score: ");
        use[s] = 1;
    }
    return 0;
}

int cmd_eval(int argc, char **argv) {
    const char *model_path = NULL, *set_name = "test", *data_dir = NULL, *json_path = NULL, *probs_path = NULL;
    long test_limit = 0, runs = 100, prune_samples = 100, ood_samples = 100, threads = 1;
    double ens_list[MAX_LIST] = {1, 5, 10, 25, 100}, prune_list[MAX_LIST];
    int n_ens = 5, n_prune = 0, n_ood = 3, use_score[BNS_SCORE_COUNT] = {1, 1, 1};
    static ood_request ood[MAX_OOD];
    memset(ood, 0, sizeof ood);
    snprintf(ood[0].kind, sizeof ood[0].kind, "fashion");
    snprintf(ood[1].kind, sizeof ood[1].kind, "gaussian");
    snprintf(ood[2].kind, sizeof ood[2].kind, "uniform");
    quiet = 0;
    t_start = bns_now_seconds();
    enum { MAX_SETTINGS = 16 };
    const char *settings[MAX_SETTINGS];
    int n_settings = 0;

    const struct option options[] = {
        {"model", required_argument, NULL, OPT_MODEL},         {"set", required_argument, NULL, OPT_SET},
        {"data-dir", required_argument, NULL, OPT_DATA_DIR},   {"test-limit", required_argument, NULL, OPT_TEST_LIMIT},
        {"runs", required_argument, NULL, OPT_RUNS},           {"ensemble", required_argument, NULL, OPT_ENSEMBLE},
        {"prune", required_argument, NULL, OPT_PRUNE},         {"prune-samples", required_argument, NULL, OPT_PRUNE_SAMPLES},
        {"ood", required_argument, NULL, OPT_OOD},             {"ood-samples", required_argument, NULL, OPT_OOD_SAMPLES},
        {"score", required_argument, NULL, OPT_SCORE},         {"json", required_argument, NULL, OPT_JSON},
        {"sample-probs", required_argument, NULL, OPT_SAMPLE_PROBS},
        {"threads", required_argument, NULL, OPT_THREADS},     {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, OPT_HELP},                 {"setting", required_argument, NULL, OPT_SETTING},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case OPT_MODEL: model_path = optarg; break;
        case OPT_SET: set_name = optarg; break;
        case OPT_SETTING:
            if (n_settings == MAX_SETTINGS) {
                fprintf(stderr, "bnnsweep eval: more than %d --setting options\n", MAX_SETTINGS);
                return BNS_EXIT_USAGE;
            }
            settings[n_settings++] = optarg;
            break;
        case OPT_DATA_DIR: data_dir = optarg; break;
        case OPT_TEST_LIMIT: rc = parse_count("--test-limit", optarg, &test_limit); break;
        case OPT_RUNS: rc = parse_count("--runs", optarg, &runs); break;
        case OPT_ENSEMBLE: rc = parse_list("--ensemble", optarg, 1, ens_list, &n_ens); break;
        case OPT_PRUNE: rc = parse_list("--prune", optarg, 0, prune_list, &n_prune); break;
        case OPT_PRUNE_SAMPLES: rc = parse_count("--prune-samples", optarg, &prune_samples); break;
        case OPT_OOD: rc = parse_ood(optarg, ood, &n_ood); break;
        case OPT_OOD_SAMPLES: rc = parse_count("--ood-samples", optarg, &ood_samples); break;
        case OPT_SCORE: rc = parse_scores(optarg, use_score); break;
        case OPT_JSON: json_path = optarg; break;
        case OPT_SAMPLE_PROBS: probs_path = optarg; break;
        case OPT_THREADS: rc = parse_count("--threads", optarg, &threads); break;
        case OPT_QUIET: quiet = 1; break;
        case 'h':
        case OPT_HELP: eval_usage(stdout); return BNS_EXIT_OK;
        default:
            fprintf(stderr, "bnnsweep eval: unknown or incomplete option '%s' (see --help)\n", argv[optind - 1]);
            return BNS_EXIT_USAGE;
        }
        if (rc) {
            fprintf(stderr, "bnnsweep eval: %s\n", bns_last_error());
            return BNS_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bnnsweep eval: unexpected argument '%s' (see --help)\n", argv[optind]);
        return BNS_EXIT_USAGE;
    }
    if (!model_path) {
        fprintf(stderr, "bnnsweep eval: --model FILE is required (see --help)\n");
        return BNS_EXIT_USAGE;
    }
    bns_set_blas_threads((int)threads);

    /* ---- model and evaluation set ---- */
    bns_model model;
    if (bns_model_load(model_path, &model, NULL)) {
        fprintf(stderr, "bnnsweep eval: %s\n", bns_last_error());
        return BNS_EXIT_ERROR;
    }
    if (cli_refuse_regression("eval", model_path, &model)) {
        bns_model_free(&model);
        return BNS_EXIT_USAGE;
    }
    for (int i = 0; i < n_settings; i++)
        if (bns_config_set_evaluation(&model.cfg, settings[i])) {
            fprintf(stderr, "bnnsweep eval: --setting %s: %s\n", settings[i], bns_last_error());
            bns_model_free(&model);
            return BNS_EXIT_USAGE;
        }
    float scale = (float)model.cfg.pixel_scale;
    bns_dataset set;
    memset(&set, 0, sizeof set);
    int load_rc;
    if (!strcmp(set_name, "test") || !strcmp(set_name, "val")) {
        bns_splits splits;
        load_rc = bns_data_load(model.cfg.dataset, data_dir, model.cfg.data_path, scale, 1, (size_t)test_limit, &splits);
        if (!load_rc) {
            bns_dataset *keep = !strcmp(set_name, "test") ? &splits.test : &splits.val;
            set = *keep;
            memset(keep, 0, sizeof *keep);
            bns_splits_free(&splits);
        }
    } else {
        load_rc = bns_attack_set_load(set_name, &set);
        if (!load_rc && test_limit > 0 && (size_t)test_limit < set.n) set.n = (size_t)test_limit;
    }
    if (!load_rc && set.d != (size_t)model.arch.n_inputs) {
        load_rc = bns_fail("%s has %zu features per row, the model takes %d", set.name, set.d, model.arch.n_inputs);
        bns_dataset_free(&set);
    }
    if (load_rc) {
        fprintf(stderr, "bnnsweep eval: %s\n", bns_last_error());
        bns_model_free(&model);
        return BNS_EXIT_ERROR;
    }
    printf("model %s: %s %s (seed %llu, task %llu); set %s, %zu images\n", model_path, model.cfg.method,
           model.cfg.arch, (unsigned long long)model.cfg.seed, (unsigned long long)model.cfg.task, set.name, set.n);

    /* the JSON goes to a temporary file opened now (an unwritable path fails
     * before any work) and renamed over json_path at the end */
    char json_tmp[4200];
    FILE *json = NULL;
    if (json_path) {
        snprintf(json_tmp, sizeof json_tmp, "%s.tmp.%ld", json_path, (long)getpid());
        if (!(json = fopen(json_tmp, "w"))) {
            fprintf(stderr, "bnnsweep eval: cannot write %s\n", json_path);
            bns_dataset_free(&set);
            bns_model_free(&model);
            return BNS_EXIT_ERROR;
        }
    }

    bns_stream stream = bns_stream_make(model.cfg.seed, model.cfg.task, BNS_PURPOSE_PREDICT);
    bns_evaluator ev;
    bns_evaluator_init(&ev, &model, &set, &stream);
    int stochastic = ev.stochastic;
    static bns_eval_report rep;
    memset(&rep, 0, sizeof rep);
    rep.model_path = model_path;
    rep.method = model.cfg.method;
    rep.arch = model.cfg.arch;
    rep.set = set.name;
    rep.rows = set.n;
    rep.stochastic = stochastic;
    bns_accuracy_result res;

    /* ---- accuracy: mean weights, single samples, ensembles (METHODS.md s.4) ---- */
    bns_eval_accuracy(&ev, &(bns_accuracy_request){.n_ensemble = 0, .runs = 1}, NULL, &res);
    rep.mean_weights = res.summary;
    printf("\n%s accuracy %.4f  NLL %.4f  ECE %.4f\n", stochastic ? "posterior-mean" : "deterministic",
           res.summary.mean.acc, res.summary.mean.nll, res.summary.mean.ece);
    if (stochastic) {
        progress("single-sample accuracy, %ld runs", runs);
        bns_eval_accuracy(&ev, &(bns_accuracy_request){.n_ensemble = 1, .runs = (int)runs}, NULL, &res);
        rep.single_sample = res.summary;
        printf("single-sample accuracy %.4f +- %.4f (%ld runs, one weight sample each)\n", res.summary.mean.acc,
               res.summary.std.acc, runs);
        printf("\nensembles (mean of softmax over N samples; R/N disjoint runs):\n");
        printf("  %6s %5s  %-18s %-18s %-18s\n", "N", "runs", "accuracy", "NLL", "ECE");
        for (int e = 0; e < n_ens; e++) {
            int n = (int)ens_list[e], r = (int)(runs / n) > 0 ? (int)(runs / n) : 1;
            progress("ensemble N = %d, %d runs", n, r);
            bns_eval_accuracy(&ev, &(bns_accuracy_request){.n_ensemble = n, .runs = r}, NULL, &res);
            const bns_run_summary *s = &res.summary;
            printf("  %6d %5d  %.4f +- %.4f    %.4f +- %.4f    %.4f +- %.4f\n", n, r, s->mean.acc, s->std.acc,
                   s->mean.nll, s->std.nll, s->mean.ece, s->std.ece);
            rep.ensemble_n[e] = n;
            rep.ensembles[e] = *s;
        }
        rep.n_ensembles = n_ens;
    }

    /* ---- SNR pruning (METHODS.md s.4) ---- */
    int can_prune = bns_model_has(&model, BNS_CAP_SNR);
    if (n_prune > 0 && !can_prune) printf("\npruning skipped: SNR pruning needs a per-weight mean and std (method %s has none)\n", model.cfg.method);
    if (n_prune > 0 && can_prune) {
        rep.pruning = 1;
        rep.prune_samples = (int)prune_samples;
        rep.prune_weights = bns_arch_matrix_weights(&model.arch);
        printf("\nSNR pruning (|mu|/sigma, weights only, biases kept; %ld-sample ensemble, %zu weights):\n",
               prune_samples, rep.prune_weights);
        printf("  %6s %8s  %-8s %-8s %-8s\n", "rate", "pruned", "accuracy", "NLL", "ECE");
        for (int i = 0; i < n_prune; i++) {
            progress("pruning %.0f%%, %ld samples", 100 * prune_list[i], prune_samples);
            bns_accuracy_request req = {.n_ensemble = (int)prune_samples, .runs = 1, .prune = 1,
                                        .prune_rate = prune_list[i]};
            bns_eval_accuracy(&ev, &req, NULL, &res); /* rate in [0, 1] and an SNR: cannot fail */
            const bns_run_summary *s = &res.summary;
            printf("  %5.1f%% %8zu  %.4f   %.4f   %.4f\n", 100 * prune_list[i], res.n_pruned, s->mean.acc,
                   s->mean.nll, s->mean.ece);
            rep.rates[i] = prune_list[i];
            rep.pruned[i] = res.n_pruned;
            rep.pruned_runs[i] = *s;
        }
        rep.n_rates = n_prune;
    }

    /* ---- OOD detection (METHODS.md s.6) ---- */
    unsigned scores = 0;
    for (int s = 0; s < BNS_SCORE_COUNT; s++) scores |= use_score[s] ? 1u << s : 0;
    if (!stochastic && (scores & (1u << BNS_SCORE_BALD)) && n_ood > 0)
        printf("\n(BALD is 0 for a deterministic model: not scored)\n");
    rep.ood_samples = stochastic ? (int)ood_samples : 0;
    int ood_failed = 0; /* a set asked for that cannot be read fails the command (after the others) */
    char probs_tmp[4200];
    hid_t probs_file = -1;
    int probs_rc = 0;
    if (probs_path) {
        float xmax = 255.0f * scale;
        int n_probs = stochastic ? (int)ood_samples : 0;
        probs_rc = bns_temp_path(probs_path, probs_tmp, sizeof probs_tmp);
        if (!probs_rc) probs_file = H5Fcreate(probs_tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        if (!probs_rc && probs_file < 0) probs_rc = bns_fail("cannot create %s", probs_tmp);
        if (!probs_rc) {
            probs_rc |= bns_provenance_write(probs_file, "bnnsweep-sample-probs", 1) < 0;
            probs_rc |= H5LTset_attribute_string(probs_file, "/", "model", model_path) < 0;
            probs_rc |= H5LTset_attribute_string(probs_file, "/", "method", model.cfg.method) < 0;
            probs_rc |= H5LTset_attribute_int(probs_file, "/", "samples", &n_probs, 1) < 0;
            probs_rc |= write_sample_probs(probs_file, "in", &ev, &set, n_probs, xmax);
        }
    }
    if (n_ood > 0) {
        progress("uncertainty scores of %s (%d samples)", set.name, rep.ood_samples);
        for (int i = 0; i < n_ood; i++) {
            bns_dataset o;
            int rc = bns_ood_load(ood[i].kind, ood[i].path, data_dir, scale, set.n, (size_t)test_limit,
                                  model.cfg.seed, &o);
            if (rc == 0) progress("OOD set %s: %zu images", o.name, o.n);
            if (rc == 0) rc = bns_eval_ood(&ev, &o, (int)ood_samples, scores, &rep.ood[rep.n_ood]);
            if (rc == 0 && probs_file >= 0 && !probs_rc)
                probs_rc = write_sample_probs(probs_file, ood[i].kind, &ev, &o, stochastic ? (int)ood_samples : 0,
                                              255.0f * scale);
            if (rc) fprintf(stderr, "bnnsweep eval: OOD set %s failed: %s\n", ood[i].kind, bns_last_error());
            if (rc) ood_failed = 1;
            else rep.n_ood++;
            bns_dataset_free(&o);
        }
        printf("\nOOD detection (in-distribution: %s; %s; higher score = more OOD):\n", set.name,
               stochastic ? "scores from the ensemble" : "scores from the deterministic softmax");
        if (stochastic) printf("  ensemble of %d samples\n", rep.ood_samples);
        printf("  %-20s %7s %-8s %7s %8s %8s\n", "OOD set", "rows", "score", "AUROC", "AUPR-in", "AUPR-out");
        for (int i = 0; i < rep.n_ood; i++) {
            const bns_ood_result *r = &rep.ood[i];
            for (int s = 0; s < BNS_SCORE_COUNT; s++)
                if (r->scores & (1u << s))
                    printf("  %-20s %7zu %-8s %7.4f %8.4f %8.4f\n", r->set, r->rows, bns_score_name(s), r->auroc[s],
                           r->aupr_in[s], r->aupr_out[s]);
        }
    }
    int status = ood_failed ? BNS_EXIT_ERROR : BNS_EXIT_OK;
    if (probs_path) {
        if (probs_file >= 0 && H5Fclose(probs_file) < 0 && !probs_rc) probs_rc = bns_fail("cannot close %s", probs_tmp);
        if (probs_file >= 0) probs_rc = bns_commit_file(probs_tmp, probs_path, probs_rc);
        if (probs_rc) {
            fprintf(stderr, "bnnsweep eval: --sample-probs %s: %s\n", probs_path, bns_last_error());
            status = BNS_EXIT_ERROR;
        } else {
            printf("\nwrote %s\n", probs_path);
        }
    }
    if (json) {
        char *text = bns_eval_report_json(&rep);
        int rc = text ? 0 : -1;
        if (text && (fputs(text, json) < 0 || fputc('\n', json) < 0)) rc = bns_fail("%s: cannot write", json_tmp);
        if (fclose(json) != 0 && rc == 0) rc = bns_fail("%s: cannot write", json_tmp);
        free(text);
        if (bns_commit_file(json_tmp, json_path, rc)) {
            fprintf(stderr, "bnnsweep eval: error writing %s: %s\n", json_path, bns_last_error());
            status = BNS_EXIT_ERROR;
        } else {
            printf("\nwrote %s\n", json_path);
        }
    }
    progress("done");
    bns_evaluator_free(&ev);
    bns_dataset_free(&set);
    bns_model_free(&model);
    return status;
}
