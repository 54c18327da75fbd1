/* step.h: one MaMA training step as an engine call (MAMA_METHOD.md sections 3, 7, 8).
 *
 * Legend: B images = reports per micro-batch, H W pixels, T tokens per report, S sentences
 * in the batch, C image width, Ct text width, E embedding width, Np patches per image,
 * Hd the local heads' hidden width.
 *
 * A trainer borrows an image tower (vit_model, with its projection: E = cfg.embed) and one
 * text tower (GPT-2 with LoRA, or BERT), and owns the heads, the two logit scales and the
 * optimiser. trainer_step takes a batch of (image, second view, report tokens, sentence
 * positions), computes the loss terms, back-propagates and, every `accum` micro-batches,
 * clips, schedules and applies AdamW. It knows nothing of files, DICOM or HTTP.
 *
 * The objective, per micro-batch (weights 1, divided by accum):
 *   L_VT(v, t)                                       always
 *   L_VV = NT-Xent(g(pool(x)), g(pool(x~)), 0.5)     from late_step on
 *   L_VT(v~, t)                                      from late_step on
 *   SLA(local_img(patches of x), local_txt(sentence tokens))   from late_step on
 * v, v~: the tower's projection of the two views (one tower forward over the 2B images,
 * so the SimCLR head's BatchNorm sees both views' 2B rows together); t: l2norm(txt_proj(
 * masked mean of the token features)); sentence features: the token features at
 * sent_pos. Before late_step the local heads, the local scale and the SimCLR head are
 * frozen (no update, no decay, gradients zeroed); the switch reads the step number, so a
 * resume past late_step is right.
 *
 * Trainable: the image tower (its table has no mask token: frozen by construction; the
 * final LayerNorm, which only feeds the local loss, is frozen as section 1 says),
 * the heads, both logit scales (clamped at ln 100 after each update), and for GPT-2 the LoRA
 * adapters and the added-token embedding rows (the base model is frozen), for BERT every
 * parameter. Weight decay only on the weights of linear maps (patch embedding, q/k/v,
 * projections, MLPs, LoRA A/B, heads' Linear weights); none on norms, biases, logit
 * scales, LayerScale, CLS/register/position tokens and embeddings.
 *
 * NaN or inf in a loss term or a gradient is found before the update: the step is
 * skipped (gradients zeroed, no parameter changes, the step number does not advance) and
 * the report names the term or tensor. Same inputs, seed and thread count: the same
 * bytes. */
#ifndef MAMA_TRAIN_STEP_H
#define MAMA_TRAIN_STEP_H

#include <stdint.h>

#include "engine/core/ptable.h"
#include "engine/core/status.h"
#include "engine/text/bert.h"
#include "engine/text/gpt2.h"
#include "engine/train/adamw.h"
#include "engine/train/head.h"
#include "engine/vision/vit.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct train_config {
    int local_hidden;     /* Hd of the local heads (2048 in the paper) */
    long late_step;       /* 8000 */
    float lr, lr_floor;   /* 4e-5, 1e-8 */
    long warmup, total;   /* 4000, 40000 */
    adamw_config adamw;
    float clip_norm;      /* global gradient norm limit; 0 = none */
    int accum;            /* micro-batches per optimiser step (>= 1) */
    int recompute;        /* 1: image tower with per-block recomputation (VIT_KEEP_INPUTS) */
    uint64_t seed;        /* heads' initialisation and LoRA dropout masks */
} train_config;

/* The paper's settings (section 8) with accum 1, clip 1.0 and Hd 2048. */
train_config train_config_default(void);

typedef struct train_batch {
    const float *img;      /* (B,3,H,W) normalised pixels */
    const float *img2;     /* (B,3,H,W) second views (another image of the study, or another
                              augmentation); may be NULL before late_step */
    int B, H, W;
    const int32_t *ids;    /* (B,T) report tokens */
    const int32_t *mask;   /* (B,T) 1 real, 0 padding */
    int T;
    const int *sent_pos;   /* (S) flat b*T+t positions of the sentence tokens, report by report */
    const int *sent_off;   /* (B+1) report j's sentences are sent_pos[sent_off[j] .. sent_off[j+1]) */
} train_batch;

enum train_term { TRAIN_VT = 0, TRAIN_VV, TRAIN_VT2, TRAIN_SLA, TRAIN_TERMS };
/* "L_VT", "L_VV", "L_VT2", "SLA". */
const char *train_term_name(int term);

typedef struct train_report {
    float loss[TRAIN_TERMS];   /* each term (unweighted; 0 when not computed) */
    float total;
    int late;                  /* the late terms were on */
    int updated;               /* this call applied an optimiser step */
    int skipped;               /* a non-finite loss or gradient: nothing applied */
    char bad[128];             /* what was not finite (a term or a tensor name) */
    float lr;                  /* learning rate of the update (when updated) */
    double grad_norm;          /* before clipping (when updated) */
    long step;                 /* optimiser steps done after this call */
} train_report;

typedef struct train_scales {
    float *logit_scale;        /* (1) global, ln s */
    float *logit_scale_local;  /* (1) local */
} train_scales;

typedef struct train_work train_work;   /* step.c */

typedef struct trainer {
    train_config cfg;
    vit_model *vit;            /* borrowed */
    gpt2_model *gpt2;          /* borrowed; exactly one of gpt2 / bert */
    bert_model *bert;
    head *txt_proj;            /* Linear Ct -> E (bias) */
    head *img_local, *txt_local;   /* Linear -> BN -> ReLU -> Linear -> BN(no affine), no
                                      biases (a bias before a BN has zero gradient) */
    head *simclr;              /* Linear C -> C, BN, ReLU, Linear C -> E, BN (no biases) */
    ptable stab;               /* the two scales: parameters and gradients */
    train_scales scales, dscales;
    float *scales_memory, *dscales_memory;
    adamw opt;
    long step;                 /* optimiser steps done */
    int micro;                 /* micro-batches accumulated towards the next step */
    train_work *w;
} trainer;

/* Borrows the towers (which must outlive the trainer), puts them in training mode, makes
 * the heads (seeded PyTorch-default initialisation) and scales (ln(1/0.07)) and registers
 * every trainable tensor with the optimiser, named "vision.<field>", "text.<...>",
 * "txt_proj.", "img_local.", "txt_local.", "simclr." + head fields, "logit_scale",
 * "logit_scale_local". MAMA_EINVAL for a tower without a projection (vit cfg.embed 0), no
 * or two text towers, or a bad config. */
mama_status trainer_create(const train_config *cfg, vit_model *vit, gpt2_model *gpt2,
                           bert_model *bert, trainer **out);
void trainer_free(trainer *t);

/* 1 when the late terms are on at optimiser step `step`. */
static inline int train_is_late(long step, long late_step) { return step >= late_step; }

/* One micro-batch (see above). MAMA_OK also for a skipped step (report->skipped says it);
 * errors (bad shapes, no memory) are returned with nothing applied. */
mama_status trainer_step(trainer *t, const train_batch *b, train_report *report);

#ifdef __cplusplus
}
#endif
#endif
