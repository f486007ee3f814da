/* backend.h - the compute interface: GEMM and the fused per-parameter kernels.
 *
 * Everything in a training step that touches every parameter goes through
 * these few functions, so a faster (SIMD) or CUDA backend replaces one file.
 * Arrays are flat float vectors of n parameters; matrices are row-major.
 */
#ifndef BNNSWEEP_BACKEND_H
#define BNNSWEEP_BACKEND_H

#include <stddef.h>

#include "bnnsweep/prior.h"
#include "bnnsweep/rng.h"

/* C = alpha * op(A) op(B) + beta * C, row-major (cblas_sgemm). */
void bns_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc);
/* Number of BLAS threads for this process (OpenBLAS). */
void bns_set_blas_threads(int n);
int bns_blas_threads(void);
/* The CPU kernels OpenBLAS picked ("Haswell", "SkylakeX", "Cooperlake", ...;
 * "Prescott" = SSE3 only: on a CPU model it does not know, OpenBLAS 0.3.21
 * falls back to those, about 4x slower, unless OPENBLAS_CORETYPE is set:
 * docs/performance.md). */
const char *bns_blas_kernel(void);

/* Reparameterised sample w = mu + softplus(rho) * eps, eps ~ N(0,1) numbers
 * [offset, offset + n) of substream `sub` (METHODS.md s.1 step 1). eps may be
 * NULL when the noise is not needed afterwards (prediction). */
void bns_gauss_sample(const float *mu, const float *rho, size_t n, const bns_stream *stream,
                      uint64_t sub, uint64_t offset, float *eps, float *w);

/* One weight sample's share of the BBB gradient (METHODS.md s.1 steps 2-3).
 * grad_w holds dNLL/dw for this sample (already scaled); kl_scale weights
 * log q(w) - log p(w) in the objective. Accumulates into grad_mu/grad_rho:
 *   g       = grad_w - kl_scale * dlog p(w)/dw
 *   grad_mu  += g
 *   grad_rho += (g * eps - kl_scale / sigma) * sigmoid(rho)
 * (d log q / d sigma along the reparameterisation path is -1/sigma.)
 * Returns this sample's log q(w) - log p(w), unscaled. */
double bns_bbb_accumulate_grad(const float *mu, const float *rho, const float *eps, const float *w,
                               const float *grad_w, size_t n, const bns_prior *prior,
                               double kl_scale, float *grad_mu, float *grad_rho);

/* Closed-form KL to a N(0, sp^2) prior and its gradient w.r.t. mu and rho,
 * scaled by kl_scale and accumulated (METHODS.md s.2). Returns the unscaled KL. */
double bns_gaussian_kl_accumulate_grad(const float *mu, const float *rho, size_t n, double sigma_p,
                                       double kl_scale, float *grad_mu, float *grad_rho);

/* ---- fused float kernels: the fast path of a BBB step ----
 * Same maths as bns_gauss_sample / bns_bbb_accumulate_grad in float, one
 * vectorised pass each (libmvec); tests hold them to the reference above. */

/* Called by a kernel when parameters [begin, begin + count) are final (e.g.
 * to apply the optimizer while they are in cache); NULL for none. */
typedef void (*bns_chunk_done)(void *ctx, size_t begin, size_t count);

/* Per-parameter quantities that depend on rho only, computed once per step. */
void bns_fused_posterior_prepare(const float *rho, size_t n, float *sigma, float *sigmoid_rho);
/* w = mu + sigma * eps with eps = normals [offset, offset + n) of substream sub. */
void bns_fused_sample(const float *mu, const float *sigma, size_t n, const bns_stream *stream, uint64_t sub,
                      uint64_t offset, float *eps, float *w);
/* As bns_bbb_accumulate_grad, from the prepared sigma and sigmoid(rho);
 * returns log q - log p summed over the n parameters, or 0 without
 * computing it when want_kl is 0. accumulate = 0 overwrites grad_mu and
 * grad_rho instead of adding (the first sample of a step). */
double bns_fused_bbb_grad(const float *rho, const float *sigma, const float *sigmoid_rho, const float *eps,
                          const float *w, const float *grad_w, size_t n, const bns_prior *prior,
                          double kl_scale, int accumulate, int want_kl, float *grad_mu, float *grad_rho,
                          bns_chunk_done chunk_done, void *chunk_ctx);

/* As bns_gaussian_kl_accumulate_grad, from the prepared sigma and sigmoid(rho);
 * the KL's value is computed (and returned) only when want_kl is set. */
double bns_fused_gaussian_kl_grad(const float *mu, const float *rho, const float *sigma, const float *sigmoid_rho,
                                  size_t n, double sigma_p, double kl_scale, int want_kl, float *grad_mu,
                                  float *grad_rho);
/* LRT's per-parameter gradient (METHODS.md s.2), chunk by chunk: the
 * gradients w.r.t. the means and variances, grad_mean and grad_var, folded
 * into grad_mu and grad_rho (added from accumulate_from on, written below
 * it), then the Gaussian KL's as bns_fused_gaussian_kl_grad (same result);
 * chunk_done after each chunk. Returns the KL (0 unless want_kl). */
double bns_fused_lrt_grad(const float *mu, const float *rho, const float *sigma, const float *sigmoid_rho,
                          const float *grad_mean, const float *grad_var, size_t n, size_t accumulate_from,
                          double sigma_p, double kl_scale, int want_kl, float *grad_mu, float *grad_rho,
                          bns_chunk_done chunk_done, void *chunk_ctx);

/* Optimizer updates (PyTorch conventions). */
void bns_sgd_momentum_update(float *param, const float *grad, float *velocity, size_t n, float lr,
                             float momentum);
void bns_adam_update(float *param, const float *grad, float *m, float *v, size_t n, float lr,
                     float beta1, float beta2, float eps, long step);

#endif
