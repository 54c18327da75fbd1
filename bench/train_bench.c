/* train_bench.c: one MaMA training step (engine/train/step.h) on random weights, for
 * bench/train_bench.sh: ViT-B/14 with 4 registers (position grid trained at 518, so other
 * sizes go through the bicubic resize), a tiny GPT-2 with LoRA (r 8 on c_attn), the
 * paper's heads (local hidden 2048, E 512), every loss term on (late_step 0: both views
 * through the tower, SLA on every patch), AdamW. One configuration per process so that the
 * peak RSS belongs to it.
 * Legend: B batch, S image side, T tokens per report.
 * usage: train_bench [--threads N] [--batch B] [--size S] [--iters I] [--recompute 0|1] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench/bench_util.h"
#include "engine/core/parallel.h"
#include "engine/core/rng.h"
#include "engine/train/step.h"

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

static void fill(float *x, size_t n, mama_rng *r, float amp) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((2 * mama_rng_uniform(r) - 1) * amp);
}

int main(int argc, char **argv) {
    int threads = 1, B = 2, S = 224, iters = 2, recompute = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) B = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--size")) S = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--iters")) iters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--recompute")) recompute = atoi(argv[i + 1]);
    }
    mama_set_threads(threads);
    vit_config vc = {.width = 768, .depth = 12, .heads = 12, .patch = 14, .image_size = 518,
                     .n_registers = 4, .mlp_ratio = 4, .ln_eps = 1e-6f, .layerscale = 1,
                     .in_chans = 3, .embed = 512};
    vit_model *vit = NULL;
    if (vit_create(&vc, &vit)) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
    vit_init_random(vit, 1);
    /* the tiny GPT-2 of the bench: 256 wide, 4 layers, 64 tokens, 5 added special tokens */
    gpt2_config gc = {.vocab_size = 1005, .base_vocab = 1000, .added_from = 1000,
                      .n_positions = 64, .n_embd = 256, .n_layer = 4, .n_head = 4,
                      .n_inner = 1024, .ln_eps = 1e-5f};
    lora_config lc = lora_config_default();
    lc.dropout = 0.0f;
    gpt2_model *g = NULL;
    if (gpt2_create(&gc, &lc, 1, &g)) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
    mama_rng r;
    mama_rng_seed(&r, 2);
    fill(g->params_memory, g->num_params, &r, 0.05f);
    for (int l = 0; l < gc.n_layer; l++)
        for (int c = 0; c < gc.n_embd; c++) {
            g->params.ln1w[l * gc.n_embd + c] = 1;
            g->params.ln2w[l * gc.n_embd + c] = 1;
        }
    for (int c = 0; c < gc.n_embd; c++) g->params.lnfw[c] = 1;
    train_config tc = train_config_default();
    tc.late_step = 0;
    tc.recompute = recompute;
    trainer *t = NULL;
    if (trainer_create(&tc, vit, g, NULL, &t)) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }

    int T = 64;
    size_t npix = (size_t)B * 3 * S * S;
    float *img = malloc(npix * sizeof(float)), *img2 = malloc(npix * sizeof(float));
    fill(img, npix, &r, 1);
    fill(img2, npix, &r, 1);
    int32_t *ids = malloc((size_t)B * T * sizeof(int32_t)), *mask = malloc((size_t)B * T * 4);
    int *pos = malloc((size_t)B * T * sizeof(int)), *off = malloc((size_t)(B + 1) * sizeof(int));
    int S_ = 0;
    off[0] = 0;
    for (int b = 0; b < B; b++) {
        for (int k = 0; k < T; k++) {
            ids[b * T + k] = (int32_t)mama_rng_below(&r, 1000);
            mask[b * T + k] = k < T - 4 * b ? 1 : 0;
        }
        for (int k = 7; k < T - 4 * b; k += 8) {   /* a sentence every 8 tokens */
            ids[b * T + k] = 1003;
            pos[S_++] = b * T + k;
        }
        off[b + 1] = S_;
    }
    train_batch batch = {.img = img, .img2 = img2, .B = B, .H = S, .W = S, .ids = ids,
                         .mask = mask, .T = T, .sent_pos = pos, .sent_off = off};
    train_report rep;
    double best = 1e30, sum = 0;
    for (int it = 0; it <= iters; it++) {   /* iteration 0 warms up (allocations) */
        double t0 = bench_now();
        if (trainer_step(t, &batch, &rep)) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
        double dt = bench_now() - t0;
        if (it == 0) continue;
        if (dt < best) best = dt;
        sum += dt;
    }
    printf("engine threads=%d batch=%d size=%d recompute=%d best_ms=%.0f mean_ms=%.0f "
           "samples_per_s=%.3f peak_rss_mb=%.0f loss=%.4f\n", threads, B, S, recompute,
           best * 1e3, sum / iters * 1e3, B / best, peak_rss_mb(), rep.total);
    trainer_free(t);
    gpt2_destroy(g);
    vit_free(vit);
    free(img); free(img2); free(ids); free(mask); free(pos); free(off);
    return 0;
}
