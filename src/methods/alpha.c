/* alpha.c - alpha-divergence dropout (Li & Gal 2017; METHODS.md s.8).
 *
 * A dropout network (dropout.h: the same settings, masks, MC-dropout samples
 * and evaluation as the dropout method) trained with
 *   L = -(1/alpha) sum_n log-mean-exp_k [-alpha l_nk] + L2,
 * l_nk the cross-entropy of example n under dropout sample k = 0..K-1
 * (K = alpha_samples). The K samples run as one batch of K x batch rows, row
 * k * batch + n under its own masks (dropout.c: independent per example and
 * sample). The gradient of an example's term is the softmax_k(-alpha l_nk)-
 * weighted sum of its samples' gradients. alpha = 0 is the dropout VI
 * objective, the mean of l over k, computed as such (no division by alpha);
 * K = 1 is the plain dropout loss for any alpha. The per-example mean
 * reduction (obj->nll_scale) and the L2 term are those of deterministic.c.
 * stats->nll_sum (the report's train NLL) is the sum of the alpha terms.
 */
#include <math.h>
#include <stdlib.h>

#include "bnnsweep/dropout.h"
#include "bnnsweep/error.h"

typedef struct {
    bns_dropout_net net;
    int samples;
    double alpha;
} alpha_trainer;

static const bns_config_field alpha_settings[] = {
    BNS_DROPOUT_SETTINGS,
    BNS_METHOD_SETTING("alpha", BNS_FIELD_DOUBLE, NULL, "0.5",
                       "alpha of the alpha-divergence objective, in [0, 1] (0 = dropout VI)"),
    BNS_METHOD_SETTING("alpha_samples", BNS_FIELD_INT, NULL, "10", "dropout samples K per example and step"),
    {0},
};

static int alpha_validate(const bns_config *cfg) {
    double a = bns_config_get_double(cfg, "alpha");
    int k = bns_config_get_int(cfg, "alpha_samples");
    if (!(a >= 0 && a <= 1)) return bns_fail("alpha must be in [0, 1], got %g", a);
    if (k < 1 || k > 1000) return bns_fail("alpha_samples must be in 1..1000, got %d", k);
    return bns_dropout_validate(cfg);
}

static double alpha_train_cost(const bns_config *cfg, double row_weights) {
    return row_weights * BNS_COST_TRAIN_DET * bns_config_get_int(cfg, "alpha_samples");
}

static void *alpha_trainer_create(const bns_model *m, int max_batch) {
    alpha_trainer *t = bns_xcalloc(1, sizeof *t);
    t->samples = bns_config_get_int(&m->cfg, "alpha_samples");
    t->alpha = bns_config_get_double(&m->cfg, "alpha");
    bns_dropout_net_init(&t->net, m, max_batch * t->samples);
    return t;
}

static void alpha_trainer_free(void *trainer) {
    alpha_trainer *t = trainer;
    if (!t) return;
    bns_dropout_net_free(&t->net);
    free(t);
}

static void alpha_loss_grad(void *trainer, const bns_model *m, const float *x, const uint8_t *y, int batch,
                            const bns_objective *obj, float *grad, bns_step_stats *stats) {
    alpha_trainer *t = trainer;
    int n_classes = m->arch.n_classes, K = t->samples;
    double alpha = t->alpha;
    const float *logits = bns_dropout_forward(&t->net, m, x, batch, K, obj->step);
    float *gl = t->net.grad_logits;
    double nll = 0.0;
    for (int n = 0; n < batch; n++) {
        /* a_k = -alpha l_nk, with each row's gradient nll_scale * dl_nk, weighted below */
        double a[1000], a_max = -INFINITY, l_mean = 0.0;
        for (int k = 0; k < K; k++) {
            size_t r = (size_t)k * batch + n;
            double l = m->likelihood.nll(&m->likelihood, logits + r * n_classes, y + n, 1, n_classes, (float)obj->nll_scale,
                                          gl + r * n_classes);
            l_mean += l / K;
            a[k] = -alpha * l;
            if (a[k] > a_max) a_max = a[k];
        }
        double z = 0.0;
        for (int k = 0; k < K; k++) z += exp(a[k] - a_max);
        /* log-mean-exp with the max shifted out; alpha = 0 (or K = 1): the mean loss exactly */
        nll += alpha == 0.0 || K == 1 ? l_mean : -(a_max + log(z / K)) / alpha;
        if (K == 1) continue;
        for (int k = 0; k < K; k++) {
            float weight = (float)(exp(a[k] - a_max) / z); /* softmax_k(-alpha l_nk); 1/K at alpha = 0 */
            float *g = gl + ((size_t)k * batch + n) * n_classes;
            for (int c = 0; c < n_classes; c++) g[c] *= weight;
        }
    }
    stats->nll_sum = nll;
    stats->correct = bns_count_correct(logits, y, batch, n_classes); /* sample 0's predictions */
    bns_dropout_backward(&t->net, m, batch * K, grad);
    stats->reg_per_example = bns_l2_penalty_grad(&m->arch, m->params, m->cfg.l2_lambda, obj->reg_scale, !obj->skip_kl_value, grad);
    stats->kl = 0.0;
}

const bns_method bns_method_alpha = {
    .name = "alpha",
    .summary = "dropout network trained by the alpha-divergence objective (Li & Gal 2017), MC dropout at test",
    .caps = BNS_CAP_STOCHASTIC, /* with the default mc_dropout = 1; caps_of decides */
    .caps_of = bns_dropout_caps,
    .settings = alpha_settings,
    .validate = alpha_validate,
    .n_params = bns_point_n_params,
    .param_blocks = bns_point_param_blocks,
    .init = bns_dropout_init,
    .point_weights = bns_point_weights,
    .sample_weights = bns_dropout_sample_weights,
    .train_cost = alpha_train_cost,
    .trainer_create = alpha_trainer_create,
    .trainer_free = alpha_trainer_free,
    .loss_grad = alpha_loss_grad,
};
