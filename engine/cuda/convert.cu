/* convert.cu: fp32 <-> bf16 arrays on the device (weights converted once at load). */
#include "engine/cuda/cuda_common.cuh"

__global__ static void f32_to_bf16_kernel(__nv_bfloat16 *out, const float *inp, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = __float2bfloat16_rn(inp[i]);
}

__global__ static void bf16_to_f32_kernel(float *out, const __nv_bfloat16 *inp, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = __bfloat162float(inp[i]);
}

extern "C" mama_status cuda_f32_to_bf16(mama_bf16 *out, const float *inp, size_t n) {
    if (n == 0) return MAMA_OK;
    f32_to_bf16_kernel<<<cuda_blocks(n, 256), 256, 0, g_cuda.stream>>>(bf(out), inp, n);
    CUDA_LAUNCHED("f32_to_bf16");
    return MAMA_OK;
}

extern "C" mama_status cuda_bf16_to_f32(float *out, const mama_bf16 *inp, size_t n) {
    if (n == 0) return MAMA_OK;
    bf16_to_f32_kernel<<<cuda_blocks(n, 256), 256, 0, g_cuda.stream>>>(out, bf(inp), n);
    CUDA_LAUNCHED("bf16_to_f32");
    return MAMA_OK;
}
