/* attention.c: fused multi-head attention on a packed qkv buffer, tiled flash style.
 * Legend: B batch, T sequence length, C model width, NH heads, HS head size (C = NH * HS),
 *   BQ query rows per block, BK keys per block (128 x 256: the fastest of 32..256 x 128..512
 *   measured at T = 1374, HS = 64 on this machine; bench/attention_speed.c).
 *
 * Forward on AVX-512 or else AVX2 + FMA (cpu_isa.h, chosen per call from the running CPU)
 *   with HS a multiple of 16 (forward_rows with that ISA's row kernels): per (batch, head, chunk of
 *   about 256 queries), OpenMP over all three, K and V of the head packed contiguously, then
 *   per 6 query rows: S (6,T) = Q (scale K)^T and O = softmax(S) V in register-blocked FMA
 *   kernels; the whole score row is there, so a plain softmax (no rescaling). The block of
 *   the score matrix is 6 x T.
 * Otherwise, per (batch, head, query block), OpenMP over all three:
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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/ops.h"
#include "engine/core/cpu_isa.h"
#include "engine/core/parallel.h"
#include "engine/ops/vmath.h"

#ifdef _OPENMP
#include <omp.h>
#define THREAD_ID() omp_get_thread_num()
#define MAX_THREADS() omp_get_max_threads()
#else
#define THREAD_ID() 0
#define MAX_THREADS() 1
#endif

#define PAR_MIN_FLOPS 4e6 /* smaller problems run on the calling thread */
#ifndef BQ
#define BQ 128
#endif
#ifndef BK
#define BK 256
#endif

/* Per-thread scratch, allocated once per call before the parallel region: an op that
 * cannot get its memory says so (MAMA_ENOMEM) instead of skipping work in a thread.
 * Each thread's part starts on its own cache line. */
typedef struct scratch {
    float *base;
    size_t per;   /* floats per thread, a multiple of 16 */
} scratch;

static mama_status scratch_alloc(scratch *s, size_t per_thread, int parallel, const char *op) {
    size_t per = (per_thread + 15) / 16 * 16;
    size_t nth = parallel ? (size_t)MAX_THREADS() : 1;
    s->per = per;
    s->base = NULL;
    if (per > SIZE_MAX / sizeof(float) / nth ||
        !(s->base = aligned_alloc(64, per * nth * sizeof(float))))
        return mama_errorf(MAMA_ENOMEM, "%s: cannot allocate %zu threads x %zu floats of "
                           "scratch", op, nth, per);
    return MAMA_OK;
}

/* This thread's part. */
static float *scratch_mine(const scratch *s) { return s->base + (size_t)THREAD_ID() * s->per; }

/* The shape checks both directions share: MAMA_EINVAL for a head count that does not
 * divide C (the heads would not tile the width), MAMA_OK with *empty for no work. */
static mama_status check_shape(int B, int T, int C, int NH, const char *op, int *empty) {
    *empty = 0;
    if (B < 0 || T < 0 || C <= 0 || NH <= 0 || C % NH != 0)
        return mama_errorf(MAMA_EINVAL, "%s: B %d, T %d, C %d, NH %d: need B, T >= 0 and C "
                           "a positive multiple of NH", op, B, T, C, NH);
    *empty = B == 0 || T == 0;
    return MAMA_OK;
}


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

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_ROWS 1

/* exp of 8 lanes, the vexp polynomial (vmath.h) with FMA: 0 below -87.3 (and for -inf). */
__attribute__((target("avx2,fma"))) static inline __m256 exp8(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.3f), hi = _mm256_set1_ps(88.3f);
    const __m256 shifter = _mm256_set1_ps(12582912.0f);
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 fn = _mm256_sub_ps(_mm256_fmadd_ps(xc, _mm256_set1_ps(1.44269504088896341f), shifter),
                              shifter);
    __m256 r = _mm256_fnmadd_ps(fn, _mm256_set1_ps(0.693359375f), xc);
    r = _mm256_fnmadd_ps(fn, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
    __m256i n = _mm256_add_epi32(_mm256_cvtps_epi32(fn), _mm256_set1_epi32(127));
    __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(n, 23)));
    return _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), y);
}

/* Max of s (n), -inf for n = 0. */
__attribute__((target("avx2,fma"))) static float max_avx2(const float *s, int n) {
    __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0;
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        m0 = _mm256_max_ps(m0, _mm256_loadu_ps(s + j));
        m1 = _mm256_max_ps(m1, _mm256_loadu_ps(s + j + 8));
    }
    float lane[8];
    _mm256_storeu_ps(lane, _mm256_max_ps(m0, m1));
    float mx = -INFINITY;
    for (int k = 0; k < 8; k++) mx = lane[k] > mx ? lane[k] : mx;
    for (; j < n; j++) mx = s[j] > mx ? s[j] : mx;
    return mx;
}

/* s (n) = exp(s - shift) in place; returns the sum. */
__attribute__((target("avx2,fma"))) static float exp_sum_avx2(float *s, int n, float shift) {
    const __m256 sh = _mm256_set1_ps(shift);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        __m256 e0 = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), sh));
        __m256 e1 = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j + 8), sh));
        _mm256_storeu_ps(s + j, e0);
        _mm256_storeu_ps(s + j + 8, e1);
        a0 = _mm256_add_ps(a0, e0);
        a1 = _mm256_add_ps(a1, e1);
    }
    float lane[8];
    _mm256_storeu_ps(lane, _mm256_add_ps(a0, a1));
    float sum = 0.0f;
    for (; j < n; j++) sum += (s[j] = vexp(s[j] - shift));
    for (int k = 0; k < 8; k++) sum += lane[k];
    return sum;
}

/* Register-blocked kernels of the AVX2 forward: MR query rows at a time, 16 columns per
 * ymm pair, 12 accumulators. */
#define MR 6
#if defined(__clang__)
#define UNROLL_MR _Pragma("unroll")
#else
#define UNROLL_MR _Pragma("GCC unroll 6")
#endif

/* S (MR, ldS), the first 16 np columns = Qp (MR,HS) Kp^T, Kp packed in np panels of 16
 * keys: Kp[(p HS + d) 16 + c] = scale K[16 p + c][d] (zero past T). */
__attribute__((target("avx2,fma"))) static void qk_rows(float *S, int ldS, const float *Qp,
                                                        const float *Kp, int HS, int np) {
    for (int p = 0; p < np; p++) {
        const float *kp = Kp + (size_t)p * HS * 16;
        __m256 c[MR][2];
        UNROLL_MR
        for (int r = 0; r < MR; r++) c[r][0] = c[r][1] = _mm256_setzero_ps();
        for (int d = 0; d < HS; d++) {
            __m256 b0 = _mm256_loadu_ps(kp + d * 16), b1 = _mm256_loadu_ps(kp + d * 16 + 8);
            UNROLL_MR
        for (int r = 0; r < MR; r++) {
                __m256 a = _mm256_broadcast_ss(Qp + r * HS + d);
                c[r][0] = _mm256_fmadd_ps(a, b0, c[r][0]);
                c[r][1] = _mm256_fmadd_ps(a, b1, c[r][1]);
            }
        }
        UNROLL_MR
        for (int r = 0; r < MR; r++) {
            _mm256_storeu_ps(S + (size_t)r * ldS + p * 16, c[r][0]);
            _mm256_storeu_ps(S + (size_t)r * ldS + p * 16 + 8, c[r][1]);
        }
    }
}

/* O (MR,HS) = diag(inv) P (MR,ldP; first nk columns) V (nk,HS); HS a multiple of 16, V packed
 * in HS/16 panels of 16 columns: Vp[(p T + k) 16 + c] = V[k][16 p + c]. Keys
 * in chunks of KC so that the MR P rows of a chunk stay in L1 across the column panels. */
#define KC 256
__attribute__((target("avx2,fma"))) static void pv_rows(float *O, const float *P, int ldP,
                                                        const float *Vp, int T, int HS,
                                                        int nk, const float *inv) {
    for (int k0 = 0; k0 < nk; k0 += KC) {
        int k1 = nk - k0 < KC ? nk : k0 + KC;
        for (int c0 = 0; c0 < HS; c0 += 16) {
            __m256 c[MR][2];
            UNROLL_MR
            for (int r = 0; r < MR; r++) {
                c[r][0] = k0 ? _mm256_loadu_ps(O + r * HS + c0) : _mm256_setzero_ps();
                c[r][1] = k0 ? _mm256_loadu_ps(O + r * HS + c0 + 8) : _mm256_setzero_ps();
            }
            for (int k = k0; k < k1; k++) {
                const float *v = Vp + ((size_t)(c0 / 16) * T + k) * 16;
                __m256 b0 = _mm256_loadu_ps(v), b1 = _mm256_loadu_ps(v + 8);
                UNROLL_MR
                for (int r = 0; r < MR; r++) {
                    __m256 a = _mm256_broadcast_ss(P + (size_t)r * ldP + k);
                    c[r][0] = _mm256_fmadd_ps(a, b0, c[r][0]);
                    c[r][1] = _mm256_fmadd_ps(a, b1, c[r][1]);
                }
            }
            UNROLL_MR
            for (int r = 0; r < MR; r++) {
                __m256 s = _mm256_set1_ps(k1 == nk ? inv[r] : 1.0f);
                _mm256_storeu_ps(O + r * HS + c0, _mm256_mul_ps(c[r][0], s));
                _mm256_storeu_ps(O + r * HS + c0 + 8, _mm256_mul_ps(c[r][1], s));
            }
        }
    }
    if (nk <= 0)
        for (int i = 0; i < MR * HS; i++) O[i] = 0.0f;
}

static int have_avx2_fma(void) { return cpu_isa_avx2_fma(); }

/* ---- the same kernels on AVX-512: 16 lanes a register, 32 registers. qk and pv take up to
 * 4 panels of 16 (64 keys or columns) per step: 6 rows x 4 = 24 accumulators, each
 * broadcast of a Q or P element feeding 4 FMAs. */
#define T512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#if defined(__clang__)
#define UNROLL_W _Pragma("unroll")
#else
#define UNROLL_W _Pragma("GCC unroll 4")
#endif
#define INLINE512 __attribute__((always_inline, target("avx512f,avx512bw,avx512dq,avx512vl,fma"))) inline

/* exp16: exp8's polynomial on 16 lanes; 0 below -87.3 (and for -inf). */
static INLINE512 __m512 exp16(__m512 x) {
    const __m512 lo = _mm512_set1_ps(-87.3f), hi = _mm512_set1_ps(88.3f);
    const __m512 shifter = _mm512_set1_ps(12582912.0f);
    __m512 xc = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
    __m512 fn = _mm512_sub_ps(_mm512_fmadd_ps(xc, _mm512_set1_ps(1.44269504088896341f), shifter),
                              shifter);
    __m512 r = _mm512_fnmadd_ps(fn, _mm512_set1_ps(0.693359375f), xc);
    r = _mm512_fnmadd_ps(fn, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
    __m512i n = _mm512_add_epi32(_mm512_cvtps_epi32(fn), _mm512_set1_epi32(127));
    __m512 y = _mm512_mul_ps(p, _mm512_castsi512_ps(_mm512_slli_epi32(n, 23)));
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, lo, _CMP_NLT_UQ), y);
}

static INLINE512 __mmask16 tail_mask(int left) { return (__mmask16)((1u << left) - 1u); }

/* Max of s (n), -inf for n = 0; the tail through a masked load. */
T512 static float max_512(const float *s, int n) {
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    __m512 m0 = ninf, m1 = ninf;
    int j = 0;
    for (; j + 32 <= n; j += 32) {
        m0 = _mm512_max_ps(m0, _mm512_loadu_ps(s + j));
        m1 = _mm512_max_ps(m1, _mm512_loadu_ps(s + j + 16));
    }
    for (; j < n; j += 16)
        m0 = _mm512_max_ps(m0, _mm512_mask_loadu_ps(ninf, tail_mask(n - j < 16 ? n - j : 16), s + j));
    return _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
}

/* s (n) = exp(s - shift) in place; returns the sum. */
T512 static float exp_sum_512(float *s, int n, float shift) {
    const __m512 sh = _mm512_set1_ps(shift);
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    int j = 0;
    for (; j + 32 <= n; j += 32) {
        __m512 e0 = exp16(_mm512_sub_ps(_mm512_loadu_ps(s + j), sh));
        __m512 e1 = exp16(_mm512_sub_ps(_mm512_loadu_ps(s + j + 16), sh));
        _mm512_storeu_ps(s + j, e0);
        _mm512_storeu_ps(s + j + 16, e1);
        a0 = _mm512_add_ps(a0, e0);
        a1 = _mm512_add_ps(a1, e1);
    }
    for (; j < n; j += 16) {
        __mmask16 m = tail_mask(n - j < 16 ? n - j : 16);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + j), sh));
        _mm512_mask_storeu_ps(s + j, m, e);
        a0 = _mm512_mask_add_ps(a0, m, a0, e);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

/* S columns [16 p, 16 (p + W)) of MR rows = Qp Kp^T for W (1, 2 or 4) key panels. */
static INLINE512 void qk_panels_512(float *S, int ldS, const float *Qp, const float *Kp, int HS,
                                    int p, const int W) {
    __m512 c[MR][4];
    UNROLL_MR
    for (int r = 0; r < MR; r++)
        UNROLL_W for (int w = 0; w < W; w++) c[r][w] = _mm512_setzero_ps();
    for (int d = 0; d < HS; d++) {
        __m512 b[4];
        UNROLL_W for (int w = 0; w < W; w++) b[w] = _mm512_loadu_ps(Kp + ((size_t)(p + w) * HS + d) * 16);
        UNROLL_MR
        for (int r = 0; r < MR; r++) {
            __m512 a = _mm512_set1_ps(Qp[r * HS + d]);
            UNROLL_W for (int w = 0; w < W; w++) c[r][w] = _mm512_fmadd_ps(a, b[w], c[r][w]);
        }
    }
    UNROLL_MR
    for (int r = 0; r < MR; r++)
        UNROLL_W for (int w = 0; w < W; w++) _mm512_storeu_ps(S + (size_t)r * ldS + (p + w) * 16, c[r][w]);
}

/* qk_rows on AVX-512 (the same packing of Kp). */
T512 static void qk_rows_512(float *S, int ldS, const float *Qp, const float *Kp, int HS, int np) {
    int p = 0;
    for (; p + 4 <= np; p += 4) qk_panels_512(S, ldS, Qp, Kp, HS, p, 4);
    if (p + 2 <= np) {
        qk_panels_512(S, ldS, Qp, Kp, HS, p, 2);
        p += 2;
    }
    if (p < np) qk_panels_512(S, ldS, Qp, Kp, HS, p, 1);
}

/* O columns [16 pc, 16 (pc + W)) of MR rows, keys [k0, k1): += P V (from 0 when first),
 * times inv when last. */
static INLINE512 void pv_panels_512(float *O, const float *P, int ldP, const float *Vp, int T,
                                    int HS, int k0, int k1, int pc, const int W, int first,
                                    int last, const float *inv) {
    __m512 c[MR][4];
    UNROLL_MR
    for (int r = 0; r < MR; r++)
        UNROLL_W for (int w = 0; w < W; w++)
            c[r][w] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(O + r * HS + (pc + w) * 16);
    for (int k = k0; k < k1; k++) {
        __m512 b[4];
        UNROLL_W for (int w = 0; w < W; w++) b[w] = _mm512_loadu_ps(Vp + ((size_t)(pc + w) * T + k) * 16);
        UNROLL_MR
        for (int r = 0; r < MR; r++) {
            __m512 a = _mm512_set1_ps(P[(size_t)r * ldP + k]);
            UNROLL_W for (int w = 0; w < W; w++) c[r][w] = _mm512_fmadd_ps(a, b[w], c[r][w]);
        }
    }
    UNROLL_MR
    for (int r = 0; r < MR; r++) {
        __m512 sc = _mm512_set1_ps(last ? inv[r] : 1.0f);
        UNROLL_W for (int w = 0; w < W; w++)
            _mm512_storeu_ps(O + r * HS + (pc + w) * 16, _mm512_mul_ps(c[r][w], sc));
    }
}

/* pv_rows on AVX-512 (the same packing of Vp; keys in chunks of KC). */
T512 static void pv_rows_512(float *O, const float *P, int ldP, const float *Vp, int T, int HS,
                             int nk, const float *inv) {
    const int npc = HS / 16;
    for (int k0 = 0; k0 < nk; k0 += KC) {
        int k1 = nk - k0 < KC ? nk : k0 + KC, first = k0 == 0, last = k1 == nk;
        int pc = 0;
        for (; pc + 4 <= npc; pc += 4)
            pv_panels_512(O, P, ldP, Vp, T, HS, k0, k1, pc, 4, first, last, inv);
        if (pc + 2 <= npc) {
            pv_panels_512(O, P, ldP, Vp, T, HS, k0, k1, pc, 2, first, last, inv);
            pc += 2;
        }
        if (pc < npc) pv_panels_512(O, P, ldP, Vp, T, HS, k0, k1, pc, 1, first, last, inv);
    }
    if (nk <= 0)
        for (int i = 0; i < MR * HS; i++) O[i] = 0.0f;
}

/* The row kernels of one ISA, for forward_rows. */
typedef struct row_kernels {
    void (*qk)(float *S, int ldS, const float *Qp, const float *Kp, int HS, int np);
    void (*pv)(float *O, const float *P, int ldP, const float *Vp, int T, int HS, int nk,
               const float *inv);
    float (*max)(const float *s, int n);
    float (*exp_sum)(float *s, int n, float shift);
} row_kernels;

static const row_kernels kernels_avx2 = {qk_rows, pv_rows, max_avx2, exp_sum_avx2};
static const row_kernels kernels_avx512 = {qk_rows_512, pv_rows_512, max_512, exp_sum_512};
#else
#define HAVE_AVX2_ROWS 0
#endif

static float row_max(const float *s, int n) {
#if HAVE_AVX2_ROWS
    if (have_avx2_fma()) return max_avx2(s, n);
#endif
    return max_lanes(s, n);
}

/* Portable exp_sum: s = exp(s - shift), returns the sum. */
VMATH_CLONES static float exp_sum_lanes(float *s, int n, float shift) {
VMATH_SIMD
    for (int j = 0; j < n; j++) s[j] = vexp(s[j] - shift);
    return sum_lanes(s, n);
}

static float exp_sum(float *s, int n, float shift) {
#if HAVE_AVX2_ROWS
    if (have_avx2_fma()) return exp_sum_avx2(s, n, shift);
#endif
    return exp_sum_lanes(s, n, shift);
}

/* One score row s (nk): update the running max *m and sum *l, turn s into exp(s - m_new);
 * returns the factor the row's accumulator must be multiplied by. */
static float online_softmax_row(float *s, int nk, float *m, float *l) {
    float mx = row_max(s, nk);
    float m_new = mx > *m ? mx : *m;
    if (m_new == -INFINITY) { /* every key so far masked */
        memset(s, 0, (size_t)nk * sizeof(float));
        return 1.0f;
    }
    float sum = exp_sum(s, nk, m_new);
    float corr = *m == -INFINITY ? 0.0f : vexp(*m - m_new);
    *l = *l * corr + sum;
    *m = m_new;
    return corr;
}

/* P row from scores: p = exp(s - lse) (0 where masked or lse = -inf). */
static void prob_row(float *s, int nk, float lse) {
    if (lse == -INFINITY) {
        memset(s, 0, (size_t)nk * sizeof(float));
        return;
    }
    exp_sum(s, nk, lse);
}

/* dS row in place over dp: ds = p (dp - d) scale. */
VMATH_CLONES static void dscore_row(float *dp, const float *p, int nk, float d, float scale) {
VMATH_SIMD
    for (int j = 0; j < nk; j++) dp[j] = p[j] * (dp[j] - d) * scale;
}

#if HAVE_AVX2_ROWS
/* The forward on AVX2 + FMA or AVX-512 (kr), HS a multiple of 16: per (batch, head, chunk of QC query rows),
 * K and V of the head packed once, then per MR query rows: all their scores (MR x T: the
 * block of the score matrix), plain softmax (the whole row is there: no rescaling), P V. */
#define QC 256
#ifndef PF
#define PF 8 /* rows ahead: the head's K and V rows lie 3C floats apart, beyond the prefetcher */
#endif
static void prefetch_row(const float *x, int n) {
    for (int i = 0; i < n; i += 16) __builtin_prefetch(x + i);
}
static mama_status forward_rows(const row_kernels *kr, float *out, float *lse,
                                const float *qkv, const float *key_mask, int B, int T, int C,
                                int NH, float scale, int causal) {
    const int HS = C / NH, C3 = 3 * C;
    const int np = (T + 15) / 16, ldS = np * 16;
    const int nqc = (T + QC - 1) / QC;
    const int qc = ((T + nqc - 1) / nqc + MR - 1) / MR * MR; /* even chunks, MR rows each */
    const long ntask = (long)B * NH * nqc;
    const double flops = 4.0 * B * (double)T * T * C;
    const int par = ntask > 1 && flops > PAR_MIN_FLOPS;
    /* per thread: S (MR, ldS), Kp (ldS, HS), Vp (T, HS), Qp and Ot (MR, HS) */
    const size_t nS = (size_t)MR * ldS, nK = (size_t)ldS * HS, nV = (size_t)T * HS;
    const size_t nQ = (size_t)MR * HS;
    scratch sc;
    mama_status rc = scratch_alloc(&sc, nS + nK + nV + 2 * nQ, par, "attention_forward");
    if (rc != MAMA_OK) return rc;
    parallel_blas_serial();
#pragma omp parallel if (par)
    {
        float *S = scratch_mine(&sc), *Kp = S + nS, *Vp = Kp + nK, *Qp = Vp + nV, *Ot = Qp + nQ;
        long packed = -1; /* (b, h) whose K and V are in Kp, Vp */
#pragma omp for schedule(dynamic, 1)
        for (long task = 0; task < ntask; task++) {
            long bh = task / nqc;
            int h = (int)(bh % NH), b = (int)(bh / NH);
            const float *base = qkv + (size_t)b * T * C3 + (size_t)h * HS;
            const float *km = key_mask ? key_mask + (size_t)b * T : NULL;
            if (packed != bh) {
                memset(Kp + (size_t)(np - 1) * HS * 16, 0, sizeof(float) * (size_t)HS * 16);
                for (int j = 0; j < T; j++) {
                    float *kp = Kp + ((size_t)(j / 16) * HS) * 16 + j % 16;
                    const float *k = base + C + (size_t)j * C3;
                    if (j + PF < T) prefetch_row(k + (size_t)PF * C3, HS);
                    for (int d = 0; d < HS; d++) kp[d * 16] = scale * k[d];
                }
                for (int j = 0; j < T; j++) {
                    if (j + PF < T) prefetch_row(base + 2 * (size_t)C + (size_t)(j + PF) * C3, HS);
                    for (int p = 0; p < HS / 16; p++)
                        memcpy(Vp + ((size_t)p * T + j) * 16,
                               base + 2 * (size_t)C + (size_t)j * C3 + p * 16, sizeof(float) * 16);
                }
                packed = bh;
            }
            int q0 = (int)(task % nqc) * qc, q1 = q0 + qc < T ? q0 + qc : T;
            for (int g = q0; g < q1; g += MR) {
                int mr = q1 - g < MR ? q1 - g : MR;
                int kend = causal ? g + mr : T;
                float inv[MR];
                for (int r = 0; r < mr; r++)
                    memcpy(Qp + r * HS, base + (size_t)(g + r) * C3, sizeof(float) * (size_t)HS);
                memset(Qp + mr * HS, 0, sizeof(float) * (size_t)(MR - mr) * HS);
                kr->qk(S, ldS, Qp, Kp, HS, (kend + 15) / 16);
                for (int r = 0; r < MR; r++) {
                    float *s = S + (size_t)r * ldS;
                    float mx = -INFINITY, l = 0.0f;
                    if (r < mr) {
                        if (km || causal) mask_row(s, kend, km, 0, causal, g + r);
                        mx = kr->max(s, kend);
                    }
                    if (mx == -INFINITY)
                        memset(s, 0, sizeof(float) * (size_t)kend);
                    else
                        l = kr->exp_sum(s, kend, mx);
                    inv[r] = l > 0.0f ? 1.0f / l : 0.0f;
                    if (r < mr && lse)
                        lse[((size_t)b * NH + h) * T + g + r] = l > 0.0f ? mx + logf(l) : -INFINITY;
                }
                kr->pv(Ot, S, ldS, Vp, T, HS, kend, inv);
                for (int r = 0; r < mr; r++)
                    memcpy(out + ((size_t)b * T + g + r) * C + (size_t)h * HS, Ot + r * HS,
                           sizeof(float) * (size_t)HS);
            }
        }
    }
    free(sc.base);
    return MAMA_OK;
}
#endif

mama_status attention_forward(float *out, float *lse, const float *qkv, const float *key_mask,
                              int B, int T, int C, int NH, float scale, int causal) {
    int empty;
    mama_status rc = check_shape(B, T, C, NH, "attention_forward", &empty);
    if (rc != MAMA_OK || empty) return rc;
    const int HS = C / NH, C3 = 3 * C;
#if HAVE_AVX2_ROWS
    if (HS % 16 == 0 && cpu_isa_avx512())
        return forward_rows(&kernels_avx512, out, lse, qkv, key_mask, B, T, C, NH, scale, causal);
    if (HS % 16 == 0 && have_avx2_fma())
        return forward_rows(&kernels_avx2, out, lse, qkv, key_mask, B, T, C, NH, scale, causal);
#endif
    const int nqb = (T + BQ - 1) / BQ;
    const long ntask = (long)B * NH * nqb;
    const double flops = 4.0 * B * (double)T * T * C;
    const int par = ntask > 1 && flops > PAR_MIN_FLOPS;
    scratch sc;
    rc = scratch_alloc(&sc, (size_t)BQ * BK + (size_t)BQ * HS, par, "attention_forward");
    if (rc != MAMA_OK) return rc;
    parallel_blas_serial();
#pragma omp parallel if (par)
    {
        float *S = scratch_mine(&sc), *acc = S + (size_t)BQ * BK;
        float m[BQ], l[BQ];
#pragma omp for schedule(dynamic, 1)
        for (long task = 0; task < ntask; task++) {
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
    }
    free(sc.base);
    return MAMA_OK;
}

mama_status attention_backward(float *dqkv, const float *dout, const float *qkv,
                               const float *out, const float *lse, const float *key_mask,
                               int B, int T, int C, int NH, float scale, int causal) {
    int empty;
    mama_status rc = check_shape(B, T, C, NH, "attention_backward", &empty);
    if (rc != MAMA_OK || empty) return rc;
    const int HS = C / NH, C3 = 3 * C;
    const long ntask = (long)B * NH;
    const double flops = 10.0 * B * (double)T * T * C;
    const int par = ntask > 1 && flops > PAR_MIN_FLOPS;
    /* per thread: P, dP (BQ, BK), D (T) */
    const size_t nP = (size_t)BQ * BK;
    scratch sc;
    rc = scratch_alloc(&sc, 2 * nP + (size_t)T, par, "attention_backward");
    if (rc != MAMA_OK) return rc;
    parallel_blas_serial();
#pragma omp parallel if (par)
    {
        float *P = scratch_mine(&sc), *dP = P + nP, *D = dP + nP;
#pragma omp for schedule(dynamic, 1)
        for (long task = 0; task < ntask; task++) {
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
    }
    free(sc.base);
    return MAMA_OK;
}
