/* metrics.c - uncertainty scores, NLL, ECE, AUROC and AUPR (see metrics.h,
 * METHODS.md s.6). Rank metrics sort one scratch array per call. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/error.h"
#include "bnnsweep/metrics.h"

static const char *const score_names[BNS_SCORE_COUNT] = {"entropy", "vr", "bald"};

const char *bns_score_name(int score) {
    return score >= 0 && score < BNS_SCORE_COUNT ? score_names[score] : "?";
}

int bns_score_parse(const char *name) {
    for (int s = 0; s < BNS_SCORE_COUNT; s++)
        if (strcmp(name, score_names[s]) == 0) return s;
    return bns_fail("unknown score '%s' (entropy, vr or bald)", name);
}

double bns_entropy(const float *p, int n_classes) {
    double h = 0;
    for (int c = 0; c < n_classes; c++)
        if (p[c] > 0) h -= (double)p[c] * log((double)p[c]);
    return h;
}

static float score_of_row(const float *p_bar, double mean_h, int n_classes, int score) {
    if (score == BNS_SCORE_VR) {
        float best = p_bar[0];
        for (int c = 1; c < n_classes; c++) best = p_bar[c] > best ? p_bar[c] : best;
        return 1.0f - best;
    }
    double h = bns_entropy(p_bar, n_classes);
    if (score == BNS_SCORE_ENTROPY) return (float)h;
    return (float)fmax(0.0, h - mean_h); /* BALD */
}

void bns_uncertainty(const float *sample_probs, int n_samples, size_t rows, int n_classes, float *p_bar,
                     float *entropy, float *vr, float *bald) {
    size_t table = rows * (size_t)n_classes;
    for (size_t i = 0; i < rows; i++) {
        float *pb = p_bar + i * n_classes;
        double mean_h = 0;
        memset(pb, 0, sizeof(float) * n_classes);
        for (int s = 0; s < n_samples; s++) {
            const float *ps = sample_probs + s * table + i * n_classes;
            for (int c = 0; c < n_classes; c++) pb[c] += ps[c];
            mean_h += bns_entropy(ps, n_classes);
        }
        float inv = n_samples > 0 ? 1.0f / n_samples : 0.0f;
        for (int c = 0; c < n_classes; c++) pb[c] *= inv;
        mean_h = n_samples > 0 ? mean_h / n_samples : 0.0;
        if (entropy) entropy[i] = score_of_row(pb, mean_h, n_classes, BNS_SCORE_ENTROPY);
        if (vr) vr[i] = score_of_row(pb, mean_h, n_classes, BNS_SCORE_VR);
        if (bald) bald[i] = score_of_row(pb, mean_h, n_classes, BNS_SCORE_BALD);
    }
}

void bns_uncertainty_score(const float *p_bar, const float *mean_entropy, size_t rows, int n_classes, int score,
                           float *out) {
    for (size_t i = 0; i < rows; i++)
        out[i] = score_of_row(p_bar + i * n_classes, mean_entropy ? mean_entropy[i] : 0.0, n_classes, score);
}

double bns_nll(const float *probs, const uint8_t *labels, size_t rows, int n_classes) {
    if (rows == 0) return 0.0;
    double sum = 0;
    for (size_t i = 0; i < rows; i++) sum -= log(fmax((double)probs[i * n_classes + labels[i]], 1e-12));
    return sum / rows;
}

double bns_ece(const float *probs, const uint8_t *labels, size_t rows, int n_classes, int n_bins) {
    enum { MAX_BINS = 1000 };
    double gap[MAX_BINS] = {0}; /* per bin: sum of (correct - confidence) */
    if (rows == 0 || n_bins < 1) return 0.0;
    if (n_bins > MAX_BINS) n_bins = MAX_BINS;
    for (size_t i = 0; i < rows; i++) {
        const float *p = probs + i * n_classes;
        int arg = 0;
        for (int c = 1; c < n_classes; c++)
            if (p[c] > p[arg]) arg = c;
        double conf = p[arg];
        int b = (int)(conf * n_bins);
        b = b < 0 ? 0 : b >= n_bins ? n_bins - 1 : b;
        gap[b] += (arg == labels[i] ? 1.0 : 0.0) - conf;
    }
    double ece = 0;
    for (int b = 0; b < n_bins; b++) ece += fabs(gap[b]);
    return ece / rows;
}

/* ---- rank metrics: one (score, is_ood) array sorted by score ---- */

typedef struct {
    float score;
    int ood;
} scored;

static int by_score(const void *a, const void *b) {
    float x = ((const scored *)a)->score, y = ((const scored *)b)->score;
    return (x > y) - (x < y);
}

/* sorted ascending by score, negated first if `negate` */
static scored *sorted_scores(const float *score_in, size_t n_in, const float *score_out, size_t n_out, int negate) {
    scored *all = bns_xmalloc(sizeof(scored) * (n_in + n_out + 1));
    float sign = negate ? -1.0f : 1.0f;
    for (size_t i = 0; i < n_in; i++) all[i] = (scored){sign * score_in[i], 0};
    for (size_t i = 0; i < n_out; i++) all[n_in + i] = (scored){sign * score_out[i], 1};
    qsort(all, n_in + n_out, sizeof(scored), by_score);
    return all;
}

double bns_auroc(const float *score_in, size_t n_in, const float *score_out, size_t n_out) {
    if (n_in == 0 || n_out == 0) return 0.5;
    size_t n = n_in + n_out;
    scored *all = sorted_scores(score_in, n_in, score_out, n_out, 0);
    double rank_sum_out = 0; /* 1-based ranks, tied groups share their average rank */
    for (size_t i = 0; i < n;) {
        size_t j = i, ood = 0;
        while (j < n && all[j].score == all[i].score) ood += (size_t)all[j++].ood;
        rank_sum_out += (double)ood * 0.5 * ((double)(i + 1) + (double)j);
        i = j;
    }
    free(all);
    double u = rank_sum_out - 0.5 * (double)n_out * ((double)n_out + 1);
    return u / ((double)n_in * (double)n_out);
}

/* average precision of positives (is_ood == positive_ood) ranked from the top */
static double average_precision(const float *score_in, size_t n_in, const float *score_out, size_t n_out,
                                int positive_ood) {
    size_t n = n_in + n_out, n_pos = positive_ood ? n_out : n_in;
    if (n_pos == 0) return 0.0;
    scored *all = sorted_scores(score_in, n_in, score_out, n_out, !positive_ood);
    double ap = 0;
    size_t tp = 0, seen = 0;
    for (size_t end = n; end > 0;) { /* walk down from the highest score, one tied group at a time */
        size_t start = end, pos = 0;
        while (start > 0 && all[start - 1].score == all[end - 1].score) {
            start--;
            pos += (size_t)(all[start].ood == positive_ood);
        }
        tp += pos;
        seen += end - start;
        ap += ((double)pos / n_pos) * ((double)tp / seen);
        end = start;
    }
    free(all);
    return ap;
}

double bns_aupr_out(const float *score_in, size_t n_in, const float *score_out, size_t n_out) {
    return average_precision(score_in, n_in, score_out, n_out, 1);
}

double bns_aupr_in(const float *score_in, size_t n_in, const float *score_out, size_t n_out) {
    return average_precision(score_in, n_in, score_out, n_out, 0);
}
