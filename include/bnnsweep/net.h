/* net.h - a network as a list of layers over one flat weight vector.
 *
 * A network is a list of layers (bns_layer: dense, relu; conv and pooling
 * later), each with explicit forward/backward over flat row-major arrays.
 * The parameters of every layer live in one vector w of arch.n_weights
 * floats: a dense layer's W ([n_in][n_out], row-major) at its weight_offset,
 * then its bias at bias_offset. Every inference method keeps its posterior in
 * terms of such vectors (a point estimate, mu and rho, stored samples, ...)
 * and hands the forward pass a weight vector, so training, evaluation and
 * attacks all run the same layer loop (bns_net_forward / bns_net_backward);
 * methods with their own layer variants (LRT) walk the same list.
 *
 * The FC view (width[], weight_offset[] and bias_offset[] per dense layer)
 * stays for FC shapes: "FC-100-100-10" is dense, relu, dense, relu, dense.
 */
#ifndef BNNSWEEP_NET_H
#define BNNSWEEP_NET_H

#include <stddef.h>
#include <stdint.h>

#define BNS_MAX_LAYERS 8                     /* dense layers */
#define BNS_MAX_OPS (2 * BNS_MAX_LAYERS)     /* entries of the layer list */

struct bns_layer;

/* A kind of layer: one file in src/nn/ defines it (dense.c, relu.c), and one
 * line of the table in net.c lists it. Its forward/backward work on flat
 * row-major arrays and allocate nothing. */
typedef struct bns_layer_type {
    const char *name;
    int in_place;      /* the output overwrites the input, and the backward the gradient */
    int has_params;    /* W at weight_offset, b at bias_offset */
    /* y (batch x n_out) from x (batch x n_in, row stride ld_x); in place: y == x */
    void (*forward)(const struct bns_layer *op, const float *w, const float *x, int ld_x, int batch, float *y);
    /* From grad_y = d/dy (may be overwritten): the parameter gradients at
     * grad_w's offsets (grad_w NULL: skipped) and d/dx into grad_x (row
     * stride ld_grad_x; NULL: skipped). y is the forward's output; in place:
     * grad_x == grad_y. */
    void (*backward)(const struct bns_layer *op, const float *w, const float *x, int ld_x, const float *y,
                     float *grad_y, int batch, float *grad_w, float *grad_x, int ld_grad_x);
} bns_layer_type;

extern const bns_layer_type bns_layer_dense;  /* y = x W + b */
extern const bns_layer_type bns_layer_relu;   /* y = max(x, 0), in place */
/* NULL if unknown */
const bns_layer_type *bns_layer_type_find(const char *name);

typedef struct bns_layer {
    const bns_layer_type *type;
    int n_in, n_out;       /* features per example */
    int dense_index;       /* a dense layer's index among the dense layers: /layers/<i> in model files */
    size_t weight_offset;  /* has_params: W at w + weight_offset */
    size_t bias_offset;    /* has_params: b at w + bias_offset */
} bns_layer;

typedef struct {
    int n_inputs, n_classes;
    int n_ops;                           /* entries of the layer list */
    bns_layer ops[BNS_MAX_OPS];
    /* FC view: the dense layers */
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
    int input_ld;                        /* its row stride (floats) */
    float *out[BNS_MAX_OPS];             /* output of layer i: batch x n_out (in-place layers: their input's) */
    float *owned[BNS_MAX_OPS];           /* the buffers allocated here */
    float *grad[2];                      /* ping-pong activation gradients */
} bns_net_workspace;

void bns_net_workspace_init(bns_net_workspace *ws, const bns_arch *arch, int max_batch);
void bns_net_workspace_free(bns_net_workspace *ws);

/* Forward x (batch x width[0]) through weights w; returns the logits (in ws). */
float *bns_net_forward(const bns_arch *arch, const float *w, const float *x, int batch,
                       bns_net_workspace *ws);
/* Backward from grad_logits (batch x classes, consumed) to grad_w (overwritten;
 * NULL skips the weight gradients) and, if grad_x is not NULL, the input
 * gradient (used by attacks). */
void bns_net_backward(const bns_arch *arch, const float *w, int batch, bns_net_workspace *ws,
                      float *grad_logits, float *grad_w, float *grad_x);

/* The same over layers [first, n_ops) only, from an input x with row stride
 * ld_x (the output of layer first - 1, computed elsewhere: BBB's vectorized
 * first layer), and its gradient written with row stride ld_grad_x. */
float *bns_net_forward_from(const bns_arch *arch, int first, const float *w, const float *x, int ld_x, int batch,
                            bns_net_workspace *ws);
void bns_net_backward_from(const bns_arch *arch, int first, const float *w, int batch, bns_net_workspace *ws,
                           float *grad_logits, float *grad_w, float *grad_x, int ld_grad_x);

/* argmax of each row of logits or probabilities */
void bns_argmax_rows(const float *rows, int n, int n_classes, uint8_t *out);
/* rows whose argmax equals the label */
int bns_count_correct(const float *rows, const uint8_t *labels, int n, int n_classes);

#endif
