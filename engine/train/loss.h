/* loss.h: MaMA's contrastive losses (MAMA_METHOD.md section 7), forward and backward.
 *
 * Legend: B images (= reports) per step, E embedding width, Np patches per image,
 * S sentences across the batch (report j owns rows sent_off[j] .. sent_off[j+1]-1),
 * ls a learnable log logit scale, s = exp(ls).
 * CE(X) for a square X (B,B) is the mean over rows r of -log softmax(X[r])[r]: the target
 * of row r is column r (image r goes with report r).
 *
 * Forward functions return the loss and keep in their scratch what backward needs;
 * backward functions take the same scratch and a weight w (the loss's coefficient in the
 * total, 0 skips it) and ACCUMULATE w * dloss/dx into the input gradients and into *dls.
 * Inputs that are l2-normalised embeddings (v, t, patch and sentence rows) are given
 * normalised: the normalisation's backward belongs to whoever normalised them. */
#ifndef MAMA_LOSS_H
#define MAMA_LOSS_H

#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NTXENT_TEMPERATURE 0.5f

/* L_VT(v, t) = CE(s v t^T) + CE(s t v^T): v, t (B,E) normalised.
 * scratch: CLIP_LOSS_SCRATCH(B) floats, kept from forward to backward. */
#define CLIP_LOSS_SCRATCH(B) ((size_t)4 * (B) * (B))
float clip_loss_forward(float *scratch, const float *v, const float *t, float ls, int B, int E);
void clip_loss_backward(float *dv, float *dt, float *dls, float *scratch, const float *v,
                        const float *t, float ls, int B, int E, float w);

/* NT-Xent (SimCLR) of two views z1, z2 (B,E) (NOT normalised: the loss normalises them, as
 * SimCLR's cosine similarity), temperature tau: over the 2B rows z = [z1; z2], row i's
 * positive is row (i + B) mod 2B and its negatives every other row but itself.
 * scratch: ntxent_scratch_floats(B, E). */
size_t ntxent_scratch_floats(int B, int E);
float ntxent_forward(float *scratch, const float *z1, const float *z2, int B, int E, float tau);
void ntxent_backward(float *dz1, float *dz2, float *scratch, int B, int E, float tau, float w);

/* SLA, symmetric local alignment: patches P (B*Np, E) and sentences Sn (S, E), both
 * normalised; C_ij = P_i Sn_j^T.
 *   A[j][i]  = mean over report j's sentences of max over image i's patches of C_ij;
 *   A'[j][i] = mean over image i's patches of max over report j's sentences of C_ij;
 *   L = CE(s A) + CE(s A^T) + CE(s A') + CE(s A'^T).
 * The max's sub-gradient goes to the first maximal element. Every report needs at least
 * one sentence (MAMA_EINVAL names the first that has none).
 * work: sla_work_bytes(B, Np, S) bytes, 64-byte aligned (floats and ints). */
size_t sla_work_bytes(int B, int Np, int S);
mama_status sla_forward(float *loss, void *work, const float *P, const float *Sn,
                        const int *sent_off, float ls, int B, int Np, int S, int E);
void sla_backward(float *dP, float *dSn, float *dls, void *work, const float *P,
                  const float *Sn, const int *sent_off, float ls, int B, int Np, int S, int E,
                  float w);

/* ln(100): the logit scales are clamped at it after each optimiser step (OpenCLIP). */
#define LOGIT_SCALE_MAX 4.605170185988092f
/* ln(1/0.07): their initial value. */
#define LOGIT_SCALE_INIT 2.659260036932778f

#ifdef __cplusplus
}
#endif
#endif
