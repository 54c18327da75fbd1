/* test_bert_grad.c: the BERT tower's backward (all parameters trainable) against central
 * finite differences on a tiny random config with three layers, padding and token types.
 * loss = sum(g1 * masked_mean(features)) + sum(g2 * features[CLS]). Also checks that the
 * inference mode (alternating slots, odd layer count) gives the training-mode features. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/text/bert.h"
#include "engine/core/parallel.h"
#include "engine/text/text_pool.h"

enum { B = 2, T = 6, C = 8 };
static int ids[B * T], types[B * T];
static float mask[B * T], g1[B * C], g2[B * C];

static unsigned long long rng = 99;
static float frand(void) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

static double loss(bert_model *m) {
    float pooled[B * C], cls[B * C];
    if (bert_forward(m, ids, types, mask, B, T) ||
        text_mean_pool_forward(pooled, m->hidden, mask, B, T, C)) {
        fprintf(stderr, "%s\n", mama_last_error());
        exit(1);
    }
    text_cls_pool_forward(cls, m->hidden, B, T, C);
    double l = 0.0;
    for (int i = 0; i < B * C; i++) l += (double)g1[i] * pooled[i] + (double)g2[i] * cls[i];
    return l;
}

int main(void) {
    mama_set_threads(1);
    bert_config cfg = {.vocab_size = 30, .max_position = 12, .type_vocab_size = 2,
                       .hidden = C, .n_layer = 3, .n_head = 2, .intermediate = 12,
                       .ln_eps = 1e-12f, .pad_token_id = -1};
    bert_model *m = NULL;
    if (bert_create(&cfg, &m)) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
    for (size_t i = 0; i < m->num_params; i++) m->params_memory[i] = 0.4f * frand();
    for (int i = 0; i < C; i++) m->params.emb_lnw[i] += 1.0f;
    for (int i = 0; i < cfg.n_layer * C; i++) {
        m->params.ln1w[i] += 1.0f;
        m->params.ln2w[i] += 1.0f;
    }
    const int len[B] = {6, 4};
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            ids[b * T + t] = (int)((frand() + 1.0f) * 0.5f * (cfg.vocab_size - 1));
            types[b * T + t] = t >= 3;
            mask[b * T + t] = t < len[b];
        }
    for (int i = 0; i < B * C; i++) { g1[i] = frand(); g2[i] = frand(); }

    int fails = 0;
    float inf_feat[B * T * C];
    loss(m);  /* inference mode */
    memcpy(inf_feat, m->hidden, sizeof inf_feat);
    if (bert_set_train(m, 1)) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
    loss(m);
    double d = 0.0;
    for (int i = 0; i < B * T * C; i++) d = fmax(d, fabs(inf_feat[i] - m->hidden[i]));
    printf("%s inference vs training features: max diff %.2e\n", d == 0.0 ? "ok  " : "FAIL", d);
    fails += d != 0.0;

    float dh[B * T * C];
    memset(dh, 0, sizeof dh);
    text_mean_pool_backward(dh, g1, mask, B, T, C);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) dh[(size_t)b * T * C + c] += g2[b * C + c];
    bert_zero_grad(m);
    if (bert_backward(m, dh)) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
    float *grad = malloc(sizeof(float) * m->num_params);
    memcpy(grad, m->grads_memory, sizeof(float) * m->num_params);

    static const char *const names[17] = {
        "word", "pos", "type", "emb_ln.w", "emb_ln.b", "qkv.w", "qkv.b", "attn_out.w",
        "attn_out.b", "ln1.w", "ln1.b", "fc.w", "fc.b", "proj.w", "proj.b", "ln2.w", "ln2.b"};
    float *starts[18] = {m->params.word, m->params.pos, m->params.type, m->params.emb_lnw,
                         m->params.emb_lnb, m->params.qkvw, m->params.qkvb, m->params.attow,
                         m->params.attob, m->params.ln1w, m->params.ln1b, m->params.fcw,
                         m->params.fcb, m->params.projw, m->params.projb, m->params.ln2w,
                         m->params.ln2b, m->params_memory + m->num_params};
    const float eps = 1e-2f;
    for (int k = 0; k < 17; k++) {
        size_t off = (size_t)(starts[k] - m->params_memory);
        size_t n = (size_t)(starts[k + 1] - starts[k]);
        double gmax = 0.0, worst = 0.0;
        for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(grad[off + i]));
        size_t stride = n > 10 ? n / 10 : 1;
        for (size_t i = rng % stride; i < n; i += stride) {
            float keep = starts[k][i];
            starts[k][i] = keep + eps;
            double lp = loss(m);
            starts[k][i] = keep - eps;
            double lm = loss(m);
            starts[k][i] = keep;
            worst = fmax(worst, fabs((lp - lm) / (2.0 * eps) - grad[off + i]));
        }
        double rel = worst / (gmax > 0 ? gmax : 1.0);
        int bad = !(gmax > 0.0) || !(rel < 1e-2);
        printf("%-12s n=%-5zu max|grad|=%.3e max|fd-grad|=%.3e rel=%.2e %s\n", names[k], n, gmax,
               worst, rel, bad ? "FAIL" : "ok");
        fails += bad;
    }
    if (bert_set_train(m, 0) || bert_backward(m, dh) == MAMA_OK) {
        printf("FAIL backward outside training mode should be refused\n");
        fails++;
    }
    free(grad);
    bert_destroy(m);
    printf("bert gradients: %s\n", fails ? "FAILED" : "passed");
    return fails ? 1 : 0;
}
