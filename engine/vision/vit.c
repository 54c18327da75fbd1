/* vit.c: the DINOv2-with-registers image tower: parameter and activation tables and the
 * forward pass. Loading and saving weights live in vit_weights.c; the position-embedding
 * resize in pos_embed.c. Legend as in vit.h: B batch, T tokens (1+R+Np), C width,
 * NH heads, M MLP hidden, L depth, K patch pixels, Np patches, R registers, E embed. */
#include "engine/vision/vit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/ops.h"
#include "engine/ops/pos_embed.h"
#include "engine/core/ptable.h"
#include "engine/vision/vit_impl.h"

mama_status vit_config_validate(const vit_config *c) {
#define CHECK(cond, ...) do { if (!(cond)) return mama_errorf(MAMA_EINVAL, __VA_ARGS__); } while (0)
    CHECK(c->width > 0 && c->width <= 65536, "vision config: width %d out of range 1..65536", c->width);
    CHECK(c->depth > 0 && c->depth <= 1024, "vision config: depth %d out of range 1..1024", c->depth);
    CHECK(c->heads > 0 && c->width % c->heads == 0,
          "vision config: heads %d must be positive and divide width %d", c->heads, c->width);
    CHECK(c->patch > 0 && c->patch <= 1024, "vision config: patch %d out of range", c->patch);
    CHECK(c->image_size >= c->patch && c->image_size <= 16384 && c->image_size % c->patch == 0,
          "vision config: image_size %d must be a positive multiple of patch %d",
          c->image_size, c->patch);
    CHECK(c->n_registers >= 0 && c->n_registers <= 1024,
          "vision config: n_registers %d out of range 0..1024", c->n_registers);
    CHECK(c->mlp_ratio > 0.0f && c->mlp_ratio <= 64.0f && (int)(c->width * c->mlp_ratio) > 0,
          "vision config: mlp_ratio %g out of range", (double)c->mlp_ratio);
    CHECK(c->ln_eps > 0.0f && c->ln_eps < 1.0f, "vision config: ln_eps %g out of range",
          (double)c->ln_eps);
    CHECK(c->layerscale == 0 || c->layerscale == 1, "vision config: layerscale must be 0 or 1");
    CHECK(c->in_chans > 0 && c->in_chans <= 16, "vision config: in_chans %d out of range",
          c->in_chans);
    CHECK(c->embed >= 0 && c->embed <= 65536, "vision config: embed %d out of range", c->embed);
    CHECK(c->pos_plain == 0 || c->pos_plain == 1, "vision config: pos_plain must be 0 or 1");
#undef CHECK
    return MAMA_OK;
}

/* The parameter table: every tensor of the tower, in the order of vit_params (the order
 * is also the order of the model's identity hash, model.c). */
static void param_table(ptable *t, const vit_model *m) {
    const vit_config *c = &m->cfg;
    int64_t C = c->width, L = c->depth, R = c->n_registers, E = c->embed;
    int64_t M = m->M, K = m->K, G0 = m->G0, LS = c->layerscale ? L : 0;
#define P(field, ...) ptable_add(t, #field, MAMA_F32, PTABLE_SLOT(vit_params, field), \
                                 PTABLE_SHAPE(__VA_ARGS__))
    P(patch_w, C, K);  P(patch_b, C);  P(cls, C);  P(reg, R, C);  P(pos, 1 + G0 * G0, C);
    P(ln1w, L, C);  P(ln1b, L, C);  P(qkvw, L, 3 * C, C);  P(qkvb, L, 3 * C);
    P(attprojw, L, C, C);  P(attprojb, L, C);  P(ls1, LS, C);
    P(ln2w, L, C);  P(ln2b, L, C);  P(fc1w, L, M, C);  P(fc1b, L, M);
    P(fc2w, L, C, M);  P(fc2b, L, C);  P(ls2, LS, C);
    P(lnfw, C);  P(lnfb, C);  P(proj_w, E, C);
#undef P
}

mama_status vit_create(const vit_config *cfg, vit_model **out_model) {
    *out_model = NULL;
    mama_status rc = vit_config_validate(cfg);
    if (rc != MAMA_OK) return rc;
    vit_model *m = calloc(1, sizeof *m);
    if (!m) return mama_errorf(MAMA_ENOMEM, "vit_create: out of memory");
    m->cfg = *cfg;
    m->M = (int)(cfg->width * cfg->mlp_ratio);
    m->G0 = cfg->image_size / cfg->patch;
    m->K = cfg->in_chans * cfg->patch * cfg->patch;
    ptable_init(&m->ptab);
    ptable_init(&m->atab);
    ptable_init(&m->dtab);
    param_table(&m->ptab, m);
    void *block;
    if ((rc = ptable_make(&m->ptab, &block, &m->params)) != MAMA_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", mama_last_error());
        vit_free(m);
        return mama_errorf(rc, "vit_create: parameters: %s", why);
    }
    m->params_memory = block;
    m->num_params = m->ptab.bytes / sizeof(float);
    *out_model = m;
    return MAMA_OK;
}

void vit_free(vit_model *m) {
    if (!m) return;
    vit_set_precision(m, MAMA_PREC_FP32); /* drops the bf16 copies */
    ptable_block_free(m->acts_memory);
    ptable_block_free(m->params_memory);
    ptable_block_free(m->grads_memory);
    ptable_block_free(m->dacts_memory);
    ptable_free(&m->dtab);
    ptable_free(&m->atab);
    ptable_free(&m->ptab);
    free(m);
}

/* The activation table for this shape: Lk layer slots for a block's inner activations
 * (L for VIT_KEEP_ALL, else 1) and Lout for block outputs (L unless VIT_KEEP_NONE). */
static void act_table(ptable *t, const vit_model *m, int64_t B, int64_t Np, int64_t Lk,
                      int64_t Lout, int64_t scratch) {
    int64_t C = m->cfg.width, NH = m->cfg.heads, M = m->M, K = m->K, E = m->cfg.embed;
    int64_t T = 1 + (int64_t)m->cfg.n_registers + Np, BT = B * T;
#define A(field, ...) ptable_add(t, #field, MAMA_F32, PTABLE_SLOT(vit_acts, field), \
                                 PTABLE_SHAPE(__VA_ARGS__))
    A(cols, B * Np, K);  A(pos_scratch, scratch);  A(patch_out, B * Np, C);
    A(pos_interp, 1 + Np, C);  A(x0, BT, C);
    A(ln1, Lk, BT, C);  A(ln1_mean, Lk, BT);  A(ln1_rstd, Lk, BT);  A(qkv, Lk, BT, 3 * C);
    A(atty, Lk, BT, C);  A(att_lse, Lk, B, NH, T);  A(attproj, Lk, BT, C);  A(res1, Lk, BT, C);
    A(ln2, Lk, BT, C);  A(ln2_mean, Lk, BT);  A(ln2_rstd, Lk, BT);  A(fch, Lk, BT, M);
    A(fch_gelu, Lk, BT, M);  A(fcproj, Lk, BT, C);  A(res2, Lout, BT, C);
    A(lnf, BT, C);  A(lnf_mean, BT);  A(lnf_rstd, BT);  A(pooled, B, C);  A(proj, B, E);
    A(proj_norm, B);
#undef A
}

/* (Re)builds the activation block for this shape. Called before the layer loop only. */
static mama_status acts_prepare(vit_model *m, int B, int H, int W, int keep_all) {
    int P = m->cfg.patch;
    int Gh = H / P, Gw = W / P;
    if (m->acts_memory && m->B == B && m->H == H && m->W == W && m->keep_all == keep_all)
        return MAMA_OK;
    if (B <= 0 || Gh <= 0 || Gw <= 0)
        return mama_errorf(MAMA_EINVAL, "vit_forward: batch %d and input %dx%d (patch %d) give "
                           "no patches", B, H, W, P);
    size_t Np = (size_t)Gh * Gw;
    size_t scratch = pos_embed_scratch_floats(m->G0, Gh, Gw, m->cfg.width);
    ptable_block_free(m->acts_memory);
    m->acts_memory = NULL;
    m->B = 0;
    ptable_clear(&m->atab);
    act_table(&m->atab, m, B, (int64_t)Np, keep_all == VIT_KEEP_ALL ? m->cfg.depth : 1,
              keep_all != VIT_KEEP_NONE ? m->cfg.depth : 1, (int64_t)scratch);
    void *block;
    if (ptable_make(&m->atab, &block, &m->acts) != MAMA_OK)
        return mama_errorf(MAMA_ENOMEM, "vit_forward: cannot allocate activations for batch %d "
                           "at %dx%d (%.1f MB); use a smaller batch", B, H, W,
                           m->atab.bytes / 1e6);
    m->acts_memory = block;
    m->B = B; m->H = H; m->W = W; m->Gh = Gh; m->Gw = Gw;
    m->Np = (int)Np; m->T = 1 + m->cfg.n_registers + (int)Np; m->keep_all = keep_all;
    return MAMA_OK;
}

/* cols (B*Np, K): row b*Np + gy*Gw + gx holds the patch's pixels in Conv2d weight order
 * (channel, ky, kx), so the patch embedding is one GEMM against patch_w (C, K). */
static void im2col(float *cols, const float *inp, int B, int Cin, int H, int W, int P,
                   int Gh, int Gw) {
    size_t K = (size_t)Cin * P * P;
    #pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++)
        for (int gy = 0; gy < Gh; gy++)
            for (int gx = 0; gx < Gw; gx++) {
                float *row = cols + (((size_t)b * Gh + gy) * Gw + gx) * K;
                for (int c = 0; c < Cin; c++)
                    for (int ky = 0; ky < P; ky++) {
                        const float *src = inp + (((size_t)b * Cin + c) * H + (size_t)gy * P + ky) * W
                                         + (size_t)gx * P;
                        memcpy(row + ((size_t)c * P + ky) * P, src, (size_t)P * sizeof(float));
                    }
            }
}

/* Block l on input x (B,T,C): writes its activations into layer slot vit_slot(m, l) and
 * its output to vit_block_out(m, l). Shared by the forward and by the backward's
 * recomputation (VIT_KEEP_INPUTS), so both run the same arithmetic in the same order. */
mama_status vit_block_forward(vit_model *m, int l, const float *x) {
    const vit_params *w = &m->params;
    vit_acts *a = &m->acts;
    int B = m->B, T = m->T, C = m->cfg.width, NH = m->cfg.heads, M = m->M;
    int BT = B * T;
    float eps = m->cfg.ln_eps;
    size_t li = (size_t)vit_slot(m, l);
    size_t oC = li * BT * C, oT = li * BT, oM = li * BT * M;
    float *ln1 = a->ln1 + oC, *qkv = a->qkv + li * BT * 3 * C, *atty = a->atty + oC;
    float *lse = a->att_lse + li * (size_t)B * NH * T;
    float *attproj = a->attproj + oC, *res1 = a->res1 + oC, *ln2 = a->ln2 + oC;
    float *fch = a->fch + oM, *fchg = a->fch_gelu + oM, *fcproj = a->fcproj + oC;
    float *res2 = vit_block_out(m, l);
    const float attn_scale = 1.0f / sqrtf((float)(C / NH));
    mama_status rc;
    layernorm_forward(ln1, a->ln1_mean + oT, a->ln1_rstd + oT, x,
                      w->ln1w + (size_t)l * C, w->ln1b + (size_t)l * C, BT, C, eps);
    /* bf16 copies serve inference only; training (a kept forward) is fp32 throughout */
    int train = m->keep_all != VIT_KEEP_NONE;
    const vit_weights16 *w16 = train ? NULL : &m->w16;
    size_t l3 = (size_t)l * 3 * C * C, lC = (size_t)l * C * C, lM = (size_t)l * M * C;
#define W16(f, off) (w16 && w16->f ? w16->f + (off) : NULL)
    if ((rc = linear_prec_forward(qkv, ln1, w->qkvw + l3, W16(qkvw, l3),
                                  w->qkvb + (size_t)l * 3 * C, BT, C, 3 * C, 0, GEMM_NONE)))
        return rc;
    if ((rc = attention_forward(atty, lse, qkv, NULL, B, T, C, NH, attn_scale, 0)))
        return rc;
    if ((rc = linear_prec_forward(attproj, atty, w->attprojw + lC, W16(attprojw, lC),
                                  w->attprojb + (size_t)l * C, BT, C, C, 0, GEMM_NONE)))
        return rc;
    residual_scaled_forward(res1, x, attproj, w->ls1 ? w->ls1 + (size_t)l * C : NULL,
                            (size_t)BT, C);
    layernorm_forward(ln2, a->ln2_mean + oT, a->ln2_rstd + oT, res1,
                      w->ln2w + (size_t)l * C, w->ln2b + (size_t)l * C, BT, C, eps);
    if (train) { /* backward needs the pre-activation fch */
        linear_forward(fch, ln2, w->fc1w + lM, w->fc1b + (size_t)l * M, BT, C, M);
        gelu_forward(fchg, fch, (size_t)BT * M);
    } else if ((rc = linear_prec_forward(fchg, ln2, w->fc1w + lM, W16(fc1w, lM),
                                         w->fc1b + (size_t)l * M, BT, C, M, 0, GEMM_GELU_ERF))) {
        return rc;
    }
    if ((rc = linear_prec_forward(fcproj, fchg, w->fc2w + lM, W16(fc2w, lM),
                                  w->fc2b + (size_t)l * C, BT, M, C, 0, GEMM_NONE)))
        return rc;
#undef W16
    residual_scaled_forward(res2, res1, fcproj, w->ls2 ? w->ls2 + (size_t)l * C : NULL,
                            (size_t)BT, C);
    m->slot_layer = l;
    return MAMA_OK;
}

mama_status vit_forward(vit_model *m, const float *inp, int B, int H, int W, int keep_all) {
    if (!m || !inp) return mama_errorf(MAMA_EINVAL, "vit_forward: NULL model or input");
    if (B <= 0 || H < m->cfg.patch || W < m->cfg.patch || H > 65536 || W > 65536)
        return mama_errorf(MAMA_EINVAL, "vit_forward: batch %d of %dx%d images: needs B >= 1 and "
                           "sides of at least one patch (%d px)", B, H, W, m->cfg.patch);
    size_t n_in = (size_t)B * m->cfg.in_chans * H * W;
    for (size_t i = 0; i < n_in; i++)
        if (!isfinite(inp[i]))
            return mama_errorf(MAMA_ENUMERIC, "vit_forward: input pixel %zu is not finite", i);
    if (keep_all < VIT_KEEP_NONE || keep_all > VIT_KEEP_INPUTS)
        return mama_errorf(MAMA_EINVAL, "vit_forward: keep_all %d is not a vit_keep mode",
                           keep_all);
    mama_status rc = acts_prepare(m, B, H, W, keep_all);
    if (rc != MAMA_OK) return rc;

    const vit_config *cfg = &m->cfg;
    const vit_params *w = &m->params;
    vit_acts *a = &m->acts;
    int C = cfg->width, K = m->K, R = cfg->n_registers;
    int T = m->T, Np = m->Np, L = cfg->depth, E = cfg->embed;
    int BT = B * T;
    float eps = cfg->ln_eps;

    /* embeddings: [CLS + pos0, registers, patches + pos] */
    (cfg->pos_plain ? pos_embed_resize_bicubic : pos_embed_resize)(a->pos_interp, a->pos_scratch,
        w->pos, m->G0, m->Gh, m->Gw, H, W, C);
    im2col(a->cols, inp, B, cfg->in_chans, H, W, cfg->patch, m->Gh, m->Gw);
    linear_forward(a->patch_out, a->cols, w->patch_w, w->patch_b, B * Np, K, C);
    #pragma omp parallel for
    for (int b = 0; b < B; b++) {
        float *x = a->x0 + (size_t)b * T * C;
        for (int c = 0; c < C; c++) x[c] = w->cls[c] + a->pos_interp[c];
        if (R > 0) memcpy(x + C, w->reg, (size_t)R * C * sizeof(float));
        for (int p = 0; p < Np; p++) {
            float *xt = x + (size_t)(1 + R + p) * C;
            const float *pe = a->patch_out + ((size_t)b * Np + p) * C;
            const float *pp = a->pos_interp + (size_t)(1 + p) * C;
            for (int c = 0; c < C; c++) xt[c] = pe[c] + pp[c];
        }
    }

    const float *x = a->x0;
    for (int l = 0; l < L; l++) {
        if ((rc = vit_block_forward(m, l, x)) != MAMA_OK) return rc;
        x = vit_block_out(m, l);
    }

    /* x (B,T,C) is the last block's output. Pool BEFORE the final LayerNorm. */
    #pragma omp parallel for
    for (int b = 0; b < B; b++) {
        float *pooled = a->pooled + (size_t)b * C;
        for (int c = 0; c < C; c++) {
            double acc = 0.0;
            for (int t = 0; t < T; t++) acc += x[((size_t)b * T + t) * C + c];
            pooled[c] = (float)(acc / T);
        }
    }
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, x, w->lnfw, w->lnfb, BT, C, eps);
    if (E > 0) {
        linear_forward(a->proj, a->pooled, w->proj_w, NULL, B, C, E);
        l2norm_rows(a->proj, a->proj_norm, B, E);
    }
    return MAMA_OK;
}
