/* text_bench.c: text-tower throughput (tokens/s) for a batch of padded reports.
 * Run by bench/text_bench.sh beside the transformers anchor (bench/text_bench.py).
 *   text_bench gpt2-small B T ITERS THREADS      GPT-2 124M shape (C 768, L 12, NH 12,
 *                                                V 50257 + 5 added), LoRA r 8 on c_attn,
 *                                                random weights
 *   text_bench minilm B T ITERS THREADS DIR      all-MiniLM-L6-v2 from DIR/model.safetensors
 * Batch: B captions of T tokens, caption b has T - 7b real tokens (right padding), as
 * reports padded to 144. Inference mode (one layer's activations); one warm-up pass. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/text/bert.h"
#include "engine/text/gpt2.h"
#include "engine/core/cpu_isa.h"
#include "engine/core/parallel.h"
#include "engine/ops/gemm.h"
#include "engine/text/text_pool.h"
#include "bench/bench_util.h"

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s gpt2-small|minilm B T ITERS THREADS [MINILM_DIR]\n", argv[0]);
        return 2;
    }
    int B = atoi(argv[2]), T = atoi(argv[3]), iters = atoi(argv[4]), threads = atoi(argv[5]);
    if (B <= 0 || T <= 0 || iters <= 0 || threads <= 0) { fprintf(stderr, "bad sizes\n"); return 2; }
    mama_set_threads(threads);
    int is_gpt2 = !strcmp(argv[1], "gpt2-small");
    gpt2_model *g = NULL;
    bert_model *bm = NULL;
    int V, C;
    if (is_gpt2) {
        gpt2_config cfg = {.vocab_size = 50257 + 5, .base_vocab = 50257,
                           .added_from = 50257, .n_positions = 1024,
                           .n_embd = 768, .n_layer = 12, .n_head = 12, .n_inner = 3072,
                           .ln_eps = 1e-5f};
        lora_config lc = lora_config_default();
        if (gpt2_create(&cfg, &lc, 1, &g)) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
        unsigned long long s = 12345;
        for (size_t i = 0; i < g->num_params; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            g->params_memory[i] = 0.02f * ((float)(s >> 40) / 16777216.0f - 0.5f);
        }
        for (size_t i = 0; i < (size_t)cfg.n_layer * cfg.n_embd; i++)
            g->params.ln1w[i] = g->params.ln2w[i] = 1.0f;
        for (int i = 0; i < cfg.n_embd; i++) g->params.lnfw[i] = 1.0f;
        gpt2_set_inference(g, 1);
        V = cfg.vocab_size;
        C = cfg.n_embd;
    } else if (!strcmp(argv[1], "minilm") && argc > 6) {
        char path[4096];
        snprintf(path, sizeof path, "%s/model.safetensors", argv[6]);
        if (bert_load_hf(path, NULL, &bm)) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
        V = bm->cfg.vocab_size;
        C = bm->cfg.hidden;
    } else {
        fprintf(stderr, "unknown model %s (minilm needs its directory)\n", argv[1]);
        return 2;
    }
    int *ids = malloc(sizeof(int) * (size_t)B * T);
    float *mask = malloc(sizeof(float) * (size_t)B * T);
    float *pooled = malloc(sizeof(float) * (size_t)B * C);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            ids[b * T + t] = (int)((1000003u * (unsigned)(b * T + t) + 17u) % (unsigned)V);
            mask[b * T + t] = t < T - 7 * b;
        }
    /* MAMA_PRECISION (fp32 default, bf16, auto): the towers' inference precision */
    mama_precision want = MAMA_PREC_FP32, got;
    const char *pe = getenv("MAMA_PRECISION");
    if (pe && mama_precision_parse(pe, &want)) { fprintf(stderr, "%s\n", mama_last_error()); return 2; }
    char note[256];
    got = gemm_precision_resolve(want, note, sizeof note);
    if (note[0]) fprintf(stderr, "text_bench: %s\n", note);
    if (is_gpt2 ? gpt2_set_precision(g, got) : bert_set_precision(bm, got)) {
        fprintf(stderr, "%s\n", mama_last_error());
        return 1;
    }
    double best = 1e30, total = 0.0, best_cpu = 1e30;
    for (int it = -1; it < iters; it++) {
        double t0 = bench_now(), c0 = bench_cpu_now();
        mama_status rc = is_gpt2 ? gpt2_forward(g, ids, mask, B, T)
                                 : bert_forward(bm, ids, NULL, mask, B, T);
        if (rc == MAMA_OK)
            rc = text_mean_pool_forward(pooled, is_gpt2 ? g->acts.lnf : bm->hidden, mask, B, T, C);
        if (rc) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
        double dt = bench_now() - t0, dc = bench_cpu_now() - c0;
        if (it < 0) continue;
        total += dt;
        if (dt < best) best = dt;
        if (dc < best_cpu) best_cpu = dc;
    }
    double tokens = (double)B * T;
    char desc[1024];
    gemm_describe(desc, sizeof desc);
    printf("engine: %s B=%d T=%d threads=%d precision=%s isa=%s [%s]\n", argv[1], B, T, threads,
           mama_precision_name(got), cpu_isa_name(), desc);
    printf("engine_tokens_per_s %.1f (mean of %d; best %.1f) checksum %.6f\n",
           tokens * iters / total, iters, tokens / best, pooled[0] + pooled[C - 1]);
    printf("engine_cpu_tokens_per_s %.1f (best process CPU time)\n", tokens / best_cpu);
    free(ids); free(mask); free(pooled);
    gpt2_destroy(g);
    bert_destroy(bm);
    return 0;
}
