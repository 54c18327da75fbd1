/* gemm_blas.c: the OpenBLAS backend of gemm.c: row-major sgemm split into per-thread panels
 * (policy in parallel.h). It is the fallback when oneDNN is not built in, is switched off
 * (MAMA_GEMM=openblas) or has no native kernel for a call. */
#include <cblas.h>
#include <omp.h>

#include "engine/core/parallel.h"
#include "engine/ops/gemm_impl.h"

#define MIN_PANEL 64      /* rows or columns per thread, at least */
#define MIN_PAR_FLOPS 2e6 /* below this one thread does the whole product */

void gemm_blas_run(const gemm_call *g) {
    int M = g->M, N = g->N, K = g->K, lda = g->lda, ldb = g->ldb, ldc = g->ldc;
    const float *A = g->A, *B = g->B;
    float *C = g->C;
    float alpha = g->alpha, beta = g->beta;
    parallel_blas_serial();
    CBLAS_TRANSPOSE ta = g->trans_a ? CblasTrans : CblasNoTrans;
    CBLAS_TRANSPOSE tb = g->trans_b ? CblasTrans : CblasNoTrans;
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
                const float *Bp = g->trans_b ? B + (long)p0 * ldb : B + p0;
                cblas_sgemm(CblasRowMajor, ta, tb, M, p1 - p0, K, alpha, A, lda, Bp, ldb, beta,
                            C + p0, ldc);
            } else {
                const float *Ap = g->trans_a ? A + p0 : A + (long)p0 * lda;
                cblas_sgemm(CblasRowMajor, ta, tb, p1 - p0, N, K, alpha, Ap, lda, B, ldb, beta,
                            C + (long)p0 * ldc, ldc);
            }
        }
    }
}
