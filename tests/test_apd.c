/* test_apd.c - the apd method (src/methods/apd.c, METHODS.md s.10).
 *
 * The GAN's gradients against central differences: the critic loss of each
 * formulation w.r.t. the critic's parameters (WGAN-GP's includes the
 * gradient penalty, whose gradient is a gradient of a gradient norm), the
 * penalty alone w.r.t. the critic's parameters and w.r.t. the interpolate
 * (zero almost everywhere for a ReLU critic), and the generator loss w.r.t.
 * the generator's parameters; sample k of a model is shift + scale * G(z_k)
 * with z_k from substream k of the caller's stream (so reproducible by key);
 * and a small distillation: a teacher whose samples are draws from a known
 * diagonal Gaussian (8 coordinates), distilled for 6000 generator iterations
 * with training seeds 1..3: averaged over the seeds and the second half of
 * training, WGAN-GP's worst coordinate is close to the teacher, clearly
 * better than the vanilla GAN's and comparable to WGAN's (clipping) with the
 * same budget (the margins and the measurements behind them:
 * test_distils_a_gaussian). Online APD (an SGLD chain on a separable 3-input
 * problem feeding a 16-sample buffer): the buffer fills as sgld.c keeps
 * iterates and stays bounded, the model stores no buffer, the generator waits
 * for a full buffer, a run is reproducible by key (another key: another run),
 * and its generated weights' ensemble classifies > 90% (> 10 points over the
 * run stopped at the first GAN step). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bnnsweep/apd.h"
#include "bnnsweep/config.h"
#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/model.h"
#include "bnnsweep/rng.h"
#include "test_fd.h"

/* ---- the losses against central differences ---- */

enum { P = 12, D = 3, H = 6, B = 4 };

typedef struct {
    bns_apd_work w;
    int gan;
    double lambda;
    float *cw, *gw, *real, *fake, *eps, *z, *scratch_c, *scratch_g;
} gan_case;

static void make_case(gan_case *c, int gan) {
    int gw_widths[] = {D, H, H, P}, cw_widths[] = {P, H, H, 1};
    bns_arch gen, critic;
    assert_int_equal(bns_arch_from_widths(gw_widths, 3, &gen), 0);
    assert_int_equal(bns_arch_from_widths(cw_widths, 3, &critic), 0);
    bns_apd_work_init(&c->w, &gen, &critic, B);
    c->gan = gan;
    c->lambda = 10.0;
    c->cw = malloc(sizeof(float) * critic.n_weights);
    c->gw = malloc(sizeof(float) * gen.n_weights);
    c->scratch_c = malloc(sizeof(float) * critic.n_weights);
    c->scratch_g = malloc(sizeof(float) * gen.n_weights);
    c->real = malloc(sizeof(float) * B * P);
    c->fake = malloc(sizeof(float) * B * P);
    c->eps = malloc(sizeof(float) * B);
    c->z = malloc(sizeof(float) * B * D);
    /* biases away from 0 so that most units are active and few sit near a kink */
    fill_normal(c->cw, critic.n_weights, 1, 0.5f, 0.1f);
    fill_normal(c->gw, gen.n_weights, 2, 0.5f, 0.1f);
    fill_normal(c->real, B * P, 3, 1.0f, 0.5f);
    fill_normal(c->fake, B * P, 4, 1.0f, -0.5f);
    fill_normal(c->z, B * D, 5, 1.0f, 0.0f);
    bns_stream s = bns_stream_make(7, 0, BNS_PURPOSE_DATA);
    bns_stream_uniform(&s, 0, 0, B, c->eps);
}

static void free_case(gan_case *c) {
    bns_apd_work_free(&c->w);
    free(c->cw), free(c->gw), free(c->scratch_c), free(c->scratch_g);
    free(c->real), free(c->fake), free(c->eps), free(c->z);
}

static double critic_objective(void *ctx) {
    gan_case *c = ctx;
    return bns_apd_critic_grad(&c->w, c->gan, c->lambda, c->cw, c->real, c->fake, c->eps, c->scratch_c, NULL);
}

/* the penalty at the interpolates of the case: x = c->real */
static double penalty_objective(void *ctx) {
    gan_case *c = ctx;
    memset(c->scratch_c, 0, sizeof(float) * c->w.critic.n_weights);
    return bns_apd_gradient_penalty(&c->w, c->lambda, c->cw, c->real, c->scratch_c);
}

static double generator_objective(void *ctx) {
    gan_case *c = ctx;
    return bns_apd_generator_grad(&c->w, c->gan, c->gw, c->cw, c->z, c->scratch_g);
}

static const fd_opts OPTS = {0, 1e-3, 2e-3, 1e-5, 1e-6, 1000};

static void test_critic_loss_gradients(void **state) {
    (void)state;
    const char *names[] = {"wgan_gp", "wgan", "gan"};
    for (int gan = 0; gan < 3; gan++) {
        gan_case c;
        make_case(&c, gan);
        size_t n = c.w.critic.n_weights;
        float *grad = malloc(sizeof(float) * n);
        double pen = -1;
        double loss = bns_apd_critic_grad(&c.w, gan, c.lambda, c.cw, c.real, c.fake, c.eps, grad, &pen);
        assert_true(isfinite(loss));
        if (gan == BNS_APD_WGAN_GP) assert_true(pen > 0.1); /* the penalty is a real part of the loss here */
        else assert_true(pen == 0.0);
        char what[64];
        snprintf(what, sizeof what, "critic loss %s d/d critic params", names[gan]);
        expect_grad(what, c.cw, n, grad, critic_objective, &c, &OPTS);
        free(grad);
        free_case(&c);
    }
}

static void test_gradient_penalty_gradients(void **state) {
    (void)state;
    gan_case c;
    make_case(&c, BNS_APD_WGAN_GP);
    size_t n = c.w.critic.n_weights;
    float *grad = calloc(n, sizeof(float));
    double pen = bns_apd_gradient_penalty(&c.w, c.lambda, c.cw, c.real, grad);
    assert_true(pen > 0.1);
    /* the penalty depends on the weights, not the biases (a ReLU critic's input gradient) */
    double weight_grad = 0;
    for (int l = 0; l < c.w.critic.n_layers; l++) {
        for (size_t i = c.w.critic.weight_offset[l]; i < c.w.critic.bias_offset[l]; i++) weight_grad += fabs(grad[i]);
        for (int j = 0; j < c.w.critic.width[l + 1]; j++) assert_true(grad[c.w.critic.bias_offset[l] + j] == 0.0f);
    }
    assert_true(weight_grad > 1e-3);
    expect_grad("gradient penalty d/d critic params", c.cw, n, grad, penalty_objective, &c, &OPTS);
    /* w.r.t. the interpolate: the masks are locally constant, so zero */
    float *zero = calloc(B * P, sizeof(float));
    expect_grad("gradient penalty d/d interpolate", c.real, B * P, zero, penalty_objective, &c, &OPTS);
    /* and the accumulation: a second call adds the same gradient again */
    float *twice = malloc(sizeof(float) * n);
    memcpy(twice, grad, sizeof(float) * n);
    bns_apd_gradient_penalty(&c.w, c.lambda, c.cw, c.real, twice);
    for (size_t i = 0; i < n; i++) assert_true(fabsf(twice[i] - 2 * grad[i]) <= 1e-5f * (1 + fabsf(grad[i])));
    free(twice);
    free(zero);
    free(grad);
    free_case(&c);
}

static void test_generator_loss_gradients(void **state) {
    (void)state;
    for (int gan = 0; gan < 3; gan++) {
        gan_case c;
        make_case(&c, gan);
        size_t n = c.w.gen.n_weights;
        float *grad = malloc(sizeof(float) * n);
        double loss = bns_apd_generator_grad(&c.w, gan, c.gw, c.cw, c.z, grad);
        assert_true(isfinite(loss));
        expect_grad(gan == BNS_APD_GAN ? "generator loss gan" : "generator loss wgan", c.gw, n, grad,
                    generator_objective, &c, &OPTS);
        free(grad);
        free_case(&c);
    }
}

/* ---- the posterior ---- */

/* An apd model of FC-2 on 3 inputs (P = 8) with a small generator. */
static void make_apd_config(bns_config *cfg) {
    bns_config_defaults(cfg);
    assert_int_equal(bns_config_set(cfg, "method", "apd"), 0);
    assert_int_equal(bns_config_set(cfg, "arch", "FC-2"), 0);
    assert_int_equal(bns_config_set(cfg, "teacher", "toy-teacher.h5"), 0);
    assert_int_equal(bns_config_set(cfg, "apd_noise_dim", "4"), 0);
    assert_int_equal(bns_config_set(cfg, "apd_hidden", "32"), 0);
    assert_int_equal(bns_config_set(cfg, "apd_hidden_layers", "2"), 0);
}

static void test_samples_by_key(void **state) {
    (void)state;
    bns_config cfg;
    make_apd_config(&cfg);
    bns_model m;
    assert_int_equal(bns_model_create(&cfg, 3, &m), 0);
    size_t n = m.arch.n_weights;
    assert_int_equal((int)n, 8);
    /* a non-trivial standardisation, as training leaves it */
    float *shift = m.params + n, *scale = m.params + 2 * n;
    for (size_t i = 0; i < n; i++) shift[i] = 0.5f * (float)i, scale[i] = 0.1f + 0.2f * (float)i;
    float a[8], b[8], c[8], expect[8], z[4], hidden[64];
    bns_stream s = bns_stream_make(5, 9, BNS_PURPOSE_PREDICT), other = bns_stream_make(5, 10, BNS_PURPOSE_PREDICT);
    bns_model_sample_weights(&m, &s, 3, a);
    bns_model_sample_weights(&m, &s, 3, b);
    assert_memory_equal(a, b, sizeof a);
    bns_model_sample_weights(&m, &s, 4, c);
    assert_memory_not_equal(a, c, sizeof a);
    bns_model_sample_weights(&m, &other, 3, c);
    assert_memory_not_equal(a, c, sizeof a);
    /* sample 3 = shift + scale * G(z), z = normals [0, 4) of substream 3 */
    bns_arch gen;
    int widths[] = {4, 32, 32, 8};
    assert_int_equal(bns_arch_from_widths(widths, 3, &gen), 0);
    bns_stream_normal(&s, 3, 0, 4, z);
    bns_apd_generate(&gen, m.params + 3 * n, z, hidden, expect);
    for (size_t i = 0; i < n; i++) assert_true(fabsf(a[i] - (shift[i] + scale[i] * expect[i])) <= 1e-6f * (1 + fabsf(a[i])));
    /* parameter blocks cover the model: point weights, shift, scale, the generator's 3 layers */
    bns_param_block blocks[BNS_MAX_PARAM_BLOCKS];
    int nb = bns_model_param_blocks(&m, blocks);
    assert_int_equal(nb, 2 + 2 + 6);
    size_t covered = 0;
    for (int i = 0; i < nb; i++) covered += blocks[i].dims[0] * (blocks[i].rank == 2 ? blocks[i].dims[1] : 1);
    assert_int_equal(covered, m.n_params);
    assert_string_equal(blocks[9].path, "apd/generator/2/bias");
    bns_model_free(&m);
    /* without a teacher the settings are rejected, naming the setting */
    make_apd_config(&cfg);
    assert_int_equal(bns_config_set(&cfg, "teacher", ""), 0);
    assert_int_not_equal(bns_model_create(&cfg, 3, &m), 0);
    assert_non_null(strstr(bns_last_error(), "teacher"));
    /* and another method may not take it */
    bns_config_defaults(&cfg);
    assert_int_equal(bns_config_set(&cfg, "teacher", "x.h5"), 0);
    assert_int_not_equal(bns_model_create(&cfg, 3, &m), 0);
    assert_non_null(strstr(bns_last_error(), "teacher"));
}

/* ---- a distillation with a known answer ---- */

/* A teacher: an sgld model (FC-2 on 3 inputs) whose K stored samples are
 * draws from N(mu_i, sd_i^2) per coordinate i. */
enum { K = 1000 };
static double toy_mu(size_t i) { return 0.4 * (double)i - 1.0; }
static double toy_sd(size_t i) { return 0.05 + 0.05 * (double)i; }

static void make_teacher(bns_model *t) {
    bns_config cfg;
    bns_config_defaults(&cfg);
    assert_int_equal(bns_config_set(&cfg, "method", "sgld"), 0);
    assert_int_equal(bns_config_set(&cfg, "arch", "FC-2"), 0);
    assert_int_equal(bns_config_set(&cfg, "sgld_samples", "1000"), 0);
    assert_int_equal(bns_model_create(&cfg, 3, t), 0);
    bns_param_block blocks[BNS_MAX_PARAM_BLOCKS];
    int nb = bns_model_param_blocks(t, blocks);
    float *samples = NULL, *state = NULL;
    for (int i = 0; i < nb; i++) {
        if (!strcmp(blocks[i].path, "samples/weights")) samples = t->params + blocks[i].offset;
        if (!strcmp(blocks[i].path, "sgld/state")) state = t->params + blocks[i].offset;
    }
    assert_non_null(samples);
    assert_non_null(state);
    size_t n = t->arch.n_weights;
    bns_stream s = bns_stream_make(77, 0, BNS_PURPOSE_DATA);
    bns_stream_normal(&s, 0, 0, K * n, samples);
    for (size_t k = 0; k < K; k++)
        for (size_t i = 0; i < n; i++) samples[k * n + i] = (float)(toy_mu(i) + toy_sd(i) * samples[k * n + i]);
    state[0] = (float)K; /* kept; ring start 0 */
}

/* The worst |mean - mu| / sd and |std / sd - 1| over the coordinates of
 * 4000 samples of m's generator. */
static void sample_errors(bns_model *m, const char *gan, int standardize, double *mean_err, double *sd_err) {
    enum { N = 4000 };
    size_t n = m->arch.n_weights;
    double sum[8] = {0}, sq[8] = {0};
    float w[8];
    bns_stream s = bns_stream_make(3, 3, BNS_PURPOSE_PREDICT);
    for (int k = 0; k < N; k++) {
        bns_model_sample_weights(m, &s, (uint64_t)k, w);
        for (size_t i = 0; i < n; i++) sum[i] += w[i], sq[i] += (double)w[i] * w[i];
    }
    *mean_err = *sd_err = 0;
    for (size_t i = 0; i < n; i++) {
        double mean = sum[i] / N, sd = sqrt(fmax(sq[i] / N - mean * mean, 0));
        double me = fabs(mean - toy_mu(i)) / toy_sd(i), se = fabs(sd / toy_sd(i) - 1);
        if (getenv("BNS_APD_VERBOSE")) print_message("%s std%d [%zu] mean %.4f (%.4f) sd %.4f (%.4f)\n", gan, standardize, i, mean, toy_mu(i), sd, toy_sd(i));
        if (me > *mean_err) *mean_err = me;
        if (se > *sd_err) *sd_err = se;
    }
}

/* Distils the toy teacher (training seed `seed`) for `iterations`
 * generator iterations and returns sample_errors' two errors averaged over
 * the checkpoints every `every` iterations from `from` to `iterations`
 * (just the end when from == iterations): a GAN's generator oscillates
 * around its target, and one checkpoint is one phase of that. */
static void distil(const char *gan, int standardize, int iterations, int seed, int from, int every, double *mean_err,
                   double *sd_err) {
    bns_model teacher, m;
    make_teacher(&teacher);
    bns_config cfg;
    make_apd_config(&cfg);
    char seed_text[16];
    snprintf(seed_text, sizeof seed_text, "%d", seed);
    assert_int_equal(bns_config_set(&cfg, "seed", seed_text), 0);
    assert_int_equal(bns_config_set(&cfg, "apd_gan", gan), 0);
    assert_int_equal(bns_config_set(&cfg, "teacher_samples", "1000"), 0);
    assert_int_equal(bns_config_set(&cfg, "apd_lr", "0.0003"), 0);
    assert_int_equal(bns_config_set(&cfg, "apd_batch", "64"), 0);
    assert_int_equal(bns_config_set(&cfg, "apd_standardize", standardize ? "1" : "0"), 0);
    assert_int_equal(bns_model_create(&cfg, 3, &m), 0);
    m.teacher = &teacher;
    void *trainer = m.method->trainer_create(&m, 1);
    double me_sum = 0, se_sum = 0;
    int checks = 0;
    for (int it = 1; it <= iterations || (iterations == 0 && it == 1); it++) {
        if (iterations > 0) {
            bns_objective obj = {.nll_scale = 1, .reg_scale = 1, .n_train = 1, .step = (uint64_t)it,
                                 .skip_kl_value = it < iterations};
            bns_step_stats stats;
            m.method->train_step(trainer, &m, NULL, NULL, 1, &obj, NULL, NULL, &stats);
            assert_true(isfinite(stats.nll_sum));
        }
        if (iterations == 0 || (it >= from && (iterations - it) % every == 0)) {
            double me, se;
            sample_errors(&m, gan, standardize, &me, &se);
            if (getenv("BNS_APD_VERBOSE")) print_message("EXP %s seed %d it %d: %.3f %.3f\n", gan, seed, it, me, se);
            me_sum += me, se_sum += se, checks++;
        }
    }
    m.method->trainer_free(trainer);
    *mean_err = me_sum / checks, *sd_err = se_sum / checks;
    bns_model_free(&m);
    bns_model_free(&teacher);
}

/* One seed's trajectory is one draw from a chaotic process: a single
 * changed random number (rng.c's top-cell clamp did it) moves every later
 * step, and over training seeds 1..5 (Release build, 6000 iterations,
 * error = the worse of sample_errors' two, averaged over iterations
 * 3000..6000) the errors were, per seed:
 *   wgan_gp 0.31 0.65 0.20 0.48 0.26  (mean 0.38)
 *   wgan    0.61 0.45 0.10 0.56 0.25  (mean 0.40)
 *   gan     0.72 0.92 0.99 0.91 0.92  (mean 0.89)
 * so WGAN-GP beats the vanilla GAN on every seed but only matches WGAN at
 * this budget (better on 2 of 5). The test asserts what holds with a margin
 * of about 3 standard errors of a 3-seed mean (per-seed sd about 0.2): over
 * seeds 1..3 the mean error of WGAN-GP is below 0.7 (untrained: 20), below
 * the vanilla GAN's by at least 0.15, and at most 0.3 above WGAN's. A broken
 * WGAN-GP (no penalty, a wrong sign) does no better than the vanilla GAN. */
static double distil_error(const char *gan, int seed) {
    double me, se;
    distil(gan, 1, 6000, seed, 3000, 500, &me, &se);
    return fmax(me, se);
}

static void test_distils_a_gaussian(void **state) {
    (void)state;
    enum { SEEDS = 3 };
    double me0, se0, e[3] = {0, 0, 0};
    distil("wgan_gp", 1, 0, 1, 0, 1, &me0, &se0); /* the untrained generator is far off */
    assert_true(me0 > 0.5 || se0 > 0.5);
    const char *gans[3] = {"wgan_gp", "wgan", "gan"};
    for (int g = 0; g < 3; g++) {
        for (int seed = 1; seed <= SEEDS; seed++) {
            double err = distil_error(gans[g], seed);
            print_message("%s seed %d: error %.3f\n", gans[g], seed, err);
            e[g] += err / SEEDS;
        }
    }
    print_message("untrained %.3f sd, %.3f; mean error over %d seeds: wgan_gp %.3f, wgan %.3f, gan %.3f\n", me0, se0,
                  SEEDS, e[0], e[1], e[2]);
    if (!(e[0] < 0.7)) fail_msg("wgan_gp: mean error %.3f, want < 0.7", e[0]);
    if (!(e[0] + 0.15 <= e[2])) fail_msg("wgan_gp (%.3f) not better than gan (%.3f) by 0.15", e[0], e[2]);
    if (!(e[0] <= e[1] + 0.3)) fail_msg("wgan_gp (%.3f) worse than wgan (%.3f) by more than 0.3", e[0], e[1]);
}

/* ---- online APD ---- */

/* A separable two-class problem on 3 inputs: y = (x0 + x1 - x2 > 0). */
enum { ROWS = 200, ONLINE_BATCH = 20, BUFFER = 16 };
static void make_toy_data(float *x, uint8_t *y) {
    bns_stream s = bns_stream_make(21, 0, BNS_PURPOSE_DATA);
    bns_stream_normal(&s, 0, 0, ROWS * 3, x);
    for (int i = 0; i < ROWS; i++) y[i] = x[3 * i] + x[3 * i + 1] - x[3 * i + 2] > 0;
}

static void make_online_config(bns_config *cfg, uint64_t task) {
    make_apd_config(cfg);
    assert_int_equal(bns_config_set(cfg, "teacher", ""), 0);
    assert_int_equal(bns_config_set(cfg, "apd_mode", "online"), 0);
    assert_int_equal(bns_config_set(cfg, "teacher_samples", "16"), 0);
    assert_int_equal(bns_config_set(cfg, "apd_sgld_burn_in", "30"), 0);
    assert_int_equal(bns_config_set(cfg, "apd_sgld_thin", "3"), 0);
    assert_int_equal(bns_config_set(cfg, "apd_lr", "0.0003"), 0);
    assert_int_equal(bns_config_set(cfg, "apd_batch", "16"), 0);
    cfg->task = task;
}

/* `steps` online steps on the toy data into *m (the caller frees it);
 * returns the accuracy of a 20-sample ensemble of generated weights */
static double train_online(uint64_t task, int steps, bns_model *m) {
    static float x[ROWS * 3];
    static uint8_t y[ROWS];
    make_toy_data(x, y);
    bns_config cfg;
    make_online_config(&cfg, task);
    assert_int_equal(bns_model_create(&cfg, 3, m), 0);
    void *trainer = m->method->trainer_create(m, ONLINE_BATCH);
    size_t gen_at = 3 * m->arch.n_weights, n_gen = m->n_params - gen_at;
    float *gen0 = malloc(sizeof(float) * n_gen);
    memcpy(gen0, m->params + gen_at, sizeof(float) * n_gen);
    long full = 30 + 3 * BUFFER; /* the first step with a full buffer */
    for (int it = 1; it <= steps; it++) {
        int start = ((it - 1) * ONLINE_BATCH) % ROWS;
        bns_objective obj = {.nll_scale = 1, .reg_scale = 1, .n_train = ROWS, .step = (uint64_t)it,
                             .skip_kl_value = it % 10 != 0};
        bns_step_stats stats;
        m->method->train_step(trainer, m, x + 3 * start, y + start, ONLINE_BATCH, &obj, NULL, NULL, &stats);
        assert_true(isfinite(stats.nll_sum));
        /* the generator waits for a full buffer, then trains */
        int same = !memcmp(gen0, m->params + gen_at, sizeof(float) * n_gen);
        if (it < full) assert_true(same);
        if (it == full) assert_false(same);
    }
    m->method->trainer_free(trainer);
    free(gen0);
    /* ensemble accuracy of 20 generated weight vectors on the data */
    bns_net_workspace ws;
    bns_net_workspace_init(&ws, &m->arch, ROWS);
    float w[8], probs[ROWS * 2] = {0};
    bns_stream s = bns_stream_make(1, 2, BNS_PURPOSE_PREDICT);
    for (int k = 0; k < 20; k++) {
        bns_model_sample_weights(m, &s, (uint64_t)k, w);
        const float *logits = bns_net_forward(&m->arch, w, x, ROWS, &ws);
        for (int i = 0; i < ROWS; i++) probs[2 * i + (logits[2 * i + 1] > logits[2 * i])] += 1;
    }
    bns_net_workspace_free(&ws);
    int correct = bns_count_correct(probs, y, ROWS, 2);
    return (double)correct / ROWS;
}

static void test_online(void **state) {
    (void)state;
    /* the buffer: nothing before burn-in, one per thin steps, bounded by its capacity */
    long prev = 0;
    for (uint64_t step = 0; step < 400; step++) {
        long kept = bns_apd_online_kept(step, 30, 3, BUFFER);
        assert_true(kept >= prev && kept <= BUFFER);
        if (step <= 30) assert_int_equal(kept, 0);
        if (step == 30 + 3 * 5) assert_int_equal(kept, 5);
        prev = kept;
    }
    assert_int_equal(prev, BUFFER);
    /* the model stores no buffer: the size of an offline model */
    bns_config on, off;
    make_online_config(&on, 1);
    make_apd_config(&off);
    bns_model a, b;
    assert_int_equal(bns_model_create(&on, 3, &a), 0);
    assert_int_equal(bns_model_create(&off, 3, &b), 0);
    assert_int_equal(a.n_params, b.n_params);
    bns_model_free(&a);
    bns_model_free(&b);
    /* a teacher with online, none with offline: refused naming the setting */
    assert_int_equal(bns_config_set(&on, "teacher", "x.h5"), 0);
    assert_int_not_equal(bns_model_create(&on, 3, &a), 0);
    assert_non_null(strstr(bns_last_error(), "teacher"));
    /* reproducible by key; another key, another run; and it learns */
    bns_model c;
    double acc_a = train_online(5, 700, &a);
    train_online(5, 700, &b);
    double acc_c = train_online(6, 700, &c);
    bns_model d; /* the same run stopped after the generator's first iteration (measured: 0.775) */
    double acc_d = train_online(5, 30 + 3 * BUFFER, &d);
    bns_model_free(&d);
    assert_memory_equal(a.params, b.params, sizeof(float) * a.n_params);
    assert_memory_not_equal(a.params, c.params, sizeof(float) * a.n_params);
    print_message("online APD: ensemble accuracy of generated weights %.3f, %.3f after 700 steps, %.3f after the "
                  "first GAN iteration (chance 0.5)\n", acc_a, acc_c, acc_d);
    assert_true(acc_a > 0.9 && acc_c > 0.9 && acc_a > acc_d + 0.1);
    bns_model_free(&a);
    bns_model_free(&b);
    bns_model_free(&c);
}

int main(void) {
    (void)fill_labels; /* test_fd.h's, for the tests with labels */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_critic_loss_gradients),
        cmocka_unit_test(test_gradient_penalty_gradients),
        cmocka_unit_test(test_generator_loss_gradients),
        cmocka_unit_test(test_samples_by_key),
        cmocka_unit_test(test_distils_a_gaussian),
        cmocka_unit_test(test_online),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
