/* relu.c - rectified linear unit, in place. */
#include "bnnsweep/net.h"
#include "bnnsweep/nn.h"

void bns_relu_forward(float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
}

void bns_relu_backward(const float *y, float *grad, size_t n) {
    for (size_t i = 0; i < n; i++) grad[i] = y[i] > 0.0f ? grad[i] : 0.0f;
}

/* ---- as a layer of a network (net.h): in place ---- */

static void relu_layer_forward(const bns_layer *op, const float *w, const float *x, int ld_x, int batch, float *y,
                               bns_net_workspace *ws) {
    (void)ws;
    (void)w, (void)x, (void)ld_x;
    bns_relu_forward(y, (size_t)batch * op->n_out);
}

static void relu_layer_backward(const bns_layer *op, const float *w, const float *x, int ld_x, const float *y,
                                float *grad_y, int batch, float *grad_w, float *grad_x, int ld_grad_x,
                                bns_net_workspace *ws) {
    (void)ws;
    (void)w, (void)x, (void)ld_x, (void)grad_w, (void)grad_x, (void)ld_grad_x;
    bns_relu_backward(y, grad_y, (size_t)batch * op->n_out);
}

const bns_layer_type bns_layer_relu = {
    .name = "relu",
    .in_place = 1,
    .has_params = 0,
    .forward = relu_layer_forward,
    .backward = relu_layer_backward,
};
