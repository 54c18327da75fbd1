/* gpt2.h: the GPT-2-family text tower (BioMedLM's architecture) with LoRA adapters.
 *
 * Legend: B batch, T sequence length, V vocabulary (checkpoint rows + added special
 * tokens), P positions, C width (n_embd), L layers, NH heads, HS head size (C / NH),
 * F MLP width (n_inner, default 4C), R LoRA rank, N = B*T tokens.
 *
 * Reads Hugging Face GPT2Model / GPT2LMHeadModel safetensors directly: names with or
 * without the "transformer." prefix (or "text." in our own model files); Conv1D weights
 * (in,out); attn.bias / attn.masked_bias buffers and lm_head are ignored. Token features
 * are the hidden states after ln_f. Base weights are frozen; trainable are the LoRA A/B
 * and the embeddings of the added special tokens (MAMA_METHOD.md section 2, Fix).
 * llm.c style: one block for parameters, one for trainable gradients, one for
 * activations, each laid out by a ptable; forward saves what backward needs; backward accumulates into gradients. */
#ifndef MAMA_GPT2_H
#define MAMA_GPT2_H

#include "engine/text/lora.h"
#include "engine/core/precision.h"
#include "engine/core/ptable.h"
#include "engine/core/safetensors.h"
#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gpt2_config {
    int vocab_size;   /* V: embedding rows, checkpoint rows + added tokens */
    int base_vocab;   /* rows stored in the checkpoint; rows >= base_vocab start at the mean
                         of the checkpoint's rows */
    int added_from;   /* first row of the added special tokens: rows [added_from, V) are
                         trainable. Usually base_vocab; lower when the tokenizer's ids end
                         inside the checkpoint's rows (BioMedLM: 50257 rows, 28896 BPE ids,
                         so the specials take unused rows 28896..) */
    int n_positions;  /* P */
    int n_embd;       /* C */
    int n_layer;      /* L */
    int n_head;       /* NH */
    int n_inner;      /* F */
    float ln_eps;
    int scale_attn_by_inverse_layer_idx; /* scores also / (layer + 1) */
} gpt2_config;

/* Parses a Hugging Face GPT-2 config.json text; requires activation_function "gelu_new"
 * (or absent). vocab_size = base_vocab = added_from = the config's vocab_size (no added
 * tokens): grow vocab_size and set added_from for the tokenizer's specials. */
mama_status gpt2_config_from_hf_json(const char *json_text, gpt2_config *out_cfg);

typedef struct gpt2_params {
    float *wte;                /* (V,C) */
    float *wpe;                /* (P,C) */
    float *ln1w, *ln1b;        /* (L,C) */
    float *qkvw, *qkvb;        /* (L,C,3C), (L,3C)  attn.c_attn */
    float *attprojw, *attprojb;/* (L,C,C), (L,C)    attn.c_proj */
    float *ln2w, *ln2b;        /* (L,C) */
    float *fcw, *fcb;          /* (L,C,F), (L,F)    mlp.c_fc */
    float *fcprojw, *fcprojb;  /* (L,F,C), (L,C)    mlp.c_proj */
    float *lnfw, *lnfb;        /* (C) */
} gpt2_params;

/* LoRA weights or their gradients, per target t (lora.h bit index), NULL when absent:
 * A[t] (L,R,in_t), B[t] (L,out_t,R). */
typedef struct gpt2_lora {
    float *A[LORA_NUM_TARGETS];
    float *B[LORA_NUM_TARGETS];
} gpt2_lora;

typedef struct gpt2_acts {
    float *encoded;            /* (B,T,C) */
    float *ln1, *ln1_mean, *ln1_rstd;   /* (L,B,T,C), (L,B,T), (L,B,T) */
    float *qkv;                /* (L,B,T,3C) */
    float *atty;               /* (L,B,T,C) */
    float *att_lse;            /* (L,B,NH,T) */
    float *attproj;            /* (L,B,T,C) */
    float *res2;               /* (L,B,T,C) */
    float *ln2, *ln2_mean, *ln2_rstd;   /* (L,B,T,C), (L,B,T), (L,B,T) */
    float *fch, *fch_gelu;     /* (L,B,T,F) */
    float *fcproj;             /* (L,B,T,C) */
    float *res3;               /* (L,B,T,C) */
    float *lnf, *lnf_mean, *lnf_rstd;   /* (B,T,C): token features; (B,T), (B,T) */
    float *lora_tmp[LORA_NUM_TARGETS]; /* (L,B,T,R) adapter bottlenecks */
    float *mask;               /* (B,T) key mask of the last forward */
    float *lora_xdrop;         /* (B,T,max(C,F)) dropped adapter input (scratch) */
    int *ids;                  /* (B,T) ids of the last forward */
} gpt2_acts;

/* Backward's activation gradients (assigned, not accumulated) and LoRA scratch, sized like
 * acts. */
typedef struct gpt2_dacts {
    float *dres, *dres2, *dln, *datty;  /* (N,C) */
    float *dqkv;                        /* (N,3C) */
    float *dfch, *dfchg;                /* (N,F) */
    float *dtmp;                        /* (N,R) adapter bottleneck */
    float *xd, *dxd;                    /* (N,max(C,F)) LoRA dropout input and its gradient */
} gpt2_dacts;

/* bf16 copies of the block matrices (gpt2_set_precision), same shapes as gpt2_params. */
typedef struct gpt2_weights16 {
    uint16_t *qkvw, *attprojw, *fcw, *fcprojw;
} gpt2_weights16;

typedef struct gpt2_model {
    gpt2_config cfg;
    lora_config lora_cfg;      /* rank 0 = no adapters */
    ptable ptab;               /* base weight layout (names as the gpt2_params members) */
    gpt2_params params;
    float *params_memory;      /* one block of ptab.bytes */
    size_t num_params;         /* floats in the block (padding included) */
    ptable ltab;               /* LoRA layout: one table, two blocks */
    gpt2_lora lora;            /* adapter weights */
    gpt2_lora lora_grad;       /* their gradients */
    float *lora_memory, *lora_grad_memory;
    size_t num_lora;           /* floats in each LoRA block (padding included) */
    float *wte_added_grad;     /* (V - added_from, C) gradient of the added embeddings */
    ptable atab;               /* activation layout for acts_capacity tokens */
    gpt2_acts acts;
    float *acts_memory;
    size_t acts_capacity;      /* tokens (B*T) the block holds */
    ptable dtab;               /* layout of backward's activation gradients */
    gpt2_dacts dacts;
    float *grad_scratch;       /* one block of dtab, made by the first backward */
    int B, T;                  /* shapes of the last forward */
    int inference;             /* 1: keep one layer's activations only (no backward) */
    int train;                 /* 1: LoRA dropout active (gpt2_set_train) */
    unsigned long long dropout_seed; /* masks of the current step */
    ptable w16tab;             /* bf16 copies when the precision is bf16 (else empty) */
    gpt2_weights16 w16;
    void *w16_memory;
} gpt2_model;

/* The precision of inference forwards (gpt2_set_inference on): MAMA_PREC_BF16 rounds the
 * four block matrices to bf16 copies once, here (LoRA adapters, embeddings, LayerNorms and
 * the rest stay fp32); MAMA_PREC_FP32 drops them. Pass a resolved precision
 * (gemm_precision_resolve); call again after the base weights change. MAMA_ENOMEM when the
 * copies cannot be allocated (the model stays fp32). */
mama_status gpt2_set_precision(gpt2_model *m, mama_precision p);

/* Allocates a model for cfg (parameters zeroed) with LoRA per lora_cfg (NULL: none;
 * A random N(0, 1/sqrt(in)) from seed, B zero, as peft initialises). Free with
 * gpt2_destroy. */
mama_status gpt2_create(const gpt2_config *cfg, const lora_config *lora_cfg,
                        unsigned long long seed, gpt2_model **out_model);
void gpt2_destroy(gpt2_model *m);

/* Reads the base weights from an HF GPT-2 safetensors file (prefix "", "transformer."
 * or "text." detected). wte may have base_vocab rows (the added rows are then set to the
 * mean of the checkpoint rows: MAMA_METHOD.md section 2 makes them trainable) or
 * vocab_size rows. */
mama_status gpt2_load_weights(gpt2_model *m, const st_file *f);

/* Reads the trainable tensors: LoRA A/B for every configured target and layer (none when
 * rank 0), from our names "text.lora.h.N.attn.c_attn.A"/".B" or peft's
 * "...h.N.attn.c_attn.lora_A.weight" (any prefix, or the ".default" spelling), and the
 * added-token rows "text.wte_added" when present. MAMA_ENOTFOUND names the first missing
 * adapter tensor. */
mama_status gpt2_load_trainable(gpt2_model *m, const st_file *f);

/* Adds the trainable tensors (LoRA A/B under text.lora.*, added-token embedding rows as
 * "text.wte_added" (V-added_from, C)) to a model-file writer, and with adapters the
 * metadata text.lora_rank, text.lora_alpha, text.lora_targets, text.lora_dropout. */
mama_status gpt2_save_trainable(const gpt2_model *m, st_writer *w);

/* The adapter settings a model file's metadata records (gpt2_save_trainable); rank 0
 * when it records none. MAMA_EFORMAT for malformed values. */
mama_status gpt2_read_lora_config(const st_file *f, lora_config *out_cfg);

/* Loads a HF checkpoint: weights_path is model.safetensors (or a sharded .index.json),
 * config_path its config.json (NULL: config.json beside the weights). tokenizer_vocab: the
 * tokenizer's id count with its special tokens (bpe_vocab_size); rows are appended when
 * it exceeds the config's vocab_size. first_added_id: the lowest id of the tokenizer's
 * appended specials (-1: the config's vocab_size); those rows are trainable. lora_cfg may
 * be NULL (no adapters). */
mama_status gpt2_load_hf(const char *weights_path, const char *config_path,
                         int tokenizer_vocab, int first_added_id, const lora_config *lora_cfg,
                         gpt2_model **out_model);

/* Forward: ids (B,T) in [0,V), mask (B,T) 1 real / 0 padding (NULL: all real), causal
 * attention with the key mask, positions 0..T-1 (right padding). Token features are in
 * m->acts.lnf (B,T,C) afterwards. Grows the activation block when B*T exceeds it. */
mama_status gpt2_forward(gpt2_model *m, const int *ids, const float *mask, int B, int T);

/* Training mode for LoRA dropout: with on != 0 the following forwards drop adapter inputs
 * with probability lora_cfg.dropout, masks drawn from step_seed (give every step its own;
 * backward regenerates the same masks). Off (the default): no dropout. */
void gpt2_set_train(gpt2_model *m, int on, unsigned long long step_seed);

/* Inference mode (on != 0) keeps one layer's activations instead of L (about L times
 * less memory; gpt2_backward then refuses); training mode (0, the default) keeps all.
 * Switching frees the activation block. */
void gpt2_set_inference(gpt2_model *m, int on);

/* Zeroes the trainable gradients (LoRA, added embeddings). */
void gpt2_zero_grad(gpt2_model *m);

/* Backward from dlnf (B,T,C), the gradient of the token features of the last forward:
 * ACCUMULATES into m->lora_grad and m->wte_added_grad. Base weights get no gradient. */
mama_status gpt2_backward(gpt2_model *m, const float *dlnf);

#ifdef __cplusplus
}
#endif
#endif
