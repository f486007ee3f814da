/* ris.c - mean-field Gaussian VI whose Monte-Carlo estimates use
 * reparameterized importance sampling (Long et al.; METHODS.md s.11; the
 * exact estimator, its derivation and the choices where the slides are
 * garbled: docs/ris.md).
 *
 * The posterior is bbb's and lrt's mean-field Gaussian (posterior.c), the
 * prior Gaussian and the KL closed form (METHODS.md s.2). A step estimates
 * the expected minibatch NLL from M weight samples drawn from a proposal r
 * instead of q and weighted by gamma = q(w) / r(w):
 *   L = (1/M) sum_m gamma_m NLL(w_m) + KL(q || p),
 *   w_m = mu + sigma eps_m,  eps_m = a + b xi_m,  xi_m ~ N(0, I),
 * with (a, b) the proposal in q's standardised coordinates, computed once per
 * step from a forward pass at mu (bns_ris_net_proposal) and held fixed
 * while differentiating. Then gamma depends on xi only, E[L] is the ELBO's
 * for every (a, b), and the gradient is bbb's with each sample's dNLL/dw
 * scaled by gamma_m / M: bns_fused_bbb_grad folds it in (with a zero KL
 * weight, the KL being added in closed form afterwards).
 * ris_proposal = 0 (or ris_taylor_order = 0, r = q) is plain MC MFVI with the
 * same M; ris_proposal = 0 draws exactly bbb's noise (sample m of step t:
 * normals [m P, (m + 1) P) of substream t of the (seed, task, WEIGHT) stream).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/backend.h"
#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/nn.h"
#include "bnnsweep/ris.h"

static const bns_config_field ris_settings[] = {
    BNS_METHOD_SETTING("ris_samples", BNS_FIELD_INT, NULL, "10", "RIS: weight samples M per training step"),
    BNS_METHOD_SETTING("ris_proposal", BNS_FIELD_INT, NULL, "1",
                       "RIS: 1 samples from the proposal r and weights by q/r; 0 is plain MC from q (the baseline)"),
    BNS_METHOD_SETTING("ris_taylor_order", BNS_FIELD_INT, NULL, "2",
                       "RIS: order of the Taylor expansion of E_q[|f| w^k] about mu: 2 (the slides'), 0 (r = q)"),
    BNS_METHOD_SETTING("ris_max_shift", BNS_FIELD_DOUBLE, NULL, "0.5",
                       "RIS: bound on |mu* - mu| / sigma, below 1/sqrt(2) so that E_r[gamma^2] stays finite"),
    {0},
};

typedef struct {
    bns_net_workspace ws;
    bns_stream noise;
    int samples, proposal, order; /* the settings, read once */
    double max_shift;
    float *sigma, *sigmoid_rho;   /* P: softplus(rho) and its derivative */
    float *a, *b;                 /* P: the proposal, eps ~ N(a, b^2) */
    float *xi, *eps, *w, *grad_w; /* P */
    float *grad_logits;
    float *work;                  /* batch x max_width */
} ris_trainer;

static int ris_validate(const bns_config *cfg) {
    int m = bns_config_get_int(cfg, "ris_samples"), p = bns_config_get_int(cfg, "ris_proposal");
    int order = bns_config_get_int(cfg, "ris_taylor_order");
    double shift = bns_config_get_double(cfg, "ris_max_shift");
    if (m < 1 || m > 1000) return bns_fail("ris_samples must be in 1..1000, got %d", m);
    if (p != 0 && p != 1) return bns_fail("ris_proposal must be 0 or 1, got %d", p);
    /* order 1 adds a zero-mean term to order 0, and for piecewise-linear |f|
     * every term past 2 vanishes (docs/ris.md): only 0 and 2 differ */
    if (order != 0 && order != 2)
        return bns_fail("ris_taylor_order must be 0 or 2, got %d (1 equals 0, and orders above 2 equal 2 for "
                        "relu networks)", order);
    if (!(shift >= 0 && shift < 0.70710678)) return bns_fail("ris_max_shift must be in [0, 1/sqrt(2)), got %g", shift);
    if (cfg->prior.kind != BNS_PRIOR_GAUSSIAN)
        return bns_fail("method ris needs a Gaussian prior (closed-form KL): set prior=gaussian");
    return 0;
}

static double ris_train_cost(const bns_config *cfg, double row_weights) {
    /* M samples plus the mean pass and the proposal's product: about one more sample */
    return row_weights * (bns_config_get_int(cfg, "ris_samples") + 1) * BNS_COST_TRAIN_BAYES;
}

static void *ris_trainer_create(const bns_model *m, int max_batch) {
    const bns_arch *arch = &m->arch;
    size_t n = arch->n_weights;
    ris_trainer *t = bns_xcalloc(1, sizeof *t);
    t->noise = bns_stream_make(m->cfg.seed, m->cfg.task, BNS_PURPOSE_WEIGHT);
    t->samples = bns_config_get_int(&m->cfg, "ris_samples");
    t->proposal = bns_config_get_int(&m->cfg, "ris_proposal");
    t->order = bns_config_get_int(&m->cfg, "ris_taylor_order");
    t->max_shift = bns_config_get_double(&m->cfg, "ris_max_shift");
    float **bufs[] = {&t->sigma, &t->sigmoid_rho, &t->a, &t->b, &t->xi, &t->eps, &t->w, &t->grad_w};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) *bufs[i] = bns_xmalloc(sizeof(float) * n);
    t->grad_logits = bns_xmalloc(sizeof(float) * (size_t)max_batch * arch->n_classes);
    t->work = bns_xmalloc(sizeof(float) * (size_t)max_batch * arch->max_width);
    bns_net_workspace_init(&t->ws, arch, max_batch);
    return t;
}

static void ris_trainer_free(void *trainer) {
    ris_trainer *t = trainer;
    if (!t) return;
    bns_net_workspace_free(&t->ws);
    float *bufs[] = {t->sigma, t->sigmoid_rho, t->a, t->b, t->xi, t->eps, t->w, t->grad_w, t->grad_logits, t->work};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(t);
}

/* The unit (output channel) that parameter q of a layer's W block feeds:
 * dense W is [n_in][n_out] (unit-minor), conv W [C_out][C_in k k] and batch
 * norm's gamma [C] unit-major (net.h). */
static int weight_unit(const bns_layer *op, size_t q) {
    if (op->type == &bns_layer_dense) return (int)(q % (size_t)op->n_out);
    return (int)(q / (size_t)bns_layer_fan_in(op));
}

/* Parameter i's proposal from a[i] = G_i and its unit's F: a = sigma G / F,
 * clamped, b = sqrt(1 - a^2); r = q where F = 0 (a dead unit). */
static void set_shift(size_t i, float F, const float *sigma, double max_shift, float *a, float *b) {
    float lim = (float)max_shift, s = F > 0.0f ? sigma[i] * a[i] / F : 0.0f;
    s = s > lim ? lim : s < -lim ? -lim : s;
    a[i] = s;
    b[i] = sqrtf(1.0f - s * s);
}

void bns_ris_layer_proposal(const bns_layer *op, const float *w, const float *x, int ld_x, const float *f, int relu,
                            int batch, const float *sigma, double max_shift, float *work, bns_net_workspace *ws,
                            float *a, float *b) {
    /* work = d|f|/dy per example and output feature; b's bias slots collect F,
     * a's (through the layer's backward) G */
    int units = bns_layer_units(op), per_unit = op->n_out / units; /* output features per unit: H W, or 1 */
    size_t n_w = op->bias_offset - op->weight_offset;
    float *slope = work, *F = b + op->bias_offset;
    for (int j = 0; j < units; j++) F[j] = 0.0f;
    for (int r = 0; r < batch; r++)
        for (int o = 0; o < op->n_out; o++) {
            float v = f[(size_t)r * op->n_out + o];
            float s = relu ? (v > 0.0f ? 1.0f : 0.0f) : (v > 0.0f ? 1.0f : v < 0.0f ? -1.0f : 0.0f);
            slope[(size_t)r * op->n_out + o] = s;
            F[o / per_unit] += s * v; /* |f(v)|: relu's output is >= 0, and sign(v) v = |v| */
        }
    /* G = d/dtheta sum |f| at mu: the layer's own parameter gradient with d/dy = slope */
    op->type->backward(op, w, x, ld_x, f, slope, batch, a, NULL, 0, ws);
    for (size_t q = 0; q < n_w; q++) set_shift(op->weight_offset + q, F[weight_unit(op, q)], sigma, max_shift, a, b);
    for (int j = 0; j < units; j++) set_shift(op->bias_offset + (size_t)j, F[j], sigma, max_shift, a, b); /* F last */
}

double bns_ris_draw(const float *mu, const float *sigma, const float *a, const float *b, size_t n,
                    const bns_stream *stream, uint64_t sub, uint64_t offset, float *xi, float *eps, float *w) {
    bns_stream_normal(stream, sub, offset, n, xi);
    double log_w = 0.0;
    for (size_t i = 0; i < n; i++) {
        eps[i] = a[i] + b[i] * xi[i];
        w[i] = mu[i] + sigma[i] * eps[i];
        /* log N(eps; 0, 1) - log N(eps; a, b^2): the 1/sigma of both densities cancels */
        log_w += 0.5 * ((double)xi[i] * xi[i] - (double)eps[i] * eps[i]) + log((double)b[i]);
    }
    return log_w;
}

/* What f is for a layer's parameters (docs/ris.md, choice 1): the layer's
 * output after the in-place layers that follow it, i.e. what ws->out holds
 * after the forward pass. A chain of save (identity), add (a shift by the
 * saved input) and relu keeps |f| piecewise linear in the layer's output y,
 * with d|f|/dy readable from f itself: 1[f > 0] once a relu ends it, sign(f)
 * without one. Returns 0 and sets *relu for such a chain, -1 for any other
 * (an add after the relu, an unknown in-place layer: the block keeps r = q). */
static int activation_after(const bns_arch *arch, int i, int *relu) {
    *relu = 0;
    for (int j = i + 1; j < arch->n_ops && arch->ops[j].type->in_place; j++) {
        const bns_layer_type *type = arch->ops[j].type;
        if (type == &bns_layer_relu) *relu = 1;
        else if (type != &bns_layer_save && !(type == &bns_layer_add && !*relu)) return -1;
    }
    return 0;
}

void bns_ris_net_proposal(const bns_arch *arch, const float *mu, const float *sigma, const float *x, int batch,
                          double max_shift, bns_net_workspace *ws, float *work, float *a, float *b) {
    bns_net_forward(arch, mu, x, batch, ws);
    for (int i = 0; i < arch->n_ops; i++) {
        const bns_layer *op = &arch->ops[i];
        if (!op->type->has_params) continue;
        int relu;
        if (activation_after(arch, i, &relu)) {
            for (size_t q = op->weight_offset; q < op->bias_offset + (size_t)bns_layer_units(op); q++)
                a[q] = 0.0f, b[q] = 1.0f;
            continue;
        }
        const float *in = i == 0 ? x : ws->out[i - 1];
        bns_ris_layer_proposal(op, mu, in, op->n_in, ws->out[i], relu, batch,
                               sigma, max_shift, work, ws, a, b);
    }
}

static void ris_loss_grad(void *trainer, const bns_model *m, const float *x, const uint8_t *y, int batch,
                          const bns_objective *obj, float *grad, bns_step_stats *stats) {
    ris_trainer *t = trainer;
    const bns_arch *arch = &m->arch;
    size_t n = arch->n_weights;
    int n_classes = arch->n_classes, M = t->samples;
    const float *mu = m->params, *rho = m->params + n;
    bns_fused_posterior_prepare(rho, n, t->sigma, t->sigmoid_rho);
    if (t->proposal) {
        if (t->order == 0) { /* zeroth order: r = q */
            for (size_t i = 0; i < n; i++) t->a[i] = 0.0f, t->b[i] = 1.0f;
        } else {
            bns_ris_net_proposal(&m->arch, mu, t->sigma, x, batch, t->max_shift, &t->ws, t->work, t->a, t->b);
        }
    }
    stats->nll_sum = 0.0;
    stats->correct = 0;
    for (int s = 0; s < M; s++) {
        double log_w = 0.0;
        if (t->proposal)
            log_w = bns_ris_draw(mu, t->sigma, t->a, t->b, n, &t->noise, obj->step, (uint64_t)s * n, t->xi, t->eps,
                                 t->w);
        else
            bns_fused_sample(mu, t->sigma, n, &t->noise, obj->step, (uint64_t)s * n, t->eps, t->w);
        double gamma = exp(log_w); /* unnormalised: self-normalising would bias the estimate */
        float *logits = bns_net_forward(arch, t->w, x, batch, &t->ws);
        double nll = m->likelihood.nll(&m->likelihood, logits, y, batch, n_classes, (float)(obj->nll_scale * gamma / M),
                                        t->grad_logits);
        stats->nll_sum += gamma * nll / M;
        stats->correct += bns_count_correct(logits, y, batch, n_classes);
        bns_net_backward(arch, t->w, batch, &t->ws, t->grad_logits, t->grad_w, NULL);
        /* bbb's fold of one sample (dNLL/dw already carries gamma / M); its KL weight 0 */
        bns_fused_bbb_grad(rho, t->sigma, t->sigmoid_rho, t->eps, t->w, t->grad_w, n, &m->cfg.prior, 0.0, s > 0, 0,
                           grad, grad + n, NULL, NULL);
    }
    stats->correct /= M;
    double kl_scale = obj->reg_scale / obj->n_train;
    stats->kl = bns_fused_gaussian_kl_grad(mu, rho, t->sigma, t->sigmoid_rho, n, m->cfg.prior.sigma, kl_scale,
                                           !obj->skip_kl_value, grad, grad + n);
    stats->reg_per_example = stats->kl / obj->n_train;
}

const bns_method bns_method_ris = {
    .name = "ris",
    .summary = "mean-field Gaussian VI with reparameterized importance sampling (Long et al.; Gaussian prior)",
    .caps = BNS_CAP_STOCHASTIC | BNS_CAP_SNR | BNS_CAP_CLOSED_FORM_KL,
    .settings = ris_settings,
    .validate = ris_validate,
    BNS_GAUSSIAN_Q,
    .train_cost = ris_train_cost,
    .trainer_create = ris_trainer_create,
    .trainer_free = ris_trainer_free,
    .loss_grad = ris_loss_grad,
};
