/* predict.h - predictive probabilities of a model on a set of inputs.
 *
 * p(y|x) = (1/N) sum_n softmax(f(x; w_n)) over weight samples w_n drawn from
 * a stream (METHODS.md s.1 "Prediction"), or softmax(f(x; mean weights)).
 * A model whose samples carry importance weights (BNS_CAP_WEIGHTED) gets the
 * self-normalised average sum_n v_n softmax(f(x; w_n)), v_n = e^{l_n} / sum e^{l_m}
 * over the ensemble's samples (and the mean entropy weighted alike).
 * A predictor owns every buffer it needs: nothing is allocated per call.
 * An optional pruning mask (METHODS.md s.4 "Pruning") zeroes weights of every
 * sample after it is drawn (and of the mean weights).
 */
#ifndef BNNSWEEP_PREDICT_H
#define BNNSWEEP_PREDICT_H

#include "bnnsweep/model.h"

/* Weight samples kept for reuse: a model's evaluations on all its sets draw
 * the same samples (its PREDICT stream, plan.h), so a process evaluating one
 * model on several sets draws each sample once. A sample is a pure function
 * of the model's parameters, the stream and its index (method.h), so a
 * cached sample is bit for bit the one drawn again. The cache belongs to one
 * (owner, stream, weight count) at a time: owner names the parameters (the
 * runner: the model's task key); binding another empties it. Samples
 * [0, cap) are kept, cap = max_bytes / (4 n_weights), on first draw. */
typedef struct {
    size_t max_bytes, n_weights;
    uint64_t owner;
    bns_stream stream;
    int cap, bound;
    float *w;                /* cap x n_weights */
    unsigned char *have;     /* cap flags */
    long hits, draws;        /* since init: samples copied, samples drawn into it */
} bns_sample_cache;

void bns_sample_cache_init(bns_sample_cache *c, size_t max_bytes);
void bns_sample_cache_bind(bns_sample_cache *c, uint64_t owner, const bns_stream *stream, size_t n_weights);
void bns_sample_cache_free(bns_sample_cache *c);

typedef struct {
    bns_net_workspace ws;
    int chunk_rows;          /* rows per forward pass */
    float *w;                /* one weight sample */
    float *chunk_probs;      /* chunk_rows x classes */
    const uint8_t *mask;     /* NULL, or arch.n_weights flags: 0 = weight set to exactly 0
                                in every sample (not owned; see evaluate.h bns_snr_mask) */
    double *weights;         /* the ensemble's normalised importance weights (grown as needed) */
    int weights_cap;
    bns_sample_cache *cache; /* NULL, or samples to reuse (not owned; used when bound to the stream) */
} bns_predictor;

void bns_predictor_init(bns_predictor *p, const bns_model *m);
void bns_predictor_free(bns_predictor *p);

/* probs (rows x classes) = mean over samples [first, first + n_samples) of
 * the stream; n_samples = 0 uses the mean weights (the weights themselves
 * for a deterministic model). */
void bns_predict_probs(bns_predictor *p, const bns_model *m, const float *x, size_t rows, int n_samples,
                       const bns_stream *stream, uint64_t first, float *probs);

/* As bns_predict_probs, and mean_entropy (rows, may be NULL) = mean over the
 * samples of each sample's predictive entropy H(softmax(f(x; w_s))) in nats,
 * the second term of BALD (METHODS.md s.6). */
void bns_predict_probs_entropy(bns_predictor *p, const bns_model *m, const float *x, size_t rows, int n_samples,
                               const bns_stream *stream, uint64_t first, float *probs, float *mean_entropy);

/* fraction of rows whose argmax is the label */
double bns_accuracy_of_probs(const float *probs, const uint8_t *labels, size_t rows, int n_classes);

#endif
