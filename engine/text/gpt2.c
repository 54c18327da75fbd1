/* gpt2.c: GPT-2-family text tower forward/backward with LoRA (see gpt2.h for the legend).
 *
 * Block (pre-LN): x += c_proj(attn(c_attn(LN1(x)))); x += mlp.c_proj(gelu_tanh(c_fc(LN2(x)))),
 * then ln_f. Attention scale 1/sqrt(HS), also / (layer+1) with
 * scale_attn_by_inverse_layer_idx (BioMedLM). Backward walks the same saved activations in
 * reverse; only LoRA and the added-token rows of wte receive gradients (base frozen).
 * Loading and saving live in gpt2_load.c. */
#define _GNU_SOURCE
#include "engine/text/gpt2.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/text/gpt2_impl.h"
#include "engine/core/ptable.h"
#include "engine/ops/ops.h"

/* ---------------------------------------------------------------- memory */

void gpt2_lora_dims(const gpt2_config *c, int t, int *in, int *out) {
    int C = c->n_embd, F = c->n_inner;
    switch (t) {
    case 0: *in = C; *out = 3 * C; break;  /* attn.c_attn */
    case 1: *in = C; *out = C; break;      /* attn.c_proj */
    case 2: *in = C; *out = F; break;      /* mlp.c_fc */
    default: *in = F; *out = C; break;     /* mlp.c_proj */
    }
}

/* splitmix64 -> uniform -> Box-Muller: deterministic init of LoRA A. */
static double rng_uniform(unsigned long long *s) {
    unsigned long long z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return ((z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* The base weights, in the order of gpt2_params (HF names without the "h.N." split). */
static void param_table(ptable *t, const gpt2_config *c) {
    int64_t V = c->vocab_size, P = c->n_positions, C = c->n_embd, L = c->n_layer,
            F = c->n_inner;
#define P_(field, ...) ptable_add(t, #field, MAMA_F32, PTABLE_SLOT(gpt2_params, field), \
                                  PTABLE_SHAPE(__VA_ARGS__))
    P_(wte, V, C);  P_(wpe, P, C);  P_(ln1w, L, C);  P_(ln1b, L, C);
    P_(qkvw, L, C, 3 * C);  P_(qkvb, L, 3 * C);  P_(attprojw, L, C, C);  P_(attprojb, L, C);
    P_(ln2w, L, C);  P_(ln2b, L, C);  P_(fcw, L, C, F);  P_(fcb, L, F);
    P_(fcprojw, L, F, C);  P_(fcprojb, L, C);  P_(lnfw, C);  P_(lnfb, C);
#undef P_
}

/* The adapters of the configured targets: A[t] (L,R,in), B[t] (L,out,R), per target. */
static void lora_table(ptable *t, const gpt2_config *c, const lora_config *lc) {
    static const char *const an[LORA_NUM_TARGETS] = {"lora.c_attn.A", "lora.attn.c_proj.A",
                                                     "lora.c_fc.A", "lora.mlp.c_proj.A"};
    static const char *const bn[LORA_NUM_TARGETS] = {"lora.c_attn.B", "lora.attn.c_proj.B",
                                                     "lora.c_fc.B", "lora.mlp.c_proj.B"};
    int64_t L = c->n_layer, R = lc->rank;
    for (int k = 0; k < LORA_NUM_TARGETS; k++) {
        if (!(lc->targets & (1u << k))) continue;
        int in, out;
        gpt2_lora_dims(c, k, &in, &out);
        ptable_add(t, an[k], MAMA_F32, PTABLE_SLOT(gpt2_lora, A) + k * sizeof(float *),
                   PTABLE_SHAPE(L, R, in));
        ptable_add(t, bn[k], MAMA_F32, PTABLE_SLOT(gpt2_lora, B) + k * sizeof(float *),
                   PTABLE_SHAPE(L, out, R));
    }
}

mama_status gpt2_create(const gpt2_config *cfg, const lora_config *lora_cfg,
                        unsigned long long seed, gpt2_model **out_model) {
    const gpt2_config *c = cfg;
    if (c->vocab_size > (1 << 24) || c->n_embd > 65536 || c->n_layer > 1024 ||
        c->n_positions > (1 << 20) || c->n_inner > (1 << 20))
        return mama_errorf(MAMA_EINVAL, "gpt2_create: config out of range (V %d <= 2^24, "
                           "C %d <= 65536, L %d <= 1024, P %d and F %d <= 2^20)",
                           c->vocab_size, c->n_embd, c->n_layer, c->n_positions, c->n_inner);
    if (c->vocab_size < c->base_vocab || c->base_vocab <= 0 || c->added_from < 0 ||
        c->added_from > c->vocab_size || c->n_embd <= 0 ||
        c->n_head <= 0 || c->n_embd % c->n_head || c->n_layer <= 0 || c->n_positions <= 0 ||
        c->n_inner <= 0)
        return mama_errorf(MAMA_EINVAL, "gpt2_create: invalid config (V %d, base %d, added "
                           "from %d, C %d, NH %d, L %d)", c->vocab_size, c->base_vocab,
                           c->added_from, c->n_embd,
                           c->n_head, c->n_layer);
    if (lora_cfg && lora_cfg->rank < 0)
        return mama_errorf(MAMA_EINVAL, "LoRA rank must be >= 0 (got %d)", lora_cfg->rank);
    gpt2_model *m = calloc(1, sizeof *m);
    if (!m) return mama_errorf(MAMA_ENOMEM, "gpt2_create: out of memory");
    m->cfg = *c;
    if (lora_cfg) m->lora_cfg = *lora_cfg;
    if (m->lora_cfg.rank == 0) m->lora_cfg.targets = 0;
    ptable_init(&m->ptab);
    ptable_init(&m->ltab);
    ptable_init(&m->atab);
    ptable_init(&m->dtab);
    param_table(&m->ptab, c);
    lora_table(&m->ltab, c, &m->lora_cfg);
    void *pb = NULL, *lb = NULL, *gb = NULL;
    mama_status rc = ptable_make(&m->ptab, &pb, &m->params);
    m->params_memory = pb;
    /* the adapters and their gradients: two blocks of one layout */
    if (rc == MAMA_OK) rc = ptable_layout(&m->ltab);
    if (rc == MAMA_OK && m->ltab.bytes) rc = ptable_alloc(&m->ltab, &lb);
    m->lora_memory = lb;
    if (rc == MAMA_OK && m->ltab.bytes) rc = ptable_alloc(&m->ltab, &gb);
    m->lora_grad_memory = gb;
    size_t n_added = (size_t)(c->vocab_size - c->added_from);
    if (rc == MAMA_OK) {
        m->wte_added_grad = calloc(n_added * c->n_embd + 1, sizeof(float));
        if (!m->wte_added_grad) rc = MAMA_ENOMEM;
    }
    if (rc != MAMA_OK) {
        gpt2_destroy(m);
        return mama_errorf(MAMA_ENOMEM, "gpt2_create: cannot allocate the parameters "
                           "(%zu floats)", (size_t)c->vocab_size * c->n_embd);
    }
    m->num_params = m->ptab.bytes / sizeof(float);
    if (lb) {
        ptable_point(&m->ltab, lb, &m->lora);
        ptable_point(&m->ltab, gb, &m->lora_grad);
        m->num_lora = m->ltab.bytes / sizeof(float);
    }
    size_t L = c->n_layer, R = (size_t)m->lora_cfg.rank;
    unsigned long long s = seed;
    for (int t = 0; t < LORA_NUM_TARGETS; t++) {
        if (!m->lora.A[t]) continue;
        int in, out;
        gpt2_lora_dims(c, t, &in, &out);
        /* peft's default initialises A with Kaiming-uniform and B with zeros; a
         * Gaussian of std 1/sqrt(in) plays the same role and B = 0 keeps the base. */
        for (size_t i = 0; i < L * R * in; i++) {
            double u1 = rng_uniform(&s), u2 = rng_uniform(&s);
            m->lora.A[t][i] = (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2) /
                                      sqrt((double)in));
        }
    }
    *out_model = m;
    return MAMA_OK;
}

void gpt2_destroy(gpt2_model *m) {
    if (!m) return;
    gpt2_set_precision(m, MAMA_PREC_FP32); /* drops the bf16 copies */
    ptable_block_free(m->params_memory);
    ptable_block_free(m->lora_memory);
    ptable_block_free(m->lora_grad_memory);
    free(m->wte_added_grad);
    ptable_block_free(m->acts_memory);
    ptable_block_free(m->grad_scratch);
    ptable_free(&m->ptab);
    ptable_free(&m->ltab);
    ptable_free(&m->atab);
    ptable_free(&m->dtab);
    free(m);
}

/* ---------------------------------------------------------------- forward */

void gpt2_set_train(gpt2_model *m, int on, unsigned long long step_seed) {
    m->train = !!on;
    m->dropout_seed = step_seed;
}

/* Frees the activation block (and backward's scratch, sized from it). */
static void drop_acts(gpt2_model *m) {
    ptable_block_free(m->acts_memory);
    ptable_block_free(m->grad_scratch);
    m->acts_memory = NULL;
    m->grad_scratch = NULL;
    m->acts_capacity = 0;
}

void gpt2_set_inference(gpt2_model *m, int on) {
    if (!!on == m->inference) return;
    m->inference = !!on;
    drop_acts(m);
    m->B = m->T = 0;
}

/* The activations for N tokens: L slots in training mode, one in inference. */
static void act_table(ptable *t, const gpt2_model *m, int64_t N) {
    const gpt2_config *c = &m->cfg;
    int64_t C = c->n_embd, F = c->n_inner, NH = c->n_head, R = m->lora_cfg.rank;
    int64_t L = m->inference ? 1 : c->n_layer;  /* inference reuses one layer's slot */
    unsigned tg = m->lora_cfg.targets;
    int64_t W = (tg && m->lora_cfg.dropout > 0.0f) ? (F > C ? F : C) : 0;
#define A(field, ...) ptable_add(t, #field, MAMA_F32, PTABLE_SLOT(gpt2_acts, field), \
                                 PTABLE_SHAPE(__VA_ARGS__))
    A(encoded, N, C);  A(ln1, L, N, C);  A(ln1_mean, L, N);  A(ln1_rstd, L, N);
    A(qkv, L, N, 3 * C);  A(atty, L, N, C);  A(att_lse, L, N, NH);  A(attproj, L, N, C);
    A(res2, L, N, C);  A(ln2, L, N, C);  A(ln2_mean, L, N);  A(ln2_rstd, L, N);
    A(fch, L, N, F);  A(fch_gelu, L, N, F);  A(fcproj, L, N, C);  A(res3, L, N, C);
    A(lnf, N, C);  A(lnf_mean, N);  A(lnf_rstd, N);
    A(lora_tmp[0], L, (tg & 1u) ? N : 0, R);  A(lora_tmp[1], L, (tg & 2u) ? N : 0, R);
    A(lora_tmp[2], L, (tg & 4u) ? N : 0, R);  A(lora_tmp[3], L, (tg & 8u) ? N : 0, R);
    A(mask, N);  A(lora_xdrop, N, W);
#undef A
    ptable_add(t, "ids", MAMA_I32, PTABLE_SLOT(gpt2_acts, ids), PTABLE_SHAPE(N));
}

static mama_status ensure_acts(gpt2_model *m, int B, int T) {
    size_t N = (size_t)B * T;
    if (m->acts_memory && N <= m->acts_capacity) return MAMA_OK;
    drop_acts(m);
    ptable_clear(&m->atab);
    act_table(&m->atab, m, (int64_t)N);
    void *block;
    if (ptable_make(&m->atab, &block, &m->acts) != MAMA_OK)
        return mama_errorf(MAMA_ENOMEM, "GPT-2: cannot allocate activations for %zu tokens "
                           "(%.1f MB); use a smaller batch", N, m->atab.bytes / 1e6);
    m->acts_memory = block;
    m->acts_capacity = N;
    return MAMA_OK;
}

static float layer_scale(const gpt2_config *c, int l) {
    float s = 1.0f / sqrtf((float)(c->n_embd / c->n_head));
    if (c->scale_attn_by_inverse_layer_idx) s /= (float)(l + 1);
    return s;
}

static int dropout_on(const gpt2_model *m) {
    return m->train && m->lora_cfg.rank > 0 && m->lora_cfg.dropout > 0.0f;
}

/* Adapter t of layer l: out (N,OC) += lora(dropout(inp (N,C))); tmp (N,R) saved. */
static void lora_site_forward(gpt2_model *m, int t, int l, float *out, float *tmp,
                              const float *inp, int N) {
    int in, outd, R = m->lora_cfg.rank;
    gpt2_lora_dims(&m->cfg, t, &in, &outd);
    const float *x = inp;
    if (dropout_on(m)) {
        lora_dropout_apply(m->acts.lora_xdrop, inp, m->lora_cfg.dropout, m->dropout_seed,
                           (unsigned long long)l * LORA_NUM_TARGETS + t, (size_t)N * in);
        x = m->acts.lora_xdrop;
    }
    lora_forward(out, tmp, x, m->lora.A[t] + (size_t)l * R * in,
                 m->lora.B[t] + (size_t)l * outd * R, m->lora_cfg.alpha / (float)R, N, in, outd,
                 R);
}

/* Backward of lora_site_forward: dinp (N,C) +=, LoRA gradients +=. scratch: dtmp (N,R),
 * xd and dxd (N, max(C,F)) each. */
static void lora_site_backward(gpt2_model *m, int t, int l, float *dinp, const float *dout,
                               const float *inp, const float *tmp, int N, float *dtmp,
                               float *xd, float *dxd) {
    int in, outd, R = m->lora_cfg.rank;
    gpt2_lora_dims(&m->cfg, t, &in, &outd);
    float scale = m->lora_cfg.alpha / (float)R;
    float *dA = m->lora_grad.A[t] + (size_t)l * R * in, *dB = m->lora_grad.B[t] + (size_t)l * outd * R;
    const float *A = m->lora.A[t] + (size_t)l * R * in, *B = m->lora.B[t] + (size_t)l * outd * R;
    if (!dropout_on(m)) {
        lora_backward(dinp, dA, dB, dtmp, dout, inp, tmp, A, B, scale, N, in, outd, R);
        return;
    }
    size_t n = (size_t)N * in;
    unsigned long long site = (unsigned long long)l * LORA_NUM_TARGETS + t;
    lora_dropout_apply(xd, inp, m->lora_cfg.dropout, m->dropout_seed, site, n);
    memset(dxd, 0, n * sizeof(float));
    lora_backward(dxd, dA, dB, dtmp, dout, xd, tmp, A, B, scale, N, in, outd, R);
    lora_dropout_apply(dxd, dxd, m->lora_cfg.dropout, m->dropout_seed, site, n);
    for (size_t i = 0; i < n; i++) dinp[i] += dxd[i];
}

mama_status gpt2_forward(gpt2_model *m, const int *ids, const float *mask, int B, int T) {
    const gpt2_config *c = &m->cfg;
    if (B <= 0 || T <= 0 || T > c->n_positions)
        return mama_errorf(MAMA_EINVAL, "GPT-2 forward: need B > 0 and 0 < T <= %d "
                           "(got B %d, T %d); truncate the text", c->n_positions, B, T);
    for (size_t i = 0; i < (size_t)B * T; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return mama_errorf(MAMA_EINVAL, "GPT-2 forward: token id %d at %zu outside "
                               "[0, %d); tokenizer and model vocabularies differ", ids[i], i,
                               c->vocab_size);
    mama_status rc = ensure_acts(m, B, T);
    if (rc) return rc;
    m->B = B; m->T = T;
    size_t N = (size_t)B * T, C = c->n_embd, F = c->n_inner;
    int L = c->n_layer, NH = c->n_head, R = m->lora_cfg.rank;
    gpt2_acts *a = &m->acts;
    gpt2_params *p = &m->params;
    memcpy(a->ids, ids, N * sizeof(int));
    for (size_t i = 0; i < N; i++) a->mask[i] = mask ? (mask[i] != 0.0f) : 1.0f;

    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *o = a->encoded + ((size_t)b * T + t) * C;
            const float *we = p->wte + (size_t)ids[b * T + t] * C, *pe = p->wpe + (size_t)t * C;
            for (size_t i = 0; i < C; i++) o[i] = we[i] + pe[i];
        }

    for (int l = 0; l < L; l++) {
        /* s: this layer's activation slot (always 0 in inference mode, where the residual
         * stream is updated in place: res2/res3 of slot 0 hold the running state). */
        size_t s = m->inference ? 0 : (size_t)l;
        const float *resid = l == 0 ? a->encoded
                                    : a->res3 + (m->inference ? 0 : (size_t)(l - 1) * N * C);
        float *ln1 = a->ln1 + s * N * C, *qkv = a->qkv + s * N * 3 * C;
        float *atty = a->atty + s * N * C, *attproj = a->attproj + s * N * C;
        float *res2 = a->res2 + s * N * C, *ln2 = a->ln2 + s * N * C;
        float *fch = a->fch + s * N * F, *fchg = a->fch_gelu + s * N * F;
        float *fcproj = a->fcproj + s * N * C, *res3 = a->res3 + s * N * C;

        layernorm_forward(ln1, a->ln1_mean + s * N, a->ln1_rstd + s * N, resid,
                          p->ln1w + l * C, p->ln1b + l * C, (int)N, (int)C, c->ln_eps);
        /* bf16 copies serve inference only */
        const gpt2_weights16 *w16 = m->inference && m->w16_memory ? &m->w16 : NULL;
#define W16(f, off) (w16 ? w16->f + (off) : NULL)
        if ((rc = linear_prec_forward(qkv, ln1, p->qkvw + l * C * 3 * C, W16(qkvw, l * C * 3 * C),
                               p->qkvb + l * 3 * C, (int)N, (int)C, (int)(3 * C), 1, GEMM_NONE)))
            return rc;
        if (m->lora.A[0])
            lora_site_forward(m, 0, l, qkv, a->lora_tmp[0] + s * N * R, ln1, (int)N);
        rc = attention_forward(atty, a->att_lse + s * N * NH, qkv, a->mask, B, T, (int)C, NH,
                               layer_scale(c, l), 1);
        if (rc) return rc;
        if ((rc = linear_prec_forward(attproj, atty, p->attprojw + l * C * C, W16(attprojw, l * C * C),
                               p->attprojb + l * C, (int)N, (int)C, (int)C, 1, GEMM_NONE)))
            return rc;
        if (m->lora.A[1])
            lora_site_forward(m, 1, l, attproj, a->lora_tmp[1] + s * N * R, atty, (int)N);
        residual_scaled_forward(res2, resid, attproj, NULL, N, (int)C);
        layernorm_forward(ln2, a->ln2_mean + s * N, a->ln2_rstd + s * N, res2,
                          p->ln2w + l * C, p->ln2b + l * C, (int)N, (int)C, c->ln_eps);
        if (w16 && !m->lora.A[2]) { /* GELU fused; the pre-activation is not needed */
            if ((rc = linear_prec_forward(fchg, ln2, p->fcw + l * C * F, W16(fcw, l * C * F),
                                   p->fcb + l * F, (int)N, (int)C, (int)F, 1, GEMM_GELU_TANH)))
                return rc;
        } else {
            if ((rc = linear_prec_forward(fch, ln2, p->fcw + l * C * F, W16(fcw, l * C * F),
                                   p->fcb + l * F, (int)N, (int)C, (int)F, 1, GEMM_NONE)))
                return rc;
            if (m->lora.A[2])
                lora_site_forward(m, 2, l, fch, a->lora_tmp[2] + s * N * R, ln2, (int)N);
            gelu_tanh_forward(fchg, fch, N * F);
        }
        if ((rc = linear_prec_forward(fcproj, fchg, p->fcprojw + l * F * C, W16(fcprojw, l * F * C),
                               p->fcprojb + l * C, (int)N, (int)F, (int)C, 1, GEMM_NONE)))
            return rc;
#undef W16
        if (m->lora.A[3])
            lora_site_forward(m, 3, l, fcproj, a->lora_tmp[3] + s * N * R, fchg, (int)N);
        residual_scaled_forward(res3, res2, fcproj, NULL, N, (int)C);
    }
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd,
                      a->res3 + (m->inference ? 0 : (size_t)(L - 1) * N * C),
                      p->lnfw, p->lnfb, (int)N, (int)C, c->ln_eps);
    return MAMA_OK;
}

/* ---------------------------------------------------------------- backward */

void gpt2_zero_grad(gpt2_model *m) {
    if (m->lora_grad_memory) memset(m->lora_grad_memory, 0, m->num_lora * sizeof(float));
    size_t n_added = (size_t)(m->cfg.vocab_size - m->cfg.added_from);
    memset(m->wte_added_grad, 0, n_added * m->cfg.n_embd * sizeof(float));
}

/* Backward's activation gradients for the capacity of the activation block. */
static mama_status make_dacts(gpt2_model *m) {
    int64_t N = (int64_t)m->acts_capacity, C = m->cfg.n_embd, F = m->cfg.n_inner;
    int64_t R = m->lora_cfg.rank, W = F > C ? F : C;
    ptable *t = &m->dtab;
    ptable_clear(t);
#define D(field, ...) ptable_add(t, #field, MAMA_F32, PTABLE_SLOT(gpt2_dacts, field), \
                                 PTABLE_SHAPE(__VA_ARGS__))
    D(dres, N, C);  D(dres2, N, C);  D(dln, N, C);  D(datty, N, C);  D(dqkv, N, 3 * C);
    D(dfch, N, F);  D(dfchg, N, F);  D(dtmp, N, R);  D(xd, N, W);  D(dxd, N, W);
#undef D
    void *block;
    if (ptable_make(t, &block, &m->dacts) != MAMA_OK)
        return mama_errorf(MAMA_ENOMEM, "gpt2_backward: cannot allocate the activation "
                           "gradients (%.1f MB)", t->bytes / 1e6);
    m->grad_scratch = block;
    return MAMA_OK;
}

mama_status gpt2_backward(gpt2_model *m, const float *dlnf) {
    const gpt2_config *c = &m->cfg;
    if (!m->B) return mama_errorf(MAMA_EINVAL, "gpt2_backward: no forward pass to go back "
                                  "through; call gpt2_forward first");
    if (m->inference)
        return mama_errorf(MAMA_EINVAL, "gpt2_backward: the model is in inference mode "
                           "(activations not kept); gpt2_set_inference(m, 0) before forward");
    size_t N = (size_t)m->B * m->T, C = c->n_embd, F = c->n_inner;
    int L = c->n_layer, NH = c->n_head, R = m->lora_cfg.rank, B = m->B, T = m->T;
    gpt2_acts *a = &m->acts;
    gpt2_params *p = &m->params;
    if (!m->grad_scratch) {
        mama_status rc = make_dacts(m);
        if (rc) return rc;
    }
    const gpt2_dacts *d = &m->dacts;
    float *dres = d->dres, *dres2 = d->dres2, *dln = d->dln, *datty = d->datty;
    float *dqkv = d->dqkv, *dfch = d->dfch, *dfchg = d->dfchg, *dtmp = d->dtmp;
    float *xd = d->xd, *dxd = d->dxd;

    memset(dres, 0, N * C * sizeof(float));
    layernorm_backward(dres, NULL, NULL, dlnf, a->res3 + (size_t)(L - 1) * N * C, p->lnfw,
                       a->lnf_mean, a->lnf_rstd, (int)N, (int)C);
    for (int l = L - 1; l >= 0; l--) {
        const float *resid = l == 0 ? a->encoded : a->res3 + (size_t)(l - 1) * N * C;
        float *ln1 = a->ln1 + l * N * C, *qkv = a->qkv + l * N * 3 * C;
        float *atty = a->atty + l * N * C, *res2 = a->res2 + l * N * C;
        float *ln2 = a->ln2 + l * N * C, *fch = a->fch + l * N * F;
        float *fchg = a->fch_gelu + l * N * F;

        /* MLP branch: dres is d(res3) = d(fcproj) and part of d(res2). */
        memset(dfchg, 0, N * F * sizeof(float));
        if (m->lora.A[3])
            lora_site_backward(m, 3, l, dfchg, dres, fchg,
                               a->lora_tmp[3] + l * N * R, (int)N, dtmp, xd, dxd);
        linear_in_out_backward(dfchg, NULL, NULL, dres, fchg, p->fcprojw + l * F * C, (int)N, (int)F,
                        (int)C);
        memset(dfch, 0, N * F * sizeof(float));
        gelu_tanh_backward(dfch, dfchg, fch, N * F);
        memset(dln, 0, N * C * sizeof(float));
        if (m->lora.A[2])
            lora_site_backward(m, 2, l, dln, dfch, ln2,
                               a->lora_tmp[2] + l * N * R, (int)N, dtmp, xd, dxd);
        linear_in_out_backward(dln, NULL, NULL, dfch, ln2, p->fcw + l * C * F, (int)N, (int)C, (int)F);
        memcpy(dres2, dres, N * C * sizeof(float));
        layernorm_backward(dres2, NULL, NULL, dln, res2, p->ln2w + l * C, a->ln2_mean + l * N,
                           a->ln2_rstd + l * N, (int)N, (int)C);

        /* Attention branch: dres2 is d(attproj) and part of d(resid). */
        memset(datty, 0, N * C * sizeof(float));
        if (m->lora.A[1])
            lora_site_backward(m, 1, l, datty, dres2, atty,
                               a->lora_tmp[1] + l * N * R, (int)N, dtmp, xd, dxd);
        linear_in_out_backward(datty, NULL, NULL, dres2, atty, p->attprojw + l * C * C, (int)N,
                        (int)C, (int)C);
        memset(dqkv, 0, N * 3 * C * sizeof(float));
        mama_status rc = attention_backward(dqkv, datty, qkv, atty, a->att_lse + l * N * NH,
                                            a->mask, B, T, (int)C, NH, layer_scale(c, l), 1);
        if (rc) return rc;
        memset(dln, 0, N * C * sizeof(float));
        if (m->lora.A[0])
            lora_site_backward(m, 0, l, dln, dqkv, ln1,
                               a->lora_tmp[0] + l * N * R, (int)N, dtmp, xd, dxd);
        linear_in_out_backward(dln, NULL, NULL, dqkv, ln1, p->qkvw + l * C * 3 * C, (int)N, (int)C,
                        (int)(3 * C));
        memcpy(dres, dres2, N * C * sizeof(float));
        layernorm_backward(dres, NULL, NULL, dln, resid, p->ln1w + l * C, a->ln1_mean + l * N,
                           a->ln1_rstd + l * N, (int)N, (int)C);
    }
    /* Embeddings: only the added special tokens' rows are trainable. */
    for (size_t i = 0; i < N; i++) {
        int id = a->ids[i];
        if (id < c->added_from) continue;
        float *g = m->wte_added_grad + (size_t)(id - c->added_from) * C;
        const float *d = dres + i * C;
        for (size_t k = 0; k < C; k++) g[k] += d[k];
    }
    return MAMA_OK;
}
