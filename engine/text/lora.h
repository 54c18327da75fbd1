/* lora.h: low-rank adapters (LoRA) on a frozen projection, peft conventions.
 *
 * Legend: N rows (tokens across the batch), C input features, OC output features,
 * R adapter rank.
 * y = base(x) + scale * (x A^T) B^T with A (R,C), B (OC,R) exactly as peft stores
 * lora_A.weight / lora_B.weight (also for GPT-2 Conv1D layers, whose base weight is (C,OC)),
 * scale = alpha / R. Dropout on the adapter input (training only, peft's lora_dropout) is
 * lora_dropout_apply: a counter-based hash of (seed, site, element) decides each kept
 * element, so backward regenerates the same mask instead of storing it.
 * Forward adds to an output the base layer already wrote; backward accumulates (llm.c). */
#ifndef MAMA_LORA_H
#define MAMA_LORA_H

#include <stddef.h>

#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which projections of a GPT-2 block carry adapters (bit mask). */
enum {
    LORA_C_ATTN = 1u << 0,      /* attn.c_attn: fused QKV, the paper's choice */
    LORA_ATTN_C_PROJ = 1u << 1, /* attn.c_proj */
    LORA_C_FC = 1u << 2,        /* mlp.c_fc */
    LORA_MLP_C_PROJ = 1u << 3,  /* mlp.c_proj */
};
#define LORA_NUM_TARGETS 4

typedef struct lora_config {
    int rank;          /* R; 0 disables LoRA */
    float alpha;       /* scale = alpha / rank */
    unsigned targets;  /* LORA_* bits */
    float dropout;     /* probability of zeroing an adapter input element in training */
} lora_config;

/* The paper setting: rank 8, alpha 32, c_attn, dropout 0.1. */
lora_config lora_config_default(void);

/* Parses a comma-separated target list such as "c_attn,mlp.c_proj" (names as in peft's
 * target_modules; "c_proj" alone is ambiguous and rejected with a hint). */
mama_status lora_parse_targets(const char *csv, unsigned *out_targets);

/* Name of target bit index i (0..LORA_NUM_TARGETS-1): "attn.c_attn", "attn.c_proj",
 * "mlp.c_fc", "mlp.c_proj". */
const char *lora_target_name(int i);

/* out (N,OC) += scale * tmp @ B^T, tmp (N,R) = inp (N,C) @ A^T (saved for backward).
 * A (R,C), B (OC,R). */
void lora_forward(float *out, float *tmp, const float *inp, const float *A, const float *B,
                  float scale, int N, int C, int OC, int R);

/* dinp (N,C) += dtmp @ A; dA (R,C) += dtmp^T @ inp; dB (OC,R) += scale * dout^T @ tmp,
 * with dtmp = scale * dout @ B. dtmp_scratch (N,R) is caller-provided scratch. Any of
 * dinp/dA/dB may be NULL to skip it. */
void lora_backward(float *dinp, float *dA, float *dB, float *dtmp_scratch, const float *dout,
                   const float *inp, const float *tmp, const float *A, const float *B,
                   float scale, int N, int C, int OC, int R);

/* Inverted dropout: out[i] = keep ? inp[i] / (1 - p) : 0 over n elements, keep decided
 * by hash(seed, site, i) >= p. Applying it to a gradient gives the backward (same seed and
 * site). out may equal inp. p in [0, 1). */
void lora_dropout_apply(float *out, const float *inp, float p, unsigned long long seed,
                        unsigned long long site, size_t n);

#ifdef __cplusplus
}
#endif
#endif
