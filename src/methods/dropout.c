/* dropout.c - MLP with dropout, and MC dropout (Gal 2016; METHODS.md s.7).
 *
 * Dropout on the input of every dense layer: the pixels at
 * dropout_input_rate (default 0.5, as the public code of Li & Gal 2017 drops
 * before every dense layer including the input), hidden activations at
 * dropout_rate (default 0.5, the usual hidden-layer rate); kept units are
 * scaled by 1/(1-p) (inverted dropout), so the trained W is the network
 * without dropout. The loss is the cross-entropy plus the per-layer-
 * normalised L2 term of deterministic.c (l2_lambda, shared row).
 *
 * Masks. Let units = sum_l width[l] (the inputs of every dense layer) and
 * offset_l = sum_{j<l} width[j]. The keep decision of unit i of layer l in
 * "row" r of substream s is uniform number r * units + offset_l + i of
 * substream s: dropped iff u < p_l.
 *   training:   stream (seed, task, BNS_PURPOSE_WEIGHT), substream = the
 *               global step, row r = k * batch + n for example n of the
 *               minibatch under sample k (k = 0 here; alpha.c's K samples),
 *               so masks are independent per example, sample, layer, step;
 *   evaluation: MC-dropout sample k of an evaluation stream is row 0 of
 *               substream k, shared by every input of that sample, and is
 *               handed out as a weight vector (rows of W scaled by the mask
 *               scale, biases untouched), so evaluation, ensembles, attacks
 *               and OOD scores run the plain network on it.
 * mc_dropout = 0 evaluates the same trained model as a point estimate (no
 * BNS_CAP_STOCHASTIC; every sample is the trained W): "MLP with dropout".
 */
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/dropout.h"
#include "bnnsweep/error.h"
#include "bnnsweep/nn.h"

double bns_dropout_rate_of(const bns_config *cfg, int layer) {
    return bns_config_get_double(cfg, layer == 0 ? "dropout_input_rate" : "dropout_rate");
}

int bns_dropout_validate(const bns_config *cfg) {
    double p = bns_config_get_double(cfg, "dropout_rate"), p0 = bns_config_get_double(cfg, "dropout_input_rate");
    int mc = bns_config_get_int(cfg, "mc_dropout");
    if (!(p >= 0 && p < 1)) return bns_fail("dropout_rate must be in [0, 1), got %g", p);
    if (!(p0 >= 0 && p0 < 1)) return bns_fail("dropout_input_rate must be in [0, 1), got %g", p0);
    if (mc != 0 && mc != 1) return bns_fail("mc_dropout must be 0 or 1, got %d", mc);
    /* the masked forward drops units of the FC view's dense inputs */
    return bns_arch_require_mlp(cfg->arch, "the dropout masks");
}

unsigned bns_dropout_caps(const bns_config *cfg) {
    return bns_config_get_int(cfg, "mc_dropout") ? BNS_CAP_STOCHASTIC : 0u;
}

size_t bns_dropout_units(const bns_arch *arch) {
    size_t units = 0;
    for (int l = 0; l < arch->n_layers; l++) units += (size_t)arch->width[l];
    return units;
}

/* the scale of a unit whose uniform is u: 0 (dropped) or 1/(1-p) */
static float keep_scale(float u, double p) { return u < p ? 0.0f : (float)(1.0 / (1.0 - p)); }

void bns_dropout_masks(const bns_config *cfg, const bns_arch *arch, const bns_stream *s, uint64_t sub, size_t rows,
                       float *scales) {
    size_t units = bns_dropout_units(arch);
    bns_stream_uniform(s, sub, 0, rows * units, scales);
    for (int l = 0, offset = 0; l < arch->n_layers; offset += arch->width[l], l++) {
        double p = bns_dropout_rate_of(cfg, l);
        for (size_t r = 0; r < rows; r++) {
            float *row = scales + r * units + offset;
            for (int i = 0; i < arch->width[l]; i++) row[i] = keep_scale(row[i], p);
        }
    }
}

void bns_dropout_sample_weights(const bns_model *m, const bns_stream *stream, uint64_t index, float *w) {
    const bns_arch *arch = &m->arch;
    memcpy(w, m->params, sizeof(float) * arch->n_weights);
    if (!bns_config_get_int(&m->cfg, "mc_dropout")) return;
    enum { CHUNK = 256 };
    float u[CHUNK];
    for (int l = 0, offset = 0; l < arch->n_layers; offset += arch->width[l], l++) {
        double p = bns_dropout_rate_of(&m->cfg, l);
        int n_out = arch->width[l + 1];
        for (int i0 = 0; i0 < arch->width[l]; i0 += CHUNK) {
            int n = arch->width[l] - i0 < CHUNK ? arch->width[l] - i0 : CHUNK;
            bns_stream_uniform(stream, index, (uint64_t)(offset + i0), (size_t)n, u);
            for (int i = 0; i < n; i++) {
                float scale = keep_scale(u[i], p), *row = w + arch->weight_offset[l] + (size_t)(i0 + i) * n_out;
                for (int j = 0; j < n_out; j++) row[j] *= scale;
            }
        }
    }
}

void bns_dropout_init(bns_model *m, const bns_stream *init_stream) {
    /* the deterministic net's init (deterministic.c says why) */
    bns_init_truncated_normal(m->params, &m->arch, m->cfg.init_std, init_stream);
}

/* ---- the masked network ---- */

void bns_dropout_net_init(bns_dropout_net *t, const bns_model *m, int max_rows) {
    const bns_arch *arch = &m->arch;
    memset(t, 0, sizeof *t);
    t->masks = bns_stream_make(m->cfg.seed, m->cfg.task, BNS_PURPOSE_WEIGHT);
    t->units = bns_dropout_units(arch);
    size_t rows = (size_t)max_rows;
    t->scale = bns_xmalloc(sizeof(float) * rows * t->units);
    for (int l = 0; l < arch->n_layers; l++) {
        t->in[l] = bns_xmalloc(sizeof(float) * rows * arch->width[l]);
        t->out[l] = bns_xmalloc(sizeof(float) * rows * arch->width[l + 1]);
    }
    for (int i = 0; i < 2; i++) t->grad[i] = bns_xmalloc(sizeof(float) * rows * arch->max_width);
    t->grad_logits = bns_xmalloc(sizeof(float) * rows * arch->width[arch->n_layers]);
}

void bns_dropout_net_free(bns_dropout_net *t) {
    free(t->scale);
    for (int l = 0; l < BNS_MAX_LAYERS; l++) {
        free(t->in[l]);
        free(t->out[l]);
    }
    free(t->grad[0]);
    free(t->grad[1]);
    free(t->grad_logits);
    memset(t, 0, sizeof *t);
}

const float *bns_dropout_forward(bns_dropout_net *t, const bns_model *m, const float *x, int batch, int copies,
                                 uint64_t step) {
    const bns_arch *arch = &m->arch;
    const float *w = m->params;
    size_t rows = (size_t)batch * copies;
    bns_dropout_masks(&m->cfg, arch, &t->masks, step, rows, t->scale);
    for (int l = 0, offset = 0; l < arch->n_layers; offset += arch->width[l], l++) {
        int n_in = arch->width[l], n_out = arch->width[l + 1];
        for (size_t r = 0; r < rows; r++) {
            const float *src = l == 0 ? x + (r % (size_t)batch) * n_in : t->out[l - 1] + r * n_in;
            const float *scale = t->scale + r * t->units + offset;
            float *dst = t->in[l] + r * n_in;
            for (int i = 0; i < n_in; i++) dst[i] = src[i] * scale[i];
        }
        bns_dense_forward(t->in[l], (int)rows, n_in, n_out, w + arch->weight_offset[l], w + arch->bias_offset[l],
                          t->out[l]);
        if (l + 1 < arch->n_layers) bns_relu_forward(t->out[l], rows * n_out);
    }
    return t->out[arch->n_layers - 1];
}

void bns_dropout_backward(bns_dropout_net *t, const bns_model *m, int rows, float *grad) {
    const bns_arch *arch = &m->arch;
    const float *w = m->params;
    float *g = t->grad_logits;
    int offset = (int)t->units;
    for (int l = arch->n_layers - 1; l >= 0; l--) {
        int n_in = arch->width[l], n_out = arch->width[l + 1];
        offset -= n_in;
        float *g_in = l > 0 ? t->grad[l % 2] : NULL; /* d/d(masked input): not needed for the pixels */
        bns_dense_backward(t->in[l], g, rows, n_in, n_out, w + arch->weight_offset[l], grad + arch->weight_offset[l],
                           grad + arch->bias_offset[l], g_in);
        if (!g_in) break;
        /* through the mask, then the relu that made layer l's input */
        for (size_t r = 0; r < (size_t)rows; r++) {
            const float *scale = t->scale + r * t->units + offset;
            float *gr = g_in + r * n_in;
            for (int i = 0; i < n_in; i++) gr[i] *= scale[i];
        }
        bns_relu_backward(t->out[l - 1], g_in, (size_t)rows * n_in);
        g = g_in;
    }
}

/* ---- the dropout method ---- */

typedef struct {
    bns_dropout_net net;
} dropout_trainer;

static const bns_config_field dropout_settings[] = {BNS_DROPOUT_SETTINGS, {0}};

static void *dropout_trainer_create(const bns_model *m, int max_batch) {
    dropout_trainer *t = bns_xcalloc(1, sizeof *t);
    bns_dropout_net_init(&t->net, m, max_batch);
    return t;
}

static void dropout_trainer_free(void *trainer) {
    dropout_trainer *t = trainer;
    if (!t) return;
    bns_dropout_net_free(&t->net);
    free(t);
}

static void dropout_loss_grad(void *trainer, const bns_model *m, const float *x, const uint8_t *y, int batch,
                              const bns_objective *obj, float *grad, bns_step_stats *stats) {
    dropout_trainer *t = trainer;
    int n_classes = m->arch.n_classes;
    const float *logits = bns_dropout_forward(&t->net, m, x, batch, 1, obj->step);
    stats->nll_sum = m->likelihood.nll(&m->likelihood, logits, y, batch, n_classes, (float)obj->nll_scale, t->net.grad_logits);
    stats->correct = bns_count_correct(logits, y, batch, n_classes);
    bns_dropout_backward(&t->net, m, batch, grad);
    stats->reg_per_example = bns_l2_penalty_grad(&m->arch, m->params, m->cfg.l2_lambda, obj->reg_scale, !obj->skip_kl_value, grad);
    stats->kl = 0.0;
}

const bns_method bns_method_dropout = {
    .name = "dropout",
    .summary = "MLP with dropout on every dense layer's input; mc_dropout=1 evaluates it by MC dropout",
    .caps = BNS_CAP_STOCHASTIC, /* with the default mc_dropout = 1; caps_of decides */
    .caps_of = bns_dropout_caps,
    .settings = dropout_settings,
    .validate = bns_dropout_validate,
    .n_params = bns_point_n_params,
    .param_blocks = bns_point_param_blocks,
    .init = bns_dropout_init,
    .point_weights = bns_point_weights,
    .sample_weights = bns_dropout_sample_weights,
    .trainer_create = dropout_trainer_create,
    .trainer_free = dropout_trainer_free,
    .loss_grad = dropout_loss_grad,
};
