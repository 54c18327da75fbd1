/* test_train_parity.c: the whole MaMA objective and three AdamW steps against PyTorch
 * (tools/reference/train_ref.py: HF Dinov2WithRegisters + GPT-2/peft LoRA or BERT, the
 * losses written from MAMA_METHOD.md, float64 autograd and AdamW).
 * usage: test_train_parity REF.safetensors
 * Step 0 is before late_step (L_VT only; local heads, local scale, SimCLR head frozen),
 * steps 1 and 2 after it (all four terms). Checked per element with
 * |got - want| <= 1e-5 + 1e-4 |want|:
 *   - every loss term of every step, the gradient norm before clipping and the lr;
 *   - steps 0 and 1: the gradient (before clipping) of every trainable tensor;
 *   - after step 2: every trainable tensor and the heads' BatchNorm running statistics;
 * and: frozen tensors (GPT-2 base weights; the final LN; the local heads at step 0) have
 * zero gradients and stay bitwise unchanged while frozen; LoRA A/B and the added-token
 * rows of the tokens in the batch get non-zero gradients.
 * One exception, stated: the attention KEY bias has a gradient of exactly zero in exact
 * arithmetic (softmax is shift-invariant per query), so the engine's fp32 gradient there is
 * rounding noise and AdamW's m / sqrt(v) turns noise into steps of up to lr: those
 * elements are checked to stay within 3 * lr of the reference instead. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/safetensors.h"
#include "engine/train/step.h"
#include "tests/check.h"

static const double ATOL = 1e-5, RTOL = 1e-4;

static float *read_all(const st_file *f, const char *name, size_t *n) {
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

static int *read_i32(const st_file *f, const char *name, size_t *n) {
    const st_tensor *t = st_find(f, name);
    if (!t) return NULL;
    int *x = malloc((size_t)t->numel * sizeof(int) + 4);
    if (!x || t->dtype != ST_I32) { free(x); return NULL; }
    memcpy(x, t->data, (size_t)t->numel * sizeof(int));
    if (n) *n = (size_t)t->numel;
    return x;
}

static json_t *meta_json(const st_file *f, const char *k) {
    json_error_t e;
    const char *s = st_metadata(f, k);
    return s ? json_loads(s, 0, &e) : NULL;
}
static double jnum(json_t *j, const char *k) { return json_number_value(json_object_get(j, k)); }

/* the key rows [C, 2C) of a (L, 3C) qkv bias */
static int is_key_bias(const char *name, size_t i, int C) {
    if (strcmp(name, "vision.qkvb") != 0 && strcmp(name, "text.qkvb") != 0) return 0;
    size_t r = i % (3 * (size_t)C);
    return r >= (size_t)C && r < 2 * (size_t)C;
}

static void compare(const char *what, const float *got, const float *want, size_t n,
                    const char *tname, int C, double key_atol) {
    double *ref = malloc(n * sizeof(double));
    float *g = malloc(n * sizeof(float));
    size_t nkey = 0;
    for (size_t i = 0; i < n; i++) {
        ref[i] = want[i];
        g[i] = got[i];
        if (key_atol > 0 && is_key_bias(tname, i, C)) {
            CHECK_MSG(fabs((double)got[i] - want[i]) <= key_atol, "%s[%zu] key bias %g vs %g",
                      what, i, (double)got[i], (double)want[i]);
            g[i] = want[i];
            nkey++;
        }
    }
    check_close(what, g, ref, n, ATOL, RTOL);
    free(ref);
    free(g);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s REF.safetensors\n", argv[0]); return 2; }
    st_file *f = NULL;
    if (st_open(argv[1], &f) != MAMA_OK) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
    json_t *vj = meta_json(f, "vision_config"), *tj = meta_json(f, "train_config");
    json_t *bj = meta_json(f, "batch");
    char kind[16] = "";
    if (st_metadata(f, "text")) snprintf(kind, sizeof kind, "%s", st_metadata(f, "text"));
    if (!vj || !tj || !bj || !kind[0]) { fprintf(stderr, "reference lacks its metadata\n"); return 1; }
    vit_config vc = {
        .width = (int)jnum(vj, "width"), .depth = (int)jnum(vj, "depth"),
        .heads = (int)jnum(vj, "heads"), .patch = (int)jnum(vj, "patch"),
        .image_size = (int)jnum(vj, "image_size"), .n_registers = (int)jnum(vj, "n_registers"),
        .mlp_ratio = (float)jnum(vj, "mlp_ratio"), .ln_eps = (float)jnum(vj, "ln_eps"),
        .layerscale = (int)jnum(vj, "layerscale"), .in_chans = 3, .embed = (int)jnum(vj, "embed"),
    };
    vit_model *vit = NULL;
    if (vit_create(&vc, &vit) || vit_load(vit, f, "vision.", "vision_proj.weight")) {
        fprintf(stderr, "vision: %s\n", mama_last_error());
        return 1;
    }
    gpt2_model *g2 = NULL;
    bert_model *bt = NULL;
    int Ct;
    if (strcmp(kind, "gpt2") == 0) {
        gpt2_config gc;
        if (gpt2_config_from_hf_json(st_metadata(f, "text_config"), &gc)) return 1;
        gc.vocab_size += atoi(st_metadata(f, "n_added"));
        lora_config lc = {.rank = atoi(st_metadata(f, "lora_rank")),
                          .alpha = (float)atof(st_metadata(f, "lora_alpha")), .dropout = 0.0f};
        if (lora_parse_targets(st_metadata(f, "lora_targets"), &lc.targets) ||
            gpt2_create(&gc, &lc, 1, &g2) || gpt2_load_weights(g2, f) ||
            gpt2_load_trainable(g2, f)) {
            fprintf(stderr, "gpt2: %s\n", mama_last_error());
            return 1;
        }
        Ct = gc.n_embd;
    } else {
        bert_config bc;
        if (bert_config_from_hf_json(st_metadata(f, "text_config"), &bc) ||
            bert_create(&bc, &bt) || bert_load_weights(bt, f)) {
            fprintf(stderr, "bert: %s\n", mama_last_error());
            return 1;
        }
        Ct = bc.hidden;
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
    int steps = (int)jnum(tj, "steps");
    trainer *tr = NULL;
    if (trainer_create(&tc, vit, g2, bt, &tr)) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }

    /* the heads and scales start from the reference's initial values */
    for (int i = 0; i < tr->opt.n; i++) {
        adamw_tensor *t = &tr->opt.t[i];
        char name[128];
        snprintf(name, sizeof name, "init.%s", t->name);
        size_t n = 0;
        float *x = read_all(f, name, &n);
        if (!x) continue;
        CHECK_MSG(n == t->n, "%s: %zu values, engine %zu", name, n, t->n);
        if (n == t->n) memcpy(t->param, x, n * sizeof(float));
        free(x);
    }

    int B = (int)jnum(bj, "B"), T = (int)jnum(bj, "T"), H = (int)jnum(bj, "H"), W = (int)jnum(bj, "W");
    float *img = read_all(f, "in.img", NULL), *img2 = read_all(f, "in.img2", NULL);
    int *ids = read_i32(f, "in.ids", NULL), *pos = read_i32(f, "in.sent_pos", NULL);
    int *off = read_i32(f, "in.sent_off", NULL);
    float *maskf = read_all(f, "in.mask", NULL);
    int32_t *mask = malloc((size_t)B * T * sizeof(int32_t));
    for (int i = 0; i < B * T; i++) mask[i] = maskf[i] != 0.0f;
    train_batch b = {.img = img, .img2 = img2, .B = B, .H = H, .W = W, .ids = ids, .mask = mask,
                     .T = T, .sent_pos = pos, .sent_off = off};

    /* frozen-tensor guards: the GPT-2 base block, the final LN */
    size_t nbase = g2 ? g2->ptab.bytes : 0;
    void *base0 = nbase ? malloc(nbase) : NULL;
    if (base0) memcpy(base0, g2->params_memory, nbase);
    float lnf0[64];
    memcpy(lnf0, vit->params.lnfw, (size_t)vc.width * sizeof(float));
    float max_lr = 0;

    for (int k = 0; k < steps; k++) {
        /* the local heads' parameters before a frozen step, to show they do not move */
        size_t nloc = tr->img_local->ptab.bytes;
        void *loc0 = malloc(nloc);
        memcpy(loc0, tr->img_local->params_memory, nloc);
        train_report r;
        CHECK_MSG(trainer_step(tr, &b, &r) == MAMA_OK, "step %d: %s", k, mama_last_error());
        CHECK(r.updated && !r.skipped);
        CHECK(r.late == (k >= tc.late_step));
        char name[160];
        snprintf(name, sizeof name, "step%d.loss", k);
        float *want = read_all(f, name, NULL);
        printf("step %d: L_VT %.6f L_VV %.6f L_VT2 %.6f SLA %.6f  |g| %.5f lr %.3g\n", k,
               r.loss[0], r.loss[1], r.loss[2], r.loss[3], r.grad_norm, (double)r.lr);
        snprintf(name, sizeof name, "step %d loss terms", k);
        compare(name, r.loss, want, TRAIN_TERMS, "", 0, 0);
        free(want);
        snprintf(name, sizeof name, "step%d.grad_norm", k);
        want = read_all(f, name, NULL);
        float gn = (float)r.grad_norm;
        snprintf(name, sizeof name, "step %d grad norm", k);
        compare(name, &gn, want, 1, "", 0, 0);
        CHECK_MSG(r.grad_norm > tc.clip_norm, "step %d: the gradient norm %g does not reach the "
                  "clip %g: clipping untested", k, r.grad_norm, (double)tc.clip_norm);
        free(want);
        snprintf(name, sizeof name, "step%d.lr", k);
        want = read_all(f, name, NULL);
        snprintf(name, sizeof name, "step %d lr", k);
        compare(name, &r.lr, want, 1, "", 0, 0);
        free(want);
        if (r.lr > max_lr) max_lr = r.lr;
        if (k == 0)
            CHECK_MSG(memcmp(loc0, tr->img_local->params_memory, nloc) == 0,
                      "a frozen local head changed before late_step");
        free(loc0);
        if (k >= 2) continue;
        /* gradients before clipping: the engine's are clipped in place by coef */
        double coef = tc.clip_norm / (r.grad_norm + 1e-6);
        if (coef > 1) coef = 1;
        int ncmp = 0;
        for (int i = 0; i < tr->opt.n; i++) {
            adamw_tensor *t = &tr->opt.t[i];
            snprintf(name, sizeof name, "step%d.grad.%s", k, t->name);
            size_t n = 0;
            want = read_all(f, name, &n);
            if (!want) {   /* no gradient in the reference: frozen here, zero in the engine */
                int nz = 0;
                for (size_t e = 0; e < t->n; e++) nz += t->grad[e] != 0.0f;
                CHECK_MSG(t->frozen, "step %d: %s is trained but has no reference gradient", k,
                          t->name);
                CHECK_MSG(nz == 0, "step %d: frozen %s has %d non-zero gradients", k, t->name, nz);
                continue;
            }
            CHECK_MSG(n == t->n, "%s: %zu values, engine %zu", name, n, t->n);
            if (n == t->n) {
                float *pre = malloc(n * sizeof(float));
                for (size_t e = 0; e < n; e++) pre[e] = (float)(t->grad[e] / coef);
                compare(name, pre, want, n, "", 0, 0);
                free(pre);
                ncmp++;
            }
            free(want);
        }
        printf("  step %d: %d gradients compared\n", k, ncmp);
        if (g2 && k == 1) {   /* LoRA and the added rows in the batch learn */
            adamw_tensor *a = adamw_find(&tr->opt, "text.lora.c_attn.A");
            adamw_tensor *bb = adamw_find(&tr->opt, "text.lora.c_attn.B");
            adamw_tensor *wa = adamw_find(&tr->opt, "text.wte_added");
            CHECK(a && bb && wa);
            int na = 0, nb = 0, nw = 0;
            for (size_t e = 0; a && e < a->n; e++) na += a->grad[e] != 0.0f;
            for (size_t e = 0; bb && e < bb->n; e++) nb += bb->grad[e] != 0.0f;
            for (size_t e = 0; wa && e < wa->n; e++) nw += wa->grad[e] != 0.0f;
            CHECK_MSG(na > 0 && nb > 0 && nw > 0, "LoRA A %d, B %d, added rows %d non-zero", na,
                      nb, nw);
        }
    }
    /* parameters after the last step */
    int nfin = 0;
    for (int i = 0; i < tr->opt.n; i++) {
        adamw_tensor *t = &tr->opt.t[i];
        char name[160];
        snprintf(name, sizeof name, "final.%s", t->name);
        size_t n = 0;
        float *want = read_all(f, name, &n);
        CHECK_MSG(want != NULL, "%s missing", name);
        if (!want) continue;
        if (n == t->n) {
            int C = strncmp(t->name, "vision.", 7) == 0 ? vc.width : Ct;
            compare(name, t->param, want, n, t->name, C, 3.0 * max_lr);
            nfin++;
        }
        free(want);
    }
    printf("  %d parameter tensors compared after %d steps\n", nfin, steps);
    head *hs[] = {tr->txt_proj, tr->img_local, tr->txt_local, tr->simclr};
    const char *hp[] = {"txt_proj.", "img_local.", "txt_local.", "simclr."};
    for (int h = 0; h < 4; h++)
        for (int e = 0; e < hs[h]->stab.n; e++) {
            if (!hs[h]->stab.e[e].numel) continue;
            char name[160];
            snprintf(name, sizeof name, "final.stats.%s%s", hp[h], hs[h]->stab.e[e].name);
            size_t n = 0;
            float *want = read_all(f, name, &n);
            CHECK_MSG(want && n == hs[h]->stab.e[e].numel, "%s", name);
            if (want && n == hs[h]->stab.e[e].numel)
                compare(name, ptable_ptr(&hs[h]->stab, hs[h]->stats_memory, e), want, n, "", 0, 0);
            free(want);
        }
    if (base0) {   /* everything but the added rows (trained) is bitwise the checkpoint's */
        size_t a0 = (size_t)g2->cfg.added_from * g2->cfg.n_embd;
        size_t na = (size_t)(g2->cfg.vocab_size - g2->cfg.added_from) * g2->cfg.n_embd;
        size_t off_wte = (size_t)((char *)g2->params.wte - (char *)g2->params_memory);
        memcpy((char *)base0 + off_wte + a0 * sizeof(float), g2->params.wte + a0,
               na * sizeof(float));
        CHECK_MSG(memcmp(base0, g2->params_memory, nbase) == 0, "GPT-2 base weights changed");
    }
    CHECK_MSG(memcmp(lnf0, vit->params.lnfw, (size_t)vc.width * sizeof(float)) == 0,
              "the frozen final LN changed");
    free(base0);
    free(img); free(img2); free(ids); free(pos); free(off); free(maskf); free(mask);
    trainer_free(tr);
    vit_free(vit);
    gpt2_destroy(g2);
    bert_destroy(bt);
    json_decref(vj); json_decref(tj); json_decref(bj);
    st_close(f);
    return check_done(kind);
}
