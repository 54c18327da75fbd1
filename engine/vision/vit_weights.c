/* vit_weights.c: the image tower's weights on disk: loading Hugging Face
 * (Dinov2WithRegistersModel, hub and transformers-5 names) and Meta (dinov2) checkpoints,
 * saving in HF hub naming, and seeded random initialisation.
 * Legend as in vit.h: C width, L depth, M MLP hidden, K patch pixels, R registers,
 * G0 trained grid side, E embed. */
#include "engine/vision/vit.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef enum naming { NAMING_HF, NAMING_HF5, NAMING_META } naming;

static const char *naming_name(naming n) {
    return n == NAMING_META ? "Meta dinov2" : n == NAMING_HF5 ? "HF transformers-5" : "HF hub";
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, n - o, "[");
    for (int i = 0; i < ndim && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
}

/* Reads prefix+name with exactly this shape into dst. Errors name the tensor. */
static mama_status read_t(const st_file *f, naming nm, const char *prefix, const char *name,
                          float *dst, int ndim, const int64_t *shape) {
    char full[512], want[128];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    shape_str(want, sizeof want, ndim, shape);
    const st_tensor *t = st_find(f, full);
    if (!t)
        return mama_errorf(MAMA_ENOTFOUND, "image tower: tensor '%s' missing (expected shape %s, "
                           "%s naming); is this a DINOv2 checkpoint (Dinov2Model or "
                           "Dinov2WithRegistersModel) matching the config?", full, want, naming_name(nm));
    int ok = t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == shape[i];
    if (!ok) {
        char got[128];
        shape_str(got, sizeof got, t->ndim, t->shape);
        return mama_errorf(MAMA_ESHAPE, "image tower: tensor '%s' has shape %s, the config needs "
                           "%s; check width/depth/patch/image_size/n_registers", full, got, want);
    }
    return st_read_f32(f, full, dst, ndim, shape);
}

#define TRY(expr) do { mama_status rc_ = (expr); if (rc_ != MAMA_OK) return rc_; } while (0)

mama_status vit_load(vit_model *m, const st_file *f, const char *prefix, const char *proj_name) {
    if (!prefix) prefix = "";
    const vit_config *c = &m->cfg;
    vit_params *p = &m->params;
    int64_t C = c->width, M = m->M, P = c->patch, IC = c->in_chans, R = c->n_registers;
    int64_t NPOS = 1 + (int64_t)m->G0 * m->G0;
    char name[512], probe[512];

    naming nm = NAMING_HF;
    snprintf(probe, sizeof probe, "%scls_token", prefix);
    if (st_find(f, probe)) nm = NAMING_META;
    snprintf(probe, sizeof probe, "%sencoder.layer.0.attention.q_proj.weight", prefix);
    if (st_find(f, probe)) nm = NAMING_HF5;
    int meta = nm == NAMING_META;

    /* registers: the config and the file must agree on their number */
    snprintf(probe, sizeof probe, "%s%s", prefix, meta ? "register_tokens" : "embeddings.register_tokens");
    const st_tensor *rt = st_find(f, probe);
    if (R == 0 && rt && rt->numel > 0)
        return mama_errorf(MAMA_ESHAPE, "image tower: '%s' holds register tokens but the config "
                           "says n_registers 0", probe);

    int64_t s_patch[4] = {C, IC, P, P}, s_c[1] = {C}, s_tok[3] = {1, 1, C};
    int64_t s_reg[3] = {1, R, C}, s_pos[3] = {1, NPOS, C};
    TRY(read_t(f, nm, prefix, meta ? "patch_embed.proj.weight" : "embeddings.patch_embeddings.projection.weight",
               p->patch_w, 4, s_patch));
    TRY(read_t(f, nm, prefix, meta ? "patch_embed.proj.bias" : "embeddings.patch_embeddings.projection.bias",
               p->patch_b, 1, s_c));
    TRY(read_t(f, nm, prefix, meta ? "cls_token" : "embeddings.cls_token", p->cls, 3, s_tok));
    if (R > 0)
        TRY(read_t(f, nm, prefix, meta ? "register_tokens" : "embeddings.register_tokens",
                   p->reg, 3, s_reg));
    TRY(read_t(f, nm, prefix, meta ? "pos_embed" : "embeddings.position_embeddings", p->pos, 3, s_pos));

    int64_t s_cc[2] = {C, C}, s_3cc[2] = {3 * C, C}, s_3c[1] = {3 * C};
    int64_t s_mc[2] = {M, C}, s_cm[2] = {C, M}, s_m[1] = {M};
    for (int l = 0; l < c->depth; l++) {
        char b[64];
        snprintf(b, sizeof b, meta ? "blocks.%d." : "encoder.layer.%d.", l);
        size_t lC = (size_t)l * C;
#define LT(suffix, dst, nd, shp) do { snprintf(name, sizeof name, "%s%s", b, suffix); \
        TRY(read_t(f, nm, prefix, name, dst, nd, shp)); } while (0)
        LT("norm1.weight", p->ln1w + lC, 1, s_c);
        LT("norm1.bias", p->ln1b + lC, 1, s_c);
        LT("norm2.weight", p->ln2w + lC, 1, s_c);
        LT("norm2.bias", p->ln2b + lC, 1, s_c);
        float *qkvw = p->qkvw + (size_t)l * 3 * C * C, *qkvb = p->qkvb + (size_t)l * 3 * C;
        if (meta) {
            LT("attn.qkv.weight", qkvw, 2, s_3cc);
            LT("attn.qkv.bias", qkvb, 1, s_3c);
            LT("attn.proj.weight", p->attprojw + (size_t)l * C * C, 2, s_cc);
            LT("attn.proj.bias", p->attprojb + lC, 1, s_c);
        } else {
            static const char *hf[3] = {"attention.attention.query", "attention.attention.key",
                                        "attention.attention.value"};
            static const char *hf5[3] = {"attention.q_proj", "attention.k_proj", "attention.v_proj"};
            for (int j = 0; j < 3; j++) {
                char s[128];
                snprintf(s, sizeof s, "%s.weight", nm == NAMING_HF5 ? hf5[j] : hf[j]);
                LT(s, qkvw + (size_t)j * C * C, 2, s_cc);
                snprintf(s, sizeof s, "%s.bias", nm == NAMING_HF5 ? hf5[j] : hf[j]);
                LT(s, qkvb + (size_t)j * C, 1, s_c);
            }
            const char *o = nm == NAMING_HF5 ? "attention.o_proj" : "attention.output.dense";
            char s[128];
            snprintf(s, sizeof s, "%s.weight", o);
            LT(s, p->attprojw + (size_t)l * C * C, 2, s_cc);
            snprintf(s, sizeof s, "%s.bias", o);
            LT(s, p->attprojb + lC, 1, s_c);
        }
        if (c->layerscale) {
            LT(meta ? "ls1.gamma" : "layer_scale1.lambda1", p->ls1 + lC, 1, s_c);
            LT(meta ? "ls2.gamma" : "layer_scale2.lambda1", p->ls2 + lC, 1, s_c);
        }
        LT("mlp.fc1.weight", p->fc1w + (size_t)l * M * C, 2, s_mc);
        LT("mlp.fc1.bias", p->fc1b + (size_t)l * M, 1, s_m);
        LT("mlp.fc2.weight", p->fc2w + (size_t)l * C * M, 2, s_cm);
        LT("mlp.fc2.bias", p->fc2b + lC, 1, s_c);
#undef LT
    }
    /* one layer too many in the file means the config's depth is wrong */
    snprintf(probe, sizeof probe, meta ? "%sblocks.%d.norm1.weight" : "%sencoder.layer.%d.norm1.weight",
             prefix, c->depth);
    if (st_find(f, probe))
        return mama_errorf(MAMA_ESHAPE, "image tower: the file has more layers than the config's "
                           "depth %d ('%s' exists)", c->depth, probe);
    TRY(read_t(f, nm, prefix, meta ? "norm.weight" : "layernorm.weight", p->lnfw, 1, s_c));
    TRY(read_t(f, nm, prefix, meta ? "norm.bias" : "layernorm.bias", p->lnfb, 1, s_c));
    if (c->embed > 0 && proj_name) {
        int64_t s_ec[2] = {c->embed, C};
        TRY(read_t(f, nm, "", proj_name, p->proj_w, 2, s_ec));
    }
    return MAMA_OK;
}

static mama_status put(st_writer *w, const char *prefix, const char *name, int ndim,
                       const int64_t *shape, const float *data) {
    char full[512];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return st_writer_add_f32(w, full, ndim, shape, data);
}

mama_status vit_save(const vit_model *m, st_writer *w, const char *prefix, const char *proj_name) {
    if (!prefix) prefix = "";
    const vit_config *c = &m->cfg;
    const vit_params *p = &m->params;
    int64_t C = c->width, M = m->M, P = c->patch, IC = c->in_chans, R = c->n_registers;
    int64_t NPOS = 1 + (int64_t)m->G0 * m->G0;
    TRY(put(w, prefix, "embeddings.patch_embeddings.projection.weight", 4, (int64_t[]){C, IC, P, P}, p->patch_w));
    TRY(put(w, prefix, "embeddings.patch_embeddings.projection.bias", 1, (int64_t[]){C}, p->patch_b));
    TRY(put(w, prefix, "embeddings.cls_token", 3, (int64_t[]){1, 1, C}, p->cls));
    if (R > 0) TRY(put(w, prefix, "embeddings.register_tokens", 3, (int64_t[]){1, R, C}, p->reg));
    TRY(put(w, prefix, "embeddings.position_embeddings", 3, (int64_t[]){1, NPOS, C}, p->pos));
    for (int l = 0; l < c->depth; l++) {
        char b[256];
        size_t lC = (size_t)l * C;
#define PL(suffix, nd, shp, data) do { snprintf(b, sizeof b, "encoder.layer.%d.%s", l, suffix); \
        TRY(put(w, prefix, b, nd, shp, data)); } while (0)
        PL("norm1.weight", 1, ((int64_t[]){C}), p->ln1w + lC);
        PL("norm1.bias", 1, ((int64_t[]){C}), p->ln1b + lC);
        static const char *hf[3] = {"query", "key", "value"};
        for (int j = 0; j < 3; j++) {
            char s[128];
            snprintf(s, sizeof s, "attention.attention.%s.weight", hf[j]);
            PL(s, 2, ((int64_t[]){C, C}), p->qkvw + (size_t)l * 3 * C * C + (size_t)j * C * C);
            snprintf(s, sizeof s, "attention.attention.%s.bias", hf[j]);
            PL(s, 1, ((int64_t[]){C}), p->qkvb + (size_t)l * 3 * C + (size_t)j * C);
        }
        PL("attention.output.dense.weight", 2, ((int64_t[]){C, C}), p->attprojw + (size_t)l * C * C);
        PL("attention.output.dense.bias", 1, ((int64_t[]){C}), p->attprojb + lC);
        if (c->layerscale) {
            PL("layer_scale1.lambda1", 1, ((int64_t[]){C}), p->ls1 + lC);
            PL("layer_scale2.lambda1", 1, ((int64_t[]){C}), p->ls2 + lC);
        }
        PL("norm2.weight", 1, ((int64_t[]){C}), p->ln2w + lC);
        PL("norm2.bias", 1, ((int64_t[]){C}), p->ln2b + lC);
        PL("mlp.fc1.weight", 2, ((int64_t[]){M, C}), p->fc1w + (size_t)l * M * C);
        PL("mlp.fc1.bias", 1, ((int64_t[]){M}), p->fc1b + (size_t)l * M);
        PL("mlp.fc2.weight", 2, ((int64_t[]){C, M}), p->fc2w + (size_t)l * C * M);
        PL("mlp.fc2.bias", 1, ((int64_t[]){C}), p->fc2b + lC);
#undef PL
    }
    TRY(put(w, prefix, "layernorm.weight", 1, (int64_t[]){C}, p->lnfw));
    TRY(put(w, prefix, "layernorm.bias", 1, (int64_t[]){C}, p->lnfb));
    if (c->embed > 0 && proj_name)
        TRY(put(w, "", proj_name, 2, (int64_t[]){c->embed, C}, p->proj_w));
    return MAMA_OK;
}

/* splitmix64 + Box-Muller: deterministic across platforms for a seed. */
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double uniform01(uint64_t *s) { return ((next_u64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
static float trunc_normal(uint64_t *s, float std) {
    for (;;) {
        double u1 = uniform01(s), u2 = uniform01(s);
        double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        if (z >= -2.0 && z <= 2.0) return (float)(z * std);
    }
}
static void fill_normal(float *x, size_t n, uint64_t *s, float std) {
    for (size_t i = 0; i < n; i++) x[i] = trunc_normal(s, std);
}
static void fill_const(float *x, size_t n, float v) {
    for (size_t i = 0; i < n; i++) x[i] = v;
}

void vit_init_random(vit_model *m, uint64_t seed) {
    uint64_t s = seed ^ 0x6d616d61ull;   /* "mama" */
    const vit_config *c = &m->cfg;
    vit_params *p = &m->params;
    size_t C = c->width, L = c->depth, M = m->M;
    memset(m->params_memory, 0, m->num_params * sizeof(float));
    fill_normal(p->patch_w, C * m->K, &s, 0.02f);
    fill_normal(p->cls, C, &s, 0.02f);
    if (p->reg) fill_normal(p->reg, (size_t)c->n_registers * C, &s, 0.02f);
    fill_normal(p->pos, (1 + (size_t)m->G0 * m->G0) * C, &s, 0.02f);
    fill_const(p->ln1w, L * C, 1.0f);
    fill_const(p->ln2w, L * C, 1.0f);
    fill_normal(p->qkvw, L * 3 * C * C, &s, 0.02f);
    fill_normal(p->attprojw, L * C * C, &s, 0.02f);
    fill_normal(p->fc1w, L * M * C, &s, 0.02f);
    fill_normal(p->fc2w, L * C * M, &s, 0.02f);
    if (p->ls1) fill_const(p->ls1, L * C, 1.0f);
    if (p->ls2) fill_const(p->ls2, L * C, 1.0f);
    fill_const(p->lnfw, C, 1.0f);
    if (p->proj_w) fill_normal(p->proj_w, (size_t)c->embed * C, &s, 1.0f / sqrtf((float)C));
}
