/* gaussian.c - the Gaussian likelihood of the regression experiments
 * (likelihood.h; METHODS.md s.12, the regression toy of Blundell et al.):
 * y ~ N(f(x; w), s^2) per output, s = self->noise_std fixed.
 *   -log p(y | f) = (f - y)^2 / (2 s^2) + log s + log(2 pi) / 2
 *   d/df          = (f - y) / s^2
 * The constant is kept so that the reported NLL is a true log density (it
 * does not change a gradient). The predictive of one weight sample is f
 * itself: the spread of f over samples is the epistemic part of the band,
 * s^2 the aleatoric part (analysis/toy.py adds them). */
#include <math.h>
#include <stddef.h>

#include "bnnsweep/likelihood.h"

static double gaussian_nll(const bns_likelihood *self, const float *out, const void *targets, int batch, int n_out,
                           float grad_scale, float *grad_out) {
    const float *y = targets;
    double s = self->noise_std, inv_var = 1.0 / (s * s);
    double constant = log(s) + 0.5 * log(2.0 * 3.14159265358979323846);
    double nll = 0.0;
    for (size_t i = 0; i < (size_t)batch * n_out; i++) {
        double r = (double)out[i] - y[i];
        nll += 0.5 * r * r * inv_var + constant;
        if (grad_out) grad_out[i] = grad_scale * (float)(r * inv_var);
    }
    return nll;
}

static void gaussian_predict(const float *out, int batch, int n_out, float *pred) {
    if (pred != out)
        for (size_t i = 0; i < (size_t)batch * n_out; i++) pred[i] = out[i];
}

const bns_likelihood bns_likelihood_gaussian = {
    .name = "gaussian",
    .nll = gaussian_nll,
    .predict = gaussian_predict,
    .real_targets = 1,
    .noise_std = 0.02, /* the toy's e ~ N(0, 0.02^2) (METHODS.md s.12); the model's setting overrides it */
};
