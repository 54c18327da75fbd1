/* gelu.cu: exact (erf) GELU for the image tower and the tanh form ("gelu_new") for the
 * GPT-2 tower, element-wise in fp32 on bf16 storage. */
#include "engine/cuda/cuda_common.cuh"

namespace {

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;  /* 1 / sqrt(2 pi) */
constexpr float kSqrt2OverPi = 0.79788456080286536f;

__device__ float gelu_exact(float x) { return 0.5f * x * (1.0f + erff(x * kInvSqrt2)); }
__device__ float gelu_exact_grad(float x) {
    return 0.5f * (1.0f + erff(x * kInvSqrt2)) + x * kInvSqrt2Pi * expf(-0.5f * x * x);
}
__device__ float gelu_tanh(float x) {
    return 0.5f * x * (1.0f + tanhf(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
}
__device__ float gelu_tanh_grad(float x) {
    float u = kSqrt2OverPi * (x + 0.044715f * x * x * x), t = tanhf(u);
    float du = kSqrt2OverPi * (1.0f + 3.0f * 0.044715f * x * x);
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
}

template <int kTanh>
__global__ void gelu_forward_kernel(__nv_bfloat16 *out, const __nv_bfloat16 *inp, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = __bfloat162float(inp[i]);
    out[i] = __float2bfloat16_rn(kTanh ? gelu_tanh(x) : gelu_exact(x));
}

template <int kTanh>
__global__ void gelu_backward_kernel(__nv_bfloat16 *dinp, const __nv_bfloat16 *dout,
                                     const __nv_bfloat16 *inp, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float x = __bfloat162float(inp[i]);
    float g = kTanh ? gelu_tanh_grad(x) : gelu_exact_grad(x);
    dinp[i] = __float2bfloat16_rn(__bfloat162float(dout[i]) * g);
}

template <int kTanh>
mama_status launch_forward(mama_bf16 *out, const mama_bf16 *inp, size_t n) {
    if (n == 0) return MAMA_OK;
    gelu_forward_kernel<kTanh><<<cuda_blocks(n, 256), 256, 0, g_cuda.stream>>>(bf(out),
                                                                               bf(inp), n);
    CUDA_LAUNCHED("gelu_forward");
    return MAMA_OK;
}

template <int kTanh>
mama_status launch_backward(mama_bf16 *dinp, const mama_bf16 *dout, const mama_bf16 *inp,
                            size_t n) {
    if (n == 0) return MAMA_OK;
    gelu_backward_kernel<kTanh><<<cuda_blocks(n, 256), 256, 0, g_cuda.stream>>>(
        bf(dinp), bf(dout), bf(inp), n);
    CUDA_LAUNCHED("gelu_backward");
    return MAMA_OK;
}

}  // namespace

extern "C" mama_status cuda_gelu_forward(mama_bf16 *out, const mama_bf16 *inp, size_t n) {
    return launch_forward<0>(out, inp, n);
}
extern "C" mama_status cuda_gelu_backward(mama_bf16 *dinp, const mama_bf16 *dout,
                                          const mama_bf16 *inp, size_t n) {
    return launch_backward<0>(dinp, dout, inp, n);
}
extern "C" mama_status cuda_gelu_tanh_forward(mama_bf16 *out, const mama_bf16 *inp, size_t n) {
    return launch_forward<1>(out, inp, n);
}
extern "C" mama_status cuda_gelu_tanh_backward(mama_bf16 *dinp, const mama_bf16 *dout,
                                               const mama_bf16 *inp, size_t n) {
    return launch_backward<1>(dinp, dout, inp, n);
}
