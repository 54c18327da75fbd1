/* gemm.h: the engine's matrix products (row-major), for the layers of ops.h and for products
 * that are not a layer (LoRA's low-rank factors, projections, heads).
 *
 * Backends (gemm.c dispatches, gemm_impl.h): oneDNN's matmul when it is built in
 * (meson -Ddnnl=auto): its kernel is chosen from the running CPU's features (AVX2,
 * AVX-512, AVX512-BF16, AMX), capped by ONEDNN_MAX_CPU_ISA; otherwise, when the
 * environment says MAMA_GEMM=openblas, or for a call oneDNN has only reference code for,
 * OpenBLAS (fp32 only). Threads as parallel.h describes: outside an OpenMP region a call
 * uses the engine's pool; called inside an OpenMP region, it runs on the calling thread
 * (OpenBLAS, single-threaded). Small products (< 2 MFLOP) run on the calling thread.
 * Legend: M, N output rows and columns, K the inner dimension. */
#ifndef MAMA_GEMM_H
#define MAMA_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/precision.h"
#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* C (M,N) = alpha op(A) op(B) + beta C, all row-major.
 * op(A) (M,K) is A stored (M,K) with lda >= K, or (trans_a) A stored (K,M) with lda >= M;
 * op(B) (K,N) is B stored (K,N) with ldb >= N, or (trans_b) B stored (N,K) with ldb >= K.
 * beta = 0 ignores C's old contents. */
void gemm_forward(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* What follows the product in gemm_bias_forward / gemm_bf16_forward. */
typedef enum gemm_post { GEMM_NONE = 0, GEMM_GELU_ERF, GEMM_GELU_TANH } gemm_post;

/* C (M,N) = post(A (M,K) op(B) + bias), A with lda >= K, B as gemm_forward, bias (N) or
 * NULL. oneDNN fuses the bias and the GELU (exact erf or tanh form) into the product. */
void gemm_bias_forward(int trans_b, int M, int N, int K, const float *A, int lda,
                       const float *B, int ldb, const float *bias, gemm_post post, float *C,
                       int ldc);

/* The same with B in bf16 (raw patterns, dtype.h): A is rounded to bf16 (nearest even) on
 * the way in, products accumulate in fp32, C is fp32. Runs on oneDNN's bf16 kernel when
 * gemm_bf16_native(); otherwise (or when that kernel fails) B is widened to fp32 and the
 * fp32 path computes the same rounded product, slowly. MAMA_ENOMEM when the scratch for
 * the rounded A (or the widened B) cannot be had (C untouched). */
mama_status gemm_bf16_forward(int trans_b, int M, int N, int K, const float *A, int lda,
                              const uint16_t *B, int ldb, const float *bias, gemm_post post,
                              float *C, int ldc);

/* 1 when bf16 products run on a native kernel here: oneDNN built in and selected, and its
 * bf16 matmul is not reference code on this CPU under ONEDNN_MAX_CPU_ISA (AVX512-BF16 or
 * AMX; AVX2 or plain AVX-512 gives 0). */
int gemm_bf16_native(void);

/* The precision a request runs in here: MAMA_PREC_FP32 or MAMA_PREC_BF16. bf16 needs
 * gemm_bf16_native(); auto takes it when there, fp32 otherwise. An explicit bf16 request
 * this machine cannot run natively becomes fp32, and note (when not NULL) says so and why,
 * for the caller to log; note is "" when the request is granted as asked. */
mama_precision gemm_precision_resolve(mama_precision want, char *note, size_t n);

/* "onednn" or "openblas": the backend fp32 products go to (MAMA_GEMM, build options). */
const char *gemm_backend_name(void);

/* One line for reports: the backend, oneDNN's version and effective ISA, the oneDNN
 * kernels used so far, and OpenBLAS's openblas_get_config(). */
void gemm_describe(char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
