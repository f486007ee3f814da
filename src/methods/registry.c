/* registry.c - the list of inference methods: one line per method (method.h).
 *
 * A method is one file src/methods/NAME.c defining
 * `const bns_method bns_method_NAME` and one X(NAME) line below. Models name
 * their method (saved attribute, task keys), so the order may change. */
#include <string.h>

#include "bnnsweep/error.h"
#include "bnnsweep/method.h"

#define BNS_METHODS(X) \
    X(deterministic)   \
    X(bbb)             \
    X(lrt)             \
    X(sgld)            \
    X(dropout)         \
    X(alpha)           \
    X(ris)             \
    X(apd)             \
    X(mog)

#define DECLARE(name) extern const bns_method bns_method_##name;
BNS_METHODS(DECLARE)
#undef DECLARE

enum { MAX_METHODS = 32 };

#define ENTRY(name) &bns_method_##name,
/* the built-ins, then bns_method_register's; NULL after the last */
static const bns_method *methods[MAX_METHODS + 1] = {BNS_METHODS(ENTRY) NULL};
#undef ENTRY

const bns_method *bns_method_find(const char *name) {
    for (int i = 0; methods[i]; i++)
        if (strcmp(methods[i]->name, name) == 0) return methods[i];
    return NULL;
}

unsigned bns_method_caps(const bns_method *method, const bns_config *cfg) {
    return method->caps_of ? method->caps_of(cfg) : method->caps;
}

const bns_method *const *bns_method_list(void) { return methods; }

int bns_method_register(const bns_method *method) {
    if (bns_method_find(method->name)) return bns_fail("method '%s' is already registered", method->name);
    int n = 0;
    while (methods[n]) n++;
    if (n == MAX_METHODS) return bns_fail("too many methods (at most %d)", MAX_METHODS);
    methods[n] = method;
    methods[n + 1] = NULL;
    bns_config_fields_rebuild();
    return 0;
}
