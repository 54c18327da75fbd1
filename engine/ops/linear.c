/* linear.c: fully connected layers as gemm.h products (oneDNN or OpenBLAS, bias and GELU
 * fused where the backend can), in PyTorch nn.Linear layout
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
    if (C <= 0) {
        fill_bias(out, b, N, OC);
        return;
    }
    /* out (N,OC) = inp (N,C) @ w^T (C,OC) + b, the bias fused into the product */
    gemm_bias_forward(1, N, OC, C, inp, C, w, C, b, GEMM_NONE, out, OC);
}

void linear_gelu_forward(float *out, const float *inp, const float *w, const float *b, int N,
                         int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    if (C <= 0) {
        fill_bias(out, b, N, OC);
        gelu_forward(out, out, (size_t)N * OC);
        return;
    }
    gemm_bias_forward(1, N, OC, C, inp, C, w, C, b, GEMM_GELU_ERF, out, OC);
}

mama_status linear_bf16_forward(float *out, const float *inp, const uint16_t *w,
                                const float *b, int N, int C, int OC, int gelu) {
    return gemm_bf16_forward(1, N, OC, C, inp, C, w, C, b, gelu ? GEMM_GELU_ERF : GEMM_NONE,
                             out, OC);
}

mama_status linear_in_out_bf16_forward(float *out, const float *inp, const uint16_t *w,
                                       const float *b, int N, int C, int OC, int gelu_tanh) {
    return gemm_bf16_forward(0, N, OC, C, inp, C, w, OC, b,
                             gelu_tanh ? GEMM_GELU_TANH : GEMM_NONE, out, OC);
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
    if (C <= 0) {
        fill_bias(out, b, N, OC);
        return;
    }
    /* out (N,OC) = inp (N,C) @ w (C,OC) + b */
    gemm_bias_forward(0, N, OC, C, inp, C, w, OC, b, GEMM_NONE, out, OC);
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

mama_status linear_prec_forward(float *out, const float *inp, const float *w,
                                const uint16_t *w16, const float *b, int N, int C, int OC,
                                int in_out, gemm_post post) {
    if (w16)
        return gemm_bf16_forward(!in_out, N, OC, C, inp, C, w16, in_out ? OC : C, b, post, out,
                                 OC);
    if (N <= 0 || OC <= 0) return MAMA_OK;
    gemm_bias_forward(!in_out, N, OC, C, inp, C, w, in_out ? OC : C, b, post, out, OC);
    return MAMA_OK;
}
