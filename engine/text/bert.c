/* bert.c: BERT-family encoder forward (see bert.h for the legend).
 * Post-LN block: x = LN1(x + attn.output.dense(attn(qkv(x)))); x = LN2(x + out(gelu(fc(x)))).
 * The query/key/value weights are packed at load time into one (3C,C) matrix so that one
 * GEMM produces the [q|k|v] layout attention_forward expects. */
#include "engine/text/bert.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/hf_config.h"
#include "engine/core/ptable.h"
#include "engine/ops/ops.h"

mama_status bert_config_from_hf_json(const char *json_text, bert_config *out_cfg) {
    json_t *root = NULL;
    mama_status rc = hf_config_parse(json_text, "BERT", &root);
    if (rc) return rc;
    bert_config c = {0};
    hf_int_field ints[] = {
        {"vocab_size", &c.vocab_size, 0}, {"max_position_embeddings", &c.max_position, 512},
        {"type_vocab_size", &c.type_vocab_size, 2}, {"hidden_size", &c.hidden, 0},
        {"num_hidden_layers", &c.n_layer, 0}, {"num_attention_heads", &c.n_head, 0},
    };
    hf_config_ints(root, ints, (int)(sizeof ints / sizeof *ints));
    long long f4 = 4ll * c.hidden;   /* HF's default; no int overflow for a huge hidden_size */
    c.intermediate = hf_config_int(root, "intermediate_size", f4 > 0x7fffffff ? -1 : (int)f4);
    c.ln_eps = hf_config_float(root, "layer_norm_eps", 1e-12f);
    json_t *pad = json_object_get(root, "pad_token_id");
    c.pad_token_id = !pad ? 0 /* HF BertConfig's default */
                     : json_is_integer(pad) ? (int)json_integer_value(pad) : -1;
    rc = hf_config_expect(root, "BERT", "hidden_act", (const char *const[]){"gelu", NULL},
                          "only gelu, the exact erf GELU");
    if (rc == MAMA_OK)
        rc = hf_config_expect(root, "BERT", "position_embedding_type",
                              (const char *const[]){"absolute", NULL}, "only absolute");
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

/* The parameters, in the order of bert_params (also the layout of the gradients). */
static void param_table(ptable *t, const bert_config *c) {
    int64_t V = c->vocab_size, P = c->max_position, TV = c->type_vocab_size, C = c->hidden,
            L = c->n_layer, F = c->intermediate;
#define P_(field, ...) ptable_add(t, #field, MAMA_F32, PTABLE_SLOT(bert_params, field), \
                                  PTABLE_SHAPE(__VA_ARGS__))
    P_(word, V, C);  P_(pos, P, C);  P_(type, TV, C);  P_(emb_lnw, C);  P_(emb_lnb, C);
    P_(qkvw, L, 3 * C, C);  P_(qkvb, L, 3 * C);  P_(attow, L, C, C);  P_(attob, L, C);
    P_(ln1w, L, C);  P_(ln1b, L, C);  P_(fcw, L, F, C);  P_(fcb, L, F);
    P_(projw, L, C, F);  P_(projb, L, C);  P_(ln2w, L, C);  P_(ln2b, L, C);
#undef P_
}

mama_status bert_create(const bert_config *cfg, bert_model **out_model) {
    const bert_config *c = cfg;
    if (c->vocab_size > (1 << 24) || c->hidden > 65536 || c->n_layer > 1024 ||
        c->max_position > (1 << 20) || c->intermediate > (1 << 20) ||
        c->type_vocab_size > 4096)
        return mama_errorf(MAMA_EINVAL, "bert_create: config out of range (V %d <= 2^24, "
                           "C %d <= 65536, L %d <= 1024, P %d and F %d <= 2^20)",
                           c->vocab_size, c->hidden, c->n_layer, c->max_position,
                           c->intermediate);
    if (c->hidden <= 0 || c->n_head <= 0 || c->hidden % c->n_head || c->n_layer <= 0 ||
        c->vocab_size <= 0 || c->max_position <= 0 || c->type_vocab_size <= 0 ||
        c->intermediate <= 0)
        return mama_errorf(MAMA_EINVAL, "bert_create: invalid config");
    bert_model *m = calloc(1, sizeof *m);
    if (!m) return mama_errorf(MAMA_ENOMEM, "bert_create: out of memory");
    m->cfg = *c;
    ptable_init(&m->ptab);
    ptable_init(&m->atab);
    ptable_init(&m->dtab);
    param_table(&m->ptab, c);
    void *block;
    if (ptable_make(&m->ptab, &block, &m->params) != MAMA_OK) {
        double mb = m->ptab.bytes / 1e6;
        bert_destroy(m);
        return mama_errorf(MAMA_ENOMEM, "bert_create: cannot allocate the parameters "
                           "(%.1f MB)", mb);
    }
    m->params_memory = block;
    m->num_params = m->ptab.bytes / sizeof(float);
    *out_model = m;
    return MAMA_OK;
}

void bert_destroy(bert_model *m) {
    if (!m) return;
    bert_set_precision(m, MAMA_PREC_FP32); /* drops the bf16 copies */
    ptable_block_free(m->params_memory);
    ptable_block_free(m->grads_memory);
    ptable_block_free(m->acts_memory);
    ptable_block_free(m->grad_scratch);
    ptable_free(&m->ptab);
    ptable_free(&m->atab);
    ptable_free(&m->dtab);
    free(m);
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
    if ((rc = hf_read_tensor(f, "BERT", pre, "embeddings.word_embeddings.weight", p->word, 2,
                         c->vocab_size, C)) ||
        (rc = hf_read_tensor(f, "BERT", pre, "embeddings.position_embeddings.weight", p->pos, 2,
                         c->max_position, C)) ||
        (rc = hf_read_tensor(f, "BERT", pre, "embeddings.token_type_embeddings.weight", p->type, 2,
                         c->type_vocab_size, C)) ||
        (rc = hf_read_tensor(f, "BERT", pre, "embeddings.LayerNorm.weight", p->emb_lnw, 1, C, 0)) ||
        (rc = hf_read_tensor(f, "BERT", pre, "embeddings.LayerNorm.bias", p->emb_lnb, 1, C, 0)))
        return rc;
    static const char *const qkv[3] = {"query", "key", "value"};
    for (int64_t l = 0; l < L; l++) {
        char n[192];
#define RD(suffix, dst, nd, a, b)                                                  \
    do {                                                                           \
        snprintf(n, sizeof n, "encoder.layer.%d.%s", (int)l, suffix);              \
        if ((rc = hf_read_tensor(f, "BERT", pre, n, dst, nd, a, b)))               \
            return rc;                                                             \
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

/* Frees the activation block (and backward's scratch, sized from it). */
static void drop_acts(bert_model *m) {
    ptable_block_free(m->acts_memory);
    ptable_block_free(m->grad_scratch);
    m->acts_memory = NULL;
    m->ids = NULL;
    m->grad_scratch = NULL;
    m->capacity = 0;
}

/* The activations for N tokens: L slots in training mode, one in inference. */
static void act_table(ptable *t, const bert_model *m, int64_t N) {
    const bert_config *c = &m->cfg;
    int64_t C = c->hidden, F = c->intermediate, NH = c->n_head;
    int64_t L = m->train ? c->n_layer : 1;
#define A(field, ...) ptable_add(t, #field, MAMA_F32, PTABLE_SLOT(bert_acts, field), \
                                 PTABLE_SHAPE(__VA_ARGS__))
    A(emb_sum, N, C);  A(emb_mean, N);  A(emb_rstd, N);  A(x, L + 1, N, C);
    A(qkv, L, N, 3 * C);  A(atty, L, N, C);  A(att_lse, L, N, NH);  A(res1, L, N, C);
    A(ln1, L, N, C);  A(ln1_mean, L, N);  A(ln1_rstd, L, N);  A(fch, L, N, F);
    A(fch_gelu, L, N, F);  A(res2, L, N, C);  A(ln2_mean, L, N);  A(ln2_rstd, L, N);
    A(mask, N);
#undef A
    ptable_add(t, "ids", MAMA_I32, PTABLE_NO_SLOT, PTABLE_SHAPE(2, N));
}

static mama_status ensure_acts(bert_model *m, size_t N) {
    if (m->acts_memory && N <= m->capacity) return MAMA_OK;
    drop_acts(m);
    ptable_clear(&m->atab);
    act_table(&m->atab, m, (int64_t)N);
    void *block;
    if (ptable_make(&m->atab, &block, &m->acts) != MAMA_OK)
        return mama_errorf(MAMA_ENOMEM, "BERT forward: cannot allocate activations for %zu "
                           "tokens (%.1f MB); use a smaller batch", N, m->atab.bytes / 1e6);
    m->acts_memory = block;
    m->ids = ptable_ptr(&m->atab, block, ptable_find(&m->atab, "ids"));
    m->capacity = N;
    return MAMA_OK;
}

mama_status bert_set_train(bert_model *m, int on) {
    if (!!on == m->train) return MAMA_OK;
    m->train = !!on;
    drop_acts(m);
    m->B = m->T = 0;
    m->hidden = NULL;
    if (on && !m->grads_memory) {
        /* the gradients: a second block of the parameter table */
        void *block = NULL;
        if (ptable_alloc(&m->ptab, &block) != MAMA_OK) {
            m->train = 0;
            return mama_errorf(MAMA_ENOMEM, "bert_set_train: cannot allocate %zu gradients",
                               m->num_params);
        }
        ptable_point(&m->ptab, block, &m->grads);
        m->grads_memory = block;
    }
    return MAMA_OK;
}

void bert_zero_grad(bert_model *m) {
    if (m->grads_memory) memset(m->grads_memory, 0, m->num_params * sizeof(float));
}

static float attn_scale(const bert_config *c) {
    return 1.0f / sqrtf((float)(c->hidden / c->n_head));
}

mama_status bert_forward(bert_model *m, const int *ids, const int *type_ids,
                         const float *mask, int B, int T) {
    const bert_config *c = &m->cfg;
    if (B <= 0 || T <= 0 || T > c->max_position)
        return mama_errorf(MAMA_EINVAL, "BERT forward: need B > 0 and 0 < T <= %d (got B %d, "
                           "T %d); truncate the text", c->max_position, B, T);
    size_t N = (size_t)B * T, C = c->hidden, F = c->intermediate, NH = c->n_head;
    for (size_t i = 0; i < N; i++) {
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return mama_errorf(MAMA_EINVAL, "BERT forward: token id %d at %zu outside [0, %d)",
                               ids[i], i, c->vocab_size);
        if (type_ids && (type_ids[i] < 0 || type_ids[i] >= c->type_vocab_size))
            return mama_errorf(MAMA_EINVAL, "BERT forward: token type %d at %zu outside "
                               "[0, %d)", type_ids[i], i, c->type_vocab_size);
    }
    mama_status rc = ensure_acts(m, N);
    if (rc) return rc;
    m->B = B;
    m->T = T;
    const bert_params *p = &m->params;
    bert_acts *a = &m->acts;
    int *tids = m->ids + N;
    for (size_t i = 0; i < N; i++) {
        a->mask[i] = mask ? (mask[i] != 0.0f) : 1.0f;
        m->ids[i] = ids[i];
        tids[i] = type_ids ? type_ids[i] : 0;
    }
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t i = (size_t)b * T + t;
            const float *we = p->word + (size_t)ids[i] * C, *pe = p->pos + (size_t)t * C;
            const float *te = p->type + (size_t)tids[i] * C;
            float *o = a->emb_sum + i * C;
            for (size_t k = 0; k < C; k++) o[k] = we[k] + pe[k] + te[k];
        }
    layernorm_forward(a->x, a->emb_mean, a->emb_rstd, a->emb_sum, p->emb_lnw, p->emb_lnb,
                      (int)N, (int)C, c->ln_eps);
    float scale = attn_scale(c);
    for (size_t l = 0; l < (size_t)c->n_layer; l++) {
        /* slot s: layer l in training mode; 0 in inference, where x has two rows of slots
         * (in, out) that alternate so a layer never overwrites its own input. */
        size_t s = m->train ? l : 0;
        float *xin = a->x + (m->train ? l : (l & 1)) * N * C;
        float *xout = a->x + (m->train ? l + 1 : ((l + 1) & 1)) * N * C;
        float *qkv = a->qkv + s * N * 3 * C, *atty = a->atty + s * N * C;
        float *res1 = a->res1 + s * N * C, *ln1 = a->ln1 + s * N * C;
        float *fch = a->fch + s * N * F, *fchg = a->fch_gelu + s * N * F;
        float *res2 = a->res2 + s * N * C;
        /* bf16 copies serve inference only */
        const bert_weights16 *w16 = !m->train && m->w16_memory ? &m->w16 : NULL;
#define W16(f, off) (w16 ? w16->f + (off) : NULL)
        if ((rc = linear_prec_forward(qkv, xin, p->qkvw + l * 3 * C * C, W16(qkvw, l * 3 * C * C),
                               p->qkvb + l * 3 * C, (int)N, (int)C, (int)(3 * C), 0, GEMM_NONE)))
            return rc;
        rc = attention_forward(atty, a->att_lse + s * N * NH, qkv, a->mask, B, T, (int)C,
                               c->n_head, scale, 0);
        if (rc) return rc;
        if ((rc = linear_prec_forward(res1, atty, p->attow + l * C * C, W16(attow, l * C * C),
                               p->attob + l * C, (int)N, (int)C, (int)C, 0, GEMM_NONE)))
            return rc;
        residual_scaled_forward(res1, res1, xin, NULL, N, (int)C);
        layernorm_forward(ln1, a->ln1_mean + s * N, a->ln1_rstd + s * N, res1,
                          p->ln1w + l * C, p->ln1b + l * C, (int)N, (int)C, c->ln_eps);
        if (w16) { /* GELU fused; the pre-activation is not needed in inference */
            if ((rc = linear_prec_forward(fchg, ln1, p->fcw + l * F * C, W16(fcw, l * F * C),
                                   p->fcb + l * F, (int)N, (int)C, (int)F, 0, GEMM_GELU_ERF)))
                return rc;
        } else {
            linear_forward(fch, ln1, p->fcw + l * F * C, p->fcb + l * F, (int)N, (int)C, (int)F);
            gelu_forward(fchg, fch, N * F);
        }
        if ((rc = linear_prec_forward(res2, fchg, p->projw + l * C * F, W16(projw, l * C * F),
                               p->projb + l * C, (int)N, (int)F, (int)C, 0, GEMM_NONE)))
            return rc;
#undef W16
        residual_scaled_forward(res2, res2, ln1, NULL, N, (int)C);
        layernorm_forward(xout, a->ln2_mean + s * N, a->ln2_rstd + s * N, res2,
                          p->ln2w + l * C, p->ln2b + l * C, (int)N, (int)C, c->ln_eps);
    }
    size_t last = m->train ? (size_t)c->n_layer : ((size_t)c->n_layer & 1);
    m->hidden = a->x + last * N * C;
    return MAMA_OK;
}

/* Backward's activation gradients for the capacity of the activation block. */
static mama_status make_dacts(bert_model *m) {
    int64_t N = (int64_t)m->capacity, C = m->cfg.hidden, F = m->cfg.intermediate;
    ptable *t = &m->dtab;
    ptable_clear(t);
#define D(field, ...) ptable_add(t, #field, MAMA_F32, PTABLE_SLOT(bert_dacts, field), \
                                 PTABLE_SHAPE(__VA_ARGS__))
    D(dx, N, C);  D(dres, N, C);  D(dln1, N, C);  D(datty, N, C);  D(dqkv, N, 3 * C);
    D(dh, N, F);  D(dhg, N, F);
#undef D
    void *block;
    if (ptable_make(t, &block, &m->dacts) != MAMA_OK)
        return mama_errorf(MAMA_ENOMEM, "bert_backward: cannot allocate the activation "
                           "gradients (%.1f MB)", t->bytes / 1e6);
    m->grad_scratch = block;
    return MAMA_OK;
}

mama_status bert_backward(bert_model *m, const float *dhidden) {
    const bert_config *c = &m->cfg;
    if (!m->train || !m->grads_memory)
        return mama_errorf(MAMA_EINVAL, "bert_backward: call bert_set_train(m, 1) before the "
                           "forward pass (activations are not kept otherwise)");
    if (!m->B)
        return mama_errorf(MAMA_EINVAL, "bert_backward: no forward pass to go back through");
    int B = m->B, T = m->T;
    size_t N = (size_t)B * T, C = c->hidden, F = c->intermediate, NH = c->n_head;
    if (!m->grad_scratch) {
        mama_status rc = make_dacts(m);
        if (rc) return rc;
    }
    const bert_dacts *d = &m->dacts;
    float *dx = d->dx, *dres = d->dres, *dln1 = d->dln1, *datty = d->datty, *dqkv = d->dqkv;
    float *dh = d->dh, *dhg = d->dhg;
    const bert_params *p = &m->params;
    bert_params *g = &m->grads;
    bert_acts *a = &m->acts;
    float scale = attn_scale(c);
    memcpy(dx, dhidden, N * C * sizeof(float));
    for (size_t l = (size_t)c->n_layer; l-- > 0;) {
        float *xin = a->x + l * N * C, *qkv = a->qkv + l * N * 3 * C;
        float *atty = a->atty + l * N * C, *res1 = a->res1 + l * N * C;
        float *ln1 = a->ln1 + l * N * C, *fch = a->fch + l * N * F;
        float *fchg = a->fch_gelu + l * N * F, *res2 = a->res2 + l * N * C;
        /* LN2 over res2 = ln1 + proj(gelu(fc(ln1))) */
        memset(dres, 0, N * C * sizeof(float));
        layernorm_backward(dres, g->ln2w + l * C, g->ln2b + l * C, dx, res2, p->ln2w + l * C,
                           a->ln2_mean + l * N, a->ln2_rstd + l * N, (int)N, (int)C);
        memcpy(dln1, dres, N * C * sizeof(float));
        memset(dhg, 0, N * F * sizeof(float));
        linear_backward(dhg, g->projw + l * C * F, g->projb + l * C, dres, fchg,
                        p->projw + l * C * F, (int)N, (int)F, (int)C);
        memset(dh, 0, N * F * sizeof(float));
        gelu_backward(dh, dhg, fch, N * F);
        linear_backward(dln1, g->fcw + l * F * C, g->fcb + l * F, dh, ln1, p->fcw + l * F * C,
                        (int)N, (int)C, (int)F);
        /* LN1 over res1 = xin + dense(attn(qkv(xin))) */
        memset(dres, 0, N * C * sizeof(float));
        layernorm_backward(dres, g->ln1w + l * C, g->ln1b + l * C, dln1, res1, p->ln1w + l * C,
                           a->ln1_mean + l * N, a->ln1_rstd + l * N, (int)N, (int)C);
        memcpy(dx, dres, N * C * sizeof(float));
        memset(datty, 0, N * C * sizeof(float));
        linear_backward(datty, g->attow + l * C * C, g->attob + l * C, dres, atty,
                        p->attow + l * C * C, (int)N, (int)C, (int)C);
        memset(dqkv, 0, N * 3 * C * sizeof(float));
        mama_status rc = attention_backward(dqkv, datty, qkv, atty, a->att_lse + l * N * NH,
                                            a->mask, B, T, (int)C, c->n_head, scale, 0);
        if (rc) return rc;
        linear_backward(dx, g->qkvw + l * 3 * C * C, g->qkvb + l * 3 * C, dqkv, xin,
                        p->qkvw + l * 3 * C * C, (int)N, (int)C, (int)(3 * C));
    }
    memset(dres, 0, N * C * sizeof(float));
    layernorm_backward(dres, g->emb_lnw, g->emb_lnb, dx, a->emb_sum, p->emb_lnw, a->emb_mean,
                       a->emb_rstd, (int)N, (int)C);
    const int *tids = m->ids + N;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t i = (size_t)b * T + t;
            const float *d = dres + i * C;
            float *gp = g->pos + (size_t)t * C, *gt = g->type + (size_t)tids[i] * C;
            for (size_t k = 0; k < C; k++) { gp[k] += d[k]; gt[k] += d[k]; }
            /* the padding row gets no gradient (nn.Embedding padding_idx, as HF) */
            if (m->ids[i] == c->pad_token_id) continue;
            float *gw = g->word + (size_t)m->ids[i] * C;
            for (size_t k = 0; k < C; k++) gw[k] += d[k];
        }
    return MAMA_OK;
}
