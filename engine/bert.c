/* bert.c: BERT-family encoder forward (see bert.h for the legend).
 * Post-LN block: x = LN1(x + attn.output.dense(attn(qkv(x)))); x = LN2(x + out(gelu(fc(x)))).
 * The query/key/value weights are packed at load time into one (3C,C) matrix so that one
 * GEMM produces the [q|k|v] layout attention_forward expects. */
#include "engine/bert.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hf_config.h"
#include "engine/ops.h"

static int json_int(json_t *root, const char *key, int dflt) {
    json_t *v = json_object_get(root, key);
    return json_is_integer(v) ? (int)json_integer_value(v) : dflt;
}

mama_status bert_config_from_hf_json(const char *json_text, bert_config *out_cfg) {
    json_error_t err;
    json_t *root = json_loads(json_text ? json_text : "", 0, &err);
    if (!root || !json_is_object(root)) {
        if (root) json_decref(root);
        return mama_errorf(MAMA_EFORMAT, "BERT config: not a JSON object (line %d: %s)",
                           err.line, err.text);
    }
    bert_config c = {0};
    c.vocab_size = json_int(root, "vocab_size", 0);
    c.max_position = json_int(root, "max_position_embeddings", 512);
    c.type_vocab_size = json_int(root, "type_vocab_size", 2);
    c.hidden = json_int(root, "hidden_size", 0);
    c.n_layer = json_int(root, "num_hidden_layers", 0);
    c.n_head = json_int(root, "num_attention_heads", 0);
    c.intermediate = json_int(root, "intermediate_size", 4 * c.hidden);
    json_t *eps = json_object_get(root, "layer_norm_eps");
    c.ln_eps = json_is_number(eps) ? (float)json_number_value(eps) : 1e-12f;
    json_t *act = json_object_get(root, "hidden_act");
    json_t *pet = json_object_get(root, "position_embedding_type");
    mama_status rc = MAMA_OK;
    if (json_is_string(act) && strcmp(json_string_value(act), "gelu"))
        rc = mama_errorf(MAMA_EUNSUPPORTED, "BERT config: hidden_act '%s' is not supported "
                         "(only gelu, the exact erf GELU)", json_string_value(act));
    else if (json_is_string(pet) && strcmp(json_string_value(pet), "absolute"))
        rc = mama_errorf(MAMA_EUNSUPPORTED, "BERT config: position_embedding_type '%s' is not "
                         "supported (only absolute)", json_string_value(pet));
    json_decref(root);
    if (rc) return rc;
    if (c.vocab_size <= 0 || c.max_position <= 0 || c.type_vocab_size <= 0 || c.hidden <= 0 ||
        c.n_layer <= 0 || c.n_head <= 0 || c.hidden % c.n_head || c.intermediate <= 0 ||
        !(c.ln_eps > 0.0f))
        return mama_errorf(MAMA_EINVAL, "BERT config: need positive vocab_size, hidden_size, "
                           "num_hidden_layers, num_attention_heads (dividing hidden_size), "
                           "intermediate_size (got %d, %d, %d, %d, %d)", c.vocab_size,
                           c.hidden, c.n_layer, c.n_head, c.intermediate);
    *out_cfg = c;
    return MAMA_OK;
}

mama_status bert_create(const bert_config *cfg, bert_model **out_model) {
    const bert_config *c = cfg;
    if (c->hidden <= 0 || c->n_head <= 0 || c->hidden % c->n_head || c->n_layer <= 0 ||
        c->vocab_size <= 0 || c->max_position <= 0 || c->type_vocab_size <= 0 ||
        c->intermediate <= 0)
        return mama_errorf(MAMA_EINVAL, "bert_create: invalid config");
    bert_model *m = calloc(1, sizeof *m);
    if (!m) return mama_errorf(MAMA_ENOMEM, "bert_create: out of memory");
    m->cfg = *c;
    size_t V = c->vocab_size, P = c->max_position, TV = c->type_vocab_size, C = c->hidden,
           L = c->n_layer, F = c->intermediate;
    size_t sizes[17] = {V * C, P * C, TV * C, C, C, L * 3 * C * C, L * 3 * C, L * C * C,
                        L * C, L * C, L * C, L * F * C, L * F, L * C * F, L * C, L * C, L * C};
    bert_params *p = &m->params;
    float **ptrs[17] = {&p->word, &p->pos, &p->type, &p->emb_lnw, &p->emb_lnb, &p->qkvw,
                        &p->qkvb, &p->attow, &p->attob, &p->ln1w, &p->ln1b, &p->fcw,
                        &p->fcb, &p->projw, &p->projb, &p->ln2w, &p->ln2b};
    size_t total = 0;
    for (int i = 0; i < 17; i++) total += sizes[i];
    m->params_memory = calloc(total, sizeof(float));
    if (!m->params_memory) {
        free(m);
        return mama_errorf(MAMA_ENOMEM, "bert_create: cannot allocate %zu parameters", total);
    }
    m->num_params = total;
    float *q = m->params_memory;
    for (int i = 0; i < 17; i++) { *ptrs[i] = q; q += sizes[i]; }
    *out_model = m;
    return MAMA_OK;
}

void bert_destroy(bert_model *m) {
    if (!m) return;
    free(m->params_memory);
    free(m->hidden);
    free(m->scratch);
    free(m);
}

static mama_status read_param(const st_file *f, const char *prefix, const char *name,
                              float *dst, int ndim, int64_t d0, int64_t d1) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    if (!st_find(f, full))
        return mama_errorf(MAMA_ENOTFOUND, "BERT weights: tensor '%s' missing (is this a "
                           "BERT-family checkpoint matching config.json?)", full);
    int64_t shape[2] = {d0, d1};
    return st_read_f32(f, full, dst, ndim, shape);
}

mama_status bert_load_weights(bert_model *m, const st_file *f) {
    const char *pre = NULL;
    if (st_find(f, "embeddings.word_embeddings.weight")) pre = "";
    else if (st_find(f, "bert.embeddings.word_embeddings.weight")) pre = "bert.";
    else if (st_find(f, "text.bert.embeddings.word_embeddings.weight")) pre = "text.bert.";
    if (!pre)
        return mama_errorf(MAMA_ENOTFOUND, "BERT weights: no embeddings.word_embeddings.weight "
                           "(tried prefixes '' and 'bert.'); not a BERT-family checkpoint");
    const bert_config *c = &m->cfg;
    bert_params *p = &m->params;
    int64_t C = c->hidden, F = c->intermediate, L = c->n_layer;
    mama_status rc;
    if ((rc = read_param(f, pre, "embeddings.word_embeddings.weight", p->word, 2,
                         c->vocab_size, C)) ||
        (rc = read_param(f, pre, "embeddings.position_embeddings.weight", p->pos, 2,
                         c->max_position, C)) ||
        (rc = read_param(f, pre, "embeddings.token_type_embeddings.weight", p->type, 2,
                         c->type_vocab_size, C)) ||
        (rc = read_param(f, pre, "embeddings.LayerNorm.weight", p->emb_lnw, 1, C, 0)) ||
        (rc = read_param(f, pre, "embeddings.LayerNorm.bias", p->emb_lnb, 1, C, 0)))
        return rc;
    static const char *const qkv[3] = {"query", "key", "value"};
    for (int64_t l = 0; l < L; l++) {
        char n[192];
#define RD(suffix, dst, nd, a, b)                                                  \
    do {                                                                           \
        snprintf(n, sizeof n, "encoder.layer.%d.%s", (int)l, suffix);              \
        if ((rc = read_param(f, pre, n, dst, nd, a, b))) return rc;                \
    } while (0)
        for (int k = 0; k < 3; k++) {
            char s[64];
            snprintf(s, sizeof s, "attention.self.%s.weight", qkv[k]);
            RD(s, p->qkvw + (l * 3 + k) * C * C, 2, C, C);
            snprintf(s, sizeof s, "attention.self.%s.bias", qkv[k]);
            RD(s, p->qkvb + (l * 3 + k) * C, 1, C, 0);
        }
        RD("attention.output.dense.weight", p->attow + l * C * C, 2, C, C);
        RD("attention.output.dense.bias", p->attob + l * C, 1, C, 0);
        RD("attention.output.LayerNorm.weight", p->ln1w + l * C, 1, C, 0);
        RD("attention.output.LayerNorm.bias", p->ln1b + l * C, 1, C, 0);
        RD("intermediate.dense.weight", p->fcw + l * F * C, 2, F, C);
        RD("intermediate.dense.bias", p->fcb + l * F, 1, F, 0);
        RD("output.dense.weight", p->projw + l * C * F, 2, C, F);
        RD("output.dense.bias", p->projb + l * C, 1, C, 0);
        RD("output.LayerNorm.weight", p->ln2w + l * C, 1, C, 0);
        RD("output.LayerNorm.bias", p->ln2b + l * C, 1, C, 0);
#undef RD
    }
    return MAMA_OK;
}

mama_status bert_load_hf(const char *weights_path, const char *config_path,
                         bert_model **out_model) {
    char *json = NULL;
    mama_status rc = hf_config_read(weights_path, config_path, &json);
    if (rc) return rc;
    bert_config cfg;
    rc = bert_config_from_hf_json(json, &cfg);
    free(json);
    if (rc) return rc;
    st_file *f = NULL;
    if ((rc = st_open(weights_path, &f))) return rc;
    bert_model *m = NULL;
    rc = bert_create(&cfg, &m);
    if (rc == MAMA_OK) rc = bert_load_weights(m, f);
    st_close(f);
    if (rc) { bert_destroy(m); return rc; }
    *out_model = m;
    return MAMA_OK;
}

mama_status bert_forward(bert_model *m, const int *ids, const int *type_ids,
                         const float *mask, int B, int T) {
    const bert_config *c = &m->cfg;
    if (B <= 0 || T <= 0 || T > c->max_position)
        return mama_errorf(MAMA_EINVAL, "BERT forward: need B > 0 and 0 < T <= %d (got B %d, "
                           "T %d); truncate the text", c->max_position, B, T);
    size_t N = (size_t)B * T, C = c->hidden, F = c->intermediate;
    for (size_t i = 0; i < N; i++) {
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return mama_errorf(MAMA_EINVAL, "BERT forward: token id %d at %zu outside [0, %d)",
                               ids[i], i, c->vocab_size);
        if (type_ids && (type_ids[i] < 0 || type_ids[i] >= c->type_vocab_size))
            return mama_errorf(MAMA_EINVAL, "BERT forward: token type %d at %zu outside "
                               "[0, %d)", type_ids[i], i, c->type_vocab_size);
    }
    if (N > m->capacity) {
        free(m->hidden);
        free(m->scratch);
        m->hidden = malloc(N * C * sizeof(float));
        m->scratch = malloc(N * (5 * C + F + 1) * sizeof(float));
        if (!m->hidden || !m->scratch) {
            free(m->hidden); free(m->scratch);
            m->hidden = m->scratch = NULL; m->capacity = 0;
            return mama_errorf(MAMA_ENOMEM, "BERT forward: cannot allocate buffers for %zu "
                               "tokens; use a smaller batch", N);
        }
        m->capacity = N;
    }
    const bert_params *p = &m->params;
    float *x = m->hidden, *qkv = m->scratch, *atty = qkv + N * 3 * C, *tmp = atty + N * C;
    float *h = tmp + N * C, *kmask = h + N * F;
    for (size_t i = 0; i < N; i++) kmask[i] = mask ? (mask[i] != 0.0f) : 1.0f;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t i = (size_t)b * T + t;
            const float *we = p->word + (size_t)ids[i] * C, *pe = p->pos + (size_t)t * C;
            const float *te = p->type + (size_t)(type_ids ? type_ids[i] : 0) * C;
            float *o = tmp + i * C;
            for (size_t k = 0; k < C; k++) o[k] = we[k] + pe[k] + te[k];
        }
    layernorm_forward(x, NULL, NULL, tmp, p->emb_lnw, p->emb_lnb, (int)N, (int)C, c->ln_eps);
    float scale = 1.0f / sqrtf((float)(C / (size_t)c->n_head));
    for (size_t l = 0; l < (size_t)c->n_layer; l++) {
        linear_forward(qkv, x, p->qkvw + l * 3 * C * C, p->qkvb + l * 3 * C, (int)N, (int)C,
                       (int)(3 * C));
        attention_forward(atty, NULL, qkv, kmask, B, T, (int)C, c->n_head, scale, 0);
        linear_forward(tmp, atty, p->attow + l * C * C, p->attob + l * C, (int)N, (int)C,
                       (int)C);
        residual_scaled_forward(tmp, tmp, x, NULL, N, (int)C);
        layernorm_forward(x, NULL, NULL, tmp, p->ln1w + l * C, p->ln1b + l * C, (int)N,
                          (int)C, c->ln_eps);
        linear_forward(h, x, p->fcw + l * F * C, p->fcb + l * F, (int)N, (int)C, (int)F);
        gelu_forward(h, h, N * F);
        linear_forward(tmp, h, p->projw + l * C * F, p->projb + l * C, (int)N, (int)F, (int)C);
        residual_scaled_forward(tmp, tmp, x, NULL, N, (int)C);
        layernorm_forward(x, NULL, NULL, tmp, p->ln2w + l * C, p->ln2b + l * C, (int)N,
                          (int)C, c->ln_eps);
    }
    return MAMA_OK;
}
