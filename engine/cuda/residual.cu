/* residual.cu: the LayerScale residual out = a + scale[c] * b, fp32 arithmetic. */
#include "engine/cuda/cuda_common.cuh"

__global__ static void residual_scaled_kernel(__nv_bfloat16 *out, const __nv_bfloat16 *a,
                                              const __nv_bfloat16 *b,
                                              const __nv_bfloat16 *scale, size_t n, int C) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float s = scale ? __bfloat162float(scale[i % C]) : 1.0f;
    out[i] = __float2bfloat16_rn(__bfloat162float(a[i]) + s * __bfloat162float(b[i]));
}

extern "C" mama_status cuda_residual_scaled_forward(mama_bf16 *out, const mama_bf16 *a,
                                                    const mama_bf16 *b,
                                                    const mama_bf16 *scale, size_t N, int C) {
    if (C <= 0) return mama_errorf(MAMA_EINVAL, "cuda_residual_scaled_forward: C=%d", C);
    size_t n = N * (size_t)C;
    if (n == 0) return MAMA_OK;
    residual_scaled_kernel<<<cuda_blocks(n, 256), 256, 0, g_cuda.stream>>>(
        bf(out), bf(a), bf(b), bf(scale), n, C);
    CUDA_LAUNCHED("residual_scaled");
    return MAMA_OK;
}
