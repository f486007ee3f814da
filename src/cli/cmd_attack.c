/* cmd_attack.c - `bnnsweep attack`: one adversarial set (METHODS.md s.4-5)
 * from a source model over the MNIST test set, saved to HDF5. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bnnsweep/attack.h"
#include "bnnsweep/attack_set.h"
#include "bnnsweep/backend.h"
#include "bnnsweep/dataset.h"
#include "bnnsweep/error.h"
#include "bnnsweep/model_io.h"
#include "bnnsweep/util.h"
#include "cli.h"

enum {
    OPT_MODEL = 1000, OPT_ATTACK, OPT_OUT, OPT_DATA_DIR, OPT_LIMIT, OPT_THREADS, OPT_QUIET, OPT_HELP, OPT_SOURCE,
    OPT_SAMPLES, OPT_SAMPLE_INDEX, OPT_SEED, OPT_TASK, OPT_NO_CLIP, OPT_BATCH, OPT_OPTIMIZER, OPT_C, OPT_LR,
    OPT_MAX_STEPS, OPT_SEARCH_STEPS, OPT_C_MIN, OPT_C_MAX, OPT_BETA1, OPT_BETA2, OPT_EPS, OPT_STEPS,
    OPT_STEP_SIZE, OPT_RANDOM_START, OPT_ETA, OPT_TARGET
};

static void attack_usage(FILE *out) {
    bns_attack_settings m, f, p, t;
    bns_attack_defaults(&m, BNS_ATTACK_MINNORM);
    bns_attack_defaults(&f, BNS_ATTACK_FGSM);
    bns_attack_defaults(&p, BNS_ATTACK_PGD);
    bns_attack_defaults(&t, BNS_ATTACK_TARGETED);
    fprintf(out,
            "usage: bnnsweep attack --model SRC.h5 --attack minnorm|fgsm|pgd|targeted [OPTIONS] --out SET.h5\n\n"
            "Perturb the MNIST test images (or the first --limit of them) against a source\n"
            "model and save the attack set (perturbed images, labels, success flags, L2\n"
            "norms, clean indices, source identity, every setting) to HDF5. Pixels are on\n"
            "the model's scale: [0, 255 * pixel_scale], [0, 2] by default.\n\n"
            "attacks:\n"
            "  minnorm   Zhang & Chen (METHODS.md s.4): per example, gradient descent on r for\n"
            "            c*|r|_2 - CE(f(x+r), y); stops at the first misclassified x+r; keeps the\n"
            "            smallest successful r over a per-example bisection on c\n"
            "  fgsm      x + eps * sign(grad_x CE), clipped (s.5)\n"
            "  pgd       L-infinity PGD: signed steps projected on the eps-ball and pixel range (s.5)\n"
            "  targeted  iterative targeted FGSM: x - eta * sign(grad_x[-log p(target|x)]) (s.5)\n\n"
            "options:\n"
            "  --model FILE        source model (bnnsweep train output); required\n"
            "  --attack NAME       minnorm, fgsm, pgd or targeted; required\n"
            "  --out FILE          attack set to write (atomically); required\n"
            "  --data-dir DIR      data cache (default $BNNSWEEP_DATA or ~/.cache/bnnsweep)\n"
            "  --limit N           attack only the first N test images (default all 10,000)\n"
            "  --threads N         BLAS threads (default 1)\n"
            "  --quiet             no progress lines\n\n"
            "source (Bayesian models; deterministic models always use their weights):\n"
            "  --source MODE       weights (posterior mean), sample (one fixed posterior sample,\n"
            "                      gray-box) or expectation (gradient averaged over K samples,\n"
            "                      success judged by the K-sample ensemble); default %s\n"
            "  --samples K         K for expectation (default %d)\n"
            "  --sample-index k    which sample for --source sample (default %llu)\n"
            "  --seed S, --task T  key of the ATTACK random stream (default: the model's)\n"
            "  --no-clip           do not keep pixels inside [0, 255 * pixel_scale]\n"
            "  --batch N           examples per forward/backward (default %d)\n\n"
            "minnorm settings (lr in the model's pixel units):\n"
            "  --optimizer NAME    ngd: r -= lr * g/|g|_2 (steps of L2 length lr); gd: r -= lr * g;\n"
            "                      adam: Adam on r (default %s)\n"
            "  --c X               weight of |r|_2, the first value of the search (default %g)\n"
            "  --lr X              step size (default %g)\n"
            "  --max-steps N       gradient steps per value of c (default %d)\n"
            "  --search-steps N    values of c per example: after a success c grows (x10, or the\n"
            "                      geometric midpoint once bracketed), after a failure it shrinks;\n"
            "                      1 = c only (default %d)\n"
            "  --c-min X, --c-max X  bracket of the search (default %g, %g)\n"
            "  --beta1 X, --beta2 X  Adam (default %g, %g)\n\n"
            "fgsm / pgd / targeted settings ([0, 1] pixel scale, multiplied by 255 * pixel_scale):\n"
            "  --eps X             L-infinity radius (default %g for fgsm and pgd; targeted: %g = none)\n"
            "  --steps N           pgd / targeted iterations (default %d / %d)\n"
            "  --step-size X       pgd step (default %g)\n"
            "  --random-start      pgd: start uniformly in the eps-ball (ATTACK stream)\n"
            "  --eta X             targeted step (default %g)\n"
            "  --target T          targeted: next ((y + 1) mod classes, default) or a class number\n\n"
            "The summary reports the success rate and the mean distortion (1/n) sum sqrt(|r|^2/d)\n"
            "over all n attacked images (failures count with their stored r; a failed minnorm\n"
            "example keeps r = 0) and over the successful ones.\n\n"
            "exit status: 0 done, 1 error, 2 usage\n",
            bns_source_mode_name(m.source), m.source_samples, (unsigned long long)m.source_index, m.batch,
            bns_minnorm_opt_name(m.optimizer), m.c, m.lr, m.max_steps, m.search_steps, m.c_min, m.c_max, m.beta1,
            m.beta2, f.eps, t.eps, p.steps, t.steps, p.step_size, t.eta);
}

typedef struct {
    double start;
    size_t next_report;
} progress_state;

static void print_progress(size_t done, size_t total, size_t n_success, void *ctx) {
    progress_state *p = ctx;
    if (done < p->next_report && done < total) return;
    while (p->next_report <= done) p->next_report += 1000;
    printf("  %6zu / %zu  success %.4f  %.1fs\n", done, total, done ? (double)n_success / done : 0.0,
           bns_now_seconds() - p->start);
    fflush(stdout);
}

static int parse_double(const char *flag, const char *text, double *out) {
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end) return bns_fail("%s: '%s' is not a number", flag, text);
    *out = v;
    return 0;
}

static int parse_int(const char *flag, const char *text, int *out) {
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end || v < 0 || v > 1000000000L) return bns_fail("%s: '%s' is not a count", flag, text);
    *out = (int)v;
    return 0;
}

static int parse_u64(const char *flag, const char *text, uint64_t *out) {
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end || text[0] == '-') return bns_fail("%s: '%s' is not a non-negative integer", flag, text);
    *out = (uint64_t)v;
    return 0;
}

static int parse_enum(const char *flag, const char *text, int (*parse)(const char *), int *out) {
    int v = parse(text);
    if (v < 0) return bns_fail("%s: unknown value '%s' (see --help)", flag, text);
    *out = v;
    return 0;
}

int cmd_attack(int argc, char **argv) {
    const char *model_path = NULL, *out_path = NULL, *data_dir = NULL, *kind_name = NULL;
    long limit = 0;
    int threads = 1, quiet = 0, have_seed = 0, have_task = 0;
    /* settings are parsed into an override list first: their defaults depend on --attack */
    bns_attack_settings s;
    bns_attack_defaults(&s, BNS_ATTACK_MINNORM);
    static const struct option options[] = {
        {"model", required_argument, NULL, OPT_MODEL},         {"attack", required_argument, NULL, OPT_ATTACK},
        {"out", required_argument, NULL, OPT_OUT},             {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"limit", required_argument, NULL, OPT_LIMIT},         {"threads", required_argument, NULL, OPT_THREADS},
        {"quiet", no_argument, NULL, OPT_QUIET},               {"help", no_argument, NULL, OPT_HELP},
        {"source", required_argument, NULL, OPT_SOURCE},       {"samples", required_argument, NULL, OPT_SAMPLES},
        {"sample-index", required_argument, NULL, OPT_SAMPLE_INDEX},
        {"seed", required_argument, NULL, OPT_SEED},           {"task", required_argument, NULL, OPT_TASK},
        {"no-clip", no_argument, NULL, OPT_NO_CLIP},           {"batch", required_argument, NULL, OPT_BATCH},
        {"optimizer", required_argument, NULL, OPT_OPTIMIZER}, {"c", required_argument, NULL, OPT_C},
        {"lr", required_argument, NULL, OPT_LR},               {"max-steps", required_argument, NULL, OPT_MAX_STEPS},
        {"search-steps", required_argument, NULL, OPT_SEARCH_STEPS},
        {"c-min", required_argument, NULL, OPT_C_MIN},         {"c-max", required_argument, NULL, OPT_C_MAX},
        {"beta1", required_argument, NULL, OPT_BETA1},         {"beta2", required_argument, NULL, OPT_BETA2},
        {"eps", required_argument, NULL, OPT_EPS},             {"steps", required_argument, NULL, OPT_STEPS},
        {"step-size", required_argument, NULL, OPT_STEP_SIZE}, {"random-start", no_argument, NULL, OPT_RANDOM_START},
        {"eta", required_argument, NULL, OPT_ETA},             {"target", required_argument, NULL, OPT_TARGET},
        {NULL, 0, NULL, 0},
    };

    /* pass 1: --attack (and --help), which set the defaults of everything else */
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (c == 'h' || c == OPT_HELP) {
            attack_usage(stdout);
            return BNS_EXIT_OK;
        }
        if (c == OPT_ATTACK) kind_name = optarg;
    }
    if (!kind_name) {
        fprintf(stderr, "bnnsweep attack: --attack minnorm|fgsm|pgd|targeted is required (see --help)\n");
        return BNS_EXIT_USAGE;
    }
    int kind = bns_attack_kind_parse(kind_name);
    if (kind < 0) {
        fprintf(stderr, "bnnsweep attack: --attack: unknown attack '%s' (minnorm, fgsm, pgd, targeted)\n", kind_name);
        return BNS_EXIT_USAGE;
    }
    bns_attack_defaults(&s, kind);

    /* pass 2: everything */
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        int rc = 0;
        const char *flag = argv[optind - 1];
        switch (c) {
        case OPT_MODEL: model_path = optarg; break;
        case OPT_ATTACK: break;
        case OPT_OUT: out_path = optarg; break;
        case OPT_DATA_DIR: data_dir = optarg; break;
        case OPT_LIMIT: {
            int v = 0;
            rc = parse_int("--limit", optarg, &v);
            limit = v;
            break;
        }
        case OPT_THREADS:
            rc = parse_int("--threads", optarg, &threads);
            if (rc == 0 && threads < 1) rc = bns_fail("--threads: must be at least 1");
            break;
        case OPT_QUIET: quiet = 1; break;
        case OPT_SOURCE: rc = parse_enum("--source", optarg, bns_source_mode_parse, &s.source); break;
        case OPT_SAMPLES: rc = parse_int("--samples", optarg, &s.source_samples); break;
        case OPT_SAMPLE_INDEX: rc = parse_u64("--sample-index", optarg, &s.source_index); break;
        case OPT_SEED: rc = parse_u64("--seed", optarg, &s.seed); have_seed = 1; break;
        case OPT_TASK: rc = parse_u64("--task", optarg, &s.task); have_task = 1; break;
        case OPT_NO_CLIP: s.clip = 0; break;
        case OPT_BATCH: rc = parse_int("--batch", optarg, &s.batch); break;
        case OPT_OPTIMIZER: rc = parse_enum("--optimizer", optarg, bns_minnorm_opt_parse, &s.optimizer); break;
        case OPT_C: rc = parse_double("--c", optarg, &s.c); break;
        case OPT_LR: rc = parse_double("--lr", optarg, &s.lr); break;
        case OPT_MAX_STEPS: rc = parse_int("--max-steps", optarg, &s.max_steps); break;
        case OPT_SEARCH_STEPS: rc = parse_int("--search-steps", optarg, &s.search_steps); break;
        case OPT_C_MIN: rc = parse_double("--c-min", optarg, &s.c_min); break;
        case OPT_C_MAX: rc = parse_double("--c-max", optarg, &s.c_max); break;
        case OPT_BETA1: rc = parse_double("--beta1", optarg, &s.beta1); break;
        case OPT_BETA2: rc = parse_double("--beta2", optarg, &s.beta2); break;
        case OPT_EPS: rc = parse_double("--eps", optarg, &s.eps); break;
        case OPT_STEPS: rc = parse_int("--steps", optarg, &s.steps); break;
        case OPT_STEP_SIZE: rc = parse_double("--step-size", optarg, &s.step_size); break;
        case OPT_RANDOM_START: s.random_start = 1; break;
        case OPT_ETA: rc = parse_double("--eta", optarg, &s.eta); break;
        case OPT_TARGET:
            if (strcmp(optarg, "next") == 0) {
                s.target_mode = BNS_TARGET_NEXT;
            } else {
                s.target_mode = BNS_TARGET_FIXED;
                rc = parse_int("--target", optarg, &s.target_class);
            }
            break;
        default:
            fprintf(stderr, "bnnsweep attack: unknown or incomplete option '%s' (see --help)\n", flag);
            return BNS_EXIT_USAGE;
        }
        if (rc) {
            fprintf(stderr, "bnnsweep attack: %s\n", bns_last_error());
            return BNS_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bnnsweep attack: unexpected argument '%s' (see --help)\n", argv[optind]);
        return BNS_EXIT_USAGE;
    }
    if (!model_path || !out_path) {
        fprintf(stderr, "bnnsweep attack: --model FILE and --out FILE are required (see --help)\n");
        return BNS_EXIT_USAGE;
    }
    bns_set_blas_threads(threads);

    bns_model model;
    if (bns_model_load(model_path, &model, NULL)) {
        fprintf(stderr, "bnnsweep attack: %s\n", bns_last_error());
        return BNS_EXIT_ERROR;
    }
    if (!have_seed) s.seed = model.cfg.seed;
    if (!have_task) s.task = model.cfg.task;
    if (bns_attack_validate(&s, &model)) {
        fprintf(stderr, "bnnsweep attack: %s\n", bns_last_error());
        bns_model_free(&model);
        return BNS_EXIT_USAGE;
    }
    bns_splits data;
    if (bns_mnist_load(data_dir, (float)model.cfg.pixel_scale, 1, (size_t)limit, &data)) {
        fprintf(stderr, "bnnsweep attack: %s\n", bns_last_error());
        bns_model_free(&model);
        return BNS_EXIT_ERROR;
    }
    int bayes = bns_model_is_bayesian(&model);
    printf("attack %s on %zu test images: source %s (%s %s, %s", bns_attack_kind_name(kind), data.test.n,
           model_path, model.cfg.method, model.cfg.arch,
           bayes ? bns_source_mode_name(s.source) : "weights");
    if (bayes && s.source == BNS_SOURCE_EXPECTATION) printf(" K=%d", s.source_samples);
    if (bayes && s.source == BNS_SOURCE_SAMPLE) printf(" k=%llu", (unsigned long long)s.source_index);
    printf(")\n");
    if (kind == BNS_ATTACK_MINNORM)
        printf("  optimizer %s lr %g c %g max_steps %d search_steps %d c in [%g, %g]%s\n",
               bns_minnorm_opt_name(s.optimizer), s.lr, s.c, s.max_steps, s.search_steps, s.c_min, s.c_max,
               s.clip ? "" : " no clip");
    else if (kind == BNS_ATTACK_FGSM)
        printf("  eps %g ([0,1] scale)%s\n", s.eps, s.clip ? "" : " no clip");
    else if (kind == BNS_ATTACK_PGD)
        printf("  eps %g steps %d step_size %g ([0,1] scale)%s%s\n", s.eps, s.steps, s.step_size,
               s.random_start ? " random start" : "", s.clip ? "" : " no clip");
    else
        printf("  target %s eta %g steps %d eps %g ([0,1] scale)%s\n",
               s.target_mode == BNS_TARGET_NEXT ? "next" : "fixed", s.eta, s.steps, s.eps, s.clip ? "" : " no clip");
    fflush(stdout);

    progress_state progress = {bns_now_seconds(), 1000};
    bns_attack_set set;
    int status = BNS_EXIT_OK;
    if (bns_attack_run(&model, &s, &data.test, NULL, &set, quiet ? NULL : print_progress, &progress)) {
        fprintf(stderr, "bnnsweep attack: %s\n", bns_last_error());
        status = BNS_EXIT_ERROR;
    } else {
        printf("done: %zu images, success rate %.4f (%zu), mean distortion %.4f over all, %.4f over successful, "
               "mean L2 %.4f, %.1fs\n", set.n, set.success_rate, set.n_success, set.mean_distortion,
               set.mean_distortion_success, set.mean_l2, set.seconds);
        if (bns_attack_set_identify(&set, model_path) || bns_attack_set_save(out_path, &set)) {
            fprintf(stderr, "bnnsweep attack: %s\n", bns_last_error());
            status = BNS_EXIT_ERROR;
        } else {
            printf("saved %s\n", out_path);
        }
        bns_attack_set_free(&set);
    }
    bns_splits_free(&data);
    bns_model_free(&model);
    return status;
}
