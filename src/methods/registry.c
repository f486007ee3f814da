/* registry.c - the list of inference methods: one line per method. */
#include <string.h>

#include "bnnsweep/method.h"

extern const bns_method bns_method_deterministic;
extern const bns_method bns_method_bbb;
extern const bns_method bns_method_lrt;

static const bns_method *const methods[] = {
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
