/* l2norm.cu: row L2 normalisation of embeddings (x / max(|x|, 1e-12), as
 * torch.nn.functional.normalize) and its backward, fp32, one warp per row. */
#include "engine/cuda/cuda_common.cuh"

namespace {

__global__ void l2norm_kernel(float *x, float *norms, int N, int C) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x & 31;
    if (row >= N) return;
    float *r = x + (size_t)row * C;
    float s = 0.0f;
    for (int i = lane; i < C; i += 32) s += r[i] * r[i];
    float n = sqrtf(warp_sum(s));
    float inv = 1.0f / fmaxf(n, 1e-12f);
    for (int i = lane; i < C; i += 32) r[i] *= inv;
    if (lane == 0 && norms) norms[row] = n;
}

/* dinp += (dout - y (y . dout)) / max(norm, eps); below eps the map is x / eps. */
__global__ void l2norm_backward_kernel(float *dinp, const float *dout, const float *y,
                                       const float *norms, int N, int C) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x & 31;
    if (row >= N) return;
    const float *g = dout + (size_t)row * C, *yr = y + (size_t)row * C;
    float n = norms[row];
    float dot = 0.0f;
    for (int i = lane; i < C; i += 32) dot += yr[i] * g[i];
    dot = warp_sum(dot);
    float *d = dinp + (size_t)row * C;
    if (n <= 1e-12f) {  /* clamped: y = x / eps, a linear map (as the CPU op) */
        for (int i = lane; i < C; i += 32) d[i] += g[i] / 1e-12f;
        return;
    }
    for (int i = lane; i < C; i += 32) d[i] += (g[i] - yr[i] * dot) / n;
}

}  // namespace

extern "C" mama_status cuda_l2norm_rows(float *x, float *norms, int N, int C) {
    if (N <= 0 || C <= 0) return mama_errorf(MAMA_EINVAL, "cuda_l2norm_rows: N=%d C=%d", N, C);
    l2norm_kernel<<<cuda_blocks((size_t)N, 8), 256, 0, g_cuda.stream>>>(x, norms, N, C);
    CUDA_LAUNCHED("l2norm_rows");
    return MAMA_OK;
}

extern "C" mama_status cuda_l2norm_rows_backward(float *dinp, const float *dout, const float *y,
                                                 const float *norms, int N, int C) {
    if (N <= 0 || C <= 0 || !norms)
        return mama_errorf(MAMA_EINVAL, "cuda_l2norm_rows_backward: N=%d C=%d, norms of the "
                           "forward required", N, C);
    l2norm_backward_kernel<<<cuda_blocks((size_t)N, 8), 256, 0, g_cuda.stream>>>(
        dinp, dout, y, norms, N, C);
    CUDA_LAUNCHED("l2norm_rows_backward");
    return MAMA_OK;
}
