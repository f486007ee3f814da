/* softmax_xent.c - softmax and cross-entropy with the max-shift for stability. */
#include <math.h>

#include "bnnsweep/nn.h"

void bns_softmax(const float *logits, int batch, int n_classes, float *probs) {
    for (int i = 0; i < batch; i++) {
        const float *z = logits + (size_t)i * n_classes;
        float *p = probs + (size_t)i * n_classes;
        float zmax = z[0];
        for (int c = 1; c < n_classes; c++) zmax = z[c] > zmax ? z[c] : zmax;
        double total = 0.0;
        for (int c = 0; c < n_classes; c++) {
            p[c] = expf(z[c] - zmax);
            total += p[c];
        }
        float inv = (float)(1.0 / total);
        for (int c = 0; c < n_classes; c++) p[c] *= inv;
    }
}

double bns_softmax_xent(const float *logits, const uint8_t *labels, int batch, int n_classes,
                        float grad_scale, float *grad_logits) {
    double nll = 0.0;
    for (int i = 0; i < batch; i++) {
        const float *z = logits + (size_t)i * n_classes;
        float zmax = z[0];
        for (int c = 1; c < n_classes; c++) zmax = z[c] > zmax ? z[c] : zmax;
        double total = 0.0;
        for (int c = 0; c < n_classes; c++) total += exp((double)z[c] - zmax);
        double log_total = log(total);
        nll += log_total - ((double)z[labels[i]] - zmax);
        if (grad_logits) {
            float *g = grad_logits + (size_t)i * n_classes;
            for (int c = 0; c < n_classes; c++) {
                double p = exp((double)z[c] - zmax - log_total);
                g[c] = grad_scale * (float)(p - (c == labels[i] ? 1.0 : 0.0));
            }
        }
    }
    return nll;
}
