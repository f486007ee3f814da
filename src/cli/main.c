/* main.c - bnnsweep entry point: dispatches to subcommands. */
#include <stdio.h>
#include <string.h>

#include "bnnsweep/model.h"
#include "cli.h"

int cli_refuse_regression(const char *command, const char *model_path, const struct bns_model *m) {
    if (!m->likelihood.real_targets) return 0;
    fprintf(stderr, "bnnsweep %s: %s is a regression model (likelihood %s): %s is for classifiers; its "
            "predictions come from `bnnsweep train --sample-outputs` (analysis/toy.py)\n", command, model_path,
            m->likelihood.name, command);
    return 1;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"run", cmd_run, "run a sweep file into a run directory (mpirun -n N for N ranks); resumes"},
    {"status", cmd_status, "what is done, failed and left in a run directory"},
    {"merge", cmd_merge, "write a run directory's cube and posteriors from what is done"},
    {"train", cmd_train, "train one model (any registered method: see train --help) on MNIST and save it to HDF5"},
    {"attack", cmd_attack, "build an adversarial set (min-norm, FGSM, PGD, targeted) from a source model"},
    {"eval", cmd_eval, "evaluate a model on clean, adversarial or OOD sets (accuracy, ensembles, pruning, uncertainty)"},
    {"plan", cmd_plan, "expand a sweep file into tasks: keys, dependencies, estimated costs, critical path"},
    {"bench", cmd_bench, "measure epoch times against the GEMM bound, and prediction throughput"},
    {"gradvar", cmd_gradvar, "variance of a model's gradient estimator per parameter block, accuracies of sampled models"},
};

static void usage(FILE *out) {
    fprintf(out,
            "usage: bnnsweep COMMAND [OPTIONS]\n\n"
            "Bayesian neural network robustness sweeps (Zhang & Chen 2020 and neighbours).\n\n"
            "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n`bnnsweep COMMAND --help` describes a command's options.\n"
                 "Data: MNIST is read from $BNNSWEEP_DATA (default ~/.cache/bnnsweep), filled by\n"
                 "`bash src/scripts/fetch-data.sh`.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return BNS_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return BNS_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("bnnsweep %s (commit %s)\n", BNS_VERSION, BNS_GIT_COMMIT);
        return BNS_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "bnnsweep: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return BNS_EXIT_USAGE;
}
