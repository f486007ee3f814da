/* relu.c - rectified linear unit, in place. */
#include "bnnsweep/nn.h"

void bns_relu_forward(float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
}

void bns_relu_backward(const float *y, float *grad, size_t n) {
    for (size_t i = 0; i < n; i++) grad[i] = y[i] > 0.0f ? grad[i] : 0.0f;
}
