/* lrt.c - Gaussian posterior trained with the local reparameterisation trick
 * (Kingma, Salimans & Welling 2015; METHODS.md s.2).
 *
 * Pre-activations are sampled per example from their exact Gaussian, so the
 * KL must be closed form: Gaussian prior only. With S > 1 each sample is a
 * fresh draw of the noise zeta over the whole network. The first layer's
 * input is the same for all samples, so its moments are computed once per
 * step, and its weight gradients once from the gradients summed over
 * samples (X^T sum_s dB_s): S samples cost far less than S steps. Noise for sample s,
 * layer l at step t: normals [s*Z + zoff[l], ...) of substream t, where Z is
 * batch * (sum of layer widths) and zoff[l] the running offset. The step
 * closes with one pass over the parameters (bns_fused_lrt_grad): the last
 * gradients folded in, the KL's added and, with an optimizer (train_step),
 * the update applied chunk by chunk while the chunk is in cache. */
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/backend.h"
#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/nn.h"

typedef struct {
    bns_stream noise;
    int samples;
    float *act[BNS_MAX_LAYERS + 1];   /* act[l], l >= 1: layer outputs (after relu) */
    float *act_sq[BNS_MAX_LAYERS];    /* squared inputs of each layer */
    float *std_out[BNS_MAX_LAYERS];   /* sqrt(delta) */
    float *zeta[BNS_MAX_LAYERS];
    float *grad_act[2];
    float *var;                       /* sigma^2 of every parameter (P) */
    float *sigma, *sigmoid_rho;       /* softplus(rho) and its derivative (P) */
    float *grad_mu_sample, *grad_var_sample;
    float *gamma0;                    /* first layer's mean pre-activation */
    float *grad_gamma0, *grad_delta0; /* first layer's output gradients summed over samples */
} lrt_trainer;

/* The dense layer whose output layer-list entry i works on (in place): LRT
 * keeps one activation buffer per dense layer; the layers between dense
 * layers (relu today) must be in place. */
static int dense_before(const bns_arch *arch, int i) {
    while (i > 0 && arch->ops[i].type != &bns_layer_dense) i--;
    return arch->ops[i].dense_index;
}

static int lrt_validate(const bns_config *cfg) {
    if (cfg->prior.kind != BNS_PRIOR_GAUSSIAN)
        return bns_fail("method lrt needs a Gaussian prior (closed-form KL): set prior=gaussian");
    bns_arch arch;
    if (bns_arch_parse(cfg->arch, 784, &arch)) return -1; /* any input size works for the check: MNIST's */
    for (int i = 0; i < arch.n_ops; i++)
        /* relu only between the dense layers: the other in-place layers (save, add) need the workspace */
        if (arch.ops[i].type != &bns_layer_dense && arch.ops[i].type != &bns_layer_relu)
            return bns_fail("method lrt: layer %s of %s is not supported (dense and relu layers only)",
                            arch.ops[i].type->name, cfg->arch);
    return 0;
}

static void *lrt_trainer_create(const bns_model *m, int max_batch) {
    const bns_arch *arch = &m->arch;
    lrt_trainer *t = bns_xcalloc(1, sizeof *t);
    t->noise = bns_stream_make(m->cfg.seed, m->cfg.task, BNS_PURPOSE_LRT);
    t->samples = m->cfg.samples;
    for (int l = 0; l < arch->n_layers; l++) {
        size_t n_in = (size_t)max_batch * arch->width[l], n_out = (size_t)max_batch * arch->width[l + 1];
        t->act[l + 1] = bns_xmalloc(sizeof(float) * n_out);
        t->act_sq[l] = bns_xmalloc(sizeof(float) * n_in);
        t->std_out[l] = bns_xmalloc(sizeof(float) * n_out);
        t->zeta[l] = bns_xmalloc(sizeof(float) * n_out);
    }
    for (int i = 0; i < 2; i++) t->grad_act[i] = bns_xmalloc(sizeof(float) * (size_t)max_batch * arch->max_width);
    t->var = bns_xmalloc(sizeof(float) * arch->n_weights);
    t->sigma = bns_xmalloc(sizeof(float) * arch->n_weights);
    t->sigmoid_rho = bns_xmalloc(sizeof(float) * arch->n_weights);
    t->grad_mu_sample = bns_xmalloc(sizeof(float) * arch->n_weights);
    t->grad_var_sample = bns_xmalloc(sizeof(float) * arch->n_weights);
    size_t first_out = (size_t)max_batch * arch->width[1];
    t->gamma0 = bns_xmalloc(sizeof(float) * first_out);
    t->grad_gamma0 = bns_xmalloc(sizeof(float) * first_out);
    t->grad_delta0 = bns_xmalloc(sizeof(float) * first_out);
    return t;
}

static void lrt_trainer_free(void *trainer) {
    lrt_trainer *t = trainer;
    if (!t) return;
    for (int l = 0; l < BNS_MAX_LAYERS; l++) {
        free(t->act[l + 1]);
        free(t->act_sq[l]);
        free(t->std_out[l]);
        free(t->zeta[l]);
    }
    free(t->grad_act[0]);
    free(t->grad_act[1]);
    free(t->var);
    free(t->sigma);
    free(t->sigmoid_rho);
    free(t->grad_mu_sample);
    free(t->grad_var_sample);
    free(t->gamma0);
    free(t->grad_gamma0);
    free(t->grad_delta0);
    free(t);
}

/* One step's gradient into grad; with an optimizer (train_step) the
 * closing per-parameter pass also applies the update chunk by chunk. */
static void lrt_run(void *trainer, const bns_model *m, const float *x, const uint8_t *y, int batch,
                    const bns_objective *obj, bns_optimizer *opt, float *grad, bns_step_stats *stats) {
    lrt_trainer *t = trainer;
    const bns_arch *arch = &m->arch;
    size_t n = arch->n_weights;
    int L = arch->n_layers, n_classes = arch->width[L], S = t->samples;
    const float *mu = m->params, *rho = m->params + n;
    float *grad_mu = grad, *grad_rho = grad + n;

    /* sigma, sigmoid(rho) and sigma^2 chunk by chunk, the square while the
     * chunk's sigma is in L1. The chunk is a multiple of every vector width,
     * so the prepare's libmvec loops (whose lanes may differ from the
     * scalar epilogue's in the last ulp) see the same lanes as in one call. */
    enum { PREPARE_CHUNK = 1024 };
    for (size_t begin = 0; begin < n; begin += PREPARE_CHUNK) {
        size_t count = n - begin < PREPARE_CHUNK ? n - begin : PREPARE_CHUNK;
        bns_fused_posterior_prepare(rho + begin, count, t->sigma + begin, t->sigmoid_rho + begin);
        for (size_t i = begin; i < begin + count; i++) t->var[i] = t->sigma[i] * t->sigma[i];
    }
    uint64_t noise_per_sample = 0;
    for (int l = 0; l < L; l++) noise_per_sample += (uint64_t)batch * arch->width[l + 1];

    /* layer 0: moments once per step; its gradients accumulate over samples */
    int in0 = arch->width[0], out0 = arch->width[1];
    size_t count0 = (size_t)batch * out0;
    bns_lrt_moments(x, batch, in0, out0, mu, mu + arch->bias_offset[0], t->var, t->var + arch->bias_offset[0],
                    t->act_sq[0], t->std_out[0], t->gamma0);
    memset(t->grad_gamma0, 0, sizeof(float) * count0);
    memset(t->grad_delta0, 0, sizeof(float) * count0);
    size_t upper = arch->n_layers > 1 ? arch->weight_offset[1] : n; /* layers >= 1 start here */

    stats->nll_sum = 0.0;
    stats->correct = 0;
    for (int s = 0; s < S; s++) {
        uint64_t noise_offset = (uint64_t)s * noise_per_sample;
        bns_stream_normal(&t->noise, obj->step, noise_offset, count0, t->zeta[0]);
        noise_offset += count0;
        for (size_t i = 0; i < count0; i++) t->act[1][i] = t->gamma0[i] + t->std_out[0][i] * t->zeta[0][i];
        /* the rest of the layer list: dense layers as LRT layers (act[l + 1]
         * is dense layer l's output), the others as they are (in place) */
        for (int i = 1; i < arch->n_ops; i++) {
            const bns_layer *op = &arch->ops[i];
            if (op->type == &bns_layer_dense) {
                int l = op->dense_index;
                size_t count = (size_t)batch * op->n_out;
                bns_stream_normal(&t->noise, obj->step, noise_offset, count, t->zeta[l]);
                noise_offset += count;
                bns_lrt_forward(t->act[l], batch, op->n_in, op->n_out, mu + op->weight_offset, mu + op->bias_offset,
                                t->var + op->weight_offset, t->var + op->bias_offset, t->zeta[l], t->act_sq[l],
                                t->std_out[l], t->act[l + 1]);
            } else {
                float *a = t->act[dense_before(arch, i) + 1];
                op->type->forward(op, mu, a, op->n_in, batch, a, NULL);
            }
        }
        const float *logits = t->act[L];
        float *grad_out = t->grad_act[L % 2];
        stats->nll_sum += m->likelihood.nll(&m->likelihood, logits, y, batch, n_classes, (float)(obj->nll_scale / S), grad_out) / S;
        stats->correct += bns_count_correct(logits, y, batch, n_classes);
        for (int i = arch->n_ops - 1; i >= 1; i--) {
            const bns_layer *op = &arch->ops[i];
            if (op->type == &bns_layer_dense) {
                int l = op->dense_index;
                float *grad_in = t->grad_act[l % 2];
                bns_lrt_backward(t->act[l], t->act_sq[l], t->std_out[l], t->zeta[l], grad_out, batch, op->n_in,
                                 op->n_out, mu + op->weight_offset, t->var + op->weight_offset,
                                 t->grad_mu_sample + op->weight_offset, t->grad_mu_sample + op->bias_offset,
                                 t->grad_var_sample + op->weight_offset, t->grad_var_sample + op->bias_offset,
                                 grad_in);
                grad_out = grad_in;
            } else {
                const float *a = t->act[dense_before(arch, i) + 1];
                op->type->backward(op, mu, a, op->n_in, a, grad_out, batch, NULL, grad_out, op->n_in, NULL);
            }
        }
        /* layer 0: dgamma = dB, d delta = dB * zeta / (2 sqrt(delta)), summed over samples */
        for (size_t i = 0; i < count0; i++) {
            t->grad_gamma0[i] += grad_out[i];
            t->grad_delta0[i] += grad_out[i] * t->zeta[0][i] / (2.0f * t->std_out[0][i]);
        }
        /* layers >= 1: d/d rho = d/d sigma^2 * 2 sigma * sigmoid(rho); the
         * last sample's share is folded in by the closing pass below */
        if (s == S - 1) break;
        for (size_t i = upper; i < n; i++) {
            grad_mu[i] = (s == 0 ? 0.0f : grad_mu[i]) + t->grad_mu_sample[i];
            grad_rho[i] = (s == 0 ? 0.0f : grad_rho[i]) + t->grad_var_sample[i] * 2.0f * t->sigma[i] * t->sigmoid_rho[i];
        }
    }
    bns_dense_backward(x, t->grad_gamma0, batch, in0, out0, mu, t->grad_mu_sample,
                       t->grad_mu_sample + arch->bias_offset[0], NULL);
    bns_dense_backward(t->act_sq[0], t->grad_delta0, batch, in0, out0, t->var, t->grad_var_sample,
                       t->grad_var_sample + arch->bias_offset[0], NULL);
    stats->correct /= S;
    /* One pass over the parameters, chunk by chunk in cache: the first
     * layer's gradients (from 0) and the last sample's of the others (onto
     * the earlier samples' sum, from 0 when S = 1), the KL's, the update. */
    double kl_scale = obj->reg_scale / obj->n_train;
    bns_pair_update cu = {opt, m->params, grad, n};
    stats->kl = bns_fused_lrt_grad(mu, rho, t->sigma, t->sigmoid_rho, t->grad_mu_sample, t->grad_var_sample, n,
                                   S > 1 ? upper : n, m->cfg.prior.sigma, kl_scale, !obj->skip_kl_value, grad_mu,
                                   grad_rho, opt ? bns_pair_update_chunk : NULL, &cu);
    stats->reg_per_example = stats->kl / obj->n_train;
}

static void lrt_loss_grad(void *trainer, const bns_model *m, const float *x, const uint8_t *y, int batch,
                          const bns_objective *obj, float *grad, bns_step_stats *stats) {
    lrt_run(trainer, m, x, y, batch, obj, NULL, grad, stats);
}

static void lrt_train_step(void *trainer, bns_model *m, const float *x, const uint8_t *y, int batch,
                           const bns_objective *obj, bns_optimizer *opt, float *grad, bns_step_stats *stats) {
    lrt_run(trainer, m, x, y, batch, obj, opt, grad, stats);
}

const bns_method bns_method_lrt = {
    .name = "lrt",
    .summary = "Gaussian posterior trained with the local reparameterisation trick (Gaussian prior)",
    .caps = BNS_CAP_STOCHASTIC | BNS_CAP_SNR | BNS_CAP_CLOSED_FORM_KL,
    .validate = lrt_validate,
    BNS_GAUSSIAN_POSTERIOR,
    .trainer_create = lrt_trainer_create,
    .trainer_free = lrt_trainer_free,
    .loss_grad = lrt_loss_grad,
    .train_step = lrt_train_step,
};
