/* bbb.c - Bayes by Backprop (Blundell et al. 2015; METHODS.md s.1).
 *
 * A step draws S weight samples w_s = mu + softplus(rho) * eps_s, runs each
 * through the network, and folds dNLL/dw_s and the Monte-Carlo KL gradient
 * of log q - log p into d/dmu and d/drho (bns_fused_bbb_grad). The noise of
 * sample s at step t is normals [s*P, (s+1)*P) of substream t of the
 * (seed, task, WEIGHT) stream, so both ways of running the samples
 * (cfg.sample_mode) see the same numbers:
 *   sequential  one sample at a time: draw, forward, backward, fold in
 *               (buffers for one sample);
 *   vectorized  all S drawn up front; the first layer, whose input is the
 *               same for every sample, runs as ONE matrix product over the
 *               samples' weights side by side ([W_1 | ... | W_S]) forward
 *               and backward, so the minibatch is read once (Semko 2023's
 *               "vectorized" variant; buffers for S samples).
 * With an optimizer (train_step), the last sample's gradient pass applies
 * the update chunk by chunk while the chunk is in cache.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/backend.h"
#include "bnnsweep/config.h"
#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/nn.h"
#include "bnnsweep/prior.h"

typedef struct {
    bns_net_workspace ws;    /* a whole-network pass (vectorized: layers >= 1 of one sample) */
    bns_stream noise;
    int samples, vectorized;
    double kl_weight;        /* bbb setting kl_weight, read once */
    int variance;            /* bbb setting sigma_of_rho = variance */
    float *rho_kernel;       /* variance reading: max(rho, -20), see bbb_run */
    float *eps;              /* P, or S x P when vectorized */
    float *w;                /* P, or S x P */
    float *grad_w;           /* P, or S x P: dNLL/dw of each sample */
    float *sigma;            /* P: softplus(rho), once per step */
    float *sigmoid_rho;      /* P: d sigma / d rho */
    float *grad_logits;
    /* vectorized mode: the first layer over all samples side by side */
    float *w0_cat;           /* n_in x (S * n_out0) */
    float *act0_cat;         /* batch x (S * n_out0) */
    float *grad0_cat;        /* batch x (S * n_out0), and the weight gradient n_in x (S * n_out0) */
    float *grad_w0_cat;
} bbb_trainer;

/* sigma_of_rho: eq. 1 of Zhang & Chen, N(w; mu, log(1 + exp(rho))), read
 * with the softplus as the standard deviation (Blundell's, the default) or as
 * the variance (METHODS.md s.4). */
enum { SIGMA_STD = 0, SIGMA_VARIANCE = 1 };

/* variance reading: sigma = sqrt(softplus(rho)), d sigma/d rho = sigmoid(rho) / (2 sigma) */
static void variance_map(size_t n, float *sigma, float *dsigma) {
    for (size_t i = 0; i < n; i++) {
        float s = sqrtf(sigma[i]); /* softplus >= e^-80 in the fused kernel: s > 0 */
        dsigma[i] /= 2.0f * s;
        sigma[i] = s;
    }
}

static int variance_reading(const bns_model *m) {
    return bns_config_get_int(&m->cfg, "sigma_of_rho") == SIGMA_VARIANCE;
}

static void bbb_sample_weights(const bns_model *m, const bns_stream *stream, uint64_t index, float *w) {
    bns_gaussian_sample_weights_mapped(m, stream, index, w, variance_reading(m) ? variance_map : NULL);
}

static void bbb_weight_snr(const bns_model *m, double *snr) {
    if (!variance_reading(m)) {
        bns_gaussian_weight_snr(m, snr);
        return;
    }
    size_t n = m->arch.n_weights;
    const float *mu = m->params, *rho = m->params + n;
    for (size_t i = 0; i < n; i++) snr[i] = fabs((double)mu[i]) / sqrt(bns_softplus((double)rho[i]));
}

static void *bbb_trainer_create(const bns_model *m, int max_batch) {
    const bns_arch *arch = &m->arch;
    bbb_trainer *t = bns_xcalloc(1, sizeof *t);
    size_t n = arch->n_weights;
    t->noise = bns_stream_make(m->cfg.seed, m->cfg.task, BNS_PURPOSE_WEIGHT);
    t->samples = m->cfg.samples;
    t->kl_weight = bns_config_get_double(&m->cfg, "kl_weight");
    t->variance = variance_reading(m);
    if (t->variance) t->rho_kernel = bns_xmalloc(sizeof(float) * n);
    /* one layer has no hidden activations to share: nothing to vectorize */
    t->vectorized = m->cfg.sample_mode == BNS_SAMPLES_VECTORIZED && arch->n_layers > 1;
    size_t copies = t->vectorized ? (size_t)t->samples : 1;
    t->eps = bns_xmalloc(sizeof(float) * n * copies);
    t->w = bns_xmalloc(sizeof(float) * n * copies);
    t->grad_w = bns_xmalloc(sizeof(float) * n * copies);
    t->sigma = bns_xmalloc(sizeof(float) * n);
    t->sigmoid_rho = bns_xmalloc(sizeof(float) * n);
    t->grad_logits = bns_xmalloc(sizeof(float) * (size_t)max_batch * arch->n_classes);
    bns_net_workspace_init(&t->ws, arch, max_batch);
    if (!t->vectorized) return t;
    size_t wide = (size_t)t->samples * arch->width[1];
    t->w0_cat = bns_xmalloc(sizeof(float) * arch->width[0] * wide);
    t->grad_w0_cat = bns_xmalloc(sizeof(float) * arch->width[0] * wide);
    t->act0_cat = bns_xmalloc(sizeof(float) * max_batch * wide);
    t->grad0_cat = bns_xmalloc(sizeof(float) * max_batch * wide);
    return t;
}

static void bbb_trainer_free(void *trainer) {
    bbb_trainer *t = trainer;
    if (!t) return;
    bns_net_workspace_free(&t->ws);
    free(t->eps);
    free(t->w);
    free(t->grad_w);
    free(t->sigma);
    free(t->sigmoid_rho);
    free(t->rho_kernel);
    free(t->grad_logits);
    free(t->w0_cat);
    free(t->grad_w0_cat);
    free(t->act0_cat);
    free(t->grad0_cat);
    free(t);
}

/* Folds sample s (its eps, w and dNLL/dw) into grad; returns its log q - log p. */
static double fold_sample(bbb_trainer *t, const bns_model *m, int s, const float *eps, const float *w,
                          const float *grad_w, const bns_objective *obj, bns_optimizer *opt, float *grad) {
    size_t n = m->arch.n_weights;
    /* kl_weight 1: the KL/M of METHODS.md s.1 under either reduction;
     * |B| with reduction mean: a per-batch KL/M added to a mean NLL */
    double kl_scale = obj->reg_scale / obj->n_train / t->samples * t->kl_weight;
    bns_pair_update update = {opt, m->params, grad, n};
    int last = s + 1 == t->samples;
    const float *rho = t->variance ? t->rho_kernel : m->params + n;
    return bns_fused_bbb_grad(rho, t->sigma, t->sigmoid_rho, eps, w, grad_w, n, &m->cfg.prior, kl_scale,
                              s > 0, !obj->skip_kl_value, grad, grad + n, opt && last ? bns_pair_update_chunk : NULL,
                              &update);
}

static void run_sequential(bbb_trainer *t, const bns_model *m, const float *x, const uint8_t *y, int batch,
                           const bns_objective *obj, bns_optimizer *opt, float *grad, bns_step_stats *stats) {
    const bns_arch *arch = &m->arch;
    size_t n = arch->n_weights;
    int n_classes = arch->n_classes, S = t->samples;
    for (int s = 0; s < S; s++) {
        bns_fused_sample(m->params, t->sigma, n, &t->noise, obj->step, (uint64_t)s * n, t->eps, t->w);
        float *logits = bns_net_forward(arch, t->w, x, batch, &t->ws);
        stats->nll_sum += m->likelihood.nll(&m->likelihood, logits, y, batch, n_classes, (float)(obj->nll_scale / S),
                                           t->grad_logits) / S;
        stats->correct += bns_count_correct(logits, y, batch, n_classes);
        bns_net_backward(arch, t->w, batch, &t->ws, t->grad_logits, t->grad_w, NULL);
        stats->kl += fold_sample(t, m, s, t->eps, t->w, t->grad_w, obj, opt, grad) / S;
    }
}

static void run_vectorized(bbb_trainer *t, const bns_model *m, const float *x, const uint8_t *y, int batch,
                           const bns_objective *obj, bns_optimizer *opt, float *grad, bns_step_stats *stats) {
    const bns_arch *arch = &m->arch;
    size_t n = arch->n_weights;
    int L = arch->n_layers, n_classes = arch->width[L], S = t->samples;
    int n_in = arch->width[0], n0 = arch->width[1], wide = S * n0;
    for (int s = 0; s < S; s++)
        bns_fused_sample(m->params, t->sigma, n, &t->noise, obj->step, (uint64_t)s * n, t->eps + (size_t)s * n,
                         t->w + (size_t)s * n);

    /* layer 0 for all samples: [A_1 | ... | A_S] = X [W_1 | ... | W_S] + [b_1 | ... | b_S] */
    for (int i = 0; i < n_in; i++)
        for (int s = 0; s < S; s++)
            memcpy(t->w0_cat + (size_t)i * wide + (size_t)s * n0, t->w + (size_t)s * n + (size_t)i * n0,
                   sizeof(float) * n0);
    for (int b = 0; b < batch; b++)
        for (int s = 0; s < S; s++)
            memcpy(t->act0_cat + (size_t)b * wide + (size_t)s * n0, t->w + (size_t)s * n + arch->bias_offset[0],
                   sizeof(float) * n0);
    bns_gemm(0, 0, batch, wide, n_in, 1.0f, x, n_in, t->w0_cat, wide, 1.0f, t->act0_cat, wide);
    bns_relu_forward(t->act0_cat, (size_t)batch * wide);

    /* layers >= 1, one sample at a time, through the network's layer loop
     * from layer list entry 2 (after dense 0 and its relu), reading the
     * sample's column block of A and writing its gradient's block */
    for (int s = 0; s < S; s++) {
        const float *w = t->w + (size_t)s * n;
        const float *logits = bns_net_forward_from(arch, 2, w, t->act0_cat + (size_t)s * n0, wide, batch, &t->ws);
        stats->nll_sum += m->likelihood.nll(&m->likelihood, logits, y, batch, n_classes, (float)(obj->nll_scale / S),
                                           t->grad_logits) / S;
        stats->correct += bns_count_correct(logits, y, batch, n_classes);
        bns_net_backward_from(arch, 2, w, batch, &t->ws, t->grad_logits, t->grad_w + (size_t)s * n,
                              t->grad0_cat + (size_t)s * n0, wide);
    }

    /* layer 0 backward for all samples: one product, then each sample's share */
    bns_relu_backward(t->act0_cat, t->grad0_cat, (size_t)batch * wide);
    bns_gemm(1, 0, n_in, wide, batch, 1.0f, x, n_in, t->grad0_cat, wide, 0.0f, t->grad_w0_cat, wide);
    for (int s = 0; s < S; s++) {
        float *grad_w = t->grad_w + (size_t)s * n;
        for (int i = 0; i < n_in; i++)
            memcpy(grad_w + (size_t)i * n0, t->grad_w0_cat + (size_t)i * wide + (size_t)s * n0, sizeof(float) * n0);
        float *grad_bias = grad_w + arch->bias_offset[0];
        memset(grad_bias, 0, sizeof(float) * n0);
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < n0; j++) grad_bias[j] += t->grad0_cat[(size_t)b * wide + (size_t)s * n0 + j];
    }
    for (int s = 0; s < S; s++)
        stats->kl += fold_sample(t, m, s, t->eps + (size_t)s * n, t->w + (size_t)s * n, t->grad_w + (size_t)s * n,
                                 obj, opt, grad) / S;
}

static void bbb_run(bbb_trainer *t, const bns_model *m, const float *x, const uint8_t *y, int batch,
                    const bns_objective *obj, bns_optimizer *opt, float *grad, bns_step_stats *stats) {
    size_t n = m->arch.n_weights;
    bns_fused_posterior_prepare(m->params + n, n, t->sigma, t->sigmoid_rho);
    if (t->variance) {
        /* the kernel reads rho only to take the limits of the softplus
         * reading below -20 (d log sigma/d rho -> 1, log sigma -> rho); the
         * variance reading's limits are 1/2 and rho/2, which the direct
         * ratio of the mapped sigma and d sigma/d rho gives at any rho */
        variance_map(n, t->sigma, t->sigmoid_rho);
        const float *rho = m->params + n;
        for (size_t i = 0; i < n; i++) t->rho_kernel[i] = rho[i] > -20.0f ? rho[i] : -20.0f;
    }
    stats->nll_sum = 0.0;
    stats->kl = 0.0;
    stats->correct = 0;
    if (t->vectorized)
        run_vectorized(t, m, x, y, batch, obj, opt, grad, stats);
    else
        run_sequential(t, m, x, y, batch, obj, opt, grad, stats);
    stats->correct /= t->samples;
    stats->reg_per_example = stats->kl / obj->n_train;
}

static void bbb_loss_grad(void *trainer, const bns_model *m, const float *x, const uint8_t *y, int batch,
                          const bns_objective *obj, float *grad, bns_step_stats *stats) {
    bbb_run(trainer, m, x, y, batch, obj, NULL, grad, stats);
}

static void bbb_train_step(void *trainer, bns_model *m, const float *x, const uint8_t *y, int batch,
                           const bns_objective *obj, bns_optimizer *opt, float *grad, bns_step_stats *stats) {
    bbb_run(trainer, m, x, y, batch, obj, opt, grad, stats);
}

static const char *const init_rule_names[] = {"prior", "sigma1", "fan_in", NULL};
static const char *const sigma_of_rho_names[] = {"std", "variance", NULL}; /* SIGMA_STD, SIGMA_VARIANCE */

/* Rows added after results existed: keyed only when set (config.h), so a
 * model at their defaults keeps its task key and streams. */
static const bns_config_field bbb_settings[] = {
    BNS_METHOD_OPTIONAL_SETTING("init_rule", BNS_FIELD_ENUM, init_rule_names, "prior",
                                "mu init std when init_std is 0: prior (the prior's std), sigma1 (the mixture's wide "
                                "component), fan_in (1/sqrt(3 fan-in) per layer, PyTorch's nn.Linear)"),
    BNS_METHOD_OPTIONAL_SETTING("kl_weight", BNS_FIELD_DOUBLE, NULL, "1",
                                "multiplier of the KL term (1 = KL/M per minibatch of the reduction's scale)"),
    BNS_METHOD_OPTIONAL_SETTING("sigma_of_rho", BNS_FIELD_ENUM, sigma_of_rho_names, "std",
                                "eq. 1's softplus(rho) as the std (sigma = softplus(rho), Blundell) or the variance "
                                "(sigma = sqrt(softplus(rho))); docs/zhang2020-reproduction.md"),
    {0},
};

static int bbb_validate(const bns_config *cfg) {
    double w = bns_config_get_double(cfg, "kl_weight");
    if (!(w >= 0) || !isfinite(w)) return bns_fail("kl_weight must be finite and >= 0, got %g", w);
    /* the vectorized path concatenates the first dense layer's S samples (FC view only) */
    if (cfg->sample_mode == BNS_SAMPLES_VECTORIZED && bns_arch_require_mlp(cfg->arch, "bbb with sample_mode=vectorized"))
        return bns_fail_prefix("set sample_mode=sequential: ");
    return 0;
}

const bns_method bns_method_bbb = {
    .name = "bbb",
    .summary = "Bayes by Backprop: sampled weights, Monte-Carlo KL (scale-mixture or Gaussian prior)",
    .caps = BNS_CAP_STOCHASTIC | BNS_CAP_SNR,
    /* BNS_GAUSSIAN_POSTERIOR, with sampling and SNR through sigma_of_rho */
    .n_params = bns_gaussian_n_params, .param_blocks = bns_gaussian_param_blocks, .init = bns_gaussian_init,
    .point_weights = bns_gaussian_mean, .sample_weights = bbb_sample_weights, .weight_snr = bbb_weight_snr,
    .train_cost = bns_gaussian_train_cost,
    .validate = bbb_validate,
    .trainer_create = bbb_trainer_create,
    .trainer_free = bbb_trainer_free,
    .loss_grad = bbb_loss_grad,
    .train_step = bbb_train_step,
    .settings = bbb_settings,
};
