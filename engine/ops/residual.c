/* residual.c: residual connection with an optional per-feature scale (DINOv2 LayerScale).
 * Legend: N rows, C features; element i has feature i % C. */
#include <stddef.h>

#include "engine/ops/ops.h"

void residual_scaled_forward(float *out, const float *a, const float *b, const float *scale,
                             size_t N, int C) {
    if (!scale) {
#pragma omp parallel for schedule(static) if (N * (size_t)C > 65536)
        for (size_t i = 0; i < N * (size_t)C; i++) out[i] = a[i] + b[i];
        return;
    }
#pragma omp parallel for schedule(static) if (N * (size_t)C > 65536)
    for (size_t n = 0; n < N; n++) {
        size_t o = n * (size_t)C;
        for (int c = 0; c < C; c++) out[o + c] = a[o + c] + scale[c] * b[o + c];
    }
}

void residual_scaled_backward(float *da, float *db, float *dscale, const float *dout,
                              const float *b, const float *scale, size_t N, int C) {
    for (size_t n = 0; n < N; n++) {
        size_t o = n * (size_t)C;
        for (int c = 0; c < C; c++) {
            float g = dout[o + c];
            if (da) da[o + c] += g;
            if (db) db[o + c] += (scale ? scale[c] : 1.0f) * g;
            if (dscale && scale) dscale[c] += b[o + c] * g;
        }
    }
}
