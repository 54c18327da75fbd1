/* cuda_common.cuh: what every engine/cuda/<op>.cu shares: checked calls that turn CUDA
 * and cuBLAS failures into mama_status messages naming the call, file and line (llm.c's
 * cudaCheck, without the exit), the engine's stream and cuBLASLt handle, bf16 views and a
 * launch helper. Private to engine/cuda. */
#ifndef MAMA_CUDA_COMMON_CUH
#define MAMA_CUDA_COMMON_CUH

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "engine/core/status.h"
#include "engine/cuda/cuda_ops.h"

/* The device state opened by cuda_device_open; cudaStreamLegacy and no handle before. */
struct cuda_state {
    int open;
    int ordinal;
    cudaStream_t stream;
    cublasLtHandle_t lt;
    void *workspace;  /* cuBLASLt workspace, allocated once */
    size_t workspace_bytes;
};
extern cuda_state g_cuda;

mama_status cuda_fail(cudaError_t err, const char *call, const char *file, int line);
mama_status cublas_fail(cublasStatus_t st, const char *call, const char *file, int line);

#define CUDA_TRY(call)                                                             \
    do {                                                                           \
        cudaError_t err_ = (call);                                                 \
        if (err_ != cudaSuccess) return cuda_fail(err_, #call, __FILE__, __LINE__); \
    } while (0)
#define CUBLAS_TRY(call)                                                                  \
    do {                                                                                  \
        cublasStatus_t st_ = (call);                                                      \
        if (st_ != CUBLAS_STATUS_SUCCESS) return cublas_fail(st_, #call, __FILE__, __LINE__); \
    } while (0)
/* After a kernel launch: reports a bad launch configuration at once (execution errors
 * surface at the next synchronising call, cuda_sync). */
#define CUDA_LAUNCHED(name) CUDA_TRY(cudaGetLastError())

static inline const __nv_bfloat16 *bf(const mama_bf16 *p) {
    return reinterpret_cast<const __nv_bfloat16 *>(p);
}
static inline __nv_bfloat16 *bf(mama_bf16 *p) { return reinterpret_cast<__nv_bfloat16 *>(p); }

static inline unsigned cuda_blocks(size_t n, unsigned threads) {
    return (unsigned)((n + threads - 1) / threads);
}

/* Warp-wide sum and max (all 32 lanes active). */
__device__ inline float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ inline float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
/* Block-wide sum for blockDim.x a multiple of 32 (<= 1024); every thread gets the sum.
 * shared must hold 32 floats. */
__device__ inline float block_sum(float v, float *shared) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < nwarps ? shared[lane] : 0.0f;
    return warp_sum(v);
}

#endif
