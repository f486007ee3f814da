/* maxpool.c - max pooling over k x k windows with a stride (no padding), NCHW rows.
 * The backward pass sends each output's gradient to the first input of its
 * window that equals the output (recomputed from x and y: no index buffer). */
#include <string.h>

#include "bnnsweep/net.h"

static void maxpool_forward(const bns_layer *op, const float *w, const float *x, int ld_x, int batch, float *y,
                            bns_net_workspace *ws) {
    (void)w, (void)ws;
    int k = op->k, s = op->stride, H = op->in.h, W = op->in.w, Ho = op->out.h, Wo = op->out.w;
    for (int n = 0; n < batch; n++)
        for (int c = 0; c < op->in.c; c++) {
            const float *in = x + (size_t)n * ld_x + (size_t)c * H * W;
            float *out = y + (size_t)n * op->n_out + (size_t)c * Ho * Wo;
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    const float *win = in + (size_t)oh * s * W + (size_t)ow * s;
                    float best = win[0];
                    for (int i = 0; i < k; i++)
                        for (int j = 0; j < k; j++)
                            if (win[(size_t)i * W + j] > best) best = win[(size_t)i * W + j];
                    out[(size_t)oh * Wo + ow] = best;
                }
        }
}

static void maxpool_backward(const bns_layer *op, const float *w, const float *x, int ld_x, const float *y,
                             float *grad_y, int batch, float *grad_w, float *grad_x, int ld_grad_x,
                             bns_net_workspace *ws) {
    (void)w, (void)grad_w, (void)ws;
    if (!grad_x) return;
    int k = op->k, s = op->stride, H = op->in.h, W = op->in.w, Ho = op->out.h, Wo = op->out.w;
    for (int n = 0; n < batch; n++) {
        memset(grad_x + (size_t)n * ld_grad_x, 0, sizeof(float) * op->n_in);
        for (int c = 0; c < op->in.c; c++) {
            const float *in = x + (size_t)n * ld_x + (size_t)c * H * W;
            const float *out = y + (size_t)n * op->n_out + (size_t)c * Ho * Wo;
            const float *g = grad_y + (size_t)n * op->n_out + (size_t)c * Ho * Wo;
            float *gx = grad_x + (size_t)n * ld_grad_x + (size_t)c * H * W;
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    size_t base = (size_t)oh * s * W + (size_t)ow * s, at = base;
                    float best = out[(size_t)oh * Wo + ow];
                    for (int i = k - 1; i >= 0; i--) /* the first match in reading order wins */
                        for (int j = k - 1; j >= 0; j--)
                            if (in[base + (size_t)i * W + j] == best) at = base + (size_t)i * W + j;
                    gx[at] += g[(size_t)oh * Wo + ow];
                }
        }
    }
}

const bns_layer_type bns_layer_maxpool = {
    .name = "maxpool",
    .forward = maxpool_forward,
    .backward = maxpool_backward,
};
