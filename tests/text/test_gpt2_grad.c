/* test_gpt2_grad.c: the GPT-2 tower's backward against central finite differences on a
 * tiny random config with LoRA on all four targets, added special tokens and padding.
 * loss = sum(g1 * masked_mean(features)) + sum(g2 * features at sep tokens); checks
 * every LoRA A/B tensor and the added-token embedding rows (the trainable set of
 * MAMA_METHOD.md section 2), and that each of them receives a non-zero gradient. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/text/gpt2.h"
#include "engine/core/parallel.h"
#include "engine/text/text_pool.h"

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

/* Checks about n_check entries of param (n) against grad; returns failures. */
static int check(gpt2_model *m, const char *what, float *param, const float *grad, size_t n,
                 size_t n_check) {
    const float eps = 1e-2f;
    double gmax = 0.0, worst = 0.0;
    for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(grad[i]));
    size_t stride = n > n_check ? n / n_check : 1;
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

static int run_checks(gpt2_model *m, const gpt2_config *pcfg, const lora_config *plc,
                      size_t n_check, int rows) {
    gpt2_config cfg = *pcfg;
    lora_config lc = *plc;
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
    float *eg = malloc(sizeof(float) * (NADD + 1) * C);
    memcpy(eg, m->wte_added_grad, sizeof(float) * (NADD + 1) * C);

    int fails = 0;
    for (int t = 0; t < LORA_NUM_TARGETS; t++) {
        int in = t == 3 ? cfg.n_inner : C;
        int out = t == 0 ? 3 * C : t == 2 ? cfg.n_inner : C;
        size_t na = (size_t)cfg.n_layer * lc.rank * in, nb = (size_t)cfg.n_layer * out * lc.rank;
        char nm[64];
        snprintf(nm, sizeof nm, "lora %s A", lora_target_name(t));
        fails += check(m, nm, m->lora.A[t], lg + (m->lora_grad.A[t] - m->lora_grad_memory), na, n_check);
        snprintf(nm, sizeof nm, "lora %s B", lora_target_name(t));
        fails += check(m, nm, m->lora.B[t], lg + (m->lora_grad.B[t] - m->lora_grad_memory), nb, n_check);
    }
    /* Trainable rows BASEV-1 .. BASEV+2 all occur; each must get gradient. */
    for (int r = 0; rows && r < NADD + 1; r++) {
        char nm[64];
        int row = cfg.added_from + r;
        snprintf(nm, sizeof nm, "trainable embedding row %d", row);
        fails += check(m, nm, m->params.wte + (size_t)row * C, eg + (size_t)r * C, (size_t)C, n_check);
    }
    free(dlnf); free(lg); free(eg);
    return fails;
}

int main(void) {
    mama_set_threads(1);  /* tiny shapes: threads only add barrier waits */
    /* added_from below base_vocab: the specials' rows start inside the checkpoint's rows
     * (the BioMedLM case), so row BASEV-1 is trainable too. */
    gpt2_config cfg = {.vocab_size = BASEV + NADD, .base_vocab = BASEV,
                       .added_from = BASEV - 1, .n_positions = 16,
                       .n_embd = 16, .n_layer = 2, .n_head = 2, .n_inner = 24,
                       .ln_eps = 1e-5f, .scale_attn_by_inverse_layer_idx = 1};
    lora_config lc = {.rank = 2, .alpha = 4.0f,
                      .targets = LORA_C_ATTN | LORA_ATTN_C_PROJ | LORA_C_FC | LORA_MLP_C_PROJ,
                      .dropout = 0.3f};
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
            if (b == 0 && t == 5) ids[i] = BASEV - 1;    /* trainable checkpoint row */
        }
    for (int i = 0; i < B * 16; i++) g1[i] = frand();
    for (int i = 0; i < B * T * 16; i++) g2[i] = frand();
    S = text_sep_positions(pos, ids, mask, SEP, B, T);

    int fails = run_checks(m, &cfg, &lc, 8, 1);
    /* Training mode: LoRA dropout (p 0.3) with this step's masks; backward regenerates
     * them, so finite differences still apply. */
    gpt2_set_train(m, 1, 777);
    printf("-- with LoRA dropout p=%.1f\n", lc.dropout);
    fails += run_checks(m, &cfg, &lc, 4, 0);
    gpt2_destroy(m);
    printf("gpt2 gradients: %s\n", fails ? "FAILED" : "passed");
    return fails ? 1 : 0;
}
