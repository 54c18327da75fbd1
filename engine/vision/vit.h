/* vit.h: the image tower, DINOv2 with register tokens (MAMA_METHOD.md section 1).
 *
 * Legend: B batch (images), H W input height and width in pixels, P patch size,
 * Gh Gw patch grid (H/P, W/P), Np patches (Gh*Gw), R register tokens, T tokens
 * (1 + R + Np: [CLS, registers, patches]), C width, NH heads, HS head size (C/NH),
 * M MLP hidden (C * mlp_ratio), L depth, K patch pixels (3*P*P), G0 trained position
 * grid side (image_size/P), E global embedding dim.
 *
 * The llm.c way: one block holds every parameter (laid out by a ptable, vit_params points
 * into it), one holds every activation (vit_acts); shapes of the activations are fixed
 * when vit_forward first sees a (B, H, W) and the block is rebuilt only when they change,
 * never inside the layer loop.
 *
 * Block: x += ls1 * attn(LN1(x)); x += ls2 * mlp(LN2(x)) with exact GELU; final LayerNorm.
 * Outputs of vit_forward (in m->acts):
 *   pooled (B,C): mean over ALL T tokens of the last block output, BEFORE the final LN;
 *   lnf    (B,T,C): the final LN output; the patch tokens are lnf[b, 1+R:, :];
 *   proj   (B,E): l2norm(pooled @ proj_w^T) when E > 0 (the global image feature). */
#ifndef MAMA_VIT_H
#define MAMA_VIT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/precision.h"
#include "engine/core/ptable.h"
#include "engine/core/safetensors.h"
#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vit_config {
    int width;        /* C */
    int depth;        /* L */
    int heads;        /* NH; C % NH == 0 */
    int patch;        /* P */
    int image_size;   /* S0: size the position embeddings were trained for; G0 = S0 / P */
    int n_registers;  /* R >= 0 */
    float mlp_ratio;  /* M = (int)(C * mlp_ratio) */
    float ln_eps;     /* 1e-6 for DINOv2 */
    int layerscale;   /* 1: LayerScale vectors ls1/ls2 present; 0: plain residuals */
    int in_chans;     /* 3 */
    int embed;        /* E: global projection width; 0 = no projection */
    int pos_plain;    /* position grid resize: 0 antialiased bicubic (HF
                         Dinov2WithRegistersModel, the default), 1 plain bicubic (HF
                         Dinov2Model); see engine/ops/pos_embed.h */
} vit_config;

typedef struct vit_params {
    float *patch_w;   /* (C, K) = Conv2d weight (C, 3, P, P) flattened */
    float *patch_b;   /* (C) */
    float *cls;       /* (C) */
    float *reg;       /* (R, C) */
    float *pos;       /* (1 + G0*G0, C): CLS then the grid row-major (y, x) */
    float *ln1w, *ln1b;         /* (L, C) */
    float *qkvw;                /* (L, 3C, C): rows [q | k | v] */
    float *qkvb;                /* (L, 3C) */
    float *attprojw;            /* (L, C, C) */
    float *attprojb;            /* (L, C) */
    float *ls1;                 /* (L, C), NULL-sized when !layerscale */
    float *ln2w, *ln2b;         /* (L, C) */
    float *fc1w;                /* (L, M, C) */
    float *fc1b;                /* (L, M) */
    float *fc2w;                /* (L, C, M) */
    float *fc2b;                /* (L, C) */
    float *ls2;                 /* (L, C) */
    float *lnfw, *lnfb;         /* (C) */
    float *proj_w;              /* (E, C) */
} vit_params;

typedef struct vit_acts {
    float *cols;        /* (B*Np, K) im2col of the input */
    float *pos_scratch; /* pos_embed_scratch_floats(...) for the position resize */
    float *patch_out;   /* (B*Np, C) */
    float *pos_interp;  /* (1 + Np, C) position embeddings at this input size */
    float *x0;          /* (B, T, C) embeddings entering block 0 */
    /* per layer; Lk = L when keep_all (training: kept for backward) else 1 (reused) */
    float *ln1;         /* (Lk, B, T, C) */
    float *ln1_mean, *ln1_rstd;   /* (Lk, B, T) */
    float *qkv;         /* (Lk, B, T, 3C) */
    float *atty;        /* (Lk, B, T, C) */
    float *att_lse;     /* (Lk, B, NH, T) */
    float *attproj;     /* (Lk, B, T, C) */
    float *res1;        /* (Lk, B, T, C) */
    float *ln2;         /* (Lk, B, T, C) */
    float *ln2_mean, *ln2_rstd;   /* (Lk, B, T) */
    float *fch;         /* (Lk, B, T, M) */
    float *fch_gelu;    /* (Lk, B, T, M) */
    float *fcproj;      /* (Lk, B, T, C) */
    float *res2;        /* (Lk, B, T, C) block outputs */
    float *lnf;         /* (B, T, C) */
    float *lnf_mean, *lnf_rstd;   /* (B, T) */
    float *pooled;      /* (B, C) */
    float *proj;        /* (B, E) */
    float *proj_norm;   /* (B) norms before l2 normalisation */
} vit_acts;

/* What vit_forward keeps (its keep_all argument). */
enum vit_keep {
    VIT_KEEP_NONE = 0,   /* inference: one layer's activations, reused */
    VIT_KEEP_ALL = 1,    /* training: every layer's activations, for vit_backward */
    VIT_KEEP_INPUTS = 2, /* training with recomputation (checkpointing): only each block's
                            output is kept; vit_backward re-runs one block at a time, so
                            activations take one layer's inner tensors plus L outputs */
};

/* Backward's activation gradients (assigned, not accumulated). */
typedef struct vit_dacts {
    float *dres;        /* (B,T,C) gradient of the residual stream */
    float *dln;         /* (B,T,C) gradient of a LayerNorm output */
    float *dbranch;     /* (B,T,C) gradient of a branch output (attproj / fcproj) */
    float *datty;       /* (B,T,C) */
    float *dqkv;        /* (B,T,3C) */
    float *dfch, *dfchg;/* (B,T,M) */
    float *dpooled;     /* (B,C) */
    float *dlin;        /* (B,E) projection before the l2 norm */
    float *dpos;        /* (1+Np,C) gradient of the position embeddings at this size */
} vit_dacts;
/* bf16 copies of the block weight matrices (vit_set_precision), same shapes as vit_params. */
typedef struct vit_weights16 {
    uint16_t *qkvw, *attprojw, *fc1w, *fc2w;
} vit_weights16;

typedef struct vit_model {
    vit_config cfg;
    int M, G0, K;
    ptable ptab;                /* parameter layout (names as the vit_params members) */
    vit_params params;          /* pointers into params_memory */
    float *params_memory;       /* one block of ptab.bytes */
    size_t num_params;          /* floats in the block (ptab.bytes / 4, padding included) */
    /* activations, sized for the shape below */
    ptable atab;
    vit_acts acts;
    float *acts_memory;
    int B, H, W, Gh, Gw, Np, T, keep_all;
    int slot_layer;             /* the block whose inner activations slot 0 holds */
    /* training (vit_set_train): gradients, a second block of ptab */
    vit_params grads;
    float *grads_memory;
    ptable dtab;                /* backward's activation gradients for the shape above */
    vit_dacts dacts;
    float *dacts_memory;
    int dB, dNp;                /* shape dacts_memory was made for */
    /* bf16 weight copies when the precision is bf16 (else w16_memory NULL) */
    ptable w16tab;
    vit_weights16 w16;
    void *w16_memory;
} vit_model;

/* Checks the config (positive sizes, C % NH, image_size % P ...); MAMA_EINVAL naming the field. */
mama_status vit_config_validate(const vit_config *cfg);

/* Allocates a model with zeroed parameters. Free with vit_free. */
mama_status vit_create(const vit_config *cfg, vit_model **out_model);
void vit_free(vit_model *m);

/* Loads the tower from a safetensors file. Tensor names are prefix + one of:
 *   HF hub (Dinov2Model, Dinov2WithRegistersModel): embeddings.cls_token, embeddings.register_tokens,
 *     embeddings.position_embeddings, embeddings.patch_embeddings.projection.{weight,bias},
 *     encoder.layer.N.{norm1, attention.attention.{query,key,value}, attention.output.dense,
 *     layer_scale1.lambda1, norm2, mlp.fc1, mlp.fc2, layer_scale2.lambda1}, layernorm;
 *   transformers >= 5 in-memory names: attention.{q,k,v,o}_proj in place of the above;
 *   Meta (dinov2 hub): cls_token, pos_embed, register_tokens, patch_embed.proj,
 *     blocks.N.{norm1, attn.qkv, attn.proj, ls1.gamma, norm2, mlp.fc1, mlp.fc2, ls2.gamma}, norm.
 * The naming is detected from the file. q, k, v are packed into qkvw at load.
 * proj_name (E, C) is read when cfg.embed > 0 (NULL: leave the projection zero).
 * A missing tensor is MAMA_ENOTFOUND and a wrong shape MAMA_ESHAPE, both naming it. */
mama_status vit_load(vit_model *m, const st_file *f, const char *prefix, const char *proj_name);

/* The sizes of a DINOv2 checkpoint (Dinov2Model without registers at any width, heads
 * and depth, or Dinov2WithRegistersModel; HF or Meta naming) under prefix: from the
 * config.json beside weights_path when there is one (hidden_size, num_hidden_layers,
 * num_attention_heads, patch_size, image_size, num_register_tokens, mlp_ratio,
 * layer_norm_eps), each checked against the tensor shapes (MAMA_ESHAPE naming the field
 * and what the file holds); else from the shapes, heads = width / 64. cfg.embed is 0. */
mama_status vit_config_from_checkpoint(const st_file *f, const char *weights_path,
                                       const char *prefix, vit_config *cfg);

/* Adds the tower to a writer in HF hub naming under prefix (+ proj_name when E > 0). */
mama_status vit_save(const vit_model *m, st_writer *w, const char *prefix, const char *proj_name);

/* Seeded random initialisation (truncated normal std 0.02 for weights and tokens, zero
 * biases, unit LayerNorms, LayerScale 1); deterministic for a seed. */
void vit_init_random(vit_model *m, uint64_t seed);

/* Forward pass. inp (B, in_chans, H, W), normalised pixels. Any H, W >= P: the grid is
 * floor(H/P) x floor(W/P) like a stride-P Conv2d (extra pixels ignored), and the position
 * embeddings are interpolated when the grid differs (see pos_embed.h).
 * keep_all is a vit_keep mode: VIT_KEEP_NONE for inference, VIT_KEEP_ALL or
 * VIT_KEEP_INPUTS (recomputation) before a vit_backward.
 * Returns MAMA_ENUMERIC for a non-finite input, MAMA_ENOMEM when the arena can't grow. */
mama_status vit_forward(vit_model *m, const float *inp, int B, int H, int W, int keep_all);

/* Training mode (on != 0) allocates the gradient block (same table as the parameters);
 * off frees it. Every tensor of the table is trainable; the checkpoint's mask token is not
 * part of the tower at all (it is only used for masked image modelling), so it stays frozen
 * by construction. */
mama_status vit_set_train(vit_model *m, int on);
void vit_zero_grad(vit_model *m);

/* Backward of the last vit_forward (made with VIT_KEEP_ALL or VIT_KEEP_INPUTS), from the
 * gradients of its outputs, any of them NULL when that output feeds no loss:
 *   dproj (B,E) of vit_projected, dpooled (B,C) of vit_pooled,
 *   dpatch (B,Np,C) of the patch tokens after the final LN (vit_patch_tokens).
 * ACCUMULATES into m->grads (patch embedding, CLS, registers, position grid through the
 * resize, every block, final LN, projection). The input gradient is not computed.
 * With VIT_KEEP_INPUTS each block is recomputed from its kept input just before its
 * backward (bitwise the same gradients as VIT_KEEP_ALL). MAMA_EINVAL without training mode
 * or a kept forward; MAMA_ENOMEM when the gradient scratch cannot be had. */
mama_status vit_backward(vit_model *m, const float *dproj, const float *dpooled,
                         const float *dpatch);
/* Sets the precision of the inference forward (keep_all = 0): MAMA_PREC_BF16 rounds the
 * block weight matrices (qkv, attention projection, fc1, fc2: all but 0.1% of the FLOPs) to
 * bf16 copies once, here, and runs those products on gemm_bf16_forward; LayerNorm, softmax,
 * GELU, residuals, the patch embedding and the projection stay fp32. MAMA_PREC_FP32 drops
 * the copies. Pass a resolved precision (gemm_precision_resolve); call again after the
 * weights change. A forward with keep_all = 1 (training) always runs fp32.
 * MAMA_ENOMEM when the copies cannot be allocated (the model stays fp32). */
mama_status vit_set_precision(vit_model *m, mama_precision p);
/* MAMA_PREC_BF16 when bf16 copies are in use, else MAMA_PREC_FP32. */
mama_precision vit_precision(const vit_model *m);

/* Views into the last forward's outputs. */
static inline const float *vit_pooled(const vit_model *m) { return m->acts.pooled; }        /* (B,C) */
static inline const float *vit_projected(const vit_model *m) { return m->acts.proj; }       /* (B,E) */
static inline const float *vit_tokens_normed(const vit_model *m) { return m->acts.lnf; }    /* (B,T,C) */
/* Patch tokens of image b after the final LN: (Np, C). */
static inline const float *vit_patch_tokens(const vit_model *m, int b) {
    return m->acts.lnf + ((size_t)b * m->T + 1 + m->cfg.n_registers) * m->cfg.width;
}

#ifdef __cplusplus
}
#endif
#endif
