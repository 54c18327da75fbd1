/* softmax.cu: row softmax and the cross-entropy of the contrastive losses, fp32, one
 * block per row (rows are a batch of logits: B up to a few hundred columns). */
#include <math.h>

#include "engine/cuda/cuda_common.cuh"

namespace {

__device__ float block_max(float v, float *shared) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < nwarps ? shared[lane] : -INFINITY;
    return warp_max(v);
}

/* x (C) of this block's row becomes softmax(x); an all -inf row becomes uniform (ops.h).
 * Returns log-sum-exp of the row to every thread. */
__device__ float softmax_row(float *x, int C, float *shared) {
    float m = -INFINITY;
    for (int i = threadIdx.x; i < C; i += blockDim.x) m = fmaxf(m, x[i]);
    m = block_max(m, shared);
    if (m == -INFINITY) {
        for (int i = threadIdx.x; i < C; i += blockDim.x) x[i] = 1.0f / C;
        return -INFINITY;
    }
    float s = 0.0f;
    for (int i = threadIdx.x; i < C; i += blockDim.x) s += expf(x[i] - m);
    s = block_sum(s, shared);
    for (int i = threadIdx.x; i < C; i += blockDim.x) x[i] = expf(x[i] - m) / s;
    return m + logf(s);
}

__global__ void softmax_rows_kernel(float *x, int C) {
    __shared__ float shared[32];
    softmax_row(x + (size_t)blockIdx.x * C, C, shared);
}

/* row_loss (N) = lse - logit[target]; dlogits row = (softmax - onehot) / N. */
__global__ void cross_entropy_kernel(float *row_loss, float *dlogits, const float *logits,
                                     const int *targets, int N, int C) {
    __shared__ float shared[32];
    extern __shared__ float row[];
    const float *z = logits + (size_t)blockIdx.x * C;
    for (int i = threadIdx.x; i < C; i += blockDim.x) row[i] = z[i];
    __syncthreads();
    int t = targets[blockIdx.x];
    float zt = row[t];
    float lse = softmax_row(row, C, shared);
    if (threadIdx.x == 0) row_loss[blockIdx.x] = lse - zt;
    if (!dlogits) return;
    __syncthreads();
    float *d = dlogits + (size_t)blockIdx.x * C;
    for (int i = threadIdx.x; i < C; i += blockDim.x)
        d[i] = (row[i] - (i == t ? 1.0f : 0.0f)) / N;
}

/* loss = mean of row_loss, one block. */
__global__ void mean_kernel(float *loss, const float *row_loss, int N) {
    __shared__ float shared[32];
    float s = 0.0f;
    for (int i = threadIdx.x; i < N; i += blockDim.x) s += row_loss[i];
    s = block_sum(s, shared);
    if (threadIdx.x == 0) *loss = s / N;
}

}  // namespace

extern "C" mama_status cuda_softmax_rows(float *x, int N, int C) {
    if (N <= 0 || C <= 0) return mama_errorf(MAMA_EINVAL, "cuda_softmax_rows: N=%d C=%d", N, C);
    softmax_rows_kernel<<<N, 256, 0, g_cuda.stream>>>(x, C);
    CUDA_LAUNCHED("softmax_rows");
    return MAMA_OK;
}

extern "C" mama_status cuda_cross_entropy_forward_backward(float *loss, float *dlogits,
                                                           const float *logits,
                                                           const int *targets, int N, int C) {
    if (N <= 0 || C <= 0 || (size_t)C * sizeof(float) > 48 * 1024)
        return mama_errorf(MAMA_EINVAL, "cuda_cross_entropy: N=%d C=%d (C at most 12288)", N,
                           C);
    float *row_loss = nullptr;
    mama_status rc = cuda_malloc((void **)&row_loss, (size_t)N * sizeof(float));
    if (rc != MAMA_OK) return rc;
    cross_entropy_kernel<<<N, 256, (size_t)C * sizeof(float), g_cuda.stream>>>(
        row_loss, dlogits, logits, targets, N, C);
    cudaError_t err = cudaGetLastError();
    if (err == cudaSuccess) {
        mean_kernel<<<1, 256, 0, g_cuda.stream>>>(loss, row_loss, N);
        err = cudaGetLastError();
    }
    /* cudaFree waits for the stream's work that uses row_loss */
    cudaFree(row_loss);
    if (err != cudaSuccess) return cuda_fail(err, "cross_entropy kernels", __FILE__, __LINE__);
    return MAMA_OK;
}
