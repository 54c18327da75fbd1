/* gemm_peak.c: the machine's measured sgemm peak, the figure the engine's benchmarks report
 * their achieved GFLOP/s against. Row-major sgemm (as the engine calls it) on a large square
 * shape and on the ViT-B/14 @ 518 layer shapes (T = 1374 tokens), 1 and 2 threads, two ways:
 *   blas:   one cblas_sgemm with OpenBLAS's own threads;
 *   engine: linear_forward (OpenMP column panels, single-threaded sgemm each: parallel.h).
 * Reports the best of repeated wall-clock runs (>= 0.6 s each) and the CPU time of the best.
 * Run through bench/gemm_peak.sh, which unsets OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/ops/gemm.h"
#include "engine/ops/ops.h"
#include "engine/core/parallel.h"
#include "bench/bench_util.h"

void openblas_set_num_threads(int num_threads);

/* Best GFLOP/s over repeats of C (M,N) = A (M,K) B^T (N,K) (nn.Linear layout), >= 0.6 s;
 * *out_cpu_gflops: the same from the smallest process CPU time of one run (on a busy
 * machine, the 1-thread CPU figure is the core's own speed). */
static double measure(int M, int N, int K, int engine, double *out_cpu_gflops) {
    float *a = malloc(sizeof(float) * (size_t)M * K), *b = malloc(sizeof(float) * (size_t)N * K);
    float *c = malloc(sizeof(float) * (size_t)M * N);
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)N * K; i++) b[i] = (float)(i % 5) * 0.1f;
    double best = 1e30, best_cpu = 1e30, start = bench_now();
    for (int reps = -1; reps < 3 || bench_now() - start < 0.6; reps++) {
        double t0 = bench_now(), c0 = bench_cpu_now();
        if (engine) linear_forward(c, a, b, NULL, M, K, N);
        else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f,
                         c, N);
        double dt = bench_now() - t0, dc = bench_cpu_now() - c0;
        if (reps >= 0 && dt < best) best = dt;
        if (reps >= 0 && dc < best_cpu) best_cpu = dc;
    }
    *out_cpu_gflops = 2.0 * M * N * K / best_cpu / 1e9;
    free(a);
    free(b);
    free(c);
    return 2.0 * M * N * K / best / 1e9;
}

int main(int argc, char **argv) {
    int max_threads = argc > 1 ? atoi(argv[1]) : 2;
    if (max_threads < 1 || max_threads > 64) max_threads = 2;
    static const struct {
        const char *what;
        int M, N, K;
    } shapes[] = {
        {"square 2048", 2048, 2048, 2048},
        {"vit qkv  1374x2304x768", 1374, 2304, 768},
        {"vit proj 1374x768x768", 1374, 768, 768},
        {"vit fc1  1374x3072x768", 1374, 3072, 768},
        {"vit fc2  1374x768x3072", 1374, 768, 3072},
    };
    char desc[1024];
    gemm_describe(desc, sizeof desc);
    printf("openblas: %s\n", parallel_blas_config());
    printf("engine gemm: %s\n", gemm_backend_name());
    bench_print_load();
    /* columns 4.. (awk $4..): wall-clock GFLOP/s, blas then engine per thread count; after
       "cpu:" the same from the best CPU time (bench/vit_bench.sh parses $4..$7) */
    printf("GFLOP/s (best wall-clock run; after 'cpu:', from the best CPU time)\n%-26s",
           "shape (M x N x K)");
    for (int t = 1; t <= max_threads; t++) printf("  blas%dthr  engine%dthr", t, t);
    printf("  cpu:");
    for (int t = 1; t <= max_threads; t++) printf("  blas%dthr  engine%dthr", t, t);
    printf("\n");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        printf("%-26s", shapes[s].what);
        double cpu[2 * 64];
        int nt = max_threads < 64 ? max_threads : 64;
        for (int t = 1; t <= nt; t++) {
            mama_set_threads(t);
            openblas_set_num_threads(t);
            double blas = measure(shapes[s].M, shapes[s].N, shapes[s].K, 0, &cpu[2 * (t - 1)]);
            mama_set_threads(t); /* OpenBLAS back to 1 thread */
            double eng = measure(shapes[s].M, shapes[s].N, shapes[s].K, 1, &cpu[2 * t - 1]);
            printf("  %8.1f  %10.1f", blas, eng);
            fflush(stdout);
        }
        printf("  cpu:");
        for (int t = 1; t <= nt; t++) printf("  %8.1f  %10.1f", cpu[2 * (t - 1)], cpu[2 * t - 1]);
        printf("\n");
    }
    gemm_describe(desc, sizeof desc);
    printf("engine gemm in use: %s\n", desc);
    return 0;
}
