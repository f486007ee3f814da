/* attack_settings.h - the table of bns_attack_settings fields: names, types,
 * defaults, help.
 *
 * One table drives `bnnsweep attack`'s flags and its --help settings lines,
 * the keys of a sweep file's attacks (and the canonical text hashed into
 * attack task keys), the /settings attributes of an attack-set file, and the
 * defaults: a new setting is one struct member plus one row here (and, if an
 * attack reads it, its name in that attack's `uses`).
 *
 * A row names up to three things that differ for a few fields:
 *   name  the struct member and /settings attribute (kind, target_mode, ...)
 *   key   the sweep-file key and canonical-text name ("attack" for kind,
 *         "target" for target_mode + target_class together)
 *   flag  the `bnnsweep attack` option ("samples" for source_samples,
 *         "no-clip" for clip, ...)
 */
#ifndef BNNSWEEP_ATTACK_SETTINGS_H
#define BNNSWEEP_ATTACK_SETTINGS_H

#include <stddef.h>

#include "bnnsweep/attack.h"

enum bns_aset_type {
    BNS_ASET_INT,       /* int, a count 0..1e9 */
    BNS_ASET_DOUBLE,
    BNS_ASET_U64,
    BNS_ASET_BOOL,      /* int 0/1: true|false in sweep files, a switch on the command line */
    BNS_ASET_ENUM,      /* int: index into choices */
    BNS_ASET_KIND,      /* int: the attack's position in the registry, named by it */
    BNS_ASET_TARGET,    /* target_mode + target_class as one text: next | a class number */
};

enum bns_aset_flags {
    BNS_ASET_SWEEP = 1u << 0,   /* settable in a sweep file (kind is read first; seed is the sweep's) */
    BNS_ASET_COMMON = 1u << 1,  /* read by every attack (listed once in --help) */
    BNS_ASET_NO_DEFAULT = 1u << 2, /* --help shows no default (it comes from the model) */
    BNS_ASET_OMIT_DEFAULT = 1u << 3, /* a row added when results existed (DOUBLE or INT): in the
                                        canonical text (task keys) only when not at its default */
};

typedef struct {
    const char *name;           /* member and /settings attribute; NULL: not saved on its own */
    const char *key;            /* sweep-file key, canonical text; NULL: neither */
    const char *flag;           /* `bnnsweep attack --FLAG`; NULL: none */
    const char *arg;            /* the flag's argument in --help; NULL: a switch storing switch_value */
    int type;                   /* enum bns_aset_type */
    size_t offset;              /* into bns_attack_settings */
    const char *const *choices; /* BNS_ASET_ENUM: names of values 0, 1, ... (NULL-terminated) */
    double def;                 /* default (enums: the index); attacks may override (bns_attack.defaults) */
    int switch_value;
    unsigned flags;             /* enum bns_aset_flags */
    const char *help;           /* '\n' for more lines */
} bns_attack_setting;

/* The rows in bns_attack_settings order, terminated by a row of NULLs. */
const bns_attack_setting *bns_attack_setting_table(void);
const bns_attack_setting *bns_attack_setting_by_name(const char *name);
const bns_attack_setting *bns_attack_setting_by_key(const char *key);

/* Which text a value comes from: errors are worded for it, and the command
 * line keeps its looser historical parsing (any strtod number, "--target next"
 * leaves target_class). */
enum bns_aset_dialect { BNS_ASET_FROM_SWEEP, BNS_ASET_FROM_CLI };
/* Parse value into the row's field(s); errors name the value (the caller adds
 * the key or flag). */
int bns_attack_setting_parse(const bns_attack_setting *f, bns_attack_settings *s, const char *value, int dialect);
/* Text of the row's value; doubles as %.17g if canonical, else the shortest
 * text that parses back. Parses back with BNS_ASET_FROM_SWEEP. */
void bns_attack_setting_format(const bns_attack_setting *f, const bns_attack_settings *s, int canonical, char *buf,
                               size_t size);
/* name -> index of an enum or kind row's value, -1 if none */
int bns_attack_setting_choice(const bns_attack_setting *f, const char *name);

#endif
