/* mlp.c - forward and backward of a ReLU MLP over one flat weight vector. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/error.h"
#include "bnnsweep/mlp.h"
#include "bnnsweep/nn.h"

int bns_arch_from_widths(const int *widths, int n_layers, bns_arch *out) {
    memset(out, 0, sizeof *out);
    if (n_layers < 1 || n_layers > BNS_MAX_LAYERS)
        return bns_fail("architecture must have 1 to %d layers, got %d", BNS_MAX_LAYERS, n_layers);
    out->n_layers = n_layers;
    size_t offset = 0;
    for (int l = 0; l <= n_layers; l++) {
        if (widths[l] < 1 || widths[l] > 1000000)
            return bns_fail("layer width %d is out of range (1..1000000)", widths[l]);
        out->width[l] = widths[l];
        if (widths[l] > out->max_width) out->max_width = widths[l];
    }
    for (int l = 0; l < n_layers; l++) {
        out->weight_offset[l] = offset;
        offset += (size_t)widths[l] * widths[l + 1];
        out->bias_offset[l] = offset;
        offset += (size_t)widths[l + 1];
    }
    out->n_weights = offset;
    return 0;
}

int bns_arch_parse(const char *spec, int n_inputs, bns_arch *out) {
    int widths[BNS_MAX_LAYERS + 2];
    int n = 0;
    const char *p = spec;
    if (strncmp(p, "FC-", 3) == 0 || strncmp(p, "fc-", 3) == 0) p += 3;
    widths[n++] = n_inputs;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 1000000)
            return bns_fail("architecture '%s': expected widths like FC-100-100-10", spec);
        if (n > BNS_MAX_LAYERS)
            return bns_fail("architecture '%s': more than %d layers", spec, BNS_MAX_LAYERS);
        widths[n++] = (int)v;
        p = end;
        if (*p == '-' || *p == ',') p++;
        else if (*p) return bns_fail("architecture '%s': unexpected '%c'", spec, *p);
    }
    if (n < 2) return bns_fail("architecture '%s': no layers", spec);
    return bns_arch_from_widths(widths, n - 1, out);
}

void bns_arch_format(const bns_arch *arch, char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "FC");
    for (int l = 1; l <= arch->n_layers && used < size; l++)
        used += (size_t)snprintf(buf + used, size - used, "-%d", arch->width[l]);
}

void bns_mlp_workspace_init(bns_mlp_workspace *ws, const bns_arch *arch, int max_batch) {
    memset(ws, 0, sizeof *ws);
    ws->max_batch = max_batch;
    for (int l = 1; l <= arch->n_layers; l++)
        ws->act[l] = bns_xmalloc(sizeof(float) * (size_t)max_batch * arch->width[l]);
    for (int i = 0; i < 2; i++) ws->grad[i] = bns_xmalloc(sizeof(float) * (size_t)max_batch * arch->max_width);
}

void bns_mlp_workspace_free(bns_mlp_workspace *ws) {
    for (int l = 0; l <= BNS_MAX_LAYERS; l++) free(ws->act[l]);
    free(ws->grad[0]);
    free(ws->grad[1]);
    memset(ws, 0, sizeof *ws);
}

float *bns_mlp_forward(const bns_arch *arch, const float *w, const float *x, int batch,
                       bns_mlp_workspace *ws) {
    ws->input = x;
    const float *in = x;
    for (int l = 0; l < arch->n_layers; l++) {
        int n_in = arch->width[l], n_out = arch->width[l + 1];
        float *out = ws->act[l + 1];
        bns_dense_forward(in, batch, n_in, n_out, w + arch->weight_offset[l], w + arch->bias_offset[l], out);
        if (l + 1 < arch->n_layers) bns_relu_forward(out, (size_t)batch * n_out);
        in = out;
    }
    return ws->act[arch->n_layers];
}

void bns_mlp_backward(const bns_arch *arch, const float *w, int batch, bns_mlp_workspace *ws,
                      float *grad_logits, float *grad_w, float *grad_x) {
    float *grad_out = grad_logits;
    for (int l = arch->n_layers - 1; l >= 0; l--) {
        int n_in = arch->width[l], n_out = arch->width[l + 1];
        const float *in = l > 0 ? ws->act[l] : ws->input;
        float *grad_in = l > 0 ? ws->grad[l % 2] : grad_x;
        bns_dense_backward(in, grad_out, batch, n_in, n_out, w + arch->weight_offset[l],
                           grad_w ? grad_w + arch->weight_offset[l] : NULL,
                           grad_w ? grad_w + arch->bias_offset[l] : NULL, grad_in);
        if (l > 0) bns_relu_backward(ws->act[l], grad_in, (size_t)batch * n_in);
        grad_out = grad_in;
    }
}

void bns_argmax_rows(const float *rows, int n, int n_classes, uint8_t *out) {
    for (int i = 0; i < n; i++) {
        const float *r = rows + (size_t)i * n_classes;
        int best = 0;
        for (int c = 1; c < n_classes; c++)
            if (r[c] > r[best]) best = c;
        out[i] = (uint8_t)best;
    }
}

int bns_count_correct(const float *rows, const uint8_t *labels, int n, int n_classes) {
    int correct = 0;
    for (int i = 0; i < n; i++) {
        uint8_t pred;
        bns_argmax_rows(rows + (size_t)i * n_classes, 1, n_classes, &pred);
        correct += pred == labels[i];
    }
    return correct;
}
