/* config.c - the field table of bns_config and its text parsing. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pthread.h>

#include "bnnsweep/config.h"
#include "bnnsweep/error.h"
#include "bnnsweep/method.h"

static const char *const prior_names[] = {"mixture", "gaussian", NULL};
static const char *const reduction_names[] = {"mean", "sum", NULL};
static const char *const optimizer_names[] = {"sgd", "adam", NULL};
static const char *const sample_mode_names[] = {"vectorized", "sequential", NULL};
static const char *const dataset_names[] = {"mnist", "fashion-mnist", "cifar10", "toy1d", NULL}; /* enum bns_data_kind */

#define FIELD(key, type, member, choices, help) \
    {key, type, offsetof(bns_config, member), sizeof(((bns_config *)0)->member), choices, help, NULL, NULL, 0, 0}
/* a shared row added later: left out of keys and files while at its default */
#define FIELD_OMIT_DEFAULT(key, type, member, choices, help) \
    {key, type, offsetof(bns_config, member), sizeof(((bns_config *)0)->member), choices, help, NULL, NULL, 0, 1}

/* the shared rows; the table appends each method's own rows */
static const bns_config_field shared_fields[] = {
    FIELD("arch", BNS_FIELD_STRING, arch, NULL, "architecture: FC-<hidden widths>-<classes> (e.g. FC-100-100-10), lenet or resnet20 (net.h)"),
    FIELD("method", BNS_FIELD_STRING, method, NULL, "inference method (the list below)"),
    FIELD("prior", BNS_FIELD_ENUM, prior.kind, prior_names, "prior: mixture (scale mixture) or gaussian"),
    FIELD("prior_pi", BNS_FIELD_DOUBLE, prior.pi, NULL, "mixture weight pi of the wide component"),
    FIELD("prior_sigma1", BNS_FIELD_DOUBLE, prior.sigma1, NULL, "wide mixture component std (default e^-1)"),
    FIELD("prior_sigma2", BNS_FIELD_DOUBLE, prior.sigma2, NULL, "narrow mixture component std (default e^-7)"),
    FIELD("prior_sigma", BNS_FIELD_DOUBLE, prior.sigma, NULL, "Gaussian prior std"),
    FIELD("rho_init", BNS_FIELD_DOUBLE, rho_init, NULL, "initial rho of every weight (sigma = softplus(rho))"),
    FIELD("init_std", BNS_FIELD_DOUBLE, init_std, NULL, "std of the truncated-normal init of mu/w; 0 = the default rule (README)"),
    FIELD("l2_lambda", BNS_FIELD_DOUBLE, l2_lambda, NULL, "L2 penalty lambda (deterministic; METHODS.md s.3)"),
    FIELD("samples", BNS_FIELD_INT, samples, NULL, "weight samples per training step (S)"),
    FIELD("sample_mode", BNS_FIELD_ENUM, sample_mode, sample_mode_names,
          "BBB with S > 1: vectorized (first layer as one product) or sequential"),
    FIELD("reduction", BNS_FIELD_ENUM, reduction, reduction_names, "minibatch loss: per-example mean or sum"),
    FIELD("optimizer", BNS_FIELD_ENUM, optimizer, optimizer_names, "sgd (with momentum) or adam"),
    FIELD("lr", BNS_FIELD_DOUBLE, lr, NULL, "learning rate"),
    FIELD("momentum", BNS_FIELD_DOUBLE, momentum, NULL, "SGD momentum"),
    FIELD("beta1", BNS_FIELD_DOUBLE, beta1, NULL, "Adam beta1"),
    FIELD("beta2", BNS_FIELD_DOUBLE, beta2, NULL, "Adam beta2"),
    FIELD("adam_eps", BNS_FIELD_DOUBLE, adam_eps, NULL, "Adam epsilon"),
    FIELD("batch_size", BNS_FIELD_INT, batch_size, NULL, "minibatch size"),
    FIELD("max_epochs", BNS_FIELD_INT, max_epochs, NULL, "maximum number of epochs"),
    FIELD("patience", BNS_FIELD_INT, patience, NULL, "early-stopping patience in epochs (0 = off)"),
    FIELD("val_samples", BNS_FIELD_INT, val_samples, NULL,
          "Bayesian validation: ensemble size (0 = posterior mean weights)"),
    FIELD("pixel_scale", BNS_FIELD_DOUBLE, pixel_scale, NULL, "pixel multiplier: 1/127.5 -> [0,2], 1/255 -> [0,1]"),
    FIELD("train_limit", BNS_FIELD_LONG, train_limit, NULL, "use only the first N training rows (0 = all)"),
    FIELD("seed", BNS_FIELD_U64, seed, NULL, "random seed"),
    FIELD("task", BNS_FIELD_U64, task, NULL, "task id (part of every random stream's key)"),
    FIELD_OMIT_DEFAULT("dataset", BNS_FIELD_ENUM, dataset, dataset_names,
                       "training data: mnist, fashion-mnist (both from the data directory), cifar10 (data_path) "
                       "or toy1d (Blundell's 1-D regression toy, Gaussian likelihood)"),
    FIELD_OMIT_DEFAULT("data_path", BNS_FIELD_STRING, data_path, NULL,
                       "cifar10: directory of data_batch_1..5.bin and test_batch.bin (default <data dir>/cifar-10-batches-bin)"),
    FIELD_OMIT_DEFAULT("noise_std", BNS_FIELD_DOUBLE, noise_std, NULL,
                       "toy1d: fixed noise std of the Gaussian likelihood (0 = 0.02, the toy's own)"),
    FIELD_OMIT_DEFAULT("clip_norm", BNS_FIELD_DOUBLE, clip_norm, NULL,
                       "> 0: rescale each step's whole gradient to at most this L2 norm (0 = off; "
                       "docs/zhang2020-reproduction.md)"),
    {NULL, 0, 0, 0, NULL, NULL, NULL, NULL, 0, 0},
};

enum { MAX_FIELDS = 160 };
static bns_config_field table[MAX_FIELDS + 1];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static const bns_config_field *find_in(const bns_config_field *rows, const char *name) {
    for (const bns_config_field *f = rows; f && f->name; f++)
        if (strcmp(f->name, name) == 0) return f;
    return NULL;
}

/* Shared rows, then every method's rows in registry order; a name declared
 * by several methods is one row (one slot) owned by the first. Slots are
 * appended, so registering a method never moves an existing one. */
void bns_config_fields_rebuild(void) {
    int n = 0, slot = 0;
    memset(table, 0, sizeof table);
    for (const bns_config_field *f = shared_fields; f->name; f++) table[n++] = *f;
    for (const bns_method *const *m = bns_method_list(); *m; m++) {
        for (const bns_config_field *f = (*m)->settings; f && f->name; f++) {
            const bns_config_field *seen = find_in(table, f->name);
            if (seen) {
                if (!seen->default_value || seen->type != f->type || seen->evaluation != f->evaluation ||
                    seen->omit_default != f->omit_default)
                    abort(); /* a programming error: names clash */
                continue;
            }
            /* a text row takes size / 8 consecutive slots, every other row one */
            int slots = f->type == BNS_FIELD_STRING ? (int)(f->size / sizeof(double)) : 1;
            if (n == MAX_FIELDS || slot + slots > BNS_METHOD_SETTING_SLOTS || !f->default_value ||
                (f->type == BNS_FIELD_STRING && (slots < 1 || f->size % sizeof(double) != 0)))
                abort(); /* a programming error in a method's settings table */
            bns_config_field *row = &table[n++];
            *row = *f;
            row->offset = offsetof(bns_config, method_settings) + sizeof(double) * (size_t)slot;
            slot += slots;
            row->size = f->type == BNS_FIELD_DOUBLE ? sizeof(double) : f->type == BNS_FIELD_LONG ? sizeof(long)
                        : f->type == BNS_FIELD_U64 ? sizeof(uint64_t) : f->type == BNS_FIELD_STRING ? f->size
                        : sizeof(int);
            row->owner = (*m)->name;
        }
    }
}

const bns_config_field *bns_config_fields(void) {
    pthread_once(&table_once, bns_config_fields_rebuild);
    return table;
}

const bns_config_field *bns_config_field_find(const char *name) { return find_in(bns_config_fields(), name); }

int bns_config_field_applies(const bns_config *cfg, const bns_config_field *f) {
    if (f->default_value) { /* a method's row: of this model's method? */
        const bns_method *m = bns_method_find(cfg->method);
        if (!m || !find_in(m->settings, f->name)) return 0;
    }
    if (f->omit_default) {
        bns_config defaults;
        bns_config_defaults(&defaults);
        return memcmp((const char *)cfg + f->offset, (const char *)&defaults + f->offset, f->size) != 0;
    }
    return 1;
}

void bns_config_method_defaults(bns_config *cfg) {
    for (const bns_config_field *f = bns_config_fields(); f->name; f++)
        if (f->default_value && bns_config_set(cfg, f->name, f->default_value)) abort(); /* a bad default */
}

int bns_config_set_evaluation(bns_config *cfg, const char *assignment) {
    const char *eq = strchr(assignment, '=');
    char key[64];
    if (!eq || eq == assignment || (size_t)(eq - assignment) >= sizeof key)
        return bns_fail("'%s': expected KEY=VALUE", assignment);
    memcpy(key, assignment, (size_t)(eq - assignment));
    key[eq - assignment] = '\0';
    const bns_config_field *f = bns_config_field_find(key);
    if (!f) return bns_fail("'%s': no such setting", key);
    if (!f->evaluation || !bns_config_field_applies(cfg, f)) {
        char list[512] = "";
        for (const bns_config_field *g = bns_config_fields(); g->name; g++)
            if (g->evaluation && bns_config_field_applies(cfg, g))
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", list[0] ? ", " : "", g->name);
        return bns_fail("'%s' is not an evaluation setting of a %s model (the trained model fixes it); its "
                        "evaluation settings: %s", key, cfg->method, list[0] ? list : "none");
    }
    return bns_config_set(cfg, key, eq + 1);
}

int bns_config_copy_evaluation(bns_config *dst, const bns_config *src) {
    for (const bns_config_field *f = bns_config_fields(); f->name; f++) {
        if (!f->evaluation || !bns_config_field_applies(src, f)) continue;
        char v[128];
        bns_config_format_field(src, f, v, sizeof v);
        if (bns_config_set(dst, f->name, v)) return -1;
    }
    return 0;
}

double bns_config_get_double(const bns_config *cfg, const char *key) {
    const bns_config_field *f = bns_config_field_find(key);
    if (!f || f->type != BNS_FIELD_DOUBLE) abort(); /* a programming error: no such double setting */
    return *(const double *)((const char *)cfg + f->offset);
}

int bns_config_get_int(const bns_config *cfg, const char *key) {
    const bns_config_field *f = bns_config_field_find(key);
    if (!f || (f->type != BNS_FIELD_INT && f->type != BNS_FIELD_ENUM)) abort(); /* no such int setting */
    return *(const int *)((const char *)cfg + f->offset);
}

const char *bns_config_get_string(const bns_config *cfg, const char *key) {
    const bns_config_field *f = bns_config_field_find(key);
    if (!f || f->type != BNS_FIELD_STRING) abort(); /* a programming error: no such text setting */
    return (const char *)cfg + f->offset;
}

int bns_config_set(bns_config *cfg, const char *key, const char *value) {
    const bns_config_field *f = bns_config_field_find(key);
    if (!f) return bns_fail("unknown setting '%s'", key);
    char *field = (char *)cfg + f->offset;
    char *end = NULL;
    errno = 0;
    switch (f->type) {
    case BNS_FIELD_DOUBLE: {
        double v = strtod(value, &end);
        if (end == value || *end || errno || !isfinite(v))
            return bns_fail("setting '%s': '%s' is not a finite number", key, value);
        *(double *)field = v;
        return 0;
    }
    case BNS_FIELD_INT:
    case BNS_FIELD_LONG: {
        long long v = strtoll(value, &end, 10);
        if (end == value || *end || errno) return bns_fail("setting '%s': '%s' is not an integer", key, value);
        if (f->type == BNS_FIELD_INT) {
            if (v < -2147483647LL || v > 2147483647LL) return bns_fail("setting '%s': %s is out of range", key, value);
            *(int *)field = (int)v;
        } else {
            *(long *)field = (long)v;
        }
        return 0;
    }
    case BNS_FIELD_U64: {
        if (value[0] == '-') return bns_fail("setting '%s': '%s' must not be negative", key, value);
        unsigned long long v = strtoull(value, &end, 0);
        if (end == value || *end || errno) return bns_fail("setting '%s': '%s' is not an unsigned integer", key, value);
        *(uint64_t *)field = (uint64_t)v;
        return 0;
    }
    case BNS_FIELD_STRING:
        if (strlen(value) >= f->size) return bns_fail("setting '%s': value longer than %zu characters", key, f->size - 1);
        /* an omit_default row's default is the empty string (data_path: "the usual place");
         * a method's text row may be unset too */
        if (!value[0] && !f->omit_default && !f->default_value) return bns_fail("setting '%s': empty value", key);
        memset(field, 0, f->size); /* whole buffer: omit_default compares it with the default's */
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case BNS_FIELD_ENUM:
        for (int i = 0; f->choices[i]; i++) {
            if (strcmp(f->choices[i], value) == 0) {
                *(int *)field = i;
                return 0;
            }
        }
        {
            char list[256] = "";
            for (int i = 0; f->choices[i]; i++) {
                strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, f->choices[i], sizeof list - strlen(list) - 1);
            }
            return bns_fail("setting '%s': '%s' is not one of %s", key, value, list);
        }
    }
    return bns_fail("setting '%s': unsupported type", key);
}

int bns_config_set_assignment(bns_config *cfg, const char *assignment) {
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) return bns_fail("'%s': expected key=value", assignment);
    char key[64];
    size_t len = (size_t)(eq - assignment);
    if (len >= sizeof key) return bns_fail("'%s': key too long", assignment);
    memcpy(key, assignment, len);
    key[len] = '\0';
    /* accept dotted paths (train.lr) by their last component */
    const char *leaf = strrchr(key, '.');
    return bns_config_set(cfg, leaf ? leaf + 1 : key, eq + 1);
}

void bns_config_format_field(const bns_config *cfg, const bns_config_field *f, char *buf, size_t size) {
    const char *field = (const char *)cfg + f->offset;
    switch (f->type) {
    case BNS_FIELD_DOUBLE: {
        /* shortest form that parses back to the same double */
        double v = *(const double *)field;
        for (int digits = 6; digits <= 17; digits++) {
            snprintf(buf, size, "%.*g", digits, v);
            if (strtod(buf, NULL) == v) break;
        }
        break;
    }
    case BNS_FIELD_INT: snprintf(buf, size, "%d", *(const int *)field); break;
    case BNS_FIELD_LONG: snprintf(buf, size, "%ld", *(const long *)field); break;
    case BNS_FIELD_U64: snprintf(buf, size, "%" PRIu64, *(const uint64_t *)field); break;
    case BNS_FIELD_STRING: snprintf(buf, size, "%s", field); break;
    case BNS_FIELD_ENUM: {
        int v = *(const int *)field, count = 0;
        while (f->choices[count]) count++;
        snprintf(buf, size, "%s", v >= 0 && v < count ? f->choices[v] : "?");
        break;
    }
    }
}
