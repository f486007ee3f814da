/* cmd_attack.c - `bnnsweep attack`: one adversarial set (METHODS.md s.4-5)
 * from a source model over the MNIST test set, saved to HDF5. The attacks
 * come from the registry and every setting's flag, help line and default from
 * the settings table (attack_settings.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bnnsweep/attack.h"
#include "bnnsweep/attack_set.h"
#include "bnnsweep/attack_settings.h"
#include "bnnsweep/backend.h"
#include "bnnsweep/dataset.h"
#include "bnnsweep/error.h"
#include "bnnsweep/model_io.h"
#include "bnnsweep/util.h"
#include "cli.h"

enum { OPT_MODEL = 1000, OPT_ATTACK, OPT_OUT, OPT_DATA_DIR, OPT_LIMIT, OPT_THREADS, OPT_QUIET, OPT_HELP, OPT_SETTING };

/* text whose later lines ('\n') start at column `indent` */
static void print_indented(FILE *out, const char *text, int indent) {
    for (const char *p = text; *p; p++) {
        fputc(*p, out);
        if (*p == '\n') fprintf(out, "%*s", indent, "");
    }
}

/* "  --flag ARG          help (default D)": one row of the settings table */
static void print_setting(FILE *out, const bns_attack_setting *f, const bns_attack_settings *defaults) {
    char lhs[64];
    snprintf(lhs, sizeof lhs, "--%s%s%s", f->flag, f->arg ? " " : "", f->arg ? f->arg : "");
    fprintf(out, "  %-19s ", lhs);
    print_indented(out, f->help, 22);
    if (f->arg && !(f->flags & BNS_ASET_NO_DEFAULT)) {
        char v[64];
        bns_attack_setting_format(f, defaults, 0, v, sizeof v);
        fprintf(out, " (default %s)", v);
    }
    fputc('\n', out);
}

static void attack_usage(FILE *out) {
    char bar[512], comma[512];
    bns_attack_names(bar, sizeof bar, "|", "|");
    bns_attack_names(comma, sizeof comma, ", ", " or ");
    fprintf(out,
            "usage: bnnsweep attack --model SRC.h5 --attack %s [OPTIONS] --out SET.h5\n\n"
            "Perturb the MNIST test images (or the first --limit of them) against a source\n"
            "model and save the attack set (perturbed images, labels, success flags, L2\n"
            "norms, clean indices, source identity, every setting) to HDF5. Pixels are on\n"
            "the model's scale: [0, 255 * pixel_scale], [0, 2] by default.\n\n"
            "attacks:\n",
            bar);
    for (int k = 0; k < bns_attack_count(); k++) {
        const bns_attack *a = bns_attack_get(k);
        fprintf(out, "  %-9s ", a->name);
        print_indented(out, a->summary ? a->summary : "", 12);
        fputc('\n', out);
    }
    fprintf(out,
            "\noptions:\n"
            "  --model FILE        source model (bnnsweep train output); required\n"
            "  --attack NAME       %s; required\n"
            "  --out FILE          attack set to write (atomically); required\n"
            "  --data-dir DIR      data cache (default $BNNSWEEP_DATA or ~/.cache/bnnsweep)\n"
            "  --limit N           attack only the first N test images (default all 10,000)\n"
            "  --threads N         BLAS threads (default 1)\n"
            "  --quiet             no progress lines\n\n"
            "settings of every attack (the source matters for Bayesian models only):\n",
            comma);
    bns_attack_settings s;
    bns_attack_defaults(&s, 0);
    for (const bns_attack_setting *f = bns_attack_setting_table(); f->name || f->key; f++)
        if (f->flag && (f->flags & BNS_ASET_COMMON)) print_setting(out, f, &s);
    for (int k = 0; k < bns_attack_count(); k++) {
        const bns_attack *a = bns_attack_get(k);
        if (!a->uses || !a->uses[0]) continue;
        fprintf(out, "\n%s settings:\n", a->name);
        bns_attack_defaults(&s, k);
        for (int u = 0; a->uses[u]; u++) {
            const bns_attack_setting *f = bns_attack_setting_by_key(a->uses[u]);
            if (f && f->flag) print_setting(out, f, &s);
        }
    }
    fprintf(out,
            "\nThe summary reports the success rate and the mean distortion (1/n) sum sqrt(|r|^2/d)\n"
            "over all n attacked images (failures count with their stored r; a failed minnorm\n"
            "example keeps r = 0) and over the successful ones.\n\n"
            "exit status: 0 done, 1 error, 2 usage\n");
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

static int parse_int(const char *flag, const char *text, int *out) {
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end || v < 0 || v > 1000000000L) return bns_fail("%s: '%s' is not a count", flag, text);
    *out = (int)v;
    return 0;
}

/* the attack's own line, or "key value" of the settings it reads */
static void describe_settings(const bns_attack *a, const bns_attack_settings *s, char *buf, size_t size) {
    if (a->describe) {
        a->describe(s, buf, size);
        return;
    }
    size_t used = 0;
    buf[0] = '\0';
    for (int u = 0; a->uses && a->uses[u] && used < size; u++) {
        const bns_attack_setting *f = bns_attack_setting_by_key(a->uses[u]);
        char v[64];
        if (!f) continue;
        bns_attack_setting_format(f, s, 0, v, sizeof v);
        int w = snprintf(buf + used, size - used, "%s%s %s", used ? " " : "", f->key, v);
        if (w < 0) break;
        used += (size_t)w;
    }
}

int cmd_attack(int argc, char **argv) {
    const char *model_path = NULL, *out_path = NULL, *data_dir = NULL, *kind_name = NULL;
    long limit = 0;
    int threads = 1, quiet = 0;
    const bns_attack_setting *table = bns_attack_setting_table();
    /* the fixed options, then one per row of the settings table with a flag */
    struct option options[96] = {
        {"model", required_argument, NULL, OPT_MODEL},   {"attack", required_argument, NULL, OPT_ATTACK},
        {"out", required_argument, NULL, OPT_OUT},       {"data-dir", required_argument, NULL, OPT_DATA_DIR},
        {"limit", required_argument, NULL, OPT_LIMIT},   {"threads", required_argument, NULL, OPT_THREADS},
        {"quiet", no_argument, NULL, OPT_QUIET},         {"help", no_argument, NULL, OPT_HELP},
    };
    int n_options = 8, n_rows = 0;
    for (const bns_attack_setting *f = table; f->name || f->key; f++, n_rows++)
        if (f->flag && n_options < 95)
            options[n_options++] = (struct option){f->flag, f->arg ? required_argument : no_argument, NULL,
                                                   OPT_SETTING + n_rows};
    options[n_options] = (struct option){NULL, 0, NULL, 0};
    char given[96] = {0}; /* rows set on the command line */

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
        char names[512];
        bns_attack_names(names, sizeof names, "|", "|");
        fprintf(stderr, "bnnsweep attack: --attack %s is required (see --help)\n", names);
        return BNS_EXIT_USAGE;
    }
    int kind = bns_attack_kind_parse(kind_name);
    if (kind < 0) {
        char names[512];
        bns_attack_names(names, sizeof names, ", ", ", ");
        fprintf(stderr, "bnnsweep attack: --attack: unknown attack '%s' (%s)\n", kind_name, names);
        return BNS_EXIT_USAGE;
    }
    bns_attack_settings s;
    bns_attack_defaults(&s, kind);

    /* pass 2: everything */
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        int rc = 0;
        const char *flag = argv[optind - 1];
        if (c >= OPT_SETTING && c < OPT_SETTING + n_rows) {
            const bns_attack_setting *f = &table[c - OPT_SETTING];
            given[c - OPT_SETTING] = 1;
            if (!f->arg) *(int *)((char *)&s + f->offset) = f->switch_value;
            else if (bns_attack_setting_parse(f, &s, optarg, BNS_ASET_FROM_CLI)) rc = bns_fail_prefix("--%s: ", f->flag);
        } else {
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
            default:
                fprintf(stderr, "bnnsweep attack: unknown or incomplete option '%s' (see --help)\n", flag);
                return BNS_EXIT_USAGE;
            }
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
    if (cli_refuse_regression("attack", model_path, &model)) {
        bns_model_free(&model);
        return BNS_EXIT_USAGE;
    }
    /* the ATTACK stream's key defaults to the model's */
    if (!given[bns_attack_setting_by_name("seed") - table]) s.seed = model.cfg.seed;
    if (!given[bns_attack_setting_by_name("task") - table]) s.task = model.cfg.task;
    if (bns_attack_validate(&s, &model)) {
        fprintf(stderr, "bnnsweep attack: %s\n", bns_last_error());
        bns_model_free(&model);
        return BNS_EXIT_USAGE;
    }
    bns_splits data;
    if (bns_data_load(model.cfg.dataset, data_dir, model.cfg.data_path, (float)model.cfg.pixel_scale, 1,
                      (size_t)limit, &data)) {
        fprintf(stderr, "bnnsweep attack: %s\n", bns_last_error());
        bns_model_free(&model);
        return BNS_EXIT_ERROR;
    }
    int bayes = bns_model_has(&model, BNS_CAP_STOCHASTIC);
    printf("attack %s on %zu test images: source %s (%s %s, %s", bns_attack_kind_name(kind), data.test.n,
           model_path, model.cfg.method, model.cfg.arch,
           bayes ? bns_source_mode_name(s.source) : "weights");
    if (bayes && s.source == BNS_SOURCE_EXPECTATION) printf(" K=%d", s.source_samples);
    if (bayes && s.source == BNS_SOURCE_SAMPLE) printf(" k=%llu", (unsigned long long)s.source_index);
    printf(")\n");
    char line[1024];
    describe_settings(bns_attack_get(kind), &s, line, sizeof line);
    printf("  %s\n", line);
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
