/* source.c - the attacked model and the one input-gradient routine every
 * attack uses (attack.h; METHODS.md s.5 "Attacking a stochastic model"). */
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/attack.h"
#include "bnnsweep/error.h"
#include "bnnsweep/nn.h"

int bns_attack_source_init(bns_attack_source *src, const bns_model *m, const bns_attack_settings *s,
                           int max_batch) {
    memset(src, 0, sizeof *src);
    if (max_batch < 1) return bns_fail("attack batch must be positive, got %d", max_batch);
    const bns_arch *a = &m->arch;
    int d = a->n_inputs, classes = a->n_classes;
    int mode = bns_model_has(m, BNS_CAP_STOCHASTIC) ? s->source : BNS_SOURCE_WEIGHTS;
    if (mode == BNS_SOURCE_EXPECTATION && s->source_samples < 1)
        return bns_fail("source_samples must be at least 1 for the expectation source, got %d", s->source_samples);
    src->model = m;
    src->mode = mode;
    src->max_batch = max_batch;
    src->n_w = mode == BNS_SOURCE_EXPECTATION ? s->source_samples : 1;
    if (mode != BNS_SOURCE_WEIGHTS) {
        /* weight samples of the (seed, task, ATTACK) stream, drawn once */
        bns_stream stream = bns_stream_make(s->seed, s->task, BNS_PURPOSE_ATTACK);
        src->w = bns_xmalloc(sizeof(float) * a->n_weights * (size_t)src->n_w);
        for (int k = 0; k < src->n_w; k++) {
            uint64_t index = mode == BNS_SOURCE_SAMPLE ? s->source_index : (uint64_t)k;
            bns_model_sample_weights(m, &stream, index, src->w + a->n_weights * (size_t)k);
        }
    }
    bns_net_workspace_init(&src->ws, a, max_batch);
    if (m->has_stats) bns_net_stats_set(a, m->stats, &src->ws); /* eval-mode batch norm, as predict.c */
    src->grad_logits = bns_xmalloc(sizeof(float) * (size_t)max_batch * classes);
    src->grad_tmp = bns_xmalloc(sizeof(float) * (size_t)max_batch * d);
    src->probs_tmp = bns_xmalloc(sizeof(float) * (size_t)max_batch * classes);
    return 0;
}

void bns_attack_source_free(bns_attack_source *src) {
    free(src->w);
    bns_net_workspace_free(&src->ws);
    free(src->grad_logits);
    free(src->grad_tmp);
    free(src->probs_tmp);
    memset(src, 0, sizeof *src);
}

double bns_attack_input_grad(bns_attack_source *src, const float *x, const uint8_t *y, int batch, float *grad_x,
                             float *probs) {
    const bns_arch *a = &src->model->arch;
    int d = a->n_inputs, classes = a->n_classes;
    size_t nx = (size_t)batch * d, np = (size_t)batch * classes;
    double loss = 0.0;
    for (int k = 0; k < src->n_w; k++) {
        const float *w = src->w ? src->w + a->n_weights * (size_t)k : bns_model_mean(src->model);
        const float *logits = bns_net_forward(a, w, x, batch, &src->ws);
        loss += src->model->likelihood.nll(&src->model->likelihood, logits, y, batch, classes, 1.0f, grad_x ? src->grad_logits : NULL);
        if (probs) {
            /* k = 0 writes, later samples accumulate */
            src->model->likelihood.predict(logits, batch, classes, k == 0 ? probs : src->probs_tmp);
            if (k > 0)
                for (size_t i = 0; i < np; i++) probs[i] += src->probs_tmp[i];
        }
        if (grad_x) {
            float *dst = k == 0 ? grad_x : src->grad_tmp;
            bns_net_backward(a, w, batch, &src->ws, src->grad_logits, NULL, dst);
            if (k > 0)
                for (size_t i = 0; i < nx; i++) grad_x[i] += src->grad_tmp[i];
        }
    }
    if (src->n_w > 1) {
        float inv = 1.0f / (float)src->n_w;
        if (probs)
            for (size_t i = 0; i < np; i++) probs[i] *= inv;
        if (grad_x)
            for (size_t i = 0; i < nx; i++) grad_x[i] *= inv;
        loss /= src->n_w;
    }
    return loss;
}
