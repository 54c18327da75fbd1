/* ops.h: the engine's CPU layers, shared by the image and text towers.
 *
 * Legend: N rows (tokens across the batch), C input features, OC output features,
 * B batch, T sequence length, NH heads, HS head size (C = NH * HS).
 * Conventions (llm.c): arguments are outputs, inputs, weights, sizes. Forward functions
 * assign their outputs. Backward functions ACCUMULATE (+=) into parameter gradients and
 * into input gradients (dinp), so a caller zeroes gradient buffers once per step.
 * Every op has a naive reference in tests/engine and (later) a CUDA twin in cuda/<op>.cu.
 * Threads: each op parallelises itself over the OpenMP pool (parallel.h: mama_set_threads);
 * call ops from one thread, not from inside an OpenMP region of your own. Element-wise ops
 * (gelu*, residual_scaled_forward) may run in place (out == inp / out == a). */
#ifndef MAMA_OPS_H
#define MAMA_OPS_H

#include <stddef.h>

#include <stdint.h>

#include "engine/core/status.h"
#include "engine/ops/gemm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out (N,OC) = inp (N,C) @ w^T + b; w (OC,C) in PyTorch nn.Linear layout; b (OC) or NULL. */
void linear_forward(float *out, const float *inp, const float *w, const float *b,
                    int N, int C, int OC);
/* dinp (N,C) += dout @ w; dw (OC,C) += dout^T @ inp; db (OC) += sum dout. Any of
 * dinp/dw/db may be NULL to skip it. */
void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int N, int C, int OC);

/* out (N,OC) = GELU(inp @ w^T + b), exact GELU fused into the product (inference: the
 * pre-activation is not kept, so there is no backward of this form). */
void linear_gelu_forward(float *out, const float *inp, const float *w, const float *b,
                         int N, int C, int OC);
/* linear_forward with w (OC,C) in bf16 (raw patterns, dtype.h): inp rounded to bf16 on the
 * way in, fp32 accumulation and output (gemm.h: gemm_bf16_forward); gelu: 1 fuses the
 * exact GELU after. MAMA_ENOMEM when its scratch cannot be had (out untouched). */
mama_status linear_bf16_forward(float *out, const float *inp, const uint16_t *w,
                                const float *b, int N, int C, int OC, int gelu);
/* linear_in_out_forward with w (C,OC) in bf16; gelu_tanh: 1 fuses GPT-2's tanh GELU. */
mama_status linear_in_out_bf16_forward(float *out, const float *inp, const uint16_t *w,
                                       const float *b, int N, int C, int OC, int gelu_tanh);

/* A tower's block product in either precision: out (N,OC) = post(inp @ W + b) on the bf16
 * copy w16 when it is not NULL, else on the fp32 w; W in nn.Linear layout (OC,C), or GPT-2's
 * (C,OC) when in_out. post (gemm.h) fuses a GELU (inference: no pre-activation is kept).
 * Returns as linear_bf16_forward (fp32 always MAMA_OK). */
mama_status linear_prec_forward(float *out, const float *inp, const float *w,
                                const uint16_t *w16, const float *b, int N, int C, int OC,
                                int in_out, gemm_post post);

/* out (N,OC) = inp (N,C) @ w + b; w (C,OC): Hugging Face GPT-2 Conv1D layout. */
void linear_in_out_forward(float *out, const float *inp, const float *w, const float *b,
                           int N, int C, int OC);
void linear_in_out_backward(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, int N, int C, int OC);

/* LayerNorm over the last dim. mean, rstd (N) are saved for backward (may be NULL in
 * inference). w, b (C); NULL means 1 and 0. */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *w, const float *b, int N, int C, float eps);
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, const float *mean,
                        const float *rstd, int N, int C);

/* Exact GELU: x * 0.5 * (1 + erf(x / sqrt 2)). */
void gelu_forward(float *out, const float *inp, size_t n);
void gelu_backward(float *dinp, const float *dout, const float *inp, size_t n);
/* tanh-approximate GELU ("gelu_new", GPT-2). */
void gelu_tanh_forward(float *out, const float *inp, size_t n);
void gelu_tanh_backward(float *dinp, const float *dout, const float *inp, size_t n);

/* out[i] = a[i] + scale[i % C] * b[i]  (LayerScale residual; scale NULL means 1). */
void residual_scaled_forward(float *out, const float *a, const float *b, const float *scale,
                             size_t N, int C);
/* da, db (N,C) += ; dscale (C) += sum_n b * dout (skipped when scale or dscale is NULL);
 * any output may be NULL. */
void residual_scaled_backward(float *da, float *db, float *dscale, const float *dout,
                              const float *b, const float *scale, size_t N, int C);

/* Multi-head attention on a packed qkv buffer, fused and tiled (flash style): no more
 * than one block of the T x T score matrix exists at a time.
 *   out (B,T,C); lse (B,NH,T) log-sum-exp per query row, saved for backward (may be NULL);
 *   qkv (B,T,3C) laid out [q | k | v], each split into NH heads of HS;
 *   key_mask (B,T) 1 = attend, 0 = padding (NULL: all keys valid);
 *   scale multiplies q.k (usually 1/sqrt(HS), times 1/(layer+1) for BioMedLM);
 *   causal: query t attends keys <= t.
 * A query row with no key to attend (all masked) gets out = 0, lse = -inf.
 * Returns MAMA_EINVAL (nothing written) unless C is a positive multiple of NH and
 * B, T >= 0; MAMA_ENOMEM (nothing written) when its per-thread scratch (a few tiles, one
 * allocation per call, never inside the parallel region) cannot be had. */
mama_status attention_forward(float *out, float *lse, const float *qkv, const float *key_mask,
                              int B, int T, int C, int NH, float scale, int causal);
/* dqkv (B,T,3C) += gradient; needs the forward's out (B,T,C) and lse (B,NH,T). Returns as
 * attention_forward. */
mama_status attention_backward(float *dqkv, const float *dout, const float *qkv,
                               const float *out, const float *lse, const float *key_mask,
                               int B, int T, int C, int NH, float scale, int causal);

/* Row-wise softmax in place over the last dim (N rows of C). A row of all -inf becomes
 * uniform. */
void softmax_rows(float *x, int N, int C);
/* dinp (N,C) += gradient through y = softmax(x) (N,C), given dout (N,C). */
void softmax_rows_backward(float *dinp, const float *dout, const float *y, int N, int C);

/* L2-normalise each row of x (N,C) in place (divides by max(norm, 1e-12), as
 * torch.nn.functional.normalize); norms (N) saved when not NULL. */
void l2norm_rows(float *x, float *norms, int N, int C);
/* dinp (N,C) += gradient through y = x / |x|, given y (N,C) and norms (N) of the forward. */
void l2norm_rows_backward(float *dinp, const float *dout, const float *y, const float *norms,
                          int N, int C);

#ifdef __cplusplus
}
#endif
#endif
