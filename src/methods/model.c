/* model.c - configuration defaults, model allocation and weight sampling. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/backend.h"
#include "bnnsweep/config.h"
#include "bnnsweep/dataset.h"
#include "bnnsweep/error.h"
#include "bnnsweep/method.h"

void bns_config_defaults(bns_config *cfg) {
    /* METHODS.md s.4: minibatch 128, SGD lr 0.001 momentum 0.95, patience 5. */
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->arch, sizeof cfg->arch, "FC-100-100-10");
    snprintf(cfg->method, sizeof cfg->method, "bbb");
    bns_prior_defaults(&cfg->prior, BNS_PRIOR_MIXTURE);
    cfg->rho_init = -3.0;
    cfg->init_std = 0.0;
    cfg->l2_lambda = 0.0;
    cfg->samples = 1;
    /* measured: the shared first-layer product does not pay for its copies
     * with OpenBLAS here (bnnsweep bench), and sequential needs 1/S the memory */
    cfg->sample_mode = BNS_SAMPLES_SEQUENTIAL;
    cfg->reduction = BNS_REDUCE_MEAN;
    cfg->optimizer = BNS_OPT_SGD;
    cfg->lr = 0.001;
    cfg->momentum = 0.95;
    cfg->beta1 = 0.9;
    cfg->beta2 = 0.999;
    cfg->adam_eps = 1e-8;
    cfg->batch_size = 128;
    cfg->max_epochs = 300;
    cfg->patience = 5;
    cfg->val_samples = 10;
    cfg->pixel_scale = 1.0 / 127.5;
    cfg->train_limit = 0;
    cfg->seed = 1;
    cfg->task = 0;
    bns_config_method_defaults(cfg);
}

static int validate_config(const bns_config *cfg) {
    const bns_prior *p = &cfg->prior;
    if (cfg->samples < 1 || cfg->samples > 1000) return bns_fail("samples must be in 1..1000, got %d", cfg->samples);
    if (cfg->batch_size < 1) return bns_fail("batch_size must be positive, got %d", cfg->batch_size);
    if (cfg->max_epochs < 0) return bns_fail("max_epochs must be >= 0, got %d", cfg->max_epochs);
    if (cfg->patience < 0) return bns_fail("patience must be >= 0, got %d", cfg->patience);
    if (cfg->val_samples < 0) return bns_fail("val_samples must be >= 0, got %d", cfg->val_samples);
    if (!(cfg->lr > 0) || !isfinite(cfg->lr)) return bns_fail("lr must be positive, got %g", cfg->lr);
    if (!(cfg->clip_norm >= 0) || !isfinite(cfg->clip_norm))
        return bns_fail("clip_norm must be finite and >= 0 (0 = off), got %g", cfg->clip_norm);
    /* clipping replaces the step by loss_grad + a clipped update: only for
     * methods whose step is that (sgld adds noise, apd and mog are not SGD on loss_grad) */
    if (cfg->clip_norm > 0 && (strcmp(cfg->method, "sgld") == 0 || strcmp(cfg->method, "apd") == 0 ||
                               strcmp(cfg->method, "mog") == 0))
        return bns_fail("clip_norm is not supported by method %s (its step is not a plain gradient step)",
                        cfg->method);
    if (!(cfg->momentum >= 0 && cfg->momentum < 1)) return bns_fail("momentum must be in [0, 1), got %g", cfg->momentum);
    if (!(cfg->l2_lambda >= 0) || !isfinite(cfg->l2_lambda)) return bns_fail("lambda must be >= 0, got %g", cfg->l2_lambda);
    if (!isfinite(cfg->rho_init)) return bns_fail("rho_init must be finite");
    if (!(cfg->init_std >= 0)) return bns_fail("init_std must be >= 0, got %g", cfg->init_std);
    if (!(cfg->pixel_scale > 0)) return bns_fail("pixel_scale must be positive, got %g", cfg->pixel_scale);
    if (!(cfg->noise_std >= 0) || !isfinite(cfg->noise_std))
        return bns_fail("noise_std must be >= 0 (0 = 0.02), got %g", cfg->noise_std);
    if (cfg->noise_std != 0 && cfg->dataset != BNS_DATA_TOY1D)
        return bns_fail("noise_std is a setting of the regression data set toy1d only");
    /* alpha splits the batch's targets per row as labels (alpha.c): not for real targets */
    if (cfg->dataset == BNS_DATA_TOY1D && strcmp(cfg->method, "alpha") == 0)
        return bns_fail("method alpha does not support the regression data set toy1d");
    if (p->kind == BNS_PRIOR_MIXTURE) {
        if (!(p->pi > 0 && p->pi < 1)) return bns_fail("prior pi must be in (0, 1), got %g", p->pi);
        if (!(p->sigma1 > 0 && p->sigma2 > 0)) return bns_fail("prior sigma1 and sigma2 must be positive");
    } else if (p->kind == BNS_PRIOR_GAUSSIAN) {
        if (!(p->sigma > 0)) return bns_fail("prior sigma must be positive, got %g", p->sigma);
    } else {
        return bns_fail("unknown prior kind %d", p->kind);
    }
    return 0;
}

int bns_model_alloc(const bns_config *cfg, int n_inputs, bns_model *out) {
    memset(out, 0, sizeof *out);
    const bns_method *method = bns_method_find(cfg->method);
    if (!method) {
        char names[256] = "";
        for (const bns_method *const *m = bns_method_list(); *m; m++) {
            strncat(names, " ", sizeof names - strlen(names) - 1);
            strncat(names, (*m)->name, sizeof names - strlen(names) - 1);
        }
        return bns_fail("unknown method '%s' (known:%s)", cfg->method, names);
    }
    if (validate_config(cfg)) return -1;
    /* another method's setting, changed from its default, would be ignored silently */
    bns_config defaults;
    bns_config_defaults(&defaults);
    for (const bns_config_field *f = bns_config_fields(); f->name; f++)
        if (!bns_config_field_applies(cfg, f) &&
            memcmp((const char *)cfg + f->offset, (const char *)&defaults + f->offset, f->size) != 0)
            return bns_fail("setting '%s' belongs to method %s, not %s", f->name, f->owner, cfg->method);
    if (method->validate && method->validate(cfg)) return -1;
    if (bns_arch_parse(cfg->arch, n_inputs, &out->arch)) return -1;
    out->cfg = *cfg;
    out->method = method;
    out->likelihood = bns_likelihood_softmax;
    if (cfg->dataset == BNS_DATA_TOY1D) { /* regression: y ~ N(f, s^2), s fixed (METHODS.md s.12) */
        out->likelihood = bns_likelihood_gaussian;
        if (cfg->noise_std > 0) out->likelihood.noise_std = cfg->noise_std;
    }
    out->n_params = method->n_params(cfg, &out->arch);
    out->params = bns_xcalloc(out->n_params, sizeof(float));
    out->n_stats = bns_net_stats_floats(&out->arch);
    if (out->n_stats) out->stats = bns_xcalloc(out->n_stats, sizeof(float));
    return 0;
}

int bns_model_create(const bns_config *cfg, int n_inputs, bns_model *out) {
    if (bns_model_alloc(cfg, n_inputs, out)) return -1;
    bns_stream init = bns_stream_make(cfg->seed, cfg->task, BNS_PURPOSE_INIT);
    out->method->init(out, &init);
    return 0;
}

void bns_model_free(bns_model *m) {
    free(m->params);
    free(m->stats);
    memset(m, 0, sizeof *m);
}

unsigned bns_model_caps(const bns_model *m) { return bns_method_caps(m->method, &m->cfg); }

void bns_caps_format(unsigned caps, char *buf, size_t size) {
    static const char *const names[] = {"stochastic", "snr", "closed_form_kl", "weighted"};
    size_t used = 0;
    if (size) buf[0] = '\0';
    for (int i = 0; i < 4 && used < size; i++)
        if (caps & (1u << i)) used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? "," : "", names[i]);
}

int bns_model_has(const bns_model *m, unsigned cap) { return (bns_model_caps(m) & cap) == cap; }

const float *bns_model_mean(const bns_model *m) { return m->method->point_weights(m); }

void bns_model_sample_weights(const bns_model *m, const bns_stream *stream, uint64_t index, float *w) {
    m->method->sample_weights(m, stream, index, w);
}

double bns_model_log_weight(const bns_model *m, const bns_stream *stream, uint64_t index) {
    return m->method->log_weight ? m->method->log_weight(m, stream, index) : 0.0;
}

int bns_model_weight_snr(const bns_model *m, double *snr) {
    if (!m->method->weight_snr || !bns_model_has(m, BNS_CAP_SNR))
        return bns_fail("method '%s' has no per-weight mean and std (SNR pruning needs one)", m->cfg.method);
    m->method->weight_snr(m, snr);
    return 0;
}

int bns_model_param_blocks(const bns_model *m, bns_param_block *out) {
    memset(out, 0, sizeof *out * BNS_MAX_PARAM_BLOCKS); /* fields a method does not set (compress) are 0 */
    return m->method->param_blocks(m, out);
}

int bns_model_find_nonfinite(const bns_model *m, char *where, size_t size) {
    bns_param_block blocks[BNS_MAX_PARAM_BLOCKS];
    int nb = bns_model_param_blocks(m, blocks);
    for (int b = 0; b < nb; b++) {
        size_t n = blocks[b].dims[0] * (blocks[b].rank == 2 ? blocks[b].dims[1] : 1);
        const float *p = m->params + blocks[b].offset;
        for (size_t i = 0; i < n; i++) {
            if (isfinite(p[i])) continue;
            snprintf(where, size, "/%s[%zu] = %g", blocks[b].path, i, (double)p[i]);
            return 1;
        }
    }
    return 0;
}

void bns_init_truncated_normal(float *w, const bns_arch *arch, double std, const bns_stream *stream) {
    /* Rejection sampling with a counter-based stream: candidate k of weight i
     * is normal number i of substream k, so the result is order-independent. */
    for (int i = 0; i < arch->n_ops; i++) {
        const bns_layer *op = &arch->ops[i];
        if (!op->type->has_params) continue;
        size_t begin = op->weight_offset, end = op->bias_offset;
        if (op->type->unit_weight) { /* batch norm starts as the identity: gamma 1, beta 0 */
            for (size_t j = begin; j < end; j++) w[j] = 1.0f;
            memset(w + end, 0, sizeof(float) * (size_t)bns_layer_units(op));
            continue;
        }
        double layer_std = std > 0 ? std : 1.0 / sqrt(3.0 * bns_layer_fan_in(op));
        /* every candidate 0 in one pass; the ~4.6% rejected draw again */
        bns_stream_normal(stream, 0, begin, end - begin, w + begin);
        for (size_t i = begin; i < end; i++) {
            float z = w[i];
            uint64_t attempt = 1;
            while (fabsf(z) > 2.0f) bns_stream_normal(stream, attempt++, i, 1, &z);
            w[i] = (float)(layer_std * z);
        }
        memset(w + end, 0, sizeof(float) * (size_t)bns_layer_units(op));
    }
}

double bns_init_std(const bns_config *cfg) {
    if (cfg->init_std > 0) return cfg->init_std;
    /* bbb's init_rule (bbb.c; the default 0 = the prior's std, every other
     * Gaussian-posterior method keeps that): readings of Zhang & Chen's
     * "truncated normal with the prior's mean and std" (METHODS.md s.4) */
    int r = bns_config_get_int(cfg, "init_rule");
    if (r == 2) return 0.0; /* bns_init_truncated_normal: 1/sqrt(3 fan-in) per layer */
    if (r == 1 && cfg->prior.kind == BNS_PRIOR_MIXTURE) return cfg->prior.sigma1;
    if (cfg->prior.kind == BNS_PRIOR_GAUSSIAN) return 0.1;
    return bns_prior_std(&cfg->prior);
}
