/* cli.h - subcommands of the bnnsweep program. Each returns the exit status. */
#ifndef BNNSWEEP_CLI_H
#define BNNSWEEP_CLI_H

int cmd_train(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_attack(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_gradvar(int argc, char **argv);

/* Exit statuses shared by all subcommands. */
enum { BNS_EXIT_OK = 0, BNS_EXIT_ERROR = 1, BNS_EXIT_USAGE = 2, BNS_EXIT_DIVERGED = 3 };

#endif
