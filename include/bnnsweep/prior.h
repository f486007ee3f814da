/* prior.h - weight priors and the Gaussian-posterior helpers of METHODS.md s.1-2.
 *
 * Scale mixture p(w) = pi N(0,s1^2) + (1-pi) N(0,s2^2) evaluated with
 * log-sum-exp (finite for any w), a Gaussian N(0,s^2) prior with its closed
 * form KL, and a numerically stable softplus for sigma = softplus(rho).
 */
#ifndef BNNSWEEP_PRIOR_H
#define BNNSWEEP_PRIOR_H

#include <math.h>

enum bns_prior_kind { BNS_PRIOR_MIXTURE = 0, BNS_PRIOR_GAUSSIAN = 1 };

typedef struct {
    int kind;        /* enum bns_prior_kind */
    double pi;       /* mixture weight of the wide component */
    double sigma1;   /* wide component (default exp(-1)) */
    double sigma2;   /* narrow component (default exp(-7)) */
    double sigma;    /* Gaussian prior standard deviation (default 1) */
} bns_prior;

void bns_prior_defaults(bns_prior *p, int kind);
/* Standard deviation of the prior: the init scale of mu (METHODS.md s.1). */
double bns_prior_std(const bns_prior *p);
/* log p(w) and d/dw log p(w). */
double bns_prior_log_density(const bns_prior *p, double w);
double bns_prior_dlog_density(const bns_prior *p, double w);

/* sigma = softplus(rho) = log(1 + exp(rho)), exact down to rho = -87 in float. */
static inline double bns_softplus(double rho) {
    return rho > 0 ? rho + log1p(exp(-rho)) : log1p(exp(rho));
}
double bns_sigmoid(double x);
/* log softplus(rho): equals rho (to double precision) once exp(rho) is tiny. */
double bns_log_softplus(double rho);

/* KL(N(mu, sq^2) || N(0, sp^2)) = log(sp/sq) + (sq^2 + mu^2)/(2 sp^2) - 1/2 (METHODS.md s.2). */
double bns_gaussian_kl(double mu, double sigma_q, double sigma_p);

#endif
