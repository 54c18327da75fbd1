/* adamw.cu: AdamW over fp32 master weights (decoupled weight decay, bias-corrected
 * moments), writing the bf16 working copy the forward reads. */
#include <math.h>

#include "engine/cuda/cuda_common.cuh"

__global__ static void adamw_kernel(float *master, __nv_bfloat16 *work, const float *grad,
                                    float *m, float *v, size_t n, float lr, float beta1,
                                    float beta2, float eps, float wd, float bc1, float bc2) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float g = grad[i];
    float mi = beta1 * m[i] + (1.0f - beta1) * g;
    float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    float p = master[i];
    p -= lr * wd * p;  /* decoupled decay first, as torch.optim.AdamW */
    p -= lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
    master[i] = p;
    if (work) work[i] = __float2bfloat16_rn(p);
}

extern "C" mama_status cuda_adamw_update(float *master, mama_bf16 *work, const float *grad,
                                         float *m, float *v, size_t n, float lr, float beta1,
                                         float beta2, float eps, float wd, int t) {
    if (t < 1) return mama_errorf(MAMA_EINVAL, "cuda_adamw_update: step %d (starts at 1)", t);
    if (n == 0) return MAMA_OK;
    float bc1 = 1.0f - powf(beta1, (float)t), bc2 = 1.0f - powf(beta2, (float)t);
    adamw_kernel<<<cuda_blocks(n, 256), 256, 0, g_cuda.stream>>>(master, bf(work), grad, m, v, n,
                                                                 lr, beta1, beta2, eps, wd, bc1,
                                                                 bc2);
    CUDA_LAUNCHED("adamw_update");
    return MAMA_OK;
}
