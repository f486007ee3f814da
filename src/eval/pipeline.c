/* pipeline.c - the one evaluation pipeline: accuracy runs, OOD detection and
 * the JSON of `bnnsweep eval` (see eval_pipeline.h). A new file rather than
 * more of evaluate.c: evaluate.c holds the primitives (runs over samples, the
 * SNR mask), this composes them with predict.h and metrics.h for a model and
 * a set, the way every caller evaluates. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bnnsweep/error.h"
#include "bnnsweep/eval_pipeline.h"

void bns_evaluator_init(bns_evaluator *ev, const bns_model *m, const bns_dataset *set, const bns_stream *stream) {
    memset(ev, 0, sizeof *ev);
    ev->m = m;
    ev->set = set;
    ev->stream = *stream;
    ev->stochastic = bns_model_has(m, BNS_CAP_STOCHASTIC);
    bns_predictor_init(&ev->pred, m);
    ev->probs = bns_xmalloc(sizeof(float) * (set->n * (size_t)set->n_classes + 1));
    ev->mean_entropy = bns_xmalloc(sizeof(float) * (set->n + 1));
    ev->in_samples = -1;
}

void bns_evaluator_free(bns_evaluator *ev) {
    bns_predictor_free(&ev->pred);
    free(ev->probs);
    free(ev->mean_entropy);
    free(ev->mask);
    memset(ev, 0, sizeof *ev);
}

int bns_eval_accuracy(bns_evaluator *ev, const bns_accuracy_request *req, bns_run_metrics *per_run,
                      bns_accuracy_result *out) {
    const bns_model *m = ev->m;
    memset(out, 0, sizeof *out);
    ev->in_samples = -1; /* probs is overwritten */
    if (req->prune) {
        if (!ev->mask) ev->mask = bns_xmalloc(m->arch.n_weights);
        if (bns_snr_mask(m, req->prune_rate, ev->mask, &out->n_pruned)) return -1;
        ev->pred.mask = ev->mask;
    }
    /* a model whose samples are all its mean weights: one run of those */
    out->n_ensemble = ev->stochastic ? req->n_ensemble : 0;
    bns_eval_runs(&ev->pred, m, ev->set, out->n_ensemble, req->runs, &ev->stream, req->first, ev->probs, per_run,
                  &out->summary);
    ev->pred.mask = NULL;
    return 0;
}

void bns_ood_detect(const float *p_in, const float *h_in, size_t n_in, const float *p_out, const float *h_out,
                    size_t n_out, int n_classes, unsigned scores, bns_ood_result *out) {
    float *s_in = bns_xmalloc(sizeof(float) * (n_in + 1)), *s_out = bns_xmalloc(sizeof(float) * (n_out + 1));
    out->scores = 0;
    for (int s = 0; s < BNS_SCORE_COUNT; s++) {
        if (!(scores & (1u << s))) continue;
        bns_uncertainty_score(p_in, h_in, n_in, n_classes, s, s_in);
        bns_uncertainty_score(p_out, h_out, n_out, n_classes, s, s_out);
        out->auroc[s] = bns_auroc(s_in, n_in, s_out, n_out);
        out->aupr_in[s] = bns_aupr_in(s_in, n_in, s_out, n_out);
        out->aupr_out[s] = bns_aupr_out(s_in, n_in, s_out, n_out);
        out->scores |= 1u << s;
    }
    free(s_in);
    free(s_out);
}

/* the set's p_bar and mean per-sample entropy over samples [0, n_samples), kept for the next call */
static void predict_set(bns_evaluator *ev, int n_samples) {
    if (ev->in_samples == n_samples) return;
    bns_predict_probs_entropy(&ev->pred, ev->m, ev->set->x, ev->set->n, n_samples, &ev->stream, 0, ev->probs,
                              ev->mean_entropy);
    ev->in_samples = n_samples;
}

int bns_eval_scores(bns_evaluator *ev, int n_samples, int score, float *out) {
    int n = ev->stochastic ? n_samples : 0;
    if (score == BNS_SCORE_BALD && n == 0)
        return bns_fail("BALD is not defined for a model whose weight samples are all the same (a point estimate)");
    if (score < 0 || score >= BNS_SCORE_COUNT) return bns_fail("unknown score %d", score);
    predict_set(ev, n);
    bns_uncertainty_score(ev->probs, ev->mean_entropy, ev->set->n, ev->set->n_classes, score, out);
    return 0;
}

/* The set's and the other rows' p_bar and mean entropies with the same
 * samples, and their detection metrics; the other rows' p_bar is returned
 * (free() it) for the caller's accuracy. */
static float *score_against(bns_evaluator *ev, const bns_dataset *other, int n_samples, unsigned scores,
                            bns_ood_result *out) {
    const bns_model *m = ev->m;
    const bns_dataset *set = ev->set;
    int k = set->n_classes;
    out->n_samples = ev->stochastic ? n_samples : 0;
    if (out->n_samples == 0) scores &= ~(1u << BNS_SCORE_BALD); /* BALD is 0 for every row */
    snprintf(out->set, sizeof out->set, "%s", other->name);
    out->rows = other->n;
    predict_set(ev, out->n_samples);
    float *o_probs = bns_xmalloc(sizeof(float) * (other->n * (size_t)k + 1));
    float *o_h = bns_xmalloc(sizeof(float) * (other->n + 1));
    bns_predict_probs_entropy(&ev->pred, m, other->x, other->n, out->n_samples, &ev->stream, 0, o_probs, o_h);
    bns_ood_detect(ev->probs, ev->mean_entropy, set->n, o_probs, o_h, other->n, k, scores, out);
    free(o_h);
    return o_probs;
}

int bns_eval_ood(bns_evaluator *ev, const bns_dataset *ood, int n_samples, unsigned scores, bns_ood_result *out) {
    memset(out, 0, sizeof *out);
    if (ood->d != ev->set->d)
        return bns_fail("OOD set %s has %zu features per row, %s has %zu", ood->name, ood->d, ev->set->name,
                        ev->set->d);
    free(score_against(ev, ood, n_samples, scores, out));
    return 0;
}

/* fraction of rows whose first argmax of p is the label */
static double accuracy_of(const float *p, const uint8_t *y, size_t n, int k) {
    size_t right = 0;
    for (size_t i = 0; i < n; i++) {
        const float *row = p + i * (size_t)k;
        int best = 0;
        for (int c = 1; c < k; c++)
            if (row[c] > row[best]) best = c;
        right += best == y[i];
    }
    return n ? (double)right / (double)n : 0.0;
}

int bns_eval_detection(bns_evaluator *ev, const bns_dataset *adv, int n_samples, unsigned scores,
                       bns_detection_result *out) {
    memset(out, 0, sizeof *out);
    if (adv->d != ev->set->d || adv->n != ev->set->n)
        return bns_fail("adversarial set %s has %zu rows of %zu features, its clean rows %s %zu of %zu", adv->name,
                        adv->n, adv->d, ev->set->name, ev->set->n, ev->set->d);
    float *p_adv = score_against(ev, adv, n_samples, scores, &out->det);
    int k = ev->set->n_classes;
    out->acc_clean = accuracy_of(ev->probs, ev->set->y, ev->set->n, k);
    out->acc_adv = accuracy_of(p_adv, adv->y, adv->n, k);
    free(p_adv);
    return 0;
}

int bns_eval_sample_probs(bns_evaluator *ev, const bns_dataset *x, int n_samples, float *out) {
    if (x->d != ev->set->d)
        return bns_fail("set %s has %zu features per row, %s has %zu", x->name, x->d, ev->set->name, ev->set->d);
    /* sample k alone is the ensemble [k, k+1) of the stream: the samples the
     * OOD scores average (common random numbers, METHODS.md s.7 for dropout) */
    int slices = ev->stochastic ? n_samples : 1;
    size_t per = x->n * (size_t)ev->set->n_classes;
    for (int k = 0; k < slices; k++)
        bns_predict_probs(&ev->pred, ev->m, x->x, x->n, ev->stochastic ? 1 : 0, &ev->stream, (uint64_t)k,
                          out + (size_t)k * per);
    return slices;
}

/* ---- JSON of the eval report ---- */

/* jansson refuses a NULL value (a failed allocation, or a string that is not
 * UTF-8): one flag collects every refusal instead of a check per key */
static void put(json_t *o, const char *key, json_t *v, int *bad) { *bad |= json_object_set_new(o, key, v) != 0; }

static void put_summary(json_t *o, const bns_run_summary *s, int *bad) {
    put(o, "runs", json_integer(s->runs), bad);
    put(o, "acc_mean", json_real(s->mean.acc), bad);
    put(o, "acc_std", json_real(s->std.acc), bad);
    put(o, "nll_mean", json_real(s->mean.nll), bad);
    put(o, "nll_std", json_real(s->std.nll), bad);
    put(o, "ece_mean", json_real(s->mean.ece), bad);
    put(o, "ece_std", json_real(s->std.ece), bad);
}

static void append(json_t *array, json_t *v, int *bad) { *bad |= json_array_append_new(array, v) != 0; }

char *bns_eval_report_json(const bns_eval_report *r) {
    int bad = 0;
    json_t *root = json_object(), *o;
    put(root, "model", json_string(r->model_path), &bad);
    put(root, "method", json_string(r->method), &bad);
    put(root, "arch", json_string(r->arch), &bad);
    put(root, "set", json_string(r->set), &bad);
    put(root, "rows", json_integer((json_int_t)r->rows), &bad);
    put(root, "ece_bins", json_integer(BNS_ECE_BINS), &bad);
    put(root, "mean_weights", o = json_object(), &bad);
    put_summary(o, &r->mean_weights, &bad);
    if (r->stochastic) {
        put(root, "single_sample", o = json_object(), &bad);
        put_summary(o, &r->single_sample, &bad);
        json_t *ens = json_array();
        put(root, "ensembles", ens, &bad);
        for (int e = 0; e < r->n_ensembles; e++) {
            append(ens, o = json_object(), &bad);
            put(o, "n", json_integer(r->ensemble_n[e]), &bad);
            put_summary(o, &r->ensembles[e], &bad);
        }
    }
    if (r->pruning) {
        json_t *rates = json_array();
        put(root, "pruning", o = json_object(), &bad);
        put(o, "samples", json_integer(r->prune_samples), &bad);
        put(o, "weights", json_integer((json_int_t)r->prune_weights), &bad);
        put(o, "rates", rates, &bad);
        for (int i = 0; i < r->n_rates; i++) {
            const bns_run_summary *s = &r->pruned_runs[i];
            append(rates, o = json_object(), &bad);
            put(o, "rate", json_real(r->rates[i]), &bad);
            put(o, "pruned", json_integer((json_int_t)r->pruned[i]), &bad);
            put(o, "acc", json_real(s->mean.acc), &bad);
            put(o, "nll", json_real(s->mean.nll), &bad);
            put(o, "ece", json_real(s->mean.ece), &bad);
        }
    }
    json_t *sets = json_array();
    put(root, "ood", o = json_object(), &bad);
    put(o, "samples", json_integer(r->ood_samples), &bad);
    put(o, "sets", sets, &bad);
    for (int i = 0; i < r->n_ood; i++) {
        const bns_ood_result *res = &r->ood[i];
        for (int s = 0; s < BNS_SCORE_COUNT; s++) {
            if (!(res->scores & (1u << s))) continue;
            append(sets, o = json_object(), &bad);
            put(o, "set", json_string(res->set), &bad);
            put(o, "rows", json_integer((json_int_t)res->rows), &bad);
            put(o, "score", json_string(bns_score_name(s)), &bad);
            put(o, "auroc", json_real(res->auroc[s]), &bad);
            put(o, "aupr_in", json_real(res->aupr_in[s]), &bad);
            put(o, "aupr_out", json_real(res->aupr_out[s]), &bad);
        }
    }
    /* reals print with 17 significant digits: they read back exactly */
    char *text = bad ? NULL : json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    if (!text) bns_fail("eval report: cannot build JSON (%s)", bad ? "a name that is not UTF-8, or a NaN" : "out of memory");
    return text;
}
