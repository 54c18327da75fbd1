/* attention.c: fused multi-head attention on a packed qkv buffer, tiled flash style.
 * Legend: B batch, T sequence length, C model width, NH heads, HS head size (C = NH * HS),
 *   BQ query rows per block, BK keys per block (128 x 256: the fastest of 32..256 x 128..512
 *   measured at T = 1374, HS = 64 on this machine; bench/attention_speed.c).
 *
 * Forward, per (batch, head, query block), OpenMP over all three:
 *   for each key block: S (BQ,BK) = scale * Q_blk K_blk^T      (sgemm, lda = 3C)
 *                       mask; online softmax: running row max m and sum l, the
 *                       accumulator rescaled by exp(m_old - m_new)
 *                       acc (BQ,HS) += P V_blk                  (sgemm)
 *   out = acc / l, lse = m + log l.
 * Only one (BQ,BK) tile of the T x T score matrix exists per thread at a time.
 * Backward (FlashAttention-2), per (batch, head), OpenMP over both: tiles of P are
 * recomputed from lse; dV += P^T dO, dP = dO V^T, dS = P (dP - rowsum(dO o O)) scale,
 * dQ += dS K, dK += dS^T Q. A (batch, head) owns its columns of dqkv, so no two threads
 * ever write the same element.
 * A query row whose keys are all masked gets out = 0 and lse = -inf (and no gradient).
 * Inside the OpenMP regions sgemm runs single-threaded (parallel.h). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math") /* vmath.h: vectorise the exp loops */
#endif
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops.h"
#include "engine/parallel.h"
#include "engine/vmath.h"

#define PAR_MIN_FLOPS 4e6 /* smaller problems run on the calling thread */
#ifndef BQ
#define BQ 128
#endif
#ifndef BK
#define BK 256
#endif


/* Masks one score row s (nk) in place: keys k0.. whose key_mask is 0, or (causal) beyond
 * query position q. km (T of this batch) may be NULL. */
static void mask_row(float *s, int nk, const float *km, int k0, int causal, int q) {
    if (km)
        for (int j = 0; j < nk; j++)
            if (km[k0 + j] == 0.0f) s[j] = -INFINITY;
    if (causal)
        for (int j = q - k0 + 1; j < nk; j++)
            if (j >= 0) s[j] = -INFINITY;
}

/* Sum of s (n) in 16 independent lanes: vectorises without reassociation flags. */
VMATH_CLONES static float sum_lanes(const float *s, int n) {
    float lane[16] = {0};
    int j = 0;
    for (; j + 16 <= n; j += 16)
        for (int k = 0; k < 16; k++) lane[k] += s[j + k];
    float sum = 0.0f;
    for (; j < n; j++) sum += s[j];
    for (int k = 0; k < 16; k++) sum += lane[k];
    return sum;
}

/* Max of s (n) in 16 lanes (-inf for n = 0), vectorisable like sum_lanes. */
VMATH_CLONES static float max_lanes(const float *s, int n) {
    float lane[16];
    for (int k = 0; k < 16; k++) lane[k] = -INFINITY;
    int j = 0;
    for (; j + 16 <= n; j += 16)
        for (int k = 0; k < 16; k++) lane[k] = s[j + k] > lane[k] ? s[j + k] : lane[k];
    float mx = -INFINITY;
    for (; j < n; j++) mx = s[j] > mx ? s[j] : mx;
    for (int k = 0; k < 16; k++) mx = lane[k] > mx ? lane[k] : mx;
    return mx;
}

/* One score row s (nk): update the running max *m and sum *l, turn s into exp(s - m_new);
 * returns the factor the row's accumulator must be multiplied by. */
VMATH_CLONES static float online_softmax_row(float *s, int nk, float *m, float *l) {
    float mx = max_lanes(s, nk);
    float m_new = mx > *m ? mx : *m;
    if (m_new == -INFINITY) { /* every key so far masked */
        memset(s, 0, (size_t)nk * sizeof(float));
        return 1.0f;
    }
VMATH_SIMD
    for (int j = 0; j < nk; j++) s[j] = vexp(s[j] - m_new);
    float sum = sum_lanes(s, nk);
    float corr = *m == -INFINITY ? 0.0f : vexp(*m - m_new);
    *l = *l * corr + sum;
    *m = m_new;
    return corr;
}

/* P row from scores: p = exp(s - lse) (0 where masked or lse = -inf). */
VMATH_CLONES static void prob_row(float *s, int nk, float lse) {
    if (lse == -INFINITY) {
        memset(s, 0, (size_t)nk * sizeof(float));
        return;
    }
VMATH_SIMD
    for (int j = 0; j < nk; j++) s[j] = vexp(s[j] - lse);
}

/* dS row in place over dp: ds = p (dp - d) scale. */
VMATH_CLONES static void dscore_row(float *dp, const float *p, int nk, float d, float scale) {
VMATH_SIMD
    for (int j = 0; j < nk; j++) dp[j] = p[j] * (dp[j] - d) * scale;
}

void attention_forward(float *out, float *lse, const float *qkv, const float *key_mask, int B,
                       int T, int C, int NH, float scale, int causal) {
    if (B <= 0 || T <= 0 || NH <= 0 || C % NH != 0) return;
    const int HS = C / NH, C3 = 3 * C;
    const int nqb = (T + BQ - 1) / BQ;
    const long ntask = (long)B * NH * nqb;
    const double flops = 4.0 * B * (double)T * T * C;
    parallel_blas_serial();
#pragma omp parallel if (ntask > 1 && flops > PAR_MIN_FLOPS)
    {
        float *S = malloc(sizeof(float) * (size_t)BQ * BK);
        float *acc = malloc(sizeof(float) * (size_t)BQ * HS);
        float m[BQ], l[BQ];
        int ok = S && acc;
#pragma omp for schedule(dynamic, 1)
        for (long task = 0; task < ntask; task++) {
            if (!ok) continue;
            int qb = (int)(task % nqb);
            int h = (int)(task / nqb % NH);
            int b = (int)(task / nqb / NH);
            int q0 = qb * BQ, nq = T - q0 < BQ ? T - q0 : BQ;
            const float *base = qkv + (size_t)b * T * C3;
            const float *Q = base + (size_t)q0 * C3 + (size_t)h * HS;
            const float *K = base + C + (size_t)h * HS;
            const float *V = base + 2 * (size_t)C + (size_t)h * HS;
            const float *km = key_mask ? key_mask + (size_t)b * T : NULL;
            for (int i = 0; i < nq; i++) {
                m[i] = -INFINITY;
                l[i] = 0.0f;
            }
            memset(acc, 0, sizeof(float) * (size_t)nq * HS);
            int kend = causal ? q0 + nq : T;
            for (int k0 = 0; k0 < kend; k0 += BK) {
                int nk = kend - k0 < BK ? kend - k0 : BK;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, HS, scale, Q, C3,
                            K + (size_t)k0 * C3, C3, 0.0f, S, BK);
                int need_causal = causal && k0 + nk - 1 > q0;
                for (int i = 0; i < nq; i++) {
                    float *s = S + (size_t)i * BK;
                    if (km || need_causal) mask_row(s, nk, km, k0, need_causal, q0 + i);
                    float corr = online_softmax_row(s, nk, &m[i], &l[i]);
                    if (corr != 1.0f) {
                        float *a = acc + (size_t)i * HS;
                        for (int d = 0; d < HS; d++) a[d] *= corr;
                    }
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, HS, nk, 1.0f, S, BK,
                            V + (size_t)k0 * C3, C3, 1.0f, acc, HS);
            }
            for (int i = 0; i < nq; i++) {
                float *o = out + ((size_t)b * T + q0 + i) * C + (size_t)h * HS;
                const float *a = acc + (size_t)i * HS;
                float inv = l[i] > 0.0f ? 1.0f / l[i] : 0.0f;
                for (int d = 0; d < HS; d++) o[d] = a[d] * inv;
                if (lse)
                    lse[((size_t)b * NH + h) * T + q0 + i] =
                        l[i] > 0.0f ? m[i] + logf(l[i]) : -INFINITY;
            }
        }
        free(S);
        free(acc);
    }
}

void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out,
                        const float *lse, const float *key_mask, int B, int T, int C, int NH,
                        float scale, int causal) {
    if (B <= 0 || T <= 0 || NH <= 0 || C % NH != 0) return;
    const int HS = C / NH, C3 = 3 * C;
    const long ntask = (long)B * NH;
    const double flops = 10.0 * B * (double)T * T * C;
    parallel_blas_serial();
#pragma omp parallel if (ntask > 1 && flops > PAR_MIN_FLOPS)
    {
        float *P = malloc(sizeof(float) * (size_t)BQ * BK);
        float *dP = malloc(sizeof(float) * (size_t)BQ * BK);
        float *D = malloc(sizeof(float) * (size_t)T);
        int ok = P && dP && D;
#pragma omp for schedule(dynamic, 1)
        for (long task = 0; task < ntask; task++) {
            if (!ok) continue;
            int h = (int)(task % NH), b = (int)(task / NH);
            const float *base = qkv + (size_t)b * T * C3 + (size_t)h * HS;
            float *dbase = dqkv + (size_t)b * T * C3 + (size_t)h * HS;
            const float *dO = dout + (size_t)b * T * C + (size_t)h * HS;
            const float *O = out + (size_t)b * T * C + (size_t)h * HS;
            const float *L = lse + ((size_t)b * NH + h) * T;
            const float *km = key_mask ? key_mask + (size_t)b * T : NULL;
            for (int t = 0; t < T; t++) {
                float s = 0.0f;
                for (int d = 0; d < HS; d++) s += dO[(size_t)t * C + d] * O[(size_t)t * C + d];
                D[t] = s;
            }
            for (int q0 = 0; q0 < T; q0 += BQ) {
                int nq = T - q0 < BQ ? T - q0 : BQ;
                const float *Q = base + (size_t)q0 * C3;
                float *dQ = dbase + (size_t)q0 * C3;
                const float *dOb = dO + (size_t)q0 * C;
                int kend = causal ? q0 + nq : T;
                for (int k0 = 0; k0 < kend; k0 += BK) {
                    int nk = kend - k0 < BK ? kend - k0 : BK;
                    const float *K = base + C + (size_t)k0 * C3;
                    const float *V = base + 2 * (size_t)C + (size_t)k0 * C3;
                    float *dK = dbase + C + (size_t)k0 * C3;
                    float *dV = dbase + 2 * (size_t)C + (size_t)k0 * C3;
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, HS, scale, Q,
                                C3, K, C3, 0.0f, P, BK);
                    int need_causal = causal && k0 + nk - 1 > q0;
                    for (int i = 0; i < nq; i++) {
                        float *p = P + (size_t)i * BK;
                        if (km || need_causal) mask_row(p, nk, km, k0, need_causal, q0 + i);
                        prob_row(p, nk, L[q0 + i]);
                    }
                    /* dV (nk,HS) += P^T (nk,nq) dO (nq,HS) */
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, HS, nq, 1.0f, P, BK,
                                dOb, C, 1.0f, dV, C3);
                    /* dP (nq,nk) = dO (nq,HS) V^T (HS,nk) */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, HS, 1.0f, dOb, C,
                                V, C3, 0.0f, dP, BK);
                    for (int i = 0; i < nq; i++)
                        dscore_row(dP + (size_t)i * BK, P + (size_t)i * BK, nk, D[q0 + i], scale);
                    /* dQ (nq,HS) += dS (nq,nk) K (nk,HS); dK (nk,HS) += dS^T Q (nq,HS) */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, HS, nk, 1.0f, dP,
                                BK, K, C3, 1.0f, dQ, C3);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nk, HS, nq, 1.0f, dP, BK,
                                Q, C3, 1.0f, dK, C3);
                }
            }
        }
        free(P);
        free(dP);
        free(D);
    }
}
