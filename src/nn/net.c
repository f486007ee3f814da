/* net.c - the network as a list of layers (net.h): FC shapes, the named conv
 * nets (lenet, resnet20), the layer loop forward and backward, the layer-type table. */
#include <math.h>
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
        *d = (bns_layer){.type = &bns_layer_dense, .n_in = widths[l], .n_out = widths[l + 1], .dense_index = l,
                         .weight_offset = offset, .index = out->n_ops - 1};
        out->weight_offset[l] = offset;
        offset += (size_t)widths[l] * widths[l + 1];
        d->bias_offset = out->bias_offset[l] = offset;
        offset += (size_t)widths[l + 1];
        if (l + 1 < n_layers) {
            out->ops[out->n_ops] = (bns_layer){.type = &bns_layer_relu, .n_in = widths[l + 1], .n_out = widths[l + 1],
                                               .dense_index = -1, .index = out->n_ops};
            out->n_ops++;
        }
    }
    out->n_weights = offset;
    return 0;
}

int bns_layer_fan_in(const bns_layer *op) {
    if (op->type == &bns_layer_conv2d) return op->in.c * op->k * op->k;
    if (op->type == &bns_layer_batchnorm) return 1;
    return op->n_in;
}

int bns_layer_units(const bns_layer *op) {
    if (op->type == &bns_layer_dense) return op->n_out;
    return op->out.c;
}

int bns_arch_is_mlp(const bns_arch *arch, const char **bad) {
    for (int i = 0; i < arch->n_ops; i++)
        if (arch->ops[i].type != &bns_layer_dense && arch->ops[i].type != &bns_layer_relu) {
            if (bad) *bad = arch->ops[i].type->name;
            return 0;
        }
    return 1;
}

int bns_arch_require_mlp(const char *spec, const char *what) {
    bns_arch arch;
    const char *bad = NULL;
    if (bns_arch_parse(spec, 784, &arch)) return -1; /* any input size works for the check: MNIST's */
    if (bns_arch_is_mlp(&arch, &bad)) return 0;
    return bns_fail("%s cannot run layer %s of architecture %s (dense and relu layers only)", what, bad, spec);
}

/* ---- building image nets layer by layer ---- */

void bns_arch_begin(bns_arch *out, bns_shape in) {
    memset(out, 0, sizeof *out);
    out->input = in;
    out->n_inputs = in.c * in.h * in.w;
    out->width[0] = out->n_inputs;
    out->max_width = out->n_inputs;
}

static bns_shape last_shape(const bns_arch *a) {
    if (a->n_ops == 0) return (bns_shape){0, 0, 0};
    return a->ops[a->n_ops - 1].out;
}

static int last_n_out(const bns_arch *a) { return a->n_ops ? a->ops[a->n_ops - 1].n_out : a->n_inputs; }

static bns_layer *append(bns_arch *a, const bns_layer_type *type, bns_shape in, bns_shape out) {
    if (a->n_ops >= BNS_MAX_OPS) {
        bns_fail("architecture: more than %d layers", BNS_MAX_OPS);
        return NULL;
    }
    if (out.c < 1 || out.h < 1 || out.w < 1) {
        bns_fail("architecture: layer %d (%s) would output %dx%dx%d", a->n_ops, type->name, out.c, out.h, out.w);
        return NULL;
    }
    bns_layer *op = &a->ops[a->n_ops];
    memset(op, 0, sizeof *op);
    op->type = type;
    op->in = in;
    op->out = out;
    op->n_in = in.c * in.h * in.w;
    op->n_out = out.c * out.h * out.w;
    op->index = a->n_ops++;
    op->dense_index = -1;
    if (op->n_in > a->max_width) a->max_width = op->n_in;
    if (op->n_out > a->max_width) a->max_width = op->n_out;
    a->n_classes = op->n_out;
    return op;
}

static void give_params(bns_arch *a, bns_layer *op, size_t n_w, size_t n_b) {
    int index = 0;
    for (int i = 0; i < op->index; i++) index += a->ops[i].type->has_params;
    op->dense_index = index;
    op->weight_offset = a->n_weights;
    op->bias_offset = a->n_weights + n_w;
    a->n_weights += n_w + n_b;
}

static bns_shape cur_shape(const bns_arch *a) { return a->n_ops ? last_shape(a) : a->input; }

int bns_arch_add_conv(bns_arch *a, int c_out, int k, int stride, int pad) {
    bns_shape in = cur_shape(a);
    if (k < 1 || stride < 1 || pad < 0 || c_out < 1)
        return bns_fail("architecture: conv2d needs k, stride, channels >= 1 and pad >= 0");
    bns_shape out = {c_out, (in.h + 2 * pad - k) / stride + 1, (in.w + 2 * pad - k) / stride + 1};
    if (in.h + 2 * pad < k || in.w + 2 * pad < k)
        return bns_fail("architecture: conv2d %dx%d does not fit its %dx%d input", k, k, in.h, in.w);
    bns_layer *op = append(a, &bns_layer_conv2d, in, out);
    if (!op) return -1;
    op->k = k, op->stride = stride, op->pad = pad;
    give_params(a, op, (size_t)c_out * in.c * k * k, (size_t)c_out);
    return 0;
}

int bns_arch_add_pool(bns_arch *a, const bns_layer_type *type, int k, int stride) {
    bns_shape in = cur_shape(a);
    if (k < 1 || stride < 1 || in.h < k || in.w < k)
        return bns_fail("architecture: %s %dx%d (stride %d) does not fit its %dx%d input", type->name, k, k, stride,
                        in.h, in.w);
    bns_layer *op = append(a, type, in, (bns_shape){in.c, (in.h - k) / stride + 1, (in.w - k) / stride + 1});
    if (!op) return -1;
    op->k = k, op->stride = stride;
    return 0;
}

int bns_arch_add_simple(bns_arch *a, const bns_layer_type *type) {
    bns_shape in = cur_shape(a);
    if (type == &bns_layer_save && a->n_ops == 0)
        return bns_fail("architecture: a save layer cannot come first");
    if (a->n_ops && a->ops[a->n_ops - 1].type == &bns_layer_dense && type != &bns_layer_relu)
        return bns_fail("architecture: %s after a dense layer", type->name);
    if (a->n_ops && a->ops[a->n_ops - 1].type == &bns_layer_dense) in = (bns_shape){a->ops[a->n_ops - 1].n_out, 1, 1};
    bns_shape out = type == &bns_layer_gap ? (bns_shape){in.c, 1, 1} : in;
    bns_layer *op = append(a, type, in, out);
    if (!op) return -1;
    if (type == &bns_layer_batchnorm) give_params(a, op, (size_t)in.c, (size_t)in.c);
    return 0;
}

int bns_arch_add_add(bns_arch *a) {
    int link = -1;
    for (int i = a->n_ops - 1; i >= 0 && link < 0; i--) {
        if (a->ops[i].type == &bns_layer_add) return bns_fail("architecture: add layer without a save layer before it");
        if (a->ops[i].type == &bns_layer_save) link = i;
    }
    if (link < 0) return bns_fail("architecture: add layer without a save layer before it");
    bns_shape in = cur_shape(a), saved = a->ops[link].out;
    /* option A: the saved input is subsampled by the stride and zero-padded in channels */
    if (saved.c > in.c || in.h < 1 || saved.h % in.h || saved.w % in.w || saved.h / in.h != saved.w / in.w)
        return bns_fail("architecture: add layer cannot map the saved %dx%dx%d onto %dx%dx%d", saved.c, saved.h,
                        saved.w, in.c, in.h, in.w);
    bns_layer *op = append(a, &bns_layer_add, in, in);
    if (!op) return -1;
    op->link = link;
    op->skip = saved;
    op->stride = saved.h / in.h;
    return 0;
}

int bns_arch_add_dense(bns_arch *a, int n_out) {
    int n_in = last_n_out(a);
    bns_layer *op = append(a, &bns_layer_dense, (bns_shape){n_in, 1, 1}, (bns_shape){n_out, 1, 1});
    if (!op) return -1;
    give_params(a, op, (size_t)n_in * n_out, (size_t)n_out);
    return 0;
}

/* LeNet-5 style: conv5(6, pad 2) relu maxpool2, conv5(16) relu maxpool2, dense 120, 84, classes */
static int build_lenet(bns_arch *a) {
    return bns_arch_add_conv(a, 6, 5, 1, 2) || bns_arch_add_simple(a, &bns_layer_relu) ||
           bns_arch_add_pool(a, &bns_layer_maxpool, 2, 2) || bns_arch_add_conv(a, 16, 5, 1, 0) ||
           bns_arch_add_simple(a, &bns_layer_relu) || bns_arch_add_pool(a, &bns_layer_maxpool, 2, 2) ||
           bns_arch_add_dense(a, 120) || bns_arch_add_simple(a, &bns_layer_relu) || bns_arch_add_dense(a, 84) ||
           bns_arch_add_simple(a, &bns_layer_relu) || bns_arch_add_dense(a, 10)
               ? -1
               : 0;
}

/* He et al. 2016, s.4.2 (CIFAR): conv3(16) bn relu, 3 stages x 3 basic blocks of
 * 16/32/64 channels (the first block of stages 2 and 3 has stride 2 and an
 * option-A shortcut), global average pooling, dense to the classes. */
static int build_resnet20(bns_arch *a) {
    if (bns_arch_add_conv(a, 16, 3, 1, 1) || bns_arch_add_simple(a, &bns_layer_batchnorm) ||
        bns_arch_add_simple(a, &bns_layer_relu))
        return -1;
    for (int stage = 0; stage < 3; stage++)
        for (int block = 0; block < 3; block++) {
            int c = 16 << stage, stride = stage > 0 && block == 0 ? 2 : 1;
            if (bns_arch_add_simple(a, &bns_layer_save) || bns_arch_add_conv(a, c, 3, stride, 1) ||
                bns_arch_add_simple(a, &bns_layer_batchnorm) || bns_arch_add_simple(a, &bns_layer_relu) ||
                bns_arch_add_conv(a, c, 3, 1, 1) || bns_arch_add_simple(a, &bns_layer_batchnorm) ||
                bns_arch_add_add(a) || bns_arch_add_simple(a, &bns_layer_relu))
                return -1;
        }
    return bns_arch_add_simple(a, &bns_layer_gap) || bns_arch_add_dense(a, 10) ? -1 : 0;
}

static const struct {
    const char *name;
    int (*build)(bns_arch *a);
} named_archs[] = {
    {"lenet", build_lenet},
    {"resnet20", build_resnet20},
};

static int parse_named(const char *spec, int n_inputs, bns_arch *out) {
    for (size_t i = 0; i < sizeof named_archs / sizeof *named_archs; i++) {
        if (strcmp(spec, named_archs[i].name) != 0) continue;
        /* a square image: 1 channel if n_inputs is a square, else 3 */
        int c = 1, side = (int)(sqrt((double)n_inputs) + 0.5);
        if (side * side != n_inputs) c = 3, side = (int)(sqrt(n_inputs / 3.0) + 0.5);
        bns_arch_begin(out, (bns_shape){c, side, side});
        if (c * side * side != n_inputs || side < 8)
            return bns_fail("architecture '%s' needs square images (784 = 1x28x28, 3072 = 3x32x32), got %d inputs",
                            spec, n_inputs);
        if (named_archs[i].build(out)) return bns_fail_prefix("architecture '%s': ", spec);
        out->name = named_archs[i].name;
        return 0;
    }
    return 1;
}

int bns_arch_parse(const char *spec, int n_inputs, bns_arch *out) {
    int named = parse_named(spec, n_inputs, out);
    if (named <= 0) return named;
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

double bns_arch_macs(const bns_arch *arch) {
    double macs = 0;
    for (int i = 0; i < arch->n_ops; i++) {
        const bns_layer *op = &arch->ops[i];
        if (!op->type->has_params) continue;
        /* every weight and bias of the layer, used once per output pixel (dense: one "pixel") */
        double params = (double)(bns_layer_fan_in(op) + 1) * bns_layer_units(op); /* batch norm: 2 C */
        double pixels = op->type == &bns_layer_dense ? 1.0 : (double)op->out.h * op->out.w;
        macs += params * pixels;
    }
    return macs;
}

void bns_arch_format(const bns_arch *arch, char *buf, size_t size) {
    if (arch->name) {
        snprintf(buf, size, "%s", arch->name);
        return;
    }
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
    size_t scratch = 0;
    for (int i = 0; i < arch->n_ops; i++) {
        const bns_layer *op = &arch->ops[i];
        if (op->type->state_floats) {
            ws->state[i] = bns_xcalloc(op->type->state_floats(op, max_batch), sizeof(float));
            if (op->type->state_init) op->type->state_init(op, ws->state[i]);
        }
        if (op->type->scratch_floats && op->type->scratch_floats(op, max_batch) > scratch)
            scratch = op->type->scratch_floats(op, max_batch);
    }
    ws->training = 1;
    if (scratch) ws->scratch = bns_xmalloc(sizeof(float) * scratch);
    for (int i = 0; i < 2; i++) ws->grad[i] = bns_xmalloc(sizeof(float) * (size_t)max_batch * arch->max_width);
}

void bns_net_workspace_free(bns_net_workspace *ws) {
    for (int i = 0; i < BNS_MAX_OPS; i++) {
        free(ws->owned[i]);
        free(ws->state[i]);
    }
    free(ws->scratch);
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
        op->type->forward(op, w, in, ld, batch, ws->out[i], ws);
        in = ws->out[i];
        ld = op->n_out;
    }
    return ws->out[arch->n_ops - 1];
}

float *bns_net_forward(const bns_arch *arch, const float *w, const float *x, int batch, bns_net_workspace *ws) {
    return bns_net_forward_from(arch, 0, w, x, arch->n_inputs, batch, ws);
}

/* floats of layer op's kept statistics (net.h) */
static size_t stat_floats(const bns_layer *op) {
    size_t n = 0;
    for (const char *const *name = op->type->stat_names; name && *name; name++) n += (size_t)op->in.c;
    return n;
}

size_t bns_net_stats_floats(const bns_arch *arch) {
    size_t n = 0;
    for (int i = 0; i < arch->n_ops; i++) n += stat_floats(&arch->ops[i]);
    return n;
}

void bns_net_stats_get(const bns_arch *arch, const bns_net_workspace *ws, float *stats) {
    for (int i = 0; i < arch->n_ops; i++) {
        size_t n = stat_floats(&arch->ops[i]);
        if (n) memcpy(stats, ws->state[i], sizeof(float) * n);
        stats += n;
    }
}

void bns_net_stats_set(const bns_arch *arch, const float *stats, bns_net_workspace *ws) {
    for (int i = 0; i < arch->n_ops; i++) {
        size_t n = stat_floats(&arch->ops[i]);
        if (n) memcpy(ws->state[i], stats, sizeof(float) * n);
        stats += n;
    }
    ws->training = 0;
}

void bns_net_stats_estimate(const bns_arch *arch, const float *w, const float *x, size_t rows,
                            bns_net_workspace *ws, float *stats) {
    for (int i = 0; i < arch->n_ops; i++) {
        const bns_layer *op = &arch->ops[i];
        if (!stat_floats(op)) continue;
        memset(ws->state[i], 0, sizeof(float) * op->type->state_floats(op, ws->max_batch));
        if (op->type->state_init) op->type->state_init(op, ws->state[i]);
    }
    ws->training = 1;
    size_t chunk = (size_t)ws->max_batch, k = 0;
    for (size_t begin = 0; begin < rows; begin += chunk, k++) {
        size_t count = rows - begin < chunk ? rows - begin : chunk;
        if (count < chunk && k > 0) break; /* a few rows' statistics would weigh as much as a full chunk's */
        ws->stat_momentum = 1.0 / (double)(k + 1);
        bns_net_forward(arch, w, x + begin * (size_t)arch->n_inputs, (int)count, ws);
    }
    ws->stat_momentum = 0.0;
    bns_net_stats_get(arch, ws, stats);
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
            op->type->backward(op, w, in, ld_in, ws->out[i], grad_out, batch, grad_w, grad_out, op->n_in, ws);
            continue;
        }
        float *grad_in = is_first ? grad_x : ws->grad[ping];
        ping ^= 1;
        op->type->backward(op, w, in, ld_in, ws->out[i], grad_out, batch, grad_w, grad_in,
                           is_first ? ld_grad_x : op->n_in, ws);
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
    &bns_layer_conv2d,
    &bns_layer_maxpool,
    &bns_layer_avgpool,
    &bns_layer_gap,
    &bns_layer_batchnorm,
    &bns_layer_save,
    &bns_layer_add,
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
