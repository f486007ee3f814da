/* config.h - the one settings table: names, types, help of every setting.
 *
 * One table drives `--key value` flags, `--set key=value` overrides, the
 * attributes of a saved model, sweep-file keys and task keys. It is the
 * shared rows (config.c: architecture, prior, init, objective, optimiser,
 * data, seed; one struct member of bns_config each) followed by each
 * registered method's own rows (bns_method.settings, method.h), whose values
 * live in slots of cfg->method_settings: a method adds a setting in its own
 * file. A method's rows apply only to models of that method (they are saved
 * with, and part of the task key of, those models only).
 */
#ifndef BNNSWEEP_CONFIG_H
#define BNNSWEEP_CONFIG_H

#include <stddef.h>

#include "bnnsweep/model.h"

enum bns_field_type { BNS_FIELD_DOUBLE, BNS_FIELD_INT, BNS_FIELD_LONG, BNS_FIELD_U64, BNS_FIELD_STRING, BNS_FIELD_ENUM };

typedef struct {
    const char *name;              /* snake_case key, e.g. "rho_init" */
    int type;                      /* enum bns_field_type */
    size_t offset;                 /* into bns_config */
    size_t size;                   /* bytes (strings: buffer size) */
    const char *const *choices;    /* BNS_FIELD_ENUM: names of values 0, 1, ... (NULL-terminated) */
    const char *help;
    /* method rows only (offset and size are assigned by the table) */
    const char *default_value;     /* text form, parsed by bns_config_set */
    const char *owner;             /* the method that declares it (set by the table) */
    int evaluation;                /* 1: says how the trained model is evaluated, not how it is
                                      trained (BNS_METHOD_EVAL_SETTING) */
    /* 1: the row applies (task keys, model-file attributes, provenance) only
     * when its value differs from the default, so that adding it changed no
     * existing key or file (dataset, data_path) */
    int omit_default;
} bns_config_field;

/* A method's own row: name, type (DOUBLE, INT or ENUM), choices, default text, help. */
#define BNS_METHOD_SETTING(key, type, choices, default_text, help_text) \
    {key, type, 0, 0, choices, help_text, default_text, NULL, 0, 0}
/* A method's evaluation setting: a row that does not change training (e.g.
 * mc_dropout). It is saved with the model and may be changed on a trained
 * model (`eval --set`); a sweep trains once for all its values and evaluates
 * each value as its own model (plan.h: model views). */
#define BNS_METHOD_EVAL_SETTING(key, type, choices, default_text, help_text) \
    {key, type, 0, 0, choices, help_text, default_text, NULL, 1, 0}
/* A method's row added when results already exist: it enters task keys and
 * model-file attributes only when set to another value than its default, so
 * that adding it changes no existing key or file (omit_default). */
#define BNS_METHOD_OPTIONAL_SETTING(key, type, choices, default_text, help_text) \
    {key, type, 0, 0, choices, help_text, default_text, NULL, 0, 1}
/* A method's text row (e.g. a file path) of at most size_bytes - 1 characters
 * (size_bytes a multiple of 8: it takes size_bytes / 8 slots); its default
 * may be "" (unset). Read it with bns_config_get_string. */
#define BNS_METHOD_STRING_SETTING(key, size_bytes, default_text, help_text) \
    {key, BNS_FIELD_STRING, 0, size_bytes, NULL, help_text, default_text, NULL, 0, 0}

/* The fields, terminated by a row with name NULL. */
const bns_config_field *bns_config_fields(void);
const bns_config_field *bns_config_field_find(const char *name);
/* Rebuilds the table after bns_method_register (not thread-safe: at start-up). */
void bns_config_fields_rebuild(void);
/* 1 if the field is a shared row or a row of cfg->method (an omit_default
 * row: and its value is not the default). A row that does not apply is
 * neither saved nor keyed, and set to another value it is an error. */
int bns_config_field_applies(const bns_config *cfg, const bns_config_field *f);
/* Sets every method row to its default (bns_config_defaults calls it). */
void bns_config_method_defaults(bns_config *cfg);
/* A method's setting by name (for the method's own code). */
double bns_config_get_double(const bns_config *cfg, const char *key);
int bns_config_get_int(const bns_config *cfg, const char *key);
const char *bns_config_get_string(const bns_config *cfg, const char *key);

/* Parse `value` into field `key`: errors name the key and the bad value. */
int bns_config_set(bns_config *cfg, const char *key, const char *value);
/* Change an evaluation setting of a trained model's configuration (`eval
 * --setting`): errors for an unknown key, a training setting, or another
 * method's row. */
int bns_config_set_evaluation(bns_config *cfg, const char *assignment);
/* Copy every evaluation setting of src's method from src to dst (a model view). */
int bns_config_copy_evaluation(bns_config *dst, const bns_config *src);
/* "key=value" form (as given to --set). */
int bns_config_set_assignment(bns_config *cfg, const char *assignment);
/* Text form of a field's value (round-trips through bns_config_set). */
void bns_config_format_field(const bns_config *cfg, const bns_config_field *f, char *buf, size_t size);

#endif
