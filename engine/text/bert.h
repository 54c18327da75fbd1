/* bert.h: the BERT-family text encoder (BioClinicalBERT / MiniLM layout).
 *
 * Legend: B batch, T sequence length, V vocabulary, P positions, TV token types,
 * C width (hidden_size), L layers, NH heads, F intermediate size, N = B*T tokens.
 *
 * Reads Hugging Face BertModel safetensors directly, with or without the "bert." prefix:
 * embeddings.{word,position,token_type}_embeddings + embeddings.LayerNorm,
 * encoder.layer.N.attention.self.{query,key,value}, attention.output.{dense,LayerNorm},
 * intermediate.dense, output.{dense,LayerNorm}; the pooler is ignored. Post-LN blocks,
 * exact (erf) GELU, bidirectional attention with a key padding mask. Token features are
 * the last layer's hidden states; pool them with text_pool.h (mean or CLS). Forward and
 * backward (llm.c style: saved activations, gradients accumulate) with every parameter
 * trainable in training mode. */
#ifndef MAMA_BERT_H
#define MAMA_BERT_H

#include "engine/core/precision.h"
#include "engine/core/ptable.h"
#include "engine/core/safetensors.h"
#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bert_config {
    int vocab_size;      /* V */
    int max_position;    /* P */
    int type_vocab_size; /* TV */
    int hidden;          /* C */
    int n_layer;         /* L */
    int n_head;          /* NH */
    int intermediate;    /* F */
    float ln_eps;
    int pad_token_id;    /* word row that gets no gradient (HF padding_idx); -1: none */
} bert_config;

/* Parses a Hugging Face BERT config.json text; hidden_act must be "gelu" and
 * position_embedding_type "absolute" (or absent). */
mama_status bert_config_from_hf_json(const char *json_text, bert_config *out_cfg);

typedef struct bert_params {
    float *word, *pos, *type;   /* (V,C), (P,C), (TV,C) */
    float *emb_lnw, *emb_lnb;   /* (C) */
    float *qkvw, *qkvb;         /* (L,3C,C), (L,3C): query, key, value packed [q|k|v] */
    float *attow, *attob;       /* (L,C,C), (L,C)   attention.output.dense */
    float *ln1w, *ln1b;         /* (L,C)            attention.output.LayerNorm */
    float *fcw, *fcb;           /* (L,F,C), (L,F)   intermediate.dense */
    float *projw, *projb;       /* (L,C,F), (L,C)   output.dense */
    float *ln2w, *ln2b;         /* (L,C)            output.LayerNorm */
} bert_params;

typedef struct bert_acts {
    float *emb_sum, *emb_mean, *emb_rstd; /* (B,T,C), (B,T), (B,T) before embeddings.LayerNorm */
    float *x;                  /* (L+1,B,T,C) block inputs; x[L] = token features */
    float *qkv;                /* (L,B,T,3C) */
    float *atty;               /* (L,B,T,C) */
    float *att_lse;            /* (L,B,NH,T) */
    float *res1;               /* (L,B,T,C) x + attention output, before LN1 */
    float *ln1, *ln1_mean, *ln1_rstd;   /* (L,B,T,C), (L,B,T), (L,B,T) */
    float *fch, *fch_gelu;     /* (L,B,T,F) */
    float *res2;               /* (L,B,T,C) ln1 + MLP output, before LN2 */
    float *ln2_mean, *ln2_rstd;/* (L,B,T) */
    float *mask;               /* (B,T) */
} bert_acts;

/* Backward's activation gradients (assigned, not accumulated), sized like acts. */
typedef struct bert_dacts {
    float *dx, *dres, *dln1, *datty;   /* (N,C) */
    float *dqkv;                       /* (N,3C) */
    float *dh, *dhg;                   /* (N,F) */
} bert_dacts;

/* bf16 copies of the block matrices (bert_set_precision), same shapes as bert_params. */
typedef struct bert_weights16 {
    uint16_t *qkvw, *attow, *fcw, *projw;
} bert_weights16;

typedef struct bert_model {
    bert_config cfg;
    ptable ptab;               /* parameter layout (names as the bert_params members) */
    bert_params params;
    float *params_memory;      /* one block of ptab.bytes */
    size_t num_params;         /* floats in the block (padding included) */
    bert_params grads;         /* a second block of ptab, allocated by bert_set_train(m, 1) */
    float *grads_memory;
    ptable atab;               /* activation layout for `capacity` tokens */
    bert_acts acts;            /* in inference mode: one slot per tensor (x: two) */
    float *acts_memory;
    size_t capacity;           /* tokens (B*T) the block holds */
    ptable dtab;               /* layout of backward's activation gradients */
    bert_dacts dacts;
    float *grad_scratch;       /* one block of dtab, made by the first backward */
    int *ids;                  /* (2,B,T) in the activation block: ids and token types of
                                  the last forward */
    float *hidden;             /* (B,T,C) token features of the last forward (into acts.x) */
    int train;                 /* 1: keep every layer's activations for bert_backward */
    int B, T;
    ptable w16tab;             /* bf16 copies when the precision is bf16 (else empty) */
    bert_weights16 w16;
    void *w16_memory;
} bert_model;

mama_status bert_create(const bert_config *cfg, bert_model **out_model);
/* The precision of inference forwards (not bert_set_train): MAMA_PREC_BF16 rounds the four
 * block matrices to bf16 copies once, here; the rest stays fp32. As gpt2_set_precision. */
mama_status bert_set_precision(bert_model *m, mama_precision p);
void bert_destroy(bert_model *m);

/* Reads the weights (prefix "" or "bert." detected); the tensors must match cfg. */
mama_status bert_load_weights(bert_model *m, const st_file *f);

/* weights_path: model.safetensors; config_path: its config.json (NULL: beside it). */
mama_status bert_load_hf(const char *weights_path, const char *config_path,
                         bert_model **out_model);

/* ids (B,T) in [0,V); type_ids (B,T) in [0,TV) or NULL (all 0); mask (B,T) 1 real /
 * 0 padding or NULL. Token features land in m->hidden (B,T,C). */
mama_status bert_forward(bert_model *m, const int *ids, const int *type_ids,
                         const float *mask, int B, int T);

/* Training mode (on != 0): forwards keep every layer's activations and gradients are
 * allocated (all parameters trainable, as when fine-tuning a BERT baseline). Off (the
 * default) keeps one layer's. Switching frees the activation block. */
mama_status bert_set_train(bert_model *m, int on);
void bert_zero_grad(bert_model *m);

/* Backward from dhidden (B,T,C), the gradient of the last forward's token features:
 * ACCUMULATES into m->grads (every parameter). */
mama_status bert_backward(bert_model *m, const float *dhidden);

#ifdef __cplusplus
}
#endif
#endif
