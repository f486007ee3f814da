/* mog.c - a diagonal mixture of Gaussians fitted by EM to a teacher's
 * samples: the storage baseline of APD (METHODS.md s.10, "mixtures of
 * Gaussians (diagonal) with an increasing number of components fitted to
 * the SGLD samples"). `--method mog --teacher MODEL.h5 --mog-components K`.
 *
 * The teacher's first teacher_samples samples (through the posterior
 * interface, as apd takes them) are the data. EM starts from K of them as
 * the means (sample floor(c T / K) for component c), every variance the
 * samples' variance of that coordinate, equal weights; each step of the
 * training loop is one EM iteration (bns_mog_em_step, mog.h) until
 * mog_iterations are done (later steps change nothing), so `--train-limit`
 * and `--epochs` set how many run. Variances are kept at least
 * mog_var_floor times the samples' variance of the coordinate: with T
 * samples in P >> T dimensions the likelihood is unbounded (a component on
 * one sample), and responsibilities are all but hard.
 * Sample k: component c with probability w_c (from the uniform Phi(z_P),
 * z = normals [0, P] of substream k of the caller's stream), then
 * w = mu_c + sqrt(var_c) z[0, P). The point weights are the mixture's mean.
 * The epoch line's nll is minus the mean log-likelihood per teacher sample
 * of the last iteration.
 *
 * Parameter blocks (n_params = P + K + 2 K P + mog_iterations):
 *   layers/<l>/weight, bias      the mixture's mean sum_c w_c mu_c
 *   mog/weight [K], mog/mean [K, P], mog/var [K, P]
 *   mog/log_likelihood [iterations]   of the teacher's samples before each EM step (NaN: not run)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/mog.h"

static const double TWO_PI = 6.283185307179586;

static const bns_config_field mog_settings[] = {
    /* the same rows as apd's (one row each in the table) */
    BNS_METHOD_STRING_SETTING("teacher", 128, "", "model file whose posterior is distilled (e.g. an sgld model; a sweep may name a model group)"),
    BNS_METHOD_SETTING("teacher_samples", BNS_FIELD_INT, NULL, "100", "teacher samples 0..N-1 to distil (sgld stores 100)"),
    BNS_METHOD_SETTING("mog_components", BNS_FIELD_INT, NULL, "5", "MoG: mixture components K"),
    BNS_METHOD_SETTING("mog_iterations", BNS_FIELD_INT, NULL, "50", "MoG: EM iterations (one per training step)"),
    BNS_METHOD_SETTING("mog_var_floor", BNS_FIELD_DOUBLE, NULL, "0.01", "MoG: variance floor, times each coordinate's sample variance"),
    {0},
};

/* ---- EM (mog.h) ---- */

/* log w_c + log N(x | mu_c, diag var_c), with lognorm_c = sum_i log(2 pi var_ci) given */
static double component_log_density(const bns_mog *g, int c, double lognorm, const float *x) {
    const float *mu = g->mean + (size_t)c * g->p, *var = g->var + (size_t)c * g->p;
    double s = 0.0;
    for (size_t i = 0; i < g->p; i++) {
        double d = (double)x[i] - mu[i];
        s += d * d / var[i];
    }
    return log((double)g->weight[c]) - 0.5 * (lognorm + s);
}

static double log_norm(const bns_mog *g, int c) {
    const float *var = g->var + (size_t)c * g->p;
    double s = 0.0;
    for (size_t i = 0; i < g->p; i++) s += log(TWO_PI * var[i]);
    return s;
}

/* log sum_c exp(lp[c]), lp overwritten by the normalised responsibilities */
static double normalise(double *lp, int k) {
    double top = -INFINITY;
    for (int c = 0; c < k; c++) top = lp[c] > top ? lp[c] : top;
    double sum = 0.0;
    for (int c = 0; c < k; c++) sum += exp(lp[c] - top);
    double lse = top + log(sum);
    for (int c = 0; c < k; c++) lp[c] = exp(lp[c] - lse);
    return lse;
}

double bns_mog_log_density(const bns_mog *g, const float *x) {
    double lp[4096];
    int k = g->k < 4096 ? g->k : 4096;
    for (int c = 0; c < k; c++) lp[c] = component_log_density(g, c, log_norm(g, c), x);
    return normalise(lp, k);
}

double bns_mog_em_step(bns_mog *g, const float *x, size_t n, const float *var_floor, double *resp, double *acc) {
    int k = g->k;
    size_t p = g->p;
    double ll = 0.0, lognorm[4096];
    for (int c = 0; c < k; c++) lognorm[c] = log_norm(g, c);
    for (size_t t = 0; t < n; t++) {
        double *r = resp + t * k;
        for (int c = 0; c < k; c++) r[c] = component_log_density(g, c, lognorm[c], x + t * p);
        ll += normalise(r, k);
    }
    /* the M-step row by row (rows are contiguous): sums of r x and r x^2 in acc [2p] */
    double *sx = acc, *sxx = acc + p;
    for (int c = 0; c < k; c++) {
        double nc = 0.0;
        memset(acc, 0, sizeof(double) * 2 * p);
        for (size_t t = 0; t < n; t++) {
            double r = resp[t * k + c];
            if (r == 0.0) continue;
            nc += r;
            const float *xt = x + t * p;
            for (size_t i = 0; i < p; i++) {
                sx[i] += r * xt[i];
                sxx[i] += r * (double)xt[i] * xt[i];
            }
        }
        g->weight[c] = (float)(nc / n);
        if (!(nc > 1e-300)) continue; /* keeps its mean and variance, weight 0 */
        float *mu = g->mean + (size_t)c * p, *var = g->var + (size_t)c * p;
        for (size_t i = 0; i < p; i++) {
            double m = sx[i] / nc, v = sxx[i] / nc - m * m; /* in double: the samples' spread is far above rounding */
            mu[i] = (float)m;
            var[i] = (float)(v > var_floor[i] ? v : var_floor[i]);
        }
    }
    return ll;
}

/* ---- the posterior ---- */

static int n_comp(const bns_config *cfg) { return bns_config_get_int(cfg, "mog_components"); }
static size_t n_iter(const bns_config *cfg) { return (size_t)bns_config_get_int(cfg, "mog_iterations"); }

static bns_mog view(const bns_model *m) {
    size_t P = m->arch.n_weights, K = (size_t)n_comp(&m->cfg);
    float *base = m->params + P;
    return (bns_mog){.k = (int)K, .p = P, .weight = base, .mean = base + K, .var = base + K + K * P};
}
static float *curve_of(const bns_model *m) {
    size_t P = m->arch.n_weights, K = (size_t)n_comp(&m->cfg);
    return m->params + P + K + 2 * K * P;
}

static int mog_validate(const bns_config *cfg) {
    int k = n_comp(cfg), it = bns_config_get_int(cfg, "mog_iterations"), ts = bns_config_get_int(cfg, "teacher_samples");
    double floor = bns_config_get_double(cfg, "mog_var_floor");
    if (!bns_config_get_string(cfg, "teacher")[0])
        return bns_fail("teacher: method mog fits a trained model's samples; give --teacher MODEL.h5");
    if (k < 1 || k > 4096) return bns_fail("mog_components must be in 1..4096, got %d", k);
    if (it < 1 || it > 100000) return bns_fail("mog_iterations must be in 1..100000, got %d", it);
    if (ts < 1 || ts > 100000) return bns_fail("teacher_samples must be in 1..100000, got %d", ts);
    if (!(floor > 0)) return bns_fail("mog_var_floor must be positive, got %g", floor);
    return 0;
}

static size_t mog_n_params(const bns_config *cfg, const bns_arch *arch) {
    size_t K = (size_t)n_comp(cfg);
    return arch->n_weights + K + 2 * K * arch->n_weights + n_iter(cfg);
}

static int mog_param_blocks(const bns_model *m, bns_param_block *out) {
    static const char *const suffix[] = {""};
    int n = bns_layer_param_blocks(m, suffix, 1, out);
    bns_mog g = view(m);
    const struct {
        const char *path;
        const float *at;
        int rank;
        size_t rows, cols;
    } extra[] = {
        {"mog/weight", g.weight, 1, (size_t)g.k, 0},
        {"mog/mean", g.mean, 2, (size_t)g.k, g.p},
        {"mog/var", g.var, 2, (size_t)g.k, g.p},
        {"mog/log_likelihood", curve_of(m), 1, n_iter(&m->cfg), 0},
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        bns_param_block *b = &out[n++];
        *b = (bns_param_block){.offset = (size_t)(extra[i].at - m->params), .rank = extra[i].rank,
                               .dims = {extra[i].rows, extra[i].cols}};
        snprintf(b->path, sizeof b->path, "%s", extra[i].path);
    }
    return n;
}

static void mog_init(bns_model *m, const bns_stream *init_stream) {
    (void)init_stream; /* EM starts from the teacher's samples, at training */
    memset(m->params, 0, sizeof(float) * m->n_params);
    bns_mog g = view(m);
    for (int c = 0; c < g.k; c++) g.weight[c] = 1.0f / (float)g.k;
    for (size_t i = 0; i < (size_t)g.k * g.p; i++) g.var[i] = 1.0f;
    float *curve = curve_of(m);
    for (size_t i = 0; i < n_iter(&m->cfg); i++) curve[i] = NAN;
}

static const float *mog_point_weights(const bns_model *m) { return m->params; }

static void mog_sample_weights(const bns_model *m, const bns_stream *stream, uint64_t index, float *w) {
    bns_mog g = view(m);
    size_t P = g.p;
    bns_stream_normal(stream, index, 0, P, w);
    float zc;
    bns_stream_normal(stream, index, P, 1, &zc);
    double u = 0.5 * erfc(-(double)zc / sqrt(2.0)), acc = 0.0;
    int c = g.k - 1;
    for (int j = 0; j < g.k; j++) {
        acc += g.weight[j];
        if (u < acc) {
            c = j;
            break;
        }
    }
    while (c > 0 && g.weight[c] == 0.0f) c--; /* rounding past the last weighted component */
    const float *mu = g.mean + (size_t)c * P, *var = g.var + (size_t)c * P;
    for (size_t i = 0; i < P; i++) w[i] = mu[i] + sqrtf(var[i]) * w[i];
}

static void mog_describe(const bns_model *m, char *buf, size_t size) {
    bns_mog g = view(m);
    const float *curve = curve_of(m);
    size_t done = 0;
    while (done < n_iter(&m->cfg) && !isnan(curve[done])) done++;
    snprintf(buf, size, "%d diagonal components over %zu weights: %zu parameters, %.1f MB; %zu EM iterations, "
             "log-likelihood %.6g; fits %s", g.k, g.p, (size_t)g.k * (2 * g.p + 1), 4e-6 * g.k * (2.0 * g.p + 1), done,
             done ? (double)curve[done - 1] : NAN, bns_config_get_string(&m->cfg, "teacher"));
}

/* ---- training ---- */

typedef struct {
    float *x;            /* [T, P] the teacher's samples */
    float *floor;        /* [P] variance floors */
    double *resp;        /* [T, K] */
    double *acc;         /* [2 P] the M-step's sums */
    size_t n;
    size_t iter;
} mog_trainer;

static void *mog_trainer_create(const bns_model *m, int max_batch) {
    (void)max_batch;
    if (!m->teacher) {
        fprintf(stderr, "mog: training without a teacher model (bns_model_load_teacher not called)\n");
        abort();
    }
    mog_trainer *t = bns_xcalloc(1, sizeof *t);
    size_t P = m->arch.n_weights;
    t->n = (size_t)bns_config_get_int(&m->cfg, "teacher_samples");
    t->x = bns_xmalloc(sizeof(float) * t->n * P);
    t->floor = bns_xmalloc(sizeof(float) * P);
    t->resp = bns_xmalloc(sizeof(double) * t->n * (size_t)n_comp(&m->cfg));
    t->acc = bns_xmalloc(sizeof(double) * 2 * P);
    bns_stream ts = bns_stream_make(m->cfg.seed, m->cfg.task, BNS_PURPOSE_DATA);
    for (size_t k = 0; k < t->n; k++) bns_model_sample_weights(m->teacher, &ts, k, t->x + k * P);
    return t;
}

static void mog_trainer_free(void *trainer) {
    mog_trainer *t = trainer;
    if (!t) return;
    free(t->x), free(t->floor), free(t->resp), free(t->acc);
    free(t);
}

static void mog_loss_grad(void *trainer, const bns_model *m, const float *x, const uint8_t *y, int batch,
                          const bns_objective *obj, float *grad, bns_step_stats *stats) {
    (void)trainer, (void)x, (void)y, (void)batch, (void)obj;
    memset(grad, 0, sizeof(float) * m->n_params);
    memset(stats, 0, sizeof *stats);
}

/* Starts EM: means at K of the samples, the samples' variances, equal weights. */
static void start_em(mog_trainer *t, bns_model *m) {
    bns_mog g = view(m);
    size_t P = g.p, n = t->n;
    double floor = bns_config_get_double(&m->cfg, "mog_var_floor");
    for (size_t i = 0; i < P; i++) {
        double s = 0.0, ss = 0.0;
        for (size_t k = 0; k < n; k++) s += t->x[k * P + i];
        double mean = s / n;
        for (size_t k = 0; k < n; k++) ss += (t->x[k * P + i] - mean) * (t->x[k * P + i] - mean);
        double var = n > 1 ? ss / n : 0.0;
        if (!(var > 1e-20)) var = 1e-20; /* a coordinate that never moves */
        t->floor[i] = (float)(floor * var);
        for (int c = 0; c < g.k; c++) g.var[(size_t)c * P + i] = (float)var;
    }
    for (int c = 0; c < g.k; c++) {
        g.weight[c] = 1.0f / (float)g.k;
        memcpy(g.mean + (size_t)c * P, t->x + ((size_t)c * n / g.k) * P, sizeof(float) * P);
    }
}

static void mog_train_step(void *trainer, bns_model *m, const float *x, const uint8_t *y, int batch,
                           const bns_objective *obj, bns_optimizer *opt, float *grad, bns_step_stats *stats) {
    (void)x, (void)y, (void)opt, (void)grad;
    mog_trainer *t = trainer;
    memset(stats, 0, sizeof *stats);
    if (t->iter == 0) start_em(t, m);
    if (t->iter < n_iter(&m->cfg)) {
        bns_mog g = view(m);
        double ll = bns_mog_em_step(&g, t->x, t->n, t->floor, t->resp, t->acc);
        curve_of(m)[t->iter++] = (float)ll;
        /* the point weights: the mixture's mean */
        memset(m->params, 0, sizeof(float) * g.p);
        for (int c = 0; c < g.k; c++)
            for (size_t i = 0; i < g.p; i++) m->params[i] += g.weight[c] * g.mean[(size_t)c * g.p + i];
    }
    const float *curve = curve_of(m);
    stats->nll_sum = -(double)curve[t->iter - 1] / t->n * batch;
    (void)obj;
}

const bns_method bns_method_mog = {
    .name = "mog",
    .summary = "a diagonal Gaussian mixture fitted by EM to a teacher's samples (APD's storage baseline, METHODS.md s.10)",
    .caps = BNS_CAP_STOCHASTIC,
    .settings = mog_settings,
    .validate = mog_validate,
    .n_params = mog_n_params,
    .param_blocks = mog_param_blocks,
    .init = mog_init,
    .point_weights = mog_point_weights,
    .sample_weights = mog_sample_weights,
    .describe = mog_describe,
    .keep_final = 1,
    .trainer_create = mog_trainer_create,
    .trainer_free = mog_trainer_free,
    .loss_grad = mog_loss_grad,
    .train_step = mog_train_step,
};
