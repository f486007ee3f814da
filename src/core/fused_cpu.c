/* fused_cpu.c - the per-parameter work of a Bayes-by-Backprop step in float,
 * written as branch-free loops that GCC vectorises (METHODS.md s.1).
 *
 * Scale-mixture log-density with per-component constants hoisted:
 *   l_k(w) = log pi_k - log s_k - log sqrt(2 pi) - w^2 / (2 s_k^2)
 *   log p(w) = max(l1, l2) + log1p(exp(-|l1 - l2|))            (log-sum-exp)
 *   d log p / dw = -2 w (r1 a1 + r2 a2), r1 = sigmoid(l1 - l2), a_k = 1/(2 s_k^2)
 * A Gaussian prior is the one-component case (r1 = 1).
 */
#include <stdint.h>

#include "bnnsweep/backend.h"
#include "vecmath.h"

static const float LOG_SQRT_2PI_F = 0.918938533f;

/* fmaxf/fminf are libm calls without a vector form (NaN rules); these compile to max/min instructions. */
static inline float max_f(float a, float b) { return a > b ? a : b; }
static inline float min_f(float a, float b) { return a < b ? a : b; }

/* libmvec's expf leaves the vector path for results that underflow; the
 * clamp keeps every lane on it. e^-80 ~ 1.8e-35 stands in for anything
 * smaller (sigma of rho < -80 included), far below any sum it meets. */
static inline float exp_neg(float x) { return expf(max_f(x, -80.0f)); }

void bns_fused_posterior_prepare(const float *rho, size_t n, float *sigma, float *sigmoid_rho) {
    for (size_t i = 0; i < n; i++) {
        float r = rho[i];
        float e = exp_neg(-fabsf(r));              /* in (0, 1]: no overflow */
        float plus = r > 0.0f ? r : 0.0f;
        sigma[i] = plus + log1pf(e);               /* softplus(r) = max(r,0) + log1p(e^-|r|) */
        sigmoid_rho[i] = (r >= 0.0f ? 1.0f : e) / (1.0f + e);
    }
}

void bns_fused_sample(const float *mu, const float *sigma, size_t n, const bns_stream *stream, uint64_t sub,
                      uint64_t offset, float *eps, float *w) {
    bns_stream_normal(stream, sub, offset, n, eps);
    for (size_t i = 0; i < n; i++) w[i] = mu[i] + sigma[i] * eps[i];
}

typedef struct {
    float c1, c2, a1, a2;   /* l_k = c_k - a_k w^2 */
} prior_consts;

static prior_consts constants_of(const bns_prior *p) {
    prior_consts k;
    if (p->kind == BNS_PRIOR_GAUSSIAN) {
        /* one component: the second is weighted e^-100 below it, which
         * changes log p by less than a float ulp and keeps one code path */
        k.c1 = (float)(-log(p->sigma) - 0.91893853320467274);
        k.c2 = k.c1 - 100.0f;
        k.a1 = k.a2 = (float)(0.5 / (p->sigma * p->sigma));
    } else {
        k.c1 = (float)(log(p->pi) - log(p->sigma1) - 0.91893853320467274);
        k.c2 = (float)(log1p(-p->pi) - log(p->sigma2) - 0.91893853320467274);
        k.a1 = (float)(0.5 / (p->sigma1 * p->sigma1));
        k.a2 = (float)(0.5 / (p->sigma2 * p->sigma2));
    }
    return k;
}

enum { CHUNK = 512 };

double bns_fused_bbb_grad(const float *rho, const float *sigma, const float *sigmoid_rho, const float *eps,
                          const float *w, const float *grad_w, size_t n, const bns_prior *prior,
                          double kl_scale, int accumulate, int want_kl, float *grad_mu, float *grad_rho,
                          bns_chunk_done chunk_done, void *chunk_ctx) {
    prior_consts k = constants_of(prior);
    const float kls = (float)kl_scale;
    double kl = 0.0;
    /* Each chunk's log q - log p terms go to a small buffer and are summed
     * in order in double: the loops vectorise without reassociating a float
     * sum, and the total does not depend on the vector width. */
    float kl_terms[CHUNK], g_buf[CHUNK], exp_arg[CHUNK], exp_val[CHUNK];
    for (size_t begin = 0; begin < n; begin += CHUNK) {
        size_t count = n - begin < CHUNK ? n - begin : CHUNK;
        { /* the restrict pointers' block ends before chunk_done may write rho */
        /* restrict: the arrays never overlap, and saying so spares the
         * compiler a runtime alias check per pair of them */
        const float *restrict r_ = rho + begin, *restrict s_ = sigma + begin,
                    *restrict sr_ = sigmoid_rho + begin, *restrict e_ = eps + begin, *restrict w_ = w + begin,
                    *restrict gw_ = grad_w + begin;
        float *restrict gm_ = grad_mu + begin, *restrict gr_ = grad_rho + begin;
        /* Several loops over the chunk (it stays in L1). The clamped exp
         * argument is stored before expf sees it: in one loop GCC moves the
         * clamp past the call and feeds libmvec out-of-range lanes, and it
         * gives up on vectorising a loop that updates both gradients. */
        for (size_t q = 0; q < count; q++) {
            float wq = w_[q], u = min_f(wq * wq, 1e30f);
            float diff = (k.c1 - k.c2) + (k.a2 - k.a1) * u;   /* l1 - l2 */
            exp_arg[q] = max_f(-fabsf(diff), -80.0f);
        }
        for (size_t q = 0; q < count; q++) exp_val[q] = expf(exp_arg[q]);
        for (size_t q = 0; q < count; q++) {
            float wq = w_[q], u = min_f(wq * wq, 1e30f);
            float l1_wins = (k.c1 - k.c2) + (k.a2 - k.a1) * u >= 0.0f;
            float e = exp_val[q];
            /* both responsibilities from e directly: 1 - r1 would lose the
             * small one, and a2 (~6e5) amplifies it */
            float inv = 1.0f / (1.0f + e);
            float r1 = (l1_wins ? 1.0f : e) * inv, r2 = (l1_wins ? e : 1.0f) * inv;
            float dlog_p = -2.0f * wq * (r1 * k.a1 + r2 * k.a2);
            float g = gw_[q] - kls * dlog_p;
            gm_[q] = accumulate ? gm_[q] + g : g;
            g_buf[q] = g;
        }
        for (size_t q = 0; q < count; q++) {
            float r = r_[q], s = max_f(s_[q], 1e-30f);
            /* sigmoid(rho)/sigma -> 1 as rho -> -inf */
            float ratio_direct = sr_[q] / s;
            float ratio = r < -20.0f ? 1.0f : ratio_direct;
            float g_rho = g_buf[q] * e_[q] * sr_[q] - kls * ratio;
            gr_[q] = accumulate ? gr_[q] + g_rho : g_rho;
        }
        if (want_kl) {
            for (size_t q = 0; q < count; q++) {
                float wq = w_[q], u = min_f(wq * wq, 1e30f);
                float l1 = k.c1 - k.a1 * u, l2 = k.c2 - k.a2 * u;
                float log_p = max_f(l1, l2) + log1pf(exp_val[q]);
                float r = r_[q], log_s = logf(max_f(s_[q], 1e-30f));
                float log_sigma = r < -20.0f ? r : log_s;   /* log sigma -> rho as rho -> -inf */
                kl_terms[q] = -LOG_SQRT_2PI_F - log_sigma - 0.5f * e_[q] * e_[q] - log_p;
            }
            for (size_t q = 0; q < count; q++) kl += kl_terms[q];
        }
        }
        if (chunk_done) chunk_done(chunk_ctx, begin, count);
    }
    return kl;
}

/* One chunk (in L1) of the closed-form Gaussian KL's gradient, added to
 * grad_mu and grad_rho, and its value added to *kl in index order. */
static inline void gaussian_kl_chunk(const float *restrict m_, const float *restrict r_, const float *restrict s_,
                                     const float *restrict sr_, size_t count, float inv_var_p, float log_sp,
                                     float kls, int want_kl, float *restrict gm_, float *restrict gr_,
                                     double *kl) {
    /* KL = log(sp/sq) + (sq^2 + mu^2)/(2 sp^2) - 1/2 (METHODS.md s.2) */
    float kl_terms[CHUNK];
    for (size_t q = 0; q < count; q++) {
        float r = r_[q], s = max_f(s_[q], 1e-30f), m = m_[q];
        float ratio_direct = sr_[q] / s;
        float ratio = r < -20.0f ? 1.0f : ratio_direct;      /* sigmoid(rho) / sigma */
        gm_[q] += kls * m * inv_var_p;
        gr_[q] += kls * (-ratio + s * sr_[q] * inv_var_p);  /* dKL/dsq * dsq/drho */
    }
    if (!want_kl) return;
    for (size_t q = 0; q < count; q++) {
        float r = r_[q], s = max_f(s_[q], 1e-30f), m = m_[q];
        float log_s = logf(s);
        float log_sigma = r < -20.0f ? r : log_s;
        kl_terms[q] = log_sp - log_sigma + 0.5f * (s * s + m * m) * inv_var_p - 0.5f;
    }
    for (size_t q = 0; q < count; q++) *kl += kl_terms[q];
}

double bns_fused_gaussian_kl_grad(const float *mu, const float *rho, const float *sigma, const float *sigmoid_rho,
                                  size_t n, double sigma_p, double kl_scale, int want_kl, float *grad_mu,
                                  float *grad_rho) {
    const float inv_var_p = (float)(1.0 / (sigma_p * sigma_p)), log_sp = (float)log(sigma_p), kls = (float)kl_scale;
    double kl = 0.0;
    for (size_t begin = 0; begin < n; begin += CHUNK) {
        size_t count = n - begin < CHUNK ? n - begin : CHUNK;
        gaussian_kl_chunk(mu + begin, rho + begin, sigma + begin, sigmoid_rho + begin, count, inv_var_p, log_sp,
                          kls, want_kl, grad_mu + begin, grad_rho + begin, &kl);
    }
    return kl;
}

double bns_fused_lrt_grad(const float *mu, const float *rho, const float *sigma, const float *sigmoid_rho,
                          const float *grad_mean, const float *grad_var, size_t n, size_t accumulate_from,
                          double sigma_p, double kl_scale, int want_kl, float *grad_mu, float *grad_rho,
                          bns_chunk_done chunk_done, void *chunk_ctx) {
    const float inv_var_p = (float)(1.0 / (sigma_p * sigma_p)), log_sp = (float)log(sigma_p), kls = (float)kl_scale;
    double kl = 0.0;
    /* the chunks of bns_fused_gaussian_kl_grad (multiples of CHUNK), so its
     * vector loops see the same lanes and the KL sums in the same order */
    for (size_t begin = 0; begin < n; begin += CHUNK) {
        size_t count = n - begin < CHUNK ? n - begin : CHUNK;
        {
        const float *restrict s_ = sigma + begin, *restrict sr_ = sigmoid_rho + begin,
                    *restrict gmean_ = grad_mean + begin, *restrict gvar_ = grad_var + begin;
        float *restrict gm_ = grad_mu + begin, *restrict gr_ = grad_rho + begin;
        /* below accumulate_from the sum starts at 0 (0 + g, as a zeroed
         * gradient plus g: -0 becomes +0); d/d rho = d/d sigma^2 * 2 sigma sigmoid(rho) */
        size_t fresh = accumulate_from <= begin ? 0 : accumulate_from - begin < count ? accumulate_from - begin : count;
        for (size_t q = 0; q < fresh; q++) {
            gm_[q] = 0.0f + gmean_[q];
            gr_[q] = 0.0f + gvar_[q] * 2.0f * s_[q] * sr_[q];
        }
        for (size_t q = fresh; q < count; q++) {
            gm_[q] += gmean_[q];
            gr_[q] += gvar_[q] * 2.0f * s_[q] * sr_[q];
        }
        }
        gaussian_kl_chunk(mu + begin, rho + begin, sigma + begin, sigmoid_rho + begin, count, inv_var_p, log_sp,
                          kls, want_kl, grad_mu + begin, grad_rho + begin, &kl);
        if (chunk_done) chunk_done(chunk_ctx, begin, count);
    }
    return kl;
}
