/* layernorm.c: LayerNorm over the feature dim, forward and backward (llm.c formulation).
 * Legend: N rows (tokens across the batch), C features.
 * Row statistics are two-pass (mean, then squared deviations) in 16 fp32 lanes: vectorised,
 * and within fp32 rounding of a double reference even for rows with a large mean. */
#include <math.h>
#include <stddef.h>

#include "engine/ops/ops.h"
#include "engine/ops/vmath.h"

#define LANES 16

/* sum of (x[i] - m)^2 when sq, else sum of x[i], over n */
VMATH_CLONES static float row_sum(const float *x, int n, float m, int sq) {
    float lane[LANES] = {0};
    int i = 0;
    if (sq) {
        for (; i + LANES <= n; i += LANES)
            for (int k = 0; k < LANES; k++) {
                float d = x[i + k] - m;
                lane[k] += d * d;
            }
    } else {
        for (; i + LANES <= n; i += LANES)
            for (int k = 0; k < LANES; k++) lane[k] += x[i + k];
    }
    float s = 0.0f;
    for (; i < n; i++) s += sq ? (x[i] - m) * (x[i] - m) : x[i];
    for (int k = 0; k < LANES; k++) s += lane[k];
    return s;
}

VMATH_CLONES static void norm_row(float *y, const float *x, const float *w, const float *b,
                                  int C, float m, float rs) {
    if (w && b) {
VMATH_SIMD
        for (int i = 0; i < C; i++) y[i] = (x[i] - m) * rs * w[i] + b[i];
    } else {
        for (int i = 0; i < C; i++) y[i] = (x[i] - m) * rs * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
    }
}

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                       const float *b, int N, int C, float eps) {
    if (C <= 0) return;
#pragma omp parallel for schedule(static) if ((long)N * C > 32768)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float m = row_sum(x, C, 0.0f, 0) / (float)C;
        float v = row_sum(x, C, m, 1) / (float)C;
        float rs = 1.0f / sqrtf(v + eps);
        norm_row(out + (size_t)n * C, x, w, b, C, m, rs);
        if (mean) mean[n] = m;
        if (rstd) rstd[n] = rs;
    }
}

/* dinp (N,C) += ; dw, db (C) += (either may be NULL); needs mean, rstd (N) of the forward. */
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, const float *mean, const float *rstd, int N, int C) {
    if (C <= 0) return;
    if (dinp) {
#pragma omp parallel for schedule(static) if ((long)N * C > 32768)
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C;
            const float *dy = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C;
            float m = mean[n], rs = rstd[n];
            /* the two reductions of the LayerNorm backward */
            float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
            for (int i = 0; i < C; i++) {
                float xn = (x[i] - m) * rs;
                float dn = (w ? w[i] : 1.0f) * dy[i];
                dnorm_mean += dn;
                dnorm_norm_mean += dn * xn;
            }
            float a = dnorm_mean / (float)C, c = dnorm_norm_mean / (float)C;
            for (int i = 0; i < C; i++) {
                float xn = (x[i] - m) * rs;
                float dn = (w ? w[i] : 1.0f) * dy[i];
                dx[i] += (dn - a - xn * c) * rs;
            }
        }
    }
    if (dw || db) {
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C;
            const float *dy = dout + (size_t)n * C;
            float m = mean[n], rs = rstd[n];
            for (int i = 0; i < C; i++) {
                if (dw) dw[i] += (x[i] - m) * rs * dy[i];
                if (db) db[i] += dy[i];
            }
        }
    }
}
