/* batchnorm.c: BatchNorm1d over rows, train and eval forward and the train backward.
 * Legend: N rows, C features. Column statistics are accumulated in double (a column has
 * N = tokens across the batch, tens of thousands of rows for the local heads, where fp32
 * sums drift) and threads split the features, so every column's sums run in one fixed
 * order: the result does not depend on the thread count. */
#include "engine/ops/batchnorm.h"

#include <math.h>
#include <stddef.h>

mama_status batchnorm_forward_train(float *out, float *mean, float *rstd, float *running_mean,
                                    float *running_var, const float *inp, const float *w,
                                    const float *b, int N, int C, float eps, float momentum) {
    if (N < 2 || C <= 0)
        return mama_errorf(MAMA_EINVAL, "batchnorm: train mode needs at least 2 rows per "
                           "feature (got %d rows of %d); use a larger batch", N, C);
#pragma omp parallel for schedule(static) if ((long)N * C > 32768)
    for (int c = 0; c < C; c++) {
        double s = 0.0;
        for (int n = 0; n < N; n++) s += inp[(size_t)n * C + c];
        double mu = s / N, q = 0.0;
        for (int n = 0; n < N; n++) {
            double d = inp[(size_t)n * C + c] - mu;
            q += d * d;
        }
        double var = q / N;
        float rs = (float)(1.0 / sqrt(var + eps));
        float wc = w ? w[c] : 1.0f, bc = b ? b[c] : 0.0f, m = (float)mu;
        for (int n = 0; n < N; n++)
            out[(size_t)n * C + c] = (inp[(size_t)n * C + c] - m) * rs * wc + bc;
        mean[c] = m;
        rstd[c] = rs;
        if (running_mean)
            running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * m;
        if (running_var)
            running_var[c] = (1.0f - momentum) * running_var[c]
                           + momentum * (float)(q / (N - 1));
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
#pragma omp parallel for schedule(static) if ((long)N * C > 32768)
    for (int c = 0; c < C; c++) {
        float m = mean[c], rs = rstd[c], wc = w ? w[c] : 1.0f;
        double sg = 0.0, sgx = 0.0;
        for (int n = 0; n < N; n++) {
            float xh = (inp[(size_t)n * C + c] - m) * rs;
            float dy = dout[(size_t)n * C + c];
            sg += dy;
            sgx += (double)dy * xh;
        }
        if (dw) dw[c] += (float)sgx;
        if (db) db[c] += (float)sg;
        if (!dinp) continue;
        float a = (float)(sg / N) * wc, k = (float)(sgx / N) * wc;
        for (int n = 0; n < N; n++) {
            float xh = (inp[(size_t)n * C + c] - m) * rs;
            dinp[(size_t)n * C + c] += rs * (wc * dout[(size_t)n * C + c] - a - xh * k);
        }
    }
}
