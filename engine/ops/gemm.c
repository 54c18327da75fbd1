/* gemm.c: row-major sgemm split into per-thread panels (policy in parallel.h). */
#include "engine/ops/gemm.h"

#include <cblas.h>
#include <omp.h>

#include "engine/core/parallel.h"

#define MIN_PANEL 64      /* rows or columns per thread, at least */
#define MIN_PAR_FLOPS 2e6 /* below this one thread does the whole product */

void gemm_forward(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* empty inner dimension: C = beta C */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                float *c = C + (long)i * ldc + j;
                *c = beta == 0.0f ? 0.0f : beta * *c;
            }
        return;
    }
    parallel_blas_serial();
    CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    double flops = 2.0 * M * N * K;
    int split_n = N >= MIN_PANEL * nt, split_m = !split_n && M >= MIN_PANEL * nt;
    if (nt <= 1 || flops < MIN_PAR_FLOPS || (!split_n && !split_m)) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
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
                const float *Bp = trans_b ? B + (long)p0 * ldb : B + p0;
                cblas_sgemm(CblasRowMajor, ta, tb, M, p1 - p0, K, alpha, A, lda, Bp, ldb, beta,
                            C + p0, ldc);
            } else {
                const float *Ap = trans_a ? A + p0 : A + (long)p0 * lda;
                cblas_sgemm(CblasRowMajor, ta, tb, p1 - p0, N, K, alpha, Ap, lda, B, ldb, beta,
                            C + (long)p0 * ldc, ldc);
            }
        }
    }
}
