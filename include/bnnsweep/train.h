/* train.h - the training loop: minibatch SGD/Adam, early stopping, divergence.
 *
 * One epoch = one pass over a permutation of the training set drawn from the
 * (seed, task, SHUFFLE) stream, substream = epoch. After each epoch the
 * validation accuracy decides early stopping (patience, best parameters kept).
 * A non-finite loss stops training with status "diverged" and restores the
 * best parameters seen (if any epoch finished). A method with keep_final
 * (method.h: a sampler whose parameters hold its stored iterates) always
 * ends with its last parameters instead.
 */
#ifndef BNNSWEEP_TRAIN_H
#define BNNSWEEP_TRAIN_H

#include "bnnsweep/dataset.h"
#include "bnnsweep/method.h"
#include "bnnsweep/model.h"
#include "bnnsweep/optim.h"

enum bns_train_status {
    BNS_TRAIN_MAX_EPOCHS = 0,   /* ran all max_epochs */
    BNS_TRAIN_EARLY_STOPPED = 1,
    BNS_TRAIN_DIVERGED = 2,
};

typedef struct {
    double train_loss;      /* per-example objective: mean NLL + the regulariser at the last step */
    double train_nll;       /* mean NLL over the epoch */
    double train_kl;        /* KL(q || p) at the last step of the epoch (0 for deterministic) */
    double train_acc;       /* accuracy of the training forward passes */
    double val_acc;
    double seconds;         /* wall time of the epoch's training steps */
    double val_seconds;     /* wall time of its validation */
} bns_epoch_record;

typedef struct {
    int status;                 /* enum bns_train_status */
    int epochs_run;
    int best_epoch;             /* 1-based; 0 if no epoch finished */
    double best_val_acc;
    char message[256];          /* e.g. where the loss diverged */
    bns_epoch_record *epochs;   /* epochs_run records (capacity max_epochs) */
} bns_train_history;

typedef void (*bns_epoch_callback)(const bns_model *m, const bns_train_history *h, void *ctx);
/* After each training step: the 1-based epoch, steps done in it, its step
 * count, and the wall seconds since it began (a long epoch's progress). */
typedef void (*bns_step_callback)(int epoch, size_t steps_done, size_t steps, double seconds, void *ctx);

/* What bns_train reports as it goes; NULL members (or a NULL pointer) are
 * not called. Neither changes what is trained. */
typedef struct {
    bns_epoch_callback on_epoch; /* after each epoch's validation */
    bns_step_callback on_step;
    void *ctx;                   /* passed to both */
} bns_train_hooks;

/* Trains m in place. Returns 0 when it finished (any status, with the best
 * parameters restored unless the method keeps its final state), -1 on an error (message in bns_last_error()). */
int bns_train(bns_model *m, const bns_dataset *train, const bns_dataset *val, bns_train_history *h,
              const bns_train_hooks *hooks);
void bns_train_history_free(bns_train_history *h);
const char *bns_train_status_name(int status);

/* The objective of a minibatch of `rows` (METHODS.md s.1 and method.h). */
bns_objective bns_make_objective(const bns_config *cfg, int rows, size_t n_train, uint64_t step, int want_kl);
/* One optimisation step as bns_train takes it: the method's fused
 * train_step when it has one, else loss_grad and a full update. */
void bns_train_step(bns_model *m, void *trainer, bns_optimizer *opt, const float *x, const uint8_t *y, int rows,
                    const bns_objective *obj, float *grad, bns_step_stats *stats);

/* Batch norm: the rows of the training set (its first ones) over which a
 * trained model's statistics are estimated. */
#define BNS_STATS_ROWS 10000
/* Estimates m's layer statistics (model.h stats; bns_train calls it at the
 * end for nets that have them) from the point weights over train's first
 * BNS_STATS_ROWS rows; sets has_stats. */
void bns_model_estimate_stats(bns_model *m, const bns_dataset *train);

/* Validation accuracy as training measures it (cfg.val_samples). */
double bns_validation_accuracy(const bns_model *m, const bns_dataset *val);

#endif
