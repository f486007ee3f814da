/* dropout.h - dropout networks: masks, MC-dropout weight samples and the
 * masked forward/backward, shared by the dropout (METHODS.md s.7) and alpha
 * (s.8) methods; src/methods/dropout.c says how masks are indexed.
 *
 * A network's dense layer l sees its input dropped at rate p_l
 * (dropout_input_rate for l = 0, the pixels; dropout_rate after), kept units
 * scaled by 1/(1-p_l) (inverted dropout). At test time the point weights are
 * the trained W; MC dropout's sample k is a weight vector whose row i of W_l
 * is zeroed (dropped) or scaled by 1/(1-p_l) (kept), which equals dropping
 * input unit i for every row of the batch.
 */
#ifndef BNNSWEEP_DROPOUT_H
#define BNNSWEEP_DROPOUT_H

#include <stddef.h>
#include <stdint.h>

#include "bnnsweep/config.h"
#include "bnnsweep/method.h"

/* The settings rows of every dropout network (one slot each, shared by
 * the methods that list them: config.c). */
#define BNS_DROPOUT_SETTINGS                                                                                   \
    BNS_METHOD_SETTING("dropout_rate", BNS_FIELD_DOUBLE, NULL, "0.5",                                         \
                       "drop rate of the inputs of hidden and output layers (dropout, alpha)"),                       \
    BNS_METHOD_SETTING("dropout_input_rate", BNS_FIELD_DOUBLE, NULL, "0.5",                                   \
                       "drop rate of the input pixels, the first layer's inputs (dropout, alpha)"),                  \
    BNS_METHOD_EVAL_SETTING("mc_dropout", BNS_FIELD_INT, NULL, "1",                                                \
                       "1 = evaluate with sampled masks (MC dropout), 0 = as the plain trained net (dropout, alpha)")

/* Rates in [0, 1), mc_dropout 0 or 1. */
int bns_dropout_validate(const bns_config *cfg);
/* BNS_CAP_STOCHASTIC with mc_dropout = 1, else none (a point estimate). */
unsigned bns_dropout_caps(const bns_config *cfg);
/* The drop rate of dense layer l's input. */
double bns_dropout_rate_of(const bns_config *cfg, int layer);
/* Mask numbers one row draws: sum over dense layers of their input width. */
size_t bns_dropout_units(const bns_arch *arch);
/* Mask scales of `rows` rows (0: dropped, 1/(1-p_l): kept): row r's unit i of
 * layer l at scales[r * units + offset_l + i], from numbers
 * [r * units, (r + 1) * units) of substream `sub`. */
void bns_dropout_masks(const bns_config *cfg, const bns_arch *arch, const bns_stream *s, uint64_t sub, size_t rows,
                       float *scales);
/* MC-dropout sample `index`: the masks of row 0 of substream `index`,
 * folded into the rows of each W (mc_dropout = 0: the point weights). */
void bns_dropout_sample_weights(const bns_model *m, const bns_stream *stream, uint64_t index, float *w);
void bns_dropout_init(bns_model *m, const bns_stream *init_stream);

/* Training buffers for up to max_rows rows (copies x batch). */
typedef struct {
    bns_stream masks;           /* (seed, task, WEIGHT): substream = step */
    size_t units;
    float *scale;               /* max_rows x units */
    float *in[BNS_MAX_LAYERS];  /* masked input of dense layer l: max_rows x width[l] */
    float *out[BNS_MAX_LAYERS]; /* its output (relu applied below the last): max_rows x width[l+1] */
    float *grad[2];             /* ping-pong activation gradients: max_rows x max_width */
    float *grad_logits;         /* max_rows x classes */
} bns_dropout_net;

void bns_dropout_net_init(bns_dropout_net *t, const bns_model *m, int max_rows);
void bns_dropout_net_free(bns_dropout_net *t);
/* Forward `copies` copies of the batch: row r = k * batch + n is example n
 * under the masks of row r of substream `step`. Returns the logits. */
const float *bns_dropout_forward(bns_dropout_net *t, const bns_model *m, const float *x, int batch, int copies,
                                 uint64_t step);
/* From t->grad_logits (rows x classes, consumed) to grad (arch.n_weights, overwritten). */
void bns_dropout_backward(bns_dropout_net *t, const bns_model *m, int rows, float *grad);

#endif
