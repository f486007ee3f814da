/* config.h - the table of bns_config fields: names, types, help.
 *
 * One table drives `--key value` flags, `--set key=value` overrides, the
 * attributes of a saved model, and (later) sweep files: a new setting is one
 * struct member plus one row here.
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
} bns_config_field;

/* The fields, terminated by a row with name NULL. */
const bns_config_field *bns_config_fields(void);
const bns_config_field *bns_config_field_find(const char *name);

/* Parse `value` into field `key`: errors name the key and the bad value. */
int bns_config_set(bns_config *cfg, const char *key, const char *value);
/* "key=value" form (as given to --set). */
int bns_config_set_assignment(bns_config *cfg, const char *assignment);
/* Text form of a field's value (round-trips through bns_config_set). */
void bns_config_format_field(const bns_config *cfg, const bns_config_field *f, char *buf, size_t size);

#endif
