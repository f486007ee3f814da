/* lrt_dense.c - dense layer with the local reparameterisation trick (METHODS.md s.2).
 * Weights are never sampled: each pre-activation is drawn from its exact
 * Gaussian given the input, so the noise is independent per example. */
#include <math.h>
#include <string.h>

#include "bnnsweep/backend.h"
#include "bnnsweep/nn.h"

/* Both products into b (gamma) and std_out (delta), before any elementwise work. */
static void lrt_products(const float *a, int batch, int n_in, int n_out, const float *weight_mu,
                         const float *bias_mu, const float *weight_var, const float *bias_var, float *act_sq,
                         float *std_out, float *gamma) {
    size_t n_a = (size_t)batch * n_in;
    for (size_t i = 0; i < n_a; i++) act_sq[i] = a[i] * a[i];
    /* delta = (A*A) sigma^2 + sigma_b^2 into std_out */
    for (int i = 0; i < batch; i++) memcpy(std_out + (size_t)i * n_out, bias_var, sizeof(float) * n_out);
    bns_gemm(0, 0, batch, n_out, n_in, 1.0f, act_sq, n_in, weight_var, n_out, 1.0f, std_out, n_out);
    /* gamma = A mu + mu_b */
    bns_dense_forward(a, batch, n_in, n_out, weight_mu, bias_mu, gamma);
}

/* sqrt(delta), floored: at rho < ~-52 sigma^2 underflows to 0 in float, and
 * the backward pass divides by sqrt(delta) */
static inline float lrt_std(float delta) { return sqrtf(delta > 1e-30f ? delta : 1e-30f); }

void bns_lrt_forward(const float *a, int batch, int n_in, int n_out, const float *weight_mu,
                     const float *bias_mu, const float *weight_var, const float *bias_var,
                     const float *zeta, float *act_sq, float *std_out, float *b) {
    lrt_products(a, batch, n_in, n_out, weight_mu, bias_mu, weight_var, bias_var, act_sq, std_out, b);
    /* one pass over the outputs: the standard deviation and the noise */
    size_t n_b = (size_t)batch * n_out;
    for (size_t i = 0; i < n_b; i++) {
        float sd = lrt_std(std_out[i]);
        std_out[i] = sd;
        b[i] += sd * zeta[i];
    }
}

void bns_lrt_moments(const float *a, int batch, int n_in, int n_out, const float *weight_mu, const float *bias_mu,
                     const float *weight_var, const float *bias_var, float *act_sq, float *std_out, float *gamma) {
    lrt_products(a, batch, n_in, n_out, weight_mu, bias_mu, weight_var, bias_var, act_sq, std_out, gamma);
    size_t n_b = (size_t)batch * n_out;
    for (size_t i = 0; i < n_b; i++) std_out[i] = lrt_std(std_out[i]);
}

void bns_lrt_backward(const float *a, float *act_sq, const float *std_out, const float *zeta,
                      float *grad_b, int batch, int n_in, int n_out, const float *weight_mu,
                      const float *weight_var, float *grad_weight_mu, float *grad_bias_mu,
                      float *grad_weight_var, float *grad_bias_var, float *grad_a) {
    size_t n_b = (size_t)batch * n_out;
    /* The mean path is an ordinary dense layer. */
    bns_dense_backward(a, grad_b, batch, n_in, n_out, weight_mu, grad_weight_mu, grad_bias_mu, grad_a);
    /* d delta = dB * zeta / (2 sqrt(delta)), computed in place over grad_b. */
    for (size_t i = 0; i < n_b; i++) grad_b[i] = grad_b[i] * zeta[i] / (2.0f * std_out[i]);
    float *grad_delta = grad_b;
    bns_dense_backward(act_sq, grad_delta, batch, n_in, n_out, weight_var, grad_weight_var, grad_bias_var, NULL);
    if (grad_a) {
        /* d(A*A) = d delta (sigma^2)^T, written over act_sq (no longer needed),
         * then dA += 2 A d(A*A). */
        float *grad_act_sq = act_sq;
        bns_gemm(0, 1, batch, n_in, n_out, 1.0f, grad_delta, n_out, weight_var, n_out, 0.0f, grad_act_sq, n_in);
        size_t n_a = (size_t)batch * n_in;
        for (size_t i = 0; i < n_a; i++) grad_a[i] += 2.0f * a[i] * grad_act_sq[i];
    }
}
