/* nn.h - the neural-network building blocks over flat row-major arrays.
 *
 * dense:    Y = X W + b, W stored [n_in][n_out]
 * relu:     in place; its backward masks by the layer's output
 * softmax cross-entropy: sum of -log p(y|x) and the scaled logit gradient
 * lrt dense: the local reparameterisation trick (METHODS.md s.2)
 * Each has an explicit *_forward / *_backward; none allocates.
 */
#ifndef BNNSWEEP_NN_H
#define BNNSWEEP_NN_H

#include <stddef.h>
#include <stdint.h>

void bns_dense_forward(const float *x, int batch, int n_in, int n_out, const float *weight,
                       const float *bias, float *y);
/* The same with x's row stride ld_x (a column block of a wider matrix). */
void bns_dense_forward_ld(const float *x, int ld_x, int batch, int n_in, int n_out, const float *weight,
                          const float *bias, float *y);
/* grad_weight, grad_bias are overwritten (both NULL: skipped); grad_x (may be NULL) is overwritten. */
void bns_dense_backward(const float *x, const float *grad_y, int batch, int n_in, int n_out,
                        const float *weight, float *grad_weight, float *grad_bias, float *grad_x);
/* The same with row strides ld_x for x and ld_grad_x for grad_x. */
void bns_dense_backward_ld(const float *x, int ld_x, const float *grad_y, int batch, int n_in, int n_out,
                           const float *weight, float *grad_weight, float *grad_bias, float *grad_x, int ld_grad_x);

void bns_relu_forward(float *y, size_t n);
/* grad *= (y > 0), y being the relu output. */
void bns_relu_backward(const float *y, float *grad, size_t n);

/* Returns sum_i -log softmax(logits_i)[y_i]; writes grad_scale * (p - onehot)
 * into grad_logits when it is not NULL. */
double bns_softmax_xent(const float *logits, const uint8_t *labels, int batch, int n_classes,
                        float grad_scale, float *grad_logits);
/* Row-wise softmax (probs may alias logits). */
void bns_softmax(const float *logits, int batch, int n_classes, float *probs);

/* Local reparameterisation (METHODS.md s.2):
 *   gamma = A mu + mu_b, delta = (A*A)(sigma^2) + sigma_b^2, B = gamma + sqrt(delta) * zeta.
 * weight_var/bias_var hold sigma^2; act_sq, std_out are workspaces the
 * backward needs (batch*n_in and batch*n_out); zeta is given (batch*n_out). */
void bns_lrt_forward(const float *a, int batch, int n_in, int n_out, const float *weight_mu,
                     const float *bias_mu, const float *weight_var, const float *bias_var,
                     const float *zeta, float *act_sq, float *std_out, float *b);
/* The noise-free part of bns_lrt_forward: act_sq, std_out = sqrt(delta) and
 * gamma. A layer whose input is the same for every sample (the first) needs
 * it once per step; each sample then adds std_out * zeta. */
void bns_lrt_moments(const float *a, int batch, int n_in, int n_out, const float *weight_mu, const float *bias_mu,
                     const float *weight_var, const float *bias_var, float *act_sq, float *std_out, float *gamma);
/* Gradients w.r.t. mu and sigma^2 (overwritten) and the input (may be NULL).
 * grad_b and act_sq are consumed (reused as scratch). */
void bns_lrt_backward(const float *a, float *act_sq, const float *std_out, const float *zeta,
                      float *grad_b, int batch, int n_in, int n_out, const float *weight_mu,
                      const float *weight_var, float *grad_weight_mu, float *grad_bias_mu,
                      float *grad_weight_var, float *grad_bias_var, float *grad_a);

#endif
