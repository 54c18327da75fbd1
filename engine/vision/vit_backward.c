/* vit_backward.c: training the image tower: the gradient block and the backward pass.
 * Legend as in vit.h: B batch, T tokens (1+R+Np), C width, NH heads, M MLP hidden,
 * L depth, K patch pixels, Np patches, R registers, E embed.
 *
 * The backward walks the forward in reverse: projection and l2 norm, the mean pooling
 * (taken before the final LN) and the final LN of the patch tokens, the blocks (LayerScale
 * residuals, MLP with exact GELU, attention), then the token assembly (CLS, registers,
 * patches + positions), the position resize and the patch embedding (im2col rows against
 * the patch weights; the pixels get no gradient). dres carries the residual stream's
 * gradient down the blocks: each branch's LayerNorm backward accumulates into it, which
 * is the "+ identity" of the residual. */
#include <math.h>
#include <string.h>

#include "engine/ops/ops.h"
#include "engine/ops/pos_embed.h"
#include "engine/vision/vit.h"
#include "engine/vision/vit_impl.h"

mama_status vit_set_train(vit_model *m, int on) {
    if (!m) return mama_errorf(MAMA_EINVAL, "vit_set_train: NULL model");
    if (!on) {
        ptable_block_free(m->grads_memory);
        m->grads_memory = NULL;
        memset(&m->grads, 0, sizeof m->grads);
        return MAMA_OK;
    }
    if (m->grads_memory) return MAMA_OK;
    void *block;
    if (ptable_alloc(&m->ptab, &block) != MAMA_OK)
        return mama_errorf(MAMA_ENOMEM, "vit_set_train: cannot allocate %.1f MB of gradients",
                           m->ptab.bytes / 1e6);
    ptable_point(&m->ptab, block, &m->grads);
    m->grads_memory = block;
    return MAMA_OK;
}

void vit_zero_grad(vit_model *m) {
    if (m && m->grads_memory) memset(m->grads_memory, 0, m->ptab.bytes);
}

static mama_status dacts_prepare(vit_model *m) {
    if (m->dacts_memory && m->dB == m->B && m->dNp == m->Np) return MAMA_OK;
    ptable_block_free(m->dacts_memory);
    m->dacts_memory = NULL;
    ptable_clear(&m->dtab);
    int64_t BT = (int64_t)m->B * m->T, C = m->cfg.width, M = m->M;
    ptable *t = &m->dtab;
#define D(field, ...) ptable_add(t, #field, MAMA_F32, PTABLE_SLOT(vit_dacts, field), \
                                 PTABLE_SHAPE(__VA_ARGS__))
    D(dres, BT, C);  D(dln, BT, C);  D(dbranch, BT, C);  D(datty, BT, C);  D(dqkv, BT, 3 * C);
    D(dfch, BT, M);  D(dfchg, BT, M);  D(dpooled, m->B, C);  D(dlin, m->B, m->cfg.embed);
    D(dpos, 1 + (int64_t)m->Np, C);
#undef D
    void *block;
    if (ptable_make(t, &block, &m->dacts) != MAMA_OK)
        return mama_errorf(MAMA_ENOMEM, "vit_backward: cannot allocate %.1f MB of activation "
                           "gradients", t->bytes / 1e6);
    m->dacts_memory = block;
    m->dB = m->B;
    m->dNp = m->Np;
    return MAMA_OK;
}

static void zero(float *x, size_t n) { memset(x, 0, n * sizeof(float)); }

/* The branch side of out = a + scale * b (the a side is the identity on dres):
 * g (N,C) = scale * dout (assigned), dscale (C) += sum_n b * dout. Rows split over threads
 * for g; dscale by column blocks walking the rows in order (thread-count independent). */
#define LS_CB 16
static void layerscale_backward(float *g, float *dscale, const float *dout, const float *b,
                                const float *scale, size_t N, int C) {
    #pragma omp parallel for schedule(static) if (N * (size_t)C > 65536)
    for (size_t n = 0; n < N; n++) {
        const float *d = dout + n * C;
        float *o = g + n * C;
        for (int c = 0; c < C; c++) o[c] = (scale ? scale[c] : 1.0f) * d[c];
    }
    if (!dscale || !scale) return;
    int nb = (C + LS_CB - 1) / LS_CB;
    #pragma omp parallel for schedule(static) if (N * (size_t)C > 65536)
    for (int cb = 0; cb < nb; cb++) {
        int c0 = cb * LS_CB, c1 = c0 + LS_CB < C ? c0 + LS_CB : C;
        float acc[LS_CB] = {0};
        for (size_t n = 0; n < N; n++)
            for (int c = c0; c < c1; c++) acc[c - c0] += b[n * C + c] * dout[n * C + c];
        for (int c = c0; c < c1; c++) dscale[c] += acc[c - c0];
    }
}

/* Block l's backward; on entry d->dres is the gradient of its output, on return of its
 * input. Its activations must be in slot vit_slot(m, l). */
static mama_status block_backward(vit_model *m, int l, const float *x) {
    const vit_params *w = &m->params;
    vit_params *g = &m->grads;
    const vit_acts *a = &m->acts;
    vit_dacts *d = &m->dacts;
    int B = m->B, T = m->T, C = m->cfg.width, NH = m->cfg.heads, M = m->M;
    int BT = B * T;
    size_t li = (size_t)vit_slot(m, l), lC = (size_t)l * C;
    size_t oC = li * BT * C, oT = li * BT, oM = li * BT * M;
    const float *ln1 = a->ln1 + oC, *qkv = a->qkv + li * BT * 3 * C, *atty = a->atty + oC;
    const float *lse = a->att_lse + li * (size_t)B * NH * T;
    const float *attproj = a->attproj + oC, *res1 = a->res1 + oC, *ln2 = a->ln2 + oC;
    const float *fch = a->fch + oM, *fchg = a->fch_gelu + oM, *fcproj = a->fcproj + oC;
    const float attn_scale = 1.0f / sqrtf((float)(C / NH));

    /* MLP branch: res2 = res1 + ls2 * fc2(gelu(fc1(LN2(res1)))) */
    layerscale_backward(d->dbranch, g->ls2 ? g->ls2 + lC : NULL, d->dres, fcproj,
                        w->ls2 ? w->ls2 + lC : NULL, (size_t)BT, C);
    zero(d->dfchg, (size_t)BT * M);
    linear_backward(d->dfchg, g->fc2w + (size_t)l * C * M, g->fc2b + lC, d->dbranch, fchg,
                    w->fc2w + (size_t)l * C * M, BT, M, C);
    zero(d->dfch, (size_t)BT * M);
    gelu_backward(d->dfch, d->dfchg, fch, (size_t)BT * M);
    zero(d->dln, (size_t)BT * C);
    linear_backward(d->dln, g->fc1w + (size_t)l * M * C, g->fc1b + (size_t)l * M, d->dfch,
                    ln2, w->fc1w + (size_t)l * M * C, BT, C, M);
    layernorm_backward(d->dres, g->ln2w + lC, g->ln2b + lC, d->dln, res1, w->ln2w + lC,
                       a->ln2_mean + oT, a->ln2_rstd + oT, BT, C);

    /* attention branch: res1 = x + ls1 * proj(attn(qkv(LN1(x)))) */
    layerscale_backward(d->dbranch, g->ls1 ? g->ls1 + lC : NULL, d->dres, attproj,
                        w->ls1 ? w->ls1 + lC : NULL, (size_t)BT, C);
    zero(d->datty, (size_t)BT * C);
    linear_backward(d->datty, g->attprojw + (size_t)l * C * C, g->attprojb + lC, d->dbranch,
                    atty, w->attprojw + (size_t)l * C * C, BT, C, C);
    zero(d->dqkv, (size_t)BT * 3 * C);
    mama_status rc = attention_backward(d->dqkv, d->datty, qkv, atty, lse, NULL, B, T, C, NH,
                                        attn_scale, 0);
    if (rc != MAMA_OK) return rc;
    zero(d->dln, (size_t)BT * C);
    /* the key bias's gradient is exactly zero (a per-query constant added to every score of
     * a softmax row changes nothing), so it is not accumulated at all: the fp32 sum would be
     * rounding noise, which AdamW's m / sqrt(v) turns into steps of up to lr */
    float *dqkvb = g->qkvb + (size_t)l * 3 * C;
    float *kb_keep = d->dbranch;   /* free here: (BT,C) >= C floats */
    memcpy(kb_keep, dqkvb + C, (size_t)C * sizeof(float));
    linear_backward(d->dln, g->qkvw + (size_t)l * 3 * C * C, dqkvb, d->dqkv, ln1,
                    w->qkvw + (size_t)l * 3 * C * C, BT, C, 3 * C);
    memcpy(dqkvb + C, kb_keep, (size_t)C * sizeof(float));
    layernorm_backward(d->dres, g->ln1w + lC, g->ln1b + lC, d->dln, x, w->ln1w + lC,
                       a->ln1_mean + oT, a->ln1_rstd + oT, BT, C);
    return MAMA_OK;
}

/* Outputs: projection + l2 norm, mean pooling, final LN on the patch tokens. Leaves the
 * gradient of the last block's output in d->dres. */
static void head_backward(vit_model *m, const float *dproj, const float *dpooled,
                          const float *dpatch) {
    const vit_params *w = &m->params;
    vit_params *g = &m->grads;
    const vit_acts *a = &m->acts;
    vit_dacts *d = &m->dacts;
    int B = m->B, T = m->T, C = m->cfg.width, E = m->cfg.embed, R = m->cfg.n_registers;
    int Np = m->Np, BT = B * T;
    const float *xl = vit_block_out(m, m->cfg.depth - 1);

    zero(d->dpooled, (size_t)B * C);
    if (dpooled) memcpy(d->dpooled, dpooled, (size_t)B * C * sizeof(float));
    if (dproj && E > 0) {
        zero(d->dlin, (size_t)B * E);
        l2norm_rows_backward(d->dlin, dproj, a->proj, a->proj_norm, B, E);
        linear_backward(d->dpooled, g->proj_w, NULL, d->dlin, a->pooled, w->proj_w, B, C, E);
    }
    zero(d->dres, (size_t)BT * C);
    if (dpatch) {
        /* only the patch rows of the final LN feed a loss: CLS and register rows get 0 */
        zero(d->dln, (size_t)BT * C);
        for (int b = 0; b < B; b++)
            memcpy(d->dln + ((size_t)b * T + 1 + R) * C, dpatch + (size_t)b * Np * C,
                   (size_t)Np * C * sizeof(float));
        layernorm_backward(d->dres, g->lnfw, g->lnfb, d->dln, xl, w->lnfw, a->lnf_mean,
                           a->lnf_rstd, BT, C);
    }
    float inv_t = 1.0f / (float)T;
    #pragma omp parallel for
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *dr = d->dres + ((size_t)b * T + t) * C;
            const float *dp = d->dpooled + (size_t)b * C;
            for (int c = 0; c < C; c++) dr[c] += dp[c] * inv_t;
        }
}

/* Token assembly x0 = [cls + pos[0], reg, patch_out + pos[1:]] and what feeds it. */
static void embed_backward(vit_model *m) {
    vit_params *g = &m->grads;
    const vit_acts *a = &m->acts;
    vit_dacts *d = &m->dacts;
    int B = m->B, T = m->T, C = m->cfg.width, R = m->cfg.n_registers, Np = m->Np, K = m->K;
    zero(d->dpos, (size_t)(1 + Np) * C);
    for (int b = 0; b < B; b++) {
        const float *dx = d->dres + (size_t)b * T * C;
        for (int c = 0; c < C; c++) {
            g->cls[c] += dx[c];
            d->dpos[c] += dx[c];
        }
        for (size_t i = 0; i < (size_t)R * C; i++) g->reg[i] += dx[C + i];
        const float *dp = dx + (size_t)(1 + R) * C;
        for (size_t i = 0; i < (size_t)Np * C; i++) d->dpos[C + i] += dp[i];
        /* patch embedding of image b: its Np patch rows are contiguous in dres */
        linear_backward(NULL, g->patch_w, g->patch_b, dp, a->cols + (size_t)b * Np * K,
                        m->params.patch_w, Np, K, C);
    }
    pos_embed_resize_backward(g->pos, a->pos_scratch, d->dpos, m->G0, m->Gh, m->Gw, m->H,
                              m->W, C);
}

mama_status vit_backward(vit_model *m, const float *dproj, const float *dpooled,
                         const float *dpatch) {
    if (!m) return mama_errorf(MAMA_EINVAL, "vit_backward: NULL model");
    if (!m->grads_memory)
        return mama_errorf(MAMA_EINVAL, "vit_backward: call vit_set_train(m, 1) before training");
    if (!m->acts_memory || m->B <= 0 || m->keep_all == VIT_KEEP_NONE)
        return mama_errorf(MAMA_EINVAL, "vit_backward: needs a vit_forward with VIT_KEEP_ALL or "
                           "VIT_KEEP_INPUTS first");
    if (m->cfg.pos_plain && pos_embed_needs_resize(m->G0, m->Gh, m->Gw, m->H, m->W))
        return mama_errorf(MAMA_EUNSUPPORTED,
                           "vit_backward: this tower resizes its position grid with plain bicubic "
                           "(Dinov2Model) and only the antialiased resize has a backward; train at "
                           "the checkpoint's size (%d px)", m->cfg.image_size);
    mama_status rc = dacts_prepare(m);
    if (rc != MAMA_OK) return rc;
    head_backward(m, dproj, dpooled, dpatch);
    for (int l = m->cfg.depth - 1; l >= 0; l--) {
        const float *x = vit_block_in(m, l);
        /* the slot may still hold this block (the forward's last one) */
        if (m->keep_all == VIT_KEEP_INPUTS && m->slot_layer != l &&
            (rc = vit_block_forward(m, l, x)) != MAMA_OK)
            return rc;
        if ((rc = block_backward(m, l, x)) != MAMA_OK) return rc;
    }
    embed_backward(m);
    return MAMA_OK;
}
