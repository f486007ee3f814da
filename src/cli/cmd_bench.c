/* cmd_bench.c - `bnnsweep bench`: training and prediction speed against the GEMM bound.
 *
 * Times the real code paths (a method's loss_grad plus the optimizer update,
 * bns_predict_probs) on synthetic MNIST-shaped data, so it needs no data set.
 * The GEMM bound of an epoch is measured, not assumed: the step's actual
 * matrix products (forward, weight gradient, input gradient except at the
 * first layer) are timed alone with the same BLAS and thread count.
 *
 * --toy: Semko's training-time table for the regression toy (METHODS.md
 * s.12): the real training loop (bns_train: shuffle, batch gather, step) of
 * analysis/toy.py's network and settings on the toy1d data, per epoch, for
 * BBB sequential / vectorized and LRT with S = 1..10 samples.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <jansson.h>

#include "bnnsweep/attack.h"
#include "bnnsweep/backend.h"
#include "bnnsweep/config.h"
#include "bnnsweep/dataset.h"
#include "bnnsweep/error.h"
#include "bnnsweep/method.h"
#include "bnnsweep/net.h"
#include "bnnsweep/predict.h"
#include "bnnsweep/train.h"
#include "bnnsweep/util.h"
#include "cli.h"

enum { N_TRAIN = 50000, N_INPUTS = 784, N_CLASSES = 10 };

static void bench_usage(FILE *out) {
    fprintf(out,
            "usage: bnnsweep bench [OPTIONS]\n\n"
            "Measure seconds per training epoch (50,000 MNIST-sized examples, batch 128) of the\n"
            "deterministic MLP, Bayes by Backprop (scale-mixture prior), the LRT layer, dropout,\n"
            "alpha-divergence dropout (K = S samples per example) and SGLD, each against the\n"
            "measured GEMM lower bound of its epoch, seconds per APD generator iteration against\n"
            "its GEMM bound, and prediction throughput.\n"
            "Synthetic data: no data set needed.\n\n"
            "options:\n"
            "  --arch LIST       architectures (default FC-100-100-10,FC-1200-1200-10)\n"
            "  --samples LIST    BBB and LRT sample counts S, alpha's K (default 1,2,5,10)\n"
            "  --modes LIST      deterministic,bbb,lrt,dropout,alpha,sgld,apd (default all)\n"
            "  --apd-arch LIST   apd: classifiers distilled (default FC-100-10 = fcNN1; FC-400-400-10\n"
            "                    = fcNN2 costs ~6x): s per generator iteration (5 critic steps with\n"
            "                    the gradient penalty + 1 generator step, apd_batch 100, generator\n"
            "                    20-100-100-100-P: the defaults) vs those GEMMs alone\n"
            "  --apd-iterations N  apd: iterations timed, after one warm-up (default 3; --quick 1)\n"
            "  --fraction F      time this fraction of an epoch and scale up (default 0.2)\n"
            "  --threads N       BLAS threads (default 1)\n"
            "  --json FILE       also write the figures as JSON (--conv: one conv_layers entry per layer)\n"
            "  --quick           FC-100-100-10 only, S = 1,2, fraction 0.1 (well under a minute)\n"
            "  --conv LIST       also time every conv layer of these named nets (lenet,resnet20):\n"
            "                    GFLOP/s of its forward and backward pass (im2col + sgemm) vs sgemm's\n"
            "  --conv-inputs N   their input size: 3072 = 3x32x32 (default), 784 = 1x28x28\n"
            "  --toy             instead: Semko's training-time table for the regression toy:\n"
            "                    FC-100-100-1 on --dataset toy1d (1000 points, batch 100, Adam,\n"
            "                    Gaussian likelihood: analysis/toy.py's settings) through the real\n"
            "                    training loop, median s/epoch over --epochs epochs, for BBB\n"
            "                    sequential / vectorized and LRT (--modes: also deterministic,\n"
            "                    dropout) with --samples (default 1,2,...,10); --json then makes\n"
            "                    the table with analysis/bench_table.py\n"
            "  --epochs N        --toy: epochs timed per row (default 50, after one warm-up epoch)\n");
}

typedef struct {
    char arch[64], mode[32];
    int samples;
    double epoch_s, bound_s; /* per epoch; an apd row (iteration set): per generator iteration */
    int iteration;
    double cpu_s, cpu_bound_s; /* an apd row: the same in CPU seconds */
} bench_row;

/* One conv layer's timing (bench --conv), also written to --json. */
typedef struct {
    char net[64];
    int layer;
    bns_shape in, out;
    int k, stride;
    double mflop, fwd_gflops, bwd_gflops;
} conv_row;
enum { MAX_CONV_ROWS = 8 * BNS_MAX_OPS };

/* Every conv layer of the named net `name` on a batch of 128 random images:
 * forward and backward (weight and input gradients) GFLOP/s, im2col and
 * col2im included, against sgemm's rate. The layers are timed one by one
 * on the activations of one full forward pass. */
static int bench_conv(const char *name, int n_inputs, int threads, double gflops, conv_row *rows, int *n_rows) {
    enum { BATCH = 128 };
    bns_arch arch;
    if (bns_arch_parse(name, n_inputs, &arch)) return -1;
    bns_net_workspace ws;
    bns_net_workspace_init(&ws, &arch, BATCH);
    float *w = bns_xmalloc(sizeof(float) * arch.n_weights), *gw = bns_xmalloc(sizeof(float) * arch.n_weights);
    float *x = bns_xmalloc(sizeof(float) * BATCH * arch.n_inputs);
    float *g = bns_xmalloc(sizeof(float) * BATCH * arch.max_width), *gx = bns_xmalloc(sizeof(float) * BATCH * arch.max_width);
    bns_stream s = bns_stream_make(2, 0, BNS_PURPOSE_DATA);
    bns_stream_normal(&s, 0, 0, arch.n_weights, w);
    bns_stream_normal(&s, 1, 0, (size_t)BATCH * arch.n_inputs, x);
    bns_stream_normal(&s, 2, 0, (size_t)BATCH * arch.max_width, g);
    for (size_t i = 0; i < arch.n_weights; i++) w[i] *= 0.05f;
    bns_net_forward(&arch, w, x, BATCH, &ws);
    printf("\n%s conv layers (%d inputs, batch %d, %d thread%s; sgemm %.1f GFLOP/s):\n", name, n_inputs, BATCH,
           threads, threads > 1 ? "s" : "", gflops);
    printf("| layer | in -> out | k/stride | MFLOP fwd | fwd GFLOP/s | bwd GFLOP/s | fwd %% of sgemm | bwd %% of sgemm |\n"
           "| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    double total_flop = 0, total_fwd_s = 0, total_bwd_s = 0;
    for (int i = 0; i < arch.n_ops; i++) {
        const bns_layer *op = &arch.ops[i];
        if (op->type != &bns_layer_conv2d) continue;
        const float *in = i ? ws.out[i - 1] : x;
        double flop = 2.0 * op->out.c * op->in.c * op->k * op->k * op->out.h * op->out.w * BATCH;
        int reps = (int)(2e9 / flop) + 1; /* about 2 GFLOP of work per timing */
        double t0 = bns_now_seconds();
        for (int r = 0; r < reps; r++) op->type->forward(op, w, in, op->n_in, BATCH, ws.out[i], &ws);
        double fwd = (bns_now_seconds() - t0) / reps;
        t0 = bns_now_seconds();
        for (int r = 0; r < reps; r++) op->type->backward(op, w, in, op->n_in, ws.out[i], g, BATCH, gw, gx, op->n_in, &ws);
        double bwd = (bns_now_seconds() - t0) / reps;
        total_flop += flop, total_fwd_s += fwd, total_bwd_s += bwd;
        if (*n_rows < MAX_CONV_ROWS) {
            conv_row *r = &rows[(*n_rows)++];
            snprintf(r->net, sizeof r->net, "%.63s", name);
            r->layer = i, r->in = op->in, r->out = op->out, r->k = op->k, r->stride = op->stride;
            r->mflop = flop / 1e6, r->fwd_gflops = flop / fwd / 1e9, r->bwd_gflops = 2 * flop / bwd / 1e9;
        }
        printf("| %d | %dx%dx%d -> %dx%dx%d | %d/%d | %.1f | %.1f | %.1f | %.0f%% | %.0f%% |\n", i, op->in.c, op->in.h,
               op->in.w, op->out.c, op->out.h, op->out.w, op->k, op->stride, flop / 1e6, flop / fwd / 1e9,
               2 * flop / bwd / 1e9, 100 * flop / fwd / 1e9 / gflops, 100 * 2 * flop / bwd / 1e9 / gflops);
    }
    if (total_fwd_s > 0)
        printf("all conv layers: %.2f GFLOP per batch forward, %.1f GFLOP/s forward, %.1f GFLOP/s backward\n",
               total_flop / 1e9, total_flop / total_fwd_s / 1e9, 2 * total_flop / total_bwd_s / 1e9);
    bns_net_workspace_free(&ws);
    free(w), free(gw), free(x), free(g), free(gx);
    return 0;
}

/* Seconds for `steps` steps of the step's GEMMs alone, S weight samples:
 * forward, weight gradient, and input gradient except at the first layer. */
static double time_gemm_bound(const bns_arch *arch, int batch, int samples, int lrt, int steps) {
    size_t maxw = (size_t)arch->max_width;
    float *a = bns_xcalloc((size_t)batch * maxw, sizeof(float));
    float *b = bns_xcalloc(maxw * maxw, sizeof(float));
    float *c = bns_xcalloc((size_t)batch * maxw + maxw * maxw, sizeof(float));
    /* LRT: a second set of products for the variances, and the first layer
     * (same input for every sample) once per step rather than once per sample */
    int products = lrt ? 2 : 1;
    double t0 = bns_now_seconds();
    for (int s = 0; s < steps; s++)
        for (int l = 0; l < arch->n_layers; l++)
            for (int k = 0; k < (lrt && l == 0 ? 1 : samples) * products; k++) {
                int n_in = arch->width[l], n_out = arch->width[l + 1];
                bns_gemm(0, 0, batch, n_out, n_in, 1.0f, a, n_in, b, n_out, 0.0f, c, n_out);
                bns_gemm(1, 0, n_in, n_out, batch, 1.0f, a, n_in, a, n_out, 0.0f, c, n_out);
                if (l > 0) bns_gemm(0, 1, batch, n_in, n_out, 1.0f, a, n_out, b, n_out, 0.0f, c, n_in);
            }
    double t = bns_now_seconds() - t0;
    free(a);
    free(b);
    free(c);
    return t;
}

static double sgemm_gflops(void) {
    int n = 1024;
    float *a = bns_xcalloc((size_t)n * n, sizeof(float)), *b = bns_xcalloc((size_t)n * n, sizeof(float)),
          *c = bns_xcalloc((size_t)n * n, sizeof(float));
    bns_gemm(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n); /* warm-up */
    int reps = 5;
    double t0 = bns_now_seconds();
    for (int r = 0; r < reps; r++) bns_gemm(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double t = bns_now_seconds() - t0;
    free(a);
    free(b);
    free(c);
    return 2.0 * n * n * (double)n * reps / t / 1e9;
}


/* The ways of training bench times, in table order. sampled: one row per S
 * of --samples. per_example: S is that setting (alpha's K dropout samples
 * per example: one product of S x 128 rows). LRT has the Gaussian prior
 * (its closed-form KL; analysis/toy.py's lrt too). */
typedef struct {
    const char *method, *mode;
    int prior, lrt, sample_mode, sampled;
    const char *per_example;
} bench_kind;
static const bench_kind bench_kinds[] = {
    {"deterministic", "deterministic", BNS_PRIOR_MIXTURE, 0, 0, 0, NULL},
    {"bbb", "BBB sequential", BNS_PRIOR_MIXTURE, 0, BNS_SAMPLES_SEQUENTIAL, 1, NULL},
    {"bbb", "BBB vectorized", BNS_PRIOR_MIXTURE, 0, BNS_SAMPLES_VECTORIZED, 1, NULL},
    {"lrt", "LRT", BNS_PRIOR_GAUSSIAN, 1, 0, 1, NULL},
    {"dropout", "dropout", BNS_PRIOR_MIXTURE, 0, 0, 0, NULL},
    {"alpha", "alpha (K per example)", BNS_PRIOR_MIXTURE, 0, 0, 1, "alpha_samples"},
    {"sgld", "SGLD", BNS_PRIOR_MIXTURE, 0, 0, 0, NULL},
};
enum { N_BENCH_KINDS = (int)(sizeof bench_kinds / sizeof bench_kinds[0]) };

/* Seconds per epoch of `method` through its real loss_grad + SGD update. */
static double time_training(const char *arch, const char *method, int prior_kind, int samples, int sample_mode,
                            const char *per_example_key, double fraction, const float *x, const uint8_t *y) {
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.arch, sizeof cfg.arch, "%s", arch);
    snprintf(cfg.method, sizeof cfg.method, "%s", method);
    bns_prior_defaults(&cfg.prior, prior_kind);
    if (per_example_key) { /* S is the method's own per-example sample count (alpha's K) */
        char value[32];
        snprintf(value, sizeof value, "%d", samples);
        if (bns_config_set(&cfg, per_example_key, value)) return -1;
    } else {
        cfg.samples = samples;
    }
    cfg.sample_mode = sample_mode;
    bns_model m;
    if (bns_model_create(&cfg, N_INPUTS, &m)) return -1;
    int batch = cfg.batch_size;
    int steps_per_epoch = (N_TRAIN + batch - 1) / batch;
    int steps = (int)(steps_per_epoch * fraction);
    if (steps < 3) steps = 3;
    void *trainer = m.method->trainer_create(&m, batch);
    float *grad = bns_xmalloc(sizeof(float) * m.n_params);
    bns_optimizer opt;
    bns_optimizer_init(&opt, &cfg, m.n_params);
    bns_step_stats stats;
    double t0 = 0;
    for (int s = -2; s < steps; s++) { /* two warm-up steps */
        if (s == 0) t0 = bns_now_seconds();
        int first = (int)(((long)(s + 2) * batch) % (N_TRAIN - batch));
        bns_objective obj = bns_make_objective(&cfg, batch, N_TRAIN, (uint64_t)(s + 3), 0);
        bns_train_step(&m, trainer, &opt, x + (size_t)first * N_INPUTS, y + first, batch, &obj, grad, &stats);
    }
    double per_step = (bns_now_seconds() - t0) / steps;
    m.method->trainer_free(trainer);
    free(grad);
    bns_optimizer_free(&opt);
    bns_model_free(&m);
    return per_step * steps_per_epoch;
}

/* ---- --modes apd: a generator iteration of APD (METHODS.md s.10) ---- */

/* The GEMMs of one APD generator iteration (src/methods/apd.c at the default
 * wgan_gp), for the bound: n_critic critic steps, each = the generator's
 * forward pass on B noise rows, the critic's forward and backward pass
 * (weight gradients; input gradients except at its first layer) on 2B rows,
 * and the gradient penalty's four passes on B rows (forward, the
 * input-gradient pass e, the tangent pass r, the weight-gradient products
 * R_l^T E_{l+1}); then the generator step = the generator's and the
 * critic's forward pass on B rows, the critic's input-gradient pass down to
 * its input, and the generator's backward pass (weight gradients; input
 * gradients except at its first layer). Returns the shapes' count; each is
 * {trans_a, trans_b, m, n, k}. */
enum { MAX_APD_GEMMS = 64 * BNS_MAX_LAYERS };
static int apd_gemm_shapes(const bns_arch *gen, const bns_arch *critic, int B, int n_critic, int shapes[][5]) {
    int n = 0;
#define GEMM(ta, tb, m_, n_, k_) (shapes[n][0] = (ta), shapes[n][1] = (tb), shapes[n][2] = (m_), shapes[n][3] = (n_), shapes[n][4] = (k_), n++)
    const int *g = gen->width, *c = critic->width;
    int Lg = gen->n_layers, Lc = critic->n_layers;
    for (int j = 0; j <= n_critic; j++) {
        int critic_step = j < n_critic, rows = critic_step ? 2 * B : B;
        for (int l = 0; l < Lg; l++) GEMM(0, 0, B, g[l + 1], g[l]);     /* G forward */
        for (int l = 0; l < Lc; l++) GEMM(0, 0, rows, c[l + 1], c[l]);  /* D forward */
        for (int l = Lc - 1; l >= 0; l--) {                             /* D backward */
            if (critic_step) GEMM(1, 0, c[l], c[l + 1], rows);
            if (l > 0 || !critic_step) GEMM(0, 1, rows, c[l], c[l + 1]);
        }
        if (critic_step) { /* the gradient penalty */
            for (int l = 0; l < Lc; l++) GEMM(0, 0, B, c[l + 1], c[l]);
            for (int l = Lc - 1; l >= 0; l--) GEMM(0, 1, B, c[l], c[l + 1]);
            for (int l = 1; l < Lc; l++) GEMM(0, 0, B, c[l], c[l - 1]);
            for (int l = 0; l < Lc; l++) GEMM(1, 0, c[l], c[l + 1], B);
        } else {
            for (int l = Lg - 1; l >= 0; l--) { /* G backward */
                GEMM(1, 0, g[l], g[l + 1], B);
                if (l > 0) GEMM(0, 1, B, g[l], g[l + 1]);
            }
        }
    }
#undef GEMM
    return n;
}

/* This process's CPU seconds: on a shared machine (the load of other jobs
 * stretches wall time, not CPU time) the apd rows give both. */
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Wall seconds for `iterations` generator iterations of the shapes alone;
 * *cpu_s: their CPU seconds. */
static double time_apd_gemm_bound(int shapes[][5], int n_shapes, int iterations, double *cpu_s) {
    size_t most = 0;
    for (int s = 0; s < n_shapes; s++) {
        size_t m = (size_t)shapes[s][2], n = (size_t)shapes[s][3], k = (size_t)shapes[s][4];
        size_t big = m * k > k * n ? m * k : k * n;
        if (m * n > big) big = m * n;
        if (big > most) most = big;
    }
    float *a = bns_xcalloc(most, sizeof(float)), *b = bns_xcalloc(most, sizeof(float)), *c = bns_xcalloc(most, sizeof(float));
    double t0 = bns_now_seconds(), c0 = cpu_seconds();
    for (int it = 0; it < iterations; it++)
        for (int s = 0; s < n_shapes; s++) {
            int ta = shapes[s][0], tb = shapes[s][1], m = shapes[s][2], n = shapes[s][3], k = shapes[s][4];
            bns_gemm(ta, tb, m, n, k, 1.0f, a, ta ? m : k, b, tb ? k : n, 0.0f, c, n);
        }
    double t = bns_now_seconds() - t0;
    *cpu_s = cpu_seconds() - c0;
    free(a), free(b), free(c);
    return t;
}

/* Seconds per APD generator iteration on classifier `arch_text` at the
 * default settings (wgan_gp, generator 20-100-100-100-P, apd_batch 100, 5
 * critic steps) through the real step (bns_train_step -> the method's
 * train_step, the point refresh skipped as on all but an epoch's last step),
 * after one warm-up iteration. The teacher: an sgld model whose stored
 * samples are standard normals (timing only; the values do not matter).
 * *bound_s: the iteration's GEMMs alone; cpu[0], cpu[1]: the CPU seconds of
 * the iteration and of its bound. -1 on an error. */
static double time_apd_iteration(const char *arch_text, int iterations, double *bound_s, double cpu[2]) {
    bns_config cfg;
    bns_config_defaults(&cfg);
    snprintf(cfg.arch, sizeof cfg.arch, "%s", arch_text);
    bns_config tcfg = cfg;
    bns_model teacher, m;
    if (bns_config_set(&tcfg, "method", "sgld") || bns_model_create(&tcfg, N_INPUTS, &teacher)) return -1;
    int K = bns_config_get_int(&tcfg, "sgld_samples");
    bns_param_block blocks[BNS_MAX_PARAM_BLOCKS];
    int nb = bns_model_param_blocks(&teacher, blocks);
    float *samples = NULL, *state = NULL;
    for (int i = 0; i < nb; i++) {
        if (!strcmp(blocks[i].path, "samples/weights")) samples = teacher.params + blocks[i].offset;
        if (!strcmp(blocks[i].path, "sgld/state")) state = teacher.params + blocks[i].offset;
    }
    if (!samples || !state) {
        bns_model_free(&teacher);
        return bns_fail("bench apd: the sgld teacher has no samples/weights block"), -1;
    }
    bns_stream s = bns_stream_make(3, 0, BNS_PURPOSE_DATA);
    bns_stream_normal(&s, 0, 0, (size_t)K * teacher.arch.n_weights, samples);
    state[0] = (float)K; /* kept; ring start 0 */
    if (bns_config_set(&cfg, "method", "apd") || bns_config_set(&cfg, "teacher", "synthetic") ||
        bns_model_create(&cfg, N_INPUTS, &m)) {
        bns_model_free(&teacher);
        return -1;
    }
    m.teacher = &teacher;
    void *trainer = m.method->trainer_create(&m, cfg.batch_size);
    float *grad = bns_xmalloc(sizeof(float) * m.n_params);
    bns_optimizer opt;
    bns_optimizer_init(&opt, &cfg, m.n_params);
    bns_step_stats stats;
    double t0 = 0, c0 = 0;
    for (int it = -1; it < iterations; it++) { /* one warm-up iteration */
        if (it == 0) t0 = bns_now_seconds(), c0 = cpu_seconds();
        bns_objective obj = bns_make_objective(&cfg, cfg.batch_size, N_TRAIN, (uint64_t)(it + 2), 0);
        bns_train_step(&m, trainer, &opt, NULL, NULL, cfg.batch_size, &obj, grad, &stats);
    }
    double per_iteration = (bns_now_seconds() - t0) / iterations;
    cpu[0] = (cpu_seconds() - c0) / iterations;
    bns_arch gen, critic;
    int B = bns_config_get_int(&cfg, "apd_batch"), hidden = bns_config_get_int(&cfg, "apd_hidden");
    int layers = bns_config_get_int(&cfg, "apd_hidden_layers"), widths[BNS_MAX_LAYERS + 1];
    size_t P = m.arch.n_weights;
    for (int l = 1; l <= layers; l++) widths[l] = hidden;
    widths[0] = bns_config_get_int(&cfg, "apd_noise_dim"), widths[layers + 1] = (int)P;
    int bad = bns_arch_from_widths(widths, layers + 1, &gen);
    widths[0] = (int)P, widths[layers + 1] = 1;
    bad |= bns_arch_from_widths(widths, layers + 1, &critic);
    static int shapes[MAX_APD_GEMMS][5];
    int n_shapes = bad ? 0 : apd_gemm_shapes(&gen, &critic, B, bns_config_get_int(&cfg, "apd_critic_steps"), shapes);
    time_apd_gemm_bound(shapes, n_shapes, 1, &cpu[1]); /* warm-up */
    *bound_s = time_apd_gemm_bound(shapes, n_shapes, iterations, &cpu[1]) / iterations;
    cpu[1] /= iterations;
    m.method->trainer_free(trainer);
    free(grad);
    bns_optimizer_free(&opt);
    bns_model_free(&m);
    bns_model_free(&teacher);
    return bad ? -1 : per_iteration;
}

/* --toy: the regression toy's epoch through the real loop (bns_train), as
 * analysis/toy.py trains it (its COMMON and MODELS settings). Returns the
 * median over `epochs` epochs (the first, warm-up epoch dropped) of the
 * epoch's training seconds (bns_epoch_record.seconds: validation
 * excluded); the median, because on a shared machine a preempted epoch is
 * an outlier, not a measurement. -1 on an error. */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double time_toy_epoch(const char *method, int prior_kind, int samples, int sample_mode, int epochs,
                             const bns_splits *toy) {
    bns_config cfg;
    bns_config_defaults(&cfg);
    char text[32];
    snprintf(text, sizeof text, "%d", epochs + 1);
    const char *settings[][2] = {
        {"dataset", "toy1d"}, {"arch", "FC-100-100-1"}, {"method", method}, {"optimizer", "adam"},
        {"lr", "0.01"},       {"batch_size", "100"},    {"patience", "0"},  {"max_epochs", text},
        {"val_samples", "0"}, /* validation (not timed) by the posterior mean: one pass */
    };
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
        if (bns_config_set(&cfg, settings[i][0], settings[i][1])) return -1;
    if (!strcmp(method, "dropout") && (bns_config_set(&cfg, "dropout_input_rate", "0") ||
                                       bns_config_set(&cfg, "dropout_rate", "0.1")))
        return -1;
    bns_prior_defaults(&cfg.prior, prior_kind);
    cfg.samples = samples;
    cfg.sample_mode = sample_mode;
    bns_model m;
    if (bns_model_create(&cfg, (int)toy->train.d, &m)) return -1;
    bns_train_history h;
    int rc = bns_train(&m, &toy->train, &toy->val, &h, NULL);
    double median = -1;
    if (rc == 0 && h.epochs_run == epochs + 1) {
        double *s = bns_xmalloc(sizeof(double) * (size_t)epochs);
        for (int e = 0; e < epochs; e++) s[e] = h.epochs[e + 1].seconds;
        qsort(s, (size_t)epochs, sizeof *s, cmp_double);
        median = epochs % 2 ? s[epochs / 2] : 0.5 * (s[epochs / 2 - 1] + s[epochs / 2]);
        free(s);
    } else if (rc == 0) {
        bns_fail("%s (S = %d) stopped after %d of %d epochs: %s", method, samples, h.epochs_run, epochs + 1,
                 h.message);
    }
    bns_train_history_free(&h);
    bns_model_free(&m);
    return median;
}

static int parse_list(const char *text, char items[][64], int max) {
    int n = 0;
    const char *p = text;
    while (*p && n < max) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len >= 64) return -1;
        memcpy(items[n], p, len);
        items[n++][len] = '\0';
        p = comma ? comma + 1 : p + len;
    }
    return n;
}

static int list_contains(const char *list, const char *item) {
    size_t len = strlen(item);
    for (const char *p = list; (p = strstr(p, item)) != NULL; p += len)
        if ((p == list || p[-1] == ',') && (p[len] == ',' || p[len] == '\0')) return 1;
    return 0;
}

/* The figures as JSON (jansson), written atomically. figures: single-sample
 * and 100-sample-ensemble prediction images/s, attack image-iterations/s,
 * peak RSS in MiB. */
static int write_json(const char *path, int threads, double gflops, double fraction, const bench_row *rows,
                      int n_rows, const conv_row *convs, int n_convs, const double figures[4], int toy_epochs) {
    static const char *const figure_keys[4] = {"predict_single_images_per_s", "predict_ensemble100_images_per_s",
                                               "attack_image_iterations_per_s", "peak_rss_mib"};
    json_t *root = json_object(), *list = json_array();
    /* what an epoch is: the toy's 1000 points in batches of 100 (--toy), or
     * 50,000 synthetic MNIST rows in batches of 128 */
    int bad = json_object_set_new(root, "benchmark", json_string(toy_epochs ? "toy1d" : "mnist-synthetic"));
    bad |= json_object_set_new(root, "epoch_rows", json_integer(toy_epochs ? 1000 : N_TRAIN));
    bad |= json_object_set_new(root, "batch", json_integer(toy_epochs ? 100 : 128));
    if (toy_epochs) bad |= json_object_set_new(root, "epochs_timed", json_integer(toy_epochs));
    bad |= json_object_set_new(root, "threads", json_integer(threads));
    bad |= json_object_set_new(root, "sgemm_gflops", json_real(gflops));
    bad |= json_object_set_new(root, "blas_kernel", json_string(bns_blas_kernel()));
    bad |= json_object_set_new(root, "fraction", json_real(fraction));
    bad |= json_object_set_new(root, "rows", list);
    for (int i = 0; i < n_rows; i++) {
        json_t *o = json_object();
        bad |= json_array_append_new(list, o);
        bad |= json_object_set_new(o, "arch", json_string(rows[i].arch));
        bad |= json_object_set_new(o, "mode", json_string(rows[i].mode));
        bad |= json_object_set_new(o, "samples", json_integer(rows[i].samples));
        /* an apd row's unit is a generator iteration, not an epoch */
        bad |= json_object_set_new(o, "unit", json_string(rows[i].iteration ? "generator_iteration" : "epoch"));
        bad |= json_object_set_new(o, rows[i].iteration ? "iteration_s" : "epoch_s", json_real(rows[i].epoch_s));
        bad |= json_object_set_new(o, "gemm_bound_s", json_real(rows[i].bound_s));
        if (rows[i].iteration) {
            bad |= json_object_set_new(o, "cpu_iteration_s", json_real(rows[i].cpu_s));
            bad |= json_object_set_new(o, "cpu_gemm_bound_s", json_real(rows[i].cpu_bound_s));
        }
    }
    /* --conv: one object per conv layer, rates in GFLOP/s (sgemm_gflops is the reference) */
    json_t *conv_list = json_array();
    bad |= json_object_set_new(root, "conv_layers", conv_list);
    for (int i = 0; i < n_convs; i++) {
        const conv_row *c = &convs[i];
        json_t *o = json_object();
        bad |= json_array_append_new(conv_list, o);
        bad |= json_object_set_new(o, "net", json_string(c->net));
        bad |= json_object_set_new(o, "layer", json_integer(c->layer));
        bad |= json_object_set_new(o, "in", json_pack("[iii]", c->in.c, c->in.h, c->in.w));
        bad |= json_object_set_new(o, "out", json_pack("[iii]", c->out.c, c->out.h, c->out.w));
        bad |= json_object_set_new(o, "k", json_integer(c->k));
        bad |= json_object_set_new(o, "stride", json_integer(c->stride));
        bad |= json_object_set_new(o, "mflop_forward", json_real(c->mflop));
        bad |= json_object_set_new(o, "forward_gflops", json_real(c->fwd_gflops));
        bad |= json_object_set_new(o, "backward_gflops", json_real(c->bwd_gflops));
    }
    for (int k = 0; figures && k < 4; k++) bad |= json_object_set_new(root, figure_keys[k], json_real(figures[k]));
    char *text = bad ? NULL : json_dumps(root, JSON_INDENT(1));
    json_decref(root);
    if (!text) return bns_fail("cannot build the JSON");
    size_t len = strlen(text);
    char *file = bns_xmalloc(len + 2); /* the file ends with a newline */
    memcpy(file, text, len);
    memcpy(file + len, "\n", 2);
    free(text);
    int rc = bns_write_file_atomic(path, file);
    free(file);
    return rc;
}

/* --toy: one row per mode and S (the modes of kinds[] that --modes names),
 * printed as they come, then Semko's shape of the table (S down, the three
 * ways across) and the JSON that analysis/bench_table.py makes the
 * Markdown and CSV table from. */
static int bench_toy(const char *mode_list, const int *samples, int n_samples, int epochs, int threads,
                     const char *json_path) {
    bns_splits toy;
    if (bns_toy1d_load(1, 0, 0, 0, &toy)) {
        fprintf(stderr, "bnnsweep bench: %s\n", bns_last_error());
        return BNS_EXIT_ERROR;
    }
    bns_arch arch;
    if (bns_arch_parse("FC-100-100-1", (int)toy.train.d, &arch)) return BNS_EXIT_ERROR;
    double gflops = sgemm_gflops();
    int steps_per_epoch = (int)((toy.train.n + 99) / 100);
    printf("sgemm (1024^3, OpenBLAS, %d thread%s): %.1f GFLOP/s\n", threads, threads > 1 ? "s" : "", gflops);
    printf("regression toy (toy1d, %zu points, batch 100 = %d steps an epoch, FC-100-100-1, Adam, Gaussian\n"
           "likelihood): median training s/epoch over %d epochs (bns_train, validation not timed);\n"
           "bound = the step's GEMMs alone\n\n",
           toy.train.n, steps_per_epoch, epochs);
    printf("| mode | S | ms/epoch | GEMM bound ms | ratio |\n| --- | --- | --- | --- | --- |\n");
    fflush(stdout);
    const bench_kind *kinds = bench_kinds;
    bench_row rows[128];
    int n_rows = 0, status = BNS_EXIT_OK;
    for (int k = 0; k < N_BENCH_KINDS && status == BNS_EXIT_OK; k++) {
        /* not on the toy: alpha (refuses real targets, model.c) and SGLD
         * (analysis/toy.py does not train it; at Adam's lr 0.01 it diverges) */
        if (!list_contains(mode_list, kinds[k].method) || kinds[k].per_example || !strcmp(kinds[k].method, "sgld"))
            continue;
        for (int i = 0; i < (kinds[k].sampled ? n_samples : 1); i++) {
            int S = kinds[k].sampled ? samples[i] : 1;
            double epoch = time_toy_epoch(kinds[k].method, kinds[k].prior, S, kinds[k].sample_mode, epochs, &toy);
            if (epoch < 0) {
                fprintf(stderr, "bnnsweep bench: --toy %s: %s\n", kinds[k].mode, bns_last_error());
                status = BNS_EXIT_ERROR;
                break;
            }
            double bound = time_gemm_bound(&arch, 100, S, kinds[k].lrt, steps_per_epoch * epochs) / epochs;
            bench_row *r = &rows[n_rows++];
            memset(r, 0, sizeof *r);
            snprintf(r->arch, sizeof r->arch, "FC-100-100-1");
            snprintf(r->mode, sizeof r->mode, "%s", kinds[k].mode);
            r->samples = S, r->epoch_s = epoch, r->bound_s = bound;
            printf("| %s | %d | %.3f | %.3f | %.2f |\n", r->mode, S, 1e3 * epoch, 1e3 * bound, epoch / bound);
            fflush(stdout);
        }
    }
    /* Semko's shape: S down; BBB sequential, BBB vectorized, LRT across */
    static const char *const across[] = {"BBB sequential", "BBB vectorized", "LRT"};
    printf("\n| S | BBB sequential ms/epoch | BBB vectorized ms/epoch | LRT ms/epoch |\n| --- | --- | --- | --- |\n");
    for (int i = 0; i < n_samples; i++) {
        printf("| %d |", samples[i]);
        for (int a = 0; a < 3; a++) {
            int found = -1;
            for (int r = 0; r < n_rows; r++)
                if (rows[r].samples == samples[i] && !strcmp(rows[r].mode, across[a])) found = r;
            if (found >= 0) printf(" %.3f |", 1e3 * rows[found].epoch_s);
            else printf(" - |");
        }
        printf("\n");
    }
    if (json_path && status == BNS_EXIT_OK && write_json(json_path, threads, gflops, 0, rows, n_rows, NULL, 0, NULL, epochs)) {
        fprintf(stderr, "bnnsweep bench: cannot write %s: %s\n", json_path, bns_last_error());
        status = BNS_EXIT_ERROR;
    }
    bns_splits_free(&toy);
    return status;
}

/* An option's count in 1..most into *out; -1 (said on stderr) otherwise. */
static int parse_count(const char *option, const char *text, int most, int *out) {
    char *end;
    long v = strtol(text, &end, 10);
    if (*end || end == text || v < 1 || v > most) {
        fprintf(stderr, "bnnsweep bench: --%s '%s' must be in 1..%d\n", option, text, most);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cmd_bench(int argc, char **argv) {
    const char *arch_list = "FC-100-100-10,FC-1200-1200-10", *sample_list = "1,2,5,10", *json_path = NULL;
    const char *mode_list = "deterministic,bbb,lrt,dropout,alpha,sgld,apd", *conv_list = NULL;
    const char *apd_arch_list = "FC-100-10";
    int conv_inputs = 3072, toy = 0, toy_epochs = 50, samples_given = 0, modes_given = 0, apd_iterations = 3;
    double fraction = 0.2;
    int threads = 1;
    static const struct option options[] = {
        {"arch", required_argument, NULL, 'a'}, {"samples", required_argument, NULL, 's'},
        {"fraction", required_argument, NULL, 'f'}, {"threads", required_argument, NULL, 't'},
        {"json", required_argument, NULL, 'j'}, {"quick", no_argument, NULL, 'q'},
        {"modes", required_argument, NULL, 'm'}, {"conv", required_argument, NULL, 'c'},
        {"conv-inputs", required_argument, NULL, 'i'}, {"toy", no_argument, NULL, 'y'},
        {"epochs", required_argument, NULL, 'e'}, {"apd-arch", required_argument, NULL, 'A'},
        {"apd-iterations", required_argument, NULL, 'I'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'a': arch_list = optarg; break;
        case 's': sample_list = optarg, samples_given = 1; break;
        case 'f':
            fraction = strtod(optarg, &end);
            if (*end || !(fraction > 0 && fraction <= 10)) {
                fprintf(stderr, "bnnsweep bench: --fraction '%s' must be in (0, 10]\n", optarg);
                return BNS_EXIT_USAGE;
            }
            break;
        case 't':
            threads = (int)strtol(optarg, &end, 10);
            if (*end || threads < 1) {
                fprintf(stderr, "bnnsweep bench: --threads '%s' must be a positive count\n", optarg);
                return BNS_EXIT_USAGE;
            }
            break;
        case 'j': json_path = optarg; break;
        case 'm': mode_list = optarg, modes_given = 1; break;
        case 'y': toy = 1; break;
        case 'e':
            if (parse_count("epochs", optarg, 100000, &toy_epochs)) return BNS_EXIT_USAGE;
            break;
        case 'c': conv_list = optarg; break;
        case 'A': apd_arch_list = optarg; break;
        case 'I':
            if (parse_count("apd-iterations", optarg, 10000, &apd_iterations)) return BNS_EXIT_USAGE;
            break;
        case 'i':
            conv_inputs = (int)strtol(optarg, &end, 10);
            if (*end || conv_inputs < 1) {
                fprintf(stderr, "bnnsweep bench: --conv-inputs '%s' must be a positive count\n", optarg);
                return BNS_EXIT_USAGE;
            }
            break;
        case 'q': arch_list = "FC-100-100-10"; sample_list = "1,2"; fraction = 0.1; apd_iterations = 1; break;
        case 'h': bench_usage(stdout); return BNS_EXIT_OK;
        default:
            fprintf(stderr, "bnnsweep bench: unknown or incomplete option '%s' (see --help)\n", argv[optind - 1]);
            return BNS_EXIT_USAGE;
        }
    }
    if (toy) { /* Semko's table: S = 1..10; the three ways and the deterministic net for scale */
        if (!samples_given) sample_list = "1,2,3,4,5,6,7,8,9,10";
        if (!modes_given) mode_list = "deterministic,bbb,lrt";
    }
    char archs[8][64], sample_text[16][64], apd_archs[8][64];
    int n_arch = parse_list(arch_list, archs, 8), n_samples = parse_list(sample_list, sample_text, 16);
    int n_apd_arch = parse_list(apd_arch_list, apd_archs, 8);
    if (n_arch < 1 || n_samples < 1 || n_apd_arch < 1) {
        fprintf(stderr, "bnnsweep bench: --arch, --apd-arch and --samples take comma-separated lists\n");
        return BNS_EXIT_USAGE;
    }
    int samples[16];
    for (int i = 0; i < n_samples; i++) {
        samples[i] = atoi(sample_text[i]);
        if (samples[i] < 1 || samples[i] > 100) {
            fprintf(stderr, "bnnsweep bench: sample count '%s' must be in 1..100\n", sample_text[i]);
            return BNS_EXIT_USAGE;
        }
    }
    bns_set_blas_threads(threads);
    if (toy) return bench_toy(mode_list, samples, n_samples, toy_epochs, threads, json_path);

    /* synthetic MNIST-like data: pixels in [0, 2], about half of them 0; labels 0..9 */
    float *x = bns_xmalloc(sizeof(float) * N_TRAIN * N_INPUTS);
    uint8_t *y = bns_xmalloc(N_TRAIN);
    bns_stream data = bns_stream_make(1, 0, BNS_PURPOSE_DATA);
    bns_stream_normal(&data, 0, 0, (size_t)N_TRAIN * N_INPUTS, x);
    for (size_t i = 0; i < (size_t)N_TRAIN * N_INPUTS; i++) x[i] = x[i] > 0.0f ? (x[i] < 2.0f ? x[i] : 2.0f) : 0.0f;
    for (int i = 0; i < N_TRAIN; i++) y[i] = (uint8_t)bns_stream_below(&data, 1, (uint64_t)i, N_CLASSES);

    double gflops = sgemm_gflops();
    printf("sgemm (1024^3, OpenBLAS %s kernels, %d thread%s): %.1f GFLOP/s\n", bns_blas_kernel(), threads,
           threads > 1 ? "s" : "", gflops);
    printf("epoch = 50,000 examples, batch 128, timed on %.0f%% of an epoch; bound = the step's GEMMs alone\n\n",
           fraction * 100);
    printf("| arch | mode | S | s/epoch | GEMM bound s | ratio | GEMM share |\n"
           "| --- | --- | --- | --- | --- | --- | --- |\n");
    fflush(stdout);

    bench_row rows[128];
    int n_rows = 0;
    for (int a = 0; a < n_arch; a++) {
        bns_arch arch;
        if (bns_arch_parse(archs[a], N_INPUTS, &arch)) {
            fprintf(stderr, "bnnsweep bench: %s\n", bns_last_error());
            free(x);
            free(y);
            return BNS_EXIT_USAGE;
        }
        int steps_per_epoch = (N_TRAIN + 127) / 128, bound_steps = (int)(steps_per_epoch * fraction);
        if (bound_steps < 3) bound_steps = 3;
        const bench_kind *kinds = bench_kinds;
        for (int k = 0; k < N_BENCH_KINDS; k++) {
            if (!list_contains(mode_list, kinds[k].method)) continue;
            int count = kinds[k].sampled ? n_samples : 1;
            for (int i = 0; i < count; i++) {
                int S = kinds[k].sampled ? samples[i] : 1;
                double epoch = time_training(archs[a], kinds[k].method, kinds[k].prior, S, kinds[k].sample_mode,
                                             kinds[k].per_example, fraction, x, y);
                double bound = (kinds[k].per_example ? time_gemm_bound(&arch, 128 * S, 1, 0, bound_steps)
                                                     : time_gemm_bound(&arch, 128, S, kinds[k].lrt, bound_steps)) *
                               steps_per_epoch / bound_steps;
                bench_row *r = &rows[n_rows++];
                memset(r, 0, sizeof *r);
                snprintf(r->arch, sizeof r->arch, "%s", archs[a]);
                snprintf(r->mode, sizeof r->mode, "%s", kinds[k].mode);
                r->samples = S;
                r->epoch_s = epoch;
                r->bound_s = bound;
                printf("| %s | %s | %d | %.3f | %.3f | %.2f | %.0f%% |\n", r->arch, r->mode, S, epoch, bound,
                       epoch / bound, 100.0 * bound / epoch);
                fflush(stdout);
            }
        }
    }

    /* APD: its unit is a generator iteration, so a table of its own */
    for (int a = 0; a < n_apd_arch && list_contains(mode_list, "apd"); a++) {
        if (a == 0)
            printf("\nAPD (wgan_gp, defaults: apd_batch 100, 5 critic steps + 1 generator step, generator\n"
                   "20-100-100-100-P; synthetic teacher), %d iteration%s timed; bound = the iteration's GEMMs alone\n\n"
                   "| arch | mode | s/iteration | GEMM bound s | ratio | GEMM share | CPU s/iteration | CPU bound s | CPU ratio |\n"
                   "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
                   apd_iterations, apd_iterations > 1 ? "s" : "");
        fflush(stdout);
        double bound = 0, cpu[2] = {0, 0}, iteration = time_apd_iteration(apd_archs[a], apd_iterations, &bound, cpu);
        if (iteration < 0 || n_rows >= 128) {
            fprintf(stderr, "bnnsweep bench: apd %s: %s\n", apd_archs[a], bns_last_error());
            free(x);
            free(y);
            return BNS_EXIT_USAGE;
        }
        bench_row *r = &rows[n_rows++];
        memset(r, 0, sizeof *r);
        snprintf(r->arch, sizeof r->arch, "%s", apd_archs[a]);
        snprintf(r->mode, sizeof r->mode, "APD (wgan_gp)");
        r->samples = 1, r->epoch_s = iteration, r->bound_s = bound, r->iteration = 1;
        r->cpu_s = cpu[0], r->cpu_bound_s = cpu[1];
        printf("| %s | %s | %.3f | %.3f | %.2f | %.0f%% | %.3f | %.3f | %.2f |\n", r->arch, r->mode, iteration, bound,
               iteration / bound, 100.0 * bound / iteration, cpu[0], cpu[1], cpu[0] / cpu[1]);
        fflush(stdout);
    }

    static conv_row conv_rows[MAX_CONV_ROWS];
    int n_conv_rows = 0;
    if (conv_list) {
        char convs[8][64];
        int n_conv = parse_list(conv_list, convs, 8);
        for (int i = 0; i < n_conv; i++)
            if (bench_conv(convs[i], conv_inputs, threads, gflops, conv_rows, &n_conv_rows)) {
                fprintf(stderr, "bnnsweep bench: --conv: %s\n", bns_last_error());
                free(x);
                free(y);
                return BNS_EXIT_USAGE;
            }
    }

    /* cost of each extra sample: least-squares line through (S, s/epoch) per arch and mode */
    int printed_fit_header = 0;
    for (int i = 0; i < n_rows; i++) {
        int first_of_kind = 1;
        for (int j = 0; j < i; j++)
            if (!strcmp(rows[j].arch, rows[i].arch) && !strcmp(rows[j].mode, rows[i].mode)) first_of_kind = 0;
        if (!first_of_kind || rows[i].iteration) continue;
        double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
        int k = 0;
        for (int j = i; j < n_rows; j++) {
            if (strcmp(rows[j].arch, rows[i].arch) || strcmp(rows[j].mode, rows[i].mode)) continue;
            double xs = rows[j].samples, ys = rows[j].epoch_s;
            sx += xs, sy += ys, sxx += xs * xs, sxy += xs * ys, syy += ys * ys, k++;
        }
        double var_x = k * sxx - sx * sx, var_y = k * syy - sy * sy;
        if (k < 2 || var_x <= 0) continue;
        double slope = (k * sxy - sx * sy) / var_x, intercept = (sy - slope * sx) / k;
        double r2 = var_y > 0 ? (k * sxy - sx * sy) * (k * sxy - sx * sy) / (var_x * var_y) : 1.0;
        if (!printed_fit_header) {
            printf("\nper extra sample (least squares over S):\n");
            printed_fit_header = 1;
        }
        printf("  %s %s: %.3f s/epoch per sample + %.3f, R^2 %.4f\n", rows[i].arch, rows[i].mode, slope, intercept, r2);
    }

    /* prediction throughput on FC-100-100-10 BBB: single sample and a 100-sample ensemble */
    bns_config cfg;
    bns_config_defaults(&cfg);
    bns_model m;
    bns_model_create(&cfg, N_INPUTS, &m);
    bns_predictor pred;
    bns_predictor_init(&pred, &m);
    size_t rows_eval = 10000;
    float *probs = bns_xmalloc(sizeof(float) * rows_eval * N_CLASSES);
    bns_stream stream = bns_stream_make(1, 0, BNS_PURPOSE_PREDICT);
    double t0 = bns_now_seconds();
    bns_predict_probs(&pred, &m, x, rows_eval, 1, &stream, 0, probs);
    double single = rows_eval / (bns_now_seconds() - t0);
    t0 = bns_now_seconds();
    bns_predict_probs(&pred, &m, x, 1000, 100, &stream, 0, probs);
    double ensemble = 1000 / (bns_now_seconds() - t0);
    printf("\nprediction (FC-100-100-10 BBB): single-sample %.0f images/s, 100-sample ensemble %.0f images/s\n",
           single, ensemble);
    /* attack throughput: one input gradient per image per iteration, the
     * step every attack repeats, against a deterministic FC-200-200-10 */
    bns_config source_cfg;
    bns_config_defaults(&source_cfg);
    snprintf(source_cfg.arch, sizeof source_cfg.arch, "FC-200-200-10");
    snprintf(source_cfg.method, sizeof source_cfg.method, "deterministic");
    bns_model source;
    bns_model_create(&source_cfg, N_INPUTS, &source);
    bns_attack_settings attack_settings;
    bns_attack_defaults(&attack_settings, BNS_ATTACK_MINNORM);
    bns_attack_source attack_source;
    double attack_rate = 0;
    if (bns_attack_source_init(&attack_source, &source, &attack_settings, 100) == 0) {
        float *grad_x = bns_xmalloc(sizeof(float) * 100 * N_INPUTS);
        int iterations = 200;
        t0 = bns_now_seconds();
        for (int it = 0; it < iterations; it++)
            bns_attack_input_grad(&attack_source, x + (size_t)(it % 400) * 100 * N_INPUTS, y + (it % 400) * 100, 100,
                                  grad_x, NULL);
        attack_rate = 100.0 * iterations / (bns_now_seconds() - t0);
        free(grad_x);
        bns_attack_source_free(&attack_source);
        printf("attack (input gradient, FC-200-200-10, batch 100): %.0f image-iterations/s\n", attack_rate);
    }
    bns_model_free(&source);

    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("peak resident memory: %.1f MiB\n", usage.ru_maxrss / 1024.0);

    if (json_path) {
        double figures[] = {single, ensemble, attack_rate, usage.ru_maxrss / 1024.0};
        if (write_json(json_path, threads, gflops, fraction, rows, n_rows, conv_rows, n_conv_rows, figures, 0))
            fprintf(stderr, "bnnsweep bench: cannot write %s: %s\n", json_path, bns_last_error());
    }
    free(probs);
    bns_predictor_free(&pred);
    bns_model_free(&m);
    free(x);
    free(y);
    return BNS_EXIT_OK;
}
