/* step.c: one MaMA training step (step.h).
 * Legend: B reports, Bv images through the tower (B, or 2B with the second views), H W
 * pixels, T tokens, S sentences, C image width, Ct text width, E embedding, Np patches,
 * Hd local hidden width. */
#include "engine/train/step.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/ops.h"
#include "engine/text/text_pool.h"
#include "engine/train/loss.h"

/* Everything a step computes between the towers, in one block (a ptable), rebuilt only when
 * the batch shape changes. */
struct train_work {
    ptable tab;
    void *block;
    int B, H, W, Np, T, S, late;
    struct {
        float *imgs;             /* (Bv,3,H,W) both views side by side */
        float *maskf;            /* (B,T) */
        float *tpool, *dtpool;   /* (B,Ct) */
        float *t, *tnorm, *dt, *dtlin;      /* (B,E), (B), (B,E), (B,E) */
        float *dproj;            /* (Bv,E) */
        float *dpooled;          /* (Bv,C) */
        float *dpatch;           /* (Bv,Np,C) */
        float *dtok;             /* (B,T,Ct) */
        float *clip1, *clip2;    /* CLIP_LOSS_SCRATCH(B) */
        float *ntx;              /* ntxent_scratch_floats(B,E) */
        float *dz;               /* (Bv,E) */
        float *patches;          /* (B*Np,C) */
        float *pn, *pnorm, *dpn, *dplin;    /* (B*Np,E), (B*Np), (B*Np,E), (B*Np,E) */
        float *sents, *dsents;   /* (S,Ct) */
        float *sn, *snorm, *dsn, *dslin;    /* (S,E), (S), (S,E), (S,E) */
        float *sla;              /* sla_work_bytes / 4 */
    } p;
};

const char *train_term_name(int term) {
    static const char *const n[TRAIN_TERMS] = {"L_VT", "L_VV", "L_VT2", "SLA"};
    return term >= 0 && term < TRAIN_TERMS ? n[term] : "?";
}

train_config train_config_default(void) {
    train_config c = {
        .local_hidden = 2048, .late_step = 8000, .lr = 4e-5f, .lr_floor = 1e-8f,
        .warmup = 4000, .total = 40000, .adamw = adamw_config_default(), .clip_norm = 1.0f,
        .accum = 1, .recompute = 0, .seed = 0,
    };
    return c;
}

static int text_width(const trainer *t) {
    return t->gpt2 ? t->gpt2->cfg.n_embd : t->bert->cfg.hidden;
}

/* ---------------------------------------------------------------- weight decay rules */
static int in_list(const char *name, const char *const *list) {
    for (int i = 0; list[i]; i++)
        if (strcmp(name, list[i]) == 0) return 1;
    return 0;
}
static int vit_decay(const char *n) {
    static const char *const w[] = {"patch_w", "qkvw", "attprojw", "fc1w", "fc2w", "proj_w", NULL};
    return in_list(n, w);
}
static int head_decay(const char *n) {
    static const char *const w[] = {"w1", "w2", NULL};
    return in_list(n, w);
}
static int bert_decay(const char *n) {
    static const char *const w[] = {"qkvw", "attow", "fcw", "projw", NULL};
    return in_list(n, w);
}
static int lora_decay(const char *n) { (void)n; return 1; }   /* A and B are linear maps */

/* ---------------------------------------------------------------- create / free */
static mama_status make_heads(trainer *t) {
    int C = t->vit->cfg.width, Ct = text_width(t), E = t->vit->cfg.embed;
    int Hd = t->cfg.local_hidden;
    head_config tp = {.in = Ct, .hidden = 0, .out = E, .bias = 1};
    /* no biases before a BatchNorm: their gradient is exactly zero (the batch mean removes
     * them), so AdamW would only random-walk them on rounding noise */
    head_config il = {.in = C, .hidden = Hd, .out = E, .bias = 0, .last_affine = 0};
    head_config tl = {.in = Ct, .hidden = Hd, .out = E, .bias = 0, .last_affine = 0};
    head_config sc = {.in = C, .hidden = C, .out = E, .bias = 0, .last_affine = 1};
    mama_status rc;
    if ((rc = head_create(&tp, &t->txt_proj)) || (rc = head_create(&il, &t->img_local)) ||
        (rc = head_create(&tl, &t->txt_local)) || (rc = head_create(&sc, &t->simclr)))
        return rc;
    head_init_random(t->txt_proj, t->cfg.seed + 1);
    head_init_random(t->img_local, t->cfg.seed + 2);
    head_init_random(t->txt_local, t->cfg.seed + 3);
    head_init_random(t->simclr, t->cfg.seed + 4);
    return MAMA_OK;
}

static mama_status make_scales(trainer *t) {
    ptable_add(&t->stab, "logit_scale", MAMA_F32, PTABLE_SLOT(train_scales, logit_scale),
               PTABLE_SHAPE(1));
    ptable_add(&t->stab, "logit_scale_local", MAMA_F32,
               PTABLE_SLOT(train_scales, logit_scale_local), PTABLE_SHAPE(1));
    void *p = NULL, *g = NULL;
    mama_status rc = ptable_make(&t->stab, &p, &t->scales);
    if (rc != MAMA_OK) return rc;
    t->scales_memory = p;
    if ((rc = ptable_alloc(&t->stab, &g)) != MAMA_OK) return rc;
    t->dscales_memory = g;
    ptable_point(&t->stab, g, &t->dscales);
    *t->scales.logit_scale = LOGIT_SCALE_INIT;
    *t->scales.logit_scale_local = LOGIT_SCALE_INIT;
    return MAMA_OK;
}

static mama_status register_all(trainer *t) {
    adamw *o = &t->opt;
    vit_model *v = t->vit;
    mama_status rc;
    if ((rc = adamw_add_table(o, &v->ptab, v->params_memory, v->grads_memory, "vision.",
                              vit_decay)))
        return rc;
    if (t->gpt2) {
        gpt2_model *g = t->gpt2;
        if (g->ltab.bytes &&
            (rc = adamw_add_table(o, &g->ltab, g->lora_memory, g->lora_grad_memory, "text.",
                                  lora_decay)))
            return rc;
        int nadd = g->cfg.vocab_size - g->cfg.added_from;
        if (nadd > 0 &&
            (rc = adamw_add(o, "text.wte_added",
                            g->params.wte + (size_t)g->cfg.added_from * g->cfg.n_embd,
                            g->wte_added_grad, (size_t)nadd * g->cfg.n_embd, 0)))
            return rc;
    } else {
        bert_model *b = t->bert;
        if ((rc = adamw_add_table(o, &b->ptab, b->params_memory, b->grads_memory, "text.",
                                  bert_decay)))
            return rc;
    }
    struct { head *h; const char *p; } hs[] = {
        {t->txt_proj, "txt_proj."}, {t->img_local, "img_local."},
        {t->txt_local, "txt_local."}, {t->simclr, "simclr."}};
    for (int i = 0; i < 4; i++)
        if ((rc = adamw_add_table(o, &hs[i].h->ptab, hs[i].h->params_memory,
                                  hs[i].h->grads_memory, hs[i].p, head_decay)))
            return rc;
    return adamw_add_table(o, &t->stab, t->scales_memory, t->dscales_memory, "", NULL);
}

mama_status trainer_create(const train_config *cfg, vit_model *vit, gpt2_model *gpt2,
                           bert_model *bert, trainer **out) {
    *out = NULL;
    if (!cfg || !vit || (!gpt2 == !bert))
        return mama_errorf(MAMA_EINVAL, "trainer: needs an image tower and exactly one text "
                           "tower (GPT-2 or BERT)");
    if (vit->cfg.embed <= 0)
        return mama_errorf(MAMA_EINVAL, "trainer: the image tower has no projection (embed 0)");
    if (cfg->accum < 1 || cfg->local_hidden < 1 || cfg->warmup < 1 || cfg->total < cfg->warmup
        || !(cfg->lr > 0) || cfg->lr_floor < 0 || cfg->clip_norm < 0 || cfg->late_step < 0)
        return mama_errorf(MAMA_EINVAL, "trainer: bad config (accum %d >= 1, local_hidden %d "
                           ">= 1, 1 <= warmup %ld <= total %ld, lr %g > 0, floor, clip >= 0)",
                           cfg->accum, cfg->local_hidden, cfg->warmup, cfg->total,
                           (double)cfg->lr);
    trainer *t = calloc(1, sizeof *t);
    if (!t) return mama_errorf(MAMA_ENOMEM, "trainer: out of memory");
    t->cfg = *cfg;
    t->vit = vit;
    t->gpt2 = gpt2;
    t->bert = bert;
    ptable_init(&t->stab);
    adamw_init(&t->opt, &cfg->adamw);
    t->w = calloc(1, sizeof *t->w);
    mama_status rc = t->w ? MAMA_OK : mama_errorf(MAMA_ENOMEM, "trainer: out of memory");
    if (rc == MAMA_OK) {
        ptable_init(&t->w->tab);
        rc = vit_set_train(vit, 1);
    }
    if (rc == MAMA_OK && gpt2) gpt2_set_inference(gpt2, 0);
    if (rc == MAMA_OK && bert) rc = bert_set_train(bert, 1);
    if (rc == MAMA_OK) rc = make_heads(t);
    if (rc == MAMA_OK) rc = make_scales(t);
    if (rc == MAMA_OK) rc = register_all(t);
    /* the final LayerNorm only feeds the local loss and stays frozen (MAMA_METHOD.md 1) */
    if (rc == MAMA_OK) adamw_set_frozen(&t->opt, "vision.lnf", 1);
    if (rc != MAMA_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", mama_last_error());
        trainer_free(t);
        return mama_errorf(rc, "trainer: %s", why);
    }
    *out = t;
    return MAMA_OK;
}

void trainer_free(trainer *t) {
    if (!t) return;
    head_free(t->txt_proj);
    head_free(t->img_local);
    head_free(t->txt_local);
    head_free(t->simclr);
    ptable_block_free(t->scales_memory);
    ptable_block_free(t->dscales_memory);
    ptable_free(&t->stab);
    adamw_free(&t->opt);
    if (t->w) {
        ptable_block_free(t->w->block);
        ptable_free(&t->w->tab);
        free(t->w);
    }
    free(t);
}

/* ---------------------------------------------------------------- work block */
static mama_status work_prepare(trainer *t, const train_batch *b, int late) {
    train_work *w = t->w;
    int S = b->sent_off ? b->sent_off[b->B] : 0;
    int Np = (b->H / t->vit->cfg.patch) * (b->W / t->vit->cfg.patch);
    if (w->block && w->B == b->B && w->H == b->H && w->W == b->W && w->T == b->T &&
        w->S == S && w->late == late)
        return MAMA_OK;
    ptable_block_free(w->block);
    w->block = NULL;
    ptable_clear(&w->tab);
    int64_t B = b->B, Bv = late ? 2 * B : B, T = b->T, C = t->vit->cfg.width;
    int64_t Ct = text_width(t), E = t->vit->cfg.embed, Sl = late ? S : 0, Pl = late ? B * Np : 0;
    int64_t L = late ? 1 : 0;
    ptable *tb = &w->tab;
#define W_(f, ...) ptable_add(tb, #f, MAMA_F32, offsetof(train_work, p.f), PTABLE_SHAPE(__VA_ARGS__))
    W_(imgs, L * Bv * 3 * b->H * b->W);  W_(maskf, B, T);  W_(tpool, B, Ct);  W_(dtpool, B, Ct);
    W_(t, B, E);  W_(tnorm, B);  W_(dt, B, E);  W_(dtlin, B, E);  W_(dproj, Bv, E);
    W_(dpooled, Bv, C);  W_(dpatch, Bv * Np, C);  W_(dtok, B * T, Ct);
    W_(clip1, (int64_t)CLIP_LOSS_SCRATCH(B));  W_(clip2, L * (int64_t)CLIP_LOSS_SCRATCH(B));
    W_(ntx, L * (int64_t)ntxent_scratch_floats((int)B, (int)E));  W_(dz, L * Bv, E);
    W_(patches, Pl, C);  W_(pn, Pl, E);  W_(pnorm, Pl);  W_(dpn, Pl, E);  W_(dplin, Pl, E);
    W_(sents, Sl, Ct);  W_(dsents, Sl, Ct);  W_(sn, Sl, E);  W_(snorm, Sl);  W_(dsn, Sl, E);
    W_(dslin, Sl, E);
    W_(sla, L * (int64_t)((sla_work_bytes((int)B, Np, S) + 3) / 4));
#undef W_
    void *blk;
    /* the pointer struct is train_work itself: slots are offsets into it */
    if (ptable_make(tb, &blk, w) != MAMA_OK)
        return mama_errorf(MAMA_ENOMEM, "trainer: cannot allocate %.1f MB of step buffers for "
                           "batch %d", tb->bytes / 1e6, b->B);
    w->block = blk;
    w->B = b->B; w->H = b->H; w->W = b->W; w->T = b->T; w->S = S; w->late = late;
    w->Np = Np;
    return MAMA_OK;
}

/* ---------------------------------------------------------------- the step */
static mama_status check_batch(const trainer *t, const train_batch *b, int late) {
    if (!b || !b->img || !b->ids || !b->mask || b->B < 2 || b->T < 1)
        return mama_errorf(MAMA_EINVAL, "trainer_step: a batch needs images, ids and masks and "
                           "B >= 2 (contrastive terms need negatives); got B %d", b ? b->B : 0);
    if (late && (!b->img2 || !b->sent_pos || !b->sent_off))
        return mama_errorf(MAMA_EINVAL, "trainer_step: from late_step (%ld) on a batch needs "
                           "second views and sentence positions", t->cfg.late_step);
    if (late) {
        if (b->sent_off[0] != 0)
            return mama_errorf(MAMA_EINVAL, "trainer_step: sentence offsets must start at 0");
        for (int j = 0; j < b->B; j++)
            if (b->sent_off[j + 1] <= b->sent_off[j] || b->sent_off[j + 1] > b->B * b->T)
                return mama_errorf(MAMA_EINVAL, "trainer_step: report %d has no sentence or "
                                   "its offsets (%d..%d) run outside the %d tokens: every "
                                   "report needs at least one separator token", j,
                                   b->sent_off[j], b->sent_off[j + 1], b->B * b->T);
        int S = b->sent_off[b->B];
        for (int k = 0; k < S; k++)
            if (b->sent_pos[k] < 0 || b->sent_pos[k] >= b->B * b->T)
                return mama_errorf(MAMA_EINVAL, "trainer_step: sentence position %d (%d) "
                                   "outside the %dx%d tokens", k, b->sent_pos[k], b->B, b->T);
    }
    return MAMA_OK;
}

static void set_frozen(trainer *t, int late) {
    adamw_set_frozen(&t->opt, "img_local.", !late);
    adamw_set_frozen(&t->opt, "txt_local.", !late);
    adamw_set_frozen(&t->opt, "simclr.", !late);
    adamw_set_frozen(&t->opt, "logit_scale_local", !late);
}

static float *text_features(trainer *t) {
    return t->gpt2 ? t->gpt2->acts.lnf : t->bert->hidden;
}

static mama_status text_forward(trainer *t, const train_batch *b) {
    train_work *w = t->w;
    for (size_t i = 0; i < (size_t)b->B * b->T; i++) w->p.maskf[i] = (float)b->mask[i];
    if (t->gpt2) {
        gpt2_set_train(t->gpt2, 1, t->cfg.seed * 1000003ull + (unsigned long long)t->step *
                       (unsigned long long)t->cfg.accum + (unsigned long long)t->micro);
        return gpt2_forward(t->gpt2, b->ids, w->p.maskf, b->B, b->T);
    }
    return bert_forward(t->bert, b->ids, NULL, w->p.maskf, b->B, b->T);
}

/* Forward of every term; fills r->loss. */
static mama_status forward(trainer *t, const train_batch *b, int late, train_report *r) {
    train_work *w = t->w;
    vit_model *v = t->vit;
    int B = b->B, Bv = late ? 2 * B : B, E = v->cfg.embed, C = v->cfg.width, Ct = text_width(t);
    const float *in = b->img;
    if (late) {
        size_t per = (size_t)B * 3 * b->H * b->W;
        memcpy(w->p.imgs, b->img, per * sizeof(float));
        memcpy(w->p.imgs + per, b->img2, per * sizeof(float));
        in = w->p.imgs;
    }
    mama_status rc = vit_forward(v, in, Bv, b->H, b->W,
                                 t->cfg.recompute ? VIT_KEEP_INPUTS : VIT_KEEP_ALL);
    if (rc != MAMA_OK) return rc;
    if ((rc = text_forward(t, b)) != MAMA_OK) return rc;
    const float *feat = text_features(t);
    if ((rc = text_mean_pool_forward(w->p.tpool, feat, w->p.maskf, B, b->T, Ct)) != MAMA_OK)
        return rc;
    if ((rc = head_forward(t->txt_proj, w->p.tpool, B, 1)) != MAMA_OK) return rc;
    memcpy(w->p.t, t->txt_proj->acts.out, (size_t)B * E * sizeof(float));
    l2norm_rows(w->p.t, w->p.tnorm, B, E);
    float ls = *t->scales.logit_scale, lsl = *t->scales.logit_scale_local;
    const float *proj = vit_projected(v);
    r->loss[TRAIN_VT] = clip_loss_forward(w->p.clip1, proj, w->p.t, ls, B, E);
    if (!late) return MAMA_OK;

    if ((rc = head_forward(t->simclr, vit_pooled(v), Bv, 1)) != MAMA_OK) return rc;
    const float *z = t->simclr->acts.out;
    r->loss[TRAIN_VV] = ntxent_forward(w->p.ntx, z, z + (size_t)B * E, B, E, NTXENT_TEMPERATURE);
    r->loss[TRAIN_VT2] = clip_loss_forward(w->p.clip2, proj + (size_t)B * E, w->p.t, ls, B, E);

    int Np = v->Np, S = b->sent_off[B];
    for (int i = 0; i < B; i++)
        memcpy(w->p.patches + (size_t)i * Np * C, vit_patch_tokens(v, i),
               (size_t)Np * C * sizeof(float));
    if ((rc = head_forward(t->img_local, w->p.patches, B * Np, 1)) != MAMA_OK) return rc;
    memcpy(w->p.pn, t->img_local->acts.out, (size_t)B * Np * E * sizeof(float));
    l2norm_rows(w->p.pn, w->p.pnorm, B * Np, E);
    text_gather_rows_forward(w->p.sents, feat, b->sent_pos, S, Ct);
    if ((rc = head_forward(t->txt_local, w->p.sents, S, 1)) != MAMA_OK) return rc;
    memcpy(w->p.sn, t->txt_local->acts.out, (size_t)S * E * sizeof(float));
    l2norm_rows(w->p.sn, w->p.snorm, S, E);
    return sla_forward(&r->loss[TRAIN_SLA], w->p.sla, w->p.pn, w->p.sn, b->sent_off, lsl, B, Np,
                       S, E);
}

static void zero(float *x, size_t n) { memset(x, 0, n * sizeof(float)); }

static mama_status backward(trainer *t, const train_batch *b, int late) {
    train_work *w = t->w;
    vit_model *v = t->vit;
    int B = b->B, Bv = late ? 2 * B : B, E = v->cfg.embed, C = v->cfg.width, Ct = text_width(t);
    int Np = v->Np, S = late ? b->sent_off[B] : 0;
    float wt = 1.0f / (float)t->cfg.accum;
    float ls = *t->scales.logit_scale, lsl = *t->scales.logit_scale_local;
    const float *proj = vit_projected(v);
    mama_status rc;
    zero(w->p.dproj, (size_t)Bv * E);
    zero(w->p.dt, (size_t)B * E);
    zero(w->p.dtok, (size_t)B * b->T * Ct);
    clip_loss_backward(w->p.dproj, w->p.dt, t->dscales.logit_scale, w->p.clip1, proj, w->p.t,
                       ls, B, E, wt);
    if (late) {
        clip_loss_backward(w->p.dproj + (size_t)B * E, w->p.dt, t->dscales.logit_scale,
                           w->p.clip2, proj + (size_t)B * E, w->p.t, ls, B, E, wt);
        /* SimCLR head on the pooled features of both views */
        zero(w->p.dz, (size_t)Bv * E);
        ntxent_backward(w->p.dz, w->p.dz + (size_t)B * E, w->p.ntx, B, E, NTXENT_TEMPERATURE, wt);
        zero(w->p.dpooled, (size_t)Bv * C);
        if ((rc = head_backward(t->simclr, w->p.dpooled, vit_pooled(v), w->p.dz))) return rc;
        /* SLA into both local heads */
        zero(w->p.dpn, (size_t)B * Np * E);
        zero(w->p.dsn, (size_t)S * E);
        sla_backward(w->p.dpn, w->p.dsn, t->dscales.logit_scale_local, w->p.sla, w->p.pn,
                     w->p.sn, b->sent_off, lsl, B, Np, S, E, wt);
        zero(w->p.dplin, (size_t)B * Np * E);
        l2norm_rows_backward(w->p.dplin, w->p.dpn, w->p.pn, w->p.pnorm, B * Np, E);
        zero(w->p.dpatch, (size_t)Bv * Np * C);   /* second views' patches feed nothing */
        if ((rc = head_backward(t->img_local, w->p.dpatch, w->p.patches, w->p.dplin))) return rc;
        zero(w->p.dslin, (size_t)S * E);
        l2norm_rows_backward(w->p.dslin, w->p.dsn, w->p.sn, w->p.snorm, S, E);
        zero(w->p.dsents, (size_t)S * Ct);
        if ((rc = head_backward(t->txt_local, w->p.dsents, w->p.sents, w->p.dslin))) return rc;
        text_gather_rows_backward(w->p.dtok, w->p.dsents, b->sent_pos, S, Ct);
    }
    /* global text path: l2 norm, projection, masked mean */
    zero(w->p.dtlin, (size_t)B * E);
    l2norm_rows_backward(w->p.dtlin, w->p.dt, w->p.t, w->p.tnorm, B, E);
    zero(w->p.dtpool, (size_t)B * Ct);
    if ((rc = head_backward(t->txt_proj, w->p.dtpool, w->p.tpool, w->p.dtlin))) return rc;
    text_mean_pool_backward(w->p.dtok, w->p.dtpool, w->p.maskf, B, b->T, Ct);
    rc = t->gpt2 ? gpt2_backward(t->gpt2, w->p.dtok) : bert_backward(t->bert, w->p.dtok);
    if (rc != MAMA_OK) return rc;
    return vit_backward(v, w->p.dproj, late ? w->p.dpooled : NULL, late ? w->p.dpatch : NULL);
}

static void skip(trainer *t, train_report *r, const char *what) {
    r->skipped = 1;
    snprintf(r->bad, sizeof r->bad, "%s", what);
    adamw_zero_grad(&t->opt);
    t->micro = 0;
}

mama_status trainer_step(trainer *t, const train_batch *b, train_report *r) {
    if (!t || !r) return mama_errorf(MAMA_EINVAL, "trainer_step: NULL trainer or report");
    memset(r, 0, sizeof *r);
    int late = train_is_late(t->step, t->cfg.late_step);
    mama_status rc = check_batch(t, b, late);
    if (rc == MAMA_OK) rc = work_prepare(t, b, late);
    if (rc != MAMA_OK) return rc;
    r->late = late;
    r->step = t->step;
    if (t->micro == 0) adamw_zero_grad(&t->opt);
    set_frozen(t, late);

    if ((rc = forward(t, b, late, r)) != MAMA_OK) return rc;
    for (int k = 0; k < TRAIN_TERMS; k++) {
        r->total += r->loss[k];
        if (!isfinite(r->loss[k])) {
            skip(t, r, train_term_name(k));
            return MAMA_OK;
        }
    }
    if ((rc = backward(t, b, late)) != MAMA_OK) return rc;
    /* frozen tensors get no gradient (the towers compute some, e.g. the final LN's) */
    for (int i = 0; i < t->opt.n; i++)
        if (t->opt.t[i].frozen) memset(t->opt.t[i].grad, 0, t->opt.t[i].n * sizeof(float));
    if (++t->micro < t->cfg.accum) return MAMA_OK;

    int bad = adamw_first_nonfinite(&t->opt);
    if (bad >= 0) {
        skip(t, r, t->opt.t[bad].name);
        return MAMA_OK;
    }
    r->grad_norm = adamw_clip(&t->opt, t->cfg.clip_norm);
    r->lr = lr_schedule(t->step, t->cfg.lr, t->cfg.lr_floor, t->cfg.warmup, t->cfg.total);
    adamw_update(&t->opt, r->lr);
    float *sc[2] = {t->scales.logit_scale, t->scales.logit_scale_local};
    for (int k = 0; k < 2; k++)
        if (*sc[k] > LOGIT_SCALE_MAX) *sc[k] = LOGIT_SCALE_MAX;
    t->step++;
    t->micro = 0;
    r->updated = 1;
    r->step = t->step;
    return MAMA_OK;
}
