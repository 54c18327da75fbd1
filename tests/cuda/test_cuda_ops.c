/* test_cuda_ops.c: every CUDA op against its CPU twin (engine/ops) on random inputs of the
 * towers' real shapes. Inputs are rounded to bf16 first, so both sides see the same
 * numbers; the CPU side then computes in fp32 (double for the references it builds itself).
 * Tolerances, per element, |gpu - cpu| <= atol + rtol |cpu|:
 *   bf16 outputs (one rounding, 2^-8 relative):          atol 1e-2, rtol 1.6e-2
 *   GEMM outputs in bf16 (fp32 accumulation over K):      atol 2e-2, rtol 1.6e-2
 *   fp32 outputs (softmax, CE, l2norm, BatchNorm, AdamW): atol 1e-5, rtol 1e-4
 *   parameter gradients in fp32 from bf16 inputs:         atol 2e-2, rtol 2e-2
 * Exits 77 (meson: skipped) with the reason when no GPU is visible, as in CI. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/dtype.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/ops/ops.h"
#include "tests/check.h"

static unsigned long long lcg = 88172645463325252ull;
static float frand(void) {  /* uniform in [-1, 1) */
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((lcg >> 40) * (1.0 / 8388608.0) - 1.0);
}

/* n random values, rounded to bf16: h_f32 (host fp32 copy) and d_bf (device bf16). */
static float *rand_bf16(size_t n, float amp, mama_bf16 **d_bf) {
    float *h = malloc(n * sizeof *h);
    uint16_t *b = malloc(n * sizeof *b);
    for (size_t i = 0; i < n; i++) {
        b[i] = dtype_f32_to_bf16(amp * frand());
        h[i] = dtype_bf16_to_f32(b[i]);
    }
    CHECK(cuda_malloc((void **)d_bf, n * 2) == MAMA_OK);
    CHECK(cuda_upload(*d_bf, b, n * 2) == MAMA_OK);
    free(b);
    return h;
}

static float *download_bf16(const mama_bf16 *d, size_t n) {
    uint16_t *b = malloc(n * 2);
    float *h = malloc(n * sizeof *h);
    CHECK(cuda_download(b, d, n * 2) == MAMA_OK);
    for (size_t i = 0; i < n; i++) h[i] = dtype_bf16_to_f32(b[i]);
    free(b);
    return h;
}

static float *download_f32(const float *d, size_t n) {
    float *h = malloc(n * sizeof *h);
    CHECK(cuda_download(h, d, n * sizeof *h) == MAMA_OK);
    return h;
}

static int close_f(const char *what, const float *got, const float *ref, size_t n, double atol,
                   double rtol) {
    double *r = malloc(n * sizeof *r);
    for (size_t i = 0; i < n; i++) r[i] = ref[i];
    int bad = check_close(what, got, r, n, atol, rtol);
    free(r);
    CHECK_MSG(bad == 0, "%s: %d of %zu elements outside tolerance", what, bad, n);
    return bad;
}

static void test_linear(int N, int C, int OC, int gelu) {
    mama_bf16 *dx, *dw, *db, *dout, *dpre;
    float *x = rand_bf16((size_t)N * C, 1.0f, &dx);
    float *w = rand_bf16((size_t)OC * C, 0.05f, &dw);
    float *b = rand_bf16((size_t)OC, 0.1f, &db);
    CHECK(cuda_malloc((void **)&dout, (size_t)N * OC * 2) == MAMA_OK);
    CHECK(cuda_malloc((void **)&dpre, (size_t)N * OC * 2) == MAMA_OK);
    CHECK(cuda_linear_forward(dout, dpre, dx, dw, db, N, C, OC, gelu) == MAMA_OK);
    float *ref = malloc((size_t)N * OC * sizeof *ref);
    linear_forward(ref, x, w, b, N, C, OC);
    if (gelu == 1) gelu_tanh_forward(ref, ref, (size_t)N * OC);
    if (gelu == 2) gelu_forward(ref, ref, (size_t)N * OC);
    float *got = download_bf16(dout, (size_t)N * OC);
    char what[96];
    snprintf(what, sizeof what, "linear_forward %dx%dx%d gelu %d", N, C, OC, gelu);
    close_f(what, got, ref, (size_t)N * OC, 2e-2, 1.6e-2);

    /* backward of the plain linear with a random upstream gradient */
    mama_bf16 *dg, *ddx;
    float *g = rand_bf16((size_t)N * OC, 0.5f, &dg);
    float *ddw, *ddb;
    CHECK(cuda_malloc((void **)&ddx, (size_t)N * C * 2) == MAMA_OK);
    CHECK(cuda_malloc((void **)&ddw, (size_t)OC * C * 4) == MAMA_OK);
    CHECK(cuda_malloc((void **)&ddb, (size_t)OC * 4) == MAMA_OK);
    CHECK(cuda_memset0(ddw, (size_t)OC * C * 4) == MAMA_OK);
    CHECK(cuda_memset0(ddb, (size_t)OC * 4) == MAMA_OK);
    CHECK(cuda_linear_backward(ddx, ddw, ddb, dg, dx, dw, N, C, OC) == MAMA_OK);
    float *rdx = calloc((size_t)N * C, sizeof *rdx), *rdw = calloc((size_t)OC * C, sizeof *rdw);
    float *rdb = calloc((size_t)OC, sizeof *rdb);
    linear_backward(rdx, rdw, rdb, g, x, w, N, C, OC);
    float *gx = download_bf16(ddx, (size_t)N * C), *gw = download_f32(ddw, (size_t)OC * C);
    float *gb = download_f32(ddb, (size_t)OC);
    snprintf(what, sizeof what, "linear_backward dinp %dx%dx%d", N, C, OC);
    close_f(what, gx, rdx, (size_t)N * C, 2e-2, 1.6e-2);
    snprintf(what, sizeof what, "linear_backward dw %dx%dx%d", N, C, OC);
    close_f(what, gw, rdw, (size_t)OC * C, 2e-2, 2e-2);
    snprintf(what, sizeof what, "linear_backward db %dx%dx%d", N, C, OC);
    close_f(what, gb, rdb, (size_t)OC, 2e-2, 2e-2);
    free(x); free(w); free(b); free(ref); free(got); free(g); free(rdx); free(rdw); free(rdb);
    free(gx); free(gw); free(gb);
    cuda_free(dx); cuda_free(dw); cuda_free(db); cuda_free(dout); cuda_free(dpre);
    cuda_free(dg); cuda_free(ddx); cuda_free(ddw); cuda_free(ddb);
}

static void test_layernorm(int N, int C) {
    mama_bf16 *dx, *dw, *db, *dy, *dg, *ddx;
    float *x = rand_bf16((size_t)N * C, 2.0f, &dx), *w = rand_bf16(C, 1.0f, &dw);
    float *b = rand_bf16(C, 0.5f, &db), *g = rand_bf16((size_t)N * C, 1.0f, &dg);
    float *dmean, *drstd, *ddw, *ddb;
    CHECK(cuda_malloc((void **)&dy, (size_t)N * C * 2) == MAMA_OK);
    CHECK(cuda_malloc((void **)&ddx, (size_t)N * C * 2) == MAMA_OK);
    CHECK(cuda_memset0(ddx, (size_t)N * C * 2) == MAMA_OK);
    CHECK(cuda_malloc((void **)&dmean, N * 4) == MAMA_OK);
    CHECK(cuda_malloc((void **)&drstd, N * 4) == MAMA_OK);
    CHECK(cuda_malloc((void **)&ddw, C * 4) == MAMA_OK);
    CHECK(cuda_malloc((void **)&ddb, C * 4) == MAMA_OK);
    CHECK(cuda_memset0(ddw, C * 4) == MAMA_OK);
    CHECK(cuda_memset0(ddb, C * 4) == MAMA_OK);
    CHECK(cuda_layernorm_forward(dy, dmean, drstd, dx, dw, db, N, C, 1e-6f) == MAMA_OK);
    CHECK(cuda_layernorm_backward(ddx, ddw, ddb, dg, dx, dw, dmean, drstd, N, C) == MAMA_OK);
    float *ry = malloc((size_t)N * C * 4), *rm = malloc(N * 4), *rr = malloc(N * 4);
    float *rdx = calloc((size_t)N * C, 4), *rdw = calloc(C, 4), *rdb = calloc(C, 4);
    layernorm_forward(ry, rm, rr, x, w, b, N, C, 1e-6f);
    layernorm_backward(rdx, rdw, rdb, g, x, w, rm, rr, N, C);
    float *gy = download_bf16(dy, (size_t)N * C), *gdx = download_bf16(ddx, (size_t)N * C);
    float *gdw = download_f32(ddw, C), *gdb = download_f32(ddb, C);
    close_f("layernorm_forward", gy, ry, (size_t)N * C, 1e-2, 1.6e-2);
    close_f("layernorm_backward dinp", gdx, rdx, (size_t)N * C, 2e-2, 2e-2);
    close_f("layernorm_backward dw", gdw, rdw, C, 2e-2, 2e-2);
    close_f("layernorm_backward db", gdb, rdb, C, 2e-2, 2e-2);
    free(x); free(w); free(b); free(g); free(ry); free(rm); free(rr); free(rdx); free(rdw);
    free(rdb); free(gy); free(gdx); free(gdw); free(gdb);
    cuda_free(dx); cuda_free(dw); cuda_free(db); cuda_free(dy); cuda_free(dg); cuda_free(ddx);
    cuda_free(dmean); cuda_free(drstd); cuda_free(ddw); cuda_free(ddb);
}

static void test_gelu(size_t n, int tanh_form) {
    mama_bf16 *dx, *dg, *dy, *ddx;
    float *x = rand_bf16(n, 4.0f, &dx), *g = rand_bf16(n, 1.0f, &dg);
    CHECK(cuda_malloc((void **)&dy, n * 2) == MAMA_OK);
    CHECK(cuda_malloc((void **)&ddx, n * 2) == MAMA_OK);
    if (tanh_form) {
        CHECK(cuda_gelu_tanh_forward(dy, dx, n) == MAMA_OK);
        CHECK(cuda_gelu_tanh_backward(ddx, dg, dx, n) == MAMA_OK);
    } else {
        CHECK(cuda_gelu_forward(dy, dx, n) == MAMA_OK);
        CHECK(cuda_gelu_backward(ddx, dg, dx, n) == MAMA_OK);
    }
    float *ry = malloc(n * 4), *rdx = calloc(n, 4);
    if (tanh_form) {
        gelu_tanh_forward(ry, x, n);
        gelu_tanh_backward(rdx, g, x, n);
    } else {
        gelu_forward(ry, x, n);
        gelu_backward(rdx, g, x, n);
    }
    float *gy = download_bf16(dy, n), *gdx = download_bf16(ddx, n);
    close_f(tanh_form ? "gelu_tanh_forward" : "gelu_forward", gy, ry, n, 1e-2, 1.6e-2);
    close_f(tanh_form ? "gelu_tanh_backward" : "gelu_backward", gdx, rdx, n, 1e-2, 1.6e-2);
    free(x); free(g); free(ry); free(rdx); free(gy); free(gdx);
    cuda_free(dx); cuda_free(dg); cuda_free(dy); cuda_free(ddx);
}

static void test_residual(int N, int C) {
    mama_bf16 *da, *db, *ds, *dy;
    float *a = rand_bf16((size_t)N * C, 1.0f, &da), *b = rand_bf16((size_t)N * C, 1.0f, &db);
    float *s = rand_bf16(C, 1.0f, &ds);
    CHECK(cuda_malloc((void **)&dy, (size_t)N * C * 2) == MAMA_OK);
    CHECK(cuda_residual_scaled_forward(dy, da, db, ds, N, C) == MAMA_OK);
    float *ry = malloc((size_t)N * C * 4);
    residual_scaled_forward(ry, a, b, s, N, C);
    float *gy = download_bf16(dy, (size_t)N * C);
    close_f("residual_scaled_forward", gy, ry, (size_t)N * C, 1e-2, 1.6e-2);
    free(a); free(b); free(s); free(ry); free(gy);
    cuda_free(da); cuda_free(db); cuda_free(ds); cuda_free(dy);
}

/* softmax, cross-entropy (reference in double here) and l2norm, fp32 */
static void test_fp32_rows(int N, int C) {
    size_t n = (size_t)N * C;
    float *x = malloc(n * 4), *dx, *dl, *dloss, *dnorm, *dd;
    int *t = malloc(N * sizeof *t), *dt;
    for (size_t i = 0; i < n; i++) x[i] = 8.0f * frand();
    for (int i = 0; i < N; i++) t[i] = (i * 7) % C;
    CHECK(cuda_malloc((void **)&dx, n * 4) == MAMA_OK);
    CHECK(cuda_malloc((void **)&dl, n * 4) == MAMA_OK);
    CHECK(cuda_malloc((void **)&dloss, 4) == MAMA_OK);
    CHECK(cuda_malloc((void **)&dt, N * sizeof *t) == MAMA_OK);
    CHECK(cuda_upload(dx, x, n * 4) == MAMA_OK);
    CHECK(cuda_upload(dt, t, N * sizeof *t) == MAMA_OK);
    CHECK(cuda_cross_entropy_forward_backward(dloss, dl, dx, dt, N, C) == MAMA_OK);
    double loss = 0.0;
    float *rdl = malloc(n * 4);
    for (int r = 0; r < N; r++) {
        double m = -INFINITY, s = 0.0;
        for (int c = 0; c < C; c++) m = fmax(m, x[(size_t)r * C + c]);
        for (int c = 0; c < C; c++) s += exp(x[(size_t)r * C + c] - m);
        loss += m + log(s) - x[(size_t)r * C + t[r]];
        for (int c = 0; c < C; c++)
            rdl[(size_t)r * C + c] =
                (float)((exp(x[(size_t)r * C + c] - m) / s - (c == t[r])) / N);
    }
    float rloss = (float)(loss / N);
    float *gloss = download_f32(dloss, 1), *gdl = download_f32(dl, n);
    close_f("cross_entropy loss", gloss, &rloss, 1, 1e-5, 1e-4);
    close_f("cross_entropy dlogits", gdl, rdl, n, 1e-6, 1e-4);
    CHECK(cuda_softmax_rows(dx, N, C) == MAMA_OK);
    float *ry = malloc(n * 4);
    memcpy(ry, x, n * 4);
    softmax_rows(ry, N, C);
    float *gy = download_f32(dx, n);
    close_f("softmax_rows", gy, ry, n, 1e-6, 1e-4);
    /* l2norm on the raw logits */
    CHECK(cuda_upload(dx, x, n * 4) == MAMA_OK);
    CHECK(cuda_malloc((void **)&dnorm, N * 4) == MAMA_OK);
    CHECK(cuda_l2norm_rows(dx, dnorm, N, C) == MAMA_OK);
    float *rn = malloc(N * 4);
    memcpy(ry, x, n * 4);
    l2norm_rows(ry, rn, N, C);
    free(gy);
    gy = download_f32(dx, n);
    close_f("l2norm_rows", gy, ry, n, 1e-6, 1e-4);
    CHECK(cuda_malloc((void **)&dd, n * 4) == MAMA_OK);
    CHECK(cuda_memset0(dd, n * 4) == MAMA_OK);
    CHECK(cuda_upload(dl, x, n * 4) == MAMA_OK); /* upstream gradient: the logits again */
    CHECK(cuda_l2norm_rows_backward(dd, dl, dx, dnorm, N, C) == MAMA_OK);
    float *rdd = calloc(n, 4);
    l2norm_rows_backward(rdd, x, ry, rn, N, C);
    float *gdd = download_f32(dd, n);
    close_f("l2norm_rows_backward", gdd, rdd, n, 1e-5, 1e-4);
    free(x); free(t); free(rdl); free(gloss); free(gdl); free(ry); free(gy); free(rn);
    free(rdd); free(gdd);
    cuda_free(dx); cuda_free(dl); cuda_free(dloss); cuda_free(dt); cuda_free(dnorm);
    cuda_free(dd);
}

/* BatchNorm train and eval against a double reference with PyTorch's running-stat rule */
static void test_batchnorm(int N, int C) {
    size_t n = (size_t)N * C;
    float *x = malloc(n * 4), *w = malloc(C * 4), *b = malloc(C * 4);
    float *rm = malloc(C * 4), *rv = malloc(C * 4);
    for (size_t i = 0; i < n; i++) x[i] = 3.0f * frand() + 0.5f;
    for (int c = 0; c < C; c++) {
        w[c] = 1.0f + 0.5f * frand();
        b[c] = 0.2f * frand();
        rm[c] = 0.0f;
        rv[c] = 1.0f;
    }
    float *dx, *dy, *dw, *db, *drm, *drv;
    CHECK(cuda_malloc((void **)&dx, n * 4) == MAMA_OK);
    CHECK(cuda_malloc((void **)&dy, n * 4) == MAMA_OK);
    CHECK(cuda_malloc((void **)&dw, C * 4) == MAMA_OK);
    CHECK(cuda_malloc((void **)&db, C * 4) == MAMA_OK);
    CHECK(cuda_malloc((void **)&drm, C * 4) == MAMA_OK);
    CHECK(cuda_malloc((void **)&drv, C * 4) == MAMA_OK);
    CHECK(cuda_upload(dx, x, n * 4) == MAMA_OK);
    CHECK(cuda_upload(dw, w, C * 4) == MAMA_OK);
    CHECK(cuda_upload(db, b, C * 4) == MAMA_OK);
    CHECK(cuda_upload(drm, rm, C * 4) == MAMA_OK);
    CHECK(cuda_upload(drv, rv, C * 4) == MAMA_OK);
    CHECK(cuda_batchnorm_forward(dy, NULL, NULL, drm, drv, dx, dw, db, N, C, 1e-5f, 0.1f, 1) ==
          MAMA_OK);
    float *ry = malloc(n * 4), *rrm = malloc(C * 4), *rrv = malloc(C * 4);
    for (int c = 0; c < C; c++) {
        double m = 0, v = 0;
        for (int i = 0; i < N; i++) m += x[(size_t)i * C + c];
        m /= N;
        for (int i = 0; i < N; i++) v += pow(x[(size_t)i * C + c] - m, 2);
        double var = v / N, r = 1.0 / sqrt(var + 1e-5);
        for (int i = 0; i < N; i++)
            ry[(size_t)i * C + c] = (float)((x[(size_t)i * C + c] - m) * r * w[c] + b[c]);
        rrm[c] = (float)(0.9 * rm[c] + 0.1 * m);
        rrv[c] = (float)(0.9 * rv[c] + 0.1 * v / (N - 1));
    }
    float *gy = download_f32(dy, n), *grm = download_f32(drm, C), *grv = download_f32(drv, C);
    close_f("batchnorm train", gy, ry, n, 1e-5, 1e-4);
    close_f("batchnorm running_mean", grm, rrm, C, 1e-6, 1e-4);
    close_f("batchnorm running_var", grv, rrv, C, 1e-6, 1e-4);
    CHECK(cuda_batchnorm_forward(dy, NULL, NULL, drm, drv, dx, NULL, NULL, N, C, 1e-5f, 0.1f, 0) ==
          MAMA_OK);
    for (int c = 0; c < C; c++)
        for (int i = 0; i < N; i++)
            ry[(size_t)i * C + c] =
                (float)((x[(size_t)i * C + c] - rrm[c]) / sqrt((double)rrv[c] + 1e-5));
    free(gy);
    gy = download_f32(dy, n);
    close_f("batchnorm eval (no affine)", gy, ry, n, 1e-5, 1e-4);
    free(x); free(w); free(b); free(rm); free(rv); free(ry); free(rrm); free(rrv); free(gy);
    free(grm); free(grv);
    cuda_free(dx); cuda_free(dy); cuda_free(dw); cuda_free(db); cuda_free(drm); cuda_free(drv);
}

static void test_attention(int B, int T, int NH, int HS, int causal, int masked) {
    int C = NH * HS;
    size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C;
    mama_bf16 *dqkv, *dout;
    float *qkv = rand_bf16(nqkv, 1.0f, &dqkv), *mask = NULL, *dmask = NULL, *dlse;
    if (masked) {
        mask = malloc((size_t)B * T * 4);
        for (int i = 0; i < B * T; i++) mask[i] = (i % T) < T - 3 ? 1.0f : 0.0f;
        CHECK(cuda_malloc((void **)&dmask, (size_t)B * T * 4) == MAMA_OK);
        CHECK(cuda_upload(dmask, mask, (size_t)B * T * 4) == MAMA_OK);
    }
    CHECK(cuda_malloc((void **)&dout, nout * 2) == MAMA_OK);
    CHECK(cuda_malloc((void **)&dlse, (size_t)B * NH * T * 4) == MAMA_OK);
    float scale = 1.0f / sqrtf((float)HS);
    CHECK(cuda_attention_forward(dout, dlse, dqkv, dmask, B, T, C, NH, scale, causal) == MAMA_OK);
    float *rout = malloc(nout * 4), *rlse = malloc((size_t)B * NH * T * 4);
    CHECK(attention_forward(rout, rlse, qkv, mask, B, T, C, NH, scale, causal) == MAMA_OK);
    float *gout = download_bf16(dout, nout), *glse = download_f32(dlse, (size_t)B * NH * T);
    char what[96];
    snprintf(what, sizeof what, "attention B%d T%d NH%d HS%d causal %d mask %d", B, T, NH, HS,
             causal, masked);
    close_f(what, gout, rout, nout, 1e-2, 1.6e-2);
    close_f("attention lse", glse, rlse, (size_t)B * NH * T, 1e-4, 1e-4);
    free(qkv); free(mask); free(rout); free(rlse); free(gout); free(glse);
    cuda_free(dqkv); cuda_free(dmask); cuda_free(dout); cuda_free(dlse);
}

static void test_adamw(size_t n) {
    float *p = malloc(n * 4), *g = malloc(n * 4), *m = calloc(n, 4), *v = calloc(n, 4);
    for (size_t i = 0; i < n; i++) {
        p[i] = frand();
        g[i] = 0.1f * frand();
    }
    float *dp, *dg, *dm, *dv;
    mama_bf16 *dwork;
    CHECK(cuda_malloc((void **)&dp, n * 4) == MAMA_OK);
    CHECK(cuda_malloc((void **)&dg, n * 4) == MAMA_OK);
    CHECK(cuda_malloc((void **)&dm, n * 4) == MAMA_OK);
    CHECK(cuda_malloc((void **)&dv, n * 4) == MAMA_OK);
    CHECK(cuda_malloc((void **)&dwork, n * 2) == MAMA_OK);
    CHECK(cuda_upload(dp, p, n * 4) == MAMA_OK);
    CHECK(cuda_upload(dg, g, n * 4) == MAMA_OK);
    CHECK(cuda_memset0(dm, n * 4) == MAMA_OK);
    CHECK(cuda_memset0(dv, n * 4) == MAMA_OK);
    for (int t = 1; t <= 3; t++) {
        CHECK(cuda_adamw_update(dp, dwork, dg, dm, dv, n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f, t) ==
              MAMA_OK);
        for (size_t i = 0; i < n; i++) {  /* torch.optim.AdamW, in double */
            double mi = 0.9 * m[i] + 0.1 * g[i], vi = 0.999 * v[i] + 0.001 * (double)g[i] * g[i];
            m[i] = (float)mi;
            v[i] = (float)vi;
            double q = p[i] * (1.0 - 1e-3 * 0.1);
            q -= 1e-3 * (mi / (1 - pow(0.9, t))) / (sqrt(vi / (1 - pow(0.999, t))) + 1e-8);
            p[i] = (float)q;
        }
    }
    float *gp = download_f32(dp, n), *gw = download_bf16(dwork, n);
    close_f("adamw master", gp, p, n, 1e-6, 1e-5);
    close_f("adamw bf16 working copy", gw, p, n, 1e-3, 8e-3);
    free(p); free(g); free(m); free(v); free(gp); free(gw);
    cuda_free(dp); cuda_free(dg); cuda_free(dm); cuda_free(dv); cuda_free(dwork);
}

int main(void) {
    int n = cuda_device_count();
    if (n == 0) {
        printf("SKIP: no CUDA device visible (no driver or GPU on this machine); the cuda "
               "suite runs on the GPU machine (bench/gpu_check.sh)\n");
        return 77;
    }
    cuda_device_info info;
    if (cuda_device_open(0, &info) != MAMA_OK) {
        fprintf(stderr, "cuda_device_open: %s\n", mama_last_error());
        return 1;
    }
    printf("device 0: %s, sm_%d%d, %d SMs, %.1f GiB\n", info.name, info.sm_major,
           info.sm_minor, info.multiprocessors, info.total_mem / 1073741824.0);
    /* ViT-B/14 at 518: 1374 tokens x 768; MLP 768 -> 3072; ViT-S: 384; GPT-2 head 128 */
    test_linear(1374, 768, 2304, 0);
    test_linear(1374, 768, 3072, 2);
    test_linear(144, 640, 2560, 1);
    test_layernorm(1374, 768);
    test_layernorm(144, 2560);
    test_gelu(1374 * 3072, 0);
    test_gelu(144 * 2560, 1);
    test_residual(1374, 768);
    test_fp32_rows(36, 36);
    test_fp32_rows(72, 288);
    test_batchnorm(2 * 1369, 512);
    test_batchnorm(36, 768);
    test_attention(1, 1374, 12, 64, 0, 0);
    test_attention(2, 257, 6, 64, 0, 0);
    test_attention(2, 144, 4, 128, 1, 1);
    test_adamw(100003);
    if (cuda_sync() != MAMA_OK) fprintf(stderr, "cuda_sync: %s\n", mama_last_error()), check_failures++;
    cuda_device_close();
    return check_done("cuda_ops");
}
