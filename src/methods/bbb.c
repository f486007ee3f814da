/* bbb.c - Bayes by Backprop (Blundell et al. 2015; METHODS.md s.1).
 *
 * Each step draws S weight samples w_s = mu + softplus(rho) * eps_s in one
 * pass over the posterior, runs each through the shared MLP forward/backward,
 * and folds dNLL/dw_s and the Monte-Carlo KL gradient of log q - log p into
 * d/dmu and d/drho. The noise of sample s at step t is normals
 * [s*P, (s+1)*P) of substream t of the (seed, task, WEIGHT) stream. */
#include <stdlib.h>

#include "bnnsweep/backend.h"
#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/nn.h"

typedef struct {
    bns_mlp_workspace ws;
    bns_stream noise;
    int samples;
    float *eps;          /* samples x P */
    float *w;            /* samples x P */
    float *grad_w;       /* P: dNLL/dw of one sample */
    float *sigma;        /* P: softplus(rho), once per step */
    float *sigmoid_rho;  /* P: d sigma / d rho */
    float *grad_logits;
} bbb_trainer;

static void bbb_init(bns_model *m, const bns_stream *init_stream) {
    size_t n = m->arch.n_weights;
    double std = bns_init_std(&m->cfg);
    bns_init_truncated_normal(m->params, &m->arch, std, init_stream);
    for (size_t i = 0; i < n; i++) m->params[n + i] = (float)m->cfg.rho_init;
}

static void *bbb_trainer_create(const bns_model *m, int max_batch) {
    bbb_trainer *t = bns_xcalloc(1, sizeof *t);
    size_t n = m->arch.n_weights;
    bns_mlp_workspace_init(&t->ws, &m->arch, max_batch);
    t->noise = bns_stream_make(m->cfg.seed, m->cfg.task, BNS_PURPOSE_WEIGHT);
    t->samples = m->cfg.samples;
    t->eps = bns_xmalloc(sizeof(float) * n * t->samples);
    t->w = bns_xmalloc(sizeof(float) * n * t->samples);
    t->grad_w = bns_xmalloc(sizeof(float) * n);
    t->sigma = bns_xmalloc(sizeof(float) * n);
    t->sigmoid_rho = bns_xmalloc(sizeof(float) * n);
    t->grad_logits = bns_xmalloc(sizeof(float) * (size_t)max_batch * m->arch.width[m->arch.n_layers]);
    return t;
}

static void bbb_trainer_free(void *trainer) {
    bbb_trainer *t = trainer;
    if (!t) return;
    bns_mlp_workspace_free(&t->ws);
    free(t->eps);
    free(t->w);
    free(t->grad_w);
    free(t->sigma);
    free(t->sigmoid_rho);
    free(t->grad_logits);
    free(t);
}

/* The optimizer update of one finished chunk of mu and of rho. */
typedef struct {
    bns_optimizer *opt;
    float *params;
    const float *grad;
    size_t n;
} chunk_update;

static void update_chunk(void *ctx, size_t begin, size_t count) {
    chunk_update *c = ctx;
    bns_optimizer_update(c->opt, c->params, c->grad, begin, count);
    bns_optimizer_update(c->opt, c->params, c->grad, c->n + begin, count);
}

/* One step; with opt, each chunk of the last sample's gradient pass is
 * applied to mu and rho as soon as it is final (still in cache). */
static void bbb_run(bbb_trainer *t, const bns_model *m, const float *x, const uint8_t *y, int batch,
                    const bns_objective *obj, bns_optimizer *opt, float *grad, bns_step_stats *stats) {
    const bns_arch *arch = &m->arch;
    size_t n = arch->n_weights;
    int n_classes = arch->width[arch->n_layers], S = t->samples;
    const float *mu = m->params, *rho = m->params + n;
    float *grad_mu = grad, *grad_rho = grad + n;
    double kl_scale = obj->reg_scale / obj->n_train / S;

    /* Sample s uses normals [s*n, (s+1)*n) of substream `step`. */
    bns_fused_posterior_prepare(rho, n, t->sigma, t->sigmoid_rho);
    for (int s = 0; s < S; s++)
        bns_fused_sample(mu, t->sigma, n, &t->noise, obj->step, (uint64_t)s * n, t->eps + (size_t)s * n,
                         t->w + (size_t)s * n);
    stats->nll_sum = 0.0;
    stats->kl = 0.0;
    stats->correct = 0;
    for (int s = 0; s < S; s++) {
        const float *w = t->w + (size_t)s * n, *eps = t->eps + (size_t)s * n;
        float *logits = bns_mlp_forward(arch, w, x, batch, &t->ws);
        stats->nll_sum += bns_softmax_xent(logits, y, batch, n_classes, (float)(obj->nll_scale / S),
                                           t->grad_logits) / S;
        stats->correct += bns_count_correct(logits, y, batch, n_classes);
        bns_mlp_backward(arch, w, batch, &t->ws, t->grad_logits, t->grad_w, NULL);
        chunk_update update = {opt, m->params, grad, n};
        int last = s + 1 == S;
        stats->kl += bns_fused_bbb_grad(rho, t->sigma, t->sigmoid_rho, eps, w, t->grad_w, n, &m->cfg.prior,
                                        kl_scale, s > 0, !obj->skip_kl_value, grad_mu, grad_rho,
                                        opt && last ? update_chunk : NULL, &update) / S;
    }
    stats->correct /= S;
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

const bns_method bns_method_bbb = {
    .name = "bbb",
    .summary = "Bayes by Backprop: sampled weights, Monte-Carlo KL (scale-mixture or Gaussian prior)",
    .bayesian = 1,
    .validate = NULL,
    .init = bbb_init,
    .trainer_create = bbb_trainer_create,
    .trainer_free = bbb_trainer_free,
    .loss_grad = bbb_loss_grad,
    .train_step = bbb_train_step,
};
