/* ce.h: cross-entropy with the diagonal as target over a square score matrix, the piece
 * every contrastive loss of loss.h shares. Internal to engine/train.
 * Legend: n rows = columns (images = reports), X (n,n) raw scores, s the scale applied
 * to them (logits = s X), ls = ln s. */
#ifndef MAMA_TRAIN_CE_H
#define MAMA_TRAIN_CE_H

/* P (n,n) = softmax over the rows of s X (trans = 0) or of s X^T (trans = 1); returns
 * CE = mean_r -log P[r][r]. */
double ce_diag_forward(float *P, const float *X, int n, int trans, float s);

/* dX (n,n) += w * dCE/dX (in X's own layout whatever trans was); returns w * dCE/dls. */
double ce_diag_backward(float *dX, const float *P, const float *X, int n, int trans, float s,
                        float w);

#endif
