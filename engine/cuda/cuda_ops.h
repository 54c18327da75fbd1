/* cuda_ops.h: the engine's layers on an NVIDIA GPU, the twins of engine/ops/ops.h.
 *
 * Each op lives in engine/cuda/<op>.cu with the CPU op's stem and argument order
 * (outputs, inputs, weights, sizes), prefixed cuda_ because both sit in one library.
 * Legend as ops.h: N rows, C input features, OC output features, B batch, T tokens,
 * NH heads, HS head size.
 *
 * Precision (ARCHITECTURE.md): activations and weights in bf16 (mama_bf16, the raw 16-bit
 * pattern), every reduction (GEMM, LayerNorm, softmax, norms, BatchNorm statistics)
 * accumulated in fp32, parameter gradients and optimiser state in fp32 (fp32 master
 * weights with a bf16 working copy refreshed by cuda_adamw_update).
 * Pointers are device pointers unless named h_*. Every function returns a mama_status;
 * a failed CUDA or cuBLAS call becomes a message naming the call, file and line
 * (mama_last_error), never an abort. Calls are asynchronous on the engine's stream;
 * cuda_sync waits and reports any deferred kernel error.
 * Without a CUDA build (MAMA_HAVE_CUDA undefined) none of this is compiled; callers
 * check cuda_device_count() first (0 when there is no build, driver or GPU). */
#ifndef MAMA_CUDA_OPS_H
#define MAMA_CUDA_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/ptable.h"
#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint16_t mama_bf16;

/* --- device, memory (cuda_device.cu) */
typedef struct cuda_device_info {
    int ordinal;
    char name[256];
    int sm_major, sm_minor;
    size_t total_mem;
    int multiprocessors;
} cuda_device_info;

/* GPUs visible to this process; 0 without a driver or device (never an error). */
int cuda_device_count(void);
/* Selects the device, creates the engine's stream and cuBLASLt handle and workspace. */
mama_status cuda_device_open(int ordinal, cuda_device_info *out_info);
void cuda_device_close(void);
/* Parses "cuda", "cuda:N" -> N; "cpu" -> -1; "auto" -> 0 when a GPU is visible, else -1. */
mama_status cuda_device_parse(const char *spec, int *out_ordinal);

mama_status cuda_malloc(void **out_ptr, size_t bytes);
void cuda_free(void *ptr);
mama_status cuda_memset0(void *ptr, size_t bytes);
mama_status cuda_upload(void *dst, const void *h_src, size_t bytes);
mama_status cuda_download(void *h_dst, const void *src, size_t bytes);
mama_status cuda_sync(void);
/* One device block laid out by a tensor table (ptable.h): cudaMalloc(t->bytes) zeroed;
 * point it with ptable_point as a host block. */
mama_status cuda_ptable_alloc(const ptable *t, void **out_block);

/* --- conversions (convert.cu) */
mama_status cuda_f32_to_bf16(mama_bf16 *out, const float *inp, size_t n);
mama_status cuda_bf16_to_f32(float *out, const mama_bf16 *inp, size_t n);

/* --- GEMM through cuBLASLt (gemm.cu), bf16 inputs, fp32 accumulation.
 * out (N,OC) = inp (N,C) @ w^T + b, w (OC,C) (nn.Linear layout), b (OC) or NULL.
 * gelu: 0 none; 1 tanh GELU fused in cuBLASLt's epilogue (GPT-2's gelu_new); 2 exact
 * (erf) GELU (DINOv2) as a kernel after the bias epilogue. pre_gelu (N,OC) keeps the
 * bias output before GELU for backward: optional for 1, required for 2. */
mama_status cuda_linear_forward(mama_bf16 *out, mama_bf16 *pre_gelu, const mama_bf16 *inp,
                                const mama_bf16 *w, const mama_bf16 *b, int N, int C,
                                int OC, int gelu);
/* dinp (N,C) = dout @ w (assigned, bf16); dw (OC,C) += dout^T @ inp (fp32);
 * db (OC) += column sums of dout (fp32). Any output may be NULL. */
mama_status cuda_linear_backward(mama_bf16 *dinp, float *dw, float *db, const mama_bf16 *dout,
                                 const mama_bf16 *inp, const mama_bf16 *w, int N, int C,
                                 int OC);

/* --- LayerNorm (layernorm.cu): over the last dim; mean, rstd (N) fp32 for backward. */
mama_status cuda_layernorm_forward(mama_bf16 *out, float *mean, float *rstd,
                                   const mama_bf16 *inp, const mama_bf16 *w,
                                   const mama_bf16 *b, int N, int C, float eps);
/* dinp (N,C) += (bf16); dw, db (C) += (fp32). */
mama_status cuda_layernorm_backward(mama_bf16 *dinp, float *dw, float *db,
                                    const mama_bf16 *dout, const mama_bf16 *inp,
                                    const mama_bf16 *w, const float *mean, const float *rstd,
                                    int N, int C);

/* --- GELU (gelu.cu): exact (erf) and tanh-approximate; backward assigns dinp. */
mama_status cuda_gelu_forward(mama_bf16 *out, const mama_bf16 *inp, size_t n);
mama_status cuda_gelu_backward(mama_bf16 *dinp, const mama_bf16 *dout, const mama_bf16 *inp,
                               size_t n);
mama_status cuda_gelu_tanh_forward(mama_bf16 *out, const mama_bf16 *inp, size_t n);
mama_status cuda_gelu_tanh_backward(mama_bf16 *dinp, const mama_bf16 *dout,
                                    const mama_bf16 *inp, size_t n);

/* --- LayerScale residual (residual.cu): out = a + scale[i % C] * b (scale NULL = 1). */
mama_status cuda_residual_scaled_forward(mama_bf16 *out, const mama_bf16 *a,
                                         const mama_bf16 *b, const mama_bf16 *scale,
                                         size_t N, int C);

/* --- softmax and cross-entropy (softmax.cu), fp32 logits (the contrastive losses). */
mama_status cuda_softmax_rows(float *x, int N, int C);
/* loss (1) = mean over rows of -log softmax(logits)[row, target[row]];
 * dlogits (N,C) = (softmax - onehot) / N when not NULL. */
mama_status cuda_cross_entropy_forward_backward(float *loss, float *dlogits,
                                                const float *logits, const int *targets,
                                                int N, int C);

/* --- L2 norm of rows (l2norm.cu), fp32 (embeddings before the contrastive logits). */
mama_status cuda_l2norm_rows(float *x, float *norms, int N, int C);
mama_status cuda_l2norm_rows_backward(float *dinp, const float *dout, const float *y,
                                      const float *norms, int N, int C);

/* --- BatchNorm1d over rows (batchnorm.cu), fp32. train: batch statistics (biased var
 * for the output, running stats updated with momentum and the unbiased var, as PyTorch);
 * eval: running statistics. w, b (C) or NULL (no affine). */
mama_status cuda_batchnorm_forward(float *out, float *mean, float *rstd, float *running_mean,
                                   float *running_var, const float *inp, const float *w,
                                   const float *b, int N, int C, float eps, float momentum,
                                   int train);

/* --- attention (attention.cu): flash-style fused forward, one block per (batch, head,
 * query tile); the T x T matrix never exists. Same layout and meaning as ops.h:
 * out (B,T,C) bf16, lse (B,NH,T) fp32 or NULL, qkv (B,T,3C) bf16, key_mask (B,T) fp32 or
 * NULL, scale, causal. HS = C / NH must be 64 or 128. */
mama_status cuda_attention_forward(mama_bf16 *out, float *lse, const mama_bf16 *qkv,
                                   const float *key_mask, int B, int T, int C, int NH,
                                   float scale, int causal);

/* --- AdamW (adamw.cu) over fp32 master weights, refreshing the bf16 working copy
 * (may be NULL). decay is applied decoupled (p -= lr * wd * p) where wd != 0; the step t
 * starts at 1 for bias correction. */
mama_status cuda_adamw_update(float *master, mama_bf16 *work, const float *grad, float *m,
                              float *v, size_t n, float lr, float beta1, float beta2,
                              float eps, float wd, int t);

#ifdef __cplusplus
}
#endif
#endif
