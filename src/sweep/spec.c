/* spec.c - reading and validating sweep files (spec.h).
 *
 * libyaml's document API turns the file into nodes; they are copied into a
 * small mutable tree (ynode) so that --set overrides can replace or add
 * values before one validation pass walks the tree into a bns_spec. Every
 * node remembers where it came from (file line/column, or which override),
 * so every error can name its origin and its dotted key path.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "bnnsweep/active.h"
#include "bnnsweep/attack_settings.h"
#include "bnnsweep/config.h"
#include "bnnsweep/dataset.h"
#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/metrics.h"
#include "bnnsweep/spec.h"
#include "bnnsweep/util.h"

#define MAX_DEPTH 64          /* nesting of YAML collections */

/* ---- limits (spec.h) ---- */

static const struct {
    const char *env;
    long long value;
} limits[BNS_LIMIT_COUNT] = {
    [BNS_LIMIT_SWEEP_BYTES] = {"BNNSWEEP_MAX_SWEEP_BYTES", 1LL << 20},
    [BNS_LIMIT_EXPANDED_BYTES] = {"BNNSWEEP_MAX_SWEEP_EXPANDED", 64LL << 20},
    [BNS_LIMIT_GRID_POINTS] = {"BNNSWEEP_MAX_GRID_POINTS", 10000},
    [BNS_LIMIT_TASKS] = {"BNNSWEEP_MAX_TASKS", 100000},
    [BNS_LIMIT_WEIGHTS] = {"BNNSWEEP_MAX_WEIGHTS", 20000000},
};

int bns_spec_limit(int which, long long *out) {
    *out = limits[which].value;
    const char *text = getenv(limits[which].env);
    if (!text || !text[0]) return 0;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || errno || v < 1)
        return bns_fail("%s='%s': expected a positive integer (the default is %lld)", limits[which].env, text,
                        limits[which].value);
    *out = v;
    return 0;
}

const char *bns_spec_limit_name(int which) { return limits[which].env; }

char *bns_spec_read_file(const char *path) {
    long long max;
    if (bns_spec_limit(BNS_LIMIT_SWEEP_BYTES, &max)) return NULL;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (long long)st.st_size > max) {
        bns_fail("%s: %lld bytes, more than the %lld a sweep file may have (raise the limit with %s if this is "
                 "intended)", path, (long long)st.st_size, max, limits[BNS_LIMIT_SWEEP_BYTES].env);
        return NULL;
    }
    size_t len;
    char *text = bns_read_file(path, &len);
    if (!text) return NULL;
    if (strlen(text) != len) {
        free(text);
        bns_fail("%s: contains a NUL byte (not a YAML text file)", path);
        return NULL;
    }
    return text;
}

/* ---- the tree ---- */

enum { Y_SCALAR, Y_SEQ, Y_MAP };

typedef struct ynode {
    int type;
    char *text;               /* Y_SCALAR */
    int plain;                /* unquoted scalar (may be null / a number) */
    int line, col;            /* 1-based, origin < 0 */
    int origin;               /* -1 the file, else the override's index */
    int n;                    /* items (Y_SEQ) or complete pairs (Y_MAP) */
    int len;                  /* entries in items */
    struct ynode **items;     /* Y_SEQ: n; Y_MAP: 2n, key then value */
} ynode;

static void ynode_free(ynode *n) {
    if (!n) return;
    for (int i = 0; i < n->len; i++) ynode_free(n->items[i]);
    free(n->items);
    free(n->text);
    free(n);
}

static ynode *ynode_new(int type, int origin, int line, int col) {
    ynode *n = bns_xcalloc(1, sizeof *n);
    n->type = type;
    n->origin = origin;
    n->line = line;
    n->col = col;
    return n;
}

static void ynode_push(ynode *n, ynode *child) {
    n->items = realloc(n->items, (size_t)(n->len + 1) * sizeof *n->items);
    if (!n->items) abort();
    n->items[n->len++] = child;
    n->n = n->type == Y_MAP ? n->len / 2 : n->len;
}

/* Copying libyaml's nodes into the tree expands every alias (*a) into a copy
 * of its anchor's node, so a few hundred bytes can name an exponential tree
 * ("billion laughs") or, through an alias inside its own anchor, an infinite
 * one. The copy is therefore bounded: a node met again on its own path is an
 * error (a cycle), the nesting is at most MAX_DEPTH, and the expanded tree's
 * size (EXPANDED_NODE_COST per node plus its text) at most the limit
 * BNS_LIMIT_EXPANDED_BYTES; every refusal names the file, line and column. */
#define EXPANDED_NODE_COST 64

typedef struct {
    yaml_document_t *doc;
    const char *where;
    int origin;
    int is_file;
    unsigned char *on_path;    /* per document node: being copied now */
    long long size, max_size;  /* expanded bytes so far, and the bound */
    long long max_items;       /* entries of one list or mapping */
} copier;

static int copy_fail(const copier *cp, const yaml_node_t *y, const char *fmt, ...) BNS_PRINTF(3, 4);
static int copy_fail(const copier *cp, const yaml_node_t *y, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cp->is_file)
        return bns_fail("%s:%zu:%zu: %s", cp->where, y->start_mark.line + 1, y->start_mark.column + 1, msg);
    return bns_fail("%s: %s", cp->where, msg);
}

static int copy_node(copier *cp, int index, int depth, ynode **out) {
    yaml_node_t *y = yaml_document_get_node(cp->doc, index);
    *out = NULL;
    if (!y) return bns_fail("%s: malformed YAML document (node %d missing)", cp->where, index);
    if (depth > MAX_DEPTH) return copy_fail(cp, y, "YAML nesting deeper than %d levels", MAX_DEPTH);
    if (cp->on_path[index])
        return copy_fail(cp, y, "an alias refers to a node that contains it (the value would be infinite)");
    size_t text_len = y->type == YAML_SCALAR_NODE ? y->data.scalar.length : 0;
    cp->size += EXPANDED_NODE_COST + (long long)text_len;
    if (cp->size > cp->max_size)
        return copy_fail(cp, y,
                         "aliases expand the document to more than %lld bytes (raise the limit with "
                         "BNNSWEEP_MAX_SWEEP_EXPANDED if this is intended)", cp->max_size);
    int line = (int)y->start_mark.line + 1, col = (int)y->start_mark.column + 1;
    ynode *n;
    int rc = 0;
    cp->on_path[index] = 1;
    switch (y->type) {
    case YAML_SCALAR_NODE:
        n = ynode_new(Y_SCALAR, cp->origin, line, col);
        n->text = bns_xmalloc(text_len + 1);
        memcpy(n->text, y->data.scalar.value, text_len);
        n->text[text_len] = '\0';
        n->plain = y->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        break;
    case YAML_SEQUENCE_NODE:
        n = ynode_new(Y_SEQ, cp->origin, line, col);
        for (yaml_node_item_t *it = y->data.sequence.items.start; rc == 0 && it < y->data.sequence.items.top; it++) {
            ynode *c;
            rc = copy_node(cp, *it, depth + 1, &c);
            if (rc == 0) ynode_push(n, c);
        }
        break;
    case YAML_MAPPING_NODE:
        n = ynode_new(Y_MAP, cp->origin, line, col);
        for (yaml_node_pair_t *p = y->data.mapping.pairs.start; rc == 0 && p < y->data.mapping.pairs.top; p++) {
            ynode *k, *v = NULL;
            rc = copy_node(cp, p->key, depth + 1, &k);
            if (rc == 0) rc = copy_node(cp, p->value, depth + 1, &v);
            if (rc == 0) {
                ynode_push(n, k);
                ynode_push(n, v);
            } else {
                ynode_free(k);
            }
        }
        break;
    default: n = NULL; rc = bns_fail("%s: malformed YAML document (empty node)", cp->where);
    }
    cp->on_path[index] = 0;
    if (rc == 0 && n->type != Y_SCALAR && n->n > cp->max_items)
        rc = copy_fail(cp, y, "%s with %d entries, more than %lld (the grid limit; raise it with "
                       "BNNSWEEP_MAX_GRID_POINTS if this is intended)", n->type == Y_MAP ? "a mapping" : "a list",
                       n->n, cp->max_items);
    if (rc) {
        ynode_free(n);
        return -1;
    }
    *out = n;
    return 0;
}

/* libyaml's scanner spends time proportional to the flow nesting depth on
 * every token, so "[[[[..." over a megabyte takes hours before the copy's
 * depth check could refuse it. This pass finds flow brackets outside quotes
 * and comments first and refuses nesting deeper than MAX_DEPTH with the line
 * and column. (A bracket inside a plain or block scalar counts too: only a
 * file with more than 64 unmatched ones there is refused by mistake.) */
static int check_flow_depth(const char *text, const char *where, int is_file) {
    int depth = 0, line = 1, col = 0;
    char quote = 0;
    for (const char *p = text; *p; p++) {
        col++;
        if (*p == '\n') {
            line++;
            col = 0;
            continue;
        }
        if (quote) {
            if (quote == '"' && *p == '\\' && p[1] && p[1] != '\n') p++, col++;
            else if (*p == quote && quote == '\'' && p[1] == '\'') p++, col++;
            else if (*p == quote) quote = 0;
            continue;
        }
        if (*p == '#' && (p == text || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n')) {
            while (p[1] && p[1] != '\n') p++;
            continue;
        }
        if (*p == '"' || *p == '\'') quote = *p;
        else if (*p == '[' || *p == '{') {
            if (++depth > MAX_DEPTH) {
                if (is_file) return bns_fail("%s:%d:%d: YAML nesting deeper than %d levels", where, line, col, MAX_DEPTH);
                return bns_fail("%s: YAML nesting deeper than %d levels", where, MAX_DEPTH);
            }
        } else if ((*p == ']' || *p == '}') && depth > 0) depth--;
    }
    return 0;
}

/* Parse YAML text into a tree. `where` names it in messages ("sweeps/x.yaml",
 * "override 'a=b'"). *out is NULL for an empty document. */
static int parse_yaml(const char *text, const char *where, int origin, int is_file, ynode **out) {
    yaml_parser_t parser;
    yaml_document_t doc;
    *out = NULL;
    if (check_flow_depth(text, where, is_file)) return -1;
    if (!yaml_parser_initialize(&parser)) return bns_fail("%s: cannot initialise the YAML parser", where);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    int rc = 0;
    if (!yaml_parser_load(&parser, &doc)) {
        if (is_file)
            rc = bns_fail("%s:%zu:%zu: YAML syntax error: %s%s%s", where, parser.problem_mark.line + 1,
                          parser.problem_mark.column + 1, parser.problem ? parser.problem : "?",
                          parser.context ? " " : "", parser.context ? parser.context : "");
        else
            rc = bns_fail("%s: YAML syntax error in the value: %s", where, parser.problem ? parser.problem : "?");
        yaml_parser_delete(&parser);
        return rc;
    }
    if (yaml_document_get_root_node(&doc)) {
        long long max_size = 0, max_items = 0;
        rc = bns_spec_limit(BNS_LIMIT_EXPANDED_BYTES, &max_size);
        if (rc == 0) rc = bns_spec_limit(BNS_LIMIT_GRID_POINTS, &max_items);
        size_t n_nodes = (size_t)(doc.nodes.top - doc.nodes.start);
        copier cp = {&doc, where, origin, is_file, NULL, 0, max_size, max_items};
        if (rc == 0) {
            cp.on_path = bns_xcalloc(n_nodes + 2, 1); /* node indices are 1-based */
            rc = copy_node(&cp, 1, 0, out);
            free(cp.on_path);
        }
    }
    yaml_document_delete(&doc);
    /* a second document would be silently ignored: refuse it */
    if (rc == 0 && *out && yaml_parser_load(&parser, &doc)) {
        if (yaml_document_get_root_node(&doc))
            rc = bns_fail("%s: more than one YAML document (---)", where);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    if (rc) {
        ynode_free(*out);
        *out = NULL;
    }
    return rc;
}

/* ---- errors with origins ---- */

typedef struct {
    const char *path;
    const char *const *overrides;
    bns_spec *spec;
    long long max_points;     /* BNS_LIMIT_GRID_POINTS */
} ctx;

/* "file:line:col: key: message" or "override 'x=y': key: message" */
static int fail_at(const ctx *c, const ynode *n, const char *key, const char *fmt, ...) BNS_PRINTF(4, 5);
static int fail_at(const ctx *c, const ynode *n, const char *key, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n && n->origin >= 0)
        return bns_fail("%s: override '%s': %s: %s", c->path, c->overrides[n->origin], key, msg);
    if (n) return bns_fail("%s:%d:%d: %s: %s", c->path, n->line, n->col, key, msg);
    return bns_fail("%s: %s: %s", c->path, key, msg);
}

/* the message just recorded, re-raised at a node (copied: bns_fail reuses the buffer) */
static int fail_last(const ctx *c, const ynode *n, const char *key) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", bns_last_error());
    return fail_at(c, n, key, "%s", msg);
}

/* "parent.key" (truncated to size: key paths only name things in messages) */
static void join_key(char *buf, size_t size, const char *parent, const char *key) {
    size_t used = 0;
    for (const char *s = parent && parent[0] ? parent : ""; *s && used + 1 < size; s++) buf[used++] = *s;
    if (used && used + 1 < size) buf[used++] = '.';
    for (const char *s = key; *s && used + 1 < size; s++) buf[used++] = *s;
    buf[used] = '\0';
}

static int is_null(const ynode *n) {
    return n->type == Y_SCALAR && n->plain &&
           (!n->text[0] || !strcmp(n->text, "~") || !strcmp(n->text, "null") || !strcmp(n->text, "Null") ||
            !strcmp(n->text, "NULL"));
}

static const char *type_name(const ynode *n) {
    return n->type == Y_MAP ? "a mapping" : n->type == Y_SEQ ? "a list" : "a single value";
}

/* a single, non-null value */
static int need_scalar(const ctx *c, const ynode *n, const char *key) {
    if (n->type != Y_SCALAR) return fail_at(c, n, key, "expected a single value, got %s", type_name(n));
    if (is_null(n)) return fail_at(c, n, key, "missing value");
    return 0;
}

/* keys must be plain text and unique, and each must be one of allowed (NULL:
 * any); lists the allowed ones on failure */
static int check_map(const ctx *c, const ynode *n, const char *key, const char *const *allowed) {
    if (n->type != Y_MAP) return fail_at(c, n, key, "expected a mapping, got %s", type_name(n));
    for (int i = 0; i < n->n; i++) {
        const ynode *k = n->items[2 * i];
        char sub[256];
        if (k->type != Y_SCALAR || !k->text[0]) return fail_at(c, k, key, "keys must be plain names");
        join_key(sub, sizeof sub, key, k->text);
        for (int j = 0; j < i; j++)
            if (!strcmp(n->items[2 * j]->text, k->text))
                return fail_at(c, k, sub, "duplicated key (first at line %d)", n->items[2 * j]->line);
        if (!allowed) continue;
        int found = 0;
        for (int a = 0; allowed[a]; a++) found |= !strcmp(allowed[a], k->text);
        if (!found) {
            char list[512] = "";
            for (int a = 0; allowed[a]; a++) {
                strncat(list, a ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, allowed[a], sizeof list - strlen(list) - 1);
            }
            return fail_at(c, k, sub, "unknown key (expected one of: %s)", list);
        }
    }
    return 0;
}

static const ynode *map_get(const ynode *n, const char *name) {
    if (!n || n->type != Y_MAP) return NULL;
    for (int i = 0; i < n->n; i++)
        if (n->items[2 * i]->type == Y_SCALAR && !strcmp(n->items[2 * i]->text, name)) return n->items[2 * i + 1];
    return NULL;
}

/* a list, or a single value standing for a one-element list */
static int list_items(const ctx *c, const ynode *n, const char *key, const ynode *const **items, int *count,
                      const ynode **one) {
    if (n->type == Y_SEQ) {
        *items = (const ynode *const *)n->items;
        *count = n->n;
        if (*count == 0) return fail_at(c, n, key, "empty list");
        for (int i = 0; i < n->n; i++)
            if (need_scalar(c, n->items[i], key)) return -1;
        return 0;
    }
    if (need_scalar(c, n, key)) return -1;
    *one = n;
    *items = one;
    *count = 1;
    return 0;
}

static int parse_long(const ctx *c, const ynode *n, const char *key, long lo, long hi, long *out) {
    if (need_scalar(c, n, key)) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(n->text, &end, 10);
    if (end == n->text || *end || errno) return fail_at(c, n, key, "'%s' is not an integer", n->text);
    if (v < lo || v > hi) return fail_at(c, n, key, "%lld is not in %ld..%ld", v, lo, hi);
    *out = (long)v;
    return 0;
}

static int parse_int(const ctx *c, const ynode *n, const char *key, int lo, int hi, int *out) {
    long v;
    if (parse_long(c, n, key, lo, hi, &v)) return -1;
    *out = (int)v;
    return 0;
}

static int parse_double(const ctx *c, const ynode *n, const char *key, double *out) {
    if (need_scalar(c, n, key)) return -1;
    char *end;
    errno = 0;
    double v = strtod(n->text, &end);
    if (end == n->text || *end || errno || !isfinite(v))
        return fail_at(c, n, key, "'%s' is not a finite number", n->text);
    *out = v;
    return 0;
}

static int parse_text(const ctx *c, const ynode *n, const char *key, char *out, size_t size) {
    if (need_scalar(c, n, key)) return -1;
    if (strlen(n->text) >= size) return fail_at(c, n, key, "longer than %zu characters", size - 1);
    memcpy(out, n->text, strlen(n->text) + 1);
    return 0;
}

/* group, attack and evaluation names become parts of task names and paths */
static int check_name(const ctx *c, const ynode *k, const char *key) {
    size_t len = strlen(k->text);
    if (len == 0 || len >= BNS_SPEC_NAME_LEN)
        return fail_at(c, k, key, "names must have 1..%d characters", BNS_SPEC_NAME_LEN - 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)k->text[i];
        if (!isalnum(ch) && ch != '_' && ch != '-')
            return fail_at(c, k, key, "names may only hold letters, digits, '_' and '-'");
    }
    return 0;
}

/* ---- attack settings by key (the settings table, attack_settings.h) ---- */

int bns_spec_attack_set(bns_attack_settings *s, const char *key, const char *value) {
    const bns_attack_setting *f = bns_attack_setting_by_key(key);
    if (!f) return bns_fail("unknown attack setting '%s'", key);
    return bns_attack_setting_parse(f, s, value, BNS_ASET_FROM_SWEEP);
}

static void format_double(char *buf, size_t size, double v) { snprintf(buf, size, "%.17g", v); }

/* append "key=value\n", keeping the buffer NUL-terminated when it is full */
static void append_line(char *buf, size_t size, size_t *used, const char *key, const char *value) {
    if (*used >= size) return;
    int w = snprintf(buf + *used, size - *used, "%s=%s\n", key, value);
    if (w > 0) *used += (size_t)w;
    if (*used >= size) *used = size;
}

static int cmp_setting_keys(const void *a, const void *b) {
    const bns_attack_setting *const *x = a, *const *y = b;
    return strcmp((*x)->key, (*y)->key);
}

void bns_spec_attack_canonical(const bns_attack_settings *s, char *buf, size_t size) {
    /* every row with a key, sorted by key: this order is the canonical text's */
    const bns_attack_setting *sorted[64];
    int n = 0;
    for (const bns_attack_setting *f = bns_attack_setting_table(); (f->name || f->key) && n < 64; f++) {
        if (!f->key) continue;
        if (f->flags & BNS_ASET_OMIT_DEFAULT) { /* keyed only when set: older keys stay */
            const char *field = (const char *)s + f->offset;
            double v = f->type == BNS_ASET_DOUBLE ? *(const double *)field : (double)*(const int *)field;
            if (v == f->def) continue;
        }
        sorted[n++] = f;
    }
    qsort(sorted, (size_t)n, sizeof sorted[0], cmp_setting_keys);
    size_t used = 0;
    if (size) buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        char v[64];
        bns_attack_setting_format(sorted[i], s, 1, v, sizeof v);
        append_line(buf, size, &used, sorted[i]->key, v);
    }
}

static int cmp_field_names(const void *a, const void *b) {
    const bns_config_field *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static void config_canonical(const bns_config *cfg, int with_evaluation, char *buf, size_t size) {
    const bns_config_field *sorted[160];
    int n = 0;
    /* shared rows and the method's own rows: another method's settings are
     * not part of this model (and adding a method never changes a key) */
    for (const bns_config_field *f = bns_config_fields(); f->name && n < 160; f++)
        if (strcmp(f->name, "task") != 0 && bns_config_field_applies(cfg, f) && (with_evaluation || !f->evaluation))
            sorted[n++] = f;
    qsort(sorted, (size_t)n, sizeof sorted[0], cmp_field_names);
    size_t used = 0;
    if (size) buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        char v[128];
        if (sorted[i]->type == BNS_FIELD_DOUBLE) format_double(v, sizeof v, *(const double *)((const char *)cfg + sorted[i]->offset));
        else bns_config_format_field(cfg, sorted[i], v, sizeof v);
        append_line(buf, size, &used, sorted[i]->name, v);
    }
}

void bns_spec_config_canonical(const bns_config *cfg, char *buf, size_t size) { config_canonical(cfg, 1, buf, size); }
void bns_spec_training_canonical(const bns_config *cfg, char *buf, size_t size) { config_canonical(cfg, 0, buf, size); }

/* ---- names ---- */

static const char *const eval_kind_names[] = {"robustness", "ensembles", "pruning", "ood", "detection", NULL};
static const char *const ood_names[] = {"fashion", "gaussian", "uniform", "notmnist", "omniglot", "cifar10", NULL};

const char *bns_eval_kind_name(int kind) { return kind >= 0 && kind <= BNS_EVAL_DETECTION ? eval_kind_names[kind] : "?"; }
int bns_eval_kind_parse(const char *name) {
    for (int i = 0; eval_kind_names[i]; i++)
        if (!strcmp(eval_kind_names[i], name)) return i;
    return -1;
}
const char *bns_ood_set_name(int set) { return set >= 0 && set < BNS_OOD_COUNT ? ood_names[set] : "?"; }
int bns_ood_set_parse(const char *name) {
    for (int i = 0; ood_names[i]; i++)
        if (!strcmp(ood_names[i], name)) return i;
    return -1;
}

/* ---- grids ---- */

long bns_spec_axes_points(const bns_spec_axis *axes, int n_axes) {
    long points = 1;
    for (int i = 0; i < n_axes; i++) points *= axes[i].n_values;
    return points;
}

void bns_spec_axes_decode(const bns_spec_axis *axes, int n_axes, long index, int *value_index) {
    /* mixed radix, the first axis varying slowest (file order reads naturally) */
    for (int i = n_axes - 1; i >= 0; i--) {
        value_index[i] = (int)(index % axes[i].n_values);
        index /= axes[i].n_values;
    }
}

int bns_spec_group_point(const bns_spec_group *g, long index, bns_config *cfg) {
    int vi[BNS_SPEC_MAX_AXES];
    *cfg = g->base;
    bns_spec_axes_decode(g->axes, g->n_axes, index, vi);
    for (int i = 0; i < g->n_axes; i++)
        if (bns_config_set(cfg, g->axes[i].key, g->axes[i].values[vi[i]])) return -1;
    return 0;
}

int bns_spec_attack_point(const bns_spec_attack *a, long index, bns_attack_settings *s) {
    int vi[BNS_SPEC_MAX_AXES];
    *s = a->base;
    bns_spec_axes_decode(a->axes, a->n_axes, index, vi);
    for (int i = 0; i < a->n_axes; i++)
        if (bns_spec_attack_set(s, a->axes[i].key, a->axes[i].values[vi[i]])) return -1;
    return 0;
}

/* A grid axis from a list node: each value parsed by `set` into scratch (to
 * check its type), stored in canonical text (so 1e-4 and 0.0001 are one
 * value and name tasks alike), duplicates refused. */
typedef int (*setter)(void *target, const char *key, const char *value);
typedef void (*formatter)(const void *target, const char *key, char *buf, size_t size);

static int cfg_setter(void *t, const char *k, const char *v) { return bns_config_set(t, k, v); }
static void cfg_format(const void *t, const char *k, char *buf, size_t size) {
    bns_config_format_field(t, bns_config_field_find(k), buf, size);
}
static int attack_setter(void *t, const char *k, const char *v) { return bns_spec_attack_set(t, k, v); }
static void attack_format(const void *t, const char *k, char *buf, size_t size) {
    bns_attack_setting_format(bns_attack_setting_by_key(k), t, 0, buf, size);
}

static int read_axis(const ctx *c, const ynode *n, const char *key, const char *setting, void *scratch,
                     setter set, formatter fmt, bns_spec_axis *axis) {
    memset(axis, 0, sizeof *axis);
    snprintf(axis->key, sizeof axis->key, "%s", setting);
    axis->line = n->origin < 0 ? n->line : 0;
    if (n->n == 0) return fail_at(c, n, key, "empty grid");
    axis->values = bns_xcalloc((size_t)n->n, sizeof *axis->values);
    for (int i = 0; i < n->n; i++) {
        const ynode *v = n->items[i];
        if (need_scalar(c, v, key)) return -1;
        if (set(scratch, setting, v->text)) return fail_last(c, v, key);
        char text[BNS_SPEC_VALUE_LEN + 1];
        fmt(scratch, setting, text, sizeof text);
        if (strlen(text) >= BNS_SPEC_VALUE_LEN) return fail_at(c, v, key, "value longer than %d characters", BNS_SPEC_VALUE_LEN - 1);
        for (int j = 0; j < axis->n_values; j++)
            if (!strcmp(axis->values[j], text))
                return fail_at(c, v, key, "duplicated grid value %s (item %d repeats item %d)", v->text, i + 1, j + 1);
        memcpy(axis->values[axis->n_values++], text, strlen(text) + 1);
    }
    return 0;
}

/* ---- sections ---- */

static const char *const top_keys[] = {"name", "seed", "data", "train", "models", "attacks", "evaluations", "active", NULL};
static const char *const data_keys[] = {"pixel_scale", "train_limit", "test_limit", "notmnist", "omniglot", "cifar10",
                                        "dataset", "data_path", NULL};

/* settings a sweep may not set in train: or a group */
static int reserved_setting(const ctx *c, const ynode *k, const char *key) {
    if (!strcmp(k->text, "task")) return fail_at(c, k, key, "the task id is set by the planner (the task's key)");
    if (!strcmp(k->text, "pixel_scale") || !strcmp(k->text, "train_limit") || !strcmp(k->text, "dataset") ||
        !strcmp(k->text, "data_path"))
        return fail_at(c, k, key, "set it in data: (every model and set shares it)");
    return 0;
}

static int read_data(const ctx *c, const ynode *n, bns_spec *s) {
    if (check_map(c, n, "data", data_keys)) return -1;
    for (int i = 0; i < n->n; i++) {
        const ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
        char key[256];
        join_key(key, sizeof key, "data", k->text);
        int rc = 0;
        if (!strcmp(k->text, "pixel_scale")) {
            rc = parse_double(c, v, key, &s->pixel_scale);
            if (!rc && !(s->pixel_scale > 0)) rc = fail_at(c, v, key, "must be positive");
        } else if (!strcmp(k->text, "train_limit")) rc = parse_long(c, v, key, 0, 1000000000L, &s->train_limit);
        else if (!strcmp(k->text, "test_limit")) rc = parse_long(c, v, key, 0, 1000000000L, &s->test_limit);
        else if (!strcmp(k->text, "notmnist")) rc = parse_text(c, v, key, s->notmnist, sizeof s->notmnist);
        else if (!strcmp(k->text, "omniglot")) rc = parse_text(c, v, key, s->omniglot, sizeof s->omniglot);
        else if (!strcmp(k->text, "cifar10")) rc = parse_text(c, v, key, s->cifar10, sizeof s->cifar10);
        else if (!strcmp(k->text, "data_path")) rc = parse_text(c, v, key, s->data_path, sizeof s->data_path);
        else if (!strcmp(k->text, "dataset")) { /* the training setting's names and errors (config.h) */
            bns_config scratch;
            bns_config_defaults(&scratch);
            rc = need_scalar(c, v, key) ? -1 : bns_config_set(&scratch, "dataset", v->text) ? fail_last(c, v, key) : 0;
            s->dataset = scratch.dataset;
        }
        if (rc) return -1;
    }
    return 0;
}

static int read_train(const ctx *c, const ynode *n, bns_config *base) {
    if (check_map(c, n, "train", NULL)) return -1;
    for (int i = 0; i < n->n; i++) {
        const ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
        char key[256];
        join_key(key, sizeof key, "train", k->text);
        if (!bns_config_field_find(k->text)) return fail_at(c, k, key, "unknown key (not a training setting; see bnnsweep train --help)");
        if (reserved_setting(c, k, key)) return -1;
        if (v->type == Y_SEQ) return fail_at(c, v, key, "a single value (grids belong in a model group under models:)");
        if (need_scalar(c, v, key)) return -1;
        if (bns_config_set(base, k->text, v->text)) return fail_last(c, v, key);
    }
    return 0;
}

static int check_group_point(const bns_config *cfg) {
    /* the size first: validating "FC-12000-215010" must not allocate 10 GB */
    bns_arch arch;
    long long max_weights;
    if (bns_arch_parse(cfg->arch, bns_data_inputs(cfg->dataset), &arch) ||
        bns_spec_limit(BNS_LIMIT_WEIGHTS, &max_weights))
        return -1;
    if ((long long)arch.n_weights > max_weights)
        return bns_fail("arch %s has %zu weights, more than %lld (raise the limit with %s if this is intended)",
                        cfg->arch, arch.n_weights, max_weights, limits[BNS_LIMIT_WEIGHTS].env);
    bns_model m;
    if (bns_model_alloc(cfg, bns_data_inputs(cfg->dataset), &m)) return -1;
    bns_model_free(&m);
    return 0;
}

void bns_spec_point_label(const bns_spec_axis *axes, int n_axes, long index, char *buf, size_t size) {
    int vi[BNS_SPEC_MAX_AXES];
    bns_spec_axes_decode(axes, n_axes, index, vi);
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n_axes && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%s=%s", i ? "," : "", axes[i].key, axes[i].values[vi[i]]);
        if (w > 0) used += (size_t)w;
    }
}

static int read_group(const ctx *c, const ynode *k, const ynode *n, const bns_config *base, bns_spec_group *g) {
    char key[256];
    join_key(key, sizeof key, "models", k->text);
    if (check_name(c, k, key) || check_map(c, n, key, NULL)) return -1;
    memset(g, 0, sizeof *g);
    g->teacher = -1;
    snprintf(g->name, sizeof g->name, "%s", k->text);
    g->base = *base;
    g->line = k->origin < 0 ? k->line : 0;
    /* single values first: a grid's values are checked against the final base */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n->n; i++) {
            const ynode *sk = n->items[2 * i], *v = n->items[2 * i + 1];
            char sub[256];
            join_key(sub, sizeof sub, key, sk->text);
            if (pass == 0) {
                if (!bns_config_field_find(sk->text))
                    return fail_at(c, sk, sub, "unknown key (not a training setting; see bnnsweep train --help)");
                if (reserved_setting(c, sk, sub)) return -1;
            }
            if ((v->type == Y_SEQ) != (pass == 1)) continue;
            if (pass == 0) {
                if (need_scalar(c, v, sub)) return -1;
                if (bns_config_set(&g->base, sk->text, v->text)) return fail_last(c, v, sub);
            } else {
                if (g->n_axes == BNS_SPEC_MAX_AXES) return fail_at(c, v, sub, "more than %d grid axes", BNS_SPEC_MAX_AXES);
                bns_config scratch = g->base;
                if (read_axis(c, v, sub, sk->text, &scratch, cfg_setter, cfg_format, &g->axes[g->n_axes++])) return -1;
                if (bns_spec_axes_points(g->axes, g->n_axes) > c->max_points)
                    return fail_at(c, v, sub, "the grid has more than %lld points (raise the limit with "
                                   "BNNSWEEP_MAX_GRID_POINTS if this is intended)", c->max_points);
            }
        }
    }
    /* every point must be a model that can be built (method, prior, arch) */
    long points = bns_spec_axes_points(g->axes, g->n_axes);
    for (long p = 0; p < points; p++) {
        bns_config cfg;
        if (bns_spec_group_point(g, p, &cfg) || check_group_point(&cfg)) {
            char where[512], msg[1024];
            snprintf(msg, sizeof msg, "%s", bns_last_error());
            bns_spec_point_label(g->axes, g->n_axes, p, where, sizeof where);
            return fail_at(c, k, key, "impossible combination%s%s: %s", where[0] ? " at " : "", where, msg);
        }
    }
    return 0;
}

static int find_group(const bns_spec *s, const char *name) {
    for (int i = 0; i < s->n_groups; i++)
        if (!strcmp(s->groups[i].name, name)) return i;
    return -1;
}

static int find_attack(const bns_spec *s, const char *name) {
    for (int i = 0; i < s->n_attacks; i++)
        if (!strcmp(s->attacks[i].name, name)) return i;
    return -1;
}

int bns_spec_same_arch(const bns_config *a, const bns_config *b) {
    bns_arch x, y;
    if (bns_arch_parse(a->arch, bns_data_inputs(a->dataset), &x) || bns_arch_parse(b->arch, bns_data_inputs(b->dataset), &y))
        return 0;
    return x.n_layers == y.n_layers && !memcmp(x.width, y.width, sizeof x.width);
}

/* A distilling method's `teacher: NAME` that names a model group (METHODS.md
 * s.10, offline APD): each point distils that group's models of its arch, as
 * task dependencies (plan.c). One level only: a teacher group has no group
 * teacher of its own. Any other value stays a model file path. */
static int read_teachers(const ctx *c, const ynode *models, bns_spec *s) {
    const bns_config_field *f = bns_config_field_find("teacher");
    if (!f) return 0;
    for (int i = 0; i < s->n_groups; i++) {
        const ynode *k = models->items[2 * i], *v = map_get(models->items[2 * i + 1], "teacher");
        bns_spec_group *g = &s->groups[i];
        char key[256];
        join_key(key, sizeof key, "models", k->text);
        if (!v || !bns_config_field_applies(&g->base, f)) continue;
        join_key(key, sizeof key, key, "teacher");
        if (v->type == Y_SEQ) {
            for (int j = 0; j < v->n; j++)
                if (v->items[j]->type == Y_SCALAR && find_group(s, v->items[j]->text) >= 0)
                    return fail_at(c, v, key, "a teacher group is a single value, not a grid");
            continue;
        }
        int t = find_group(s, bns_config_get_string(&g->base, "teacher"));
        if (t < 0) continue;
        if (t == i) return fail_at(c, v, key, "group '%s' cannot be its own teacher", g->name);
        g->teacher = t;
    }
    for (int i = 0; i < s->n_groups; i++) {
        const bns_spec_group *g = &s->groups[i];
        if (g->teacher < 0) continue;
        const bns_spec_group *tg = &s->groups[g->teacher];
        char key[256];
        join_key(key, sizeof key, "models", g->name);
        join_key(key, sizeof key, key, "teacher");
        const ynode *v = map_get(models->items[2 * i + 1], "teacher");
        if (tg->teacher >= 0)
            return fail_at(c, v, key, "teacher group '%s' distils group '%s' itself (one level of teachers only)",
                           tg->name, s->groups[tg->teacher].name);
        long points = bns_spec_axes_points(g->axes, g->n_axes), tpoints = bns_spec_axes_points(tg->axes, tg->n_axes);
        for (long p = 0; p < points; p++) {
            bns_config cfg, tcfg;
            int found = 0;
            if (bns_spec_group_point(g, p, &cfg)) return fail_last(c, v, key);
            for (long q = 0; q < tpoints && !found; q++) {
                if (bns_spec_group_point(tg, q, &tcfg)) return fail_last(c, v, key);
                found = bns_spec_same_arch(&cfg, &tcfg);
            }
            if (!found) return fail_at(c, v, key, "teacher group '%s' has no model of arch %s", tg->name, cfg.arch);
        }
    }
    return 0;
}

/* a list of model group names */
static int read_group_refs(const ctx *c, const ynode *n, const char *key, int *refs, int *count) {
    const ynode *const *items, *one;
    int n_items;
    if (list_items(c, n, key, &items, &n_items, &one)) return -1;
    if (n_items > BNS_SPEC_MAX_REFS) return fail_at(c, n, key, "more than %d names", BNS_SPEC_MAX_REFS);
    *count = 0;
    for (int i = 0; i < n_items; i++) {
        int g = find_group(c->spec, items[i]->text);
        if (g < 0) return fail_at(c, items[i], key, "missing reference: no model group '%s' under models:", items[i]->text);
        for (int j = 0; j < *count; j++)
            if (refs[j] == g) return fail_at(c, items[i], key, "'%s' is named twice", items[i]->text);
        refs[(*count)++] = g;
    }
    return 0;
}

static int read_attack(const ctx *c, const ynode *k, const ynode *n, bns_spec_attack *a) {
    char key[256];
    join_key(key, sizeof key, "attacks", k->text);
    if (check_name(c, k, key) || check_map(c, n, key, NULL)) return -1;
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", k->text);
    a->line = k->origin < 0 ? k->line : 0;
    /* the kind sets the defaults of everything else */
    const ynode *kind_node = map_get(n, "attack");
    char sub[256];
    int kind;
    if (kind_node) {
        join_key(sub, sizeof sub, key, "attack");
        if (need_scalar(c, kind_node, sub)) return -1;
        kind = bns_attack_kind_parse(kind_node->text);
        if (kind < 0) {
            char names[512];
            bns_attack_names(names, sizeof names, ", ", ", ");
            return fail_at(c, kind_node, sub, "'%s' is not one of %s", kind_node->text, names);
        }
    } else {
        kind = bns_attack_kind_parse(a->name);
        if (kind < 0) {
            char names[512];
            bns_attack_names(names, sizeof names, ", ", " or ");
            return fail_at(c, k, key, "missing key 'attack' (%s)", names);
        }
    }
    bns_attack_defaults(&a->base, kind);
    a->base.seed = c->spec->seed;
    const ynode *sources = map_get(n, "sources");
    join_key(sub, sizeof sub, key, "sources");
    if (!sources) return fail_at(c, k, key, "missing key 'sources' (the model group(s) to attack)");
    if (read_group_refs(c, sources, sub, a->sources, &a->n_sources)) return -1;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n->n; i++) {
            const ynode *sk = n->items[2 * i], *v = n->items[2 * i + 1];
            if (!strcmp(sk->text, "attack") || !strcmp(sk->text, "sources")) continue;
            join_key(sub, sizeof sub, key, sk->text);
            if (!strcmp(sk->text, "clean") || !strcmp(sk->text, "rows")) { /* the attacked images, not a setting */
                if (pass == 1) continue;
                if (!strcmp(sk->text, "rows")) {
                    if (parse_long(c, v, sub, 1, 1000000000L, &a->rows)) return -1;
                    continue;
                }
                if (need_scalar(c, v, sub)) return -1;
                if (!strcmp(v->text, "val")) a->clean_set = BNS_SET_VAL;
                else if (strcmp(v->text, "test") != 0) return fail_at(c, v, sub, "'%s' is not one of test, val", v->text);
                continue;
            }
            const bns_attack_setting *f = bns_attack_setting_by_key(sk->text);
            if (!f || !(f->flags & BNS_ASET_SWEEP)) {
                if (f && !strcmp(f->key, "seed")) return fail_at(c, sk, sub, "the seed is the sweep's (top-level seed:)");
                return fail_at(c, sk, sub, "unknown key (not an attack setting; see bnnsweep attack --help)");
            }
            if ((v->type == Y_SEQ) != (pass == 1)) continue;
            if (pass == 0) {
                if (need_scalar(c, v, sub)) return -1;
                if (bns_spec_attack_set(&a->base, sk->text, v->text)) return fail_last(c, v, sub);
            } else {
                if (a->n_axes == BNS_SPEC_MAX_AXES) return fail_at(c, v, sub, "more than %d grid axes", BNS_SPEC_MAX_AXES);
                bns_attack_settings scratch = a->base;
                if (read_axis(c, v, sub, sk->text, &scratch, attack_setter, attack_format, &a->axes[a->n_axes++]))
                    return -1;
                if (bns_spec_axes_points(a->axes, a->n_axes) > c->max_points)
                    return fail_at(c, v, sub, "the grid has more than %lld points (raise the limit with "
                                   "BNNSWEEP_MAX_GRID_POINTS if this is intended)", c->max_points);
            }
        }
    }
    /* every attack point against every source model shape */
    long points = bns_spec_axes_points(a->axes, a->n_axes);
    for (int si = 0; si < a->n_sources; si++) {
        const bns_spec_group *g = &c->spec->groups[a->sources[si]];
        long gpoints = bns_spec_axes_points(g->axes, g->n_axes);
        for (long gp = 0; gp < gpoints; gp++) {
            bns_model m;
            memset(&m, 0, sizeof m);
            if (bns_spec_group_point(g, gp, &m.cfg) ||
                bns_arch_parse(m.cfg.arch, bns_data_inputs(m.cfg.dataset), &m.arch))
                return -1;
            for (long p = 0; p < points; p++) {
                bns_attack_settings s;
                if (bns_spec_attack_point(a, p, &s) || bns_attack_validate(&s, &m)) {
                    char where[512], msg[1024];
                    snprintf(msg, sizeof msg, "%s", bns_last_error());
                    bns_spec_point_label(a->axes, a->n_axes, p, where, sizeof where);
                    return fail_at(c, k, key, "impossible combination%s%s against group '%s': %s", where[0] ? " at " : "",
                                   where, g->name, msg);
                }
            }
        }
    }
    return 0;
}

static const char *const eval_keys[5][8] = {
    {"kind", "models", "sets", "runs", NULL},
    {"kind", "models", "sets", "ensemble", "runs", NULL},
    {"kind", "models", "sets", "rates", "samples", NULL},
    {"kind", "models", "ood", "scores", "samples", "rows", NULL},
    {"kind", "models", "sets", "scores", "samples", NULL},
};

/* *any = 1 when some point of the group has a method with the capability
 * `cap` (method may be a grid axis); *method = the first one that lacks it. */
static int group_has_caps(const bns_spec_group *g, unsigned cap, int *any, char *method, size_t size) {
    long points = bns_spec_axes_points(g->axes, g->n_axes);
    *any = 0;
    method[0] = '\0';
    for (long p = 0; p < points; p++) {
        bns_config cfg;
        if (bns_spec_group_point(g, p, &cfg)) return -1;
        const bns_method *m = bns_method_find(cfg.method);
        if (m && (bns_method_caps(m, &cfg) & cap) == cap) *any = 1;
        else if (!method[0]) snprintf(method, size, "%s", cfg.method);
    }
    return 0;
}

static int read_eval(const ctx *c, const ynode *k, const ynode *n, bns_spec_eval *e) {
    char key[256], sub[256];
    join_key(key, sizeof key, "evaluations", k->text);
    if (check_name(c, k, key)) return -1;
    if (n->type != Y_MAP) return fail_at(c, n, key, "expected a mapping, got %s", type_name(n));
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", k->text);
    e->line = k->origin < 0 ? k->line : 0;
    const ynode *kind_node = map_get(n, "kind");
    if (kind_node) {
        join_key(sub, sizeof sub, key, "kind");
        if (need_scalar(c, kind_node, sub)) return -1;
        e->kind = bns_eval_kind_parse(kind_node->text);
        if (e->kind < 0)
            return fail_at(c, kind_node, sub, "'%s' is not one of robustness, ensembles, pruning, ood, detection",
                           kind_node->text);
    } else {
        e->kind = bns_eval_kind_parse(e->name);
        if (e->kind < 0) return fail_at(c, k, key, "missing key 'kind' (robustness, ensembles, pruning, ood or detection)");
    }
    if (check_map(c, n, key, eval_keys[e->kind])) return -1;
    /* defaults (METHODS.md s.4, s.6) */
    e->runs = 100;
    e->samples = 100;
    e->n_sets = 1;
    e->sets[0].kind = BNS_SET_TEST;
    static const int default_ensemble[] = {1, 5, 10, 25, 100};
    if (e->kind == BNS_EVAL_ENSEMBLES) {
        e->n_ensemble = 5;
        memcpy(e->ensemble, default_ensemble, sizeof default_ensemble);
    }
    if (e->kind == BNS_EVAL_OOD) {
        e->n_sets = 0;
        e->n_ood = 3;
        e->ood[0] = BNS_OOD_FASHION;
        e->ood[1] = BNS_OOD_GAUSSIAN;
        e->ood[2] = BNS_OOD_UNIFORM;
        e->scores = (1u << BNS_SCORE_COUNT) - 1;
    }
    if (e->kind == BNS_EVAL_DETECTION) {
        e->n_sets = 0;
        e->scores = (1u << BNS_SCORE_COUNT) - 1;
    }
    const ynode *models = map_get(n, "models");
    if (!models) return fail_at(c, k, key, "missing key 'models' (the model group(s) to evaluate)");
    join_key(sub, sizeof sub, key, "models");
    if (read_group_refs(c, models, sub, e->models, &e->n_models)) return -1;
    if (e->kind == BNS_EVAL_ENSEMBLES || e->kind == BNS_EVAL_PRUNING) {
        for (int i = 0; i < e->n_models; i++) {
            /* ensembles need samples that differ; pruning a per-weight mean and std.
             * A group's models without it are left out (plan.c): e.g. the
             * mc_dropout = 0 view in a grid over mc_dropout; none is an error. */
            unsigned cap = e->kind == BNS_EVAL_ENSEMBLES ? BNS_CAP_STOCHASTIC : BNS_CAP_SNR;
            int ok;
            char method[64];
            if (group_has_caps(&c->spec->groups[e->models[i]], cap, &ok, method, sizeof method))
                return fail_last(c, models, sub);
            if (!ok)
                return fail_at(c, models, sub, "impossible combination: %s needs a model %s, and group '%s' has "
                               "method %s", bns_eval_kind_name(e->kind),
                               cap == BNS_CAP_STOCHASTIC ? "whose weight samples differ (a posterior)"
                                                         : "with a per-weight mean and std (SNR)",
                               c->spec->groups[e->models[i]].name, method);
        }
    }
    for (int i = 0; i < n->n; i++) {
        const ynode *sk = n->items[2 * i], *v = n->items[2 * i + 1];
        join_key(sub, sizeof sub, key, sk->text);
        const ynode *const *items, *one;
        int count;
        if (!strcmp(sk->text, "runs")) {
            if (parse_int(c, v, sub, 1, 1000000, &e->runs)) return -1;
        } else if (!strcmp(sk->text, "samples")) {
            if (parse_int(c, v, sub, 1, 1000000, &e->samples)) return -1;
        } else if (!strcmp(sk->text, "rows")) {
            if (parse_long(c, v, sub, 1, 1000000000L, &e->rows)) return -1;
        } else if (!strcmp(sk->text, "sets")) {
            if (list_items(c, v, sub, &items, &count, &one)) return -1;
            if (count > BNS_SPEC_MAX_REFS) return fail_at(c, v, sub, "more than %d sets", BNS_SPEC_MAX_REFS);
            e->n_sets = 0;
            for (int j = 0; j < count; j++) {
                bns_spec_set set = {BNS_SET_TEST, -1};
                if (!strcmp(items[j]->text, "test")) set.kind = BNS_SET_TEST;
                else if (!strcmp(items[j]->text, "val")) set.kind = BNS_SET_VAL;
                else if ((set.attack = find_attack(c->spec, items[j]->text)) >= 0) set.kind = BNS_SET_ATTACK;
                else
                    return fail_at(c, items[j], sub, "missing reference: '%s' is neither test, val nor an attack under attacks:",
                                   items[j]->text);
                for (int m = 0; m < e->n_sets; m++)
                    if (e->sets[m].kind == set.kind && e->sets[m].attack == set.attack)
                        return fail_at(c, items[j], sub, "'%s' is named twice", items[j]->text);
                e->sets[e->n_sets++] = set;
            }
        } else if (!strcmp(sk->text, "ensemble")) {
            if (list_items(c, v, sub, &items, &count, &one)) return -1;
            if (count > BNS_SPEC_MAX_LIST) return fail_at(c, v, sub, "more than %d sizes", BNS_SPEC_MAX_LIST);
            e->n_ensemble = 0;
            for (int j = 0; j < count; j++) {
                int size;
                if (parse_int(c, items[j], sub, 1, 1000000, &size)) return -1;
                for (int m = 0; m < e->n_ensemble; m++)
                    if (e->ensemble[m] == size) return fail_at(c, items[j], sub, "duplicated value %d", size);
                e->ensemble[e->n_ensemble++] = size;
            }
        } else if (!strcmp(sk->text, "rates")) {
            if (list_items(c, v, sub, &items, &count, &one)) return -1;
            if (count > BNS_SPEC_MAX_LIST) return fail_at(c, v, sub, "more than %d rates", BNS_SPEC_MAX_LIST);
            e->n_rates = 0;
            for (int j = 0; j < count; j++) {
                double r = 0;
                if (parse_double(c, items[j], sub, &r)) return -1;
                if (!(r >= 0 && r <= 1)) return fail_at(c, items[j], sub, "rate %g is not in [0, 1]", r);
                for (int m = 0; m < e->n_rates; m++)
                    if (e->rates[m] == r) return fail_at(c, items[j], sub, "duplicated value %s", items[j]->text);
                e->rates[e->n_rates++] = r;
            }
        } else if (!strcmp(sk->text, "ood")) {
            if (list_items(c, v, sub, &items, &count, &one)) return -1;
            e->n_ood = 0;
            for (int j = 0; j < count; j++) {
                int o = bns_ood_set_parse(items[j]->text);
                if (o < 0)
                    return fail_at(c, items[j], sub, "'%s' is not one of fashion, gaussian, uniform, notmnist, omniglot, cifar10",
                                   items[j]->text);
                for (int m = 0; m < e->n_ood; m++)
                    if (e->ood[m] == o) return fail_at(c, items[j], sub, "'%s' is named twice", items[j]->text);
                if (o == BNS_OOD_NOTMNIST && !c->spec->notmnist[0])
                    return fail_at(c, items[j], sub, "missing reference: notmnist needs data.notmnist (its path)");
                if (o == BNS_OOD_OMNIGLOT && !c->spec->omniglot[0])
                    return fail_at(c, items[j], sub, "missing reference: omniglot needs data.omniglot (its zip)");
                if (o == BNS_OOD_CIFAR10 && !c->spec->cifar10[0])
                    return fail_at(c, items[j], sub, "missing reference: cifar10 needs data.cifar10 (test_batch.bin or its directory)");
                e->ood[e->n_ood++] = o;
            }
        } else if (!strcmp(sk->text, "scores")) {
            if (list_items(c, v, sub, &items, &count, &one)) return -1;
            e->scores = 0;
            for (int j = 0; j < count; j++) {
                int sc = bns_score_parse(items[j]->text);
                if (sc < 0) return fail_last(c, items[j], sub);
                if (e->scores & (1u << sc)) return fail_at(c, items[j], sub, "'%s' is named twice", items[j]->text);
                e->scores |= 1u << sc;
            }
        }
    }
    if (e->kind == BNS_EVAL_PRUNING && e->n_rates == 0)
        return fail_at(c, k, key, "missing key 'rates' (pruning rates in [0, 1])");
    if (e->kind == BNS_EVAL_DETECTION) { /* adversarial sets against their clean rows (METHODS.md s.12) */
        if (e->n_sets == 0) return fail_at(c, k, key, "missing key 'sets' (the attacks whose sets are detected)");
        for (int i = 0; i < e->n_sets; i++)
            if (e->sets[i].kind != BNS_SET_ATTACK)
                return fail_at(c, map_get(n, "sets"), key, "detection sets must be attacks (%s is clean data)",
                               e->sets[i].kind == BNS_SET_VAL ? "val" : "test");
    }
    return 0;
}

/* ---- active learning (active.h) ---- */

static const char *const active_keys[] = {"models", "scores", "seeds", "initial", "acquire", "rounds",
                                          "pool", "samples", "val_rows", "warm_start", NULL};

static int read_active(const ctx *c, const ynode *k, const ynode *n, bns_spec_active *a) {
    char key[256], sub[256];
    join_key(key, sizeof key, "active", k->text);
    if (check_name(c, k, key) || check_map(c, n, key, active_keys)) return -1;
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", k->text);
    a->line = k->origin < 0 ? k->line : 0;
    /* defaults: Wang et al.'s public code (METHODS.md s.12) */
    a->scores = (1u << BNS_ACQ_COUNT) - 1;
    a->n_seeds = 1;
    a->seeds[0] = c->spec->seed;
    a->initial = 20;
    a->acquire = 10;
    a->rounds = 50;
    a->samples = 50;
    /* Gal, Islam & Ghahramani 2017 validate on 100 images: a labelled
     * validation set much larger than the labelled training set would be
     * labels the learner did not pay for (not in METHODS.md) */
    a->val_rows = 100;
    const ynode *models = map_get(n, "models");
    if (!models) return fail_at(c, k, key, "missing key 'models' (the model group(s) whose recipes learn)");
    join_key(sub, sizeof sub, key, "models");
    if (read_group_refs(c, models, sub, a->models, &a->n_models)) return -1;
    for (int i = 0; i < n->n; i++) {
        const ynode *sk = n->items[2 * i], *v = n->items[2 * i + 1];
        join_key(sub, sizeof sub, key, sk->text);
        const ynode *const *items, *one;
        int count, rc = 0;
        if (!strcmp(sk->text, "initial")) rc = parse_int(c, v, sub, 1, 1000000, &a->initial);
        else if (!strcmp(sk->text, "acquire")) rc = parse_int(c, v, sub, 1, 1000000, &a->acquire);
        else if (!strcmp(sk->text, "rounds")) rc = parse_int(c, v, sub, 0, 10000, &a->rounds);
        else if (!strcmp(sk->text, "samples")) rc = parse_int(c, v, sub, 1, 1000000, &a->samples);
        else if (!strcmp(sk->text, "pool")) rc = parse_long(c, v, sub, 0, 1000000000L, &a->pool);
        else if (!strcmp(sk->text, "val_rows")) rc = parse_long(c, v, sub, 0, 1000000000L, &a->val_rows);
        else if (!strcmp(sk->text, "warm_start")) {
            if (need_scalar(c, v, sub)) return -1;
            if (!strcmp(v->text, "true") || !strcmp(v->text, "1")) a->warm_start = 1;
            else if (!strcmp(v->text, "false") || !strcmp(v->text, "0")) a->warm_start = 0;
            else rc = fail_at(c, v, sub, "'%s' is not true or false", v->text);
        } else if (!strcmp(sk->text, "scores")) {
            if (list_items(c, v, sub, &items, &count, &one)) return -1;
            a->scores = 0;
            for (int j = 0; j < count && rc == 0; j++) {
                int sc = bns_acq_parse(items[j]->text);
                if (sc < 0) rc = fail_last(c, items[j], sub);
                else if (a->scores & (1u << sc)) rc = fail_at(c, items[j], sub, "'%s' is named twice", items[j]->text);
                else a->scores |= 1u << sc;
            }
        } else if (!strcmp(sk->text, "seeds")) {
            if (list_items(c, v, sub, &items, &count, &one)) return -1;
            if (count > BNS_SPEC_MAX_LIST) return fail_at(c, v, sub, "more than %d seeds", BNS_SPEC_MAX_LIST);
            a->n_seeds = 0;
            for (int j = 0; j < count && rc == 0; j++) {
                long seed;
                if (parse_long(c, items[j], sub, 0, 2147483647L, &seed)) return -1;
                for (int m = 0; m < a->n_seeds; m++)
                    if (a->seeds[m] == (uint64_t)seed) return fail_at(c, items[j], sub, "duplicated value %ld", seed);
                a->seeds[a->n_seeds++] = (uint64_t)seed;
            }
        }
        if (rc) return -1;
    }
    long need = (long)a->initial + (long)a->rounds * a->acquire;
    long pool = a->pool ? a->pool : c->spec->train_limit;
    if (a->pool && c->spec->train_limit && a->pool > c->spec->train_limit)
        return fail_at(c, k, key, "pool %ld is larger than data.train_limit %ld", a->pool, c->spec->train_limit);
    if (pool && need > pool)
        return fail_at(c, k, key, "initial + rounds * acquire = %ld images, more than the pool's %ld", need, pool);
    /* the initial set is balanced: a whole number of images of every class */
    for (int i = 0; i < a->n_models; i++) {
        const bns_spec_group *g = &c->spec->groups[a->models[i]];
        for (long p = 0; p < bns_spec_axes_points(g->axes, g->n_axes); p++) {
            bns_config cfg;
            bns_arch arch;
            if (bns_spec_group_point(g, p, &cfg) || bns_arch_parse(cfg.arch, bns_data_inputs(cfg.dataset), &arch))
                return fail_last(c, models, key);
            if (cfg.dataset == BNS_DATA_TOY1D)
                return fail_at(c, models, key, "active learning needs labelled images (dataset toy1d is a regression)");
            if (a->initial % arch.n_classes)
                return fail_at(c, k, key, "initial %d is not a multiple of group '%s''s %d classes (a balanced set)",
                               a->initial, g->name, arch.n_classes);
        }
    }
    return 0;
}

/* ---- overrides ---- */

static int apply_override(ctx *c, ynode **root, int index) {
    const char *text = c->overrides[index];
    const char *eq = strchr(text, '=');
    if (!eq || eq == text)
        return bns_fail("%s: override '%s': expected PATH=VALUE (e.g. train.max_epochs=3)", c->path, text);
    char where[1200];
    snprintf(where, sizeof where, "%s: override '%s'", c->path, text);
    ynode *value;
    if (parse_yaml(eq + 1, where, index, 0, &value)) return -1;
    if (!value) return bns_fail("%s: empty value", where);
    if (!*root) *root = ynode_new(Y_MAP, index, 0, 0);
    ynode *node = *root;
    char path[512];
    size_t len = (size_t)(eq - text);
    if (len >= sizeof path) {
        ynode_free(value);
        return bns_fail("%s: path too long", where);
    }
    memcpy(path, text, len);
    path[len] = '\0';
    char prefix[512] = "";
    for (char *part = path;;) {
        char *dot = strchr(part, '.');
        if (dot) *dot = '\0';
        if (!part[0]) {
            ynode_free(value);
            return bns_fail("%s: empty key in the path", where);
        }
        char key[512];
        join_key(key, sizeof key, prefix, part);
        if (node->type != Y_MAP) {
            ynode_free(value);
            return bns_fail("%s: '%s' is not a mapping", where, prefix[0] ? prefix : "(top level)");
        }
        int found = -1;
        for (int i = 0; i < node->n; i++)
            if (node->items[2 * i]->type == Y_SCALAR && !strcmp(node->items[2 * i]->text, part)) found = i;
        if (!dot) {
            if (found >= 0) {
                ynode_free(node->items[2 * found + 1]);
                node->items[2 * found + 1] = value;
            } else {
                ynode *k = ynode_new(Y_SCALAR, index, 0, 0);
                k->text = bns_xstrdup(part);
                k->plain = 1;
                ynode_push(node, k);
                ynode_push(node, value);
            }
            return 0;
        }
        if (found < 0) {
            /* a new section or group: validation decides whether it is allowed */
            ynode *k = ynode_new(Y_SCALAR, index, 0, 0);
            k->text = bns_xstrdup(part);
            k->plain = 1;
            ynode_push(node, k);
            ynode_push(node, ynode_new(Y_MAP, index, 0, 0));
            found = node->n - 1;
        }
        node = node->items[2 * found + 1];
        snprintf(prefix, sizeof prefix, "%s", key);
        part = dot + 1;
    }
}

/* ---- the whole spec ---- */

static void default_name(const char *path, char *out, size_t size) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(out, size, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = '\0';
}

static int read_spec(ctx *c, const ynode *root) {
    bns_spec *s = c->spec;
    if (!root) return bns_fail("%s: empty sweep file (needs at least models:)", c->path);
    if (check_map(c, root, "", top_keys)) return -1;
    const ynode *n;
    default_name(c->path, s->name, sizeof s->name);
    if ((n = map_get(root, "name")) && parse_text(c, n, "name", s->name, sizeof s->name)) return -1;
    s->seed = 1;
    if ((n = map_get(root, "seed"))) {
        if (need_scalar(c, n, "seed")) return -1;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(n->text, &end, 10);
        if (end == n->text || *end || errno || n->text[0] == '-')
            return fail_at(c, n, "seed", "'%s' is not a non-negative integer", n->text);
        s->seed = (uint64_t)v;
    }
    bns_config base;
    bns_config_defaults(&base);
    s->pixel_scale = base.pixel_scale;
    s->train_limit = 0;
    s->test_limit = 0;
    if ((n = map_get(root, "data")) && read_data(c, n, s)) return -1;
    base.seed = s->seed;
    base.pixel_scale = s->pixel_scale;
    base.train_limit = s->train_limit;
    base.dataset = s->dataset; /* the default (mnist) is not written into task keys (config.h omit_default) */
    snprintf(base.data_path, sizeof base.data_path, "%s", s->data_path);
    if ((n = map_get(root, "train")) && read_train(c, n, &base)) return -1;

    const ynode *models = map_get(root, "models");
    if (!models) return fail_at(c, root, "models", "missing key (at least one model group)");
    if (check_map(c, models, "models", NULL)) return -1;
    if (models->n == 0) return fail_at(c, models, "models", "no model groups");
    s->groups = bns_xcalloc((size_t)models->n, sizeof *s->groups);
    for (int i = 0; i < models->n; i++) {
        s->n_groups++; /* counted before reading: bns_spec_free frees a half-read group's axes */
        if (read_group(c, models->items[2 * i], models->items[2 * i + 1], &base, &s->groups[i])) return -1;
    }
    if (read_teachers(c, models, s)) return -1;
    const ynode *attacks = map_get(root, "attacks");
    if (attacks && !is_null(attacks)) {
        if (check_map(c, attacks, "attacks", NULL)) return -1;
        s->attacks = bns_xcalloc((size_t)attacks->n + 1, sizeof *s->attacks);
        for (int i = 0; i < attacks->n; i++) {
            s->n_attacks++;
            if (read_attack(c, attacks->items[2 * i], attacks->items[2 * i + 1], &s->attacks[i])) return -1;
        }
    }
    const ynode *evals = map_get(root, "evaluations");
    if (evals && !is_null(evals)) {
        if (check_map(c, evals, "evaluations", NULL)) return -1;
        s->evals = bns_xcalloc((size_t)evals->n + 1, sizeof *s->evals);
        for (int i = 0; i < evals->n; i++) {
            if (read_eval(c, evals->items[2 * i], evals->items[2 * i + 1], &s->evals[i])) return -1;
            s->n_evals++;
        }
    }
    const ynode *active = map_get(root, "active");
    if (active && !is_null(active)) {
        if (check_map(c, active, "active", NULL)) return -1;
        s->actives = bns_xcalloc((size_t)active->n + 1, sizeof *s->actives);
        for (int i = 0; i < active->n; i++) {
            if (read_active(c, active->items[2 * i], active->items[2 * i + 1], &s->actives[i])) return -1;
            s->n_actives++;
        }
    }
    return 0;
}

int bns_spec_load_text(const char *path, const char *text, const char *const *overrides, int n_overrides,
                       bns_spec *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path);
    out->text = bns_xstrdup(text);
    out->n_overrides = n_overrides;
    out->overrides = bns_xcalloc((size_t)n_overrides + 1, sizeof *out->overrides);
    for (int i = 0; i < n_overrides; i++) out->overrides[i] = bns_xstrdup(overrides[i]);
    ctx c = {out->path, (const char *const *)out->overrides, out, 0};
    ynode *root = NULL;
    long long max_bytes;
    int rc = bns_spec_limit(BNS_LIMIT_SWEEP_BYTES, &max_bytes);
    if (rc == 0) rc = bns_spec_limit(BNS_LIMIT_GRID_POINTS, &c.max_points);
    /* a text that did not come from bns_spec_read_file (broadcast, tests) */
    if (rc == 0 && (long long)strlen(text) > max_bytes)
        rc = bns_fail("%s: %zu bytes, more than the %lld a sweep file may have (raise the limit with %s if this is "
                      "intended)", path, strlen(text), max_bytes, limits[BNS_LIMIT_SWEEP_BYTES].env);
    if (rc == 0) rc = parse_yaml(text, path, -1, 1, &root);
    if (rc == 0 && root && root->type != Y_MAP)
        rc = fail_at(&c, root, "(top level)", "expected a mapping of sections, got %s", type_name(root));
    for (int i = 0; rc == 0 && i < n_overrides; i++) rc = apply_override(&c, &root, i);
    if (rc == 0) rc = read_spec(&c, root);
    ynode_free(root);
    if (rc) {
        bns_spec_free(out);
        return -1;
    }
    return 0;
}

int bns_spec_load(const char *path, const char *const *overrides, int n_overrides, bns_spec *out) {
    memset(out, 0, sizeof *out);
    char *text = bns_spec_read_file(path);
    if (!text) return -1;
    int rc = bns_spec_load_text(path, text, overrides, n_overrides, out);
    free(text);
    return rc;
}

static void free_axes(bns_spec_axis *axes, int n) {
    for (int i = 0; i < n; i++) free(axes[i].values);
}

void bns_spec_free(bns_spec *s) {
    for (int i = 0; i < s->n_groups; i++) free_axes(s->groups[i].axes, s->groups[i].n_axes);
    for (int i = 0; i < s->n_attacks; i++) free_axes(s->attacks[i].axes, s->attacks[i].n_axes);
    free(s->groups);
    free(s->attacks);
    free(s->evals);
    free(s->actives);
    for (int i = 0; i < s->n_overrides; i++) free(s->overrides[i]);
    free(s->overrides);
    free(s->text);
    memset(s, 0, sizeof *s);
}
