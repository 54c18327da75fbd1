/* gemm.h: the engine's threaded sgemm (row-major), for products that are not a layer of
 * ops.h (LoRA's low-rank factors, projections, heads). Threads as parallel.h describes:
 * the output is split into column panels (or row panels when it has few columns), one
 * single-threaded cblas_sgemm per OpenMP thread; called inside an OpenMP region, it runs
 * on the calling thread. Small products (< 2 MFLOP) always run on the calling thread.
 * Legend: M, N output rows and columns, K the inner dimension. */
#ifndef MAMA_GEMM_H
#define MAMA_GEMM_H

#ifdef __cplusplus
extern "C" {
#endif

/* C (M,N) = alpha op(A) op(B) + beta C, all row-major.
 * op(A) (M,K) is A stored (M,K) with lda >= K, or (trans_a) A stored (K,M) with lda >= M;
 * op(B) (K,N) is B stored (K,N) with ldb >= N, or (trans_b) B stored (N,K) with ldb >= K.
 * beta = 0 ignores C's old contents. */
void gemm_forward(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc);

#ifdef __cplusplus
}
#endif
#endif
