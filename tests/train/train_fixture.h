/* train_fixture.h: loads a train_ref.py dump (tests/train/ref/train_<case>.safetensors)
 * into the engine: the image tower, the text tower (GPT-2 + LoRA or BERT), a trainer with
 * the dump's settings and the reference's initial heads and scales, and the batch. Shared
 * by the parity test and the step tests. */
#ifndef MAMA_TEST_TRAIN_FIXTURE_H
#define MAMA_TEST_TRAIN_FIXTURE_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/safetensors.h"
#include "engine/train/step.h"

static inline float *read_all(const st_file *f, const char *name, size_t *n) {
    const st_tensor *t = st_find(f, name);
    if (!t) return NULL;
    float *x = malloc((size_t)t->numel * sizeof(float) + 4);
    if (!x || st_read_f32(f, name, x, t->ndim, t->shape) != MAMA_OK) {
        fprintf(stderr, "cannot read %s: %s\n", name, mama_last_error());
        free(x);
        return NULL;
    }
    if (n) *n = (size_t)t->numel;
    return x;
}

static inline int *read_i32(const st_file *f, const char *name, size_t *n) {
    const st_tensor *t = st_find(f, name);
    if (!t) return NULL;
    int *x = malloc((size_t)t->numel * sizeof(int) + 4);
    if (!x || t->dtype != ST_I32) { free(x); return NULL; }
    memcpy(x, t->data, (size_t)t->numel * sizeof(int));
    if (n) *n = (size_t)t->numel;
    return x;
}

static inline json_t *meta_json(const st_file *f, const char *k) {
    json_error_t e;
    const char *s = st_metadata(f, k);
    return s ? json_loads(s, 0, &e) : NULL;
}
static inline double jnum(json_t *j, const char *k) { return json_number_value(json_object_get(j, k)); }

typedef struct fixture {
    st_file *f;
    char kind[16];
    vit_config vc;
    vit_model *vit;
    gpt2_model *g2;
    bert_model *bt;
    int Ct, steps;
    train_config tc;
    trainer *tr;
    float *img, *img2, *maskf;
    int *ids, *pos, *off;
    int32_t *mask;
    train_batch b;
} fixture;

/* cfg_edit (may be NULL) may change the trainer's config before it is made. 0 on success. */
static inline int fixture_load(fixture *x, const char *path, void (*cfg_edit)(train_config *)) {
    memset(x, 0, sizeof *x);
    st_file *f = NULL;
    if (st_open(path, &f) != MAMA_OK) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
    x->f = f;
    json_t *vj = meta_json(f, "vision_config"), *tj = meta_json(f, "train_config");
    json_t *bj = meta_json(f, "batch");
    if (st_metadata(f, "text")) snprintf(x->kind, sizeof x->kind, "%s", st_metadata(f, "text"));
    if (!vj || !tj || !bj || !x->kind[0]) { fprintf(stderr, "reference lacks its metadata\n"); return 1; }
    vit_config vc = {
        .width = (int)jnum(vj, "width"), .depth = (int)jnum(vj, "depth"),
        .heads = (int)jnum(vj, "heads"), .patch = (int)jnum(vj, "patch"),
        .image_size = (int)jnum(vj, "image_size"), .n_registers = (int)jnum(vj, "n_registers"),
        .mlp_ratio = (float)jnum(vj, "mlp_ratio"), .ln_eps = (float)jnum(vj, "ln_eps"),
        .layerscale = (int)jnum(vj, "layerscale"), .in_chans = 3, .embed = (int)jnum(vj, "embed"),
    };
    x->vc = vc;
    if (vit_create(&vc, &x->vit) || vit_load(x->vit, f, "vision.", "vision_proj.weight")) {
        fprintf(stderr, "vision: %s\n", mama_last_error());
        return 1;
    }
    if (strcmp(x->kind, "gpt2") == 0) {
        gpt2_config gc;
        if (gpt2_config_from_hf_json(st_metadata(f, "text_config"), &gc)) return 1;
        gc.vocab_size += atoi(st_metadata(f, "n_added"));
        lora_config lc = {.rank = atoi(st_metadata(f, "lora_rank")),
                          .alpha = (float)atof(st_metadata(f, "lora_alpha")), .dropout = 0.0f};
        if (lora_parse_targets(st_metadata(f, "lora_targets"), &lc.targets) ||
            gpt2_create(&gc, &lc, 1, &x->g2) || gpt2_load_weights(x->g2, f) ||
            gpt2_load_trainable(x->g2, f)) {
            fprintf(stderr, "gpt2: %s\n", mama_last_error());
            return 1;
        }
        x->Ct = gc.n_embd;
    } else {
        bert_config bc;
        if (bert_config_from_hf_json(st_metadata(f, "text_config"), &bc) ||
            bert_create(&bc, &x->bt) || bert_load_weights(x->bt, f)) {
            fprintf(stderr, "bert: %s\n", mama_last_error());
            return 1;
        }
        x->Ct = bc.hidden;
    }
    train_config tc = train_config_default();
    tc.local_hidden = (int)jnum(tj, "local_hidden");
    tc.late_step = (long)jnum(tj, "late_step");
    tc.lr = (float)jnum(tj, "lr");
    tc.lr_floor = (float)jnum(tj, "lr_floor");
    tc.warmup = (long)jnum(tj, "warmup");
    tc.total = (long)jnum(tj, "total");
    tc.adamw = (adamw_config){.beta1 = (float)jnum(tj, "beta1"), .beta2 = (float)jnum(tj, "beta2"),
                              .eps = (float)jnum(tj, "eps"),
                              .weight_decay = (float)jnum(tj, "weight_decay")};
    tc.clip_norm = (float)jnum(tj, "clip_norm");
    x->steps = (int)jnum(tj, "steps");
    if (cfg_edit) cfg_edit(&tc);
    x->tc = tc;
    if (trainer_create(&tc, x->vit, x->g2, x->bt, &x->tr)) {
        fprintf(stderr, "%s\n", mama_last_error());
        return 1;
    }
    /* the heads and scales start from the reference's initial values */
    for (int i = 0; i < x->tr->opt.n; i++) {
        adamw_tensor *t = &x->tr->opt.t[i];
        char name[128];
        snprintf(name, sizeof name, "init.%s", t->name);
        size_t n = 0;
        float *v = read_all(f, name, &n);
        if (!v) continue;
        if (n != t->n) { fprintf(stderr, "%s: %zu values, engine %zu\n", name, n, t->n); return 1; }
        memcpy(t->param, v, n * sizeof(float));
        free(v);
    }
    int B = (int)jnum(bj, "B"), T = (int)jnum(bj, "T"), H = (int)jnum(bj, "H"), W = (int)jnum(bj, "W");
    x->img = read_all(f, "in.img", NULL);
    x->img2 = read_all(f, "in.img2", NULL);
    x->ids = read_i32(f, "in.ids", NULL);
    x->pos = read_i32(f, "in.sent_pos", NULL);
    x->off = read_i32(f, "in.sent_off", NULL);
    x->maskf = read_all(f, "in.mask", NULL);
    x->mask = malloc((size_t)B * T * sizeof(int32_t));
    if (!x->img || !x->img2 || !x->ids || !x->pos || !x->off || !x->maskf || !x->mask) return 1;
    for (int i = 0; i < B * T; i++) x->mask[i] = x->maskf[i] != 0.0f;
    x->b = (train_batch){.img = x->img, .img2 = x->img2, .B = B, .H = H, .W = W, .ids = x->ids,
                         .mask = x->mask, .T = T, .sent_pos = x->pos, .sent_off = x->off};
    json_decref(vj); json_decref(tj); json_decref(bj);
    return 0;
}

static inline void fixture_free(fixture *x) {
    free(x->img); free(x->img2); free(x->ids); free(x->pos); free(x->off); free(x->maskf);
    free(x->mask);
    trainer_free(x->tr);
    vit_free(x->vit);
    gpt2_destroy(x->g2);
    bert_destroy(x->bt);
    st_close(x->f);
    memset(x, 0, sizeof *x);
}

#endif
