/* cmd_attack.c - placeholder until the attacks module lands. */
#include <stdio.h>

#include "cli.h"

int cmd_attack(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "bnnsweep attack: not implemented yet\n");
    return BNS_EXIT_ERROR;
}
