/* gap.c - global average pooling: each channel plane of an NCHW row to its mean (C x H x W -> C). */
#include "bnnsweep/net.h"

static void gap_forward(const bns_layer *op, const float *w, const float *x, int ld_x, int batch, float *y,
                        bns_net_workspace *ws) {
    (void)w, (void)ws;
    int C = op->in.c, P = op->in.h * op->in.w;
    for (int n = 0; n < batch; n++)
        for (int c = 0; c < C; c++) {
            const float *in = x + (size_t)n * ld_x + (size_t)c * P;
            float sum = 0.0f;
            for (int p = 0; p < P; p++) sum += in[p];
            y[(size_t)n * C + c] = sum / (float)P;
        }
}

static void gap_backward(const bns_layer *op, const float *w, const float *x, int ld_x, const float *y,
                         float *grad_y, int batch, float *grad_w, float *grad_x, int ld_grad_x, bns_net_workspace *ws) {
    (void)w, (void)x, (void)ld_x, (void)y, (void)grad_w, (void)ws;
    if (!grad_x) return;
    int C = op->in.c, P = op->in.h * op->in.w;
    for (int n = 0; n < batch; n++)
        for (int c = 0; c < C; c++) {
            float g = grad_y[(size_t)n * C + c] / (float)P, *out = grad_x + (size_t)n * ld_grad_x + (size_t)c * P;
            for (int p = 0; p < P; p++) out[p] = g;
        }
}

const bns_layer_type bns_layer_gap = {
    .name = "gap",
    .forward = gap_forward,
    .backward = gap_backward,
};
