/* registry.c - the list of inference methods: one line per method. */
#include <string.h>

#include "bnnsweep/error.h"
#include "bnnsweep/method.h"

extern const bns_method bns_method_deterministic;
extern const bns_method bns_method_bbb;
extern const bns_method bns_method_lrt;

enum { MAX_METHODS = 32 };

static const bns_method *methods[MAX_METHODS + 1] = {
    &bns_method_deterministic,
    &bns_method_bbb,
    &bns_method_lrt,
    NULL,
};

const bns_method *bns_method_find(const char *name) {
    for (int i = 0; methods[i]; i++)
        if (strcmp(methods[i]->name, name) == 0) return methods[i];
    return NULL;
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
