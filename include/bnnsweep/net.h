/* net.h - a network as a list of layers over one flat weight vector.
 *
 * A network is a list of layers (bns_layer: dense, relu, conv2d, maxpool,
 * avgpool, gap, batchnorm, save/add), each with explicit forward/backward
 * over flat row-major arrays.
 * The parameters of every layer live in one vector w of arch.n_weights
 * floats: a dense layer's W ([n_in][n_out], row-major) at its weight_offset,
 * then its bias at bias_offset. Every inference method keeps its posterior in
 * terms of such vectors (a point estimate, mu and rho, stored samples, ...)
 * and hands the forward pass a weight vector, so training, evaluation and
 * attacks all run the same layer loop (bns_net_forward / bns_net_backward);
 * methods with their own layer variants (LRT) walk the same list.
 *
 * The FC view (width[], weight_offset[] and bias_offset[] per dense layer)
 * stays for FC shapes: "FC-100-100-10" is dense, relu, dense, relu, dense.
 * Named conv architectures ("lenet", "resnet20") have no FC view (n_layers
 * 0); code that needs one asks bns_arch_is_mlp first.
 *
 * Images are NCHW: an example is a row of C*H*W floats, channel planes one
 * after another (the order of the CIFAR-10 files and of MNIST's single
 * plane), so a conv net's input rows are the data set's rows as they are and
 * the flatten before a dense layer is free. A conv layer's W is
 * [C_out][C_in][k][k] (row-major, i.e. a C_out x (C_in k k) matrix: the
 * left factor of the im2col product Y = W col), b is [C_out].
 *
 * Residual blocks: the list stays a list. A "save" layer (in place, the
 * identity) marks a block's input; a later "add" layer (in place) adds the
 * save layer's output to its own input, y = x + S(saved), where S is the
 * identity when the shapes agree and He et al.'s option A otherwise (take
 * every stride-th pixel, zero-pad the extra channels: parameter free). Its
 * backward leaves d/dx = d/dy and puts S^T(d/dy) in the save layer's buffer,
 * which the save layer adds to the gradient flowing through it. A ResNet
 * basic block is: save, conv, bn, relu, conv, bn, add, relu. Blocks do not
 * nest (one buffer per save layer).
 *
 * Batch normalisation: gamma at weight_offset, beta at bias_offset, ordinary
 * parameter blocks (so under BBB they get a Gaussian posterior and a KL term
 * like every other parameter; deterministic training and the L2 term treat
 * gamma as a weight). In training mode (ws->training, the default) it
 * normalises with the batch's statistics and updates the running mean and
 * variance kept in the workspace (momentum 0.1, once per forward, i.e. once
 * per weight sample); with ws->training = 0 it uses those running statistics.
 * Those moving averages follow every weight sample and the last epochs, not
 * the weights a model keeps, so a trained model's statistics are estimated
 * afresh (bns_net_stats_estimate: training-mode passes over training rows
 * with the point weights, cumulative averages) and kept in the model
 * (bns_model.stats, model files /layers/<i>/running_mean, running_var);
 * bns_net_stats_set puts them in a workspace and switches it to running
 * statistics, so a row's prediction no longer depends on its batch.
 */
#ifndef BNNSWEEP_NET_H
#define BNNSWEEP_NET_H

#include <stddef.h>
#include <stdint.h>

#define BNS_MAX_LAYERS 8                     /* dense layers */
#define BNS_MAX_OPS 96                       /* entries of the layer list (resnet20 has 78) */

struct bns_layer;
struct bns_net_workspace;

/* A kind of layer: one file in src/nn/ defines it (dense.c, relu.c), and one
 * line of the table in net.c lists it. Its forward/backward work on flat
 * row-major arrays and allocate nothing. */
typedef struct bns_layer_type {
    const char *name;
    int in_place;      /* the output overwrites the input, and the backward the gradient */
    int has_params;    /* W at weight_offset, b at bias_offset */
    int unit_weight;   /* has_params: W starts at 1, not random (batch norm's gamma) */
    /* Optional: floats of this layer's own buffer in the workspace
     * (ws->state[op->index]) and of the scratch shared by all layers
     * (ws->scratch), for batches of up to max_batch. NULL: none. */
    size_t (*state_floats)(const struct bns_layer *op, int max_batch);
    size_t (*scratch_floats)(const struct bns_layer *op, int max_batch);
    void (*state_init)(const struct bns_layer *op, float *state); /* optional; the state starts 0 */
    /* Optional, NULL-terminated: names of per-channel vectors (in.c floats
     * each) at the start of the state that a trained model keeps (batch
     * norm: "running_mean", "running_var"); model files store each as
     * /layers/<dense_index>/<name>. */
    const char *const *stat_names;
    /* y (batch x n_out) from x (batch x n_in, row stride ld_x); in place: y == x.
     * ws: the workspace (state, scratch, other layers' outputs); layers
     * without state ignore it, and callers outside the layer loop (LRT)
     * pass NULL for those. */
    void (*forward)(const struct bns_layer *op, const float *w, const float *x, int ld_x, int batch, float *y,
                    struct bns_net_workspace *ws);
    /* From grad_y = d/dy (may be overwritten): the parameter gradients at
     * grad_w's offsets (grad_w NULL: skipped) and d/dx into grad_x (row
     * stride ld_grad_x; NULL: skipped). y is the forward's output; in place:
     * grad_x == grad_y. */
    void (*backward)(const struct bns_layer *op, const float *w, const float *x, int ld_x, const float *y,
                     float *grad_y, int batch, float *grad_w, float *grad_x, int ld_grad_x,
                     struct bns_net_workspace *ws);
} bns_layer_type;

extern const bns_layer_type bns_layer_dense;  /* y = x W + b */
extern const bns_layer_type bns_layer_relu;   /* y = max(x, 0), in place */
extern const bns_layer_type bns_layer_conv2d;    /* conv2d.c: im2col + sgemm, stride, zero padding */
extern const bns_layer_type bns_layer_maxpool;   /* maxpool.c: k x k windows, stride */
extern const bns_layer_type bns_layer_avgpool;   /* avgpool.c: k x k windows, stride */
extern const bns_layer_type bns_layer_gap;       /* gap.c: global average pooling, C x H x W -> C */
extern const bns_layer_type bns_layer_batchnorm; /* batchnorm.c: per channel, batch statistics in training */
extern const bns_layer_type bns_layer_save;      /* residual.c: marks a residual block's input, in place */
extern const bns_layer_type bns_layer_add;       /* residual.c: adds the saved input (option A), in place */
/* NULL if unknown */
const bns_layer_type *bns_layer_type_find(const char *name);

/* An image shape, channels x height x width (NCHW rows). */
typedef struct {
    int c, h, w;
} bns_shape;

typedef struct bns_layer {
    const bns_layer_type *type;
    int n_in, n_out;       /* features per example */
    int dense_index;       /* a layer with parameters' index among them: /layers/<i> in model files */
    size_t weight_offset;  /* has_params: W at w + weight_offset */
    size_t bias_offset;    /* has_params: b at w + bias_offset */
    /* image layers (zero for dense and relu): */
    bns_shape in, out;     /* n_in = in.c * in.h * in.w, n_out likewise */
    int k, stride, pad;    /* conv and pooling windows */
    int index;             /* position in the list (ws->state[index]) */
    int link;              /* add: the index of its save layer */
    bns_shape skip;        /* add: that save layer's shape */
} bns_layer;

/* Parameter layout of a layer with parameters: fan-in of one output unit
 * (the init std and the L2 normalisation use it) and the length of b. */
int bns_layer_fan_in(const bns_layer *op);
int bns_layer_units(const bns_layer *op);

typedef struct {
    const char *name;                    /* a named architecture ("lenet"), NULL for FC shapes */
    bns_shape input;                     /* image nets: the input's shape (FC: 0) */
    int n_inputs, n_classes;
    int n_ops;                           /* entries of the layer list */
    bns_layer ops[BNS_MAX_OPS];
    /* FC view: the dense layers */
    int n_layers;                        /* dense layers (FC-100-100-10 has 3) */
    int width[BNS_MAX_LAYERS + 1];       /* width[0] = inputs, width[n_layers] = classes */
    size_t weight_offset[BNS_MAX_LAYERS];
    size_t bias_offset[BNS_MAX_LAYERS];
    size_t n_weights;                    /* length of w, biases included */
    int max_width;                       /* widest layer, inputs included */
} bns_arch;

/* "FC-100-100-10" (hidden widths then classes; "FC-10" has no hidden layer),
 * or a named conv net, "lenet" or "resnet20" (10 classes), whose input shape
 * comes from n_inputs: a square image, 1 channel if n_inputs is a square
 * (784 = 1x28x28), else 3 (3072 = 3x32x32). */
int bns_arch_parse(const char *spec, int n_inputs, bns_arch *out);
/* Multiply-adds per example of the layers with parameters, as weight uses:
 * dense (n_in + 1) n_out (the bias one add per unit), conv
 * (C_in k k + 1) C_out H_out W_out, batch norm 2 C H W (scale, shift).
 * For FC nets it is n_weights exactly; the plan's cost model counts it. */
double bns_arch_macs(const bns_arch *arch);
/* 1 if every layer is dense or relu (FC view valid); else 0 and *bad names
 * the first layer that is neither. */
int bns_arch_is_mlp(const bns_arch *arch, const char **bad);
/* For a method's validate: fails, naming `what` and the first layer of the
 * architecture `spec` that is neither dense nor relu, unless it is an MLP. */
int bns_arch_require_mlp(const char *spec, const char *what);
/* Appending layers (the named architectures, tests): each checks the shape
 * against the previous layer's output and fails with a message naming the
 * layer. bns_arch_begin starts an image net of input shape `in`. */
void bns_arch_begin(bns_arch *out, bns_shape in);
int bns_arch_add_conv(bns_arch *a, int c_out, int k, int stride, int pad);
int bns_arch_add_pool(bns_arch *a, const bns_layer_type *type, int k, int stride);
int bns_arch_add_simple(bns_arch *a, const bns_layer_type *type); /* relu, gap, batchnorm, save */
int bns_arch_add_add(bns_arch *a);      /* to the latest save layer */
int bns_arch_add_dense(bns_arch *a, int n_out);
void bns_arch_format(const bns_arch *arch, char *buf, size_t size);
/* From explicit widths: widths[0] inputs ... widths[n_layers] classes. */
int bns_arch_from_widths(const int *widths, int n_layers, bns_arch *out);

/* Activations of one forward pass, kept for the backward pass. */
typedef struct bns_net_workspace {
    int max_batch;
    int training;                        /* batch norm: 1 (default) batch statistics, 0 running ones */
    double stat_momentum;                /* batch norm's running-statistics momentum; 0: its default 0.1 */
    float *state[BNS_MAX_OPS];           /* per layer: state_floats of its type */
    float *scratch;                      /* the largest scratch_floats */
    const float *input;                  /* not owned: the batch last forwarded */
    int input_ld;                        /* its row stride (floats) */
    float *out[BNS_MAX_OPS];             /* output of layer i: batch x n_out (in-place layers: their input's) */
    float *owned[BNS_MAX_OPS];           /* the buffers allocated here */
    float *grad[2];                      /* ping-pong activation gradients */
} bns_net_workspace;

void bns_net_workspace_init(bns_net_workspace *ws, const bns_arch *arch, int max_batch);
void bns_net_workspace_free(bns_net_workspace *ws);

/* Forward x (batch x width[0]) through weights w; returns the logits (in ws). */
float *bns_net_forward(const bns_arch *arch, const float *w, const float *x, int batch,
                       bns_net_workspace *ws);
/* Backward from grad_logits (batch x classes, consumed) to grad_w (overwritten;
 * NULL skips the weight gradients) and, if grad_x is not NULL, the input
 * gradient (used by attacks). */
void bns_net_backward(const bns_arch *arch, const float *w, int batch, bns_net_workspace *ws,
                      float *grad_logits, float *grad_w, float *grad_x);

/* The same over layers [first, n_ops) only, from an input x with row stride
 * ld_x (the output of layer first - 1, computed elsewhere: BBB's vectorized
 * first layer), and its gradient written with row stride ld_grad_x. */
float *bns_net_forward_from(const bns_arch *arch, int first, const float *w, const float *x, int ld_x, int batch,
                            bns_net_workspace *ws);
void bns_net_backward_from(const bns_arch *arch, int first, const float *w, int batch, bns_net_workspace *ws,
                           float *grad_logits, float *grad_w, float *grad_x, int ld_grad_x);

/* Kept statistics (bns_layer_type.stat_names): their total floats over the
 * layer list (0: the net has none), in list order, each layer's vectors in
 * stat_names order. */
size_t bns_net_stats_floats(const bns_arch *arch);
void bns_net_stats_get(const bns_arch *arch, const bns_net_workspace *ws, float *stats);
/* Copies stats into ws and sets ws->training = 0 (evaluate with them). */
void bns_net_stats_set(const bns_arch *arch, const float *stats, bns_net_workspace *ws);
/* Population statistics of weights w over rows x (rows x n_inputs, row
 * stride n_inputs) into stats: ws (fresh or not, max_batch rows a chunk) is
 * reset, each chunk forwarded in training mode with momentum 1/(k+1) for the
 * k-th chunk (0-based), so every running statistic ends as the mean over
 * chunks of the chunk statistics (variance unbiased per chunk; a last
 * partial chunk is skipped unless it is the only one). ws is left in
 * training mode with those statistics as its running ones. */
void bns_net_stats_estimate(const bns_arch *arch, const float *w, const float *x, size_t rows,
                            bns_net_workspace *ws, float *stats);

/* argmax of each row of logits or probabilities */
void bns_argmax_rows(const float *rows, int n, int n_classes, uint8_t *out);
/* rows whose argmax equals the label */
int bns_count_correct(const float *rows, const uint8_t *labels, int n, int n_classes);

#endif
