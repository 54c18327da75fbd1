/* sla.c: SLA, MaMA's symmetric local alignment loss (loss.h, MAMA_METHOD.md section 7).
 * Legend: B images = reports, Np patches per image, S sentences in all, E width,
 * n_j sentences of report j, s = exp(ls).
 *
 * All patch-sentence cosines come from one GEMM, C (B*Np, S) = P Sn^T; row i*Np + p is
 * patch p of image i, column k a sentence of report j(k). The two maxes keep their argmax
 * (the sub-gradient of max goes there only), so backward scatters the score gradients
 * into a sparse dC (in C's memory: backward overwrites the cosines) and ends in two GEMMs.
 * Work layout (64-byte aligned pieces): C, am_t2i (B,S) ints: for image i and sentence k
 * the best patch; am_i2t (B*Np, B) ints: for patch row and report j the best sentence;
 * A, A2 (B,B) the scores [j][i]; four softmaxes; dA, dA2. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "engine/ops/gemm.h"
#include "engine/train/ce.h"
#include "engine/train/loss.h"

#define AL(x) (((x) + 63) & ~(size_t)63)

typedef struct sla_view {
    float *C;
    int *am_t2i, *am_i2t;
    float *A, *A2, *P[4], *dA, *dA2;
} sla_view;

static sla_view view(void *work, int B, int Np, int S) {
    sla_view v;
    size_t BB = (size_t)B * B * sizeof(float);
    char *p = work;
    v.C = (float *)p;         p += AL((size_t)B * Np * S * sizeof(float));
    v.am_t2i = (int *)p;      p += AL((size_t)B * S * sizeof(int));
    v.am_i2t = (int *)p;      p += AL((size_t)B * Np * B * sizeof(int));
    v.A = (float *)p;         p += AL(BB);
    v.A2 = (float *)p;        p += AL(BB);
    for (int k = 0; k < 4; k++) { v.P[k] = (float *)p; p += AL(BB); }
    v.dA = (float *)p;        p += AL(BB);
    v.dA2 = (float *)p;
    return v;
}

size_t sla_work_bytes(int B, int Np, int S) {
    size_t BB = AL((size_t)B * B * sizeof(float));
    return AL((size_t)B * Np * S * sizeof(float)) + AL((size_t)B * S * sizeof(int))
         + AL((size_t)B * Np * B * sizeof(int)) + 8 * BB;
}

mama_status sla_forward(float *loss, void *work, const float *P, const float *Sn,
                        const int *sent_off, float ls, int B, int Np, int S, int E) {
    for (int j = 0; j < B; j++)
        if (sent_off[j + 1] <= sent_off[j])
            return mama_errorf(MAMA_EINVAL, "sla: report %d of the batch has no sentence "
                               "(no separator token); the local loss needs at least one", j);
    if (sent_off[0] != 0 || sent_off[B] != S)
        return mama_errorf(MAMA_EINVAL, "sla: sentence offsets must run from 0 to S = %d", S);
    sla_view v = view(work, B, Np, S);
    gemm_forward(0, 1, B * Np, S, E, 1.0f, P, E, Sn, E, 0.0f, v.C, S);
    #pragma omp parallel for
    for (int i = 0; i < B; i++) {
        const float *Ci = v.C + (size_t)i * Np * S;
        /* text-to-image: for each sentence the best patch of image i */
        for (int j = 0; j < B; j++) {
            double acc = 0.0;
            for (int k = sent_off[j]; k < sent_off[j + 1]; k++) {
                int best = 0;
                for (int p = 1; p < Np; p++)
                    if (Ci[(size_t)p * S + k] > Ci[(size_t)best * S + k]) best = p;
                v.am_t2i[(size_t)i * S + k] = best;
                acc += Ci[(size_t)best * S + k];
            }
            v.A[(size_t)j * B + i] = (float)(acc / (sent_off[j + 1] - sent_off[j]));
        }
        /* image-to-text: for each patch the best sentence of report j */
        for (int j = 0; j < B; j++) {
            double acc = 0.0;
            for (int p = 0; p < Np; p++) {
                const float *row = Ci + (size_t)p * S;
                int best = sent_off[j];
                for (int k = best + 1; k < sent_off[j + 1]; k++)
                    if (row[k] > row[best]) best = k;
                v.am_i2t[((size_t)i * Np + p) * B + j] = best;
                acc += row[best];
            }
            v.A2[(size_t)j * B + i] = (float)(acc / Np);
        }
    }
    float s = expf(ls);
    *loss = (float)(ce_diag_forward(v.P[0], v.A, B, 0, s) + ce_diag_forward(v.P[1], v.A, B, 1, s)
                  + ce_diag_forward(v.P[2], v.A2, B, 0, s)
                  + ce_diag_forward(v.P[3], v.A2, B, 1, s));
    return MAMA_OK;
}

void sla_backward(float *dP, float *dSn, float *dls, void *work, const float *P,
                  const float *Sn, const int *sent_off, float ls, int B, int Np, int S, int E,
                  float w) {
    if (w == 0.0f) return;
    sla_view v = view(work, B, Np, S);
    float s = expf(ls);
    size_t BB = (size_t)B * B;
    memset(v.dA, 0, BB * sizeof(float));
    memset(v.dA2, 0, BB * sizeof(float));
    double d = ce_diag_backward(v.dA, v.P[0], v.A, B, 0, s, w)
             + ce_diag_backward(v.dA, v.P[1], v.A, B, 1, s, w)
             + ce_diag_backward(v.dA2, v.P[2], v.A2, B, 0, s, w)
             + ce_diag_backward(v.dA2, v.P[3], v.A2, B, 1, s, w);
    if (dls) *dls += (float)d;
    float *dC = v.C;
    memset(dC, 0, (size_t)B * Np * S * sizeof(float));
    #pragma omp parallel for
    for (int i = 0; i < B; i++) {   /* image i's rows of dC only: no two threads collide */
        float *dCi = dC + (size_t)i * Np * S;
        for (int j = 0; j < B; j++) {
            float g = v.dA[(size_t)j * B + i] / (float)(sent_off[j + 1] - sent_off[j]);
            for (int k = sent_off[j]; k < sent_off[j + 1]; k++)
                dCi[(size_t)v.am_t2i[(size_t)i * S + k] * S + k] += g;
            float g2 = v.dA2[(size_t)j * B + i] / (float)Np;
            for (int p = 0; p < Np; p++)
                dCi[(size_t)p * S + v.am_i2t[((size_t)i * Np + p) * B + j]] += g2;
        }
    }
    /* C = P Sn^T: dP += dC Sn, dSn += dC^T P */
    if (dP) gemm_forward(0, 0, B * Np, E, S, 1.0f, dC, S, Sn, E, 1.0f, dP, E);
    if (dSn) gemm_forward(1, 0, S, E, B * Np, 1.0f, dC, S, P, E, 1.0f, dSn, E);
}
