/* cuda_device.cu: choosing a GPU, the engine's stream and cuBLASLt handle, device memory,
 * and the one error path of the CUDA wing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/cuda_common.cuh"

cuda_state g_cuda = {0, -1, cudaStreamLegacy, nullptr, nullptr, 0};

mama_status cuda_fail(cudaError_t err, const char *call, const char *file, int line) {
    return mama_errorf(err == cudaErrorMemoryAllocation ? MAMA_ENOMEM : MAMA_EIO,
                       "CUDA: %s failed at %s:%d: %s (%s)", call, file, line,
                       cudaGetErrorString(err), cudaGetErrorName(err));
}

mama_status cublas_fail(cublasStatus_t st, const char *call, const char *file, int line) {
    return mama_errorf(st == CUBLAS_STATUS_ALLOC_FAILED ? MAMA_ENOMEM : MAMA_EIO,
                       "cuBLAS: %s failed at %s:%d: status %d (%s)", call, file, line, (int)st,
                       cublasLtGetStatusString(st));
}

extern "C" int cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError();  /* no driver: clear the sticky error, report none */
        return 0;
    }
    return n;
}

extern "C" mama_status cuda_device_parse(const char *spec, int *out_ordinal) {
    if (!spec || !strcmp(spec, "auto")) {
        *out_ordinal = cuda_device_count() > 0 ? 0 : -1;
        return MAMA_OK;
    }
    if (!strcmp(spec, "cpu")) {
        *out_ordinal = -1;
        return MAMA_OK;
    }
    if (!strcmp(spec, "cuda")) {
        *out_ordinal = 0;
        return MAMA_OK;
    }
    if (!strncmp(spec, "cuda:", 5) && spec[5]) {
        char *end = nullptr;
        long n = strtol(spec + 5, &end, 10);
        if (*end == '\0' && n >= 0 && n < 1024) {
            *out_ordinal = (int)n;
            return MAMA_OK;
        }
    }
    return mama_errorf(MAMA_EINVAL, "device '%s': expected auto, cpu, cuda or cuda:N", spec);
}

extern "C" mama_status cuda_device_open(int ordinal, cuda_device_info *out_info) {
    int n = cuda_device_count();
    if (ordinal < 0 || ordinal >= n)
        return mama_errorf(MAMA_EUNSUPPORTED,
                           "CUDA device %d requested but %d visible (check nvidia-smi, "
                           "CUDA_VISIBLE_DEVICES, or use --device cpu)", ordinal, n);
    if (g_cuda.open) cuda_device_close();
    CUDA_TRY(cudaSetDevice(ordinal));
    cudaDeviceProp prop;
    CUDA_TRY(cudaGetDeviceProperties(&prop, ordinal));
    CUDA_TRY(cudaStreamCreateWithFlags(&g_cuda.stream, cudaStreamNonBlocking));
    CUBLAS_TRY(cublasLtCreate(&g_cuda.lt));
    g_cuda.workspace_bytes = 32u << 20;  /* cuBLASLt's advice for Hopper: 32 MiB */
    CUDA_TRY(cudaMalloc(&g_cuda.workspace, g_cuda.workspace_bytes));
    g_cuda.open = 1;
    g_cuda.ordinal = ordinal;
    if (out_info) {
        memset(out_info, 0, sizeof *out_info);
        out_info->ordinal = ordinal;
        snprintf(out_info->name, sizeof out_info->name, "%s", prop.name);
        out_info->sm_major = prop.major;
        out_info->sm_minor = prop.minor;
        out_info->total_mem = prop.totalGlobalMem;
        out_info->multiprocessors = prop.multiProcessorCount;
    }
    return MAMA_OK;
}

extern "C" void cuda_device_close(void) {
    if (!g_cuda.open) return;
    cudaStreamSynchronize(g_cuda.stream);
    cudaFree(g_cuda.workspace);
    cublasLtDestroy(g_cuda.lt);
    cudaStreamDestroy(g_cuda.stream);
    g_cuda = {0, -1, cudaStreamLegacy, nullptr, nullptr, 0};
}

extern "C" mama_status cuda_malloc(void **out_ptr, size_t bytes) {
    *out_ptr = nullptr;
    CUDA_TRY(cudaMalloc(out_ptr, bytes ? bytes : 1));
    return MAMA_OK;
}

extern "C" void cuda_free(void *ptr) {
    if (ptr) cudaFree(ptr);
}

extern "C" mama_status cuda_memset0(void *ptr, size_t bytes) {
    CUDA_TRY(cudaMemsetAsync(ptr, 0, bytes, g_cuda.stream));
    return MAMA_OK;
}

extern "C" mama_status cuda_upload(void *dst, const void *h_src, size_t bytes) {
    CUDA_TRY(cudaMemcpyAsync(dst, h_src, bytes, cudaMemcpyHostToDevice, g_cuda.stream));
    return MAMA_OK;
}

extern "C" mama_status cuda_download(void *h_dst, const void *src, size_t bytes) {
    CUDA_TRY(cudaMemcpyAsync(h_dst, src, bytes, cudaMemcpyDeviceToHost, g_cuda.stream));
    CUDA_TRY(cudaStreamSynchronize(g_cuda.stream));
    return MAMA_OK;
}

extern "C" mama_status cuda_sync(void) {
    CUDA_TRY(cudaStreamSynchronize(g_cuda.stream));
    CUDA_TRY(cudaGetLastError());
    return MAMA_OK;
}

extern "C" mama_status cuda_ptable_alloc(const ptable *t, void **out_block) {
    mama_status rc = cuda_malloc(out_block, t->bytes);
    if (rc != MAMA_OK) return rc;
    rc = cuda_memset0(*out_block, t->bytes);
    if (rc != MAMA_OK) {
        cuda_free(*out_block);
        *out_block = nullptr;
    }
    return rc;
}
