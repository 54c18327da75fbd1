/* gemm.c: the dispatcher of the engine's matrix products (gemm.h): oneDNN first (the kernel
 * for the running CPU), OpenBLAS when oneDNN is absent, switched off or refuses a call.
 * The choice is made per call and costs a table lookup; nothing here knows CPU models.
 * MAMA_GEMM=openblas (read once) forces the fallback, for tests and for comparison. */
#include "engine/ops/gemm.h"

#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/dtype.h"
#include "engine/core/parallel.h"
#include "engine/ops/gemm_impl.h"
#include "engine/ops/ops.h"

static int dnnl_selected; /* 1: try oneDNN first */
static pthread_once_t select_once = PTHREAD_ONCE_INIT;

static void select_backend(void) {
    const char *env = getenv("MAMA_GEMM");
    dnnl_selected = gemm_dnnl_version() != NULL && !(env && strcmp(env, "openblas") == 0);
}

static int try_dnnl(const gemm_call *g) {
    pthread_once(&select_once, select_backend);
    /* inside an OpenMP region the product stays on the calling thread (gemm.h) */
    if (!dnnl_selected || omp_in_parallel()) return -1;
    return gemm_dnnl_run(g);
}

const char *gemm_backend_name(void) {
    pthread_once(&select_once, select_backend);
    return dnnl_selected ? "onednn" : "openblas";
}

int gemm_bf16_native(void) {
    pthread_once(&select_once, select_backend);
    return dnnl_selected && gemm_dnnl_bf16_native();
}

mama_precision gemm_precision_resolve(mama_precision want, char *note, size_t n) {
    if (note && n) note[0] = '\0';
    if (want == MAMA_PREC_FP32) return MAMA_PREC_FP32;
    if (gemm_bf16_native()) return MAMA_PREC_BF16;
    if (want == MAMA_PREC_BF16 && note && n) {
        const char *v = gemm_dnnl_version();
        snprintf(note, n, "bf16 requested but this CPU has no native bf16 GEMM here (%s%s): "
                 "running fp32", v ? v : "oneDNN not built in",
                 dnnl_selected ? "" : ", MAMA_GEMM=openblas");
    }
    return MAMA_PREC_FP32;
}

void gemm_describe(char *buf, size_t n) {
    char kernels[512];
    gemm_dnnl_kernels(kernels, sizeof kernels);
    const char *v = gemm_dnnl_version();
    snprintf(buf, n, "gemm=%s; %s; onednn kernels: %s; bf16 native: %s; openblas: %s",
             gemm_backend_name(), v ? v : "oneDNN not built in", kernels,
             gemm_bf16_native() ? "yes" : "no", parallel_blas_config());
}

/* C = beta C for an empty inner dimension. */
static void scale_c(int M, int N, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float *c = C + (long)i * ldc + j;
            *c = beta == 0.0f ? 0.0f : beta * *c;
        }
}

void gemm_forward(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
    gemm_call g = {trans_a, trans_b, M, N, K, alpha, beta, A, lda, B, ldb, MAMA_F32, C, ldc,
                   NULL, GEMM_POST_NONE};
    if (try_dnnl(&g) == 0) return;
    gemm_blas_run(&g);
}

/* The fallback's epilogue: C = bias broadcast (before a beta = 1 product), GELU after. */
static void fill_bias(int M, int N, const float *bias, float *C, int ldc) {
    for (int i = 0; i < M; i++) memcpy(C + (size_t)i * ldc, bias, (size_t)N * sizeof(float));
}

static void apply_post(int M, int N, gemm_post post, float *C, int ldc) {
    if (post == GEMM_NONE) return;
    for (int i = 0; i < M; i++) {
        float *row = C + (size_t)i * ldc;
        if (post == GEMM_GELU_ERF) gelu_forward(row, row, (size_t)N);
        else gelu_tanh_forward(row, row, (size_t)N);
    }
}

/* fp32 product with bias and post on the fallback (g->ab_type is MAMA_F32). */
static void blas_with_epilogue(gemm_call *g, gemm_post post) {
    if (g->bias) fill_bias(g->M, g->N, g->bias, g->C, g->ldc);
    g->beta = g->bias ? 1.0f : 0.0f;
    if (g->K > 0) gemm_blas_run(g);
    else if (!g->bias) scale_c(g->M, g->N, 0.0f, g->C, g->ldc);
    apply_post(g->M, g->N, post, g->C, g->ldc);
}

void gemm_bias_forward(int trans_b, int M, int N, int K, const float *A, int lda,
                       const float *B, int ldb, const float *bias, gemm_post post, float *C,
                       int ldc) {
    if (M <= 0 || N <= 0) return;
    gemm_call g = {0, trans_b, M, N, K, 1.0f, 0.0f, A, lda, B, ldb, MAMA_F32, C, ldc, bias,
                   (int)post};
    if (K > 0 && try_dnnl(&g) == 0) return;
    blas_with_epilogue(&g, post);
}

/* Per-thread scratch for the bf16 path (grown, never shrunk; freed at thread exit), so a
 * steady state of calls allocates nothing. */
typedef struct scratch {
    void *p;
    size_t cap;
} scratch;
typedef struct scratch_set {
    scratch a, b;
} scratch_set;
static __thread scratch_set tls_scratch;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_release(void *v) {
    scratch_set *s = v;
    free(s->a.p);
    free(s->b.p);
    s->a = s->b = (scratch){NULL, 0};
}

static void scratch_key_make(void) { pthread_key_create(&scratch_key, scratch_release); }

static void *scratch_get(scratch *s, size_t bytes) {
    if (bytes <= s->cap) return s->p;
    void *p = malloc(bytes);
    if (!p) return NULL;
    free(s->p);
    s->p = p;
    s->cap = bytes;
    pthread_once(&scratch_once, scratch_key_make);
    pthread_setspecific(scratch_key, &tls_scratch);
    return p;
}

mama_status gemm_bf16_forward(int trans_b, int M, int N, int K, const float *A, int lda,
                              const uint16_t *B, int ldb, const float *bias, gemm_post post,
                              float *C, int ldc) {
    if (M <= 0 || N <= 0) return MAMA_OK;
    if (K <= 0) { /* no products: post(bias), as the fp32 path gives it */
        gemm_bias_forward(trans_b, M, N, 0, A, lda, NULL, ldb, bias, post, C, ldc);
        return MAMA_OK;
    }
    size_t ka = (size_t)K;
    uint16_t *a16 = scratch_get(&tls_scratch.a, (size_t)M * ka * sizeof(uint16_t));
    if (!a16)
        return mama_errorf(MAMA_ENOMEM, "gemm_bf16_forward: cannot allocate %d x %d bf16 "
                           "scratch for the input", M, K);
    for (int i = 0; i < M; i++)
        dtype_f32_to_bf16_n(a16 + (size_t)i * K, A + (size_t)i * lda, (size_t)K);
    gemm_call g = {0, trans_b, M, N, K, 1.0f, 0.0f, a16, K, B, ldb, MAMA_BF16, C, ldc, bias,
                   (int)post};
    if (try_dnnl(&g) == 0) return MAMA_OK;
    /* fallback: the same rounded operands, widened, through the fp32 path */
    size_t brows = trans_b ? (size_t)N : (size_t)ka, bn = brows * (size_t)ldb;
    size_t an = (size_t)M * ka;
    float *wide = scratch_get(&tls_scratch.b, (an + bn) * sizeof(float));
    if (!wide)
        return mama_errorf(MAMA_ENOMEM, "gemm_bf16_forward: cannot allocate %zu floats to "
                           "widen bf16 operands", an + bn);
    dtype_bf16_to_f32_n(wide, a16, an);
    dtype_bf16_to_f32_n(wide + an, B, bn);
    g.A = wide;
    g.B = wide + an;
    g.ab_type = MAMA_F32;
    blas_with_epilogue(&g, post);
    return MAMA_OK;
}
