/* backend_cpu.c - OpenBLAS GEMM and straightforward per-parameter kernels.
 *
 * These loops are the reference path: clear scalar code in double where the
 * mixture log-density needs it. Faster fused variants must match them. */
#include <math.h>
#include <cblas.h>

#include "bnnsweep/backend.h"

void bns_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);

void bns_set_blas_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }
int bns_blas_threads(void) { return openblas_get_num_threads(); }

extern char *openblas_get_corename(void);
const char *bns_blas_kernel(void) { return openblas_get_corename(); }

void bns_gauss_sample(const float *mu, const float *rho, size_t n, const bns_stream *stream,
                      uint64_t sub, uint64_t offset, float *eps, float *w) {
    float *noise = eps ? eps : w;
    bns_stream_normal(stream, sub, offset, n, noise);
    for (size_t i = 0; i < n; i++) {
        w[i] = mu[i] + (float)bns_softplus(rho[i]) * noise[i];
    }
}

static const double LOG_SQRT_2PI = 0.91893853320467274178;

/* sigmoid(rho) / softplus(rho): d sigma/d rho divided by sigma, -> 1 as rho -> -inf. */
static double sigmoid_over_softplus(double rho) {
    if (rho < -30) return 1.0;
    return bns_sigmoid(rho) / bns_softplus(rho);
}

double bns_bbb_accumulate_grad(const float *mu, const float *rho, const float *eps, const float *w,
                               const float *grad_w, size_t n, const bns_prior *prior,
                               double kl_scale, float *grad_mu, float *grad_rho) {
    double kl = 0.0;
    (void)mu;
    for (size_t i = 0; i < n; i++) {
        double r = rho[i], e = eps[i], wi = w[i];
        double g = grad_w[i] - kl_scale * bns_prior_dlog_density(prior, wi);
        grad_mu[i] += (float)g;
        grad_rho[i] += (float)(g * e * bns_sigmoid(r) - kl_scale * sigmoid_over_softplus(r));
        double log_q = -LOG_SQRT_2PI - bns_log_softplus(r) - 0.5 * e * e;
        kl += log_q - bns_prior_log_density(prior, wi);
    }
    return kl;
}

double bns_gaussian_kl_accumulate_grad(const float *mu, const float *rho, size_t n, double sigma_p,
                                       double kl_scale, float *grad_mu, float *grad_rho) {
    double kl = 0.0, inv_var_p = 1.0 / (sigma_p * sigma_p);
    for (size_t i = 0; i < n; i++) {
        double r = rho[i], m = mu[i], sq = bns_softplus(r);
        kl += log(sigma_p) - bns_log_softplus(r) + (sq * sq + m * m) * 0.5 * inv_var_p - 0.5;
        grad_mu[i] += (float)(kl_scale * m * inv_var_p);
        /* dKL/dsq = -1/sq + sq/sp^2; times dsq/drho = sigmoid(rho) */
        grad_rho[i] += (float)(kl_scale * (-sigmoid_over_softplus(r) + sq * bns_sigmoid(r) * inv_var_p));
    }
    return kl;
}

void bns_sgd_momentum_update(float *param, const float *grad, float *velocity, size_t n, float lr,
                             float momentum) {
    for (size_t i = 0; i < n; i++) {
        velocity[i] = momentum * velocity[i] + grad[i];
        param[i] -= lr * velocity[i];
    }
}

void bns_adam_update(float *param, const float *grad, float *m, float *v, size_t n, float lr,
                     float beta1, float beta2, float eps, long step) {
    float c1 = 1.0f - powf(beta1, (float)step), c2 = 1.0f - powf(beta2, (float)step);
    for (size_t i = 0; i < n; i++) {
        m[i] = beta1 * m[i] + (1.0f - beta1) * grad[i];
        v[i] = beta2 * v[i] + (1.0f - beta2) * grad[i] * grad[i];
        param[i] -= lr * (m[i] / c1) / (sqrtf(v[i] / c2) + eps);
    }
}
