/* prior.c - prior log-densities and softplus helpers (see prior.h). */
#include <math.h>

#include "bnnsweep/prior.h"

static const double LOG_SQRT_2PI = 0.91893853320467274178;

void bns_prior_defaults(bns_prior *p, int kind) {
    p->kind = kind;
    p->pi = 0.5;
    p->sigma1 = exp(-1.0);
    p->sigma2 = exp(-7.0);
    p->sigma = 1.0;
}

double bns_prior_std(const bns_prior *p) {
    if (p->kind == BNS_PRIOR_GAUSSIAN) return p->sigma;
    return sqrt(p->pi * p->sigma1 * p->sigma1 + (1.0 - p->pi) * p->sigma2 * p->sigma2);
}

static double gaussian_log_density(double w, double sigma) {
    return -LOG_SQRT_2PI - log(sigma) - 0.5 * (w / sigma) * (w / sigma);
}

double bns_prior_log_density(const bns_prior *p, double w) {
    if (p->kind == BNS_PRIOR_GAUSSIAN) return gaussian_log_density(w, p->sigma);
    /* log-sum-exp of the two weighted components: no underflow for large |w|. */
    double a = log(p->pi) + gaussian_log_density(w, p->sigma1);
    double b = log1p(-p->pi) + gaussian_log_density(w, p->sigma2);
    double hi = a > b ? a : b, lo = a > b ? b : a;
    return hi + log1p(exp(lo - hi));
}

double bns_prior_dlog_density(const bns_prior *p, double w) {
    if (p->kind == BNS_PRIOR_GAUSSIAN) return -w / (p->sigma * p->sigma);
    /* d/dw log p = -(r1 w/s1^2 + r2 w/s2^2) with responsibilities r1 + r2 = 1,
     * r1 = sigmoid(a - b) computed from the log-weights. */
    double a = log(p->pi) + gaussian_log_density(w, p->sigma1);
    double b = log1p(-p->pi) + gaussian_log_density(w, p->sigma2);
    double r1 = bns_sigmoid(a - b);
    double r2 = 1.0 - r1;
    return -w * (r1 / (p->sigma1 * p->sigma1) + r2 / (p->sigma2 * p->sigma2));
}

double bns_sigmoid(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

double bns_log_softplus(double rho) {
    if (rho < -30) return rho; /* log log1p(e^rho) = rho - e^rho/2 + ...: exact in double */
    return log(bns_softplus(rho));
}

double bns_gaussian_kl(double mu, double sigma_q, double sigma_p) {
    return log(sigma_p / sigma_q) + (sigma_q * sigma_q + mu * mu) / (2.0 * sigma_p * sigma_p) - 0.5;
}
