/* text_pool.h: from a text tower's token features to caption and sentence features,
 * shared by the GPT-2 and BERT towers.
 *
 * Legend: B batch, T sequence length, C tower width, E embedding width (projection),
 * S number of gathered sentence (sep) tokens across the batch.
 * Masks are (B,T) floats, 1 = real token, 0 = padding. Backward functions accumulate. */
#ifndef MAMA_TEXT_POOL_H
#define MAMA_TEXT_POOL_H

#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out (B,C) = sum_t mask[b,t] inp[b,t,:] / sum_t mask[b,t]; mask NULL = all real.
 * MAMA_EINVAL when a row has no real token (nothing to average). */
mama_status text_mean_pool_forward(float *out, const float *inp, const float *mask,
                                   int B, int T, int C);
/* dinp (B,T,C) += dout[b] * mask[b,t] / sum_t mask[b,t]. */
void text_mean_pool_backward(float *dinp, const float *dout, const float *mask,
                             int B, int T, int C);

/* out (B,C) = inp[b,0,:] (the first token: BERT's [CLS]). */
void text_cls_pool_forward(float *out, const float *inp, int B, int T, int C);

/* Positions of the sentence-closing sep tokens: out_pos (at most B*T) receives flat
 * indexes b*T+t, in order, of every real token whose id is sep_id; returns S. */
int text_sep_positions(int *out_pos, const int *ids, const float *mask, int sep_id,
                       int B, int T);
/* out (S,C) = inp rows (B*T,C) at pos (S); backward scatter-adds into dinp (B*T,C). */
void text_gather_rows_forward(float *out, const float *inp, const int *pos, int S, int C);
void text_gather_rows_backward(float *dinp, const float *dout, const int *pos, int S, int C);

/* The text projection: out (B,E) = l2norm(inp (B,C) @ w^T + b), w (E,C) nn.Linear
 * layout, b (E) or NULL; norms (B) receives the pre-normalisation norms (may be NULL). */
void text_projection_forward(float *out, float *norms, const float *inp, const float *w,
                             const float *b, int B, int C, int E);

/* Backward of text_projection_forward given its out (B,E) and norms (B): dinp (B,C) +=,
 * dw (E,C) +=, db (E) += (any may be NULL). dlin_scratch (B,E) is caller scratch. */
void text_projection_backward(float *dinp, float *dw, float *db, float *dlin_scratch,
                              const float *dout, const float *inp, const float *w,
                              const float *out, const float *norms, int B, int C, int E);

#ifdef __cplusplus
}
#endif
#endif
