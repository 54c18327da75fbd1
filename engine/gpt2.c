/* gpt2.c: GPT-2-family text tower forward/backward with LoRA (see gpt2.h for the legend).
 *
 * Block (pre-LN): x += c_proj(attn(c_attn(LN1(x)))); x += mlp.c_proj(gelu_tanh(c_fc(LN2(x)))),
 * then ln_f. Attention scale 1/sqrt(HS), also / (layer+1) with
 * scale_attn_by_inverse_layer_idx (BioMedLM). Backward walks the same saved activations in
 * reverse; only LoRA and the added-token rows of wte receive gradients (base frozen). */
#define _GNU_SOURCE
#include "engine/gpt2.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hf_config.h"
#include "engine/ops.h"

/* ---------------------------------------------------------------- config */

static int json_int(json_t *root, const char *key, int dflt) {
    json_t *v = json_object_get(root, key);
    return json_is_integer(v) ? (int)json_integer_value(v) : dflt;
}

mama_status gpt2_config_from_hf_json(const char *json_text, gpt2_config *out_cfg) {
    json_error_t err;
    json_t *root = json_loads(json_text ? json_text : "", 0, &err);
    if (!root || !json_is_object(root)) {
        if (root) json_decref(root);
        return mama_errorf(MAMA_EFORMAT, "GPT-2 config: not a JSON object (line %d: %s)",
                           err.line, err.text);
    }
    gpt2_config c = {0};
    c.vocab_size = json_int(root, "vocab_size", 0);
    c.n_positions = json_int(root, "n_positions", 0);
    c.n_embd = json_int(root, "n_embd", 0);
    c.n_layer = json_int(root, "n_layer", 0);
    c.n_head = json_int(root, "n_head", 0);
    json_t *inner = json_object_get(root, "n_inner");
    c.n_inner = json_is_integer(inner) ? (int)json_integer_value(inner) : 4 * c.n_embd;
    json_t *eps = json_object_get(root, "layer_norm_epsilon");
    c.ln_eps = json_is_number(eps) ? (float)json_number_value(eps) : 1e-5f;
    c.scale_attn_by_inverse_layer_idx =
        json_is_true(json_object_get(root, "scale_attn_by_inverse_layer_idx"));
    json_t *act = json_object_get(root, "activation_function");
    mama_status rc = MAMA_OK;
    if (json_is_string(act) && strcmp(json_string_value(act), "gelu_new") &&
        strcmp(json_string_value(act), "gelu_pytorch_tanh"))
        rc = mama_errorf(MAMA_EUNSUPPORTED, "GPT-2 config: activation_function '%s' is not "
                         "supported (only gelu_new, the tanh GELU)", json_string_value(act));
    json_t *scale = json_object_get(root, "scale_attn_weights");
    if (rc == MAMA_OK && scale && json_is_false(scale))
        rc = mama_errorf(MAMA_EUNSUPPORTED, "GPT-2 config: scale_attn_weights=false is not "
                         "supported");
    json_decref(root);
    if (rc != MAMA_OK) return rc;
    if (c.vocab_size <= 0 || c.n_positions <= 0 || c.n_embd <= 0 || c.n_layer <= 0 ||
        c.n_head <= 0 || c.n_inner <= 0 || c.n_embd % c.n_head || !(c.ln_eps > 0.0f))
        return mama_errorf(MAMA_EINVAL, "GPT-2 config: need positive vocab_size, n_positions, "
                           "n_embd, n_layer, n_head with n_embd divisible by n_head "
                           "(got %d, %d, %d, %d, %d)", c.vocab_size, c.n_positions, c.n_embd,
                           c.n_layer, c.n_head);
    c.base_vocab = c.vocab_size;
    *out_cfg = c;
    return MAMA_OK;
}

/* ---------------------------------------------------------------- memory */

static void lora_dims(const gpt2_config *c, int t, int *in, int *out) {
    int C = c->n_embd, F = c->n_inner;
    switch (t) {
    case 0: *in = C; *out = 3 * C; break;  /* attn.c_attn */
    case 1: *in = C; *out = C; break;      /* attn.c_proj */
    case 2: *in = C; *out = F; break;      /* mlp.c_fc */
    default: *in = F; *out = C; break;     /* mlp.c_proj */
    }
}

/* splitmix64 -> uniform -> Box-Muller: deterministic init of LoRA A. */
static double rng_uniform(unsigned long long *s) {
    unsigned long long z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return ((z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

mama_status gpt2_create(const gpt2_config *cfg, const lora_config *lora_cfg,
                        unsigned long long seed, gpt2_model **out_model) {
    const gpt2_config *c = cfg;
    if (c->vocab_size < c->base_vocab || c->base_vocab <= 0 || c->n_embd <= 0 ||
        c->n_head <= 0 || c->n_embd % c->n_head || c->n_layer <= 0 || c->n_positions <= 0 ||
        c->n_inner <= 0)
        return mama_errorf(MAMA_EINVAL, "gpt2_create: invalid config (V %d, base %d, C %d, "
                           "NH %d, L %d)", c->vocab_size, c->base_vocab, c->n_embd,
                           c->n_head, c->n_layer);
    if (lora_cfg && lora_cfg->rank < 0)
        return mama_errorf(MAMA_EINVAL, "LoRA rank must be >= 0 (got %d)", lora_cfg->rank);
    gpt2_model *m = calloc(1, sizeof *m);
    if (!m) return mama_errorf(MAMA_ENOMEM, "gpt2_create: out of memory");
    m->cfg = *c;
    if (lora_cfg) m->lora_cfg = *lora_cfg;
    if (m->lora_cfg.rank == 0) m->lora_cfg.targets = 0;

    size_t V = c->vocab_size, P = c->n_positions, C = c->n_embd, L = c->n_layer,
           F = c->n_inner;
    size_t sizes[16] = {V * C, P * C, L * C, L * C, L * C * 3 * C, L * 3 * C, L * C * C,
                        L * C, L * C, L * C, L * C * F, L * F, L * F * C, L * C, C, C};
    float **ptrs[16] = {&m->params.wte, &m->params.wpe, &m->params.ln1w, &m->params.ln1b,
                        &m->params.qkvw, &m->params.qkvb, &m->params.attprojw,
                        &m->params.attprojb, &m->params.ln2w, &m->params.ln2b,
                        &m->params.fcw, &m->params.fcb, &m->params.fcprojw,
                        &m->params.fcprojb, &m->params.lnfw, &m->params.lnfb};
    size_t total = 0;
    for (int i = 0; i < 16; i++) total += sizes[i];
    m->params_memory = calloc(total, sizeof(float));
    size_t n_added = (size_t)(c->vocab_size - c->base_vocab);
    m->wte_added_grad = calloc(n_added * C + 1, sizeof(float));
    if (!m->params_memory || !m->wte_added_grad) goto fail;
    m->num_params = total;
    float *p = m->params_memory;
    for (int i = 0; i < 16; i++) { *ptrs[i] = p; p += sizes[i]; }

    size_t R = (size_t)m->lora_cfg.rank, nl = 0;
    for (int t = 0; t < LORA_NUM_TARGETS; t++) {
        if (!(m->lora_cfg.targets & (1u << t))) continue;
        int in, out;
        lora_dims(c, t, &in, &out);
        nl += L * R * (size_t)(in + out);
    }
    if (nl) {
        m->lora_memory = calloc(nl, sizeof(float));
        m->lora_grad_memory = calloc(nl, sizeof(float));
        if (!m->lora_memory || !m->lora_grad_memory) goto fail;
        m->num_lora = nl;
        float *a = m->lora_memory, *g = m->lora_grad_memory;
        unsigned long long s = seed;
        for (int t = 0; t < LORA_NUM_TARGETS; t++) {
            if (!(m->lora_cfg.targets & (1u << t))) continue;
            int in, out;
            lora_dims(c, t, &in, &out);
            m->lora.A[t] = a; m->lora_grad.A[t] = g;
            a += L * R * in; g += L * R * in;
            m->lora.B[t] = a; m->lora_grad.B[t] = g;
            a += L * R * out; g += L * R * out;
            /* peft's default initialises A with Kaiming-uniform and B with zeros; a
             * Gaussian of std 1/sqrt(in) plays the same role and B = 0 keeps the base. */
            for (size_t i = 0; i < L * R * in; i++) {
                double u1 = rng_uniform(&s), u2 = rng_uniform(&s);
                m->lora.A[t][i] = (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2) /
                                          sqrt((double)in));
            }
        }
    }
    *out_model = m;
    return MAMA_OK;
fail:
    gpt2_destroy(m);
    return mama_errorf(MAMA_ENOMEM, "gpt2_create: cannot allocate %zu parameters",
                       total);
}

void gpt2_destroy(gpt2_model *m) {
    if (!m) return;
    free(m->params_memory);
    free(m->lora_memory);
    free(m->lora_grad_memory);
    free(m->wte_added_grad);
    free(m->acts_memory);
    free(m->acts.ids);
    free(m->grad_scratch);
    free(m);
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

static mama_status read_param(const st_file *f, const char *prefix, const char *name,
                              float *dst, int ndim, int64_t d0, int64_t d1) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    if (!st_find(f, full))
        return mama_errorf(MAMA_ENOTFOUND, "GPT-2 weights: tensor '%s' missing (is this a "
                           "GPT-2-family checkpoint matching config.json?)", full);
    int64_t shape[2] = {d0, d1};
    return st_read_f32(f, full, dst, ndim, shape);
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
        rc = read_param(f, pre, "wte.weight", p->wte, 2, c->vocab_size, C);
    } else {
        rc = read_param(f, pre, "wte.weight", p->wte, 2, c->base_vocab, C);
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
    if ((rc = read_param(f, pre, "wpe.weight", p->wpe, 2, c->n_positions, C))) return rc;
    for (int64_t l = 0; l < L; l++) {
        char n[160];
#define RD(suffix, dst, nd, a, b)                                              \
    do {                                                                       \
        snprintf(n, sizeof n, "h.%d.%s", (int)l, suffix);                      \
        if ((rc = read_param(f, pre, n, dst, nd, a, b))) return rc;            \
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
    if ((rc = read_param(f, pre, "ln_f.weight", p->lnfw, 1, C, 0))) return rc;
    if ((rc = read_param(f, pre, "ln_f.bias", p->lnfb, 1, C, 0))) return rc;
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
        int64_t shape[2] = {c->vocab_size - c->base_vocab, c->n_embd};
        if (shape[0] == 0)
            return mama_errorf(MAMA_ESHAPE, "text.wte_added present but the model has no "
                               "added tokens; create it with the tokenizer's added count");
        if ((rc = st_read_f32(f, "text.wte_added", m->params.wte + (size_t)c->base_vocab *
                              c->n_embd, 2, shape)))
            return rc;
    }
    for (int t = 0; t < LORA_NUM_TARGETS; t++) {
        if (!(m->lora_cfg.targets & (1u << t))) continue;
        int in, out;
        lora_dims(c, t, &in, &out);
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
    for (int t = 0; t < LORA_NUM_TARGETS; t++) {
        if (!(m->lora_cfg.targets & (1u << t))) continue;
        int in, out;
        lora_dims(c, t, &in, &out);
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
    if (c->vocab_size > c->base_vocab) {
        int64_t s[2] = {c->vocab_size - c->base_vocab, c->n_embd};
        rc = st_writer_add_f32(w, "text.wte_added", 2, s,
                               m->params.wte + (size_t)c->base_vocab * c->n_embd);
        if (rc) return rc;
    }
    return MAMA_OK;
}

mama_status gpt2_load_hf(const char *weights_path, const char *config_path,
                         int n_added_tokens, const lora_config *lora_cfg,
                         gpt2_model **out_model) {
    char *json = NULL;
    mama_status rc = hf_config_read(weights_path, config_path, &json);
    if (rc) return rc;
    gpt2_config cfg;
    rc = gpt2_config_from_hf_json(json, &cfg);
    free(json);
    if (rc) return rc;
    if (n_added_tokens < 0) return mama_errorf(MAMA_EINVAL, "negative n_added_tokens");
    cfg.vocab_size += n_added_tokens;
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

/* ---------------------------------------------------------------- forward */

void gpt2_set_inference(gpt2_model *m, int on) {
    if (!!on == m->inference) return;
    m->inference = !!on;
    free(m->acts_memory);
    free(m->acts.ids);
    free(m->grad_scratch);
    m->acts_memory = NULL;
    m->acts.ids = NULL;
    m->grad_scratch = NULL;
    m->acts_capacity = 0;
    m->B = m->T = 0;
}

static mama_status ensure_acts(gpt2_model *m, int B, int T) {
    size_t N = (size_t)B * T;
    if (m->acts_memory && N <= m->acts_capacity) return MAMA_OK;
    const gpt2_config *c = &m->cfg;
    size_t C = c->n_embd, F = c->n_inner, NH = c->n_head;
    size_t L = m->inference ? 1 : (size_t)c->n_layer;  /* inference reuses one layer's slot */
    size_t R = (size_t)m->lora_cfg.rank;
    gpt2_acts *a = &m->acts;
    struct { float **p; size_t n; } tab[] = {
        {&a->encoded, N * C}, {&a->ln1, L * N * C}, {&a->ln1_mean, L * N},
        {&a->ln1_rstd, L * N}, {&a->qkv, L * N * 3 * C}, {&a->atty, L * N * C},
        {&a->att_lse, L * N * NH}, {&a->attproj, L * N * C}, {&a->res2, L * N * C},
        {&a->ln2, L * N * C}, {&a->ln2_mean, L * N}, {&a->ln2_rstd, L * N},
        {&a->fch, L * N * F}, {&a->fch_gelu, L * N * F}, {&a->fcproj, L * N * C},
        {&a->res3, L * N * C}, {&a->lnf, N * C}, {&a->lnf_mean, N}, {&a->lnf_rstd, N},
        {&a->lora_tmp[0], (m->lora_cfg.targets & 1u) ? L * N * R : 0},
        {&a->lora_tmp[1], (m->lora_cfg.targets & 2u) ? L * N * R : 0},
        {&a->lora_tmp[2], (m->lora_cfg.targets & 4u) ? L * N * R : 0},
        {&a->lora_tmp[3], (m->lora_cfg.targets & 8u) ? L * N * R : 0},
        {&a->mask, N},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++) total += tab[i].n;
    free(m->acts_memory);
    free(a->ids);
    free(m->grad_scratch);
    m->grad_scratch = NULL;
    a->ids = malloc(N * sizeof(int));
    m->acts_memory = malloc(total * sizeof(float));
    if (!m->acts_memory || !a->ids) {
        free(m->acts_memory); free(a->ids);
        m->acts_memory = NULL; a->ids = NULL; m->acts_capacity = 0;
        return mama_errorf(MAMA_ENOMEM, "GPT-2: cannot allocate activations for %zu tokens "
                           "(%zu floats); use a smaller batch", N, total);
    }
    float *p = m->acts_memory;
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++) {
        *tab[i].p = tab[i].n ? p : NULL;
        p += tab[i].n;
    }
    m->acts_capacity = N;
    return MAMA_OK;
}

static float layer_scale(const gpt2_config *c, int l) {
    float s = 1.0f / sqrtf((float)(c->n_embd / c->n_head));
    if (c->scale_attn_by_inverse_layer_idx) s /= (float)(l + 1);
    return s;
}

mama_status gpt2_forward(gpt2_model *m, const int *ids, const float *mask, int B, int T) {
    const gpt2_config *c = &m->cfg;
    if (B <= 0 || T <= 0 || T > c->n_positions)
        return mama_errorf(MAMA_EINVAL, "GPT-2 forward: need B > 0 and 0 < T <= %d "
                           "(got B %d, T %d); truncate the text", c->n_positions, B, T);
    for (size_t i = 0; i < (size_t)B * T; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return mama_errorf(MAMA_EINVAL, "GPT-2 forward: token id %d at %zu outside "
                               "[0, %d); tokenizer and model vocabularies differ", ids[i], i,
                               c->vocab_size);
    mama_status rc = ensure_acts(m, B, T);
    if (rc) return rc;
    m->B = B; m->T = T;
    size_t N = (size_t)B * T, C = c->n_embd, F = c->n_inner;
    int L = c->n_layer, NH = c->n_head, R = m->lora_cfg.rank;
    float lscale = R ? m->lora_cfg.alpha / (float)R : 0.0f;
    gpt2_acts *a = &m->acts;
    gpt2_params *p = &m->params;
    memcpy(a->ids, ids, N * sizeof(int));
    for (size_t i = 0; i < N; i++) a->mask[i] = mask ? (mask[i] != 0.0f) : 1.0f;

    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *o = a->encoded + ((size_t)b * T + t) * C;
            const float *we = p->wte + (size_t)ids[b * T + t] * C, *pe = p->wpe + (size_t)t * C;
            for (size_t i = 0; i < C; i++) o[i] = we[i] + pe[i];
        }

    for (int l = 0; l < L; l++) {
        /* s: this layer's activation slot (always 0 in inference mode, where the residual
         * stream is updated in place: res2/res3 of slot 0 hold the running state). */
        size_t s = m->inference ? 0 : (size_t)l;
        const float *resid = l == 0 ? a->encoded
                                    : a->res3 + (m->inference ? 0 : (size_t)(l - 1) * N * C);
        float *ln1 = a->ln1 + s * N * C, *qkv = a->qkv + s * N * 3 * C;
        float *atty = a->atty + s * N * C, *attproj = a->attproj + s * N * C;
        float *res2 = a->res2 + s * N * C, *ln2 = a->ln2 + s * N * C;
        float *fch = a->fch + s * N * F, *fchg = a->fch_gelu + s * N * F;
        float *fcproj = a->fcproj + s * N * C, *res3 = a->res3 + s * N * C;

        layernorm_forward(ln1, a->ln1_mean + s * N, a->ln1_rstd + s * N, resid,
                          p->ln1w + l * C, p->ln1b + l * C, (int)N, (int)C, c->ln_eps);
        conv1d_forward(qkv, ln1, p->qkvw + l * C * 3 * C, p->qkvb + l * 3 * C, (int)N, (int)C,
                       (int)(3 * C));
        if (m->lora.A[0])
            lora_forward(qkv, a->lora_tmp[0] + s * N * R, ln1, m->lora.A[0] + l * R * C,
                         m->lora.B[0] + l * 3 * C * R, lscale, (int)N, (int)C, (int)(3 * C), R);
        attention_forward(atty, a->att_lse + s * N * NH, qkv, a->mask, B, T, (int)C, NH,
                          layer_scale(c, l), 1);
        conv1d_forward(attproj, atty, p->attprojw + l * C * C, p->attprojb + l * C, (int)N,
                       (int)C, (int)C);
        if (m->lora.A[1])
            lora_forward(attproj, a->lora_tmp[1] + s * N * R, atty, m->lora.A[1] + l * R * C,
                         m->lora.B[1] + l * C * R, lscale, (int)N, (int)C, (int)C, R);
        residual_scaled_forward(res2, resid, attproj, NULL, N, (int)C);
        layernorm_forward(ln2, a->ln2_mean + s * N, a->ln2_rstd + s * N, res2,
                          p->ln2w + l * C, p->ln2b + l * C, (int)N, (int)C, c->ln_eps);
        conv1d_forward(fch, ln2, p->fcw + l * C * F, p->fcb + l * F, (int)N, (int)C, (int)F);
        if (m->lora.A[2])
            lora_forward(fch, a->lora_tmp[2] + s * N * R, ln2, m->lora.A[2] + l * R * C,
                         m->lora.B[2] + l * F * R, lscale, (int)N, (int)C, (int)F, R);
        gelu_tanh_forward(fchg, fch, N * F);
        conv1d_forward(fcproj, fchg, p->fcprojw + l * F * C, p->fcprojb + l * C, (int)N,
                       (int)F, (int)C);
        if (m->lora.A[3])
            lora_forward(fcproj, a->lora_tmp[3] + s * N * R, fchg, m->lora.A[3] + l * R * F,
                         m->lora.B[3] + l * C * R, lscale, (int)N, (int)F, (int)C, R);
        residual_scaled_forward(res3, res2, fcproj, NULL, N, (int)C);
    }
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd,
                      a->res3 + (m->inference ? 0 : (size_t)(L - 1) * N * C),
                      p->lnfw, p->lnfb, (int)N, (int)C, c->ln_eps);
    return MAMA_OK;
}

/* ---------------------------------------------------------------- backward */

void gpt2_zero_grad(gpt2_model *m) {
    if (m->lora_grad_memory) memset(m->lora_grad_memory, 0, m->num_lora * sizeof(float));
    size_t n_added = (size_t)(m->cfg.vocab_size - m->cfg.base_vocab);
    memset(m->wte_added_grad, 0, n_added * m->cfg.n_embd * sizeof(float));
}

mama_status gpt2_backward(gpt2_model *m, const float *dlnf) {
    const gpt2_config *c = &m->cfg;
    if (!m->B) return mama_errorf(MAMA_EINVAL, "gpt2_backward: no forward pass to go back "
                                  "through; call gpt2_forward first");
    if (m->inference)
        return mama_errorf(MAMA_EINVAL, "gpt2_backward: the model is in inference mode "
                           "(activations not kept); gpt2_set_inference(m, 0) before forward");
    size_t N = (size_t)m->B * m->T, C = c->n_embd, F = c->n_inner;
    int L = c->n_layer, NH = c->n_head, R = m->lora_cfg.rank, B = m->B, T = m->T;
    float lscale = R ? m->lora_cfg.alpha / (float)R : 0.0f;
    gpt2_acts *a = &m->acts;
    gpt2_params *p = &m->params;
    /* scratch: dres, dres2, dln, datty (N,C); dqkv (N,3C); dfch, dfchg (N,F); dtmp (N,R) */
    size_t need = N * (4 * C + 3 * C + 2 * F + (size_t)R);
    if (!m->grad_scratch) {
        m->grad_scratch = malloc(sizeof(float) * (m->acts_capacity * (7 * C + 2 * F + R)));
        if (!m->grad_scratch)
            return mama_errorf(MAMA_ENOMEM, "gpt2_backward: cannot allocate %zu floats", need);
    }
    float *dres = m->grad_scratch, *dres2 = dres + N * C, *dln = dres2 + N * C;
    float *datty = dln + N * C, *dqkv = datty + N * C, *dfch = dqkv + N * 3 * C;
    float *dfchg = dfch + N * F, *dtmp = dfchg + N * F;

    memset(dres, 0, N * C * sizeof(float));
    layernorm_backward(dres, NULL, NULL, dlnf, a->res3 + (size_t)(L - 1) * N * C, p->lnfw,
                       a->lnf_mean, a->lnf_rstd, (int)N, (int)C);
    for (int l = L - 1; l >= 0; l--) {
        const float *resid = l == 0 ? a->encoded : a->res3 + (size_t)(l - 1) * N * C;
        float *ln1 = a->ln1 + l * N * C, *qkv = a->qkv + l * N * 3 * C;
        float *atty = a->atty + l * N * C, *res2 = a->res2 + l * N * C;
        float *ln2 = a->ln2 + l * N * C, *fch = a->fch + l * N * F;
        float *fchg = a->fch_gelu + l * N * F;

        /* MLP branch: dres is d(res3) = d(fcproj) and part of d(res2). */
        memset(dfchg, 0, N * F * sizeof(float));
        if (m->lora.A[3])
            lora_backward(dfchg, m->lora_grad.A[3] + l * R * F, m->lora_grad.B[3] + l * C * R,
                          dtmp, dres, fchg, a->lora_tmp[3] + l * N * R,
                          m->lora.A[3] + l * R * F, m->lora.B[3] + l * C * R, lscale,
                          (int)N, (int)F, (int)C, R);
        conv1d_backward(dfchg, NULL, NULL, dres, fchg, p->fcprojw + l * F * C, (int)N, (int)F,
                        (int)C);
        memset(dfch, 0, N * F * sizeof(float));
        gelu_tanh_backward(dfch, dfchg, fch, N * F);
        memset(dln, 0, N * C * sizeof(float));
        if (m->lora.A[2])
            lora_backward(dln, m->lora_grad.A[2] + l * R * C, m->lora_grad.B[2] + l * F * R,
                          dtmp, dfch, ln2, a->lora_tmp[2] + l * N * R,
                          m->lora.A[2] + l * R * C, m->lora.B[2] + l * F * R, lscale,
                          (int)N, (int)C, (int)F, R);
        conv1d_backward(dln, NULL, NULL, dfch, ln2, p->fcw + l * C * F, (int)N, (int)C, (int)F);
        memcpy(dres2, dres, N * C * sizeof(float));
        layernorm_backward(dres2, NULL, NULL, dln, res2, p->ln2w + l * C, a->ln2_mean + l * N,
                           a->ln2_rstd + l * N, (int)N, (int)C);

        /* Attention branch: dres2 is d(attproj) and part of d(resid). */
        memset(datty, 0, N * C * sizeof(float));
        if (m->lora.A[1])
            lora_backward(datty, m->lora_grad.A[1] + l * R * C, m->lora_grad.B[1] + l * C * R,
                          dtmp, dres2, atty, a->lora_tmp[1] + l * N * R,
                          m->lora.A[1] + l * R * C, m->lora.B[1] + l * C * R, lscale,
                          (int)N, (int)C, (int)C, R);
        conv1d_backward(datty, NULL, NULL, dres2, atty, p->attprojw + l * C * C, (int)N,
                        (int)C, (int)C);
        memset(dqkv, 0, N * 3 * C * sizeof(float));
        attention_backward(dqkv, datty, qkv, atty, a->att_lse + l * N * NH, a->mask, B, T,
                           (int)C, NH, layer_scale(c, l), 1);
        memset(dln, 0, N * C * sizeof(float));
        if (m->lora.A[0])
            lora_backward(dln, m->lora_grad.A[0] + l * R * C, m->lora_grad.B[0] + l * 3 * C * R,
                          dtmp, dqkv, ln1, a->lora_tmp[0] + l * N * R,
                          m->lora.A[0] + l * R * C, m->lora.B[0] + l * 3 * C * R, lscale,
                          (int)N, (int)C, (int)(3 * C), R);
        conv1d_backward(dln, NULL, NULL, dqkv, ln1, p->qkvw + l * C * 3 * C, (int)N, (int)C,
                        (int)(3 * C));
        memcpy(dres, dres2, N * C * sizeof(float));
        layernorm_backward(dres, NULL, NULL, dln, resid, p->ln1w + l * C, a->ln1_mean + l * N,
                           a->ln1_rstd + l * N, (int)N, (int)C);
    }
    /* Embeddings: only the added special tokens' rows are trainable. */
    for (size_t i = 0; i < N; i++) {
        int id = a->ids[i];
        if (id < c->base_vocab) continue;
        float *g = m->wte_added_grad + (size_t)(id - c->base_vocab) * C;
        const float *d = dres + i * C;
        for (size_t k = 0; k < C; k++) g[k] += d[k];
    }
    return MAMA_OK;
}
