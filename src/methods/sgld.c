/* sgld.c - stochastic gradient Langevin dynamics (METHODS.md s.9; Welling &
 * Teh 2011, as the APD authors use it).
 *
 * Convention (Welling & Teh's; BlackJAX's step is our eps / 2):
 *   theta_{t+1} = theta_t + (eps_t / 2) (grad log p(theta_t) + (N/n) sum_batch grad log p(y|x, theta_t)) + eta_t,
 *   eta_t ~ N(0, eps_t I),   eps_t = (sgld_lr / N) (sgld_b + t)^-sgld_gamma   (t = 1, 2, ...: the global step).
 * sgld_lr is the step on the per-example-mean objective, the APD code's lr:
 * their theta -= (lr/2)(grad mean CE + wd theta) + N(0, lr/N) is this update
 * with eps = lr / N, so one default serves any training-set size N.
 * Prior: log p(theta) = -(N wd / 2) |theta|^2 + const, wd = sgld_weight_decay
 * over every parameter, biases too (APD's weight decay; precision N wd, std
 * 0.14 at wd 0.001, N 50000). The shared prior, l2_lambda, reduction and
 * optimiser settings do not apply. Noise: the (seed, task, WEIGHT) stream,
 * substream = step, normal i for parameter i. sgld_noise 0 drops it: plain
 * SGD (step eps/2 = lr/2 on the mean objective) on the MAP objective.
 *
 * Samples: iterate t (the parameters after step t) is kept when
 * t > sgld_burn_in and (t - sgld_burn_in) % sgld_thin == 0; the model keeps
 * the LAST sgld_samples kept iterates (a ring): training length stays
 * max_epochs, later iterates are further from the init, and a longer run
 * only refreshes the samples. At the end of every epoch (the step whose
 * objective asks for values: obj.skip_kl_value == 0) the ring is rotated to
 * chronological order and the diagnostics are recomputed, so a saved file
 * holds samples/weights row k = sample k, oldest first.
 * Sample k = stored iterate k mod kept (wraps: an ensemble larger than the
 * store reuses samples; before any is kept, every sample is the current
 * iterate). Point weights = the last iterate: a point of the chain (the
 * mean of a network's iterates need not be a good network) at no storage.
 * Training keeps its final state (keep_final): restoring the best epoch
 * would drop the samples kept after it.
 *
 * Parameter blocks (n_params = (1 + K) n_weights + 2 K + STATE_N, K = sgld_samples):
 *   layers/<l>/weight, bias      the current iterate (the point weights)
 *   samples/weights [K, n_w]     kept iterates, chunked and deflated in the file
 *   sgld/sample_nll [K]          minibatch mean NLL of the step that made each sample
 *   sgld/sample_norm [K]         |theta|_2 of each sample
 *   sgld/state [STATE_N]         kept, ring start, iterates kept in all, ESS of the
 *                                two traces (floats: exact below 2^24)
 * The per-epoch NLL trace of the whole chain is /training/train_nll. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/nn.h"
#include "bnnsweep/sgld.h"

enum { STATE_KEPT, STATE_FIRST, STATE_TOTAL, STATE_ESS_NLL, STATE_ESS_NORM, STATE_N };

/* APD's values (METHODS.md s.9) except sgld_samples: their ~10k samples of an
 * FC-100-10 would be 3.2 GB in memory and in every model file; 100 is 32 MB. */
static const bns_config_field sgld_settings[] = {
    BNS_METHOD_SETTING("sgld_lr", BNS_FIELD_DOUBLE, NULL, "0.05", "SGLD step a on the mean objective: eps_t = a (b + t)^-gamma / N"),
    BNS_METHOD_SETTING("sgld_b", BNS_FIELD_DOUBLE, NULL, "1", "SGLD step-size offset b (used when sgld_gamma > 0)"),
    BNS_METHOD_SETTING("sgld_gamma", BNS_FIELD_DOUBLE, NULL, "0", "SGLD step-size decay exponent (0 = constant step)"),
    BNS_METHOD_SETTING("sgld_weight_decay", BNS_FIELD_DOUBLE, NULL, "0.001", "SGLD Gaussian prior: precision N * this"),
    BNS_METHOD_SETTING("sgld_burn_in", BNS_FIELD_INT, NULL, "500", "SGLD steps before the first kept iterate"),
    BNS_METHOD_SETTING("sgld_thin", BNS_FIELD_INT, NULL, "20", "SGLD: keep every this-many-th iterate after burn-in"),
    BNS_METHOD_SETTING("sgld_samples", BNS_FIELD_INT, NULL, "100", "SGLD: samples the model stores (the last kept)"),
    BNS_METHOD_SETTING("sgld_noise", BNS_FIELD_INT, NULL, "1", "SGLD Langevin noise: 1 on, 0 off (SGD on the MAP objective)"),
    {0},
};

typedef struct {
    bns_net_workspace ws;
    float *grad_logits;
    float *row;             /* one sample: the ring rotation's swap space */
    double *trace;          /* kept doubles for the ESS */
    bns_stream noise;
    /* the step's settings, read once */
    double lr, b, gamma;
    int noise_on;
    long burn_in, thin;
} sgld_trainer;

static size_t capacity(const bns_config *cfg) { return (size_t)bns_config_get_int(cfg, "sgld_samples"); }

/* where each part lives in m->params */
static float *samples_of(const bns_model *m) { return m->params + m->arch.n_weights; }
static float *nll_of(const bns_model *m) { return samples_of(m) + capacity(&m->cfg) * m->arch.n_weights; }
static float *norm_of(const bns_model *m) { return nll_of(m) + capacity(&m->cfg); }
static float *state_of(const bns_model *m) { return norm_of(m) + capacity(&m->cfg); }

static int sgld_validate(const bns_config *cfg) {
    double lr = bns_config_get_double(cfg, "sgld_lr"), b = bns_config_get_double(cfg, "sgld_b");
    double gamma = bns_config_get_double(cfg, "sgld_gamma"), wd = bns_config_get_double(cfg, "sgld_weight_decay");
    int samples = bns_config_get_int(cfg, "sgld_samples"), noise = bns_config_get_int(cfg, "sgld_noise");
    if (!(lr > 0)) return bns_fail("sgld_lr must be positive, got %g", lr);
    if (!(b >= 0)) return bns_fail("sgld_b must be >= 0, got %g", b);
    if (!(gamma >= 0 && gamma <= 1)) return bns_fail("sgld_gamma must be in [0, 1], got %g", gamma);
    if (!(wd >= 0)) return bns_fail("sgld_weight_decay must be >= 0, got %g", wd);
    if (bns_config_get_int(cfg, "sgld_burn_in") < 0) return bns_fail("sgld_burn_in must be >= 0");
    if (bns_config_get_int(cfg, "sgld_thin") < 1) return bns_fail("sgld_thin must be >= 1");
    if (samples < 1 || samples > 100000) return bns_fail("sgld_samples must be in 1..100000, got %d", samples);
    if (noise != 0 && noise != 1) return bns_fail("sgld_noise must be 0 or 1, got %d", noise);
    return 0;
}

static size_t sgld_n_params(const bns_config *cfg, const bns_arch *arch) {
    size_t k = capacity(cfg);
    return (1 + k) * arch->n_weights + 2 * k + STATE_N;
}

static int sgld_param_blocks(const bns_model *m, bns_param_block *out) {
    static const char *const suffix[] = {""};
    int n = bns_layer_param_blocks(m, suffix, 1, out);
    size_t k = capacity(&m->cfg);
    const struct {
        const char *path;
        const float *at;
        int rank;
        size_t rows, cols;
    } extra[] = {
        {"samples/weights", samples_of(m), 2, k, m->arch.n_weights},
        {"sgld/sample_nll", nll_of(m), 1, k, 0},
        {"sgld/sample_norm", norm_of(m), 1, k, 0},
        {"sgld/state", state_of(m), 1, STATE_N, 0},
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        bns_param_block *b = &out[n++];
        snprintf(b->path, sizeof b->path, "%s", extra[i].path);
        b->offset = (size_t)(extra[i].at - m->params);
        b->rank = extra[i].rank;
        b->dims[0] = extra[i].rows;
        b->dims[1] = extra[i].cols;
        b->compress = extra[i].rank == 2;
    }
    return n;
}

static void sgld_init(bns_model *m, const bns_stream *init_stream) {
    /* the deterministic net's init (1/sqrt(3 fan-in) unless init_std): SGLD starts as SGD does */
    memset(m->params, 0, sizeof(float) * m->n_params);
    bns_init_truncated_normal(m->params, &m->arch, m->cfg.init_std, init_stream);
}

static const float *sgld_point_weights(const bns_model *m) { return m->params; }

static void sgld_sample_weights(const bns_model *m, const bns_stream *stream, uint64_t index, float *w) {
    (void)stream; /* the samples are stored: nothing is drawn */
    size_t n = m->arch.n_weights, k = capacity(&m->cfg);
    const float *state = state_of(m);
    size_t kept = (size_t)state[STATE_KEPT], first = (size_t)state[STATE_FIRST];
    const float *src = kept ? samples_of(m) + ((first + index % kept) % k) * n : m->params;
    memcpy(w, src, sizeof(float) * n);
}

static void sgld_describe(const bns_model *m, char *buf, size_t size) {
    const float *state = state_of(m);
    size_t kept = (size_t)state[STATE_KEPT];
    snprintf(buf, size,
             "%zu samples kept of %.0f thinned iterates (burn-in %d, thin %d, capacity %zu), %.1f MB; "
             "ESS %.1f (minibatch NLL), %.1f (weight norm)",
             kept, (double)state[STATE_TOTAL], bns_config_get_int(&m->cfg, "sgld_burn_in"),
             bns_config_get_int(&m->cfg, "sgld_thin"), capacity(&m->cfg),
             1e-6 * (double)(kept * m->arch.n_weights * sizeof(float)), (double)state[STATE_ESS_NLL],
             (double)state[STATE_ESS_NORM]);
}

/* ---- the update rule and the diagnostic (sgld.h) ---- */

void bns_sgld_update(const float *theta, const float *grad_log_post, size_t n, double eps, const bns_stream *stream,
                     uint64_t step, int noise, float *out) {
    float half = (float)(0.5 * eps), scale = (float)sqrt(eps);
    if (!noise) {
        for (size_t i = 0; i < n; i++) out[i] = theta[i] + half * grad_log_post[i];
        return;
    }
    /* the stream is slice-independent: chunking does not change the numbers */
    enum { CHUNK = 1024 };
    float z[CHUNK];
    for (size_t begin = 0; begin < n; begin += CHUNK) {
        size_t count = n - begin < CHUNK ? n - begin : CHUNK;
        bns_stream_normal(stream, step, begin, count, z);
        for (size_t i = 0; i < count; i++)
            out[begin + i] = theta[begin + i] + half * grad_log_post[begin + i] + scale * z[i];
    }
}

double bns_effective_sample_size(const double *x, size_t n) {
    if (n < 4) return (double)n;
    double mean = 0.0;
    for (size_t i = 0; i < n; i++) mean += x[i];
    mean /= (double)n;
    double var = 0.0;
    for (size_t i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
    if (!(var > 0)) return (double)n;
    /* tau = -1 + 2 sum_m (rho_2m + rho_2m+1), rho_0 = 1, while the pair sums stay positive */
    double tau = -1.0;
    for (size_t lag = 0; lag + 1 < n; lag += 2) {
        double pair = 0.0;
        for (size_t l = lag; l <= lag + 1; l++) {
            double c = 0.0;
            for (size_t i = 0; i + l < n; i++) c += (x[i] - mean) * (x[i + l] - mean);
            pair += c / var;
        }
        if (pair <= 0) break;
        tau += 2.0 * pair;
    }
    /* an antithetic series can give tau near or below 0: cap the ESS at n log10 n (as Stan does) */
    double floor_tau = 1.0 / log10((double)n);
    return (double)n / (tau > floor_tau ? tau : floor_tau);
}

/* ---- training ---- */

static void *sgld_trainer_create(const bns_model *m, int max_batch) {
    sgld_trainer *t = bns_xcalloc(1, sizeof *t);
    bns_net_workspace_init(&t->ws, &m->arch, max_batch);
    t->grad_logits = bns_xmalloc(sizeof(float) * (size_t)max_batch * m->arch.n_classes);
    t->row = bns_xmalloc(sizeof(float) * m->arch.n_weights);
    t->trace = bns_xmalloc(sizeof(double) * capacity(&m->cfg));
    t->noise = bns_stream_make(m->cfg.seed, m->cfg.task, BNS_PURPOSE_WEIGHT);
    const bns_config *cfg = &m->cfg;
    t->lr = bns_config_get_double(cfg, "sgld_lr");
    t->b = bns_config_get_double(cfg, "sgld_b");
    t->gamma = bns_config_get_double(cfg, "sgld_gamma");
    t->noise_on = bns_config_get_int(cfg, "sgld_noise");
    t->burn_in = bns_config_get_int(cfg, "sgld_burn_in");
    t->thin = bns_config_get_int(cfg, "sgld_thin");
    return t;
}

static void sgld_trainer_free(void *trainer) {
    sgld_trainer *t = trainer;
    if (!t) return;
    bns_net_workspace_free(&t->ws);
    free(t->grad_logits);
    free(t->row);
    free(t->trace);
    free(t);
}

/* Stores the current iterate as the newest sample (the oldest goes when full). */
static void keep_sample(bns_model *m, double minibatch_nll) {
    size_t n = m->arch.n_weights, k = capacity(&m->cfg);
    float *state = state_of(m);
    size_t kept = (size_t)state[STATE_KEPT], first = (size_t)state[STATE_FIRST], slot;
    if (kept < k) {
        slot = (first + kept) % k;
        state[STATE_KEPT] = (float)(kept + 1);
    } else {
        slot = first;
        state[STATE_FIRST] = (float)((first + 1) % k);
    }
    state[STATE_TOTAL] += 1.0f;
    memcpy(samples_of(m) + slot * n, m->params, sizeof(float) * n);
    double sq = 0.0;
    for (size_t i = 0; i < n; i++) sq += (double)m->params[i] * m->params[i];
    nll_of(m)[slot] = (float)minibatch_nll;
    norm_of(m)[slot] = (float)sqrt(sq);
}

/* Swaps samples i and j (their weights and traces). */
static void swap_samples(bns_model *m, sgld_trainer *t, size_t i, size_t j) {
    size_t n = m->arch.n_weights;
    float *a = samples_of(m) + i * n, *b = samples_of(m) + j * n, v;
    memcpy(t->row, a, sizeof(float) * n);
    memcpy(a, b, sizeof(float) * n);
    memcpy(b, t->row, sizeof(float) * n);
    v = nll_of(m)[i], nll_of(m)[i] = nll_of(m)[j], nll_of(m)[j] = v;
    v = norm_of(m)[i], norm_of(m)[i] = norm_of(m)[j], norm_of(m)[j] = v;
}

static void reverse_samples(bns_model *m, sgld_trainer *t, size_t begin, size_t end) {
    for (; begin + 1 < end; begin++, end--) swap_samples(m, t, begin, end - 1);
}

/* Epoch end: the ring in chronological order (ring start 0) and the ESS of both traces. */
static void finish_epoch(bns_model *m, sgld_trainer *t) {
    float *state = state_of(m);
    size_t kept = (size_t)state[STATE_KEPT], first = (size_t)state[STATE_FIRST];
    if (first > 0) { /* only a full ring starts elsewhere: rotate left by `first` */
        reverse_samples(m, t, 0, first);
        reverse_samples(m, t, first, kept);
        reverse_samples(m, t, 0, kept);
        state[STATE_FIRST] = 0.0f;
    }
    for (size_t i = 0; i < kept; i++) t->trace[i] = nll_of(m)[i];
    state[STATE_ESS_NLL] = (float)bns_effective_sample_size(t->trace, kept);
    for (size_t i = 0; i < kept; i++) t->trace[i] = norm_of(m)[i];
    state[STATE_ESS_NORM] = (float)bns_effective_sample_size(t->trace, kept);
}

/* The per-example MAP objective's gradient w.r.t. the current iterate
 * (grad[0, n_weights)): mean minibatch NLL + (wd / 2) |theta|^2, i.e.
 * -log posterior / N. */
static void map_grad(sgld_trainer *t, const bns_model *m, const float *x, const uint8_t *y, int batch, float *grad,
                     bns_step_stats *stats) {
    const bns_arch *arch = &m->arch;
    int n_classes = arch->n_classes;
    const float *theta = m->params;
    float *logits = bns_net_forward(arch, theta, x, batch, &t->ws);
    stats->nll_sum = m->likelihood.nll(&m->likelihood, logits, y, batch, n_classes, 1.0f / (float)batch, t->grad_logits);
    stats->correct = bns_count_correct(logits, y, batch, n_classes);
    bns_net_backward(arch, theta, batch, &t->ws, t->grad_logits, grad, NULL);
    double wd = bns_config_get_double(&m->cfg, "sgld_weight_decay"), sq = 0.0;
    float wdf = (float)wd;
    for (size_t i = 0; i < arch->n_weights; i++) {
        sq += (double)theta[i] * theta[i];
        grad[i] += wdf * theta[i];
    }
    stats->reg_per_example = 0.5 * wd * sq;
    stats->kl = 0.0;
}

/* The method's loss_grad (not used by training, which takes train_step):
 * the MAP objective; the stored samples have no gradient. */
static void sgld_loss_grad(void *trainer, const bns_model *m, const float *x, const uint8_t *y, int batch,
                           const bns_objective *obj, float *grad, bns_step_stats *stats) {
    (void)obj;
    map_grad(trainer, m, x, y, batch, grad, stats);
    memset(grad + m->arch.n_weights, 0, sizeof(float) * (m->n_params - m->arch.n_weights));
}

static void sgld_describe_update(const bns_config *cfg, char *buf, size_t size) {
    double gamma = bns_config_get_double(cfg, "sgld_gamma");
    if (gamma > 0)
        snprintf(buf, size, "sgld step %g (%g + t)^-%g / N", bns_config_get_double(cfg, "sgld_lr"),
                 bns_config_get_double(cfg, "sgld_b"), gamma);
    else snprintf(buf, size, "sgld step %g / N", bns_config_get_double(cfg, "sgld_lr"));
}

static void sgld_train_step(void *trainer, bns_model *m, const float *x, const uint8_t *y, int batch,
                            const bns_objective *obj, bns_optimizer *opt, float *grad, bns_step_stats *stats) {
    (void)opt; /* the Langevin update is the method's own */
    sgld_trainer *t = trainer;
    size_t n = m->arch.n_weights;
    map_grad(t, m, x, y, batch, grad, stats);
    float minus_n = -(float)obj->n_train; /* grad log posterior = -N grad(MAP objective) */
    for (size_t i = 0; i < n; i++) grad[i] *= minus_n;

    double eps = t->lr / obj->n_train;
    if (t->gamma > 0) eps *= pow(t->b + (double)obj->step, -t->gamma);
    bns_sgld_update(m->params, grad, n, eps, &t->noise, obj->step, t->noise_on, m->params);

    long step = (long)obj->step;
    if (step > t->burn_in && (step - t->burn_in) % t->thin == 0) keep_sample(m, stats->nll_sum / batch);
    if (!obj->skip_kl_value) finish_epoch(m, t);
}

const bns_method bns_method_sgld = {
    .name = "sgld",
    .summary = "stochastic gradient Langevin dynamics: the last kept iterates are the posterior (METHODS.md s.9)",
    .caps = BNS_CAP_STOCHASTIC,
    .settings = sgld_settings,
    .validate = sgld_validate,
    .n_params = sgld_n_params,
    .param_blocks = sgld_param_blocks,
    .init = sgld_init,
    .point_weights = sgld_point_weights,
    .sample_weights = sgld_sample_weights,
    .describe = sgld_describe,
    .describe_update = sgld_describe_update,
    .keep_final = 1,
    .trainer_create = sgld_trainer_create,
    .trainer_free = sgld_trainer_free,
    .loss_grad = sgld_loss_grad,
    .train_step = sgld_train_step,
};
