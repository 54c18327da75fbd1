/* softmax.c: row-wise softmax and L2 normalisation (contrastive heads, scoring).
 * Legend: N rows, C entries per row. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math") /* vmath.h */
#endif
#include <math.h>
#include <stddef.h>

#include "engine/ops/ops.h"
#include "engine/ops/vmath.h"

/* r (C) = exp(r - m); returns the sum (in 16 lanes). */
VMATH_CLONES static float exp_shift_sum(float *r, int C, float m) {
VMATH_SIMD
    for (int i = 0; i < C; i++) r[i] = vexp(r[i] - m);
    float lane[16] = {0}, s = 0.0f;
    int i = 0;
    for (; i + 16 <= C; i += 16)
        for (int k = 0; k < 16; k++) lane[k] += r[i + k];
    for (; i < C; i++) s += r[i];
    for (int k = 0; k < 16; k++) s += lane[k];
    return s;
}

#define L2_EPS 1e-12f /* as torch.nn.functional.normalize */

void softmax_rows(float *x, int N, int C) {
#pragma omp parallel for schedule(static) if ((long)N * C > 65536)
    for (int n = 0; n < N; n++) {
        float *r = x + (size_t)n * C;
        float m = -INFINITY;
        for (int i = 0; i < C; i++) m = r[i] > m ? r[i] : m;
        if (m == -INFINITY) { /* every entry -inf: no mass anywhere, define as uniform */
            for (int i = 0; i < C; i++) r[i] = 1.0f / (float)C;
            continue;
        }
        float inv = 1.0f / exp_shift_sum(r, C, m);
        for (int i = 0; i < C; i++) r[i] *= inv;
    }
}

void softmax_rows_backward(float *dinp, const float *dout, const float *y, int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *g = dout + (size_t)n * C, *p = y + (size_t)n * C;
        float *d = dinp + (size_t)n * C;
        double dot = 0.0;
        for (int i = 0; i < C; i++) dot += (double)g[i] * p[i];
        for (int i = 0; i < C; i++) d[i] += p[i] * (g[i] - (float)dot);
    }
}

void l2norm_rows(float *x, float *norms, int N, int C) {
    for (int n = 0; n < N; n++) {
        float *r = x + (size_t)n * C;
        double s = 0.0;
        for (int i = 0; i < C; i++) s += (double)r[i] * r[i];
        float nrm = (float)sqrt(s);
        float inv = 1.0f / (nrm > L2_EPS ? nrm : L2_EPS);
        for (int i = 0; i < C; i++) r[i] *= inv;
        if (norms) norms[n] = nrm;
    }
}

void l2norm_rows_backward(float *dinp, const float *dout, const float *y, const float *norms,
                          int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *g = dout + (size_t)n * C, *u = y + (size_t)n * C;
        float *d = dinp + (size_t)n * C;
        float nrm = norms[n];
        if (nrm <= L2_EPS) { /* clamped: y = x / eps, a linear map */
            for (int i = 0; i < C; i++) d[i] += g[i] / L2_EPS;
            continue;
        }
        double dot = 0.0;
        for (int i = 0; i < C; i++) dot += (double)g[i] * u[i];
        float inv = 1.0f / nrm;
        for (int i = 0; i < C; i++) d[i] += (g[i] - u[i] * (float)dot) * inv;
    }
}
