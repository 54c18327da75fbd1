/* linear.c: fully connected layers as CBLAS sgemm calls, in PyTorch nn.Linear layout
 * (w (OC,C)) and Hugging Face GPT-2 Conv1D layout (w (C,OC)).
 * Legend: N rows (tokens across the batch), C input features, OC output features.
 * Threads (parallel.h): the output is split into column panels (or row panels when it has
 * few columns), one single-threaded sgemm per OpenMP thread; column panels keep each
 * thread's share of the weights packed once. */
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "engine/ops.h"
#include "engine/parallel.h"

#define MIN_PANEL 64        /* rows or columns per thread, at least */
#define MIN_PAR_FLOPS 2e6   /* below this one thread does the whole product */

/* Cm (M,N) = op(A) (M,K) op(B) (K,N) + beta Cm, row-major, split over the OpenMP threads.
 * op(A) is A (M,K) or, transposed, A stored (K,M); likewise B (K,N) or B stored (N,K). */
static void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, const float *A,
                 int lda, const float *B, int ldb, float beta, float *Cm, int ldc) {
    parallel_blas_serial();
    int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    double flops = 2.0 * M * N * K;
    int split_n = N >= MIN_PANEL * nt, split_m = !split_n && M >= MIN_PANEL * nt;
    if (nt <= 1 || flops < MIN_PAR_FLOPS || (!split_n && !split_m)) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, Cm, ldc);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int t = omp_get_thread_num(), n = omp_get_num_threads();
        int total = split_n ? N : M;
        /* panel edges on multiples of 16 (vector/kernel friendly) */
        int step = (total + n - 1) / n;
        step = (step + 15) / 16 * 16;
        int p0 = t * step, p1 = p0 + step < total ? p0 + step : total;
        if (p0 < p1) {
            if (split_n) {
                const float *Bp = tb == CblasNoTrans ? B + p0 : B + (size_t)p0 * ldb;
                cblas_sgemm(CblasRowMajor, ta, tb, M, p1 - p0, K, 1.0f, A, lda, Bp, ldb, beta,
                            Cm + p0, ldc);
            } else {
                const float *Ap = ta == CblasNoTrans ? A + (size_t)p0 * lda : A + p0;
                cblas_sgemm(CblasRowMajor, ta, tb, p1 - p0, N, K, 1.0f, Ap, lda, B, ldb, beta,
                            Cm + (size_t)p0 * ldc, ldc);
            }
        }
    }
}

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
    gemm(CblasNoTrans, CblasTrans, N, OC, C, inp, C, w, C, b ? 1.0f : 0.0f, out, OC);
}

void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int N, int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    if (db) bias_backward(db, dout, N, OC);
    if (C <= 0) return;
    /* dinp (N,C) += dout (N,OC) @ w (OC,C) */
    if (dinp) gemm(CblasNoTrans, CblasNoTrans, N, C, OC, dout, OC, w, C, 1.0f, dinp, C);
    /* dw (OC,C) += dout^T (OC,N) @ inp (N,C) */
    if (dw) gemm(CblasTrans, CblasNoTrans, OC, C, N, dout, OC, inp, C, 1.0f, dw, C);
}

void conv1d_forward(float *out, const float *inp, const float *w, const float *b, int N,
                    int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    if (C <= 0 || b) fill_bias(out, b, N, OC);
    if (C <= 0) return;
    /* out (N,OC) = inp (N,C) @ w (C,OC) [+ out] */
    gemm(CblasNoTrans, CblasNoTrans, N, OC, C, inp, C, w, OC, b ? 1.0f : 0.0f, out, OC);
}

void conv1d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int N, int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    if (db) bias_backward(db, dout, N, OC);
    if (C <= 0) return;
    /* dinp (N,C) += dout (N,OC) @ w^T (OC,C) */
    if (dinp) gemm(CblasNoTrans, CblasTrans, N, C, OC, dout, OC, w, OC, 1.0f, dinp, C);
    /* dw (C,OC) += inp^T (C,N) @ dout (N,OC) */
    if (dw) gemm(CblasTrans, CblasNoTrans, C, OC, N, inp, C, dout, OC, 1.0f, dw, OC);
}
