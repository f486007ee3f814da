/* cmd_eval.c - placeholder until the evaluation module lands. */
#include <stdio.h>

#include "cli.h"

int cmd_eval(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "bnnsweep eval: not implemented yet\n");
    return BNS_EXIT_ERROR;
}
