/* registry.c - the list of attacks: one line per attack (attack.h).
 *
 * An attack is one file src/attacks/NAME.c defining
 * `const bns_attack bns_attack_NAME` and one X(NAME) line below. Its position
 * in the list is its kind (enum bns_attack_kind numbers the built-ins); the
 * saved attribute and the task keys name it, so the order may change. */
#include <stdio.h>
#include <string.h>

#include "bnnsweep/attack.h"

#define BNS_ATTACKS(X) \
    X(minnorm)         \
    X(fgsm)            \
    X(pgd)             \
    X(targeted)

#define DECLARE(name) extern const bns_attack bns_attack_##name;
BNS_ATTACKS(DECLARE)
#undef DECLARE

#define ENTRY(name) &bns_attack_##name,
/* the built-ins, then bns_attack_register's; NULL after the last */
static const bns_attack *attacks[BNS_ATTACK_MAX + 1] = {BNS_ATTACKS(ENTRY) NULL};
#undef ENTRY

int bns_attack_count(void) {
    int n = 0;
    while (attacks[n]) n++;
    return n;
}

const bns_attack *bns_attack_get(int kind) { return kind >= 0 && kind < bns_attack_count() ? attacks[kind] : NULL; }

int bns_attack_find(const char *name) {
    for (int i = 0; attacks[i]; i++)
        if (strcmp(attacks[i]->name, name) == 0) return i;
    return -1;
}

int bns_attack_kind_parse(const char *name) { return bns_attack_find(name); }

const char *bns_attack_kind_name(int kind) {
    const bns_attack *a = bns_attack_get(kind);
    return a ? a->name : "?";
}

int bns_attack_register(const bns_attack *a) {
    int n = bns_attack_count();
    if (!a || !a->name || !a->name[0] || !a->run_batch || !a->cost_steps || n == BNS_ATTACK_MAX ||
        bns_attack_find(a->name) >= 0)
        return -1;
    attacks[n] = a;
    return n;
}

void bns_attack_names(char *buf, size_t size, const char *sep, const char *last_sep) {
    int n = bns_attack_count();
    size_t used = 0;
    if (size) buf[0] = '\0';
    for (int i = 0; i < n && used < size; i++) {
        int w = snprintf(buf + used, size - used, "%s%s", i == 0 ? "" : i == n - 1 ? last_sep : sep,
                         attacks[i]->name);
        if (w < 0) break;
        used += (size_t)w;
    }
}
