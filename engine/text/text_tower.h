/* text_tower.h: captions -> text embeddings with either text tower, the path `mama prompts`
 * takes (tokenize -> forward -> masked-mean (or CLS) pooling -> projection -> L2 norm).
 *
 * Legend: B batch, T sequence length, C tower width, E embedding width.
 * Ids and masks are int32 (B,T) as the tokenizers write them (bpe_encode_caption,
 * wordpiece_encode_padded): mask 1 = real token, 0 = padding. The tower handle borrows
 * the model; the caller keeps ownership. */
#ifndef MAMA_TEXT_TOWER_H
#define MAMA_TEXT_TOWER_H

#include <stdint.h>

#include "engine/text/bert.h"
#include "engine/text/gpt2.h"
#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum text_pooling {
    TEXT_POOL_MEAN = 0,  /* masked mean over real tokens (MaMA, both at training and zero-shot) */
    TEXT_POOL_CLS = 1,   /* first token (BERT [CLS]) */
} text_pooling;

typedef struct text_tower {
    gpt2_model *gpt2;    /* exactly one of gpt2 / bert is set */
    bert_model *bert;
    text_pooling pooling;
} text_tower;

/* Width C of the tower's features. */
int text_tower_width(const text_tower *t);

/* out (B,C): pooled caption features. */
mama_status text_tower_pooled(text_tower *t, float *out, const int32_t *ids,
                              const int32_t *mask, int B, int T);

/* out (B,E) = l2norm(pooled @ proj_w^T + proj_b): proj_w (E,C) nn.Linear layout, proj_b
 * (E) or NULL. */
mama_status text_tower_embed(text_tower *t, float *out, const int32_t *ids,
                             const int32_t *mask, int B, int T, const float *proj_w,
                             const float *proj_b, int E);

#ifdef __cplusplus
}
#endif
#endif
