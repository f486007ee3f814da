/* posterior.c - building blocks of the posterior interface (method.h):
 * parameter blocks in the network's layout, a point estimate, and the
 * mean-field Gaussian shared by bbb and lrt (METHODS.md s.1-2). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bnnsweep/backend.h"
#include "bnnsweep/method.h"

int bns_layer_param_blocks(const bns_model *m, const char *const *suffixes, int copies, bns_param_block *out) {
    const bns_arch *a = &m->arch;
    int n = 0;
    for (int c = 0; c < copies; c++) {
        size_t base = (size_t)c * a->n_weights;
        for (int i = 0; i < a->n_ops && n + 2 <= BNS_MAX_PARAM_BLOCKS; i++) {
            const bns_layer *op = &a->ops[i];
            if (!op->type->has_params) continue;
            bns_param_block *w = &out[n++], *b = &out[n++];
            snprintf(w->path, sizeof w->path, "layers/%d/weight%s", op->dense_index, suffixes[c]);
            w->offset = base + op->weight_offset;
            /* dense: [n_in, n_out]; conv: [C_out, C_in k k]; batch norm's gamma: [C] */
            w->rank = op->type == &bns_layer_batchnorm ? 1 : 2;
            w->dims[0] = op->type == &bns_layer_dense ? (size_t)op->n_in : (size_t)bns_layer_units(op);
            w->dims[1] = op->type == &bns_layer_dense ? (size_t)op->n_out
                         : w->rank == 2              ? (size_t)bns_layer_fan_in(op)
                                                     : 0;
            snprintf(b->path, sizeof b->path, "layers/%d/bias%s", op->dense_index, suffixes[c]);
            b->offset = base + op->bias_offset;
            b->rank = 1;
            b->dims[0] = (size_t)bns_layer_units(op);
            b->dims[1] = 0;
        }
    }
    return n;
}

/* ---- a point estimate ---- */

size_t bns_point_n_params(const bns_config *cfg, const bns_arch *arch) {
    (void)cfg;
    return arch->n_weights;
}

int bns_point_param_blocks(const bns_model *m, bns_param_block *out) {
    static const char *const suffix[] = {""};
    return bns_layer_param_blocks(m, suffix, 1, out);
}

const float *bns_point_weights(const bns_model *m) { return m->params; }

void bns_point_sample_weights(const bns_model *m, const bns_stream *stream, uint64_t index, float *w) {
    (void)stream;
    (void)index;
    memcpy(w, m->params, sizeof(float) * m->arch.n_weights);
}

/* ---- mean-field Gaussian: mu then rho ---- */

size_t bns_gaussian_n_params(const bns_config *cfg, const bns_arch *arch) {
    (void)cfg;
    return 2 * arch->n_weights;
}

int bns_gaussian_param_blocks(const bns_model *m, bns_param_block *out) {
    static const char *const suffixes[] = {"_mu", "_rho"};
    return bns_layer_param_blocks(m, suffixes, 2, out);
}

void bns_gaussian_init(bns_model *m, const bns_stream *init_stream) {
    size_t n = m->arch.n_weights;
    bns_init_truncated_normal(m->params, &m->arch, bns_init_std(&m->cfg), init_stream);
    for (size_t i = 0; i < n; i++) m->params[n + i] = (float)m->cfg.rho_init;
}

const float *bns_gaussian_mean(const bns_model *m) { return m->params; }

void bns_gaussian_sample_weights(const bns_model *m, const bns_stream *stream, uint64_t index, float *w) {
    bns_gaussian_sample_weights_mapped(m, stream, index, w, NULL);
}

void bns_gaussian_sample_weights_mapped(const bns_model *m, const bns_stream *stream, uint64_t index, float *w,
                                        bns_sigma_map map) {
    size_t n = m->arch.n_weights;
    /* the fused float path in L1-sized chunks; the stream is slice-independent,
     * so chunking does not change the numbers */
    enum { CHUNK = 1024 };
    float sigma[CHUNK], sigmoid_rho[CHUNK], eps[CHUNK];
    for (size_t begin = 0; begin < n; begin += CHUNK) {
        size_t count = n - begin < CHUNK ? n - begin : CHUNK;
        bns_fused_posterior_prepare(m->params + n + begin, count, sigma, sigmoid_rho);
        if (map) map(count, sigma, sigmoid_rho);
        bns_fused_sample(m->params + begin, sigma, count, stream, index, begin, eps, w + begin);
    }
}

void bns_gaussian_weight_snr(const bns_model *m, double *snr) {
    size_t n = m->arch.n_weights;
    const float *mu = m->params, *rho = m->params + n;
    for (size_t i = 0; i < n; i++) snr[i] = fabs((double)mu[i]) / bns_softplus((double)rho[i]);
}

double bns_gaussian_train_cost(const bns_config *cfg, double row_weights) {
    return row_weights * cfg->samples * BNS_COST_TRAIN_BAYES;
}
