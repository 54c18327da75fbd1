/* head.c: Linear [-> BatchNorm -> ReLU -> Linear -> BatchNorm] heads (head.h).
 * Legend: N rows, I input width, Hd hidden width, O output width. */
#include "engine/train/head.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/rng.h"
#include "engine/ops/batchnorm.h"
#include "engine/ops/ops.h"

static void param_table(ptable *t, const head_config *c) {
    int64_t I = c->in, Hd = c->hidden, O = c->out, first = Hd > 0 ? Hd : O;
    int64_t bias = c->bias ? 1 : 0, mlp = Hd > 0 ? 1 : 0, aff2 = mlp && c->last_affine ? 1 : 0;
#define P(field, ...) ptable_add(t, #field, MAMA_F32, PTABLE_SLOT(head_params, field), \
                                 PTABLE_SHAPE(__VA_ARGS__))
    P(w1, first, I);  P(b1, bias * first);
    P(bn1w, mlp * Hd);  P(bn1b, mlp * Hd);
    P(w2, mlp * O, Hd);  P(b2, mlp * bias * O);
    P(bn2w, aff2 * O);  P(bn2b, aff2 * O);
#undef P
}

static void stats_table(ptable *t, const head_config *c) {
    int64_t Hd = c->hidden, O = Hd > 0 ? c->out : 0;
#define S(field, n) ptable_add(t, #field, MAMA_F32, PTABLE_SLOT(head_stats, field), PTABLE_SHAPE(n))
    S(rm1, Hd);  S(rv1, Hd);  S(rm2, O);  S(rv2, O);
#undef S
}

static void fill(float *x, size_t n, float v) { for (size_t i = 0; i < n; i++) x[i] = v; }

static void reset_stats(head *h) {
    int Hd = h->cfg.hidden, O = h->cfg.out;
    if (Hd <= 0) return;
    fill(h->stats.rm1, (size_t)Hd, 0.0f);  fill(h->stats.rv1, (size_t)Hd, 1.0f);
    fill(h->stats.rm2, (size_t)O, 0.0f);   fill(h->stats.rv2, (size_t)O, 1.0f);
}

mama_status head_create(const head_config *cfg, head **out) {
    *out = NULL;
    if (cfg->in <= 0 || cfg->out <= 0 || cfg->hidden < 0 || cfg->in > (1 << 20) ||
        cfg->out > (1 << 20) || cfg->hidden > (1 << 20))
        return mama_errorf(MAMA_EINVAL, "head: sizes in %d, hidden %d, out %d out of range",
                           cfg->in, cfg->hidden, cfg->out);
    head *h = calloc(1, sizeof *h);
    if (!h) return mama_errorf(MAMA_ENOMEM, "head: out of memory");
    h->cfg = *cfg;
    ptable_init(&h->ptab);
    ptable_init(&h->stab);
    ptable_init(&h->atab);
    param_table(&h->ptab, cfg);
    stats_table(&h->stab, cfg);
    void *p = NULL, *s = NULL;
    mama_status rc = ptable_make(&h->ptab, &p, &h->params);
    if (rc == MAMA_OK) h->params_memory = p;
    if (rc == MAMA_OK && (rc = ptable_alloc(&h->ptab, &p)) == MAMA_OK) {
        h->grads_memory = p;
        ptable_point(&h->ptab, p, &h->grads);
    }
    if (rc == MAMA_OK && (rc = ptable_make(&h->stab, &s, &h->stats)) == MAMA_OK)
        h->stats_memory = s;
    if (rc != MAMA_OK) {
        head_free(h);
        return mama_errorf(MAMA_ENOMEM, "head: cannot allocate parameters");
    }
    if (cfg->hidden > 0) {
        fill(h->params.bn1w, (size_t)cfg->hidden, 1.0f);
        if (h->params.bn2w) fill(h->params.bn2w, (size_t)cfg->out, 1.0f);
    }
    reset_stats(h);
    *out = h;
    return MAMA_OK;
}

void head_free(head *h) {
    if (!h) return;
    ptable_block_free(h->params_memory);
    ptable_block_free(h->grads_memory);
    ptable_block_free(h->stats_memory);
    ptable_block_free(h->acts_memory);
    ptable_free(&h->ptab);
    ptable_free(&h->stab);
    ptable_free(&h->atab);
    free(h);
}

static void uniform(float *x, size_t n, float bound, mama_rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((2.0 * mama_rng_uniform(r) - 1.0) * bound);
}

void head_init_random(head *h, uint64_t seed) {
    mama_rng r;
    mama_rng_seed(&r, seed ^ 0x68656164ull);   /* "head" */
    const head_config *c = &h->cfg;
    int first = c->hidden > 0 ? c->hidden : c->out;
    float b1 = 1.0f / sqrtf((float)c->in);
    uniform(h->params.w1, (size_t)first * c->in, b1, &r);
    if (h->params.b1) uniform(h->params.b1, (size_t)first, b1, &r);
    if (c->hidden > 0) {
        float b2 = 1.0f / sqrtf((float)c->hidden);
        uniform(h->params.w2, (size_t)c->out * c->hidden, b2, &r);
        if (h->params.b2) uniform(h->params.b2, (size_t)c->out, b2, &r);
        fill(h->params.bn1w, (size_t)c->hidden, 1.0f);
        fill(h->params.bn1b, (size_t)c->hidden, 0.0f);
        if (h->params.bn2w) {
            fill(h->params.bn2w, (size_t)c->out, 1.0f);
            fill(h->params.bn2b, (size_t)c->out, 0.0f);
        }
    }
    reset_stats(h);
}

void head_zero_grad(head *h) {
    if (h && h->grads_memory) memset(h->grads_memory, 0, h->ptab.bytes);
}

static mama_status acts_prepare(head *h, int N) {
    if (h->acts_memory && N <= h->capacity) return MAMA_OK;
    ptable_block_free(h->acts_memory);
    h->acts_memory = NULL;
    h->capacity = 0;
    ptable_clear(&h->atab);
    int64_t n = N, Hd = h->cfg.hidden, O = h->cfg.out, first = Hd > 0 ? Hd : O;
    int64_t mlp = Hd > 0 ? 1 : 0;
    ptable *t = &h->atab;
#define A(field, ...) ptable_add(t, #field, MAMA_F32, PTABLE_SLOT(head_acts, field), \
                                 PTABLE_SHAPE(__VA_ARGS__))
    A(h1, n, first);  A(mean1, mlp * Hd);  A(rstd1, mlp * Hd);  A(r1, mlp * n, Hd);
    A(h2, mlp * n, O);  A(mean2, mlp * O);  A(rstd2, mlp * O);  A(out, mlp * n, O);
    A(d1, mlp * n, Hd);  A(dh1, mlp * n, Hd);  A(d2, mlp * n, O);
#undef A
    void *block;
    if (ptable_make(t, &block, &h->acts) != MAMA_OK)
        return mama_errorf(MAMA_ENOMEM, "head: cannot allocate activations for %d rows "
                           "(%.1f MB)", N, t->bytes / 1e6);
    h->acts_memory = block;
    h->capacity = N;
    if (Hd == 0) h->acts.out = h->acts.h1;
    return MAMA_OK;
}

mama_status head_forward(head *h, const float *inp, int N, int train) {
    if (!h || !inp || N <= 0)
        return mama_errorf(MAMA_EINVAL, "head_forward: NULL head or input, or %d rows", N);
    mama_status rc = acts_prepare(h, N);
    if (rc != MAMA_OK) return rc;
    const head_config *c = &h->cfg;
    const head_params *p = &h->params;
    head_acts *a = &h->acts;
    h->N = N;
    h->train = train ? 1 : 0;
    int Hd = c->hidden, O = c->out, first = Hd > 0 ? Hd : O;
    linear_forward(a->h1, inp, p->w1, p->b1, N, c->in, first);
    if (Hd == 0) return MAMA_OK;
    if (train) {
        if ((rc = batchnorm_forward_train(a->r1, a->mean1, a->rstd1, h->stats.rm1, h->stats.rv1,
                                          a->h1, p->bn1w, p->bn1b, N, Hd, BATCHNORM_EPS,
                                          BATCHNORM_MOMENTUM)) != MAMA_OK)
            return rc;
    } else {
        batchnorm_forward_eval(a->r1, a->h1, h->stats.rm1, h->stats.rv1, p->bn1w, p->bn1b, N,
                               Hd, BATCHNORM_EPS);
    }
    /* ReLU that lets a NaN through, as torch.relu: a poisoned row must reach the loss and
     * be caught there, not vanish */
    for (size_t i = 0; i < (size_t)N * Hd; i++)
        if (a->r1[i] <= 0.0f) a->r1[i] = 0.0f;
    linear_forward(a->h2, a->r1, p->w2, p->b2, N, Hd, O);
    if (train)
        return batchnorm_forward_train(a->out, a->mean2, a->rstd2, h->stats.rm2, h->stats.rv2,
                                       a->h2, p->bn2w, p->bn2b, N, O, BATCHNORM_EPS,
                                       BATCHNORM_MOMENTUM);
    batchnorm_forward_eval(a->out, a->h2, h->stats.rm2, h->stats.rv2, p->bn2w, p->bn2b, N, O,
                           BATCHNORM_EPS);
    return MAMA_OK;
}

mama_status head_backward(head *h, float *dinp, const float *inp, const float *dout) {
    if (!h || !dout || !inp || !h->acts_memory || h->N <= 0)
        return mama_errorf(MAMA_EINVAL, "head_backward: needs a forward first");
    if (!h->train && h->cfg.hidden > 0)
        return mama_errorf(MAMA_EINVAL, "head_backward: the last forward was in eval mode");
    const head_config *c = &h->cfg;
    const head_params *p = &h->params;
    head_params *g = &h->grads;
    head_acts *a = &h->acts;
    int N = h->N, Hd = c->hidden, O = c->out;
    if (Hd == 0) {
        linear_backward(dinp, g->w1, g->b1, dout, inp, p->w1, N, c->in, O);
        return MAMA_OK;
    }
    memset(a->d2, 0, (size_t)N * O * sizeof(float));
    batchnorm_backward(a->d2, g->bn2w, g->bn2b, dout, a->h2, p->bn2w, a->mean2, a->rstd2, N, O);
    memset(a->d1, 0, (size_t)N * Hd * sizeof(float));
    linear_backward(a->d1, g->w2, g->b2, a->d2, a->r1, p->w2, N, Hd, O);
    /* ReLU: r1 > 0 exactly where BN1's output was positive */
    for (size_t i = 0; i < (size_t)N * Hd; i++)
        if (!(a->r1[i] > 0.0f)) a->d1[i] = 0.0f;
    memset(a->dh1, 0, (size_t)N * Hd * sizeof(float));
    batchnorm_backward(a->dh1, g->bn1w, g->bn1b, a->d1, a->h1, p->bn1w, a->mean1, a->rstd1, N,
                       Hd);
    linear_backward(dinp, g->w1, g->b1, a->dh1, inp, p->w1, N, c->in, Hd);
    return MAMA_OK;
}
