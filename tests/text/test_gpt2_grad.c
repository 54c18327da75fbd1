/* test_gpt2_grad.c: the GPT-2 tower's backward against central finite differences on a
 * tiny random config with LoRA on all four targets, added special tokens and padding.
 * loss = sum(g1 * masked_mean(features)) + sum(g2 * features at sep tokens); checks
 * every LoRA A/B tensor and the added-token embedding rows (the trainable set of
 * MAMA_METHOD.md section 2), and that each of them receives a non-zero gradient. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gpt2.h"
#include "engine/text_pool.h"

enum { BASEV = 20, NADD = 3, B = 2, T = 7 };
static const int SEP = BASEV + 1;

static unsigned long long rng = 42;
static float frand(void) {  /* uniform in [-1, 1) */
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

static int ids[B * T];
static float mask[B * T], g1[B * 16], g2[B * T * 16];
static int pos[B * T], S;

static double loss(gpt2_model *m) {
    int C = m->cfg.n_embd;
    float pooled[B * 16], sent[B * T * 16];
    if (gpt2_forward(m, ids, mask, B, T) ||
        text_mean_pool_forward(pooled, m->acts.lnf, mask, B, T, C)) {
        fprintf(stderr, "%s\n", mama_last_error());
        exit(1);
    }
    text_gather_rows_forward(sent, m->acts.lnf, pos, S, C);
    double l = 0.0;
    for (int i = 0; i < B * C; i++) l += (double)g1[i] * pooled[i];
    for (int i = 0; i < S * C; i++) l += (double)g2[i] * sent[i];
    return l;
}

/* Checks n_check entries of param (n) against grad; returns failures. */
static int check(gpt2_model *m, const char *what, float *param, const float *grad, size_t n) {
    const float eps = 1e-2f;
    double gmax = 0.0, worst = 0.0;
    for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(grad[i]));
    size_t stride = n > 12 ? n / 12 : 1;
    for (size_t i = (size_t)(rng % stride); i < n; i += stride) {
        float keep = param[i];
        param[i] = keep + eps;
        double lp = loss(m);
        param[i] = keep - eps;
        double lm = loss(m);
        param[i] = keep;
        double fd = (lp - lm) / (2.0 * eps);
        worst = fmax(worst, fabs(fd - grad[i]));
    }
    double rel = worst / (gmax > 0 ? gmax : 1.0);
    int bad = !(gmax > 0.0) || !(rel < 1e-2);
    printf("%-28s n=%-5zu max|grad|=%.3e max|fd-grad|=%.3e rel=%.2e %s\n", what, n, gmax, worst,
           rel, bad ? "FAIL" : "ok");
    return bad;
}

int main(void) {
    gpt2_config cfg = {.vocab_size = BASEV + NADD, .base_vocab = BASEV, .n_positions = 16,
                       .n_embd = 16, .n_layer = 2, .n_head = 2, .n_inner = 24,
                       .ln_eps = 1e-5f, .scale_attn_by_inverse_layer_idx = 1};
    lora_config lc = {.rank = 2, .alpha = 4.0f,
                      .targets = LORA_C_ATTN | LORA_ATTN_C_PROJ | LORA_C_FC | LORA_MLP_C_PROJ};
    gpt2_model *m = NULL;
    if (gpt2_create(&cfg, &lc, 7, &m)) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
    for (size_t i = 0; i < m->num_params; i++) m->params_memory[i] = 0.3f * frand();
    for (int l = 0; l < cfg.n_layer; l++)
        for (int c = 0; c < cfg.n_embd; c++) {
            m->params.ln1w[l * cfg.n_embd + c] += 1.0f;
            m->params.ln2w[l * cfg.n_embd + c] += 1.0f;
        }
    for (int c = 0; c < cfg.n_embd; c++) m->params.lnfw[c] += 1.0f;
    for (size_t i = 0; i < m->num_lora; i++) m->lora_memory[i] = 0.3f * frand();

    const int len[B] = {7, 5};
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int i = b * T + t;
            mask[i] = t < len[b];
            ids[i] = (int)((frand() + 1.0f) * 0.5f * (BASEV - 1));
            if (t == 0) ids[i] = BASEV;                 /* bos (added) */
            if (t == 3 || t == len[b] - 1) ids[i] = SEP; /* sep (added) */
            if (b == 1 && t == 2) ids[i] = BASEV + 2;    /* another added token */
        }
    for (int i = 0; i < B * 16; i++) g1[i] = frand();
    for (int i = 0; i < B * T * 16; i++) g2[i] = frand();
    S = text_sep_positions(pos, ids, mask, SEP, B, T);

    int C = cfg.n_embd;
    loss(m);
    float *dlnf = calloc((size_t)B * T * C, sizeof(float));
    text_mean_pool_backward(dlnf, g1, mask, B, T, C);
    text_gather_rows_backward(dlnf, g2, pos, S, C);
    gpt2_zero_grad(m);
    if (gpt2_backward(m, dlnf)) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
    /* Snapshot the analytic gradients: the checks below re-run forward. */
    float *lg = malloc(sizeof(float) * m->num_lora);
    memcpy(lg, m->lora_grad_memory, sizeof(float) * m->num_lora);
    float *eg = malloc(sizeof(float) * NADD * C);
    memcpy(eg, m->wte_added_grad, sizeof(float) * NADD * C);

    int fails = 0;
    for (int t = 0; t < LORA_NUM_TARGETS; t++) {
        int in = t == 3 ? cfg.n_inner : C;
        int out = t == 0 ? 3 * C : t == 2 ? cfg.n_inner : C;
        size_t na = (size_t)cfg.n_layer * lc.rank * in, nb = (size_t)cfg.n_layer * out * lc.rank;
        char nm[64];
        snprintf(nm, sizeof nm, "lora %s A", lora_target_name(t));
        fails += check(m, nm, m->lora.A[t], lg + (m->lora_grad.A[t] - m->lora_grad_memory), na);
        snprintf(nm, sizeof nm, "lora %s B", lora_target_name(t));
        fails += check(m, nm, m->lora.B[t], lg + (m->lora_grad.B[t] - m->lora_grad_memory), nb);
    }
    /* Added rows: bos (BASEV), sep (BASEV+1), BASEV+2 all occur; each must get gradient. */
    for (int r = 0; r < NADD; r++) {
        char nm[64];
        snprintf(nm, sizeof nm, "added embedding row %d", BASEV + r);
        fails += check(m, nm, m->params.wte + (size_t)(BASEV + r) * C, eg + (size_t)r * C,
                       (size_t)C);
    }
    free(dlnf); free(lg); free(eg);
    gpt2_destroy(m);
    printf("gpt2 gradients: %s\n", fails ? "FAILED" : "passed");
    return fails ? 1 : 0;
}
