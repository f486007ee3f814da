/* evaluate.c - repeated-run accuracy, ensembles and SNR pruning (see
 * evaluate.h, METHODS.md s.4 "Robustness", "Ensembles", "Pruning"). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/error.h"
#include "bnnsweep/evaluate.h"
#include "bnnsweep/metrics.h"
#include "bnnsweep/prior.h"

void bns_eval_runs(bns_predictor *p, const bns_model *m, const bns_dataset *set, int n_ensemble, int runs,
                   const bns_stream *stream, uint64_t first, float *probs, bns_run_metrics *per_run,
                   bns_run_summary *out) {
    if (n_ensemble <= 0) runs = 1;
    if (runs < 1) runs = 1;
    int k = set->n_classes;
    bns_run_metrics sum = {0, 0, 0}, sum_sq = {0, 0, 0};
    for (int r = 0; r < runs; r++) {
        uint64_t begin = first + (uint64_t)r * (uint64_t)(n_ensemble > 0 ? n_ensemble : 0);
        bns_predict_probs(p, m, set->x, set->n, n_ensemble, stream, begin, probs);
        bns_run_metrics x = {bns_accuracy_of_probs(probs, set->y, set->n, k), bns_nll(probs, set->y, set->n, k),
                             bns_ece(probs, set->y, set->n, k, BNS_ECE_BINS)};
        if (per_run) per_run[r] = x;
        sum.acc += x.acc, sum.nll += x.nll, sum.ece += x.ece;
        sum_sq.acc += x.acc * x.acc, sum_sq.nll += x.nll * x.nll, sum_sq.ece += x.ece * x.ece;
    }
    out->runs = runs;
    out->mean = (bns_run_metrics){sum.acc / runs, sum.nll / runs, sum.ece / runs};
    double den = runs > 1 ? runs - 1 : 1;
#define BNS_SD(f) (runs > 1 ? sqrt(fmax(0.0, (sum_sq.f - runs * out->mean.f * out->mean.f) / den)) : 0.0)
    out->std = (bns_run_metrics){BNS_SD(acc), BNS_SD(nll), BNS_SD(ece)};
#undef BNS_SD
}

void bns_eval_single_sample(bns_predictor *p, const bns_model *m, const bns_dataset *set, int runs,
                            const bns_stream *stream, uint64_t first, float *probs, bns_run_metrics *per_run,
                            bns_run_summary *out) {
    bns_eval_runs(p, m, set, 1, runs, stream, first, probs, per_run, out);
}

size_t bns_prune_count(size_t n_weights, double rate) {
    double c = floor(rate * (double)n_weights + 0.5);
    if (c < 0) return 0;
    return c > (double)n_weights ? n_weights : (size_t)c;
}

size_t bns_arch_matrix_weights(const bns_arch *arch) {
    size_t n = 0;
    for (int l = 0; l < arch->n_layers; l++) n += (size_t)arch->width[l] * (size_t)arch->width[l + 1];
    return n;
}

typedef struct {
    double snr;
    uint32_t index;
} ranked;

static int by_snr_then_index(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->snr != y->snr) return x->snr < y->snr ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

int bns_snr_mask(const bns_model *m, double rate, uint8_t *mask, size_t *n_pruned) {
    if (!bns_model_has(m, BNS_CAP_SNR)) return bns_fail("SNR pruning needs a per-weight mean and std (method '%s' has none)",
                                                   m->cfg.method);
    if (!(rate >= 0.0 && rate <= 1.0)) return bns_fail("pruning rate %g is not in [0, 1]", rate);
    const bns_arch *arch = &m->arch;
    double *snr = bns_xmalloc(sizeof(double) * arch->n_weights);
    if (bns_model_weight_snr(m, snr)) {
        free(snr);
        return bns_fail_prefix("SNR pruning: ");
    }
    size_t n_w = bns_arch_matrix_weights(arch), count = bns_prune_count(n_w, rate), k = 0;
    ranked *all = bns_xmalloc(sizeof(ranked) * (n_w + 1));
    for (int l = 0; l < arch->n_layers; l++) {
        size_t begin = arch->weight_offset[l], end = begin + (size_t)arch->width[l] * arch->width[l + 1];
        for (size_t i = begin; i < end; i++)
            all[k++] = (ranked){snr[i], (uint32_t)i};
    }
    free(snr);
    qsort(all, n_w, sizeof(ranked), by_snr_then_index);
    memset(mask, 1, arch->n_weights);
    for (size_t i = 0; i < count; i++) mask[all[i].index] = 0;
    free(all);
    if (n_pruned) *n_pruned = count;
    return 0;
}
