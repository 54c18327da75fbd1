/* batchnorm.h: BatchNorm over the rows of a (N, C) matrix, as torch.nn.BatchNorm1d on
 * (N, C) input (the heads apply it per token: N = tokens across the batch).
 *
 * Legend: N rows (samples), C features (channels).
 * Train mode normalises with the batch statistics (biased variance) and updates the
 * running statistics exactly as PyTorch does:
 *   running_mean = (1 - momentum) running_mean + momentum mean
 *   running_var  = (1 - momentum) running_var  + momentum var * N / (N - 1)   (unbiased)
 * Eval mode normalises with the running statistics. w, b (C) are the affine parameters;
 * NULL means no affine (weight 1, bias 0), as BatchNorm1d(affine=False).
 * Backward (train mode only: eval-mode heads are not trained) accumulates, llm.c style. */
#ifndef MAMA_BATCHNORM_H
#define MAMA_BATCHNORM_H

#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BATCHNORM_MOMENTUM 0.1f
#define BATCHNORM_EPS 1e-5f

/* out (N,C); mean, rstd (C) saved for backward; running_mean/var (C) updated (either may
 * be NULL to skip: track_running_stats=False). MAMA_EINVAL for N < 2 (PyTorch refuses a
 * batch of one value per channel: its variance is undefined). */
mama_status batchnorm_forward_train(float *out, float *mean, float *rstd, float *running_mean,
                                    float *running_var, const float *inp, const float *w,
                                    const float *b, int N, int C, float eps, float momentum);
/* out (N,C) = (inp - running_mean) / sqrt(running_var + eps) * w + b. */
void batchnorm_forward_eval(float *out, const float *inp, const float *running_mean,
                            const float *running_var, const float *w, const float *b, int N,
                            int C, float eps);
/* dinp (N,C) +=, dw, db (C) += (any may be NULL), from the train forward's inp, mean, rstd. */
void batchnorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, const float *mean, const float *rstd, int N, int C);

#ifdef __cplusplus
}
#endif
#endif
