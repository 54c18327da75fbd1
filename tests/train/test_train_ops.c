/* test_train_ops.c: the training ops' backward against central finite differences of
 * naive DOUBLE references written here (dfd.h), per element, for every input and
 * parameter: BatchNorm (train; eval and the running statistics against the formulas),
 * the three head shapes, L_VT, NT-Xent, SLA; plus exact-GELU's derivative against its
 * closed form and the position resize's backward as the adjoint of its forward.
 * Tolerances: |got - ref| <= 1e-5 + 1e-4 |ref| unless a check says otherwise (fp32 engine
 * vs a double oracle; wrong formulas are off by >= 1e-2). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/batchnorm.h"
#include "engine/ops/ops.h"
#include "engine/ops/pos_embed.h"
#include "engine/train/head.h"
#include "engine/train/loss.h"
#include "tests/check.h"
#include "tests/train/dfd.h"

static const double ATOL = 1e-5, RTOL = 1e-4, H = 1e-5;
static unsigned long long seed = 12345;

static float *frand(size_t n, float amp) {
    float *x = malloc(n * sizeof *x);
    test_fill(x, n, &seed, amp);
    return x;
}
static double *dalloc(size_t n) { return calloc(n, sizeof(double)); }
static float *fzero(size_t n) { return calloc(n, sizeof(float)); }

/* ------------------------------------------------------------------ GELU (exact) */
/* d/dx x Phi(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi). A truncated
 * 1/sqrt(2 pi) (0.3989) is off by 2.6e-5 at x = 1: outside atol 1e-6 + rtol 1e-6. */
static void test_gelu_derivative(void) {
    int n = 1201;
    float *x = malloc(n * sizeof *x), *one = malloc(n * sizeof *one), *d = fzero(n);
    double *ref = dalloc(n);
    for (int i = 0; i < n; i++) {
        x[i] = -6.0f + 0.01f * i;
        one[i] = 1.0f;
        double xd = x[i];
        ref[i] = 0.5 * (1 + erf(xd / sqrt(2.0))) + xd * exp(-0.5 * xd * xd) / sqrt(2 * M_PI);
    }
    gelu_backward(d, one, x, (size_t)n);
    check_close("gelu' closed form", d, ref, (size_t)n, 1e-6, 1e-6);
    /* tanh form: 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) u', u = k0 (x + k1 x^3) */
    memset(d, 0, n * sizeof *d);
    for (int i = 0; i < n; i++) {
        double xd = x[i], k0 = sqrt(2 / M_PI), u = k0 * (xd + 0.044715 * xd * xd * xd);
        double t = tanh(u);
        ref[i] = 0.5 * (1 + t) + 0.5 * xd * (1 - t * t) * k0 * (1 + 3 * 0.044715 * xd * xd);
    }
    gelu_tanh_backward(d, one, x, (size_t)n);
    check_close("gelu_tanh' closed form", d, ref, (size_t)n, 1e-5, 1e-6);  /* tail: vtanh */
    free(x); free(one); free(d); free(ref);
}

/* ------------------------------------------------------------------ BatchNorm */
typedef struct bn_ctx { int N, C, affine; const float *r; } bn_ctx;

/* naive double BatchNorm (biased variance) of x (N,C) with w, b; out may be NULL */
static void bn_ref(double *out, const double *x, const double *w, const double *b, int N, int C,
                   double eps) {
    for (int c = 0; c < C; c++) {
        double m = 0, v = 0;
        for (int n = 0; n < N; n++) m += x[n * C + c];
        m /= N;
        for (int n = 0; n < N; n++) v += (x[n * C + c] - m) * (x[n * C + c] - m);
        v /= N;
        for (int n = 0; n < N; n++)
            out[n * C + c] = (x[n * C + c] - m) / sqrt(v + eps) * (w ? w[c] : 1) + (b ? b[c] : 0);
    }
}

static double bn_loss(const double *p, void *vctx) {
    bn_ctx *c = vctx;
    int N = c->N, C = c->C;
    double *out = dalloc((size_t)N * C), s = 0;
    bn_ref(out, p, c->affine ? p + N * C : NULL, c->affine ? p + N * C + C : NULL, N, C,
           BATCHNORM_EPS);
    for (int i = 0; i < N * C; i++) s += out[i] * c->r[i];
    free(out);
    return s;
}

static void test_batchnorm(void) {
    for (int affine = 0; affine < 2; affine++) {
        int N = 7, C = 5;
        float *x = frand((size_t)N * C, 2.0f), *w = frand(C, 1.0f), *b = frand(C, 1.0f);
        for (int i = 0; i < N * C; i++) x[i] += 0.5f * (float)(i % C);  /* column means */
        float *r = frand((size_t)N * C, 1.0f), *out = fzero((size_t)N * C);
        float mean[5], rstd[5], rm[5], rv[5], rm0[5], rv0[5];
        for (int c = 0; c < C; c++) { rm[c] = rm0[c] = 0.3f * c; rv[c] = rv0[c] = 1.0f + 0.2f * c; }
        CHECK(batchnorm_forward_train(out, mean, rstd, rm, rv, x, affine ? w : NULL,
                                      affine ? b : NULL, N, C, BATCHNORM_EPS,
                                      BATCHNORM_MOMENTUM) == MAMA_OK);
        /* forward and the running statistics (PyTorch: momentum 0.1, unbiased variance) */
        size_t np = (size_t)N * C + 2 * C;
        double *p = dalloc(np), *ref = dalloc(np), *ro = dalloc((size_t)N * C);
        dfd_widen(p, x, (size_t)N * C);
        dfd_widen(p + N * C, w, C);
        dfd_widen(p + N * C + C, b, C);
        bn_ref(ro, p, affine ? p + N * C : NULL, affine ? p + N * C + C : NULL, N, C,
               BATCHNORM_EPS);
        check_close("batchnorm train forward", out, ro, (size_t)N * C, 1e-6, 1e-5);
        double erm[5], erv[5];
        for (int c = 0; c < C; c++) {
            double m = 0, v = 0;
            for (int n = 0; n < N; n++) m += p[n * C + c];
            m /= N;
            for (int n = 0; n < N; n++) v += (p[n * C + c] - m) * (p[n * C + c] - m);
            erm[c] = 0.9 * rm0[c] + 0.1 * m;
            erv[c] = 0.9 * rv0[c] + 0.1 * v / (N - 1);
        }
        check_close("batchnorm running mean", rm, erm, C, 1e-7, 1e-6);
        check_close("batchnorm running var (unbiased)", rv, erv, C, 1e-7, 1e-6);
        /* eval: the running statistics */
        batchnorm_forward_eval(out, x, rm, rv, affine ? w : NULL, affine ? b : NULL, N, C,
                               BATCHNORM_EPS);
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++)
                ro[n * C + c] = (p[n * C + c] - rm[c]) / sqrt((double)rv[c] + BATCHNORM_EPS)
                              * (affine ? w[c] : 1) + (affine ? b[c] : 0);
        check_close("batchnorm eval forward", out, ro, (size_t)N * C, 1e-6, 1e-5);
        /* backward vs FD of the double reference */
        float *dx = fzero((size_t)N * C), dw[5] = {0}, db[5] = {0};
        batchnorm_backward(dx, affine ? dw : NULL, affine ? db : NULL, r, x, affine ? w : NULL,
                           mean, rstd, N, C);
        bn_ctx ctx = {N, C, affine, r};
        dfd_grad(ref, p, np, bn_loss, &ctx, H);
        check_close("batchnorm dx", dx, ref, (size_t)N * C, ATOL, RTOL);
        if (affine) {
            check_close("batchnorm dw", dw, ref + N * C, C, ATOL, RTOL);
            check_close("batchnorm db", db, ref + N * C + C, C, ATOL, RTOL);
        }
        /* one row per feature: refused, as PyTorch does */
        CHECK(batchnorm_forward_train(out, mean, rstd, NULL, NULL, x, NULL, NULL, 1, C,
                                      BATCHNORM_EPS, BATCHNORM_MOMENTUM) == MAMA_EINVAL);
        free(x); free(w); free(b); free(r); free(out); free(p); free(ref); free(ro); free(dx);
    }
}

/* ------------------------------------------------------------------ heads */
typedef struct head_ctx { const head *h; int N; const float *r; } head_ctx;

static void lin_ref(double *y, const double *x, const double *w, const double *b, int N, int I,
                    int O) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double s = b ? b[o] : 0;
            for (int i = 0; i < I; i++) s += x[n * I + i] * w[o * I + i];
            y[n * O + o] = s;
        }
}

/* p = [inp (N,I), then every entry of the head's table in order] */
static const double *entry(const head *h, const double *p, int N, const char *name) {
    int e = ptable_find(&h->ptab, name);
    if (e < 0 || h->ptab.e[e].numel == 0) return NULL;
    size_t off = (size_t)N * h->cfg.in;
    for (int k = 0; k < e; k++) off += h->ptab.e[k].numel;
    return p + off;
}

static double head_loss(const double *p, void *vctx) {
    head_ctx *c = vctx;
    const head *h = c->h;
    int N = c->N, I = h->cfg.in, Hd = h->cfg.hidden, O = h->cfg.out;
    double *h1 = dalloc((size_t)N * (Hd ? Hd : O)), *out = dalloc((size_t)N * O), s = 0;
    lin_ref(h1, p, entry(h, p, N, "w1"), entry(h, p, N, "b1"), N, I, Hd ? Hd : O);
    if (!Hd) {
        memcpy(out, h1, (size_t)N * O * sizeof(double));
    } else {
        double *a = dalloc((size_t)N * Hd), *h2 = dalloc((size_t)N * O);
        bn_ref(a, h1, entry(h, p, N, "bn1w"), entry(h, p, N, "bn1b"), N, Hd, BATCHNORM_EPS);
        for (int i = 0; i < N * Hd; i++) a[i] = a[i] > 0 ? a[i] : 0;
        lin_ref(h2, a, entry(h, p, N, "w2"), entry(h, p, N, "b2"), N, Hd, O);
        bn_ref(out, h2, entry(h, p, N, "bn2w"), entry(h, p, N, "bn2b"), N, O, BATCHNORM_EPS);
        free(a); free(h2);
    }
    for (int i = 0; i < N * O; i++) s += out[i] * c->r[i];
    free(h1); free(out);
    return s;
}

static void test_head(const char *what, head_config cfg) {
    head *h = NULL;
    CHECK(head_create(&cfg, &h) == MAMA_OK);
    if (!h) return;
    head_init_random(h, 7);
    /* BatchNorm affine away from (1, 0) so that its gradients matter */
    const char *bn[] = {"bn1w", "bn1b", "bn2w", "bn2b"};
    for (int k = 0; k < 4; k++) {
        int e = ptable_find(&h->ptab, bn[k]);
        float *q = ptable_ptr(&h->ptab, h->params_memory, e);
        for (size_t i = 0; q && i < h->ptab.e[e].numel; i++) q[i] += 0.5f * test_rand(&seed);
    }
    int N = 9, I = cfg.in, O = cfg.out;
    float *x = frand((size_t)N * I, 1.5f), *r = frand((size_t)N * O, 1.0f);
    float *dx = fzero((size_t)N * I);
    CHECK(head_forward(h, x, N, 1) == MAMA_OK);
    head_zero_grad(h);
    CHECK(head_backward(h, dx, x, r) == MAMA_OK);
    size_t np = (size_t)N * I + h->ptab.numel;
    double *p = dalloc(np), *ref = dalloc(np);
    dfd_widen(p, x, (size_t)N * I);
    size_t off = (size_t)N * I;
    for (int e = 0; e < h->ptab.n; e++) {
        size_t n = h->ptab.e[e].numel;
        if (n) dfd_widen(p + off, ptable_ptr(&h->ptab, h->params_memory, e), n);
        off += n;
    }
    head_ctx ctx = {h, N, r};
    double *o = dalloc((size_t)N * O);
    (void)o;
    dfd_grad(ref, p, np, head_loss, &ctx, H);
    char name[96];
    snprintf(name, sizeof name, "%s dinp", what);
    check_close(name, dx, ref, (size_t)N * I, ATOL, RTOL);
    off = (size_t)N * I;
    for (int e = 0; e < h->ptab.n; e++) {
        size_t n = h->ptab.e[e].numel;
        if (!n) continue;
        snprintf(name, sizeof name, "%s d%s", what, h->ptab.e[e].name);
        check_close(name, ptable_ptr(&h->ptab, h->grads_memory, e), ref + off, n, ATOL, RTOL);
        off += n;
    }
    /* eval mode: no backward */
    CHECK(head_forward(h, x, N, 0) == MAMA_OK);
    if (cfg.hidden) CHECK(head_backward(h, dx, x, r) == MAMA_EINVAL);
    free(x); free(r); free(dx); free(p); free(ref); free(o);
    head_free(h);
}

/* ------------------------------------------------------------------ losses */
static double ce_ref(const double *X, int n, int trans, double s) {
    double l = 0;
    for (int r = 0; r < n; r++) {
        double m = -INFINITY, sum = 0;
        for (int c = 0; c < n; c++) {
            double z = s * (trans ? X[c * n + r] : X[r * n + c]);
            m = z > m ? z : m;
        }
        for (int c = 0; c < n; c++) sum += exp(s * (trans ? X[c * n + r] : X[r * n + c]) - m);
        l += m + log(sum) - s * X[r * n + r];
    }
    return l / n;
}

typedef struct loss_ctx { int B, E, Np, S; const int *off; } loss_ctx;

/* p = [v (B,E), t (B,E), ls] */
static double clip_ref(const double *p, void *vctx) {
    loss_ctx *c = vctx;
    int B = c->B, E = c->E;
    double *X = dalloc((size_t)B * B);
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++)
            for (int e = 0; e < E; e++) X[i * B + j] += p[i * E + e] * p[B * E + j * E + e];
    double s = exp(p[2 * B * E]), l = ce_ref(X, B, 0, s) + ce_ref(X, B, 1, s);
    free(X);
    return l;
}

/* p = [z1 (B,E), z2 (B,E)]: SimCLR NT-Xent with cosine similarity, tau 0.5 */
static double ntxent_ref(const double *p, void *vctx) {
    loss_ctx *c = vctx;
    int B = c->B, E = c->E, n = 2 * B;
    double *z = dalloc((size_t)n * E), l = 0;
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int e = 0; e < E; e++) s += p[i * E + e] * p[i * E + e];
        for (int e = 0; e < E; e++) z[i * E + e] = p[i * E + e] / sqrt(s);
    }
    for (int i = 0; i < n; i++) {
        double sum = 0, pos = 0;
        for (int j = 0; j < n; j++) {
            double d = 0;
            for (int e = 0; e < E; e++) d += z[i * E + e] * z[j * E + e];
            d /= NTXENT_TEMPERATURE;
            if (j != i) sum += exp(d);
            if (j == (i + B) % n) pos = d;
        }
        l += log(sum) - pos;
    }
    free(z);
    return l / n;
}

/* p = [P (B*Np,E), Sn (S,E), ls] */
static double sla_ref(const double *p, void *vctx) {
    loss_ctx *c = vctx;
    int B = c->B, E = c->E, Np = c->Np, S = c->S;
    const double *P = p, *Sn = p + (size_t)B * Np * E;
    double s = exp(p[(size_t)(B * Np + S) * E]);
    double *A = dalloc((size_t)B * B), *A2 = dalloc((size_t)B * B);
    for (int i = 0; i < B; i++)
        for (int j = 0; j < B; j++) {
            int k0 = c->off[j], k1 = c->off[j + 1];
            double t2i = 0, i2t = 0;
            for (int k = k0; k < k1; k++) {
                double best = -INFINITY;
                for (int q = 0; q < Np; q++) {
                    double d = 0;
                    for (int e = 0; e < E; e++) d += P[(i * Np + q) * E + e] * Sn[k * E + e];
                    best = d > best ? d : best;
                }
                t2i += best;
            }
            for (int q = 0; q < Np; q++) {
                double best = -INFINITY;
                for (int k = k0; k < k1; k++) {
                    double d = 0;
                    for (int e = 0; e < E; e++) d += P[(i * Np + q) * E + e] * Sn[k * E + e];
                    best = d > best ? d : best;
                }
                i2t += best;
            }
            A[j * B + i] = t2i / (k1 - k0);
            A2[j * B + i] = i2t / Np;
        }
    double l = ce_ref(A, B, 0, s) + ce_ref(A, B, 1, s) + ce_ref(A2, B, 0, s) + ce_ref(A2, B, 1, s);
    free(A); free(A2);
    return l;
}

static void unit_rows(float *x, int n, int E) { l2norm_rows(x, NULL, n, E); }

static void test_losses(void) {
    const float w = 0.7f;   /* a loss weight: backward scales by it */
    {   /* L_VT */
        int B = 5, E = 6;
        float *v = frand((size_t)B * E, 1), *t = frand((size_t)B * E, 1), ls = 1.3f;
        unit_rows(v, B, E);
        unit_rows(t, B, E);
        float *scr = fzero(CLIP_LOSS_SCRATCH(B)), *dv = fzero((size_t)B * E);
        float *dt = fzero((size_t)B * E), dls = 0;
        float l = clip_loss_forward(scr, v, t, ls, B, E);
        clip_loss_backward(dv, dt, &dls, scr, v, t, ls, B, E, w);
        size_t np = 2 * (size_t)B * E + 1;
        double *p = dalloc(np), *ref = dalloc(np);
        dfd_widen(p, v, (size_t)B * E);
        dfd_widen(p + B * E, t, (size_t)B * E);
        p[np - 1] = ls;
        loss_ctx c = {B, E, 0, 0, NULL};
        double lr = clip_ref(p, &c);
        check_close("L_VT value", &l, &lr, 1, 1e-6, 1e-6);
        dfd_grad(ref, p, np, clip_ref, &c, H);
        for (size_t i = 0; i < np; i++) ref[i] *= w;
        check_close("L_VT dv", dv, ref, (size_t)B * E, ATOL, RTOL);
        check_close("L_VT dt", dt, ref + B * E, (size_t)B * E, ATOL, RTOL);
        check_close("L_VT dlogit_scale", &dls, ref + np - 1, 1, ATOL, RTOL);
        free(v); free(t); free(scr); free(dv); free(dt); free(p); free(ref);
    }
    {   /* NT-Xent */
        int B = 4, E = 6;
        float *z1 = frand((size_t)B * E, 2), *z2 = frand((size_t)B * E, 2);
        float *scr = fzero(ntxent_scratch_floats(B, E));
        float *d1 = fzero((size_t)B * E), *d2 = fzero((size_t)B * E);
        float l = ntxent_forward(scr, z1, z2, B, E, NTXENT_TEMPERATURE);
        ntxent_backward(d1, d2, scr, B, E, NTXENT_TEMPERATURE, w);
        size_t np = 2 * (size_t)B * E;
        double *p = dalloc(np), *ref = dalloc(np);
        dfd_widen(p, z1, (size_t)B * E);
        dfd_widen(p + B * E, z2, (size_t)B * E);
        loss_ctx c = {B, E, 0, 0, NULL};
        double lr = ntxent_ref(p, &c);
        check_close("NT-Xent value", &l, &lr, 1, 1e-6, 1e-6);
        dfd_grad(ref, p, np, ntxent_ref, &c, H);
        for (size_t i = 0; i < np; i++) ref[i] *= w;
        check_close("NT-Xent dz1", d1, ref, (size_t)B * E, ATOL, RTOL);
        check_close("NT-Xent dz2", d2, ref + B * E, (size_t)B * E, ATOL, RTOL);
        free(z1); free(z2); free(scr); free(d1); free(d2); free(p); free(ref);
    }
    {   /* SLA: reports of 2, 3 and 1 sentences */
        int B = 3, Np = 5, E = 4, S = 6, off[4] = {0, 2, 5, 6};
        float *P = frand((size_t)B * Np * E, 1), *Sn = frand((size_t)S * E, 1), ls = 0.9f;
        unit_rows(P, B * Np, E);
        unit_rows(Sn, S, E);
        void *work = aligned_alloc(64, (sla_work_bytes(B, Np, S) + 63) & ~(size_t)63);
        float *dP = fzero((size_t)B * Np * E), *dS = fzero((size_t)S * E), dls = 0, l = 0;
        CHECK(sla_forward(&l, work, P, Sn, off, ls, B, Np, S, E) == MAMA_OK);
        sla_backward(dP, dS, &dls, work, P, Sn, off, ls, B, Np, S, E, w);
        size_t np = (size_t)(B * Np + S) * E + 1;
        double *p = dalloc(np), *ref = dalloc(np);
        dfd_widen(p, P, (size_t)B * Np * E);
        dfd_widen(p + B * Np * E, Sn, (size_t)S * E);
        p[np - 1] = ls;
        loss_ctx c = {B, E, Np, S, off};
        double lr = sla_ref(p, &c);
        check_close("SLA value", &l, &lr, 1, 1e-6, 1e-6);
        dfd_grad(ref, p, np, sla_ref, &c, H);
        for (size_t i = 0; i < np; i++) ref[i] *= w;
        check_close("SLA dP", dP, ref, (size_t)B * Np * E, ATOL, RTOL);
        check_close("SLA dS", dS, ref + B * Np * E, (size_t)S * E, ATOL, RTOL);
        check_close("SLA dlogit_scale", &dls, ref + np - 1, 1, ATOL, RTOL);
        int bad_off[4] = {0, 2, 2, 6};   /* report 1 without a sentence */
        CHECK(sla_forward(&l, work, P, Sn, bad_off, ls, B, Np, S, E) == MAMA_EINVAL);
        free(P); free(Sn); free(work); free(dP); free(dS); free(p); free(ref);
    }
}

/* ------------------------------------------------------------------ position resize */
/* The resize is linear: its backward must be its forward's transpose. For every input
 * element i, resize(e_i) . dout (in double) is the exact gradient. */
static void test_pos_resize_adjoint(int G0, int Gh, int Gw, int Hpx, int Wpx) {
    int C = 3;
    size_t nin = (size_t)(1 + G0 * G0) * C, nout = (size_t)(1 + Gh * Gw) * C;
    float *scr = fzero(pos_embed_scratch_floats(G0, Gh, Gw, C));
    float *e = fzero(nin), *y = fzero(nout), *dout = frand(nout, 1), *dpos = fzero(nin);
    double *ref = dalloc(nin);
    for (size_t i = 0; i < nin; i++) {
        e[i] = 1.0f;
        pos_embed_resize(y, scr, e, G0, Gh, Gw, Hpx, Wpx, C);
        for (size_t o = 0; o < nout; o++) ref[i] += (double)y[o] * dout[o];
        e[i] = 0.0f;
    }
    pos_embed_resize_backward(dpos, scr, dout, G0, Gh, Gw, Hpx, Wpx, C);
    char name[80];
    snprintf(name, sizeof name, "pos resize backward %d -> %dx%d", G0, Gh, Gw);
    check_close(name, dpos, ref, nin, 1e-6, 1e-5);
    free(scr); free(e); free(y); free(dout); free(dpos); free(ref);
}

int main(void) {
    test_gelu_derivative();
    test_batchnorm();
    test_head("local head", (head_config){.in = 6, .hidden = 8, .out = 5, .bias = 1, .last_affine = 0});
    test_head("simclr head", (head_config){.in = 6, .hidden = 6, .out = 4, .bias = 0, .last_affine = 1});
    test_head("linear head", (head_config){.in = 6, .hidden = 0, .out = 4, .bias = 1});
    test_losses();
    test_pos_resize_adjoint(5, 7, 4, 28, 16);   /* up in y, down in x (antialiased) */
    test_pos_resize_adjoint(5, 3, 3, 12, 12);   /* down both ways */
    test_pos_resize_adjoint(5, 5, 5, 20, 20);   /* no resize: identity */
    return check_done("train_ops");
}
