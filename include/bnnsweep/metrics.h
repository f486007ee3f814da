/* metrics.h - uncertainty, calibration and OOD-detection metrics (METHODS.md s.6).
 *
 * Pure functions of probability tables and scores; nothing here runs a model.
 * Probabilities are rows x classes, row-major; logs are natural (nats).
 */
#ifndef BNNSWEEP_METRICS_H
#define BNNSWEEP_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Uncertainty scores, higher = more uncertain (more out-of-distribution). */
enum bns_score { BNS_SCORE_ENTROPY = 0, BNS_SCORE_VR = 1, BNS_SCORE_BALD = 2, BNS_SCORE_COUNT = 3 };
const char *bns_score_name(int score);   /* "entropy", "vr", "bald" */
int bns_score_parse(const char *name);   /* -1 with the error recorded if unknown */

/* Entropy -sum_c p_c log p_c of one distribution (0 log 0 = 0). */
double bns_entropy(const float *p, int n_classes);

/* From n_samples tables of per-sample probabilities, sample_probs laid out
 * [sample][row][class]: p_bar (rows x classes, required) = their mean, and
 * per row (each may be NULL) predictive entropy H(p_bar), variation ratio
 * 1 - max_c p_bar_c, and BALD = H(p_bar) - mean_s H(p_s) (clamped at 0
 * against rounding). */
void bns_uncertainty(const float *sample_probs, int n_samples, size_t rows, int n_classes, float *p_bar,
                     float *entropy, float *vr, float *bald);
/* The same scores from p_bar and mean_s H(p_s) (what bns_predict_probs_entropy
 * returns); mean_entropy may be NULL unless score is BNS_SCORE_BALD. */
void bns_uncertainty_score(const float *p_bar, const float *mean_entropy, size_t rows, int n_classes, int score,
                           float *out);

/* Mean negative log-likelihood -log p_y; p_y is floored at 1e-12 (at most
 * 27.6 nats per row) because float probabilities can underflow to 0. */
double bns_nll(const float *probs, const uint8_t *labels, size_t rows, int n_classes);

/* Expected calibration error with n_bins equal-width confidence bins
 * (bns_eval uses 15): confidence = max_c p_c, prediction = first argmax,
 * bin b holds confidences in [b/n_bins, (b+1)/n_bins), the last bin also 1.0;
 * ECE = sum_b (n_b / n) |accuracy_b - mean confidence_b|. */
double bns_ece(const float *probs, const uint8_t *labels, size_t rows, int n_classes, int n_bins);
#define BNS_ECE_BINS 15

/* Separating in-distribution rows (score_in) from OOD rows (score_out) by a
 * score where higher = more OOD.
 * AUROC: probability that a random OOD row scores higher than a random
 * in-distribution row, ties counting 1/2 (Mann-Whitney U with average ranks
 * for tied scores). 0.5 if either set is empty. */
double bns_auroc(const float *score_in, size_t n_in, const float *score_out, size_t n_out);
/* Area under the precision-recall curve as step-wise average precision:
 * with thresholds at each distinct score, AP = sum_k (R_k - R_{k-1}) P_k,
 * where P_k, R_k are the precision and recall of "score >= t_k" (tied rows
 * enter together) and R_0 = 0 (scikit-learn's average_precision_score).
 * AUPR-out: OOD rows are positive, ranked by score.
 * AUPR-in: in-distribution rows are positive, ranked by -score. */
double bns_aupr_out(const float *score_in, size_t n_in, const float *score_out, size_t n_out);
double bns_aupr_in(const float *score_in, size_t n_in, const float *score_out, size_t n_out);

#endif
