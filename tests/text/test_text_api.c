/* test_text_api.c: the text towers' loading paths and their refusals of bad input.
 * - config parsing errors (malformed JSON, unsupported activation, bad sizes);
 * - LoRA target lists; wrong checkpoints (BERT file as GPT-2, wrong width) and missing
 *   adapter tensors give clear status codes; out-of-range ids and lengths are refused;
 * - trainable tensors (LoRA, added-token rows) survive save -> load exactly;
 * - gpt2_load_hf / bert_load_hf find config.json beside the weights (a temp directory
 *   holding a config.json and a link to the committed tiny checkpoint) and match the dump;
 * - mean pooling refuses an all-padding caption;
 * - the text projection's backward matches central finite differences;
 * - LoRA dropout drops at its rate, scales kept inputs by 1/(1-p), repeats a mask for the
 *   same (seed, site) and differs across sites. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/text/bert.h"
#include "engine/text/gpt2.h"
#include "engine/core/parallel.h"
#include "engine/text/text_pool.h"
#include "ref_check.h"

static int fails;

#define EXPECT_RC(expr, want)                                                          \
    do {                                                                               \
        mama_status rc_ = (expr);                                                      \
        if (rc_ != (want)) {                                                           \
            printf("FAIL %s:%d: %s -> %s, want %s (%s)\n", __FILE__, __LINE__, #expr,  \
                   mama_status_name(rc_), mama_status_name(want), mama_last_error());  \
            fails++;                                                                   \
        } else if (rc_ != MAMA_OK) {                                                   \
            printf("ok   %s -> %s: %s\n", #expr, mama_status_name(rc_),                \
                   mama_last_error());                                                 \
        }                                                                              \
    } while (0)

static st_file *open_ref(const char *name) {
    char p[4096];
    ref_path(p, sizeof p, name);
    st_file *f = NULL;
    if (st_open(p, &f)) { printf("cannot open %s: %s\n", p, mama_last_error()); exit(1); }
    return f;
}

static void write_file(const char *path, const char *text) {
    FILE *fp = fopen(path, "w");
    if (!fp || fputs(text, fp) < 0) { perror(path); exit(1); }
    fclose(fp);
}

/* sum(g * l2norm(x w^T + b)) in double. */
static double proj_loss(const float *x, const float *w, const float *b, const float *g,
                        int B, int C, int E) {
    float out[4 * 8];
    text_projection_forward(out, NULL, x, w, b, B, C, E);
    double l = 0.0;
    for (int i = 0; i < B * E; i++) l += (double)g[i] * out[i];
    return l;
}

static int check_projection_backward(void) {
    enum { PB = 4, PC = 6, PE = 8 };
    float x[PB * PC], w[PE * PC], b[PE], g[PB * PE], out[PB * PE], norms[PB], scratch[PB * PE];
    float dx[PB * PC] = {0}, dw[PE * PC] = {0}, db[PE] = {0};
    unsigned s = 7;
    float *all[4] = {x, w, b, g};
    int sizes[4] = {PB * PC, PE * PC, PE, PB * PE};
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < sizes[k]; i++) {
            s = s * 1103515245u + 12345u;
            all[k][i] = (float)((s >> 9) & 0xffff) / 32768.0f - 1.0f;
        }
    text_projection_forward(out, norms, x, w, b, PB, PC, PE);
    text_projection_backward(dx, dw, db, scratch, g, x, w, out, norms, PB, PC, PE);
    float *params[3] = {x, w, b};
    const float *grads[3] = {dx, dw, db};
    double worst = 0.0, gmax = 0.0;
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < sizes[k]; i++) {
            float keep = params[k][i];
            params[k][i] = keep + 1e-3f;
            double lp = proj_loss(x, w, b, g, PB, PC, PE);
            params[k][i] = keep - 1e-3f;
            double lm = proj_loss(x, w, b, g, PB, PC, PE);
            params[k][i] = keep;
            double fd = (lp - lm) / 2e-3;
            worst = fmax(worst, fabs(fd - grads[k][i]));
            gmax = fmax(gmax, fabs(grads[k][i]));
        }
    int bad = !(gmax > 0.0) || !(worst <= 2e-3 * gmax);
    printf("%s text projection backward: max|fd - grad| %.2e, max|grad| %.2e\n",
           bad ? "FAIL" : "ok  ", worst, gmax);
    return bad;
}

int main(void) {
    mama_set_threads(1);  /* small shapes: threads only add barrier waits on CI */
    gpt2_config gc;
    bert_config bc;
    unsigned targets = 0;
    EXPECT_RC(gpt2_config_from_hf_json("{\"n_embd\": 8,", &gc), MAMA_EFORMAT);
    EXPECT_RC(gpt2_config_from_hf_json("{\"vocab_size\":10,\"n_positions\":8,\"n_embd\":8,"
                                       "\"n_layer\":1,\"n_head\":3}", &gc), MAMA_EINVAL);
    EXPECT_RC(gpt2_config_from_hf_json("{\"vocab_size\":10,\"n_positions\":8,\"n_embd\":8,"
                                       "\"n_layer\":1,\"n_head\":2,\"activation_function\":"
                                       "\"relu\"}", &gc), MAMA_EUNSUPPORTED);
    EXPECT_RC(bert_config_from_hf_json("{\"vocab_size\":10,\"hidden_size\":8,"
                                       "\"num_hidden_layers\":1,\"num_attention_heads\":2,"
                                       "\"hidden_act\":\"relu\"}", &bc), MAMA_EUNSUPPORTED);
    {   /* absurd sizes are refused before any allocation */
        gpt2_model *huge = NULL;
        bert_model *hugeb = NULL;
        EXPECT_RC(gpt2_config_from_hf_json("{\"vocab_size\":50257,\"n_positions\":1024,"
                                           "\"n_embd\":131072,\"n_layer\":4096,"
                                           "\"n_head\":1}", &gc), MAMA_OK);
        EXPECT_RC(gpt2_create(&gc, NULL, 1, &huge), MAMA_EINVAL);
        EXPECT_RC(gpt2_config_from_hf_json("{\"vocab_size\":50257,\"n_positions\":1024,"
                                           "\"n_embd\":1073741824,\"n_layer\":1,"
                                           "\"n_head\":1}", &gc), MAMA_EINVAL);
        EXPECT_RC(bert_config_from_hf_json("{\"vocab_size\":30522,\"hidden_size\":2147483647,"
                                           "\"num_hidden_layers\":1,\"num_attention_heads\":1,"
                                           "\"intermediate_size\":8}", &bc), MAMA_OK);
        EXPECT_RC(bert_create(&bc, &hugeb), MAMA_EINVAL);
    }
    EXPECT_RC(lora_parse_targets("c_proj", &targets), MAMA_EINVAL);
    EXPECT_RC(lora_parse_targets("c_attn,mlp.c_proj", &targets), MAMA_OK);
    if (targets != (LORA_C_ATTN | LORA_MLP_C_PROJ)) { printf("FAIL targets %u\n", targets); fails++; }

    fails += check_projection_backward();
    {   /* LoRA dropout statistics */
        enum { NN = 200000 };
        float *ones = malloc(NN * sizeof(float)), *a = malloc(NN * sizeof(float));
        float *b2 = malloc(NN * sizeof(float)), *c2 = malloc(NN * sizeof(float));
        for (int i = 0; i < NN; i++) ones[i] = 1.0f;
        lora_dropout_apply(a, ones, 0.1f, 5, 3, NN);
        lora_dropout_apply(b2, ones, 0.1f, 5, 3, NN);
        lora_dropout_apply(c2, ones, 0.1f, 5, 4, NN);
        int zeros = 0, badval = 0, same_site_diff = 0, other_site_diff = 0;
        for (int i = 0; i < NN; i++) {
            zeros += a[i] == 0.0f;
            badval += a[i] != 0.0f && fabsf(a[i] - 1.0f / 0.9f) > 1e-6f;
            same_site_diff += a[i] != b2[i];
            other_site_diff += a[i] != c2[i];
        }
        double rate = (double)zeros / NN;  /* sd of the rate: sqrt(.09/2e5) = 6.7e-4 */
        int bad = fabs(rate - 0.1) > 0.004 || badval || same_site_diff ||
                  other_site_diff < NN / 10;
        printf("%s LoRA dropout: rate %.4f (want 0.1), %d wrong scales, %d diffs same site, "
               "%d diffs other site\n", bad ? "FAIL" : "ok  ", rate, badval, same_site_diff,
               other_site_diff);
        fails += bad;
        free(ones); free(a); free(b2); free(c2);
    }

    /* The LoRA tiny case. */
    st_file *f = open_ref("gpt2_tiny_lora.safetensors");
    st_file *fb = open_ref("bert_tiny.safetensors");
    st_file *fplain = open_ref("gpt2_tiny.safetensors");
    if (gpt2_config_from_hf_json(st_metadata(f, "config"), &gc)) return 1;
    gc.vocab_size += atoi(st_metadata(f, "n_added"));
    lora_config lc = {.rank = atoi(st_metadata(f, "lora_rank")),
                      .alpha = (float)atof(st_metadata(f, "lora_alpha")),
                      .targets = LORA_C_ATTN, .dropout = 0.1f};
    gpt2_model *m = NULL, *m2 = NULL, *bad = NULL;
    if (gpt2_create(&gc, &lc, 3, &m)) return 1;
    EXPECT_RC(gpt2_load_weights(m, fb), MAMA_ENOTFOUND);          /* a BERT checkpoint */
    EXPECT_RC(gpt2_load_weights(m, f), MAMA_OK);
    EXPECT_RC(gpt2_load_trainable(m, fplain), MAMA_ENOTFOUND);    /* no adapters in it */
    EXPECT_RC(gpt2_load_trainable(m, f), MAMA_OK);
    gpt2_config wrong = gc;
    wrong.n_inner = 2 * gc.n_embd;  /* checkpoint has 4C */
    if (gpt2_create(&wrong, NULL, 3, &bad)) return 1;
    EXPECT_RC(gpt2_load_weights(bad, f), MAMA_ESHAPE);
    gpt2_destroy(bad);

    int ids[4] = {1, 2, 3, gc.vocab_size};
    EXPECT_RC(gpt2_forward(m, ids, NULL, 1, 4), MAMA_EINVAL);      /* id out of range */
    int *many = calloc((size_t)gc.n_positions + 1, sizeof(int));
    EXPECT_RC(gpt2_forward(m, many, NULL, 1, gc.n_positions + 1), MAMA_EINVAL);
    free(many);
    EXPECT_RC(gpt2_backward(m, NULL), MAMA_EINVAL);                /* no forward yet */
    float hidden[8 * 64], zmask[4] = {0, 0, 0, 0};
    ids[3] = 4;
    EXPECT_RC(gpt2_forward(m, ids, NULL, 1, 4), MAMA_OK);
    EXPECT_RC(text_mean_pool_forward(hidden, m->acts.lnf, zmask, 1, 4, gc.n_embd),
              MAMA_EINVAL);

    /* Trainable round trip: distinct added rows, save, load into a fresh model. */
    size_t base = (size_t)gc.base_vocab * gc.n_embd;
    for (size_t i = 0; i < (size_t)(gc.vocab_size - gc.base_vocab) * gc.n_embd; i++)
        m->params.wte[base + i] = 0.01f * (float)(i % 17) - 0.05f;
    char dir[] = "/tmp/mama_text_XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    char saved[256], cfgp[256], link[256], refp[4096];
    snprintf(saved, sizeof saved, "%s/trainable.safetensors", dir);
    st_writer *w = NULL;
    EXPECT_RC(st_writer_create(&w), MAMA_OK);
    EXPECT_RC(gpt2_save_trainable(m, w), MAMA_OK);
    EXPECT_RC(st_writer_save(w, saved), MAMA_OK);
    st_writer_destroy(w);
    st_file *fs = NULL;
    EXPECT_RC(st_open(saved, &fs), MAMA_OK);
    lora_config lc2;
    EXPECT_RC(gpt2_read_lora_config(fs, &lc2), MAMA_OK);
    if (lc2.rank != lc.rank || lc2.alpha != lc.alpha || lc2.targets != lc.targets ||
        lc2.dropout != lc.dropout) {
        printf("FAIL LoRA settings round trip: rank %d alpha %g targets %u dropout %g\n",
               lc2.rank, lc2.alpha, lc2.targets, lc2.dropout);
        fails++;
    }
    if (gpt2_create(&gc, &lc2, 99, &m2)) return 1;
    EXPECT_RC(gpt2_load_weights(m2, f), MAMA_OK);
    EXPECT_RC(gpt2_load_trainable(m2, fs), MAMA_OK);
    if (memcmp(m->params_memory, m2->params_memory, m->num_params * sizeof(float)) ||
        memcmp(m->lora_memory, m2->lora_memory, m->num_lora * sizeof(float))) {
        printf("FAIL trainable round trip differs\n");
        fails++;
    } else {
        printf("ok   trainable tensors round trip exactly (%zu LoRA floats)\n", m->num_lora);
    }
    if (fs) st_close(fs);
    gpt2_destroy(m2);
    gpt2_destroy(m);

    /* gpt2_load_hf: config.json beside a model.safetensors (the plain tiny checkpoint). */
    snprintf(cfgp, sizeof cfgp, "%s/config.json", dir);
    snprintf(link, sizeof link, "%s/model.safetensors", dir);
    ref_path(refp, sizeof refp, "gpt2_tiny.safetensors");
    EXPECT_RC(gpt2_load_hf(link, NULL, 101, -1, NULL, &m), MAMA_EIO);   /* nothing there yet */
    write_file(cfgp, st_metadata(fplain, "config"));
    if (symlink(refp, link)) { perror("symlink"); return 1; }
    m = NULL;
    {
        gpt2_config pc;
        if (gpt2_config_from_hf_json(st_metadata(fplain, "config"), &pc)) return 1;
        int nadd = atoi(st_metadata(fplain, "n_added"));
        EXPECT_RC(gpt2_load_hf(link, NULL, pc.vocab_size + nadd, -1, NULL, &m), MAMA_OK);
        if (m && (m->cfg.vocab_size != pc.vocab_size + nadd ||
                  m->cfg.added_from != pc.vocab_size)) {
            printf("FAIL gpt2_load_hf vocabulary %d / added from %d\n", m->cfg.vocab_size,
                   m->cfg.added_from);
            fails++;
        }
    }
    if (m) {
        const st_tensor *h = st_find(fplain, "out.hidden");
        int B = (int)h->shape[0], T = (int)h->shape[1], C = m->cfg.n_embd;
        int *rid = ref_i32(fplain, "in.ids", NULL);
        float *rmask = ref_f32(fplain, "in.mask", NULL), *want = ref_f32(fplain, "out.hidden", NULL);
        EXPECT_RC(gpt2_forward(m, rid, rmask, B, T), MAMA_OK);
        /* the first row is all real tokens */
        fails += ref_compare("gpt2_load_hf features (row 0)", m->acts.lnf, want, (size_t)T * C,
                             1e-4);
        free(rid); free(rmask); free(want);
        gpt2_destroy(m);
    }
    unlink(link);
    /* bert_load_hf on the tiny BERT (prefix "bert.") the same way. */
    write_file(cfgp, st_metadata(fb, "config"));
    ref_path(refp, sizeof refp, "bert_tiny.safetensors");
    if (symlink(refp, link)) { perror("symlink"); return 1; }
    bert_model *bm = NULL;
    EXPECT_RC(bert_load_hf(link, NULL, &bm), MAMA_OK);
    if (bm) {
        int tids[2] = {1, 2}, tt[2] = {0, 2};
        EXPECT_RC(bert_forward(bm, tids, tt, NULL, 1, 2), MAMA_EINVAL);  /* type 2 of 2 */
        bert_destroy(bm);
    }
    unlink(link);
    unlink(cfgp);
    unlink(saved);
    rmdir(dir);
    st_close(f);
    st_close(fb);
    st_close(fplain);
    printf("text api: %s\n", fails ? "FAILED" : "passed");
    return fails ? 1 : 0;
}
