/* gpu_vit_bench.c: the engine's GPU image tower (bf16) and the card's bf16 GEMM rate
 * through the same cuBLASLt path, for bench/gpu_check.sh.
 * usage: gpu_vit_bench [--batches 1,4,16,64] [--iters N] [--config base|small]
 * Prints one line per batch: images/s and achieved TFLOP/s (303 GFLOP per ViT-B/14-reg
 * image at 518, counted as 2 x multiply-adds of every GEMM and attention product), then
 * the GEMM rate of a 16384 x 8192 x 8192 bf16 matmul. Timing: wall clock around
 * cuda_vit_forward, which uploads the fp32 input and synchronises (input upload
 * included, weights resident). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_util.h"
#include "engine/core/status.h"
#include "engine/cuda/cuda_ops.h"
#include "engine/cuda/cuda_vit.h"
#include "engine/vision/vit.h"

static double vit_flops(const vit_config *c, int S) {
    double G = S / c->patch, Np = G * G, T = 1 + c->n_registers + Np, C = c->width;
    double M = C * c->mlp_ratio, K = 3.0 * c->patch * c->patch;
    double per_block = 2 * T * C * 3 * C + 2 * 2 * T * T * C + 2 * T * C * C + 2 * 2 * T * C * M;
    return c->depth * per_block + 2 * Np * K * C;
}

static int gemm_rate(void) {
    const int N = 16384, C = 8192, OC = 8192, iters = 20;
    mama_bf16 *x, *w, *y;
    if (cuda_malloc((void **)&x, (size_t)N * C * 2) || cuda_malloc((void **)&w, (size_t)OC * C * 2) ||
        cuda_malloc((void **)&y, (size_t)N * OC * 2) || cuda_memset0(x, (size_t)N * C * 2) ||
        cuda_memset0(w, (size_t)OC * C * 2)) {
        fprintf(stderr, "%s\n", mama_last_error());
        return 1;
    }
    for (int i = 0; i < 3; i++) cuda_linear_forward(y, NULL, x, w, NULL, N, C, OC, 0);
    cuda_sync();
    double t0 = bench_now();
    for (int i = 0; i < iters; i++) cuda_linear_forward(y, NULL, x, w, NULL, N, C, OC, 0);
    if (cuda_sync() != MAMA_OK) {
        fprintf(stderr, "%s\n", mama_last_error());
        return 1;
    }
    double dt = (bench_now() - t0) / iters;
    printf("gemm bf16 %dx%dx%d: %.1f TFLOP/s\n", N, C, OC, 2.0 * N * C * OC / dt / 1e12);
    cuda_free(x); cuda_free(w); cuda_free(y);
    return 0;
}

int main(int argc, char **argv) {
    const char *batches = "1,4,16,64", *config = "base";
    int iters = 10;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batches") && i + 1 < argc) batches = argv[++i];
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
        else { fprintf(stderr, "usage: %s [--batches 1,4,16,64] [--iters N] [--config base|small]\n", argv[0]); return 2; }
    }
    if (cuda_device_count() == 0) { fprintf(stderr, "no CUDA device visible\n"); return 77; }
    cuda_device_info info;
    if (cuda_device_open(0, &info) != MAMA_OK) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
    printf("device: %s sm_%d%d, %d SMs\n", info.name, info.sm_major, info.sm_minor, info.multiprocessors);
    vit_config c = {.width = 768, .depth = 12, .heads = 12, .patch = 14, .image_size = 518,
                    .n_registers = 4, .mlp_ratio = 4.0f, .ln_eps = 1e-6f, .layerscale = 1,
                    .in_chans = 3, .embed = 512};
    if (!strcmp(config, "small")) { c.width = 384; c.heads = 6; c.n_registers = 0; }
    vit_model *m = NULL;
    cuda_vit *g = NULL;
    if (vit_create(&c, &m) != MAMA_OK || (vit_init_random(m, 1), cuda_vit_create(m, &g)) != MAMA_OK) {
        fprintf(stderr, "%s\n", mama_last_error());
        return 1;
    }
    const int S = 518;
    double gf = vit_flops(&c, S) / 1e9;
    printf("model: %s at %d px, %.1f GFLOP per image\n", config, S, gf);
    char list[256];
    snprintf(list, sizeof list, "%s", batches);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int B = atoi(tok);
        size_t n = (size_t)B * 3 * S * S;
        float *inp = malloc(n * 4), *pooled = malloc((size_t)B * c.width * 4);
        for (size_t i = 0; i < n; i++) inp[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
        mama_status rc = cuda_vit_forward(g, inp, B, S, S, pooled, NULL, NULL);  /* warm-up, sizes */
        double t0 = bench_now();
        for (int it = 0; it < iters && rc == MAMA_OK; it++)
            rc = cuda_vit_forward(g, inp, B, S, S, pooled, NULL, NULL);
        double dt = (bench_now() - t0) / iters;
        if (rc != MAMA_OK) { fprintf(stderr, "batch %d: %s\n", B, mama_last_error()); return 1; }
        printf("engine bf16 batch %d: %.1f images/s, %.1f TFLOP/s\n", B, B / dt, B * gf / dt / 1e3);
        free(inp); free(pooled);
    }
    cuda_vit_free(g);
    vit_free(m);
    int rc = gemm_rate();
    cuda_device_close();
    return rc;
}
