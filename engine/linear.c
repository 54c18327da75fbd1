/* linear.c: fully connected layers as CBLAS sgemm calls, in PyTorch nn.Linear layout
 * (w (OC,C)) and Hugging Face GPT-2 Conv1D layout (w (C,OC)).
 * Legend: N rows (tokens across the batch), C input features, OC output features.
 * Threads: OpenBLAS's own (called outside OpenMP regions; see parallel.h). */
#include <cblas.h>
#include <string.h>

#include "engine/ops.h"

/* out (N,OC) = b broadcast over rows, or 0. */
static void fill_bias(float *out, const float *b, int N, int OC) {
    if (!b) {
        memset(out, 0, (size_t)N * (size_t)OC * sizeof(float));
        return;
    }
    for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, b, (size_t)OC * sizeof(float));
}

/* db (OC) += column sums of dout (N,OC). */
static void bias_backward(float *db, const float *dout, int N, int OC) {
    for (int n = 0; n < N; n++) {
        const float *row = dout + (size_t)n * OC;
        for (int o = 0; o < OC; o++) db[o] += row[o];
    }
}

void linear_forward(float *out, const float *inp, const float *w, const float *b, int N,
                    int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    fill_bias(out, b, N, OC);
    if (C <= 0) return;
    /* out (N,OC) += inp (N,C) @ w^T (C,OC) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, w, C, 1.0f,
                out, OC);
}

void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int N, int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    if (db) bias_backward(db, dout, N, OC);
    if (C <= 0) return;
    /* dinp (N,C) += dout (N,OC) @ w (OC,C) */
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, w, C,
                    1.0f, dinp, C);
    /* dw (OC,C) += dout^T (OC,N) @ inp (N,C) */
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C,
                    1.0f, dw, C);
}

void conv1d_forward(float *out, const float *inp, const float *w, const float *b, int N,
                    int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    fill_bias(out, b, N, OC);
    if (C <= 0) return;
    /* out (N,OC) += inp (N,C) @ w (C,OC) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, OC, C, 1.0f, inp, C, w, OC, 1.0f,
                out, OC);
}

void conv1d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int N, int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    if (db) bias_backward(db, dout, N, OC);
    if (C <= 0) return;
    /* dinp (N,C) += dout (N,OC) @ w^T (OC,C) */
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, C, OC, 1.0f, dout, OC, w, OC,
                    1.0f, dinp, C);
    /* dw (C,OC) += inp^T (C,N) @ dout (N,OC) */
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, C, OC, N, 1.0f, inp, C, dout, OC,
                    1.0f, dw, OC);
}
