/* linear.c: fully connected layers as CBLAS sgemm calls, in PyTorch nn.Linear layout
 * (w (OC,C)) and Hugging Face GPT-2 Conv1D layout (w (C,OC)).
 * Legend: N rows (tokens across the batch), C input features, OC output features.
 * Threads (gemm.h, parallel.h): the output is split into column panels (or row panels when
 * it has few columns), one single-threaded sgemm per OpenMP thread; column panels keep each
 * thread's share of the weights packed once. */
#include <string.h>

#include "engine/ops/gemm.h"
#include "engine/ops/ops.h"

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
    if (C <= 0 || b) fill_bias(out, b, N, OC);
    if (C <= 0) return;
    /* out (N,OC) = inp (N,C) @ w^T (C,OC) [+ out] */
    gemm_forward(0, 1, N, OC, C, 1.0f, inp, C, w, C, b ? 1.0f : 0.0f, out, OC);
}

void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int N, int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    if (db) bias_backward(db, dout, N, OC);
    if (C <= 0) return;
    /* dinp (N,C) += dout (N,OC) @ w (OC,C) */
    if (dinp) gemm_forward(0, 0, N, C, OC, 1.0f, dout, OC, w, C, 1.0f, dinp, C);
    /* dw (OC,C) += dout^T (OC,N) @ inp (N,C) */
    if (dw) gemm_forward(1, 0, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dw, C);
}

void linear_in_out_forward(float *out, const float *inp, const float *w, const float *b, int N,
                    int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    if (C <= 0 || b) fill_bias(out, b, N, OC);
    if (C <= 0) return;
    /* out (N,OC) = inp (N,C) @ w (C,OC) [+ out] */
    gemm_forward(0, 0, N, OC, C, 1.0f, inp, C, w, OC, b ? 1.0f : 0.0f, out, OC);
}

void linear_in_out_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int N, int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    if (db) bias_backward(db, dout, N, OC);
    if (C <= 0) return;
    /* dinp (N,C) += dout (N,OC) @ w^T (OC,C) */
    if (dinp) gemm_forward(0, 1, N, C, OC, 1.0f, dout, OC, w, OC, 1.0f, dinp, C);
    /* dw (C,OC) += inp^T (C,N) @ dout (N,OC) */
    if (dw) gemm_forward(1, 0, C, OC, N, 1.0f, inp, C, dout, OC, 1.0f, dw, OC);
}
