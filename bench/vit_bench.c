/* vit_bench.c: latency and peak RSS of the engine's image tower (random weights), and the
 * machine's sgemm rate, for bench/vit_bench.sh. One configuration per process so that the
 * peak RSS belongs to it.
 * Legend: B batch, S input side, T tokens, C width, L depth, M MLP hidden.
 * usage: vit_bench [--threads N] [--batch B] [--iters I] [--config base|tiny]
 *        vit_bench --gemm-peak [--threads N]   (sgemm 1370 x 2304 x 768, the QKV shape) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "engine/parallel.h"
#include "engine/vit.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

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

static int gemm_peak(int threads) {
    int M = 1370, N = 2304, K = 768, iters = 10;
    float *a = malloc(sizeof(float) * M * K), *b = malloc(sizeof(float) * N * K),
          *c = malloc(sizeof(float) * M * N);
    for (int i = 0; i < M * K; i++) a[i] = (float)(((unsigned)i * 7919u) % 1000u) / 1000.0f - 0.5f;
    for (int i = 0; i < N * K; i++) b[i] = (float)(((unsigned)i * 104729u) % 1000u) / 1000.0f - 0.5f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
    double best = 1e9;
    for (int it = 0; it < iters; it++) {
        double t0 = now_s();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    printf("gemm_peak threads=%d shape=%dx%dx%d best_ms=%.2f gflops=%.1f\n", threads, M, N, K,
           best * 1e3, 2.0 * M * N * K / best / 1e9);
    free(a); free(b); free(c);
    return 0;
}

int main(int argc, char **argv) {
    int threads = 1, B = 1, iters = 3, gemm = 0;
    const char *config = "base";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) B = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
        else if (!strcmp(argv[i], "--gemm-peak")) gemm = 1;
        else { fprintf(stderr, "usage: %s [--threads N] [--batch B] [--iters I] [--config base|tiny] [--gemm-peak]\n", argv[0]); return 2; }
    }
    if (threads < 1 || B < 1 || iters < 1) { fprintf(stderr, "bad arguments\n"); return 2; }
    mama_set_threads(threads);
    printf("openblas_config %s\n", parallel_blas_config());
    if (gemm) return gemm_peak(threads);

    vit_config c = {.width = 768, .depth = 12, .heads = 12, .patch = 14, .image_size = 518,
                    .n_registers = 4, .mlp_ratio = 4.0f, .ln_eps = 1e-6f, .layerscale = 1,
                    .in_chans = 3, .embed = 512};
    if (!strcmp(config, "tiny")) { c.width = 192; c.depth = 4; c.heads = 3; c.image_size = 224; c.embed = 128; }
    int S = c.image_size;
    vit_model *m = NULL;
    if (vit_create(&c, &m) != MAMA_OK) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
    vit_init_random(m, 1);
    size_t n = (size_t)B * 3 * S * S;
    float *x = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) x[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
    if (vit_forward(m, x, B, S, S, 0) != MAMA_OK) { fprintf(stderr, "%s\n", mama_last_error()); return 1; }
    double best = 1e9, sum = 0;
    for (int it = 0; it < iters; it++) {
        double t0 = now_s();
        vit_forward(m, x, B, S, S, 0);
        double dt = now_s() - t0;
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
