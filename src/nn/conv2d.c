/* conv2d.c - 2-D convolution (stride, zero padding) lowered onto cblas_sgemm by im2col.
 *
 * Rows are NCHW (net.h). Per example, im2col lays the input out as a
 * (C_in k k) x (H_out W_out) matrix col, one column per output pixel, so the
 * layer is one product Y = W col + b with W the C_out x (C_in k k) weights:
 * the output comes out in NCHW without a transpose. The backward pass is the
 * dense layer's three products on the same matrices (dW += dY col^T,
 * dcol = W^T dY), and col2im scatters dcol back onto the input pixels. The
 * col and dcol buffers (the workspace's scratch) are per example, so they
 * stay small (resnet20's largest: 144 x 1024 floats). */
#include <string.h>

#include "bnnsweep/backend.h"
#include "bnnsweep/net.h"

static size_t conv_rows(const bns_layer *op) { return (size_t)op->in.c * op->k * op->k; }
static size_t conv_cols(const bns_layer *op) { return (size_t)op->out.h * op->out.w; }

/* col[(c, i, j)][(oh, ow)] = x[c][oh s + i - pad][ow s + j - pad], 0 outside the image */
static void im2col(const bns_layer *op, const float *x, float *col) {
    int k = op->k, s = op->stride, pad = op->pad, H = op->in.h, W = op->in.w, Ho = op->out.h, Wo = op->out.w;
    for (int c = 0; c < op->in.c; c++)
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) {
                float *row = col + (((size_t)c * k + i) * k + j) * Ho * Wo;
                for (int oh = 0; oh < Ho; oh++) {
                    int ih = oh * s + i - pad;
                    float *out = row + (size_t)oh * Wo;
                    if (ih < 0 || ih >= H) {
                        memset(out, 0, sizeof(float) * Wo);
                        continue;
                    }
                    const float *in = x + ((size_t)c * H + ih) * W;
                    for (int ow = 0; ow < Wo; ow++) {
                        int iw = ow * s + j - pad;
                        out[ow] = iw >= 0 && iw < W ? in[iw] : 0.0f;
                    }
                }
            }
}

/* the adjoint of im2col: dx[c][ih][iw] += every dcol entry that im2col copied from there */
static void col2im(const bns_layer *op, const float *dcol, float *dx) {
    int k = op->k, s = op->stride, pad = op->pad, H = op->in.h, W = op->in.w, Ho = op->out.h, Wo = op->out.w;
    memset(dx, 0, sizeof(float) * op->n_in);
    for (int c = 0; c < op->in.c; c++)
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) {
                const float *row = dcol + (((size_t)c * k + i) * k + j) * Ho * Wo;
                for (int oh = 0; oh < Ho; oh++) {
                    int ih = oh * s + i - pad;
                    if (ih < 0 || ih >= H) continue;
                    float *out = dx + ((size_t)c * H + ih) * W;
                    for (int ow = 0; ow < Wo; ow++) {
                        int iw = ow * s + j - pad;
                        if (iw >= 0 && iw < W) out[iw] += row[(size_t)oh * Wo + ow];
                    }
                }
            }
}

static size_t conv_scratch(const bns_layer *op, int max_batch) {
    (void)max_batch;
    return 2 * conv_rows(op) * conv_cols(op); /* col, dcol */
}

static void conv_forward(const bns_layer *op, const float *w, const float *x, int ld_x, int batch, float *y,
                         bns_net_workspace *ws) {
    int K = (int)conv_rows(op), P = (int)conv_cols(op), C = op->out.c;
    const float *weight = w + op->weight_offset, *bias = w + op->bias_offset;
    float *col = ws->scratch;
    for (int n = 0; n < batch; n++) {
        float *yn = y + (size_t)n * op->n_out;
        for (int c = 0; c < C; c++)
            for (int p = 0; p < P; p++) yn[(size_t)c * P + p] = bias[c];
        im2col(op, x + (size_t)n * ld_x, col);
        bns_gemm(0, 0, C, P, K, 1.0f, weight, K, col, P, 1.0f, yn, P);
    }
}

static void conv_backward(const bns_layer *op, const float *w, const float *x, int ld_x, const float *y,
                          float *grad_y, int batch, float *grad_w, float *grad_x, int ld_grad_x,
                          bns_net_workspace *ws) {
    (void)y;
    int K = (int)conv_rows(op), P = (int)conv_cols(op), C = op->out.c;
    const float *weight = w + op->weight_offset;
    float *col = ws->scratch, *dcol = ws->scratch + (size_t)K * P;
    float *grad_weight = grad_w ? grad_w + op->weight_offset : NULL, *grad_bias = grad_w ? grad_w + op->bias_offset : NULL;
    if (grad_w) {
        memset(grad_weight, 0, sizeof(float) * (size_t)C * K);
        memset(grad_bias, 0, sizeof(float) * C);
    }
    for (int n = 0; n < batch; n++) {
        const float *gn = grad_y + (size_t)n * op->n_out;
        if (grad_w) {
            im2col(op, x + (size_t)n * ld_x, col);
            bns_gemm(0, 1, C, K, P, 1.0f, gn, P, col, P, 1.0f, grad_weight, K);
            for (int c = 0; c < C; c++) {
                float sum = 0.0f;
                for (int p = 0; p < P; p++) sum += gn[(size_t)c * P + p];
                grad_bias[c] += sum;
            }
        }
        if (grad_x) {
            bns_gemm(1, 0, K, P, C, 1.0f, weight, K, gn, P, 0.0f, dcol, P);
            col2im(op, dcol, grad_x + (size_t)n * ld_grad_x);
        }
    }
}

const bns_layer_type bns_layer_conv2d = {
    .name = "conv2d",
    .in_place = 0,
    .has_params = 1,
    .scratch_floats = conv_scratch,
    .forward = conv_forward,
    .backward = conv_backward,
};
