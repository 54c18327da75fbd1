/* vit_hf_config.c: the sizes of a DINOv2 checkpoint (Dinov2Model or
 * Dinov2WithRegistersModel, HF or Meta naming): from its config.json when one sits beside
 * the weights, else from the tensor shapes; every size the config states is checked
 * against the file, so that a checkpoint that does not fit fails here with the field and
 * the tensor named, not later as a shape error deep in vit_load.
 * Legend as in vit.h: C width, L depth, M MLP hidden, P patch, R registers, G0 grid side. */
#include "engine/vision/vit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/hf_config.h"

/* The tensors the sizes come from. */
typedef struct probe_set {
    const st_tensor *cls, *patch_w, *pos, *reg, *fc1, *ls;
    int meta, depth;
} probe_set;

static const st_tensor *find(const st_file *f, const char *prefix, const char *name) {
    char full[512];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return st_find(f, full);
}

static mama_status probe(const st_file *f, const char *path, const char *prefix, probe_set *p) {
    memset(p, 0, sizeof *p);
    p->meta = find(f, prefix, "cls_token") != NULL;
    int m = p->meta;
    p->cls = find(f, prefix, m ? "cls_token" : "embeddings.cls_token");
    p->patch_w = find(f, prefix, m ? "patch_embed.proj.weight" : "embeddings.patch_embeddings.projection.weight");
    p->pos = find(f, prefix, m ? "pos_embed" : "embeddings.position_embeddings");
    p->reg = find(f, prefix, m ? "register_tokens" : "embeddings.register_tokens");
    p->fc1 = find(f, prefix, m ? "blocks.0.mlp.fc1.weight" : "encoder.layer.0.mlp.fc1.weight");
    p->ls = find(f, prefix, m ? "blocks.0.ls1.gamma" : "encoder.layer.0.layer_scale1.lambda1");
    if (!p->cls || !p->patch_w || !p->pos || !p->fc1 || p->patch_w->ndim != 4 ||
        p->pos->ndim != 3 || p->fc1->ndim != 2 || p->cls->ndim < 1)
        return mama_errorf(MAMA_EFORMAT, "%s: not a DINOv2 checkpoint under prefix '%s': the cls "
                           "token, patch embedding, position embeddings and layer 0's mlp.fc1 "
                           "are needed", path, prefix);
    for (int l = 0; l < 4096; l++) {
        char name[96];
        snprintf(name, sizeof name, m ? "blocks.%d.norm1.weight" : "encoder.layer.%d.norm1.weight", l);
        if (!find(f, prefix, name)) break;
        p->depth = l + 1;
    }
    return MAMA_OK;
}

/* Sizes from the shapes alone; heads = C / 64 (true of every DINOv2 size). */
static mama_status from_shapes(const probe_set *p, const char *path, vit_config *c) {
    c->width = (int)p->cls->shape[p->cls->ndim - 1];
    c->in_chans = (int)p->patch_w->shape[1];
    c->patch = (int)p->patch_w->shape[2];
    int64_t npos = p->pos->shape[1] - 1, g = (int64_t)llround(sqrt((double)npos));
    if (g * g != npos)
        return mama_errorf(MAMA_EFORMAT, "%s: %lld patch positions are not a square grid", path,
                           (long long)npos);
    c->image_size = (int)g * c->patch;
    c->n_registers = p->reg && p->reg->ndim == 3 ? (int)p->reg->shape[1] : 0;
    c->mlp_ratio = (float)p->fc1->shape[0] / (float)c->width;
    c->layerscale = p->ls != NULL;
    c->ln_eps = 1e-6f;
    c->depth = p->depth;
    c->heads = c->width % 64 == 0 ? c->width / 64 : 0;
    c->pos_plain = !p->meta && c->n_registers == 0;   /* HF names, no registers: Dinov2Model */
    return MAMA_OK;
}

#define MISFIT(...) return mama_errorf(MAMA_ESHAPE, __VA_ARGS__)

/* The config's statements against the shapes (c holds the shapes' sizes on entry). */
static mama_status apply_config(json_t *root, const char *cpath, const probe_set *p, vit_config *c) {
    static const char *const types[] = {"dinov2", "dinov2_with_registers", NULL};
    mama_status rc = hf_config_expect(root, "DINOv2", "model_type", types,
                                      "this build runs Dinov2Model and Dinov2WithRegistersModel");
    if (rc != MAMA_OK) return rc;
    static const char *const acts[] = {"gelu", NULL};
    if ((rc = hf_config_expect(root, "DINOv2", "hidden_act", acts, "the tower has exact GELU only")))
        return rc;
    if (json_is_true(json_object_get(root, "use_swiglu_ffn")))
        return mama_errorf(MAMA_EUNSUPPORTED, "%s: use_swiglu_ffn is true (ViT-g's SwiGLU MLP); "
                           "this build has the GELU MLP of ViT-S/B/L", cpath);
    int C = hf_config_int(root, "hidden_size", c->width);
    int L = hf_config_int(root, "num_hidden_layers", c->depth);
    int NH = hf_config_int(root, "num_attention_heads", c->heads);
    int P = hf_config_int(root, "patch_size", c->patch);
    int S = hf_config_int(root, "image_size", c->image_size);
    /* a plain Dinov2Model config has no register field: it means none */
    const char *type = json_string_value(json_object_get(root, "model_type"));
    int R = hf_config_int(root, "num_register_tokens",
                          type && !strcmp(type, "dinov2") ? 0 : c->n_registers);
    int IC = hf_config_int(root, "num_channels", c->in_chans);
    float ratio = hf_config_float(root, "mlp_ratio", c->mlp_ratio);
    if (C != c->width)
        MISFIT("%s: hidden_size %d, but the checkpoint's cls token is %d wide", cpath, C, c->width);
    if (L != c->depth)
        MISFIT("%s: num_hidden_layers %d, but the checkpoint has %d layers", cpath, L, c->depth);
    if (P != c->patch)
        MISFIT("%s: patch_size %d, but the patch embedding is %lldx%lld", cpath, P,
               (long long)p->patch_w->shape[2], (long long)p->patch_w->shape[3]);
    if (IC != c->in_chans)
        MISFIT("%s: num_channels %d, but the patch embedding takes %d", cpath, IC, c->in_chans);
    if (P <= 0 || S <= 0 || S % P != 0 || S != c->image_size)
        MISFIT("%s: image_size %d gives a %dx%d position grid, but the checkpoint's position "
               "embeddings hold %dx%d (image_size %d)", cpath, S, P > 0 ? S / P : 0,
               P > 0 ? S / P : 0, c->image_size / c->patch, c->image_size / c->patch, c->image_size);
    if (R != c->n_registers)
        MISFIT("%s: num_register_tokens %d, but the checkpoint has %d register tokens%s", cpath, R,
               c->n_registers, R > 0 ? " (a Dinov2Model file given a with-registers config?)" : "");
    if (fabsf(ratio * (float)C - (float)p->fc1->shape[0]) > 0.5f)
        MISFIT("%s: mlp_ratio %g gives %d hidden units, but mlp.fc1 has %lld", cpath,
               (double)ratio, (int)(ratio * (float)C), (long long)p->fc1->shape[0]);
    if (NH <= 0 || C % NH != 0)
        return mama_errorf(MAMA_EINVAL, "%s: num_attention_heads %d must be positive and divide "
                           "hidden_size %d", cpath, NH, C);
    c->heads = NH;
    /* HF Dinov2Model resizes the position grid without antialiasing, the with-registers
     * model with it (engine/ops/pos_embed.h) */
    c->pos_plain = !type || !strcmp(type, "dinov2") ? R == 0 : 0;
    c->ln_eps = hf_config_float(root, "layer_norm_eps", c->ln_eps);
    return MAMA_OK;
}

mama_status vit_config_from_checkpoint(const st_file *f, const char *weights_path,
                                       const char *prefix, vit_config *c) {
    probe_set p;
    mama_status rc = probe(f, weights_path, prefix ? prefix : "", &p);
    if (rc != MAMA_OK) return rc;
    memset(c, 0, sizeof *c);
    if ((rc = from_shapes(&p, weights_path, c)) != MAMA_OK) return rc;
    char *text = NULL;
    if (hf_config_read(weights_path, NULL, &text) == MAMA_OK) {
        char cpath[4096];
        const char *slash = strrchr(weights_path, '/');
        snprintf(cpath, sizeof cpath, "%.*sconfig.json", slash ? (int)(slash - weights_path) + 1 : 0,
                 weights_path);
        json_t *root = NULL;
        rc = hf_config_parse(text, "DINOv2", &root);
        free(text);
        if (rc == MAMA_OK) rc = apply_config(root, cpath, &p, c);
        json_decref(root);
        if (rc != MAMA_OK) return rc;
    } else if (c->heads <= 0) {
        return mama_errorf(MAMA_EINVAL, "%s: width %d is not a multiple of 64 and no config.json "
                           "beside it gives num_attention_heads", weights_path, c->width);
    }
    return vit_config_validate(c);
}
