/* active.h - pool-based active learning (Wang et al. 2018; METHODS.md s.12)
 * as a chain of sweep tasks, one per acquisition round.
 *
 * The pool is the first `pool` rows of the training split. Round 0 trains a
 * model on a balanced initial set (initial / classes images per class, drawn
 * from the stream keyed by the chain's seed alone, so every method and score
 * of one seed starts from the same images). Round r >= 1 reads round r-1's
 * file, scores every pool image with that round's model (the evaluation
 * pipeline's per-example entropy, VR or BALD over `samples` weight samples,
 * or a uniform number for the random control), adds the `acquire`
 * highest-scoring images that are not yet labelled (bns_active_select), trains
 * a model on the labelled set (from scratch, or from round r-1's parameters
 * with warm_start), validated (train.h: early stopping, best epoch kept) on
 * the first val_rows validation images, and records its test accuracy.
 *
 * A method is used only through the posterior interface (model.h, predict.h):
 * any registered method works. BALD needs weight samples that differ (the
 * stochastic capability): the planner leaves BALD chains of a point estimate
 * out (plan.c), as the evaluations leave out what a model cannot take.
 *
 * Round file (RUN_DIR/tasks/active-KEY.h5): a model file (model_io.h, so the
 * round's results version and model are where every task keeps them) plus
 *   /active      attrs round, score, n_labelled, pool, accuracy, nll, ece,
 *                n_ensemble (test accuracy's ensemble size; 0 = mean weights)
 *                datasets labelled (uint32 pool indices, in the order they
 *                were labelled: the initial set, then each round's
 *                acquisitions), acquired (this round's, best first) and
 *                acquired_scores (their scores; float64)
 * written to a temporary and renamed: a chain killed mid-way resumes at the
 * first round whose file is missing, and since each round reads only its
 * predecessor's file, the curve is the same bit for bit.
 */
#ifndef BNNSWEEP_ACTIVE_H
#define BNNSWEEP_ACTIVE_H

#include <stddef.h>
#include <stdint.h>

#include "bnnsweep/dataset.h"
#include "bnnsweep/metrics.h"
#include "bnnsweep/model.h"

/* acquisition scores: the uncertainty scores of metrics.h, then random */
enum { BNS_ACQ_RANDOM = BNS_SCORE_COUNT, BNS_ACQ_COUNT = BNS_SCORE_COUNT + 1 };
const char *bns_acq_name(int score);   /* entropy, vr, bald, random */
int bns_acq_parse(const char *name);   /* -1 with the error recorded if unknown */

/* What one round computes (the planner fills it; plan.h bns_task.active). */
typedef struct {
    int round;                /* 0: the initial set */
    int score;                /* enum bns_score or BNS_ACQ_RANDOM (round 0: -1, it scores nothing) */
    int initial;              /* images of the initial set (a multiple of the classes) */
    int acquire;              /* images added per round */
    int samples;              /* weight samples for the scores and the test accuracy */
    int warm_start;           /* 1: round r starts from round r-1's parameters */
    long pool;                /* the first `pool` training rows (0 = all) */
    long val_rows;            /* the first rows of the validation split that training validates on (0 = all) */
    uint64_t seed;            /* the chain's seed (its config.seed) */
    int group;                /* the planner's bookkeeping: the spec's model group ... */
    long point;               /* ... and its grid point (the cube's al_model label) */
    long teacher_point;       /* a distilling recipe's: its teacher group's point (-1: none) */
    /* A distilling recipe's teacher recipe (NULL: none), its task = the
     * teacher's key: the round trains it on the labelled set first, writes
     * it beside the round file and distils that file (below). Owned by the
     * plan (plan.c). */
    const bns_config *teacher;
} bns_active_settings;

/* The acquisition step: the k pool rows with the highest score among those
 * with labelled[i] == 0, best first; equal scores go by the lower pool index,
 * a NaN score ranks below every number. Marks them labelled. Returns how many
 * were chosen (fewer than k when fewer are left). */
size_t bns_active_select(const float *score, size_t n_pool, uint8_t *labelled, size_t k, uint32_t *chosen);

/* The balanced initial set: per_class rows of each of n_classes classes,
 * the first ones of each class in a permutation of the pool drawn from the
 * stream (seed, bns_hash64("active-initial"), BNS_PURPOSE_DATA). -1 (error
 * recorded) when a class has fewer than per_class rows in the pool. */
int bns_active_initial(uint64_t seed, const uint8_t *labels, size_t n_pool, int n_classes, int per_class,
                       uint32_t *out);

/* One round: cfg (config.task = the round's key) trained on the labelled
 * pool rows of data->train, validated on data->val, tested on data->test;
 * prev = round r-1's file (NULL for round 0). Writes `out` atomically. */
int bns_active_run_round(const bns_config *cfg, const bns_active_settings *s, const bns_splits *data,
                         const char *prev, const char *out);

/* What a round file records (the cube's numbers). */
typedef struct {
    int round, score;
    long n_labelled;
    double accuracy, nll, ece;
} bns_active_result;
int bns_active_read(const char *path, bns_active_result *out);
/* The labelled pool indices of a round file (free() *idx). */
int bns_active_read_labelled(const char *path, uint32_t **idx, size_t *n);

#endif
