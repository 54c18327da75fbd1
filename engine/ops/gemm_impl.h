/* gemm_impl.h: what gemm.c (the dispatcher) and its backends share. Not for callers outside
 * engine/ops: they use gemm.h.
 * A product is described once (gemm_call) and handed to a backend: gemm_dnnl.c (oneDNN,
 * dispatching on the running CPU's features) when it is built in and can run the call,
 * otherwise gemm_blas.c (OpenBLAS, fp32 only). */
#ifndef MAMA_GEMM_IMPL_H
#define MAMA_GEMM_IMPL_H

#include <stddef.h>

#include "engine/core/dtype.h"

/* C (M,N) = post(alpha op(A) op(B) + bias + beta C), row-major, as gemm_forward's legend.
 * a_type, b_type: MAMA_F32 for both, or MAMA_BF16 for both (A and B then uint16_t).
 * bias (N) or NULL; post: GEMM_POST_NONE / GELU_ERF / GELU_TANH applied last. */
typedef struct gemm_call {
    int trans_a, trans_b, M, N, K;
    float alpha, beta;
    const void *A;
    int lda;
    const void *B;
    int ldb;
    mama_dtype ab_type;
    float *C;
    int ldc;
    const float *bias;
    int post;
} gemm_call;

enum { GEMM_POST_NONE = 0, GEMM_POST_GELU_ERF, GEMM_POST_GELU_TANH };

/* OpenBLAS, fp32, bias and post ignored (the dispatcher applies them). */
void gemm_blas_run(const gemm_call *g);

/* oneDNN: 0 when the product was computed; -1 when oneDNN is not built in, cannot make a
 * native (non-reference) primitive for it, or failed (nothing written then). Primitives
 * are cached per shape; thread-safe. */
int gemm_dnnl_run(const gemm_call *g);
/* 1 when oneDNN is built in and a bf16 matmul gets a native kernel on this CPU (under the
 * current ONEDNN_MAX_CPU_ISA). */
int gemm_dnnl_bf16_native(void);
/* "oneDNN 2.6.3 (isa avx512_core_bf16)" or NULL when not built in. */
const char *gemm_dnnl_version(void);
/* The distinct oneDNN implementations used so far, "brg:avx512_core f32, ..." into buf. */
void gemm_dnnl_kernels(char *buf, size_t n);

#endif
