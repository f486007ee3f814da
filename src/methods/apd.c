/* apd.c - adversarial posterior distillation (METHODS.md s.10; Wang et al.
 * 2018): a generator network G(z), z ~ N(0, I_d), whose output is a whole
 * weight vector of the classifier, trained as a GAN against a critic on the
 * samples of a teacher posterior (offline APD: an sgld model's stored
 * iterates, `--teacher MODEL.h5`; any stochastic model works, through the
 * interface). Sample k of an APD model is shift + scale * G(z_k), z_k =
 * normals [0, d) of substream k of the caller's stream, so evaluation,
 * ensembles, BALD, attacks and sweeps use it like any posterior.
 *
 * G and the critic D are networks of net.h (dense + ReLU): G is d -> H x L
 * -> P, D is P -> H x L -> 1 (P = the classifier's n_weights; H, L =
 * apd_hidden, apd_hidden_layers; the authors' code: 3 x 100).
 *
 * Standardisation (apd_standardize 1, our choice): the GAN works on
 * (theta - mean) / std of the teacher's samples, coordinate by coordinate
 * (std 1 where a coordinate does not vary), and the model stores that shift
 * and scale: the critic then sees unit-scale inputs whatever a layer's weight
 * scale (SGLD's first-layer weights are ~0.03, its biases ~0.1), which is
 * what the gradient penalty's target |grad D| = 1 presumes. 0: shift 0, scale 1.
 *
 * Training: the training loop's steps are generator iterations (its
 * minibatches of images are not used; an epoch is train rows / batch_size
 * iterations, so `--train-limit` sets the epoch length and the per-epoch
 * val_acc, the accuracy of a val_samples-ensemble of generated weight
 * vectors, is the curve of accuracy over GAN training). One iteration =
 * apd_critic_steps critic updates then one generator update, each on
 * apd_batch parameter vectors, with their own Adam (apd_lr, apd_beta1,
 * apd_beta2; eps 1e-8): the WGAN-GP paper's and the authors' 1e-4, (0.5,
 * 0.9), 5 critic steps, lambda 10, batch 100. WGAN clips every critic
 * parameter to +-apd_clip after each critic update (Arjovsky et al.: 0.01; we
 * keep Adam where they use RMSProp, so the three formulations differ only in
 * the loss). The teacher's first teacher_samples samples are drawn once, at
 * trainer creation, into memory; a real minibatch is teacher_samples rows
 * drawn uniformly with replacement.
 * Randomness: the (seed, task, WEIGHT) stream; substreams below 256 init the
 * critic (bns_init_truncated_normal's candidate substreams), substream
 * (step << 8) | (j << 2) | kind of iteration `step` and critic step j (j =
 * apd_critic_steps: the generator step) holds kind 0: real row indices,
 * 1: the noise z, 2: the interpolation weights.
 * The epoch line shows: nll = the last critic loss (penalty included), kl =
 * the last gradient penalty, the loss column adds the last generator loss.
 *
 * Parameter blocks (n_params = 3 P + n_gen):
 *   layers/<l>/weight, bias         the point weights shift + scale * G(0) (z at the noise's mode),
 *                                   refreshed at every epoch's end
 *   apd/shift [P], apd/scale [P]    the standardisation
 *   apd/generator/<l>/weight, bias  G's dense layers ([n_in, n_out], [n_out])
 * The training curve is /training/val_acc (and epoch_seconds) as for every method.
 *
 * Online APD (apd_mode online; METHODS.md s.10): no teacher file; the trainer
 * runs an SGLD chain (an sgld model through the method interface: sgld.c's
 * update, the apd_sgld_* settings, sgld_samples = teacher_samples) on the
 * loop's minibatches, one SGLD step per training step; its thinned iterates
 * go into the chain's ring of teacher_samples (the bounded buffer: the oldest
 * goes), which the model file does not store. From the first step with a full
 * buffer on, every step is also one GAN iteration as above, its real rows
 * drawn from the buffer as it is then; the standardisation is the buffer's
 * moments at that first step, then fixed. Until then the point weights are
 * the chain's iterate. The chain's streams use the task id hash64("apd online
 * chain <task>") so that they never meet the GAN's substreams.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/apd.h"
#include "bnnsweep/backend.h"
#include "bnnsweep/dataset.h"
#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/nn.h"
#include "bnnsweep/rng.h"

enum { MAX_HIDDEN = 1024, MAX_HIDDEN_LAYERS = BNS_MAX_LAYERS - 1, MAX_CRITIC_STEPS = 60 };
enum { APD_OFFLINE = 0, APD_ONLINE = 1 };

static const char *const gan_names[] = {"wgan_gp", "wgan", "gan", NULL};
static const char *const mode_names[] = {"offline", "online", NULL};

static const bns_config_field apd_settings[] = {
    BNS_METHOD_STRING_SETTING("teacher", 128, "", "model file whose posterior is distilled (e.g. an sgld model; a sweep may name a model group)"),
    BNS_METHOD_SETTING("teacher_samples", BNS_FIELD_INT, NULL, "100", "teacher samples 0..N-1 to distil (sgld stores 100)"),
    BNS_METHOD_SETTING("apd_gan", BNS_FIELD_ENUM, gan_names, "wgan_gp", "APD GAN formulation: wgan_gp, wgan (clipping), gan"),
    BNS_METHOD_SETTING("apd_noise_dim", BNS_FIELD_INT, NULL, "20", "APD generator noise dimension d"),
    BNS_METHOD_SETTING("apd_hidden", BNS_FIELD_INT, NULL, "100", "APD generator and critic hidden width"),
    BNS_METHOD_SETTING("apd_hidden_layers", BNS_FIELD_INT, NULL, "3", "APD generator and critic hidden ReLU layers"),
    BNS_METHOD_SETTING("apd_critic_steps", BNS_FIELD_INT, NULL, "5", "APD critic updates per generator update"),
    BNS_METHOD_SETTING("apd_lambda", BNS_FIELD_DOUBLE, NULL, "10", "APD WGAN-GP gradient-penalty weight"),
    BNS_METHOD_SETTING("apd_clip", BNS_FIELD_DOUBLE, NULL, "0.01", "APD WGAN critic weight clipping bound"),
    BNS_METHOD_SETTING("apd_lr", BNS_FIELD_DOUBLE, NULL, "0.0001", "APD Adam learning rate (generator and critic)"),
    BNS_METHOD_SETTING("apd_beta1", BNS_FIELD_DOUBLE, NULL, "0.5", "APD Adam beta1"),
    BNS_METHOD_SETTING("apd_beta2", BNS_FIELD_DOUBLE, NULL, "0.9", "APD Adam beta2"),
    BNS_METHOD_SETTING("apd_batch", BNS_FIELD_INT, NULL, "100", "APD parameter vectors per GAN minibatch"),
    BNS_METHOD_SETTING("apd_standardize", BNS_FIELD_INT, NULL, "1", "APD: 1 train on standardised teacher samples, 0 raw"),
    /* online APD (added with results: optional rows, so offline keys and files are unchanged) */
    BNS_METHOD_OPTIONAL_SETTING("apd_mode", BNS_FIELD_ENUM, mode_names, "offline",
                                "APD: offline (distil --teacher) or online (its own SGLD chain, teacher_samples buffer)"),
    BNS_METHOD_OPTIONAL_SETTING("apd_sgld_lr", BNS_FIELD_DOUBLE, NULL, "0.05", "online APD: the chain's sgld_lr"),
    BNS_METHOD_OPTIONAL_SETTING("apd_sgld_weight_decay", BNS_FIELD_DOUBLE, NULL, "0.001",
                                "online APD: the chain's sgld_weight_decay"),
    BNS_METHOD_OPTIONAL_SETTING("apd_sgld_burn_in", BNS_FIELD_INT, NULL, "500", "online APD: the chain's sgld_burn_in"),
    BNS_METHOD_OPTIONAL_SETTING("apd_sgld_thin", BNS_FIELD_INT, NULL, "20", "online APD: the chain's sgld_thin"),
    {0},
};

/* ---- the two networks ---- */

static void make_arch(const bns_config *cfg, int first, int last, bns_arch *out) {
    int widths[BNS_MAX_LAYERS + 1], layers = bns_config_get_int(cfg, "apd_hidden_layers");
    widths[0] = first;
    for (int l = 1; l <= layers; l++) widths[l] = bns_config_get_int(cfg, "apd_hidden");
    widths[layers + 1] = last;
    if (bns_arch_from_widths(widths, layers + 1, out)) abort(); /* validated settings */
}

static void gen_arch(const bns_config *cfg, const bns_arch *arch, bns_arch *out) {
    make_arch(cfg, bns_config_get_int(cfg, "apd_noise_dim"), (int)arch->n_weights, out);
}

static void critic_arch(const bns_config *cfg, const bns_arch *arch, bns_arch *out) {
    make_arch(cfg, (int)arch->n_weights, 1, out);
}

/* where each part lives in m->params */
static float *shift_of(const bns_model *m) { return m->params + m->arch.n_weights; }
static float *scale_of(const bns_model *m) { return m->params + 2 * m->arch.n_weights; }
static float *gen_of(const bns_model *m) { return m->params + 3 * m->arch.n_weights; }

void bns_apd_generate(const bns_arch *gen, const float *gw, const float *z, float *hidden, float *out) {
    const float *in = z;
    for (int l = 0; l < gen->n_layers; l++) {
        int last = l + 1 == gen->n_layers;
        float *y = last ? out : hidden;
        bns_dense_forward(in, 1, gen->width[l], gen->width[l + 1], gw + gen->weight_offset[l], gw + gen->bias_offset[l], y);
        if (!last) {
            bns_relu_forward(y, (size_t)gen->width[l + 1]);
            in = y;
            hidden += gen->width[l + 1];
        }
    }
}

/* w = shift + scale * G(z) */
static void generate_weights(const bns_model *m, const float *z, float *w) {
    bns_arch gen;
    gen_arch(&m->cfg, &m->arch, &gen);
    float hidden[MAX_HIDDEN * MAX_HIDDEN_LAYERS];
    bns_apd_generate(&gen, gen_of(m), z, hidden, w);
    const float *shift = shift_of(m), *scale = scale_of(m);
    for (size_t i = 0; i < m->arch.n_weights; i++) w[i] = shift[i] + scale[i] * w[i];
}

static void refresh_point(bns_model *m) {
    float z[MAX_HIDDEN] = {0};
    generate_weights(m, z, m->params);
}

/* ---- the losses and their gradients (apd.h) ---- */

void bns_apd_work_init(bns_apd_work *w, const bns_arch *gen, const bns_arch *critic, int batch) {
    memset(w, 0, sizeof *w);
    w->gen = *gen;
    w->critic = *critic;
    w->batch = batch;
    size_t P = (size_t)critic->width[0], B = (size_t)batch;
    bns_net_workspace_init(&w->gws, gen, batch);
    bns_net_workspace_init(&w->cws, critic, 2 * batch);
    w->x = bns_xmalloc(sizeof(float) * 2 * B * P);
    w->interp = bns_xmalloc(sizeof(float) * B * P);
    w->g = bns_xmalloc(sizeof(float) * B * P);
    w->gout = bns_xmalloc(sizeof(float) * B * P);
    w->dlogits = bns_xmalloc(sizeof(float) * 2 * B);
    for (int l = 1; l <= critic->n_layers; l++) w->e[l] = bns_xmalloc(sizeof(float) * B * critic->width[l]);
    for (int l = 1; l < critic->n_layers; l++) w->r[l] = bns_xmalloc(sizeof(float) * B * critic->width[l]);
    /* G's output layer writes its rows straight into the critic's fake half
     * of x (no copy of B x P floats per critic step); the workspace frees
     * only what it owns */
    int last = gen->n_ops - 1;
    free(w->gws.owned[last]);
    w->gws.owned[last] = NULL;
    w->gws.out[last] = w->x + B * P;
}

void bns_apd_work_free(bns_apd_work *w) {
    bns_net_workspace_free(&w->gws);
    bns_net_workspace_free(&w->cws);
    free(w->x);
    free(w->interp);
    free(w->g);
    free(w->gout);
    free(w->dlogits);
    for (int l = 0; l <= BNS_MAX_LAYERS; l++) free(w->e[l]);
    for (int l = 0; l < BNS_MAX_LAYERS; l++) free(w->r[l]);
    memset(w, 0, sizeof *w);
}

/* y *= (h > 0): the ReLU mask of a hidden layer's output h */
static void mask_by(float *y, const float *h, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = h[i] > 0.0f ? y[i] : 0.0f;
}

/* The gradient penalty and its gradient by double backprop (METHODS.md s.10;
 * Gulrajani et al. 2017's penalty), derived by hand for the ReLU critic.
 *
 * Notation (one row x, row vectors): layer l = 0..L-1 maps width n_l to
 * n_{l+1} by a_{l+1} = h_l W_l + b_l, W_l [n_l, n_{l+1}]; h_0 = x,
 * h_{l+1} = relu(a_{l+1}) for l < L-1, D = a_L (n_L = 1). With the masks
 * M_l = diag(1[h_l > 0]) (l = 1..L-1), D's input gradient is the usual
 * backward pass from 1:
 *   e_L = 1,  e_l = e_{l+1} W_l^T M_l (l = L-1..1),  g = dD/dx = e_1 W_0^T.
 * ReLU is piecewise linear, so the masks are locally constant: g depends on
 * the W's only (not on the b's, not on x), and almost everywhere
 *   dGP/db_l = 0 and dGP/dx = 0   (the gradient w.r.t. the interpolate vanishes).
 * GP = (lambda / B) sum_i (|g_i| - 1)^2, so dGP/dg_i = u_i = (2 lambda / B)
 * (|g_i| - 1) g_i / |g_i| (0 at g_i = 0, a subgradient), and with u held
 * fixed dGP/dW_l = d/dW_l sum_i u_i . g_i. Writing the chain out,
 *   u . g = u W_0 M_1 W_1 M_2 ... M_{L-1} W_{L-1} 1
 *         = (u W_0 M_1 ... W_{l-1} M_l) W_l (M_{l+1} W_{l+1} ... W_{L-1} 1)
 *         = r_l W_l e_{l+1}^T,
 * where the tangent pass r_0 = u, r_l = r_{l-1} W_{l-1} M_l runs forward
 * through the same masks (without biases). Hence, summed over the batch,
 *   dGP/dW_l = sum_i r_{l,i}^T e_{l+1,i} = R_l^T E_{l+1}   (one GEMM per layer).
 * Cost: a forward pass, the input-gradient pass, the tangent pass and the
 * weight-gradient GEMMs: about four times a forward pass. tests/test_apd.c
 * checks it (and dGP/dx = 0) against central differences. */
double bns_apd_gradient_penalty(bns_apd_work *w, double lambda, const float *cw, const float *x, float *grad_cw) {
    const bns_arch *a = &w->critic;
    int B = w->batch, L = a->n_layers;
    const int *n = a->width;
    bns_net_forward(a, cw, x, B, &w->cws);
    /* h_l (l = 1..L-1) is the output of dense layer l-1 (op 2(l-1)), ReLU'd in place */
    const float *h[BNS_MAX_LAYERS + 1] = {0};
    for (int l = 1; l < L; l++) h[l] = w->cws.out[2 * (l - 1)];
    for (int i = 0; i < B; i++) w->e[L][i] = 1.0f;
    for (int l = L - 1; l >= 1; l--) {
        bns_gemm(0, 1, B, n[l], n[l + 1], 1.0f, w->e[l + 1], n[l + 1], cw + a->weight_offset[l], n[l + 1], 0.0f,
                 w->e[l], n[l]);
        mask_by(w->e[l], h[l], (size_t)B * n[l]);
    }
    bns_gemm(0, 1, B, n[0], n[1], 1.0f, w->e[1], n[1], cw + a->weight_offset[0], n[1], 0.0f, w->g, n[0]);
    /* |g_i|^2 of ROWS rows at a time: each row's double sum in its own
     * order (j = 0..n_0-1, as for the row alone), so ROWS independent
     * chains of additions instead of one latency-bound chain */
    enum { ROWS = 8 };
    double penalty = 0.0;
    for (int i0 = 0; i0 < B; i0 += ROWS) {
        int rows = B - i0 < ROWS ? B - i0 : ROWS;
        double sq[ROWS] = {0};
        const float *gr[ROWS];
        for (int r = 0; r < rows; r++) gr[r] = w->g + (size_t)(i0 + r) * n[0];
        if (rows == ROWS)
            for (int j = 0; j < n[0]; j++)
                for (int r = 0; r < ROWS; r++) sq[r] += (double)gr[r][j] * gr[r][j];
        else
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < n[0]; j++) sq[r] += (double)gr[r][j] * gr[r][j];
        for (int r = 0; r < rows; r++) {
            float *gi = w->g + (size_t)(i0 + r) * n[0];
            double norm = sqrt(sq[r]);
            penalty += (norm - 1.0) * (norm - 1.0);
            float c = norm > 0 ? (float)(2.0 * lambda / B * (norm - 1.0) / norm) : 0.0f;
            for (int j = 0; j < n[0]; j++) gi[j] *= c; /* u_i */
        }
    }
    const float *r_prev = w->g; /* r_0 = u */
    for (int l = 1; l < L; l++) {
        bns_gemm(0, 0, B, n[l], n[l - 1], 1.0f, r_prev, n[l - 1], cw + a->weight_offset[l - 1], n[l], 0.0f, w->r[l],
                 n[l]);
        mask_by(w->r[l], h[l], (size_t)B * n[l]);
        r_prev = w->r[l];
    }
    for (int l = 0; l < L; l++) {
        const float *rl = l == 0 ? w->g : w->r[l];
        bns_gemm(1, 0, n[l], n[l + 1], B, 1.0f, rl, n[l], w->e[l + 1], n[l + 1], 1.0f, grad_cw + a->weight_offset[l],
                 n[l + 1]);
    }
    return lambda / B * penalty;
}

static double softplus(double a) { return a > 0 ? a + log1p(exp(-a)) : log1p(exp(a)); }
static double sigmoid(double a) { return a >= 0 ? 1.0 / (1.0 + exp(-a)) : exp(a) / (1.0 + exp(a)); }

double bns_apd_critic_grad(bns_apd_work *w, int gan, double lambda, const float *cw, const float *real,
                           const float *fake, const float *eps, float *grad_cw, double *penalty) {
    int B = w->batch;
    size_t P = (size_t)w->critic.width[0];
    if (real != w->x) memcpy(w->x, real, sizeof(float) * B * P);
    if (fake != w->x + B * P) memcpy(w->x + B * P, fake, sizeof(float) * B * P);
    const float *d = bns_net_forward(&w->critic, cw, w->x, 2 * B, &w->cws);
    double loss = 0.0;
    for (int i = 0; i < B; i++) {
        double dr = d[i], df = d[B + i];
        if (gan == BNS_APD_GAN) {
            loss += (softplus(-dr) + softplus(df)) / B;
            w->dlogits[i] = (float)(-sigmoid(-dr) / B);
            w->dlogits[B + i] = (float)(sigmoid(df) / B);
        } else {
            loss += (df - dr) / B;
            w->dlogits[i] = -1.0f / (float)B;
            w->dlogits[B + i] = 1.0f / (float)B;
        }
    }
    bns_net_backward(&w->critic, cw, 2 * B, &w->cws, w->dlogits, grad_cw, NULL);
    double gp = 0.0;
    if (gan == BNS_APD_WGAN_GP) {
        for (int i = 0; i < B; i++) {
            const float *xr = w->x + (size_t)i * P, *xf = w->x + (size_t)(B + i) * P;
            float *xi = w->interp + (size_t)i * P, e = eps[i];
            for (size_t j = 0; j < P; j++) xi[j] = e * xr[j] + (1.0f - e) * xf[j];
        }
        gp = bns_apd_gradient_penalty(w, lambda, cw, w->interp, grad_cw);
    }
    if (penalty) *penalty = gp;
    return loss + gp;
}

double bns_apd_generator_grad(bns_apd_work *w, int gan, const float *gw, const float *cw, const float *z,
                              float *grad_gw) {
    int B = w->batch;
    const float *fake = bns_net_forward(&w->gen, gw, z, B, &w->gws);
    const float *d = bns_net_forward(&w->critic, cw, fake, B, &w->cws);
    double loss = 0.0;
    for (int i = 0; i < B; i++) {
        if (gan == BNS_APD_GAN) { /* the non-saturating loss -log sigmoid(D) */
            loss += softplus(-(double)d[i]) / B;
            w->dlogits[i] = (float)(-sigmoid(-(double)d[i]) / B);
        } else {
            loss -= (double)d[i] / B;
            w->dlogits[i] = -1.0f / (float)B;
        }
    }
    bns_net_backward(&w->critic, cw, B, &w->cws, w->dlogits, NULL, w->gout);
    bns_net_backward(&w->gen, gw, B, &w->gws, w->gout, grad_gw, NULL);
    return loss;
}

/* ---- the posterior ---- */

static int apd_validate(const bns_config *cfg) {
    int d = bns_config_get_int(cfg, "apd_noise_dim"), hid = bns_config_get_int(cfg, "apd_hidden");
    int layers = bns_config_get_int(cfg, "apd_hidden_layers"), steps = bns_config_get_int(cfg, "apd_critic_steps");
    int batch = bns_config_get_int(cfg, "apd_batch"), ts = bns_config_get_int(cfg, "teacher_samples");
    int stdz = bns_config_get_int(cfg, "apd_standardize");
    double lambda = bns_config_get_double(cfg, "apd_lambda"), clip = bns_config_get_double(cfg, "apd_clip");
    double lr = bns_config_get_double(cfg, "apd_lr"), b1 = bns_config_get_double(cfg, "apd_beta1");
    double b2 = bns_config_get_double(cfg, "apd_beta2");
    int online = bns_config_get_int(cfg, "apd_mode") == APD_ONLINE;
    if (!online && !bns_config_get_string(cfg, "teacher")[0])
        return bns_fail("teacher: method apd distils a trained model; give --teacher MODEL.h5 (or apd_mode online)");
    if (online && bns_config_get_string(cfg, "teacher")[0])
        return bns_fail("teacher: online APD (apd_mode online) makes its own SGLD samples; leave teacher unset");
    if (online) {
        double slr = bns_config_get_double(cfg, "apd_sgld_lr"), swd = bns_config_get_double(cfg, "apd_sgld_weight_decay");
        if (!(slr > 0)) return bns_fail("apd_sgld_lr must be positive, got %g", slr);
        if (!(swd >= 0)) return bns_fail("apd_sgld_weight_decay must be >= 0, got %g", swd);
        if (bns_config_get_int(cfg, "apd_sgld_burn_in") < 0) return bns_fail("apd_sgld_burn_in must be >= 0");
        if (bns_config_get_int(cfg, "apd_sgld_thin") < 1) return bns_fail("apd_sgld_thin must be >= 1");
    }
    if (d < 1 || d > MAX_HIDDEN) return bns_fail("apd_noise_dim must be in 1..%d, got %d", MAX_HIDDEN, d);
    if (hid < 1 || hid > MAX_HIDDEN) return bns_fail("apd_hidden must be in 1..%d, got %d", MAX_HIDDEN, hid);
    if (layers < 1 || layers > MAX_HIDDEN_LAYERS)
        return bns_fail("apd_hidden_layers must be in 1..%d, got %d", MAX_HIDDEN_LAYERS, layers);
    if (steps < 1 || steps > MAX_CRITIC_STEPS)
        return bns_fail("apd_critic_steps must be in 1..%d, got %d", MAX_CRITIC_STEPS, steps);
    if (batch < 1 || batch > 100000) return bns_fail("apd_batch must be in 1..100000, got %d", batch);
    if (ts < 1 || ts > 100000) return bns_fail("teacher_samples must be in 1..100000, got %d", ts);
    if (stdz != 0 && stdz != 1) return bns_fail("apd_standardize must be 0 or 1, got %d", stdz);
    if (!(lambda >= 0)) return bns_fail("apd_lambda must be >= 0, got %g", lambda);
    if (!(clip > 0)) return bns_fail("apd_clip must be positive, got %g", clip);
    if (!(lr > 0)) return bns_fail("apd_lr must be positive, got %g", lr);
    if (!(b1 >= 0 && b1 < 1) || !(b2 >= 0 && b2 < 1)) return bns_fail("apd_beta1 and apd_beta2 must be in [0, 1)");
    return 0;
}

static size_t apd_n_params(const bns_config *cfg, const bns_arch *arch) {
    bns_arch gen;
    gen_arch(cfg, arch, &gen);
    return 3 * arch->n_weights + gen.n_weights;
}

static int apd_param_blocks(const bns_model *m, bns_param_block *out) {
    static const char *const suffix[] = {""};
    int n = bns_layer_param_blocks(m, suffix, 1, out);
    size_t P = m->arch.n_weights;
    const char *names[] = {"apd/shift", "apd/scale"};
    const float *at[] = {shift_of(m), scale_of(m)};
    for (int i = 0; i < 2; i++)
        out[n++] = (bns_param_block){.offset = (size_t)(at[i] - m->params), .rank = 1, .dims = {P, 0}};
    snprintf(out[n - 2].path, sizeof out[n - 2].path, "%s", names[0]);
    snprintf(out[n - 1].path, sizeof out[n - 1].path, "%s", names[1]);
    bns_arch gen;
    gen_arch(&m->cfg, &m->arch, &gen);
    size_t base = (size_t)(gen_of(m) - m->params);
    for (int l = 0; l < gen.n_layers; l++) {
        bns_param_block *w = &out[n++], *b = &out[n++];
        *w = (bns_param_block){.offset = base + gen.weight_offset[l], .rank = 2,
                               .dims = {(size_t)gen.width[l], (size_t)gen.width[l + 1]}};
        *b = (bns_param_block){.offset = base + gen.bias_offset[l], .rank = 1, .dims = {(size_t)gen.width[l + 1], 0}};
        snprintf(w->path, sizeof w->path, "apd/generator/%d/weight", l);
        snprintf(b->path, sizeof b->path, "apd/generator/%d/bias", l);
    }
    return n;
}

static void apd_init(bns_model *m, const bns_stream *init_stream) {
    size_t P = m->arch.n_weights;
    memset(m->params, 0, sizeof(float) * m->n_params);
    for (size_t i = 0; i < P; i++) scale_of(m)[i] = 1.0f;
    bns_arch gen;
    gen_arch(&m->cfg, &m->arch, &gen);
    bns_init_truncated_normal(gen_of(m), &gen, 0.0, init_stream); /* 1/sqrt(3 fan-in), as PyTorch's nn.Linear */
    refresh_point(m);
}

static const float *apd_point_weights(const bns_model *m) { return m->params; }

static void apd_sample_weights(const bns_model *m, const bns_stream *stream, uint64_t index, float *w) {
    float z[MAX_HIDDEN];
    bns_stream_normal(stream, index, 0, (size_t)bns_config_get_int(&m->cfg, "apd_noise_dim"), z);
    generate_weights(m, z, w);
}

static double apd_train_cost(const bns_config *cfg, double row_weights) {
    /* A generator iteration per batch_size rows. Its products with P (the
     * classifier's weights) dominate: each critic step ~9 and the generator
     * step ~5 GEMMs of apd_batch x hidden x P (`bnnsweep bench --modes apd`
     * counts 169 GEMMs, 79.75 GFLOP per iteration at the defaults on fcNN1 =
     * 50.2 x 2 B H P flops), at a deterministic epoch's flop rate (6 flops per
     * row-weight), times 1.35: the iteration's measured time over its GEMMs
     * alone (docs/apd.md s.3: 1.30-1.45). */
    int B = bns_config_get_int(cfg, "apd_batch"), H = bns_config_get_int(cfg, "apd_hidden");
    int critic_steps = bns_config_get_int(cfg, "apd_critic_steps");
    double flops_per_weight = 2.0 * B * H * (9.0 * critic_steps + 5.0);
    double iterations = row_weights / cfg->batch_size; /* per epoch, times P: rows = row_weights / P */
    double gan = iterations * flops_per_weight * (BNS_COST_TRAIN_DET / 6.0) * 1.35;
    if (bns_config_get_int(cfg, "apd_mode") != APD_ONLINE) return gan;
    /* online: an SGLD step (a deterministic step's cost) on each minibatch,
     * the GAN iterations only from the step at which the buffer is full
     * (burn-in + thin x teacher_samples): averaged over max_epochs epochs */
    bns_arch arch;
    double share = 1.0;
    if (!bns_arch_parse(cfg->arch, bns_data_inputs(cfg->dataset), &arch) && bns_arch_macs(&arch) > 0) {
        double rows = row_weights / bns_arch_macs(&arch);
        double steps = (double)cfg->max_epochs * ceil(rows / cfg->batch_size);
        double first = bns_config_get_int(cfg, "apd_sgld_burn_in") +
                       (double)bns_config_get_int(cfg, "apd_sgld_thin") * bns_config_get_int(cfg, "teacher_samples");
        share = steps > first ? (steps - first) / steps : 0.0;
    }
    return gan * share + row_weights * BNS_COST_TRAIN_DET;
}

static void apd_describe(const bns_model *m, char *buf, size_t size) {
    bns_arch gen;
    gen_arch(&m->cfg, &m->arch, &gen);
    snprintf(buf, size, "%s generator %d", gan_names[bns_config_get_int(&m->cfg, "apd_gan")], gen.width[0]);
    for (int l = 1; l <= gen.n_layers; l++) {
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "-%d", gen.width[l]);
    }
    size_t used = strlen(buf);
    int online = bns_config_get_int(&m->cfg, "apd_mode") == APD_ONLINE;
    snprintf(buf + used, size - used, ": %zu parameters (+ %zu shift/scale), %.1f MB; distils %s", gen.n_weights,
             2 * m->arch.n_weights, 1e-6 * sizeof(float) * (double)(gen.n_weights + 2 * m->arch.n_weights),
             online ? "its own SGLD chain (online)" : bns_config_get_string(&m->cfg, "teacher"));
}

/* ---- training ---- */

typedef struct {
    bns_apd_work work;
    size_t n_critic_params, n_gen_params;
    float *cw, *grad_c, *cm, *cv;   /* the critic and its Adam moments */
    float *grad_g, *gm, *gv;        /* the generator's gradient and Adam moments */
    float *teacher;                 /* [T, P]: the teacher's samples, standardised */
    float *shift, *scale;           /* the standardisation, copied into the model at the first step */
    float *z, *eps;
    size_t n_teacher;
    long critic_steps, gen_steps;   /* Adam's step counts */
    int first, gan, n_critic, noise_dim;
    float lr, beta1, beta2, clip;
    double lambda;
    bns_stream noise;
    /* online APD: the SGLD chain (an sgld model, through the method
     * interface) whose sample store is the bounded buffer */
    int online, started;
    bns_model chain;
    const bns_method *sgld;
    void *chain_trainer;
    float *chain_grad;
    const float *buffer;            /* [teacher_samples, P]: the chain's store (ring slots) */
    long burn_in, thin;
} apd_trainer;

long bns_apd_online_kept(uint64_t step, long burn_in, long thin, long capacity) {
    if ((long long)step <= burn_in) return 0;
    long long kept = ((long long)step - burn_in) / thin;
    return kept < capacity ? (long)kept : capacity;
}

/* the mean and std (n - 1) of each of P coordinates over n rows: the
 * standardisation (std 1 where a coordinate does not vary) */
static void standardisation(const float *rows, size_t n, size_t P, float *shift, float *scale) {
    for (size_t i = 0; i < P; i++) {
        double s = 0.0, ss = 0.0;
        for (size_t k = 0; k < n; k++) s += rows[k * P + i];
        double mean = s / n;
        for (size_t k = 0; k < n; k++) {
            double dv = rows[k * P + i] - mean;
            ss += dv * dv;
        }
        double sd = n > 1 ? sqrt(ss / (n - 1)) : 0.0;
        shift[i] = (float)mean;
        scale[i] = sd > 1e-12 ? (float)sd : 1.0f;
    }
}

/* The online chain: an sgld model of the same arch, the apd_sgld_* settings,
 * sgld_samples = teacher_samples (the buffer), and its own task id (its init
 * and Langevin noise must not reuse the GAN's substreams of this task's
 * streams). */
static void online_chain_create(apd_trainer *t, const bns_model *m, int max_batch) {
    bns_config cfg = m->cfg;
    char text[64], v[32];
    snprintf(text, sizeof text, "apd online chain %016llx", (unsigned long long)m->cfg.task);
    const char *keys[] = {"sgld_lr", "sgld_weight_decay", "sgld_burn_in", "sgld_thin", "sgld_samples"};
    const char *from[] = {"apd_sgld_lr", "apd_sgld_weight_decay", "apd_sgld_burn_in", "apd_sgld_thin",
                          "teacher_samples"};
    int bad = bns_config_set(&cfg, "method", "sgld");
    bns_config_method_defaults(&cfg); /* apd's rows do not apply to an sgld model */
    for (int i = 0; i < 5 && !bad; i++) {
        if (i < 2) snprintf(v, sizeof v, "%.17g", bns_config_get_double(&m->cfg, from[i]));
        else snprintf(v, sizeof v, "%d", bns_config_get_int(&m->cfg, from[i]));
        bad = bns_config_set(&cfg, keys[i], v);
    }
    cfg.task = bns_hash64(text);
    if (bad || bns_model_create(&cfg, m->arch.width[0], &t->chain) || t->chain.arch.n_weights != m->arch.n_weights) {
        fprintf(stderr, "apd: cannot make the online SGLD chain: %s\n", bns_last_error());
        abort(); /* validated settings */
    }
    t->sgld = t->chain.method;
    t->chain_trainer = t->sgld->trainer_create(&t->chain, max_batch);
    t->chain_grad = bns_xmalloc(sizeof(float) * t->chain.n_params);
    bns_param_block blocks[BNS_MAX_PARAM_BLOCKS];
    int nb = bns_model_param_blocks(&t->chain, blocks);
    for (int i = 0; i < nb; i++)
        if (!strcmp(blocks[i].path, "samples/weights")) t->buffer = t->chain.params + blocks[i].offset;
    if (!t->buffer) abort();
    t->burn_in = bns_config_get_int(&m->cfg, "apd_sgld_burn_in");
    t->thin = bns_config_get_int(&m->cfg, "apd_sgld_thin");
}

static void *apd_trainer_create(const bns_model *m, int max_batch) {
    const bns_config *cfg = &m->cfg; /* offline, the images are not used; online, the chain's */
    int online = bns_config_get_int(cfg, "apd_mode") == APD_ONLINE;
    if (!online && !m->teacher) {
        /* bns_model_load_teacher (model_io.h) sets it before training; a caller that skips it is a bug */
        fprintf(stderr, "apd: training without a teacher model (bns_model_load_teacher not called)\n");
        abort();
    }
    apd_trainer *t = bns_xcalloc(1, sizeof *t);
    bns_arch gen, critic;
    gen_arch(cfg, &m->arch, &gen);
    critic_arch(cfg, &m->arch, &critic);
    int B = bns_config_get_int(cfg, "apd_batch");
    bns_apd_work_init(&t->work, &gen, &critic, B);
    size_t P = m->arch.n_weights;
    t->n_critic_params = critic.n_weights;
    t->n_gen_params = gen.n_weights;
    t->cw = bns_xmalloc(sizeof(float) * critic.n_weights);
    t->grad_c = bns_xmalloc(sizeof(float) * critic.n_weights);
    t->cm = bns_xcalloc(critic.n_weights, sizeof(float));
    t->cv = bns_xcalloc(critic.n_weights, sizeof(float));
    t->grad_g = bns_xmalloc(sizeof(float) * gen.n_weights);
    t->gm = bns_xcalloc(gen.n_weights, sizeof(float));
    t->gv = bns_xcalloc(gen.n_weights, sizeof(float));
    t->noise_dim = bns_config_get_int(cfg, "apd_noise_dim");
    t->z = bns_xmalloc(sizeof(float) * (size_t)B * t->noise_dim);
    t->eps = bns_xmalloc(sizeof(float) * (size_t)B);
    t->noise = bns_stream_make(cfg->seed, cfg->task, BNS_PURPOSE_WEIGHT);
    bns_init_truncated_normal(t->cw, &critic, 0.0, &t->noise); /* substreams < 256 (see the top) */
    t->gan = bns_config_get_int(cfg, "apd_gan");
    t->n_critic = bns_config_get_int(cfg, "apd_critic_steps");
    t->lambda = bns_config_get_double(cfg, "apd_lambda");
    t->clip = (float)bns_config_get_double(cfg, "apd_clip");
    t->lr = (float)bns_config_get_double(cfg, "apd_lr");
    t->beta1 = (float)bns_config_get_double(cfg, "apd_beta1");
    t->beta2 = (float)bns_config_get_double(cfg, "apd_beta2");
    t->first = 1;
    t->n_teacher = (size_t)bns_config_get_int(cfg, "teacher_samples");
    t->shift = bns_xcalloc(P, sizeof(float));
    t->scale = bns_xmalloc(sizeof(float) * P);
    for (size_t i = 0; i < P; i++) t->scale[i] = 1.0f;
    if (online) {
        t->online = 1;
        online_chain_create(t, m, max_batch);
        return t;
    }

    /* the teacher's samples 0..T-1, through the posterior interface */
    t->teacher = bns_xmalloc(sizeof(float) * t->n_teacher * P);
    bns_stream ts = bns_stream_make(cfg->seed, cfg->task, BNS_PURPOSE_DATA);
    for (size_t k = 0; k < t->n_teacher; k++) bns_model_sample_weights(m->teacher, &ts, k, t->teacher + k * P);
    if (bns_config_get_int(cfg, "apd_standardize")) {
        standardisation(t->teacher, t->n_teacher, P, t->shift, t->scale);
        for (size_t k = 0; k < t->n_teacher; k++)
            for (size_t i = 0; i < P; i++)
                t->teacher[k * P + i] = (t->teacher[k * P + i] - t->shift[i]) / t->scale[i];
    }
    return t;
}

static void apd_trainer_free(void *trainer) {
    apd_trainer *t = trainer;
    if (!t) return;
    bns_apd_work_free(&t->work);
    free(t->cw), free(t->grad_c), free(t->cm), free(t->cv);
    free(t->grad_g), free(t->gm), free(t->gv);
    free(t->teacher), free(t->shift), free(t->scale);
    free(t->z), free(t->eps);
    if (t->online) {
        t->sgld->trainer_free(t->chain_trainer);
        free(t->chain_grad);
        bns_model_free(&t->chain);
    }
    free(t);
}

static uint64_t substream(uint64_t step, int j, int kind) { return (step << 8) | ((uint64_t)j << 2) | (uint64_t)kind; }

/* The loop's loss_grad (training takes train_step): no gradient w.r.t. the
 * stored parameters, whose update is the GAN's own. */
static void apd_loss_grad(void *trainer, const bns_model *m, const float *x, const uint8_t *y, int batch,
                          const bns_objective *obj, float *grad, bns_step_stats *stats) {
    (void)trainer, (void)x, (void)y, (void)batch, (void)obj;
    memset(grad, 0, sizeof(float) * m->n_params);
    memset(stats, 0, sizeof *stats);
}

static void apd_train_step(void *trainer, bns_model *m, const float *x, const uint8_t *y, int batch,
                           const bns_objective *obj, bns_optimizer *opt, float *grad, bns_step_stats *stats) {
    (void)x, (void)y, (void)opt, (void)grad; /* the GAN's own updates */
    apd_trainer *t = trainer;
    bns_apd_work *w = &t->work;
    size_t P = m->arch.n_weights, B = (size_t)w->batch;
    if (t->online) {
        /* online APD (METHODS.md s.10): an SGLD step on this minibatch (its
         * thinned iterates go into the bounded buffer, the chain's ring of
         * teacher_samples); GAN iterations start when the buffer is full, on
         * the buffer standardised by its moments at that step (then fixed:
         * the generator's outputs are in those units) */
        t->sgld->train_step(t->chain_trainer, &t->chain, x, y, batch, obj, NULL, t->chain_grad, stats);
        if (bns_apd_online_kept(obj->step, t->burn_in, t->thin, (long)t->n_teacher) < (long)t->n_teacher) {
            memcpy(m->params, t->chain.params, sizeof(float) * P); /* the point: the chain, until the GAN runs */
            return;
        }
        if (!t->started && bns_config_get_int(&m->cfg, "apd_standardize"))
            standardisation(t->buffer, t->n_teacher, P, t->shift, t->scale);
        t->started = 1;
    }
    if (t->first) {
        memcpy(shift_of(m), t->shift, sizeof(float) * P);
        memcpy(scale_of(m), t->scale, sizeof(float) * P);
        t->first = 0;
    }
    float *gw = gen_of(m);
    double critic_loss = 0.0, penalty = 0.0;
    for (int j = 0; j < t->n_critic; j++) {
        for (size_t i = 0; i < B; i++) {
            uint64_t k = bns_stream_below(&t->noise, substream(obj->step, j, 0), i, t->n_teacher);
            if (!t->online) memcpy(w->x + i * P, t->teacher + k * P, sizeof(float) * P);
            else
                for (size_t c = 0; c < P; c++) w->x[i * P + c] = (t->buffer[k * P + c] - t->shift[c]) / t->scale[c];
        }
        bns_stream_normal(&t->noise, substream(obj->step, j, 1), 0, B * t->noise_dim, t->z);
        const float *fake = bns_net_forward(&w->gen, gw, t->z, (int)B, &w->gws); /* = w->x + B P (work_init) */
        bns_stream_uniform(&t->noise, substream(obj->step, j, 2), 0, B, t->eps);
        critic_loss = bns_apd_critic_grad(w, t->gan, t->lambda, t->cw, w->x, fake, t->eps, t->grad_c, &penalty);
        bns_adam_update(t->cw, t->grad_c, t->cm, t->cv, t->n_critic_params, t->lr, t->beta1, t->beta2, 1e-8f,
                        ++t->critic_steps);
        if (t->gan == BNS_APD_WGAN)
            for (size_t i = 0; i < t->n_critic_params; i++) t->cw[i] = fminf(fmaxf(t->cw[i], -t->clip), t->clip);
    }
    bns_stream_normal(&t->noise, substream(obj->step, t->n_critic, 1), 0, B * t->noise_dim, t->z);
    double gen_loss = bns_apd_generator_grad(w, t->gan, gw, t->cw, t->z, t->grad_g);
    bns_adam_update(gw, t->grad_g, t->gm, t->gv, t->n_gen_params, t->lr, t->beta1, t->beta2, 1e-8f, ++t->gen_steps);
    memset(stats, 0, sizeof *stats);
    stats->nll_sum = critic_loss * batch; /* the epoch line's nll: the critic loss */
    stats->reg_per_example = gen_loss;
    stats->kl = penalty;
    if (!obj->skip_kl_value) refresh_point(m);
}

const bns_method bns_method_apd = {
    .name = "apd",
    .summary = "adversarial posterior distillation: a GAN generates weight vectors of a teacher (METHODS.md s.10)",
    .caps = BNS_CAP_STOCHASTIC,
    .settings = apd_settings,
    .validate = apd_validate,
    .n_params = apd_n_params,
    .param_blocks = apd_param_blocks,
    .init = apd_init,
    .point_weights = apd_point_weights,
    .sample_weights = apd_sample_weights,
    .train_cost = apd_train_cost,
    .describe = apd_describe,
    .trainer_create = apd_trainer_create,
    .trainer_free = apd_trainer_free,
    .loss_grad = apd_loss_grad,
    .train_step = apd_train_step,
};
