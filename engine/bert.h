/* bert.h: the BERT-family text encoder (BioClinicalBERT / MiniLM layout), inference.
 *
 * Legend: B batch, T sequence length, V vocabulary, P positions, TV token types,
 * C width (hidden_size), L layers, NH heads, F intermediate size, N = B*T tokens.
 *
 * Reads Hugging Face BertModel safetensors directly, with or without the "bert." prefix:
 * embeddings.{word,position,token_type}_embeddings + embeddings.LayerNorm,
 * encoder.layer.N.attention.self.{query,key,value}, attention.output.{dense,LayerNorm},
 * intermediate.dense, output.{dense,LayerNorm}; the pooler is ignored. Post-LN blocks,
 * exact (erf) GELU, bidirectional attention with a key padding mask. Token features are
 * the last layer's hidden states; pool them with text_pool.h (mean or CLS). */
#ifndef MAMA_BERT_H
#define MAMA_BERT_H

#include "engine/safetensors.h"
#include "engine/status.h"

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

typedef struct bert_model {
    bert_config cfg;
    bert_params params;
    float *params_memory;
    size_t num_params;
    float *hidden;              /* (B,T,C) token features of the last forward */
    float *scratch;             /* qkv (N,3C), atty (N,C), tmp (N,C), h (N,F), mask (N) */
    size_t capacity;            /* tokens the buffers hold */
} bert_model;

mama_status bert_create(const bert_config *cfg, bert_model **out_model);
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

#ifdef __cplusplus
}
#endif
#endif
