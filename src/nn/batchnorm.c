/* batchnorm.c - batch normalisation per channel of NCHW rows (Ioffe & Szegedy 2015).
 *
 * y = gamma (x - mean) / sqrt(var + eps) + beta, gamma at weight_offset and
 * beta at bias_offset (ordinary parameters: net.h says how weight sampling
 * treats them). In training mode (ws->training) mean and var are the
 * batch's over batch x H x W (biased var), and the running statistics in
 * the layer's state move toward them with momentum 0.1 (unbiased var, as
 * PyTorch does); otherwise the running statistics are used and the layer is
 * an affine map. The backward pass differentiates whichever was used, the
 * batch statistics included. State: running mean, running var, then the
 * mean and 1/std the last forward used (for the backward); the first two
 * are what a trained model keeps (stat_names, net.h). ws->stat_momentum, if
 * set, replaces the momentum (bns_net_stats_estimate's cumulative means). */
#include <math.h>
#include <string.h>

#include "bnnsweep/net.h"

#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1

static size_t bn_state(const bns_layer *op, int max_batch) {
    (void)max_batch;
    return 4 * (size_t)op->in.c;
}

static void bn_state_init(const bns_layer *op, float *state) {
    for (int c = 0; c < op->in.c; c++) state[op->in.c + c] = 1.0f; /* running var */
}

static void bn_forward(const bns_layer *op, const float *w, const float *x, int ld_x, int batch, float *y,
                       bns_net_workspace *ws) {
    int C = op->in.c, P = op->in.h * op->in.w;
    float *run_mean = ws->state[op->index], *run_var = run_mean + C, *mean = run_var + C, *inv_std = mean + C;
    const float *gamma = w + op->weight_offset, *beta = w + op->bias_offset;
    double m = (double)batch * P, momentum = ws->stat_momentum > 0 ? ws->stat_momentum : BN_MOMENTUM;
    for (int c = 0; c < C; c++) {
        if (ws->training) {
            double sum = 0.0, sq = 0.0;
            for (int n = 0; n < batch; n++) {
                const float *in = x + (size_t)n * ld_x + (size_t)c * P;
                for (int p = 0; p < P; p++) sum += in[p];
            }
            double mu = sum / m;
            for (int n = 0; n < batch; n++) {
                const float *in = x + (size_t)n * ld_x + (size_t)c * P;
                for (int p = 0; p < P; p++) sq += (in[p] - mu) * (in[p] - mu);
            }
            double var = sq / m;
            mean[c] = (float)mu;
            inv_std[c] = (float)(1.0 / sqrt(var + BN_EPS));
            run_mean[c] = (float)((1 - momentum) * run_mean[c] + momentum * mu);
            run_var[c] = (float)((1 - momentum) * run_var[c] + momentum * (m > 1 ? sq / (m - 1) : var));
        } else {
            mean[c] = run_mean[c];
            inv_std[c] = (float)(1.0 / sqrt((double)run_var[c] + BN_EPS));
        }
        float scale = gamma[c] * inv_std[c], shift = beta[c] - mean[c] * scale;
        for (int n = 0; n < batch; n++) {
            const float *in = x + (size_t)n * ld_x + (size_t)c * P;
            float *out = y + (size_t)n * op->n_out + (size_t)c * P;
            for (int p = 0; p < P; p++) out[p] = in[p] * scale + shift;
        }
    }
}

static void bn_backward(const bns_layer *op, const float *w, const float *x, int ld_x, const float *y,
                        float *grad_y, int batch, float *grad_w, float *grad_x, int ld_grad_x, bns_net_workspace *ws) {
    (void)y;
    int C = op->in.c, P = op->in.h * op->in.w;
    const float *mean = ws->state[op->index] + 2 * C, *inv_std = mean + C, *gamma = w + op->weight_offset;
    double m = (double)batch * P;
    for (int c = 0; c < C; c++) {
        double dbeta = 0.0, dgamma = 0.0;
        for (int n = 0; n < batch; n++) {
            const float *in = x + (size_t)n * ld_x + (size_t)c * P, *g = grad_y + (size_t)n * op->n_out + (size_t)c * P;
            for (int p = 0; p < P; p++) {
                dbeta += g[p];
                dgamma += g[p] * (in[p] - mean[c]) * inv_std[c];
            }
        }
        if (grad_w) {
            grad_w[op->weight_offset + c] = (float)dgamma;
            grad_w[op->bias_offset + c] = (float)dbeta;
        }
        if (!grad_x) continue;
        /* batch statistics: dx = gamma/std (dy - mean(dy) - xhat mean(dy xhat)); running ones: gamma/std dy */
        float scale = gamma[c] * inv_std[c];
        float mean_g = ws->training ? (float)(dbeta / m) : 0.0f, mean_gx = ws->training ? (float)(dgamma / m) : 0.0f;
        for (int n = 0; n < batch; n++) {
            const float *in = x + (size_t)n * ld_x + (size_t)c * P, *g = grad_y + (size_t)n * op->n_out + (size_t)c * P;
            float *gx = grad_x + (size_t)n * ld_grad_x + (size_t)c * P;
            for (int p = 0; p < P; p++) {
                float xhat = (in[p] - mean[c]) * inv_std[c];
                gx[p] = scale * (g[p] - mean_g - xhat * mean_gx);
            }
        }
    }
}

static const char *const bn_stat_names[] = {"running_mean", "running_var", NULL};

const bns_layer_type bns_layer_batchnorm = {
    .name = "batchnorm",
    .has_params = 1,
    .unit_weight = 1,
    .state_floats = bn_state,
    .state_init = bn_state_init,
    .stat_names = bn_stat_names,
    .forward = bn_forward,
    .backward = bn_backward,
};
