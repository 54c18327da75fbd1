/* gemm.cu: the linear layer on cuBLASLt: bf16 inputs, fp32 accumulation, bias and GELU
 * fused into the epilogue where cuBLASLt has them.
 *
 * Row-major Y (N,OC) = X (N,C) W^T is, in cuBLAS's column-major terms, Y^T = op(W) X^T
 * with W read as a (C x OC) column-major matrix transposed: m = OC, n = N, k = C.
 * cuBLASLt's GELU epilogue is the tanh form, so it is fused only for gelu = 1 (GPT-2's
 * gelu_new); the exact (erf) GELU of DINOv2 runs as its own kernel after the bias
 * epilogue (gelu = 2). Bias gradients are a column-sum kernel in fp32 (cuBLASLt's BGRAD
 * epilogues want the bias in the output type, bf16 here, and we keep gradients fp32). */
#include "engine/cuda/cuda_common.cuh"

namespace {

struct lt_operand {
    const void *ptr;
    cudaDataType type;
    int rows, cols, ld;  /* column-major, before op */
    int trans;
};

mama_status lt_matmul(const lt_operand &a, const lt_operand &b, void *d, cudaDataType dtype,
                      int m, int n, int ldd, float beta, cublasLtEpilogue_t epi,
                      const void *bias, void *aux, int ldaux) {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t la = nullptr, lb = nullptr, ld = nullptr;
    cublasLtMatmulPreference_t pref = nullptr;
    mama_status rc = MAMA_OK;
    cublasOperation_t ta = a.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasOperation_t tb = b.trans ? CUBLAS_OP_T : CUBLAS_OP_N;
    float alpha = 1.0f;
    cublasLtMatmulHeuristicResult_t heur;
    int found = 0;
#define LT(call)                                                          \
    do {                                                                  \
        cublasStatus_t st_ = (call);                                      \
        if (st_ != CUBLAS_STATUS_SUCCESS) {                               \
            rc = cublas_fail(st_, #call, __FILE__, __LINE__);             \
            goto done;                                                    \
        }                                                                 \
    } while (0)
    LT(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    if (bias)
        LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                          sizeof bias));
    if (aux) {
        int64_t ldaux64 = ldaux;
        LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux,
                                          sizeof aux));
        LT(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ldaux64,
                                          sizeof ldaux64));
    }
    LT(cublasLtMatrixLayoutCreate(&la, a.type, a.rows, a.cols, a.ld));
    LT(cublasLtMatrixLayoutCreate(&lb, b.type, b.rows, b.cols, b.ld));
    LT(cublasLtMatrixLayoutCreate(&ld, dtype, m, n, ldd));
    LT(cublasLtMatmulPreferenceCreate(&pref));
    LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                            &g_cuda.workspace_bytes,
                                            sizeof g_cuda.workspace_bytes));
    LT(cublasLtMatmulAlgoGetHeuristic(g_cuda.lt, op, la, lb, ld, ld, pref, 1, &heur, &found));
    if (found == 0) {
        rc = mama_errorf(MAMA_EUNSUPPORTED,
                         "cuBLASLt: no algorithm for a %dx%dx%d matmul with epilogue %d",
                         m, n, a.trans ? a.rows : a.cols, (int)epi);
        goto done;
    }
    LT(cublasLtMatmul(g_cuda.lt, op, &alpha, a.ptr, la, b.ptr, lb, &beta, d, ld, d, ld,
                      &heur.algo, g_cuda.workspace, g_cuda.workspace_bytes, g_cuda.stream));
#undef LT
done:
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (ld) cublasLtMatrixLayoutDestroy(ld);
    if (lb) cublasLtMatrixLayoutDestroy(lb);
    if (la) cublasLtMatrixLayoutDestroy(la);
    if (op) cublasLtMatmulDescDestroy(op);
    return rc;
}

/* Exact GELU of the bias output: out = gelu(pre), both (n). */
__global__ void gelu_exact_kernel(__nv_bfloat16 *out, const __nv_bfloat16 *pre, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float x = __bfloat162float(pre[i]);
        out[i] = __float2bfloat16_rn(0.5f * x * (1.0f + erff(x * 0.70710678118654752f)));
    }
}

/* db (OC) += sum over rows of dout (N,OC): one thread per column, rows strided. */
__global__ void bias_grad_kernel(float *db, const __nv_bfloat16 *dout, int N, int OC) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= OC) return;
    float s = 0.0f;
    for (int i = 0; i < N; i++) s += __bfloat162float(dout[(size_t)i * OC + j]);
    db[j] += s;
}

}  // namespace

extern "C" mama_status cuda_linear_forward(mama_bf16 *out, mama_bf16 *pre_gelu,
                                           const mama_bf16 *inp, const mama_bf16 *w,
                                           const mama_bf16 *b, int N, int C, int OC,
                                           int gelu) {
    if (N <= 0 || C <= 0 || OC <= 0 || gelu < 0 || gelu > 2)
        return mama_errorf(MAMA_EINVAL, "cuda_linear_forward: bad sizes N=%d C=%d OC=%d "
                           "gelu=%d", N, C, OC, gelu);
    if (gelu == 2 && !pre_gelu)
        return mama_errorf(MAMA_EINVAL, "cuda_linear_forward: exact GELU needs pre_gelu");
    lt_operand a = {w, CUDA_R_16BF, C, OC, C, 1};
    lt_operand x = {inp, CUDA_R_16BF, C, N, C, 0};
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
    void *aux = nullptr;
    mama_bf16 *dst = out;
    if (gelu == 1) {
        epi = b ? (pre_gelu ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_BIAS)
                : (pre_gelu ? CUBLASLT_EPILOGUE_GELU_AUX : CUBLASLT_EPILOGUE_GELU);
        aux = pre_gelu;
    } else {
        epi = b ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
        if (gelu == 2) dst = pre_gelu;
    }
    mama_status rc = lt_matmul(a, x, dst, CUDA_R_16BF, OC, N, OC, 0.0f, epi, b, aux, OC);
    if (rc != MAMA_OK || gelu != 2) return rc;
    size_t n = (size_t)N * OC;
    gelu_exact_kernel<<<cuda_blocks(n, 256), 256, 0, g_cuda.stream>>>(bf(out), bf(pre_gelu),
                                                                       n);
    CUDA_LAUNCHED("gelu_exact");
    return MAMA_OK;
}

extern "C" mama_status cuda_linear_backward(mama_bf16 *dinp, float *dw, float *db,
                                            const mama_bf16 *dout, const mama_bf16 *inp,
                                            const mama_bf16 *w, int N, int C, int OC) {
    if (N <= 0 || C <= 0 || OC <= 0)
        return mama_errorf(MAMA_EINVAL, "cuda_linear_backward: bad sizes N=%d C=%d OC=%d", N,
                           C, OC);
    mama_status rc = MAMA_OK;
    if (dinp) {  /* dinp^T (C x N) = W^T (C x OC) dout^T (OC x N) */
        lt_operand a = {w, CUDA_R_16BF, C, OC, C, 0};
        lt_operand g = {dout, CUDA_R_16BF, OC, N, OC, 0};
        rc = lt_matmul(a, g, dinp, CUDA_R_16BF, C, N, C, 0.0f, CUBLASLT_EPILOGUE_DEFAULT,
                       nullptr, nullptr, 0);
        if (rc != MAMA_OK) return rc;
    }
    if (dw) {  /* dw^T (C x OC) += X^T (C x N) dout (N x OC), fp32 output, beta 1 */
        lt_operand x = {inp, CUDA_R_16BF, C, N, C, 0};
        lt_operand g = {dout, CUDA_R_16BF, OC, N, OC, 1};
        rc = lt_matmul(x, g, dw, CUDA_R_32F, C, OC, C, 1.0f, CUBLASLT_EPILOGUE_DEFAULT,
                       nullptr, nullptr, 0);
        if (rc != MAMA_OK) return rc;
    }
    if (db) {
        bias_grad_kernel<<<cuda_blocks(OC, 256), 256, 0, g_cuda.stream>>>(db, bf(dout), N, OC);
        CUDA_LAUNCHED("bias_grad");
    }
    return rc;
}
