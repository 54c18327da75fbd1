/* batchnorm.c: BatchNorm1d over rows, train and eval forward and the train backward.
 * Legend: N rows, C features. Column statistics are accumulated in double (a column has
 * N = tokens across the batch, thousands of rows for the local heads, where fp32 sums
 * drift). Threads split the features into blocks of CB columns (a cache line of each row),
 * walking the rows in order, so every column's sums run in one fixed order: the result
 * does not depend on the thread count, and memory is read row by row. */
#include "engine/ops/batchnorm.h"

#include <math.h>
#include <stddef.h>

#define CB 16

mama_status batchnorm_forward_train(float *out, float *mean, float *rstd, float *running_mean,
                                    float *running_var, const float *inp, const float *w,
                                    const float *b, int N, int C, float eps, float momentum) {
    if (N < 2 || C <= 0)
        return mama_errorf(MAMA_EINVAL, "batchnorm: train mode needs at least 2 rows per "
                           "feature (got %d rows of %d); use a larger batch", N, C);
    int nb = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static) if ((long)N * C > 32768)
    for (int cb = 0; cb < nb; cb++) {
        int c0 = cb * CB, c1 = c0 + CB < C ? c0 + CB : C;
        double s[CB] = {0}, q[CB] = {0}, mu[CB];
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C;
            for (int c = c0; c < c1; c++) s[c - c0] += x[c];
        }
        for (int c = c0; c < c1; c++) mu[c - c0] = s[c - c0] / N;
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C;
            for (int c = c0; c < c1; c++) {
                double d = x[c] - mu[c - c0];
                q[c - c0] += d * d;
            }
        }
        float rs[CB], m[CB], wc[CB], bc[CB];
        for (int c = c0; c < c1; c++) {
            int k = c - c0;
            rs[k] = (float)(1.0 / sqrt(q[k] / N + eps));
            m[k] = (float)mu[k];
            wc[k] = w ? w[c] : 1.0f;
            bc[k] = b ? b[c] : 0.0f;
            mean[c] = m[k];
            rstd[c] = rs[k];
            if (running_mean)
                running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * m[k];
            if (running_var)
                running_var[c] = (1.0f - momentum) * running_var[c]
                               + momentum * (float)(q[k] / (N - 1));
        }
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C;
            float *y = out + (size_t)n * C;
            for (int c = c0; c < c1; c++)
                y[c] = (x[c] - m[c - c0]) * rs[c - c0] * wc[c - c0] + bc[c - c0];
        }
    }
    return MAMA_OK;
}

void batchnorm_forward_eval(float *out, const float *inp, const float *running_mean,
                            const float *running_var, const float *w, const float *b, int N,
                            int C, float eps) {
#pragma omp parallel for schedule(static) if ((long)N * C > 32768)
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            float rs = 1.0f / sqrtf(running_var[c] + eps);
            out[(size_t)n * C + c] = (inp[(size_t)n * C + c] - running_mean[c]) * rs
                                   * (w ? w[c] : 1.0f) + (b ? b[c] : 0.0f);
        }
}

/* With xhat = (x - mean) rstd and g = dout * w: dx = rstd (g - mean_n g - xhat mean_n(g xhat)),
 * the LayerNorm backward with rows and columns exchanged. */
void batchnorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, const float *mean, const float *rstd, int N, int C) {
    int nb = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static) if ((long)N * C > 32768)
    for (int cb = 0; cb < nb; cb++) {
        int c0 = cb * CB, c1 = c0 + CB < C ? c0 + CB : C;
        double sg[CB] = {0}, sgx[CB] = {0};
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
            for (int c = c0; c < c1; c++) {
                float xh = (x[c] - mean[c]) * rstd[c];
                sg[c - c0] += dy[c];
                sgx[c - c0] += (double)dy[c] * xh;
            }
        }
        float a[CB], k[CB];
        for (int c = c0; c < c1; c++) {
            float wc = w ? w[c] : 1.0f;
            if (dw) dw[c] += (float)sgx[c - c0];
            if (db) db[c] += (float)sg[c - c0];
            a[c - c0] = (float)(sg[c - c0] / N) * wc;
            k[c - c0] = (float)(sgx[c - c0] / N) * wc;
        }
        if (!dinp) continue;
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C;
            for (int c = c0; c < c1; c++) {
                float xh = (x[c] - mean[c]) * rstd[c];
                dx[c] += rstd[c] * ((w ? w[c] : 1.0f) * dy[c] - a[c - c0] - xh * k[c - c0]);
            }
        }
    }
}
