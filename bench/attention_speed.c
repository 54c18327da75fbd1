/* attention_speed.c: the tiled flash attention against two untiled baselines at the ViT-B/14
 * @ 518 shape (B=1, T=1374, C=768, NH=12 by default), forward only:
 *   naive: per (head, query) a dot-product loop over all keys, expf softmax, weighted sum;
 *   sgemm: per head the full T x T score matrix with one sgemm, row softmax, one sgemm.
 * Reports ms and GFLOP/s (4 T^2 C flops; best of REPS wall-clock times) for 1 and 2 threads
 * and checks the outputs agree. On a shared machine compare the CPU times too.
 * usage: bench/attention_speed.sh [BUILD_DIR] [T C NH]  (unsets OPENBLAS_CORETYPE/L2_SIZE). */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/ops/ops.h"
#include "engine/core/cpu_isa.h"
#include "engine/core/parallel.h"
#include "bench/bench_util.h"

static void naive(float *out, const float *qkv, int T, int C, int NH, float scale) {
    int HS = C / NH, C3 = 3 * C;
#pragma omp parallel
    {
        float *p = malloc(sizeof(float) * (size_t)T);
#pragma omp for collapse(2) schedule(static)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const float *q = qkv + (size_t)t * C3 + h * HS;
                float m = -INFINITY;
                for (int j = 0; j < T; j++) {
                    const float *k = qkv + (size_t)j * C3 + C + h * HS;
                    float s = 0;
                    for (int d = 0; d < HS; d++) s += q[d] * k[d];
                    p[j] = s * scale;
                    if (p[j] > m) m = p[j];
                }
                float sum = 0;
                for (int j = 0; j < T; j++) sum += (p[j] = expf(p[j] - m));
                float *o = out + (size_t)t * C + h * HS;
                for (int d = 0; d < HS; d++) o[d] = 0;
                for (int j = 0; j < T; j++) {
                    const float *v = qkv + (size_t)j * C3 + 2 * C + h * HS;
                    for (int d = 0; d < HS; d++) o[d] += p[j] / sum * v[d];
                }
            }
        free(p);
    }
}

static void untiled_sgemm(float *out, float *S, const float *qkv, int T, int C, int NH,
                          float scale) {
    int HS = C / NH, C3 = 3 * C;
    for (int h = 0; h < NH; h++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HS, scale, qkv + h * HS, C3,
                    qkv + C + h * HS, C3, 0.0f, S, T);
        softmax_rows(S, T, T);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HS, T, 1.0f, S, T,
                    qkv + 2 * C + h * HS, C3, 0.0f, out + h * HS, C);
    }
}

static double max_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

int main(int argc, char **argv) {
    int T = argc > 1 ? atoi(argv[1]) : 1374, C = argc > 2 ? atoi(argv[2]) : 768;
    int NH = argc > 3 ? atoi(argv[3]) : 12, reps = argc > 4 ? atoi(argv[4]) : 5;
    int tiled_only = argc > 5 && strcmp(argv[5], "tiled") == 0; /* for profiling */
    if (T < 1 || C < 1 || NH < 1 || C % NH) {
        fprintf(stderr, "usage: attention_speed [T C NH REPS [tiled]]\n");
        return 2;
    }
    float scale = 1.0f / sqrtf((float)(C / NH));
    size_t nqkv = (size_t)T * 3 * C, nout = (size_t)T * C;
    float *qkv = malloc(nqkv * 4), *o1 = malloc(nout * 4), *o2 = malloc(nout * 4);
    float *o3 = malloc(nout * 4), *lse = malloc((size_t)NH * T * 4);
    float *S = malloc(sizeof(float) * (size_t)T * T);
    unsigned long long s = 1;
    for (size_t i = 0; i < nqkv; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        qkv[i] = (float)((double)(s >> 40) / (1 << 24) * 4.0 - 2.0);
    }
    double gflop = 4.0 * T * (double)T * C / 1e9;
    bench_print_load();
    printf("engine kernels: %s (MAMA_MAX_ISA caps it); cpu: %s\n", cpu_isa_name(), cpu_isa_model());
    printf("openblas: %s\nattention B=1 T=%d C=%d NH=%d: %.2f GFLOP per call\n",
           parallel_blas_config(), T, C, NH, gflop);
    for (int thr = 1; thr <= 2; thr++) {
        mama_set_threads(thr);
        /* best wall and best CPU time (all threads) per variant; on a busy machine the CPU
           time of the 1-thread runs is the fairer figure */
        double tt = 1e30, tn = 1e30, ts = 1e30, ct = 1e30, cn = 1e30, cs = 1e30;
        for (int r = 0; r < reps; r++) {
            double t0 = bench_now(), c0 = bench_cpu_now();
            attention_forward(o1, lse, qkv, NULL, 1, T, C, NH, scale, 0);
            double t1 = bench_now(), c1 = bench_cpu_now();
            tt = fmin(tt, t1 - t0);
            ct = fmin(ct, c1 - c0);
            if (tiled_only) continue;
            untiled_sgemm(o3, S, qkv, T, C, NH, scale);
            ts = fmin(ts, bench_now() - t1);
            cs = fmin(cs, bench_cpu_now() - c1);
        }
        printf("threads %d: tiled          %8.2f ms wall (%5.1f GFLOP/s), %8.2f ms CPU\n", thr,
               tt * 1e3, gflop / tt, ct * 1e3);
        {
            /* the flash backward once (10 T^2 C flops: it recomputes the score tiles) */
            float *dq = calloc(nqkv, 4);
            double t0 = bench_now(), c0 = bench_cpu_now();
            attention_backward(dq, o1, qkv, o1, lse, NULL, 1, T, C, NH, scale, 0);
            double tb = bench_now() - t0, cb = bench_cpu_now() - c0;
            printf("threads %d: tiled backward %8.2f ms wall (%5.1f GFLOP/s), %8.2f ms CPU\n", thr,
                   tb * 1e3, 2.5 * gflop / tb, cb * 1e3);
            free(dq);
        }
        if (tiled_only) continue;
        printf("threads %d: untiled sgemm  %8.2f ms wall (%5.1f GFLOP/s), %8.2f ms CPU\n", thr,
               ts * 1e3, gflop / ts, cs * 1e3);
        for (int r = 0; r < (reps < 2 ? reps : 2); r++) {
            double t0 = bench_now(), c0 = bench_cpu_now();
            naive(o2, qkv, T, C, NH, scale);
            tn = fmin(tn, bench_now() - t0);
            cn = fmin(cn, bench_cpu_now() - c0);
        }
        printf("threads %d: naive loop     %8.2f ms wall (%5.1f GFLOP/s), %8.2f ms CPU\n", thr,
               tn * 1e3, gflop / tn, cn * 1e3);
        printf("threads %d: tiled speedup: x%.1f vs naive, x%.2f vs untiled sgemm (wall); "
               "x%.1f, x%.2f (CPU)\n",
               thr, tn / tt, ts / tt, cn / ct, cs / ct);
    }
    if (!tiled_only)
        printf("max |tiled - naive| %.2e, |tiled - untiled sgemm| %.2e\n", max_diff(o1, o2, nout),
               max_diff(o1, o3, nout));
    free(qkv); free(o1); free(o2); free(o3); free(lse); free(S);
    return 0;
}
