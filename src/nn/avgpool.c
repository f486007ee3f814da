/* avgpool.c - average pooling over k x k windows with a stride (no padding), NCHW rows. */
#include <string.h>

#include "bnnsweep/net.h"

static void avgpool_forward(const bns_layer *op, const float *w, const float *x, int ld_x, int batch, float *y,
                            bns_net_workspace *ws) {
    (void)w, (void)ws;
    int k = op->k, s = op->stride, H = op->in.h, W = op->in.w, Ho = op->out.h, Wo = op->out.w;
    float scale = 1.0f / (float)(k * k);
    for (int n = 0; n < batch; n++)
        for (int c = 0; c < op->in.c; c++) {
            const float *in = x + (size_t)n * ld_x + (size_t)c * H * W;
            float *out = y + (size_t)n * op->n_out + (size_t)c * Ho * Wo;
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    const float *win = in + (size_t)oh * s * W + (size_t)ow * s;
                    float sum = 0.0f;
                    for (int i = 0; i < k; i++)
                        for (int j = 0; j < k; j++) sum += win[(size_t)i * W + j];
                    out[(size_t)oh * Wo + ow] = sum * scale;
                }
        }
}

static void avgpool_backward(const bns_layer *op, const float *w, const float *x, int ld_x, const float *y,
                             float *grad_y, int batch, float *grad_w, float *grad_x, int ld_grad_x,
                             bns_net_workspace *ws) {
    (void)w, (void)x, (void)ld_x, (void)y, (void)grad_w, (void)ws;
    if (!grad_x) return;
    int k = op->k, s = op->stride, H = op->in.h, W = op->in.w, Ho = op->out.h, Wo = op->out.w;
    float scale = 1.0f / (float)(k * k);
    for (int n = 0; n < batch; n++) {
        memset(grad_x + (size_t)n * ld_grad_x, 0, sizeof(float) * op->n_in);
        for (int c = 0; c < op->in.c; c++) {
            const float *g = grad_y + (size_t)n * op->n_out + (size_t)c * Ho * Wo;
            float *gx = grad_x + (size_t)n * ld_grad_x + (size_t)c * H * W;
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    float share = g[(size_t)oh * Wo + ow] * scale;
                    float *win = gx + (size_t)oh * s * W + (size_t)ow * s;
                    for (int i = 0; i < k; i++)
                        for (int j = 0; j < k; j++) win[(size_t)i * W + j] += share;
                }
        }
    }
}

const bns_layer_type bns_layer_avgpool = {
    .name = "avgpool",
    .forward = avgpool_forward,
    .backward = avgpool_backward,
};
