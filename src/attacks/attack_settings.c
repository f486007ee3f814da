/* attack_settings.c - the field table of bns_attack_settings, its defaults
 * and its text parsing (attack_settings.h). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/attack_settings.h"
#include "bnnsweep/error.h"

static const char *const source_names[] = {"weights", "sample", "expectation", NULL};
static const char *const opt_names[] = {"gd", "ngd", "adam", NULL};
static const char *const target_names[] = {"next", "fixed", NULL};

#define ROW(name, key, flag, arg, type, member, choices, def, switch_value, flags, help) \
    {name, key, flag, arg, type, offsetof(bns_attack_settings, member), choices, def, switch_value, flags, help}
#define SWEEP_COMMON (BNS_ASET_SWEEP | BNS_ASET_COMMON)

/* bns_attack_settings order: the order of the /settings attributes */
static const bns_attack_setting rows[] = {
    ROW("kind", "attack", NULL, NULL, BNS_ASET_KIND, kind, NULL, 0, 0, 0, "the attack"),
    /* the source (METHODS.md s.5) */
    ROW("source", "source", "source", "MODE", BNS_ASET_ENUM, source, source_names, BNS_SOURCE_EXPECTATION, 0,
        SWEEP_COMMON,
        "weights (posterior mean), sample (one fixed posterior sample,\n"
        "gray-box) or expectation (gradient averaged over K samples,\n"
        "success judged by the K-sample ensemble); deterministic\n"
        "models always use their weights"),
    ROW("source_samples", "source_samples", "samples", "K", BNS_ASET_INT, source_samples, NULL, 10, 0, SWEEP_COMMON,
        "K for the expectation source"),
    ROW("source_index", "source_index", "sample-index", "k", BNS_ASET_U64, source_index, NULL, 0, 0, SWEEP_COMMON,
        "which sample for the sample source"),
    ROW("seed", "seed", "seed", "S", BNS_ASET_U64, seed, NULL, 0, 0, BNS_ASET_COMMON | BNS_ASET_NO_DEFAULT,
        "seed of the ATTACK random stream (default: the model's)"),
    ROW("task", NULL, "task", "T", BNS_ASET_U64, task, NULL, 0, 0, BNS_ASET_COMMON | BNS_ASET_NO_DEFAULT,
        "task of the ATTACK random stream (default: the model's)"),
    ROW("clip", "clip", "no-clip", NULL, BNS_ASET_BOOL, clip, NULL, 1, 0, SWEEP_COMMON,
        "do not keep pixels inside [0, 255 * pixel_scale]"),
    ROW("batch", "batch", "batch", "N", BNS_ASET_INT, batch, NULL, 100, 0, SWEEP_COMMON,
        "examples per forward/backward"),
    /* min-norm (s.4): normalised gradient descent, steps of L2 length lr =
     * 0.05 pixel units, at most 200 of them (|r| <= 10). The CE gradient of a
     * confident example can be ~1e-8, so any c much above that stalls r at
     * the origin: the default c is tiny, and the first misclassified iterate
     * of the steepest-ascent path already has a small norm (on a
     * FC-200-200-10 a search over c improved the mean distortion by < 1% at
     * 5-8x the time), hence one value of c by default. */
    ROW("optimizer", "optimizer", "optimizer", "NAME", BNS_ASET_ENUM, optimizer, opt_names, BNS_MINNORM_NGD, 0,
        BNS_ASET_SWEEP,
        "ngd: r -= lr * g/|g|_2 (steps of L2 length lr); gd: r -= lr * g;\n"
        "adam: Adam on r"),
    ROW("c", "c", "c", "X", BNS_ASET_DOUBLE, c, NULL, 1e-9, 0, BNS_ASET_SWEEP,
        "weight of |r|_2, the first value of the search"),
    ROW("lr", "lr", "lr", "X", BNS_ASET_DOUBLE, lr, NULL, 0.05, 0, BNS_ASET_SWEEP,
        "step size (in the model's pixel units)"),
    ROW("max_steps", "max_steps", "max-steps", "N", BNS_ASET_INT, max_steps, NULL, 200, 0, BNS_ASET_SWEEP,
        "gradient steps per value of c"),
    ROW("search_steps", "search_steps", "search-steps", "N", BNS_ASET_INT, search_steps, NULL, 1, 0, BNS_ASET_SWEEP,
        "values of c per example: after a success c grows (x10, or the\n"
        "geometric midpoint once bracketed), after a failure it shrinks;\n"
        "1 = c only"),
    ROW("c_min", "c_min", "c-min", "X", BNS_ASET_DOUBLE, c_min, NULL, 1e-12, 0, BNS_ASET_SWEEP,
        "lower end of the search's bracket"),
    ROW("c_max", "c_max", "c-max", "X", BNS_ASET_DOUBLE, c_max, NULL, 10.0, 0, BNS_ASET_SWEEP,
        "upper end of the search's bracket"),
    ROW("beta1", "beta1", "beta1", "X", BNS_ASET_DOUBLE, beta1, NULL, 0.9, 0, BNS_ASET_SWEEP, "Adam beta1"),
    ROW("beta2", "beta2", "beta2", "X", BNS_ASET_DOUBLE, beta2, NULL, 0.999, 0, BNS_ASET_SWEEP, "Adam beta2"),
    /* past the boundary (issue 16): an image on the source's decision
     * boundary is the least transferable; a confidence margin moves it
     * inside the wrong class, the budget keeps the distortion bounded */
    ROW("margin", "margin", "margin", "X", BNS_ASET_DOUBLE, margin, NULL, 0.0, 0, BNS_ASET_SWEEP | BNS_ASET_OMIT_DEFAULT,
        "0: stop at the first misclassified iterate; > 0: continue until\n"
        "max_{k != y} p_k - p_y >= margin (source's probabilities)"),
    ROW("budget", "budget", "budget", "X", BNS_ASET_DOUBLE, budget, NULL, 0.0, 0, BNS_ASET_SWEEP | BNS_ASET_OMIT_DEFAULT,
        "with margin > 0: also stop once the distortion sqrt(|r|^2/d)\n"
        "reaches this (model pixel units; 0 = no bound)"),
    /* s.5, on the [0, 1] pixel scale (multiplied by 255 * pixel_scale) */
    ROW("eps", "eps", "eps", "X", BNS_ASET_DOUBLE, eps, NULL, 0.1, 0, BNS_ASET_SWEEP,
        "L-infinity radius ([0, 1] pixel scale)"),
    ROW("steps", "steps", "steps", "N", BNS_ASET_INT, steps, NULL, 20, 0, BNS_ASET_SWEEP, "iterations"),
    ROW("step_size", "step_size", "step-size", "X", BNS_ASET_DOUBLE, step_size, NULL, 0.01, 0, BNS_ASET_SWEEP,
        "step ([0, 1] pixel scale)"),
    ROW("random_start", "random_start", "random-start", NULL, BNS_ASET_BOOL, random_start, NULL, 0, 1,
        BNS_ASET_SWEEP, "start uniformly in the eps-ball (ATTACK stream)"),
    ROW("eta", "eta", "eta", "X", BNS_ASET_DOUBLE, eta, NULL, 0.01, 0, BNS_ASET_SWEEP, "step ([0, 1] pixel scale)"),
    ROW("target_mode", NULL, NULL, NULL, BNS_ASET_ENUM, target_mode, target_names, BNS_TARGET_NEXT, 0, 0, NULL),
    ROW("target_class", NULL, NULL, NULL, BNS_ASET_INT, target_class, NULL, 0, 0, 0, NULL),
    /* target_mode + target_class as sweep files and the command line write them */
    ROW(NULL, "target", "target", "T", BNS_ASET_TARGET, target_mode, NULL, 0, 0, BNS_ASET_SWEEP,
        "next ((y + 1) mod classes) or a class number"),
    {NULL, NULL, NULL, NULL, 0, 0, NULL, 0, 0, 0, NULL},
};
#undef ROW
#undef SWEEP_COMMON

const bns_attack_setting *bns_attack_setting_table(void) { return rows; }

const bns_attack_setting *bns_attack_setting_by_name(const char *name) {
    for (const bns_attack_setting *f = rows; f->name || f->key; f++)
        if (f->name && !strcmp(f->name, name)) return f;
    return NULL;
}

const bns_attack_setting *bns_attack_setting_by_key(const char *key) {
    for (const bns_attack_setting *f = rows; f->name || f->key; f++)
        if (f->key && !strcmp(f->key, key)) return f;
    return NULL;
}

/* ---- names ---- */

static int choice_count(const char *const *names) {
    int n = 0;
    while (names[n]) n++;
    return n;
}
static const char *name_of(const char *const *names, int v) {
    return v >= 0 && v < choice_count(names) ? names[v] : "?";
}
static int parse_name(const char *const *names, const char *text) {
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], text) == 0) return i;
    return -1;
}
const char *bns_source_mode_name(int mode) { return name_of(source_names, mode); }
const char *bns_minnorm_opt_name(int opt) { return name_of(opt_names, opt); }
const char *bns_target_mode_name(int mode) { return name_of(target_names, mode); }
int bns_source_mode_parse(const char *name) { return parse_name(source_names, name); }
int bns_minnorm_opt_parse(const char *name) { return parse_name(opt_names, name); }
int bns_target_mode_parse(const char *name) { return parse_name(target_names, name); }

int bns_attack_setting_choice(const bns_attack_setting *f, const char *name) {
    if (f->type == BNS_ASET_KIND) return bns_attack_find(name);
    return f->type == BNS_ASET_ENUM ? parse_name(f->choices, name) : -1;
}

/* ---- defaults ---- */

void bns_attack_defaults(bns_attack_settings *s, int kind) {
    memset(s, 0, sizeof *s);
    for (const bns_attack_setting *f = rows; f->name || f->key; f++) {
        if (!f->name) continue; /* a second view of fields with rows of their own */
        char *p = (char *)s + f->offset;
        switch (f->type) {
        case BNS_ASET_DOUBLE: *(double *)p = f->def; break;
        case BNS_ASET_U64: *(uint64_t *)p = (uint64_t)f->def; break;
        default: *(int *)p = (int)f->def; break;
        }
    }
    s->kind = kind;
    const bns_attack *a = bns_attack_get(kind);
    if (a && a->defaults) a->defaults(s);
}

/* ---- text ---- */

int bns_attack_setting_parse(const bns_attack_setting *f, bns_attack_settings *s, const char *value, int dialect) {
    int cli = dialect == BNS_ASET_FROM_CLI;
    char *field = (char *)s + f->offset;
    char *end;
    errno = 0;
    switch (f->type) {
    case BNS_ASET_INT: {
        long v = strtol(value, &end, 10);
        if (end == value || *end || errno || v < 0 || v > 1000000000L) return bns_fail("'%s' is not a count", value);
        *(int *)field = (int)v;
        return 0;
    }
    case BNS_ASET_DOUBLE: {
        double v = strtod(value, &end);
        if (cli) { /* the command line took any strtod number (bns_attack_validate judges it) */
            if (end == value || *end) return bns_fail("'%s' is not a number", value);
        } else if (end == value || *end || errno || !isfinite(v)) {
            return bns_fail("'%s' is not a finite number", value);
        }
        *(double *)field = v;
        return 0;
    }
    case BNS_ASET_U64: {
        unsigned long long v = strtoull(value, &end, 10);
        if (end == value || *end || (errno && !cli) || value[0] == '-')
            return bns_fail("'%s' is not a non-negative integer", value);
        *(uint64_t *)field = (uint64_t)v;
        return 0;
    }
    case BNS_ASET_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "1")) *(int *)field = 1;
        else if (!strcmp(value, "false") || !strcmp(value, "0")) *(int *)field = 0;
        else return bns_fail("'%s' is not true or false", value);
        return 0;
    case BNS_ASET_ENUM:
    case BNS_ASET_KIND: {
        int v = bns_attack_setting_choice(f, value);
        if (v < 0 && cli) return bns_fail("unknown value '%s' (see --help)", value);
        if (v < 0) {
            char list[512] = "";
            if (f->type == BNS_ASET_KIND) {
                bns_attack_names(list, sizeof list, ", ", ", ");
            } else {
                for (int i = 0; f->choices[i]; i++) {
                    strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
                    strncat(list, f->choices[i], sizeof list - strlen(list) - 1);
                }
            }
            return bns_fail("'%s' is not one of %s", value, list);
        }
        *(int *)field = v;
        return 0;
    }
    case BNS_ASET_TARGET: {
        if (!strcmp(value, "next")) {
            s->target_mode = BNS_TARGET_NEXT;
            if (!cli) s->target_class = 0; /* one canonical text for "next" */
            return 0;
        }
        long v = strtol(value, &end, 10);
        if (cli) {
            s->target_mode = BNS_TARGET_FIXED;
            if (end == value || *end || v < 0 || v > 1000000000L) return bns_fail("'%s' is not a count", value);
        } else if (end == value || *end || v < 0 || v > 1000000L) {
            return bns_fail("'%s' is neither 'next' nor a class number", value);
        }
        s->target_mode = BNS_TARGET_FIXED;
        s->target_class = (int)v;
        return 0;
    }
    }
    return bns_fail("unsupported attack setting type");
}

void bns_attack_setting_format(const bns_attack_setting *f, const bns_attack_settings *s, int canonical, char *buf,
                               size_t size) {
    const char *field = (const char *)s + f->offset;
    switch (f->type) {
    case BNS_ASET_DOUBLE: {
        double v = *(const double *)field;
        if (canonical) {
            snprintf(buf, size, "%.17g", v);
            break;
        }
        /* shortest form that parses back to the same double */
        for (int digits = 6; digits <= 17; digits++) {
            snprintf(buf, size, "%.*g", digits, v);
            if (strtod(buf, NULL) == v) break;
        }
        break;
    }
    case BNS_ASET_INT: snprintf(buf, size, "%d", *(const int *)field); break;
    case BNS_ASET_U64: snprintf(buf, size, "%" PRIu64, *(const uint64_t *)field); break;
    case BNS_ASET_BOOL: snprintf(buf, size, "%s", *(const int *)field ? "true" : "false"); break;
    case BNS_ASET_ENUM: snprintf(buf, size, "%s", name_of(f->choices, *(const int *)field)); break;
    case BNS_ASET_KIND: snprintf(buf, size, "%s", bns_attack_kind_name(*(const int *)field)); break;
    case BNS_ASET_TARGET:
        if (s->target_mode == BNS_TARGET_NEXT) snprintf(buf, size, "next");
        else snprintf(buf, size, "%d", s->target_class);
        break;
    }
}
