/* eval_pipeline.h - the one evaluation pipeline of a trained model (METHODS.md
 * s.4 and s.6), called by `bnnsweep eval`, `bnnsweep train`'s test report and
 * the sweep runner's EVAL tasks; they keep only their own I/O.
 *
 * An evaluator holds one model, one evaluation set, the PREDICT stream every
 * weight sample comes from, and every buffer the analyses need. Accuracy runs
 * (the mean weights, runs of N-sample ensembles, optionally after SNR
 * pruning) go through bns_eval_runs (evaluate.h); OOD detection scores the
 * set against an OOD set by uncertainty (metrics.h). Every analysis starts at
 * sample `first` (0 unless asked otherwise): common random numbers.
 *
 * What a model can do is asked of its capabilities, never of its method: a
 * model without BNS_CAP_STOCHASTIC is evaluated with its mean weights (one
 * run, n_ensemble 0, no BALD); pruning needs BNS_CAP_SNR.
 *
 * The report of `bnnsweep eval` (every table of one model) and its JSON
 * (through libjansson) live here too, so that tests can build and parse it.
 */
#ifndef BNNSWEEP_EVAL_PIPELINE_H
#define BNNSWEEP_EVAL_PIPELINE_H

#include "bnnsweep/evaluate.h"
#include "bnnsweep/metrics.h"

typedef struct {
    const bns_model *m;
    const bns_dataset *set;
    bns_stream stream;
    int stochastic;        /* bns_model_has(m, BNS_CAP_STOCHASTIC) */
    bns_predictor pred;
    float *probs;          /* set->n x classes: accuracy runs, and the set's p_bar for OOD */
    float *mean_entropy;   /* set->n: the set's mean per-sample entropy for OOD */
    int in_samples;        /* samples probs/mean_entropy hold OOD inputs for; -1 none */
    uint8_t *mask;         /* arch.n_weights: the pruning mask, allocated on first use */
} bns_evaluator;

void bns_evaluator_init(bns_evaluator *ev, const bns_model *m, const bns_dataset *set, const bns_stream *stream);
void bns_evaluator_free(bns_evaluator *ev);

typedef struct {
    int n_ensemble;        /* 0: the mean weights (one run); N >= 1: N-sample ensembles */
    int runs;              /* run r uses samples [first + r*N, first + (r+1)*N) */
    uint64_t first;
    int prune;             /* 1: SNR-prune prune_rate of the weights first (needs BNS_CAP_SNR) */
    double prune_rate;
} bns_accuracy_request;

typedef struct {
    bns_run_summary summary;
    int n_ensemble;        /* as run: 0 for a model that is not stochastic */
    size_t n_pruned;       /* weights pruned (0 without pruning) */
} bns_accuracy_result;

/* Accuracy, NLL and ECE over runs. per_run (req->runs entries, may be NULL)
 * gets summary.runs of them. -1 (error recorded) only when pruning is asked
 * of a model without an SNR or with a rate outside [0, 1]. */
int bns_eval_accuracy(bns_evaluator *ev, const bns_accuracy_request *req, bns_run_metrics *per_run,
                      bns_accuracy_result *out);

typedef struct {
    char set[64];          /* the OOD dataset's name */
    size_t rows;           /* its rows */
    int n_samples;         /* ensemble size of the scores as run: 0 for a model that is not stochastic */
    unsigned scores;       /* bit s: score s was computed (never BALD with 0 samples: it is 0 for every row) */
    double auroc[BNS_SCORE_COUNT], aupr_in[BNS_SCORE_COUNT], aupr_out[BNS_SCORE_COUNT];
} bns_ood_result;

/* Detection of `ood` rows against the evaluator's set by the scores in
 * `scores` (bit s = enum bns_score s), both predicted with the same n_samples
 * samples from sample 0. The set's predictions are kept for the next call
 * with the same n_samples. -1 (error recorded) if ood has another row width. */
int bns_eval_ood(bns_evaluator *ev, const bns_dataset *ood, int n_samples, unsigned scores, bns_ood_result *out);

/* Per-row uncertainty of the evaluator's own set: score s (enum bns_score)
 * of every row, from samples [0, n_samples) of the stream (the set's scores
 * of bns_eval_ood, kept for the next call alike). Active learning's
 * acquisition scores (active.h). -1 (error recorded) for BALD of a model that
 * is not stochastic. */
int bns_eval_scores(bns_evaluator *ev, int n_samples, int score, float *out);
/* Adversarial detection (METHODS.md s.12, Wang et al.): the evaluator's set
 * holds the clean rows, adv the same rows perturbed, in the same order; both
 * are predicted with the same n_samples samples from sample 0 (as
 * bns_eval_ood), det holds the metrics of bns_ood_detect with the
 * adversarial rows as the positive ("OOD") class - AUROC = the probability
 * that an adversarial row scores more uncertain than a clean one - and the
 * accuracies are those of the ensemble's mean prediction (the mean weights
 * for a model that is not stochastic). -1 (error recorded) if the two sets
 * differ in rows or width. */
typedef struct {
    bns_ood_result det;
    double acc_clean, acc_adv;
} bns_detection_result;
int bns_eval_detection(bns_evaluator *ev, const bns_dataset *adv, int n_samples, unsigned scores,
                       bns_detection_result *out);

/* Per-sample predictions (Semko's OOD histograms, METHODS.md s.12): out
 * [n_samples][x->n][classes] = softmax(f(x; w_k)) for samples k = 0 ..
 * n_samples-1 of the evaluator's stream, the samples bns_eval_ood scores
 * with (unweighted, even for a BNS_CAP_WEIGHTED model). A model that is not
 * stochastic gives one slice, its weights. Returns the slices written, or -1
 * (error recorded) if x has another row width than the evaluator's set. */
int bns_eval_sample_probs(bns_evaluator *ev, const bns_dataset *x, int n_samples, float *out);

/* The metrics part of bns_eval_ood: from the in-distribution p_bar and mean
 * per-sample entropy (n_in rows) and those of the OOD rows, AUROC, AUPR-in
 * and AUPR-out of every score in `scores` (out->set, rows, n_samples are
 * left to the caller). mean entropies may be NULL unless BALD is asked. */
void bns_ood_detect(const float *p_in, const float *h_in, size_t n_in, const float *p_out, const float *h_out,
                    size_t n_out, int n_classes, unsigned scores, bns_ood_result *out);

/* ---- the report of `bnnsweep eval` ---- */

enum { BNS_REPORT_MAX_LIST = 32, BNS_REPORT_MAX_OOD = 16 };

typedef struct {
    const char *model_path, *method, *arch, *set;
    size_t rows;
    bns_run_summary mean_weights;
    int stochastic;                    /* single_sample and ensembles were run */
    bns_run_summary single_sample;
    int n_ensembles;
    int ensemble_n[BNS_REPORT_MAX_LIST];
    bns_run_summary ensembles[BNS_REPORT_MAX_LIST];
    int pruning;                       /* the pruning table was run */
    int prune_samples;
    size_t prune_weights;              /* matrix weights (biases are never pruned) */
    int n_rates;
    double rates[BNS_REPORT_MAX_LIST];
    size_t pruned[BNS_REPORT_MAX_LIST];
    bns_run_summary pruned_runs[BNS_REPORT_MAX_LIST];
    int ood_samples;
    int n_ood;
    bns_ood_result ood[BNS_REPORT_MAX_OOD];
} bns_eval_report;

/* The report as JSON text (free() it): "model", "method", "arch", "set",
 * "rows", "ece_bins", "mean_weights", then "single_sample" and "ensembles"
 * (stochastic models), "pruning" (if run), and "ood" with one entry per set
 * and computed score. NULL with the error recorded if jansson fails. */
char *bns_eval_report_json(const bns_eval_report *r);

#endif
