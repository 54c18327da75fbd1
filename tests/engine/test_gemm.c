/* test_gemm.c: the GEMM dispatcher's paths (gemm.h) against naive double references:
 * fused bias + GELU (erf and tanh) in fp32, the bf16 product (against the product of the
 * bf16-rounded operands, rounded here by this file's own code, and against the unrounded
 * product within the stated bf16 bound), the dispatch itself (which backend and whether a
 * native bf16 kernel, as the environment forces: MAMA_GEMM=openblas, ONEDNN_MAX_CPU_ISA),
 * and concurrent callers sharing the primitive cache.
 * Run by meson three times: as is, with ONEDNN_MAX_CPU_ISA=AVX2 and with MAMA_GEMM=openblas.
 * Tolerances (|got - ref| <= atol + rtol |ref|):
 *   fp32: atol 3e-6 sqrt(K+1), rtol 1e-5 (fp32 accumulation of K products of O(1) values);
 *   bf16 vs the rounded operands' product: atol 1e-5 sqrt(K+1), rtol 1e-5 (the products
 *     of bf16 values are exact in fp32; only the accumulation rounds);
 *   bf16 vs the unrounded product: |got - ref| <= 2^-7 sum_k |a_k b_k| + 1e-6 (each
 *     operand is off by at most 2^-9 relative, so each product by about 2^-8). */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/dtype.h"
#include "engine/core/parallel.h"
#include "engine/ops/gemm.h"
#include "engine/ops/ops.h"
#include "tests/check.h"

static unsigned long long rng = 424242;

static float *frand(size_t n, float amp) {
    float *x = malloc(n * sizeof *x + 1);
    test_fill(x, n, &rng, amp);
    return x;
}

/* bf16 rounding, nearest even, written independently of dtype.c (no NaN in test data). */
static uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
static double from_bf16(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static double gelu_erf(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
static double gelu_tanh(double x) {
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}
static double post_of(gemm_post p, double x) {
    return p == GEMM_GELU_ERF ? gelu_erf(x) : p == GEMM_GELU_TANH ? gelu_tanh(x) : x;
}

/* B element (k, j) of op(B): stored (N,K) when trans_b, else (K,N). */
static size_t b_at(int trans_b, int ldb, int k, int j) {
    return trans_b ? (size_t)j * ldb + k : (size_t)k * ldb + j;
}

/* C = post(A op(B) + bias) in fp32 and bf16 for one shape and layout. */
static void test_fused(int M, int N, int K, int trans_b, int with_bias, gemm_post post) {
    int lda = K + 3, ldb = (trans_b ? K : N) + 1, ldc = N + 2;
    size_t nb = (size_t)(trans_b ? N : K) * ldb, nc = (size_t)M * ldc;
    float *A = frand((size_t)M * lda, 1), *B = frand(nb, 1), *bias = frand((size_t)N, 1);
    float *C = frand(nc, 1), *C16 = malloc(nc * sizeof *C16);
    memcpy(C16, C, nc * sizeof *C);
    uint16_t *B16 = malloc(nb * sizeof *B16);
    for (size_t i = 0; i < nb; i++) B16[i] = to_bf16(B[i]);
    double *ref = calloc(nc, sizeof *ref), *ref16 = calloc(nc, sizeof *ref16);
    double *bound = calloc(nc, sizeof *bound);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            size_t ci = (size_t)i * ldc + j;
            if (j >= N) { /* padding columns stay untouched */
                ref[ci] = ref16[ci] = C[ci];
                continue;
            }
            double acc = with_bias ? bias[j] : 0, acc16 = acc, mag = 0;
            for (int k = 0; k < K; k++) {
                double a = A[(size_t)i * lda + k], b = B[b_at(trans_b, ldb, k, j)];
                acc += a * b;
                acc16 += from_bf16(to_bf16((float)a)) * from_bf16(B16[b_at(trans_b, ldb, k, j)]);
                mag += fabs(a * b);
            }
            ref[ci] = post_of(post, acc);
            ref16[ci] = post_of(post, acc16);
            bound[ci] = mag;
        }
    char what[128];
    snprintf(what, sizeof what, "fused fp32 M=%d N=%d K=%d tb=%d bias=%d post=%d", M, N, K,
             trans_b, with_bias, (int)post);
    gemm_bias_forward(trans_b, M, N, K, A, lda, B, ldb, with_bias ? bias : NULL, post, C, ldc);
    CHECK(check_close(what, C, ref, nc, 3e-6 * sqrt(K + 1), 1e-5) == 0);

    what[6] = 'b', what[7] = 'f', what[8] = '1', what[9] = '6'; /* "fused bf16 ..." */
    CHECK(gemm_bf16_forward(trans_b, M, N, K, A, lda, B16, ldb, with_bias ? bias : NULL, post,
                            C16, ldc) == MAMA_OK);
    CHECK(check_close(what, C16, ref16, nc, 1e-5 * sqrt(K + 1), 1e-5) == 0);
    /* the bf16 bound against the unrounded product (GELU's slope is at most 1.13) */
    int over = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            size_t ci = (size_t)i * ldc + j;
            if (!(fabs(C16[ci] - ref[ci]) <= 1.13 * ldexp(bound[ci], -7) + 1e-6)) over++;
        }
    CHECK_MSG(over == 0, "%s: %d elements beyond the bf16 bound", what, over);
    free(A); free(B); free(bias); free(C); free(C16); free(B16);
    free(ref); free(ref16); free(bound);
}

/* The array rounding (vectorised on AVX-512) bit for bit against this file's rounding, over
 * random bit patterns (NaNs, infinities and subnormals among them) and a ragged tail. */
static void test_round_array(void) {
    size_t n = 100003;
    uint32_t *u = malloc(n * sizeof *u);
    uint16_t *got = malloc(n * sizeof *got);
    unsigned long long r = 7;
    for (size_t i = 0; i < n; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        u[i] = (uint32_t)(r >> 32);
    }
    static const uint32_t special[] = {0x7f800000u, 0xff800000u, 0x7fc00001u, 0x7f800001u,
                                       0x00000001u, 0x807fffffu, 0x3f808000u, 0x3f818000u,
                                       0x7f7fffffu, 0};
    memcpy(u, special, sizeof special);
    float *f = malloc(n * sizeof *f);
    memcpy(f, u, n * sizeof *f);
    dtype_f32_to_bf16_n(got, f, n);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        int nan = (u[i] & 0x7fffffffu) > 0x7f800000u;
        uint16_t want = nan ? (uint16_t)((u[i] >> 16) | 0x40u) : to_bf16(f[i]);
        bad += got[i] != want;
    }
    CHECK_MSG(bad == 0, "dtype_f32_to_bf16_n: %zu of %zu roundings differ", bad, n);
    free(u); free(got); free(f);
}

/* What the environment forces must be what the dispatcher does. */
static void test_dispatch(void) {
    const char *gemm_env = getenv("MAMA_GEMM"), *isa = getenv("ONEDNN_MAX_CPU_ISA");
    int forced_blas = gemm_env && strcmp(gemm_env, "openblas") == 0;
    char desc[1024];
    gemm_describe(desc, sizeof desc);
    printf("%s\n", desc);
    if (forced_blas) {
        CHECK_STR(gemm_backend_name(), "openblas");
        CHECK(!gemm_bf16_native());
    }
#ifdef MAMA_TEST_HAVE_DNNL
    if (!forced_blas) CHECK_STR(gemm_backend_name(), "onednn");
    /* AVX2 has no bf16 dot product: oneDNN offers only reference code, which is refused */
    if (isa && strcasecmp(isa, "AVX2") == 0) CHECK(!gemm_bf16_native());
    if (!forced_blas && !isa && __builtin_cpu_supports("avx512bf16"))
        CHECK_MSG(gemm_bf16_native(), "CPU has AVX512-BF16 but no native bf16 GEMM: %s", desc);
    if (!forced_blas) CHECK_MSG(!strstr(desc, "ref:"), "a reference kernel in use: %s", desc);
#else
    (void)isa;
    CHECK_STR(gemm_backend_name(), "openblas");
#endif
    char note[256];
    mama_precision p = gemm_precision_resolve(MAMA_PREC_BF16, note, sizeof note);
    CHECK(p == (gemm_bf16_native() ? MAMA_PREC_BF16 : MAMA_PREC_FP32));
    CHECK(p == MAMA_PREC_BF16 ? note[0] == '\0' : strstr(note, "running fp32") != NULL);
    CHECK(gemm_precision_resolve(MAMA_PREC_FP32, note, sizeof note) == MAMA_PREC_FP32);
    CHECK(gemm_precision_resolve(MAMA_PREC_AUTO, NULL, 0) == p);
    mama_precision q;
    CHECK(mama_precision_parse("BF16", &q) == MAMA_OK && q == MAMA_PREC_BF16);
    CHECK(mama_precision_parse("fp16", &q) == MAMA_EINVAL);
}

/* Two threads at once, each through many shapes (so both create and look up cached
 * primitives), each result against gemm on the calling thread alone. */
typedef struct job {
    int id, bad;
} job;

static void *run_job(void *p) {
    job *j = p;
    unsigned long long r = 99 + (unsigned long long)j->id;
    for (int it = 0; it < 12; it++) {
        int M = 17 + 5 * it, N = 9 + 3 * (it % 5), K = 33 + it;
        float *A = malloc(sizeof(float) * (size_t)M * K), *B = malloc(sizeof(float) * (size_t)K * N);
        float *C = malloc(sizeof(float) * (size_t)M * N);
        test_fill(A, (size_t)M * K, &r, 1);
        test_fill(B, (size_t)K * N, &r, 1);
        gemm_forward(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
        for (int i = 0; i < M; i++)
            for (int n = 0; n < N; n++) {
                double acc = 0;
                for (int k = 0; k < K; k++) acc += (double)A[i * K + k] * B[k * N + n];
                if (!(fabs(C[i * N + n] - acc) <= 3e-6 * sqrt(K + 1) + 1e-5 * fabs(acc))) j->bad++;
            }
        free(A); free(B); free(C);
    }
    return NULL;
}

static void test_concurrent(void) {
    pthread_t t[2];
    job jobs[2] = {{0, 0}, {1, 0}};
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&t[i], NULL, run_job, &jobs[i]) == 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    CHECK_MSG(jobs[0].bad == 0 && jobs[1].bad == 0, "concurrent gemm: %d + %d elements off",
              jobs[0].bad, jobs[1].bad);
}

int main(void) {
    mama_set_threads(2);
    test_dispatch();
    test_round_array();
    static const gemm_post posts[] = {GEMM_NONE, GEMM_GELU_ERF, GEMM_GELU_TANH};
    for (int p = 0; p < 3; p++)
        for (int tb = 0; tb < 2; tb++) {
            test_fused(7, 13, 5, tb, 1, posts[p]);
            test_fused(130, 200, 67, tb, p != 1, posts[p]); /* parallel, > 2 MFLOP */
        }
    test_fused(1, 1, 1, 1, 1, GEMM_NONE);
    test_fused(64, 48, 0, 1, 1, GEMM_GELU_ERF); /* empty inner dimension: post(bias) */
    test_concurrent();
    char desc[1024];
    gemm_describe(desc, sizeof desc);
    printf("after: %s\n", desc);
    CHECK_DONE();
}
