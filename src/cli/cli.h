/* cli.h - subcommands of the bnnsweep program. Each returns the exit status. */
#ifndef BNNSWEEP_CLI_H
#define BNNSWEEP_CLI_H

#include "bnnsweep/plan.h"

int cmd_train(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_attack(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_gradvar(int argc, char **argv);

struct bns_model;
/* 1 (with a message naming the command and file) if the model is a
 * regression model (a real-target likelihood: dataset toy1d), which eval
 * and attack cannot score: they need class labels. */
int cli_refuse_regression(const char *command, const char *model_path, const struct bns_model *m);

/* `status --profile` (cmd_profile.c): where the time of the runs into run_dir
 * went, from their timing logs (profile.h), printed. */
int cli_print_profile(const char *run_dir, const bns_plan *plan);

/* Exit statuses shared by all subcommands. */
enum { BNS_EXIT_OK = 0, BNS_EXIT_ERROR = 1, BNS_EXIT_USAGE = 2, BNS_EXIT_DIVERGED = 3 };

#endif
