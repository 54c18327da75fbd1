/* layernorm.c: LayerNorm over the feature dim, forward and backward (llm.c formulation).
 * Legend: N rows (tokens across the batch), C features.
 * Statistics are accumulated in double: C is small (<= a few thousand) and this keeps the
 * forward within fp32 rounding of a double reference even for rows with a large mean. */
#include <math.h>
#include <stddef.h>

#include "engine/ops.h"

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                       const float *b, int N, int C, float eps) {
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;
        double s = 0.0;
        for (int i = 0; i < C; i++) s += x[i];
        double m = s / C;
        double v = 0.0;
        for (int i = 0; i < C; i++) {
            double d = x[i] - m;
            v += d * d;
        }
        v /= C;
        float fm = (float)m;
        float rs = (float)(1.0 / sqrt(v + (double)eps));
        for (int i = 0; i < C; i++) {
            float xn = (x[i] - fm) * rs;
            y[i] = xn * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
        }
        if (mean) mean[n] = fm;
        if (rstd) rstd[n] = rs;
    }
}

/* dinp (N,C) += ; dw, db (C) += (either may be NULL); needs mean, rstd (N) of the forward. */
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, const float *mean, const float *rstd, int N, int C) {
    if (dinp) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C;
            const float *dy = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C;
            float m = mean[n], rs = rstd[n];
            /* the two reductions of the LayerNorm backward */
            double dnorm_mean = 0.0, dnorm_norm_mean = 0.0;
            for (int i = 0; i < C; i++) {
                float xn = (x[i] - m) * rs;
                float dn = (w ? w[i] : 1.0f) * dy[i];
                dnorm_mean += dn;
                dnorm_norm_mean += (double)dn * xn;
            }
            float a = (float)(dnorm_mean / C), c = (float)(dnorm_norm_mean / C);
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
