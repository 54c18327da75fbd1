/* clip_loss.c: L_VT(v, t) = CE(s v t^T) + CE(s t v^T) (loss.h).
 * Legend: B pairs, E width, s = exp(ls). scratch: P, Q (the two softmaxes), X = v t^T
 * (the raw cosines) and dX, each (B,B). */
#include <math.h>
#include <string.h>

#include "engine/ops/gemm.h"
#include "engine/train/ce.h"
#include "engine/train/loss.h"

float clip_loss_forward(float *scratch, const float *v, const float *t, float ls, int B, int E) {
    float s = expf(ls);
    size_t BB = (size_t)B * B;
    float *P = scratch, *Q = P + BB, *X = Q + BB;
    gemm_forward(0, 1, B, B, E, 1.0f, v, E, t, E, 0.0f, X, B);
    return (float)(ce_diag_forward(P, X, B, 0, s) + ce_diag_forward(Q, X, B, 1, s));
}

void clip_loss_backward(float *dv, float *dt, float *dls, float *scratch, const float *v,
                        const float *t, float ls, int B, int E, float w) {
    if (w == 0.0f) return;
    float s = expf(ls);
    size_t BB = (size_t)B * B;
    const float *P = scratch, *Q = P + BB, *X = Q + BB;
    float *dX = scratch + 3 * BB;
    memset(dX, 0, BB * sizeof(float));
    double d = ce_diag_backward(dX, P, X, B, 0, s, w) + ce_diag_backward(dX, Q, X, B, 1, s, w);
    if (dls) *dls += (float)d;
    /* X = v t^T: dv += dX t, dt += dX^T v */
    if (dv) gemm_forward(0, 0, B, E, B, 1.0f, dX, B, t, E, 1.0f, dv, E);
    if (dt) gemm_forward(1, 0, B, E, B, 1.0f, dX, B, v, E, 1.0f, dt, E);
}
