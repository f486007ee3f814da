/* net.c - the network as a list of layers (net.h): FC shapes, the layer loop forward and backward, the layer-type table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bnnsweep/error.h"
#include "bnnsweep/net.h"
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
    out->n_inputs = widths[0];
    out->n_classes = widths[n_layers];
    /* the layer list: dense, relu, ..., dense */
    for (int l = 0; l < n_layers; l++) {
        bns_layer *d = &out->ops[out->n_ops++];
        *d = (bns_layer){&bns_layer_dense, widths[l], widths[l + 1], l, offset, 0};
        out->weight_offset[l] = offset;
        offset += (size_t)widths[l] * widths[l + 1];
        d->bias_offset = out->bias_offset[l] = offset;
        offset += (size_t)widths[l + 1];
        if (l + 1 < n_layers) out->ops[out->n_ops++] = (bns_layer){&bns_layer_relu, widths[l + 1], widths[l + 1], -1, 0, 0};
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

void bns_net_workspace_init(bns_net_workspace *ws, const bns_arch *arch, int max_batch) {
    memset(ws, 0, sizeof *ws);
    ws->max_batch = max_batch;
    for (int i = 0; i < arch->n_ops; i++) {
        const bns_layer *op = &arch->ops[i];
        if (op->type->in_place && i > 0) {
            ws->out[i] = ws->out[i - 1]; /* in place */
            continue;
        }
        ws->out[i] = ws->owned[i] = bns_xmalloc(sizeof(float) * (size_t)max_batch * op->n_out);
    }
    for (int i = 0; i < 2; i++) ws->grad[i] = bns_xmalloc(sizeof(float) * (size_t)max_batch * arch->max_width);
}

void bns_net_workspace_free(bns_net_workspace *ws) {
    for (int i = 0; i < BNS_MAX_OPS; i++) free(ws->owned[i]);
    free(ws->grad[0]);
    free(ws->grad[1]);
    memset(ws, 0, sizeof *ws);
}

float *bns_net_forward_from(const bns_arch *arch, int first, const float *w, const float *x, int ld_x, int batch,
                            bns_net_workspace *ws) {
    ws->input = x;
    ws->input_ld = ld_x;
    const float *in = x;
    int ld = ld_x;
    for (int i = first; i < arch->n_ops; i++) {
        const bns_layer *op = &arch->ops[i];
        op->type->forward(op, w, in, ld, batch, ws->out[i]);
        in = ws->out[i];
        ld = op->n_out;
    }
    return ws->out[arch->n_ops - 1];
}

float *bns_net_forward(const bns_arch *arch, const float *w, const float *x, int batch, bns_net_workspace *ws) {
    return bns_net_forward_from(arch, 0, w, x, arch->n_inputs, batch, ws);
}

void bns_net_backward_from(const bns_arch *arch, int first, const float *w, int batch, bns_net_workspace *ws,
                           float *grad_logits, float *grad_w, float *grad_x, int ld_grad_x) {
    float *grad_out = grad_logits; /* w.r.t. the output of layer i */
    int ping = 0;
    for (int i = arch->n_ops - 1; i >= first; i--) {
        const bns_layer *op = &arch->ops[i];
        int is_first = i == first;
        const float *in = is_first ? ws->input : ws->out[i - 1];
        int ld_in = is_first ? ws->input_ld : op->n_in;
        if (op->type->in_place) {
            op->type->backward(op, w, in, ld_in, ws->out[i], grad_out, batch, grad_w, grad_out, op->n_in);
            continue;
        }
        float *grad_in = is_first ? grad_x : ws->grad[ping];
        ping ^= 1;
        op->type->backward(op, w, in, ld_in, ws->out[i], grad_out, batch, grad_w, grad_in,
                           is_first ? ld_grad_x : op->n_in);
        grad_out = grad_in;
    }
}

void bns_net_backward(const bns_arch *arch, const float *w, int batch, bns_net_workspace *ws,
                      float *grad_logits, float *grad_w, float *grad_x) {
    bns_net_backward_from(arch, 0, w, batch, ws, grad_logits, grad_w, grad_x, arch->n_inputs);
}

/* the layer types, one line each */
static const bns_layer_type *const layer_types[] = {
    &bns_layer_dense,
    &bns_layer_relu,
    NULL,
};

const bns_layer_type *bns_layer_type_find(const char *name) {
    for (int i = 0; layer_types[i]; i++)
        if (strcmp(layer_types[i]->name, name) == 0) return layer_types[i];
    return NULL;
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
