/* batchnorm.cu: BatchNorm1d over the rows of (N,C) for the local and SimCLR heads, fp32.
 * Train mode normalises with the batch's biased variance and updates the running
 * statistics with the unbiased one (PyTorch's rule, momentum 0.1 in MaMA); eval mode uses
 * the running statistics. One block per column: rows are strided by C, which is slow for
 * wide heads but exact; a tiled two-pass reduction is the faster later form. */
#include "engine/cuda/cuda_common.cuh"

__global__ static void batchnorm_kernel(float *out, float *mean, float *rstd,
                                        float *running_mean, float *running_var,
                                        const float *inp, const float *w, const float *b,
                                        int N, int C, float eps, float momentum, int train) {
    __shared__ float shared[32];
    int c = blockIdx.x;
    float m, var;
    if (train) {
        float s = 0.0f;
        for (int i = threadIdx.x; i < N; i += blockDim.x) s += inp[(size_t)i * C + c];
        m = block_sum(s, shared) / N;
        float v = 0.0f;
        for (int i = threadIdx.x; i < N; i += blockDim.x) {
            float d = inp[(size_t)i * C + c] - m;
            v += d * d;
        }
        float ss = block_sum(v, shared);
        var = ss / N;
        if (threadIdx.x == 0 && running_mean && running_var) {
            float unbiased = N > 1 ? ss / (N - 1) : var;
            running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * m;
            running_var[c] = (1.0f - momentum) * running_var[c] + momentum * unbiased;
        }
    } else {
        m = running_mean[c];
        var = running_var[c];
    }
    float r = rsqrtf(var + eps);
    float wc = w ? w[c] : 1.0f, bc = b ? b[c] : 0.0f;
    for (int i = threadIdx.x; i < N; i += blockDim.x) {
        size_t k = (size_t)i * C + c;
        out[k] = (inp[k] - m) * r * wc + bc;
    }
    if (threadIdx.x == 0) {
        if (mean) mean[c] = m;
        if (rstd) rstd[c] = r;
    }
}

extern "C" mama_status cuda_batchnorm_forward(float *out, float *mean, float *rstd,
                                              float *running_mean, float *running_var,
                                              const float *inp, const float *w,
                                              const float *b, int N, int C, float eps,
                                              float momentum, int train) {
    if (N <= 0 || C <= 0 || (!train && (!running_mean || !running_var)))
        return mama_errorf(MAMA_EINVAL, "cuda_batchnorm_forward: N=%d C=%d (eval mode needs "
                           "the running statistics)", N, C);
    batchnorm_kernel<<<C, 256, 0, g_cuda.stream>>>(out, mean, rstd, running_mean, running_var,
                                                   inp, w, b, N, C, eps, momentum, train);
    CUDA_LAUNCHED("batchnorm_forward");
    return MAMA_OK;
}
