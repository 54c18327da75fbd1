/* test_attention.c: the tiled flash attention against a naive, untiled double-precision
 * reference: odd sequence lengths (1, 5, 67, 130, 257 straddle the 64/128 tiles), several
 * heads, causal and not, with and without a key mask (including fully masked rows);
 * forward out and lse, backward against an analytic double reference and, on small shapes,
 * central finite differences. Bad shapes are MAMA_EINVAL; a failed scratch allocation
 * (injected) is MAMA_ENOMEM from the op and from the towers that call it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/ops.h"
#include "engine/core/parallel.h"
#include "engine/text/bert.h"
#include "engine/text/gpt2.h"
#include "engine/vision/vit.h"
#include "tests/check.h"
#include "tests/engine/fd.h"

static unsigned long long rng = 777;

static int allowed(const float *km, int b, int T, int causal, int t, int j) {
    if (km && km[(size_t)b * T + j] == 0.0f) return 0;
    if (causal && j > t) return 0;
    return 1;
}

/* Naive reference in double: out (B,T,C), lse (B,NH,T), and (when dout is given)
 * dqkv (B,T,3C) gradient. */
static void ref_attention(double *out, double *lse, double *dqkv, const float *dout,
                          const float *qkv, const float *km, int B, int T, int C, int NH,
                          double scale, int causal) {
    int HS = C / NH, C3 = 3 * C;
    double *p = malloc(sizeof(double) * T), *dp = malloc(sizeof(double) * T);
    if (dqkv) memset(dqkv, 0, sizeof(double) * B * T * C3);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const float *q = qkv + ((size_t)b * T + t) * C3 + h * HS;
                double m = -INFINITY;
                for (int j = 0; j < T; j++) {
                    const float *k = qkv + ((size_t)b * T + j) * C3 + C + h * HS;
                    double s = 0;
                    for (int d = 0; d < HS; d++) s += (double)q[d] * k[d];
                    p[j] = allowed(km, b, T, causal, t, j) ? s * scale : -INFINITY;
                    if (p[j] > m) m = p[j];
                }
                double *o = out + ((size_t)b * T + t) * C + h * HS;
                for (int d = 0; d < HS; d++) o[d] = 0;
                if (m == -INFINITY) {
                    lse[((size_t)b * NH + h) * T + t] = -INFINITY;
                    continue;
                }
                double sum = 0;
                for (int j = 0; j < T; j++) sum += (p[j] = exp(p[j] - m));
                for (int j = 0; j < T; j++) {
                    p[j] /= sum;
                    const float *v = qkv + ((size_t)b * T + j) * C3 + 2 * C + h * HS;
                    for (int d = 0; d < HS; d++) o[d] += p[j] * v[d];
                }
                lse[((size_t)b * NH + h) * T + t] = m + log(sum);
                if (!dqkv) continue;
                const float *g = dout + ((size_t)b * T + t) * C + h * HS;
                double Dt = 0;
                for (int d = 0; d < HS; d++) Dt += g[d] * o[d];
                for (int j = 0; j < T; j++) {
                    const float *v = qkv + ((size_t)b * T + j) * C3 + 2 * C + h * HS;
                    double s = 0;
                    for (int d = 0; d < HS; d++) s += (double)g[d] * v[d];
                    dp[j] = p[j] * (s - Dt) * scale;
                }
                double *dq = dqkv + ((size_t)b * T + t) * C3 + h * HS;
                for (int j = 0; j < T; j++) {
                    if (p[j] == 0) continue;
                    const float *k = qkv + ((size_t)b * T + j) * C3 + C + h * HS;
                    double *dk = dqkv + ((size_t)b * T + j) * C3 + C + h * HS;
                    double *dv = dqkv + ((size_t)b * T + j) * C3 + 2 * C + h * HS;
                    for (int d = 0; d < HS; d++) {
                        dq[d] += dp[j] * k[d];
                        dk[d] += dp[j] * q[d];
                        dv[d] += p[j] * g[d];
                    }
                }
            }
    free(p);
    free(dp);
}

typedef struct att_ctx {
    int B, T, C, NH, causal;
    float scale;
    float *qkv, *km, *out, *r;
} att_ctx;

static double att_loss(void *p) {
    att_ctx *c = p;
    attention_forward(c->out, NULL, c->qkv, c->km, c->B, c->T, c->C, c->NH, c->scale, c->causal);
    return fd_dot(c->out, c->r, (size_t)c->B * c->T * c->C);
}

static void run_case(int B, int T, int C, int NH, int causal, int masked, int fd) {
    char what[160];
    size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, nlse = (size_t)B * NH * T;
    att_ctx c = {B, T, C, NH, causal, 1.0f / sqrtf((float)(C / NH)), malloc(nqkv * 4),
                 NULL, calloc(nout, 4), malloc(nout * 4)};
    test_fill(c.qkv, nqkv, &rng, 2.0f);
    test_fill(c.r, nout, &rng, 1.0f);
    if (masked) {
        c.km = malloc((size_t)B * T * 4);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                /* batch 0: padding at the end; batch 1 (if any): every third key masked,
                   including key 0, so causal row 0 is fully masked */
                c.km[(size_t)b * T + t] = b == 0 ? (t < T - T / 3 ? 1.0f : 0.0f)
                                                 : (t % 3 == 0 ? 0.0f : 1.0f);
    }
    float *lse = malloc(nlse * 4);
    CHECK(attention_forward(c.out, lse, c.qkv, c.km, B, T, C, NH, c.scale, causal) == MAMA_OK);
    double *rout = malloc(nout * 8), *rlse = malloc(nlse * 8), *rd = malloc(nqkv * 8);
    ref_attention(rout, rlse, rd, c.r, c.qkv, c.km, B, T, C, NH, c.scale, causal);
    snprintf(what, sizeof what, "attention out B=%d T=%d C=%d NH=%d causal=%d mask=%d", B, T, C,
             NH, causal, masked);
    check_close(what, c.out, rout, nout, 2e-6, 1e-5);
    int lse_bad = 0;
    for (size_t i = 0; i < nlse; i++) {
        if (isinf(rlse[i])) lse_bad += !(isinf(lse[i]) && lse[i] < 0);
        else lse_bad += !(fabs(lse[i] - rlse[i]) <= 1e-5 + 1e-5 * fabs(rlse[i]));
    }
    CHECK_MSG(lse_bad == 0, "%s: %d lse values differ", what, lse_bad);

    float *dqkv = malloc(nqkv * 4), *d0 = malloc(nqkv * 4);
    test_fill(dqkv, nqkv, &rng, 1.0f);
    memcpy(d0, dqkv, nqkv * 4);
    CHECK(attention_backward(dqkv, c.r, c.qkv, c.out, lse, c.km, B, T, C, NH, c.scale,
                             causal) == MAMA_OK);
    for (size_t i = 0; i < nqkv; i++) dqkv[i] -= d0[i];
    snprintf(what, sizeof what, "attention dqkv B=%d T=%d C=%d NH=%d causal=%d mask=%d", B, T, C,
             NH, causal, masked);
    check_close(what, dqkv, rd, nqkv, 1e-5, 1e-4);
    if (fd) {
        double *g = malloc(nqkv * 8);
        fd_grad(g, c.qkv, nqkv, att_loss, &c, 1e-2f);
        snprintf(what, sizeof what, "attention dqkv vs FD T=%d causal=%d mask=%d", T, causal,
                 masked);
        check_close(what, dqkv, g, nqkv, 2e-3, 5e-3);
        free(g);
    }
    free(c.qkv); free(c.km); free(c.out); free(c.r); free(lse); free(rout); free(rlse);
    free(rd); free(dqkv); free(d0);
}

/* Shapes the heads cannot tile are refused with MAMA_EINVAL and write nothing (they used
 * to return silently, leaving out as it was); an empty batch is no work. */
static void bad_shapes(void) {
    float qkv[3 * 10 * 2] = {0}, out[10 * 2], lse[3 * 2], dqkv[3 * 10 * 2];
    for (int i = 0; i < 20; i++) out[i] = 7.0f;
    CHECK(attention_forward(out, lse, qkv, NULL, 1, 2, 10, 3, 1.0f, 0) == MAMA_EINVAL);
    CHECK(strstr(mama_last_error(), "NH 3") != NULL);
    CHECK(attention_forward(out, lse, qkv, NULL, 1, 2, 10, 0, 1.0f, 0) == MAMA_EINVAL);
    CHECK(attention_forward(out, lse, qkv, NULL, -1, 2, 10, 2, 1.0f, 0) == MAMA_EINVAL);
    CHECK(attention_backward(dqkv, out, qkv, out, lse, NULL, 1, 2, 10, 3, 1.0f, 0) ==
          MAMA_EINVAL);
    int untouched = 1;
    for (int i = 0; i < 20; i++) untouched &= out[i] == 7.0f;
    CHECK(untouched);
    CHECK(attention_forward(out, lse, qkv, NULL, 0, 2, 10, 2, 1.0f, 0) == MAMA_OK);
    CHECK(attention_backward(dqkv, out, qkv, out, lse, NULL, 1, 0, 10, 2, 1.0f, 1) == MAMA_OK);
}

/* Allocation failure by injection: this binary links with -Wl,--wrap=aligned_alloc
 * (tests/engine/meson.build), so the engine's aligned allocations (tensor-table blocks and
 * the attention scratch) come through here; fail_at = n fails the n-th one from now. */
void *__real_aligned_alloc(size_t align, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);
static int fail_at;
void *__wrap_aligned_alloc(size_t align, size_t n) {
    if (fail_at > 0 && --fail_at == 0) return NULL;
    return __real_aligned_alloc(align, n);
}

/* The op says it could not run and writes nothing, on both kernels (HS 16: AVX2 rows when
 * the CPU has them; HS 8: the tiled sgemm path); before this it skipped the work in
 * silence. */
static void op_alloc_failure(int C) {
    enum { B = 2, T = 9, NH = 2 };
    float qkv[B * T * 3 * 32], out[B * T * 32], lse[B * NH * T], dqkv[B * T * 3 * 32];
    test_fill(qkv, sizeof qkv / 4, &rng, 1.0f);
    for (int i = 0; i < B * T * C; i++) out[i] = 7.0f;
    for (int i = 0; i < B * T * 3 * C; i++) dqkv[i] = 5.0f;
    fail_at = 1;
    CHECK(attention_forward(out, lse, qkv, NULL, B, T, C, NH, 0.5f, 1) == MAMA_ENOMEM);
    CHECK(strstr(mama_last_error(), "attention_forward") != NULL);
    int untouched = 1;
    for (int i = 0; i < B * T * C; i++) untouched &= out[i] == 7.0f;
    CHECK_MSG(untouched, "C %d: forward wrote its output without scratch", C);
    fail_at = 0;
    CHECK(attention_forward(out, lse, qkv, NULL, B, T, C, NH, 0.5f, 1) == MAMA_OK);
    fail_at = 1;
    CHECK(attention_backward(dqkv, out, qkv, out, lse, NULL, B, T, C, NH, 0.5f, 1) ==
          MAMA_ENOMEM);
    untouched = 1;
    for (int i = 0; i < B * T * 3 * C; i++) untouched &= dqkv[i] == 5.0f;
    CHECK_MSG(untouched, "C %d: backward wrote gradients without scratch", C);
    fail_at = 0;
}

/* The towers pass the op's MAMA_ENOMEM on to their callers. Allocation order: the
 * activation block (or backward's gradient block) first, then layer 0's attention. */
static void tower_alloc_failure(void) {
    vit_config vc = {.width = 32, .depth = 2, .heads = 2, .patch = 4, .image_size = 16,
                     .n_registers = 1, .mlp_ratio = 2.0f, .ln_eps = 1e-6f, .layerscale = 1,
                     .in_chans = 3, .embed = 8};
    vit_model *v = NULL;
    fail_at = 1;
    CHECK(vit_create(&vc, &v) == MAMA_ENOMEM && v == NULL);
    fail_at = 0;
    CHECK(vit_create(&vc, &v) == MAMA_OK);
    if (v) {
        vit_init_random(v, 3);
        float img[3 * 16 * 16];
        test_fill(img, sizeof img / 4, &rng, 1.0f);
        fail_at = 2;
        CHECK(vit_forward(v, img, 1, 16, 16, 0) == MAMA_ENOMEM);
        CHECK(strstr(mama_last_error(), "attention_forward") != NULL);
        fail_at = 0;
        CHECK(vit_forward(v, img, 1, 16, 16, 0) == MAMA_OK);
        vit_free(v);
    }

    gpt2_config gc = {.vocab_size = 10, .base_vocab = 10, .added_from = 10, .n_positions = 8,
                      .n_embd = 16, .n_layer = 2, .n_head = 2, .n_inner = 32, .ln_eps = 1e-5f};
    gpt2_model *g = NULL;
    int ids[2 * 5] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0};
    CHECK(gpt2_create(&gc, NULL, 1, &g) == MAMA_OK);
    if (g) {
        fail_at = 2;
        CHECK(gpt2_forward(g, ids, NULL, 2, 5) == MAMA_ENOMEM);
        fail_at = 0;
        CHECK(gpt2_forward(g, ids, NULL, 2, 5) == MAMA_OK);
        float dl[2 * 5 * 16];
        test_fill(dl, sizeof dl / 4, &rng, 1.0f);
        fail_at = 2;
        CHECK(gpt2_backward(g, dl) == MAMA_ENOMEM);
        CHECK(strstr(mama_last_error(), "attention_backward") != NULL);
        fail_at = 0;
        CHECK(gpt2_backward(g, dl) == MAMA_OK);
        gpt2_destroy(g);
    }

    bert_config bc = {.vocab_size = 10, .max_position = 8, .type_vocab_size = 2, .hidden = 16,
                      .n_layer = 2, .n_head = 2, .intermediate = 32, .ln_eps = 1e-12f,
                      .pad_token_id = -1};
    bert_model *b = NULL;
    CHECK(bert_create(&bc, &b) == MAMA_OK);
    if (b) {
        CHECK(bert_set_train(b, 1) == MAMA_OK);
        fail_at = 2;
        CHECK(bert_forward(b, ids, NULL, NULL, 2, 5) == MAMA_ENOMEM);
        fail_at = 0;
        CHECK(bert_forward(b, ids, NULL, NULL, 2, 5) == MAMA_OK);
        float dh[2 * 5 * 16];
        test_fill(dh, sizeof dh / 4, &rng, 1.0f);
        fail_at = 2;
        CHECK(bert_backward(b, dh) == MAMA_ENOMEM);
        CHECK(strstr(mama_last_error(), "attention_backward") != NULL);
        fail_at = 0;
        CHECK(bert_backward(b, dh) == MAMA_OK);
        bert_destroy(b);
    }
}

int main(void) {
    bad_shapes();
    op_alloc_failure(16);
    op_alloc_failure(32);
    tower_alloc_failure();
    static const int Ts[] = {1, 5, 67, 130, 257};
    for (int i = 0; i < 5; i++)
        for (int causal = 0; causal < 2; causal++)
            for (int masked = 0; masked < 2; masked++) {
                int T = Ts[i];
                run_case(masked ? 2 : 1, T, T > 130 ? 24 : 12, T > 130 ? 2 : 3, causal, masked,
                         0);
            }
    /* FD on small shapes (every element of qkv perturbed) */
    run_case(1, 5, 6, 2, 0, 0, 1);
    run_case(2, 5, 6, 2, 1, 1, 1);
    run_case(1, 67, 4, 2, 1, 0, 1);
    /* head size 64 as in ViT-B, one thread and the default */
    run_case(1, 130, 128, 2, 0, 0, 0);
    mama_set_threads(1);
    run_case(2, 67, 128, 2, 1, 1, 0);
    /* several query and key tiles with partial edges, 3 threads (uneven task split) */
    mama_set_threads(3);
    run_case(2, 385, 64, 2, 0, 1, 0);
    run_case(2, 385, 64, 2, 1, 1, 0);
    run_case(1, 600, 64, 1, 1, 0, 0);
    /* head sizes 80 and 48: the AVX-512 kernels' 4 + 1 and 2 + 1 panel tails */
    run_case(1, 45, 160, 2, 0, 1, 0);
    run_case(2, 50, 96, 2, 1, 1, 0);
    mama_set_threads(0);
    return check_done("test_attention");
}
