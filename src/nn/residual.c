/* residual.c - residual additions: a save layer marks a block's input, a later
 * add layer adds it back (net.h: "Residual blocks").
 *
 * add: y = x + S(saved), S = every stride-th pixel of the saved channels,
 * placed at channel offset (C - C_saved) / 2 with zeros around them (He et
 * al. 2016's option A, as the usual CIFAR ResNet code pads: half the new
 * channels on each side). Its backward keeps d/dx = d/dy and writes
 * S^T(d/dy) into the save layer's state; the save layer's backward adds that
 * to the gradient that reached it through the block. Both in place. */
#include <string.h>

#include "bnnsweep/net.h"

static size_t save_state(const bns_layer *op, int max_batch) { return (size_t)max_batch * op->n_out; }

static void save_forward(const bns_layer *op, const float *w, const float *x, int ld_x, int batch, float *y,
                         bns_net_workspace *ws) {
    (void)op, (void)w, (void)x, (void)ld_x, (void)batch, (void)y, (void)ws; /* the identity, in place */
}

static void save_backward(const bns_layer *op, const float *w, const float *x, int ld_x, const float *y,
                          float *grad_y, int batch, float *grad_w, float *grad_x, int ld_grad_x, bns_net_workspace *ws) {
    (void)w, (void)x, (void)ld_x, (void)y, (void)grad_w, (void)grad_x, (void)ld_grad_x;
    const float *skip = ws->state[op->index];
    size_t n = (size_t)batch * op->n_out;
    for (size_t i = 0; i < n; i++) grad_y[i] += skip[i];
}

const bns_layer_type bns_layer_save = {
    .name = "save",
    .in_place = 1,
    .state_floats = save_state,
    .forward = save_forward,
    .backward = save_backward,
};

static void add_forward(const bns_layer *op, const float *w, const float *x, int ld_x, int batch, float *y,
                        bns_net_workspace *ws) {
    (void)w, (void)x, (void)ld_x;
    const float *saved = ws->out[op->link];
    int s = op->stride, C0 = op->skip.c, H0 = op->skip.h, W0 = op->skip.w, H = op->out.h, W = op->out.w;
    size_t n_saved = (size_t)C0 * H0 * W0;
    int offset = (op->out.c - C0) / 2;
    for (int n = 0; n < batch; n++)
        for (int c = 0; c < C0; c++) {
            const float *in = saved + (size_t)n * n_saved + (size_t)c * H0 * W0;
            float *out = y + (size_t)n * op->n_out + (size_t)(c + offset) * H * W;
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) out[(size_t)i * W + j] += in[(size_t)i * s * W0 + (size_t)j * s];
        }
}

static void add_backward(const bns_layer *op, const float *w, const float *x, int ld_x, const float *y,
                         float *grad_y, int batch, float *grad_w, float *grad_x, int ld_grad_x, bns_net_workspace *ws) {
    (void)w, (void)x, (void)ld_x, (void)y, (void)grad_w, (void)grad_x, (void)ld_grad_x;
    float *skip = ws->state[op->link];
    int s = op->stride, C0 = op->skip.c, H0 = op->skip.h, W0 = op->skip.w, H = op->out.h, W = op->out.w;
    size_t n_saved = (size_t)C0 * H0 * W0;
    int offset = (op->out.c - C0) / 2;
    memset(skip, 0, sizeof(float) * (size_t)batch * n_saved);
    for (int n = 0; n < batch; n++)
        for (int c = 0; c < C0; c++) {
            float *out = skip + (size_t)n * n_saved + (size_t)c * H0 * W0;
            const float *g = grad_y + (size_t)n * op->n_out + (size_t)(c + offset) * H * W;
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) out[(size_t)i * s * W0 + (size_t)j * s] = g[(size_t)i * W + j];
        }
}

const bns_layer_type bns_layer_add = {
    .name = "add",
    .in_place = 1,
    .forward = add_forward,
    .backward = add_backward,
};
