/* mlp.h - a fully connected ReLU network as a shape plus one flat weight vector.
 *
 * The weights of every layer live in one vector w of arch.n_weights floats:
 * layer l's W ([n_in][n_out], row-major) at weight_offset[l], then its bias at
 * bias_offset[l]. A Bayesian posterior stores mu and rho in the same layout,
 * so a weight sample is just another w, and everything downstream (training,
 * evaluation, attacks) runs the same forward/backward on it.
 */
#ifndef BNNSWEEP_MLP_H
#define BNNSWEEP_MLP_H

#include <stddef.h>
#include <stdint.h>

#define BNS_MAX_LAYERS 8

typedef struct {
    int n_layers;                        /* dense layers (FC-100-100-10 has 3) */
    int width[BNS_MAX_LAYERS + 1];       /* width[0] = inputs, width[n_layers] = classes */
    size_t weight_offset[BNS_MAX_LAYERS];
    size_t bias_offset[BNS_MAX_LAYERS];
    size_t n_weights;                    /* length of w, biases included */
    int max_width;                       /* widest layer, inputs included */
} bns_arch;

/* "FC-100-100-10" (hidden widths then classes; "FC-10" has no hidden layer). */
int bns_arch_parse(const char *spec, int n_inputs, bns_arch *out);
void bns_arch_format(const bns_arch *arch, char *buf, size_t size);
/* From explicit widths: widths[0] inputs ... widths[n_layers] classes. */
int bns_arch_from_widths(const int *widths, int n_layers, bns_arch *out);

/* Activations of one forward pass, kept for the backward pass. */
typedef struct {
    int max_batch;
    const float *input;                  /* not owned: the batch last forwarded */
    float *act[BNS_MAX_LAYERS + 1];      /* act[l] for l >= 1: batch x width[l] (act[L] = logits) */
    float *grad[2];                      /* ping-pong activation gradients */
} bns_mlp_workspace;

void bns_mlp_workspace_init(bns_mlp_workspace *ws, const bns_arch *arch, int max_batch);
void bns_mlp_workspace_free(bns_mlp_workspace *ws);

/* Forward x (batch x width[0]) through weights w; returns the logits (in ws). */
float *bns_mlp_forward(const bns_arch *arch, const float *w, const float *x, int batch,
                       bns_mlp_workspace *ws);
/* Backward from grad_logits (batch x classes, consumed) to grad_w (overwritten;
 * NULL skips the weight gradients) and, if grad_x is not NULL, the input
 * gradient (used by attacks). */
void bns_mlp_backward(const bns_arch *arch, const float *w, int batch, bns_mlp_workspace *ws,
                      float *grad_logits, float *grad_w, float *grad_x);

/* argmax of each row of logits or probabilities */
void bns_argmax_rows(const float *rows, int n, int n_classes, uint8_t *out);
/* rows whose argmax equals the label */
int bns_count_correct(const float *rows, const uint8_t *labels, int n, int n_classes);

#endif
