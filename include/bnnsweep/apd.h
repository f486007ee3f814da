/* apd.h - the pieces of the apd method (src/methods/apd.c, METHODS.md s.10)
 * that tests check on their own: the GAN's losses and their gradients over a
 * generator network G (noise d -> hidden ReLU layers -> a classifier's weight
 * vector) and a critic D (weight vector -> hidden ReLU layers -> one score),
 * both ordinary networks of net.h. The method itself is registered like every
 * other (method.h); nothing else needs this header.
 */
#ifndef BNNSWEEP_APD_H
#define BNNSWEEP_APD_H

#include <stddef.h>
#include <stdint.h>

#include "bnnsweep/net.h"

/* The GAN formulation (setting apd_gan). */
enum bns_apd_gan { BNS_APD_WGAN_GP = 0, BNS_APD_WGAN = 1, BNS_APD_GAN = 2 };

/* Buffers of one GAN step over minibatches of `batch` parameter vectors,
 * allocated once (bns_apd_work_init). */
typedef struct {
    bns_arch gen, critic;
    int batch;
    bns_net_workspace gws, cws;       /* generator: batch rows; critic: 2 * batch (real then fake) */
    float *x;                         /* [2 batch, P]: the critic's real rows, then its fake rows (G's output buffer) */
    float *interp;                    /* [batch, P]: the gradient penalty's interpolates */
    float *g;                         /* [batch, P]: dD/dx of each interpolate, then u = dGP/dg */
    float *gout;                      /* [batch, P]: the generator loss's gradient w.r.t. G's output */
    float *dlogits;                   /* [2 batch] */
    float *e[BNS_MAX_LAYERS + 1];     /* e[l]: [batch, width l], masked backward vectors (double backprop) */
    float *r[BNS_MAX_LAYERS];         /* r[l]: [batch, width l], l >= 1: the tangent forward pass */
} bns_apd_work;

/* gen: widths noise_dim, hidden..., P; critic: P, hidden..., 1. */
void bns_apd_work_init(bns_apd_work *w, const bns_arch *gen, const bns_arch *critic, int batch);
void bns_apd_work_free(bns_apd_work *w);

/* The gradient penalty lambda / B sum_i (|dD/dx (x_i)|_2 - 1)^2 of the critic
 * with parameters cw at the B = w->batch rows of x; adds its gradient w.r.t.
 * cw to grad_cw (double backprop, derived in apd.c) and returns it. */
double bns_apd_gradient_penalty(bns_apd_work *w, double lambda, const float *cw, const float *x, float *grad_cw);

/* The critic's loss on B real and B fake rows (each [B, P]; either may be
 * w->x's own halves) and its gradient w.r.t. cw (overwritten):
 *   WGAN-GP: mean D(fake) - mean D(real) + the gradient penalty at
 *            x^_i = eps_i real_i + (1 - eps_i) fake_i (eps: B numbers in [0, 1]);
 *   WGAN:    mean D(fake) - mean D(real) (the caller clips the weights);
 *   GAN:     mean softplus(-D(real)) + mean softplus(D(fake)) (D a logit).
 * *penalty (may be NULL) receives the gradient penalty (0 unless WGAN-GP). */
double bns_apd_critic_grad(bns_apd_work *w, int gan, double lambda, const float *cw, const float *real,
                           const float *fake, const float *eps, float *grad_cw, double *penalty);

/* The generator's loss on G(z) for the B noise rows z ([B, noise_dim]) and
 * its gradient w.r.t. gw (overwritten): WGAN(-GP): -mean D(G(z)); GAN: the
 * non-saturating mean softplus(-D(G(z))). */
double bns_apd_generator_grad(bns_apd_work *w, int gan, const float *gw, const float *cw, const float *z,
                              float *grad_gw);

/* One output of the generator, G(z) for one noise vector z, into out (P
 * floats); the hidden activations use `hidden` (sum of the hidden widths). */
void bns_apd_generate(const bns_arch *gen, const float *gw, const float *z, float *hidden, float *out);

/* Online APD's buffer: the SGLD iterates kept by step `step` (iterate t is
 * kept when t > burn_in and (t - burn_in) % thin == 0, as sgld.c keeps
 * them), at most `capacity` (the bounded buffer: the oldest go first). */
long bns_apd_online_kept(uint64_t step, long burn_in, long thin, long capacity);

#endif
