/* adamw.c: AdamW, clipping and the schedule (adamw.h).
 * Legend: n elements of a tensor, t its update count. The element loops are plain fp32
 * in the order PyTorch's single-tensor AdamW evaluates them, so a few steps stay within
 * rounding of it; threads split elements (each element is independent: deterministic). */
#include "engine/train/adamw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

adamw_config adamw_config_default(void) {
    adamw_config c = {.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f};
    return c;
}

void adamw_init(adamw *o, const adamw_config *cfg) {
    memset(o, 0, sizeof *o);
    o->cfg = cfg ? *cfg : adamw_config_default();
}

void adamw_free(adamw *o) {
    if (!o) return;
    for (int i = 0; i < o->nblocks; i++) ptable_block_free(o->blocks[i]);
    free(o->blocks);
    free(o->t);
    memset(o, 0, sizeof *o);
}

static mama_status keep_block(adamw *o, void *b) {
    if (o->nblocks == o->capblocks) {
        int cap = o->capblocks ? 2 * o->capblocks : 16;
        void **nb = realloc(o->blocks, (size_t)cap * sizeof *nb);
        if (!nb) {
            ptable_block_free(b);
            return mama_errorf(MAMA_ENOMEM, "adamw: out of memory");
        }
        o->blocks = nb;
        o->capblocks = cap;
    }
    o->blocks[o->nblocks++] = b;
    return MAMA_OK;
}

static mama_status push(adamw *o, const char *prefix, const char *name, float *p, float *g,
                        float *m, float *v, size_t n, int decay) {
    if (o->n == o->cap) {
        int cap = o->cap ? 2 * o->cap : 64;
        adamw_tensor *nt = realloc(o->t, (size_t)cap * sizeof *nt);
        if (!nt) return mama_errorf(MAMA_ENOMEM, "adamw: out of memory");
        o->t = nt;
        o->cap = cap;
    }
    adamw_tensor *t = &o->t[o->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s%s", prefix ? prefix : "", name);
    t->param = p; t->grad = g; t->m = m; t->v = v; t->n = n; t->decay = decay;
    return MAMA_OK;
}

mama_status adamw_add_table(adamw *o, const ptable *tab, void *params_block, void *grads_block,
                            const char *prefix, int (*decay)(const char *name)) {
    void *mb = NULL, *vb = NULL;
    mama_status rc;
    if ((rc = ptable_alloc(tab, &mb)) != MAMA_OK || (rc = keep_block(o, mb)) != MAMA_OK)
        return mama_errorf(MAMA_ENOMEM, "adamw: cannot allocate moments for %s (%.1f MB)",
                           prefix ? prefix : "a table", tab->bytes / 1e6);
    if ((rc = ptable_alloc(tab, &vb)) != MAMA_OK || (rc = keep_block(o, vb)) != MAMA_OK)
        return mama_errorf(MAMA_ENOMEM, "adamw: cannot allocate moments for %s (%.1f MB)",
                           prefix ? prefix : "a table", tab->bytes / 1e6);
    for (int e = 0; e < tab->n; e++) {
        if (tab->e[e].numel == 0 || tab->e[e].dtype != MAMA_F32) continue;
        if ((rc = push(o, prefix, tab->e[e].name, ptable_ptr(tab, params_block, e),
                       ptable_ptr(tab, grads_block, e), ptable_ptr(tab, mb, e),
                       ptable_ptr(tab, vb, e), tab->e[e].numel,
                       decay ? decay(tab->e[e].name) : 0)) != MAMA_OK)
            return rc;
    }
    return MAMA_OK;
}

mama_status adamw_add(adamw *o, const char *name, float *param, float *grad, size_t n,
                      int decay) {
    float *mv = aligned_alloc(64, ((2 * n * sizeof(float)) + 63) & ~(size_t)63);
    if (!mv) return mama_errorf(MAMA_ENOMEM, "adamw: cannot allocate moments for %s", name);
    memset(mv, 0, 2 * n * sizeof(float));
    mama_status rc = keep_block(o, mv);
    if (rc != MAMA_OK) return rc;
    return push(o, NULL, name, param, grad, mv, mv + n, n, decay);
}

int adamw_set_frozen(adamw *o, const char *prefix, int frozen) {
    int k = 0;
    size_t lp = strlen(prefix);
    for (int i = 0; i < o->n; i++)
        if (strncmp(o->t[i].name, prefix, lp) == 0) {
            o->t[i].frozen = frozen ? 1 : 0;
            k++;
        }
    return k;
}

adamw_tensor *adamw_find(adamw *o, const char *name) {
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->t[i].name, name) == 0) return &o->t[i];
    return NULL;
}

#define CHUNK 65536

int adamw_first_nonfinite(const adamw *o) {
    for (int i = 0; i < o->n; i++) {
        if (o->t[i].frozen) continue;
        const float *g = o->t[i].grad;
        long n = (long)o->t[i].n, bad = 0;
#pragma omp parallel for schedule(static) reduction(|| : bad) if (n > CHUNK)
        for (long k = 0; k < n; k++)
            if (!isfinite(g[k])) bad = 1;
        if (bad) return i;
    }
    return -1;
}

/* sum of squares of x (n), in double, over fixed chunks summed in chunk order: the same
 * bits whatever the thread count */
static double sumsq(const float *x, size_t n) {
    long nc = (long)((n + CHUNK - 1) / CHUNK);
    double part[64], total = 0.0;
    for (long c0 = 0; c0 < nc; c0 += 64) {
        long c1 = c0 + 64 < nc ? c0 + 64 : nc;
#pragma omp parallel for schedule(static) if (c1 - c0 > 1)
        for (long c = c0; c < c1; c++) {
            size_t a = (size_t)c * CHUNK, b = a + CHUNK < n ? a + CHUNK : n;
            double s = 0.0;
            for (size_t k = a; k < b; k++) s += (double)x[k] * x[k];
            part[c - c0] = s;
        }
        for (long c = c0; c < c1; c++) total += part[c - c0];
    }
    return total;
}

double adamw_grad_norm(const adamw *o) {
    double s = 0.0;
    for (int i = 0; i < o->n; i++)
        if (!o->t[i].frozen) s += sumsq(o->t[i].grad, o->t[i].n);
    return sqrt(s);
}

double adamw_clip(adamw *o, double max_norm) {
    double norm = adamw_grad_norm(o);
    if (max_norm <= 0) return norm;
    double coef = max_norm / (norm + 1e-6);
    if (coef >= 1.0) return norm;
    float c = (float)coef;
    for (int i = 0; i < o->n; i++) {
        if (o->t[i].frozen) continue;
        float *g = o->t[i].grad;
        long n = (long)o->t[i].n;
#pragma omp parallel for schedule(static) if (n > CHUNK)
        for (long k = 0; k < n; k++) g[k] *= c;
    }
    return norm;
}

static void update_tensor(adamw_tensor *t, const adamw_config *c, float lr) {
    t->t++;
    float b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    /* the scalars in double, as PyTorch computes them in Python floats */
    double bc1 = 1.0 - pow((double)b1, (double)t->t), bc2 = 1.0 - pow((double)b2, (double)t->t);
    float step_size = (float)((double)lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    float decay = t->decay ? (float)(1.0 - (double)lr * c->weight_decay) : 1.0f;
    float *p = t->param, *m = t->m, *v = t->v;
    const float *g = t->grad;
    long n = (long)t->n;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (long k = 0; k < n; k++) {
        p[k] *= decay;
        m[k] += (g[k] - m[k]) * (1.0f - b1);      /* torch: exp_avg.lerp_(grad, 1 - beta1) */
        v[k] = v[k] * b2 + (1.0f - b2) * g[k] * g[k];
        float denom = sqrtf(v[k]) / bc2_sqrt + eps;
        p[k] -= step_size * (m[k] / denom);
    }
}

void adamw_update(adamw *o, float lr) {
    for (int i = 0; i < o->n; i++)
        if (!o->t[i].frozen) update_tensor(&o->t[i], &o->cfg, lr);
}

void adamw_zero_grad(adamw *o) {
    for (int i = 0; i < o->n; i++) {
        float *g = o->t[i].grad;
        long n = (long)o->t[i].n;
#pragma omp parallel for schedule(static) if (n > CHUNK)
        for (long k = 0; k < n; k++) g[k] = 0.0f;
    }
}

float lr_schedule(long step, float base, float floor, long warmup, long total) {
    if (step < warmup) return base * (float)(step + 1) / (float)warmup;
    long es = total - warmup;
    if (es <= 0 || step >= total) return floor;
    double e = (double)(step - warmup);
    return (float)(floor + (base - floor) * 0.5 * (1.0 + cos(M_PI * e / (double)es)));
}
