/* predict.c - ensemble predictive probabilities (see predict.h). The loop
 * is samples-outer, rows-inner, so each weight sample is drawn once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/error.h"
#include "bnnsweep/nn.h"
#include "bnnsweep/predict.h"

void bns_predictor_init(bns_predictor *p, const bns_model *m) {
    memset(p, 0, sizeof *p);
    p->chunk_rows = 500;
    bns_net_workspace_init(&p->ws, &m->arch, p->chunk_rows);
    if (m->has_stats) bns_net_stats_set(&m->arch, m->stats, &p->ws); /* eval-mode batch norm */
    p->w = bns_xmalloc(sizeof(float) * m->arch.n_weights);
    p->chunk_probs = bns_xmalloc(sizeof(float) * p->chunk_rows * m->arch.n_classes);
}

void bns_predictor_free(bns_predictor *p) {
    bns_net_workspace_free(&p->ws);
    free(p->w);
    free(p->chunk_probs);
    free(p->weights);
    memset(p, 0, sizeof *p);
}

void bns_sample_cache_init(bns_sample_cache *c, size_t max_bytes) {
    memset(c, 0, sizeof *c);
    c->max_bytes = max_bytes;
}

void bns_sample_cache_free(bns_sample_cache *c) {
    free(c->w);
    free(c->have);
    c->w = NULL;
    c->have = NULL;
    c->cap = c->bound = 0;
}

void bns_sample_cache_bind(bns_sample_cache *c, uint64_t owner, const bns_stream *stream, size_t n_weights) {
    if (c->bound && c->owner == owner && c->n_weights == n_weights && !memcmp(&c->stream, stream, sizeof *stream))
        return;
    bns_sample_cache_free(c);
    c->owner = owner;
    c->stream = *stream;
    c->n_weights = n_weights;
    c->bound = 1;
    size_t per = sizeof(float) * (n_weights ? n_weights : 1), cap = c->max_bytes / per;
    c->cap = cap > 1024 ? 1024 : (int)cap; /* evaluations use the first ~100 samples */
    if (c->cap) {
        c->w = bns_xmalloc(per * (size_t)c->cap);
        c->have = bns_xcalloc((size_t)c->cap, 1);
    }
}

/* Weight sample `index` of the stream into w, through the cache when it
 * holds samples of this stream. */
static void draw_sample(bns_predictor *p, const bns_model *m, const bns_stream *stream, uint64_t index, float *w) {
    bns_sample_cache *c = p->cache;
    size_t n = m->arch.n_weights;
    if (!c || !c->bound || index >= (uint64_t)c->cap || c->n_weights != n ||
        memcmp(&c->stream, stream, sizeof *stream)) {
        bns_model_sample_weights(m, stream, index, w);
        return;
    }
    float *slot = c->w + (size_t)index * n;
    if (c->have[index]) {
        c->hits++;
    } else {
        bns_model_sample_weights(m, stream, index, slot);
        c->have[index] = 1;
        c->draws++;
    }
    memcpy(w, slot, sizeof(float) * n);
}

void bns_predict_probs_entropy(bns_predictor *p, const bns_model *m, const float *x, size_t rows, int n_samples,
                               const bns_stream *stream, uint64_t first, float *probs, float *mean_entropy) {
    const bns_arch *arch = &m->arch;
    int n_classes = arch->n_classes, d = arch->n_inputs;
    int passes = n_samples > 0 ? n_samples : 1;
    memset(probs, 0, sizeof(float) * rows * n_classes);
    if (mean_entropy) memset(mean_entropy, 0, sizeof(float) * rows);
    /* importance-weighted samples (BNS_CAP_WEIGHTED): the self-normalised
     * weights of this ensemble, max-shifted so exp never overflows */
    int weighted = n_samples > 0 && bns_model_has(m, BNS_CAP_WEIGHTED);
    if (weighted) {
        if (p->weights_cap < passes) {
            free(p->weights);
            p->weights = bns_xmalloc(sizeof(double) * (size_t)passes);
            p->weights_cap = passes;
        }
        double top = -INFINITY, total = 0.0;
        for (int s = 0; s < passes; s++) {
            p->weights[s] = bns_model_log_weight(m, stream, first + s);
            if (p->weights[s] > top) top = p->weights[s];
        }
        for (int s = 0; s < passes; s++) total += p->weights[s] = exp(p->weights[s] - top);
        for (int s = 0; s < passes; s++) p->weights[s] /= total;
    }
    for (int s = 0; s < passes; s++) {
        float weight = weighted ? (float)p->weights[s] : 1.0f;
        const float *w;
        if (n_samples > 0) {
            draw_sample(p, m, stream, first + s, p->w);
            w = p->w;
        } else if (p->mask) {
            memcpy(p->w, bns_model_mean(m), sizeof(float) * arch->n_weights);
            w = p->w;
        } else {
            w = bns_model_mean(m);
        }
        if (p->mask) { /* pruned weights are exactly zero (not -0.0f) in every sample */
            const uint8_t *mask = p->mask;
            for (size_t i = 0; i < arch->n_weights; i++) p->w[i] = mask[i] ? p->w[i] : 0.0f;
        }
        for (size_t begin = 0; begin < rows; begin += p->chunk_rows) {
            int count = (int)(rows - begin < (size_t)p->chunk_rows ? rows - begin : (size_t)p->chunk_rows);
            const float *logits = bns_net_forward(arch, w, x + begin * d, count, &p->ws);
            m->likelihood.predict(logits, count, n_classes, p->chunk_probs);
            float *out = probs + begin * n_classes;
            if (weighted)
                for (size_t i = 0; i < (size_t)count * n_classes; i++) out[i] += weight * p->chunk_probs[i];
            else
                for (size_t i = 0; i < (size_t)count * n_classes; i++) out[i] += p->chunk_probs[i];
            if (mean_entropy) {
                for (int r = 0; r < count; r++) {
                    const float *q = p->chunk_probs + (size_t)r * n_classes;
                    double h = 0;
                    for (int c = 0; c < n_classes; c++)
                        if (q[c] > 0) h -= (double)q[c] * log((double)q[c]);
                    mean_entropy[begin + r] += weighted ? weight * (float)h : (float)h;
                }
            }
        }
    }
    if (weighted) return; /* the weights sum to 1 */
    float inv = 1.0f / passes;
    for (size_t i = 0; i < rows * n_classes; i++) probs[i] *= inv;
    if (mean_entropy)
        for (size_t i = 0; i < rows; i++) mean_entropy[i] *= inv;
}

void bns_predict_probs(bns_predictor *p, const bns_model *m, const float *x, size_t rows, int n_samples,
                       const bns_stream *stream, uint64_t first, float *probs) {
    bns_predict_probs_entropy(p, m, x, rows, n_samples, stream, first, probs, NULL);
}

double bns_accuracy_of_probs(const float *probs, const uint8_t *labels, size_t rows, int n_classes) {
    if (rows == 0) return 0.0;
    size_t correct = 0;
    for (size_t i = 0; i < rows; i++) correct += (size_t)bns_count_correct(probs + i * n_classes, labels + i, 1, n_classes);
    return (double)correct / rows;
}
