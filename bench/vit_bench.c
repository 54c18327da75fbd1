/* vit_bench.c: latency and peak RSS of the engine's image tower (random weights), and the
 * machine's sgemm rate, for bench/vit_bench.sh. One configuration per process so that the
 * peak RSS belongs to it.
 * Legend: B batch, S input side, T tokens, C width, L depth, M MLP hidden.
 * usage: vit_bench [--threads N] [--batch B] [--iters I] [--config base|tiny|small] [--size S]
 *   small: DINOv2-S/14 without registers (bench/dinov2s_bench.sh); --size: input side
 *        vit_bench --ops [--threads N]   (one ViT-B/14 layer at 518, op by op, x 12) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "engine/ops/ops.h"
#include "engine/core/parallel.h"
#include "engine/vision/vit.h"
#include "bench/bench_util.h"

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;   /* kB on Linux */
}

/* Forward FLOPs of one image (multiply-add = 2): patch embedding, QKV, attention (QK^T and
 * AV), output projection, MLP. LayerNorm, GELU, softmax are not counted. */
static double vit_flops(const vit_config *c, int S) {
    double C = c->width, M = c->width * c->mlp_ratio, P = c->patch;
    double Np = (double)(S / c->patch) * (S / c->patch), T = 1 + c->n_registers + Np;
    double layer = 2 * T * C * 3 * C + 4 * T * T * C + 2 * T * C * C + 4 * T * C * M;
    return 2 * Np * 3 * P * P * C + c->depth * layer;
}

/* Time of each op of one ViT-B/14 block at 518 (T = 1374), best of 3, scaled to 12 layers:
 * where a forward's time goes. */
static int ops_profile(void) {
    int T = 1374, C = 768, M = 3072, NH = 12, L = 12;
    size_t n = (size_t)T * M;
    float *x = malloc(4 * n), *y = malloc(4 * n), *w = malloc(4 * (size_t)M * C);
    float *qkv = malloc(4 * (size_t)T * 3 * C), *lse = malloc(4 * (size_t)NH * T);
    float *b = calloc((size_t)M, 4), *g = malloc(4 * (size_t)C);
    for (size_t i = 0; i < n; i++) x[i] = (float)(i % 97) / 97 - 0.5f;
    for (size_t i = 0; i < (size_t)M * C; i++) w[i] = (float)(i % 89) / 89 / 30;
    for (size_t i = 0; i < (size_t)T * 3 * C; i++) qkv[i] = (float)(i % 83) / 83 - 0.5f;
    for (int i = 0; i < C; i++) g[i] = 1;
    const char *names[8] = {"qkv linear", "attention", "attn proj linear", "fc1 linear",
                            "gelu", "fc2 linear", "layernorm x2", "residual x2"};
    double flops[8] = {2.0 * T * C * 3 * C, 4.0 * T * T * C, 2.0 * T * C * C, 2.0 * T * C * M, 0,
                       2.0 * T * M * C, 0, 0};
    double best[8], total = 0;
    for (int op = 0; op < 8; op++) {
        best[op] = 1e9;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = bench_now();
            switch (op) {
            case 0: linear_forward(y, x, w, b, T, C, 3 * C); break;
            case 1: attention_forward(y, lse, qkv, NULL, 1, T, C, NH, 0.125f, 0); break;
            case 2: linear_forward(y, x, w, b, T, C, C); break;
            case 3: linear_forward(y, x, w, b, T, C, M); break;
            case 4: gelu_forward(y, x, n); break;
            case 5: linear_forward(y, x, w, b, T, M, C); break;
            case 6: layernorm_forward(y, NULL, NULL, x, g, g, T, C, 1e-6f);
                    layernorm_forward(y, NULL, NULL, x, g, g, T, C, 1e-6f); break;
            case 7: residual_scaled_forward(y, x, x, g, (size_t)T, C);
                    residual_scaled_forward(y, x, x, g, (size_t)T, C); break;
            }
            double dt = bench_now() - t0;
            if (dt < best[op]) best[op] = dt;
        }
        total += best[op];
    }
    for (int op = 0; op < 8; op++)
        printf("op %-18s x%d layers: %8.1f ms  %5.1f%%  %6.1f GFLOP/s\n", names[op], L,
               best[op] * L * 1e3, 100 * best[op] / total, flops[op] ? flops[op] / best[op] / 1e9 : 0.0);
    printf("op total (12 layers)        : %8.1f ms\n", total * L * 1e3);
    free(x); free(y); free(w); free(qkv); free(lse); free(b); free(g);
    return 0;
}

int main(int argc, char **argv) {
    int threads = 1, B = 1, iters = 3, ops = 0, size = 0;
    const char *config = "base";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) B = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) size = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ops")) ops = 1;
        else { fprintf(stderr, "usage: %s [--threads N] [--batch B] [--iters I] [--config base|tiny|small] [--size S] [--ops]\n", argv[0]); return 2; }
    }
    if (threads < 1 || B < 1 || iters < 1) { fprintf(stderr, "bad arguments\n"); return 2; }
    mama_set_threads(threads);
    printf("openblas_config %s\n", parallel_blas_config());
    if (ops) return ops_profile();

    vit_config c = {.width = 768, .depth = 12, .heads = 12, .patch = 14, .image_size = 518,
                    .n_registers = 4, .mlp_ratio = 4.0f, .ln_eps = 1e-6f, .layerscale = 1,
                    .in_chans = 3, .embed = 512};
    if (!strcmp(config, "tiny")) { c.width = 192; c.depth = 4; c.heads = 3; c.image_size = 224; c.embed = 128; }
    if (!strcmp(config, "small")) {   /* DINOv2-S: Dinov2Model, plain bicubic position resize */
        c.width = 384; c.heads = 6; c.n_registers = 0; c.pos_plain = 1;
    }
    int S = size > 0 ? size : c.image_size;
    vit_model *m = NULL;
    if (vit_create(&c, &m) != MAMA_OK) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
    vit_init_random(m, 1);
    size_t n = (size_t)B * 3 * S * S;
    float *x = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) x[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
    if (vit_forward(m, x, B, S, S, 0) != MAMA_OK) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
    double best = 1e9, sum = 0;
    for (int it = 0; it < iters; it++) {
        double t0 = bench_now();
        vit_forward(m, x, B, S, S, 0);
        double dt = bench_now() - t0;
        sum += dt;
        if (dt < best) best = dt;
    }
    double gf = vit_flops(&c, S) * B / 1e9;
    printf("engine threads=%d batch=%d size=%d best_ms=%.1f mean_ms=%.1f gflop=%.1f gflops=%.1f "
           "peak_rss_mb=%.0f check=%.6f\n", threads, B, S, best * 1e3, sum / iters * 1e3, gf,
           gf / best, peak_rss_mb(), (double)vit_pooled(m)[0]);
    free(x);
    vit_free(m);
    return 0;
}
