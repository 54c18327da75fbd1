/* test_ops.c: every dense op of ops.h against a naive double-precision reference with odd
 * shapes, and every backward against both an analytic double reference and central finite
 * differences. Backward accumulation (+=) is checked by pre-filling gradient buffers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/gemm.h"
#include "engine/ops/ops.h"
#include "engine/core/parallel.h"
#include "tests/check.h"
#include "tests/engine/fd.h"

static unsigned long long rng = 12345;

static float *frand(size_t n, float amp) {
    float *x = malloc(n * sizeof *x + 1);
    test_fill(x, n, &rng, amp);
    return x;
}
static double *dalloc(size_t n) { return calloc(n + 1, sizeof(double)); }
static float *fzero(size_t n) { return calloc(n + 1, sizeof(float)); }

/* got - pre (the accumulated part) vs ref */
static void check_accum(const char *what, const float *got, const float *pre, const double *ref,
                        size_t n, double atol, double rtol) {
    float *diff = malloc(n * sizeof *diff + 1);
    for (size_t i = 0; i < n; i++) diff[i] = got[i] - pre[i];
    check_close(what, diff, ref, n, atol, rtol);
    free(diff);
}

/* ------------------------------------------------------------ linear and linear_in_out */

typedef struct lin_ctx {
    int conv, N, C, OC;
    float *inp, *w, *b, *out, *r;
} lin_ctx;

static double lin_loss(void *p) {
    lin_ctx *c = p;
    if (c->conv) linear_in_out_forward(c->out, c->inp, c->w, c->b, c->N, c->C, c->OC);
    else linear_forward(c->out, c->inp, c->w, c->b, c->N, c->C, c->OC);
    return fd_dot(c->out, c->r, (size_t)c->N * c->OC);
}

static void test_linear(int conv, int N, int C, int OC, int with_bias, int fd) {
    char what[128];
    const char *nm = conv ? "linear_in_out" : "linear";
    size_t nin = (size_t)N * C, nw = (size_t)C * OC, nout = (size_t)N * OC;
    lin_ctx c = {conv, N, C, OC, frand(nin, 1), frand(nw, 1), with_bias ? frand(OC, 1) : NULL,
                 fzero(nout), frand(nout, 1)};
    /* forward against double */
    double *ref = dalloc(nout);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = c.b ? c.b[o] : 0.0;
            for (int i = 0; i < C; i++) {
                double wv = conv ? c.w[(size_t)i * OC + o] : c.w[(size_t)o * C + i];
                s += (double)c.inp[(size_t)n * C + i] * wv;
            }
            ref[(size_t)n * OC + o] = s;
        }
    lin_loss(&c);
    snprintf(what, sizeof what, "%s forward N=%d C=%d OC=%d bias=%d", nm, N, C, OC, with_bias);
    /* fp32 sums of K terms of size ~1: rounding grows like sqrt(K) */
    check_close(what, c.out, ref, nout, 3e-6 * sqrt(C), 1e-5);

    /* backward: analytic double reference, accumulation on top of random pre-fill */
    float *dinp = frand(nin, 1), *dw = frand(nw, 1), *db = frand(OC, 1);
    float *dinp0 = malloc(nin * 4 + 1), *dw0 = malloc(nw * 4 + 1), *db0 = malloc(OC * 4 + 1);
    memcpy(dinp0, dinp, nin * 4);
    memcpy(dw0, dw, nw * 4);
    memcpy(db0, db, OC * 4);
    if (conv) linear_in_out_backward(dinp, dw, with_bias ? db : NULL, c.r, c.inp, c.w, N, C, OC);
    else linear_backward(dinp, dw, with_bias ? db : NULL, c.r, c.inp, c.w, N, C, OC);
    double *rdinp = dalloc(nin), *rdw = dalloc(nw), *rdb = dalloc(OC);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double g = c.r[(size_t)n * OC + o];
            rdb[o] += g;
            for (int i = 0; i < C; i++) {
                size_t wi = conv ? (size_t)i * OC + o : (size_t)o * C + i;
                rdinp[(size_t)n * C + i] += g * c.w[wi];
                rdw[wi] += g * c.inp[(size_t)n * C + i];
            }
        }
    snprintf(what, sizeof what, "%s dinp N=%d C=%d OC=%d", nm, N, C, OC);
    check_accum(what, dinp, dinp0, rdinp, nin, 3e-6 * sqrt(OC), 1e-5);
    snprintf(what, sizeof what, "%s dw N=%d C=%d OC=%d", nm, N, C, OC);
    check_accum(what, dw, dw0, rdw, nw, 3e-6 * sqrt(N), 1e-5);
    if (with_bias) {
        snprintf(what, sizeof what, "%s db N=%d C=%d OC=%d", nm, N, C, OC);
        check_accum(what, db, db0, rdb, OC, 1e-5, 1e-5);
    } else {
        CHECK(memcmp(db, db0, OC * 4) == 0);
    }
    /* finite differences on inp and w */
    double *g = dalloc(nin > nw ? nin : nw);
    if (fd) {
        fd_grad(g, c.inp, nin, lin_loss, &c, 1e-2f);
        snprintf(what, sizeof what, "%s dinp vs FD", nm);
        check_accum(what, dinp, dinp0, g, nin, 2e-3, 2e-3);
        fd_grad(g, c.w, nw, lin_loss, &c, 1e-2f);
        snprintf(what, sizeof what, "%s dw vs FD", nm);
        check_accum(what, dw, dw0, g, nw, 2e-3, 2e-3);
    }
    /* NULL outputs are skipped */
    if (conv) linear_in_out_backward(NULL, NULL, NULL, c.r, c.inp, c.w, N, C, OC);
    else linear_backward(NULL, NULL, NULL, c.r, c.inp, c.w, N, C, OC);

    free(c.inp); free(c.w); free(c.b); free(c.out); free(c.r); free(ref);
    free(dinp); free(dw); free(db); free(dinp0); free(dw0); free(db0);
    free(rdinp); free(rdw); free(rdb); free(g);
}

/* ------------------------------------------------------------ gemm_forward */

/* all transpose combinations, alpha/beta, leading dimensions larger than the rows */
static void test_gemm(int M, int N, int K) {
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 5;
            size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb;
            size_t nc = (size_t)M * ldc;
            float *A = frand(na, 1), *Bm = frand(nb, 1), *Cm = frand(nc, 1);
            double *ref = dalloc(nc);
            float alpha = 0.75f, beta = ta == tb ? 0.5f : 0.0f;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < ldc; j++) {
                    size_t ci = (size_t)i * ldc + j;
                    if (j >= N) { /* padding columns must stay untouched */
                        ref[ci] = Cm[ci];
                        continue;
                    }
                    double acc = 0;
                    for (int k = 0; k < K; k++) {
                        double a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                        double b = tb ? Bm[(size_t)j * ldb + k] : Bm[(size_t)k * ldb + j];
                        acc += a * b;
                    }
                    ref[ci] = alpha * acc + (beta == 0.0f ? 0.0 : (double)beta * Cm[ci]);
                }
            gemm_forward(ta, tb, M, N, K, alpha, A, lda, Bm, ldb, beta, Cm, ldc);
            char what[96];
            snprintf(what, sizeof what, "gemm ta=%d tb=%d M=%d N=%d K=%d", ta, tb, M, N, K);
            check_close(what, Cm, ref, nc, 3e-6 * sqrt(K + 1), 1e-5);
            free(A); free(Bm); free(Cm); free(ref);
        }
}

/* ------------------------------------------------------------ layernorm */

typedef struct ln_ctx {
    int N, C;
    float *inp, *w, *b, *out, *r;
} ln_ctx;

static double ln_loss(void *p) {
    ln_ctx *c = p;
    layernorm_forward(c->out, NULL, NULL, c->inp, c->w, c->b, c->N, c->C, 1e-5f);
    return fd_dot(c->out, c->r, (size_t)c->N * c->C);
}

static void test_layernorm(int N, int C, float offset) {
    char what[128];
    size_t n = (size_t)N * C;
    ln_ctx c = {N, C, frand(n, 2), frand(C, 1), frand(C, 1), fzero(n), frand(n, 1)};
    for (size_t i = 0; i < n; i++) c.inp[i] += offset;
    float *mean = fzero(N), *rstd = fzero(N);
    layernorm_forward(c.out, mean, rstd, c.inp, c.w, c.b, N, C, 1e-5f);
    double *ref = dalloc(n), *rm = dalloc(N), *rr = dalloc(N);
    for (int r = 0; r < N; r++) {
        double m = 0, v = 0;
        for (int i = 0; i < C; i++) m += c.inp[(size_t)r * C + i];
        m /= C;
        for (int i = 0; i < C; i++) v += pow(c.inp[(size_t)r * C + i] - m, 2);
        v /= C;
        rm[r] = m;
        rr[r] = 1.0 / sqrt(v + 1e-5);
        for (int i = 0; i < C; i++)
            ref[(size_t)r * C + i] = (c.inp[(size_t)r * C + i] - m) * rr[r] * c.w[i] + c.b[i];
    }
    snprintf(what, sizeof what, "layernorm forward N=%d C=%d offset=%g", N, C, offset);
    check_close(what, c.out, ref, n, 1e-5, 1e-4);
    check_close("layernorm mean", mean, rm, N, 1e-5, 1e-6);
    check_close("layernorm rstd", rstd, rr, N, 1e-6, 1e-5);

    float *dinp = frand(n, 1), *dw = frand(C, 1), *db = frand(C, 1);
    float *dinp0 = malloc(n * 4 + 1), *dw0 = malloc(C * 4 + 1), *db0 = malloc(C * 4 + 1);
    memcpy(dinp0, dinp, n * 4);
    memcpy(dw0, dw, C * 4);
    memcpy(db0, db, C * 4);
    layernorm_backward(dinp, dw, db, c.r, c.inp, c.w, mean, rstd, N, C);
    double *g = dalloc(n > (size_t)C ? n : (size_t)C);
    float h = offset != 0.0f ? 3e-2f : 1e-2f;
    fd_grad(g, c.inp, n, ln_loss, &c, h);
    snprintf(what, sizeof what, "layernorm dinp vs FD N=%d C=%d", N, C);
    check_accum(what, dinp, dinp0, g, n, 5e-3, 1e-2);
    fd_grad(g, c.w, C, ln_loss, &c, 1e-2f);
    check_accum("layernorm dw vs FD", dw, dw0, g, C, 2e-3, 2e-3);
    fd_grad(g, c.b, C, ln_loss, &c, 1e-2f);
    check_accum("layernorm db vs FD", db, db0, g, C, 2e-3, 2e-3);
    free(c.inp); free(c.w); free(c.b); free(c.out); free(c.r); free(mean); free(rstd);
    free(ref); free(rm); free(rr); free(dinp); free(dw); free(db); free(dinp0); free(dw0);
    free(db0); free(g);
}

/* ------------------------------------------------------------ gelu */

typedef struct ew_ctx {
    int kind; /* 0 gelu, 1 gelu_tanh */
    size_t n;
    float *inp, *out, *r;
} ew_ctx;

static double ew_loss(void *p) {
    ew_ctx *c = p;
    if (c->kind == 0) gelu_forward(c->out, c->inp, c->n);
    else gelu_tanh_forward(c->out, c->inp, c->n);
    return fd_dot(c->out, c->r, c->n);
}

static void test_gelu(void) {
    /* reference values from the definitions (double precision, Python math) */
    static const float xs[] = {-3, -1, -0.5f, 0, 0.5f, 1, 2, 3};
    static const double exact[] = {-0.00404969409489031, -0.15865525393145707,
                                   -0.15426876936299344, 0.0, 0.34573123063700656,
                                   0.8413447460685429, 1.9544997361036416, 2.99595030590511};
    static const double approx[] = {-0.0036373920817729943, -0.15880800939172324,
                                    -0.15428599017485606, 0.0, 0.34571400982514394,
                                    0.8411919906082768, 1.954597694087775, 2.996362607918227};
    float out[8];
    gelu_forward(out, xs, 8);
    check_close("gelu known values", out, exact, 8, 1e-6, 1e-6);
    gelu_tanh_forward(out, xs, 8);
    check_close("gelu_tanh known values", out, approx, 8, 1e-6, 1e-6);

    for (int kind = 0; kind < 2; kind++) {
        size_t n = 37;
        ew_ctx c = {kind, n, frand(n, 4), fzero(n), frand(n, 1)};
        double *ref = dalloc(n);
        for (size_t i = 0; i < n; i++) {
            double x = c.inp[i];
            ref[i] = kind == 0 ? 0.5 * x * (1 + erf(x / sqrt(2.0)))
                               : 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
        }
        ew_loss(&c);
        check_close(kind ? "gelu_tanh forward" : "gelu forward", c.out, ref, n, 1e-6, 1e-6);
        float *d = frand(n, 1), *d0 = malloc(n * 4);
        memcpy(d0, d, n * 4);
        if (kind == 0) gelu_backward(d, c.r, c.inp, n);
        else gelu_tanh_backward(d, c.r, c.inp, n);
        double *g = dalloc(n);
        fd_grad(g, c.inp, n, ew_loss, &c, 1e-2f);
        check_accum(kind ? "gelu_tanh backward vs FD" : "gelu backward vs FD", d, d0, g, n, 1e-3,
                    1e-3);
        free(c.inp); free(c.out); free(c.r); free(ref); free(d); free(d0); free(g);
    }
}

/* ------------------------------------------------------------ residual */

typedef struct res_ctx {
    int N, C;
    float *a, *b, *s, *out, *r;
} res_ctx;

static double res_loss(void *p) {
    res_ctx *c = p;
    residual_scaled_forward(c->out, c->a, c->b, c->s, c->N, c->C);
    return fd_dot(c->out, c->r, (size_t)c->N * c->C);
}

static void test_residual(int N, int C) {
    size_t n = (size_t)N * C;
    float *a = frand(n, 1), *b = frand(n, 1), *s = frand(C, 1), *out = fzero(n);
    double *ref = dalloc(n), *ref1 = dalloc(n);
    for (size_t i = 0; i < n; i++) {
        ref[i] = (double)a[i] + (double)s[i % C] * b[i];
        ref1[i] = (double)a[i] + b[i];
    }
    residual_scaled_forward(out, a, b, s, N, C);
    check_close("residual scaled", out, ref, n, 1e-6, 1e-6);
    residual_scaled_forward(out, a, b, NULL, N, C);
    check_close("residual unscaled", out, ref1, n, 1e-6, 1e-6);
    /* backward: exact (linear op) */
    float *r = frand(n, 1), *da = fzero(n), *db = fzero(n), *ds = fzero(C);
    residual_scaled_backward(da, db, ds, r, b, s, N, C);
    double *rda = dalloc(n), *rdb = dalloc(n), *rds = dalloc(C);
    for (size_t i = 0; i < n; i++) {
        rda[i] = r[i];
        rdb[i] = (double)r[i] * s[i % C];
        rds[i % C] += (double)r[i] * b[i];
    }
    check_close("residual da", da, rda, n, 1e-6, 1e-6);
    check_close("residual db", db, rdb, n, 1e-6, 1e-6);
    check_close("residual dscale", ds, rds, C, 1e-5, 1e-5);
    /* and against finite differences */
    res_ctx c = {N, C, a, b, s, out, r};
    double *g = dalloc(n);
    fd_grad(g, a, n, res_loss, &c, 1e-2f);
    check_close("residual da vs FD", da, g, n, 1e-3, 1e-3);
    fd_grad(g, b, n, res_loss, &c, 1e-2f);
    check_close("residual db vs FD", db, g, n, 1e-3, 1e-3);
    fd_grad(g, s, C, res_loss, &c, 1e-2f);
    check_close("residual dscale vs FD", ds, g, C, 1e-3, 1e-3);
    free(g);
    free(a); free(b); free(s); free(out); free(ref); free(ref1); free(r); free(da); free(db);
    free(ds); free(rda); free(rdb); free(rds);
}

/* ------------------------------------------------------------ softmax, l2norm */

typedef struct row_ctx {
    int kind; /* 0 softmax, 1 l2norm */
    int N, C;
    float *inp, *y, *r, *norms;
} row_ctx;

static double row_loss(void *p) {
    row_ctx *c = p;
    memcpy(c->y, c->inp, (size_t)c->N * c->C * sizeof(float));
    if (c->kind == 0) softmax_rows(c->y, c->N, c->C);
    else l2norm_rows(c->y, c->norms, c->N, c->C);
    return fd_dot(c->y, c->r, (size_t)c->N * c->C);
}

static void test_rows(int kind, int N, int C) {
    size_t n = (size_t)N * C;
    row_ctx c = {kind, N, C, frand(n, 3), fzero(n), frand(n, 1), fzero(N)};
    row_loss(&c);
    double *ref = dalloc(n), *rn = dalloc(N);
    for (int r = 0; r < N; r++) {
        const float *x = c.inp + (size_t)r * C;
        double m = -INFINITY, s = 0;
        for (int i = 0; i < C; i++) m = fmax(m, x[i]);
        for (int i = 0; i < C; i++) s += kind == 0 ? exp(x[i] - m) : (double)x[i] * x[i];
        rn[r] = sqrt(s);
        for (int i = 0; i < C; i++)
            ref[(size_t)r * C + i] = kind == 0 ? exp(x[i] - m) / s : x[i] / sqrt(s);
    }
    check_close(kind ? "l2norm forward" : "softmax forward", c.y, ref, n, 1e-6, 1e-5);
    if (kind) check_close("l2norm norms", c.norms, rn, N, 1e-6, 1e-6);
    float *y = malloc(n * 4), *d = frand(n, 1), *d0 = malloc(n * 4);
    memcpy(y, c.y, n * 4);
    memcpy(d0, d, n * 4);
    float *norms = malloc(N * 4 + 1);
    memcpy(norms, c.norms, N * 4);
    if (kind == 0) softmax_rows_backward(d, c.r, y, N, C);
    else l2norm_rows_backward(d, c.r, y, norms, N, C);
    double *g = dalloc(n);
    fd_grad(g, c.inp, n, row_loss, &c, 1e-2f);
    check_accum(kind ? "l2norm backward vs FD" : "softmax backward vs FD", d, d0, g, n, 2e-3,
                5e-3);
    /* all -inf softmax row is uniform, not NaN */
    if (kind == 0) {
        float row[3] = {-INFINITY, -INFINITY, -INFINITY};
        softmax_rows(row, 1, 3);
        CHECK(fabsf(row[0] - 1.0f / 3) < 1e-7f && fabsf(row[2] - 1.0f / 3) < 1e-7f);
    } else {
        float row[3] = {0, 0, 0}, nr;
        l2norm_rows(row, &nr, 1, 3);
        CHECK(row[0] == 0.0f && nr == 0.0f);
    }
    free(c.inp); free(c.y); free(c.r); free(c.norms); free(ref); free(rn); free(y); free(d);
    free(d0); free(norms); free(g);
}

int main(void) {
    static const int shapes[][3] = {{7, 13, 5}, {1, 1, 1}, {3, 64, 17}, {33, 9, 70}};
    for (int conv = 0; conv < 2; conv++)
        for (int s = 0; s < 4; s++)
            for (int bias = 0; bias < 2; bias++)
                test_linear(conv, shapes[s][0], shapes[s][1], shapes[s][2], bias, 1);
    /* large enough for the threaded panel split: by columns (OC), by rows (N), uneven
       panels with 3 threads, and one thread */
    static const int big[][3] = {{130, 67, 200}, {300, 200, 20}, {257, 96, 520}};
    for (int threads = 3; threads >= 1; threads -= 2) {
        mama_set_threads(threads);
        for (int conv = 0; conv < 2; conv++)
            for (int s = 0; s < 3; s++) test_linear(conv, big[s][0], big[s][1], big[s][2], 1, 0);
    }
    mama_set_threads(3);
    test_gemm(7, 13, 5);
    test_gemm(1, 1, 1);
    test_gemm(130, 200, 67);  /* column panels, 3 threads */
    test_gemm(300, 20, 200);  /* row panels */
    test_gemm(5, 9, 0);       /* empty inner dimension: C = beta C */
    mama_set_threads(0);
    test_layernorm(7, 13, 0.0f);
    test_layernorm(3, 1, 0.0f);
    test_layernorm(5, 67, 0.0f);
    test_layernorm(4, 19, 100.0f); /* large mean: catches one-pass variance */
    test_gelu();
    test_residual(7, 13);
    test_residual(1, 1);
    test_rows(0, 7, 13);
    test_rows(0, 1, 1);
    test_rows(1, 7, 13);
    test_rows(1, 3, 2);
    return check_done("test_ops");
}
