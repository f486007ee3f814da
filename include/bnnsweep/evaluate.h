/* evaluate.h - accuracy over repeated runs, ensembles and SNR pruning (METHODS.md s.4).
 *
 * A run draws its own weight samples from a stream (normally
 * bns_stream_make(seed, task, BNS_PURPOSE_PREDICT)) and classifies the whole
 * set with them. Run r of an N-sample ensemble uses the sample indices
 * [first + r*N, first + (r+1)*N), so the runs are disjoint, and N = 1 is the
 * single-sample evaluation exactly (same samples, same arithmetic).
 */
#ifndef BNNSWEEP_EVALUATE_H
#define BNNSWEEP_EVALUATE_H

#include "bnnsweep/dataset.h"
#include "bnnsweep/predict.h"

typedef struct {
    double acc, nll, ece;   /* ece with BNS_ECE_BINS = 15 equal-width bins */
} bns_run_metrics;

typedef struct {
    int runs;
    bns_run_metrics mean;
    bns_run_metrics std;    /* sample standard deviation over runs (n - 1); 0 for one run */
} bns_run_summary;

/* `runs` runs of n_ensemble-sample ensembles on `set` (n_ensemble = 0: the
 * mean weights, one run). probs: scratch of set->n x classes floats.
 * per_run (runs entries) may be NULL. Honours p->mask. */
void bns_eval_runs(bns_predictor *p, const bns_model *m, const bns_dataset *set, int n_ensemble, int runs,
                   const bns_stream *stream, uint64_t first, float *probs, bns_run_metrics *per_run,
                   bns_run_summary *out);
/* One weight sample per run: bns_eval_runs with n_ensemble = 1. */
void bns_eval_single_sample(bns_predictor *p, const bns_model *m, const bns_dataset *set, int runs,
                            const bns_stream *stream, uint64_t first, float *probs, bns_run_metrics *per_run,
                            bns_run_summary *out);

/* Pruning by signal-to-noise ratio |mu| / sigma, sigma = softplus(rho).
 * Only the weight matrices are ranked and pruned; biases are always kept.
 * Exactly bns_prune_count(W, rate) of the W weights are removed: those with
 * the lowest SNR, ties broken by the lower flat index. mask (arch.n_weights
 * bytes): 1 keep, 0 pruned. Needs BNS_CAP_SNR; rate in [0, 1]. */
int bns_snr_mask(const bns_model *m, double rate, uint8_t *mask, size_t *n_pruned);
/* round(rate * n_weights), halves rounded up */
size_t bns_prune_count(size_t n_weights, double rate);
/* weights of the matrices only (biases excluded) */
size_t bns_arch_matrix_weights(const bns_arch *arch);

#endif
