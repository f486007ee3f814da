/* dense.c - fully connected layer Y = X W + b over cblas_sgemm. */
#include <string.h>

#include "bnnsweep/backend.h"
#include "bnnsweep/net.h"
#include "bnnsweep/nn.h"

void bns_dense_forward_ld(const float *x, int ld_x, int batch, int n_in, int n_out, const float *weight,
                          const float *bias, float *y) {
    for (int i = 0; i < batch; i++) memcpy(y + (size_t)i * n_out, bias, sizeof(float) * n_out);
    bns_gemm(0, 0, batch, n_out, n_in, 1.0f, x, ld_x, weight, n_out, 1.0f, y, n_out);
}

void bns_dense_forward(const float *x, int batch, int n_in, int n_out, const float *weight,
                       const float *bias, float *y) {
    bns_dense_forward_ld(x, n_in, batch, n_in, n_out, weight, bias, y);
}

void bns_dense_backward(const float *x, const float *grad_y, int batch, int n_in, int n_out,
                        const float *weight, float *grad_weight, float *grad_bias, float *grad_x) {
    bns_dense_backward_ld(x, n_in, grad_y, batch, n_in, n_out, weight, grad_weight, grad_bias, grad_x, n_in);
}

void bns_dense_backward_ld(const float *x, int ld_x, const float *grad_y, int batch, int n_in, int n_out,
                           const float *weight, float *grad_weight, float *grad_bias, float *grad_x, int ld_grad_x) {
    /* dW = X^T dY, db = column sums of dY, dX = dY W^T; attacks need only dX */
    if (grad_weight) {
        bns_gemm(1, 0, n_in, n_out, batch, 1.0f, x, ld_x, grad_y, n_out, 0.0f, grad_weight, n_out);
        memset(grad_bias, 0, sizeof(float) * n_out);
        for (int i = 0; i < batch; i++) {
            const float *row = grad_y + (size_t)i * n_out;
            for (int j = 0; j < n_out; j++) grad_bias[j] += row[j];
        }
    }
    if (grad_x) bns_gemm(0, 1, batch, n_in, n_out, 1.0f, grad_y, n_out, weight, n_out, 0.0f, grad_x, ld_grad_x);
}

/* ---- as a layer of a network (net.h) ---- */

static void dense_layer_forward(const bns_layer *op, const float *w, const float *x, int ld_x, int batch, float *y,
                               bns_net_workspace *ws) {
    (void)ws;
    bns_dense_forward_ld(x, ld_x, batch, op->n_in, op->n_out, w + op->weight_offset, w + op->bias_offset, y);
}

static void dense_layer_backward(const bns_layer *op, const float *w, const float *x, int ld_x, const float *y,
                                 float *grad_y, int batch, float *grad_w, float *grad_x, int ld_grad_x,
                                bns_net_workspace *ws) {
    (void)ws;
    (void)y;
    bns_dense_backward_ld(x, ld_x, grad_y, batch, op->n_in, op->n_out, w + op->weight_offset,
                          grad_w ? grad_w + op->weight_offset : NULL, grad_w ? grad_w + op->bias_offset : NULL,
                          grad_x, ld_grad_x);
}

const bns_layer_type bns_layer_dense = {
    .name = "dense",
    .in_place = 0,
    .has_params = 1,
    .forward = dense_layer_forward,
    .backward = dense_layer_backward,
};
