/* gpt2_load.c: the GPT-2 tower's files: Hugging Face config.json and safetensors (base
 * weights, with or without the "transformer." prefix), peft adapters, and our model
 * file's trainable tensors and LoRA metadata (see gpt2.h). */
#define _GNU_SOURCE
#include "engine/text/gpt2.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/text/gpt2_impl.h"
#include "engine/core/hf_config.h"

/* ---------------------------------------------------------------- config */

mama_status gpt2_config_from_hf_json(const char *json_text, gpt2_config *out_cfg) {
    json_t *root = NULL;
    mama_status rc = hf_config_parse(json_text, "GPT-2", &root);
    if (rc) return rc;
    gpt2_config c = {0};
    hf_int_field ints[] = {
        {"vocab_size", &c.vocab_size, 0}, {"n_positions", &c.n_positions, 0},
        {"n_embd", &c.n_embd, 0}, {"n_layer", &c.n_layer, 0}, {"n_head", &c.n_head, 0},
    };
    hf_config_ints(root, ints, (int)(sizeof ints / sizeof *ints));
    long long f4 = 4ll * c.n_embd;
    c.n_inner = hf_config_int(root, "n_inner", f4 > (1 << 20) ? -1 : (int)f4);
    c.ln_eps = hf_config_float(root, "layer_norm_epsilon", 1e-5f);
    c.scale_attn_by_inverse_layer_idx =
        json_is_true(json_object_get(root, "scale_attn_by_inverse_layer_idx"));
    rc = hf_config_expect(root, "GPT-2", "activation_function",
                          (const char *const[]){"gelu_new", "gelu_pytorch_tanh", NULL},
                          "only gelu_new, the tanh GELU");
    json_t *scale = json_object_get(root, "scale_attn_weights");
    if (rc == MAMA_OK && scale && json_is_false(scale))
        rc = mama_errorf(MAMA_EUNSUPPORTED, "GPT-2 config: scale_attn_weights=false is not "
                         "supported");
    json_decref(root);
    if (rc != MAMA_OK) return rc;
    if (c.vocab_size <= 0 || c.n_positions <= 0 || c.n_embd <= 0 || c.n_layer <= 0 ||
        c.n_head <= 0 || c.n_inner <= 0 || c.n_embd % c.n_head || !(c.ln_eps > 0.0f))
        return mama_errorf(MAMA_EINVAL, "GPT-2 config: need positive vocab_size, n_positions, "
                           "n_embd, n_layer, n_head, n_inner (at most 2^20) with n_embd "
                           "divisible by n_head (got %d, %d, %d, %d, %d, %d)", c.vocab_size,
                           c.n_positions, c.n_embd, c.n_layer, c.n_head, c.n_inner);
    c.base_vocab = c.vocab_size;
    c.added_from = c.vocab_size;
    *out_cfg = c;
    return MAMA_OK;
}

/* ---------------------------------------------------------------- loading */

static const char *detect_prefix(const st_file *f) {
    static const char *const prefixes[] = {"", "transformer.", "text.", "model.transformer."};
    char name[128];
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        snprintf(name, sizeof name, "%swte.weight", prefixes[i]);
        if (st_find(f, name)) return prefixes[i];
    }
    return NULL;
}

mama_status gpt2_load_weights(gpt2_model *m, const st_file *f) {
    const gpt2_config *c = &m->cfg;
    const char *pre = detect_prefix(f);
    if (!pre)
        return mama_errorf(MAMA_ENOTFOUND, "GPT-2 weights: no wte.weight (tried prefixes '', "
                           "'transformer.', 'text.'); not a GPT-2-family checkpoint");
    int64_t C = c->n_embd, F = c->n_inner, L = c->n_layer;
    gpt2_params *p = &m->params;
    char wname[160];
    snprintf(wname, sizeof wname, "%swte.weight", pre);
    const st_tensor *wte = st_find(f, wname);
    mama_status rc;
    if (wte->ndim == 2 && wte->shape[0] == c->vocab_size && wte->shape[1] == C) {
        rc = hf_read_tensor(f, "GPT-2", pre, "wte.weight", p->wte, 2, c->vocab_size, C);
    } else {
        rc = hf_read_tensor(f, "GPT-2", pre, "wte.weight", p->wte, 2, c->base_vocab, C);
        if (rc == MAMA_OK && c->vocab_size > c->base_vocab) {
            /* Added special tokens start at the mean of the checkpoint's embeddings. */
            double *mean = calloc((size_t)C, sizeof(double));
            if (!mean) return mama_errorf(MAMA_ENOMEM, "GPT-2 load: out of memory");
            for (int64_t v = 0; v < c->base_vocab; v++)
                for (int64_t i = 0; i < C; i++) mean[i] += p->wte[v * C + i];
            for (int64_t v = c->base_vocab; v < c->vocab_size; v++)
                for (int64_t i = 0; i < C; i++)
                    p->wte[v * C + i] = (float)(mean[i] / c->base_vocab);
            free(mean);
        }
    }
    if (rc != MAMA_OK) return rc;
    if ((rc = hf_read_tensor(f, "GPT-2", pre, "wpe.weight", p->wpe, 2, c->n_positions, C)))
        return rc;
    for (int64_t l = 0; l < L; l++) {
        char n[160];
#define RD(suffix, dst, nd, a, b)                                              \
    do {                                                                       \
        snprintf(n, sizeof n, "h.%d.%s", (int)l, suffix);                      \
        if ((rc = hf_read_tensor(f, "GPT-2", pre, n, dst, nd, a, b)))          \
            return rc;                                                         \
    } while (0)
        RD("ln_1.weight", p->ln1w + l * C, 1, C, 0);
        RD("ln_1.bias", p->ln1b + l * C, 1, C, 0);
        RD("attn.c_attn.weight", p->qkvw + l * C * 3 * C, 2, C, 3 * C);
        RD("attn.c_attn.bias", p->qkvb + l * 3 * C, 1, 3 * C, 0);
        RD("attn.c_proj.weight", p->attprojw + l * C * C, 2, C, C);
        RD("attn.c_proj.bias", p->attprojb + l * C, 1, C, 0);
        RD("ln_2.weight", p->ln2w + l * C, 1, C, 0);
        RD("ln_2.bias", p->ln2b + l * C, 1, C, 0);
        RD("mlp.c_fc.weight", p->fcw + l * C * F, 2, C, F);
        RD("mlp.c_fc.bias", p->fcb + l * F, 1, F, 0);
        RD("mlp.c_proj.weight", p->fcprojw + l * F * C, 2, F, C);
        RD("mlp.c_proj.bias", p->fcprojb + l * C, 1, C, 0);
#undef RD
    }
    if ((rc = hf_read_tensor(f, "GPT-2", pre, "ln_f.weight", p->lnfw, 1, C, 0))) return rc;
    if ((rc = hf_read_tensor(f, "GPT-2", pre, "ln_f.bias", p->lnfb, 1, C, 0))) return rc;
    return MAMA_OK;
}

/* Finds a LoRA tensor: ours ("text.lora.h.N.<target>.A") or peft's, any prefix. */
static const st_tensor *find_lora(const st_file *f, int layer, const char *target, char ab) {
    char ours[160];
    snprintf(ours, sizeof ours, "text.lora.h.%d.%s.%c", layer, target, ab);
    const st_tensor *t = st_find(f, ours);
    if (t) return t;
    /* peft: "<any prefix>.h.N.<target>.lora_A.weight"; the ".default" spelling of a
     * live model's state dict only when the adapter-file spelling is absent. */
    for (int pass = 0; pass < 2; pass++) {
        char want[160];
        snprintf(want, sizeof want, pass ? "h.%d.%s.lora_%c.default.weight"
                                         : "h.%d.%s.lora_%c.weight", layer, target, ab);
        size_t nw = strlen(want);
        for (int i = 0; i < st_count(f); i++) {
            const st_tensor *x = st_at(f, i);
            size_t n = strlen(x->name);
            if (n < nw) continue;
            const char *s = x->name + n - nw;
            if (!strcmp(s, want) && (s == x->name || s[-1] == '.'))
                return x;
        }
    }
    return NULL;
}

mama_status gpt2_load_trainable(gpt2_model *m, const st_file *f) {
    const gpt2_config *c = &m->cfg;
    int R = m->lora_cfg.rank;
    mama_status rc;
    /* The trained added-token rows (our model files). */
    const st_tensor *added = st_find(f, "text.wte_added");
    if (added) {
        int64_t shape[2] = {c->vocab_size - c->added_from, c->n_embd};
        if (shape[0] == 0)
            return mama_errorf(MAMA_ESHAPE, "text.wte_added present but the model has no "
                               "added tokens; create it with the tokenizer's added count");
        if ((rc = st_read_f32(f, "text.wte_added", m->params.wte + (size_t)c->added_from *
                              c->n_embd, 2, shape)))
            return rc;
    }
    for (int t = 0; t < LORA_NUM_TARGETS; t++) {
        if (!(m->lora_cfg.targets & (1u << t))) continue;
        int in, out;
        gpt2_lora_dims(c, t, &in, &out);
        for (int l = 0; l < c->n_layer; l++) {
            for (int k = 0; k < 2; k++) {
                char ab = k ? 'B' : 'A';
                const st_tensor *x = find_lora(f, l, lora_target_name(t), ab);
                if (!x)
                    return mama_errorf(MAMA_ENOTFOUND, "LoRA: no lora_%c for h.%d.%s (rank "
                                       "%d); the adapter file must cover every configured "
                                       "target", ab, l, lora_target_name(t), R);
                int64_t shape[2] = {k ? out : R, k ? R : in};
                float *dst = k ? m->lora.B[t] + (size_t)l * out * R
                               : m->lora.A[t] + (size_t)l * R * in;
                if ((rc = st_read_f32(f, x->name, dst, 2, shape))) return rc;
            }
        }
    }
    return MAMA_OK;
}

mama_status gpt2_save_trainable(const gpt2_model *m, st_writer *w) {
    const gpt2_config *c = &m->cfg;
    int R = m->lora_cfg.rank;
    mama_status rc;
    if (R > 0) {
        char v[160] = "";
        size_t n = 0;
        for (int t = 0; t < LORA_NUM_TARGETS; t++)
            if (m->lora_cfg.targets & (1u << t))
                n += (size_t)snprintf(v + n, sizeof v - n, "%s%s", n ? "," : "",
                                      lora_target_name(t));
        if ((rc = st_writer_set_metadata(w, "text.lora_targets", v))) return rc;
        snprintf(v, sizeof v, "%d", R);
        if ((rc = st_writer_set_metadata(w, "text.lora_rank", v))) return rc;
        snprintf(v, sizeof v, "%.9g", m->lora_cfg.alpha);
        if ((rc = st_writer_set_metadata(w, "text.lora_alpha", v))) return rc;
        snprintf(v, sizeof v, "%.9g", m->lora_cfg.dropout);
        if ((rc = st_writer_set_metadata(w, "text.lora_dropout", v))) return rc;
    }
    for (int t = 0; t < LORA_NUM_TARGETS; t++) {
        if (!(m->lora_cfg.targets & (1u << t))) continue;
        int in, out;
        gpt2_lora_dims(c, t, &in, &out);
        for (int l = 0; l < c->n_layer; l++) {
            char n[160];
            int64_t sa[2] = {R, in}, sb[2] = {out, R};
            snprintf(n, sizeof n, "text.lora.h.%d.%s.A", l, lora_target_name(t));
            if ((rc = st_writer_add_f32(w, n, 2, sa, m->lora.A[t] + (size_t)l * R * in)))
                return rc;
            snprintf(n, sizeof n, "text.lora.h.%d.%s.B", l, lora_target_name(t));
            if ((rc = st_writer_add_f32(w, n, 2, sb, m->lora.B[t] + (size_t)l * out * R)))
                return rc;
        }
    }
    if (c->vocab_size > c->added_from) {
        int64_t s[2] = {c->vocab_size - c->added_from, c->n_embd};
        rc = st_writer_add_f32(w, "text.wte_added", 2, s,
                               m->params.wte + (size_t)c->added_from * c->n_embd);
        if (rc) return rc;
    }
    return MAMA_OK;
}

mama_status gpt2_read_lora_config(const st_file *f, lora_config *out_cfg) {
    lora_config c = {0};
    const char *rank = st_metadata(f, "text.lora_rank");
    if (!rank) { *out_cfg = c; return MAMA_OK; }
    const char *alpha = st_metadata(f, "text.lora_alpha");
    const char *targets = st_metadata(f, "text.lora_targets");
    const char *dropout = st_metadata(f, "text.lora_dropout");
    char *end = NULL;
    long r = strtol(rank, &end, 10);
    if (*end || r <= 0 || r > 4096 || !alpha || !targets)
        return mama_errorf(MAMA_EFORMAT, "model file: text.lora_rank '%s' needs a positive "
                           "rank with text.lora_alpha and text.lora_targets beside it", rank);
    c.rank = (int)r;
    c.alpha = strtof(alpha, &end);
    if (*end || !(c.alpha > 0.0f))
        return mama_errorf(MAMA_EFORMAT, "model file: text.lora_alpha '%s' is not a positive "
                           "number", alpha);
    c.dropout = dropout ? strtof(dropout, NULL) : 0.0f;
    if (!(c.dropout >= 0.0f && c.dropout < 1.0f))
        return mama_errorf(MAMA_EFORMAT, "model file: text.lora_dropout '%s' outside [0, 1)",
                           dropout);
    mama_status rc = lora_parse_targets(targets, &c.targets);
    if (rc) return rc;
    *out_cfg = c;
    return MAMA_OK;
}

mama_status gpt2_load_hf(const char *weights_path, const char *config_path,
                         int tokenizer_vocab, int first_added_id, const lora_config *lora_cfg,
                         gpt2_model **out_model) {
    char *json = NULL;
    mama_status rc = hf_config_read(weights_path, config_path, &json);
    if (rc) return rc;
    gpt2_config cfg;
    rc = gpt2_config_from_hf_json(json, &cfg);
    free(json);
    if (rc) return rc;
    if (tokenizer_vocab > cfg.vocab_size) cfg.vocab_size = tokenizer_vocab;
    cfg.added_from = first_added_id < 0 ? cfg.base_vocab : first_added_id;
    if (cfg.added_from > cfg.vocab_size)
        return mama_errorf(MAMA_EINVAL, "gpt2_load_hf: first added id %d beyond the "
                           "vocabulary (%d ids)", first_added_id, cfg.vocab_size);
    st_file *f = NULL;
    if ((rc = st_open(weights_path, &f))) return rc;
    gpt2_model *m = NULL;
    rc = gpt2_create(&cfg, lora_cfg, 0x5eedull, &m);
    if (rc == MAMA_OK) rc = gpt2_load_weights(m, f);
    st_close(f);
    if (rc) { gpt2_destroy(m); return rc; }
    *out_model = m;
    return MAMA_OK;
}
