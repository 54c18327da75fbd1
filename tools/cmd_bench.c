/* cmd_bench.c: `mama bench`: what this machine is and how fast the engine runs on it, in
 * one report that explains itself: the CPU (model, cores, the vector extensions it has),
 * the kernels the engine picked (its own ISA, the GEMM backend, oneDNN's version, ISA and
 * implementations, OpenBLAS's core type), the machine's GEMM rate through the engine's own
 * gemm (fp32, and bf16 where native) and the image tower's latency, each figure on a
 * `key=value` line that repeats the ISA and GEMM path it was measured with.
 * Random weights: the speed does not depend on them. Wall-clock figures, and beside them
 * figures from process CPU time (comparable on a shared machine at 1 thread); the load
 * average is printed too. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "engine/core/cpu_isa.h"
#include "engine/core/dtype.h"
#include "engine/core/parallel.h"
#include "engine/core/precision.h"
#include "engine/ops/gemm.h"
#include "engine/vision/vit.h"

static void usage(FILE *out) {
    fprintf(out,
        "usage: mama bench [--config base|small|tiny] [--batch B] [--threads N]\n"
        "                  [--precision fp32|bf16|auto] [--iters I] [--no-gemm] [--no-tower]\n"
        "Reports the CPU, the kernels the engine uses on it, the GEMM rate (square 2048 and\n"
        "the ViT QKV shape, fp32 and bf16) and the image tower's forward latency.\n"
        "  --config: base = ViT-B/14 + 4 registers at 518 (default), small = DINOv2-S/14 at\n"
        "            518, tiny = 192 wide, 4 layers at 224\n"
        "  --threads N (default: every CPU), --batch B (1), --iters I (3, after a warm-up),\n"
        "  --precision (fp32): of the tower; bf16 without a native kernel runs fp32, saying so.\n");
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Process CPU time (all threads): on a shared machine the 1-thread figure from it is the
 * core's own speed, where wall-clock time also counts waiting for a core. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

/* The extensions of /proc/cpuinfo's flags that decide the engine's kernels. */
static void cpu_flags(char *buf, size_t n) {
    static const char *const want[] = {"sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw",
                                       "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16",
                                       "amx_tile", "amx_bf16", "amx_int8", "avx_vnni"};
    buf[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "flags", 5) == 0) {
            size_t len = 0;
            for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
                char pat[32];
                snprintf(pat, sizeof pat, " %s", want[i]);
                char *hit = strstr(line, pat);
                if (hit && (hit[strlen(pat)] == ' ' || hit[strlen(pat)] == '\n'))
                    len += (size_t)snprintf(buf + len, len < n ? n - len : 0, "%s%s",
                                            len ? "," : "", want[i]);
            }
            break;
        }
    if (f) fclose(f);
    if (!buf[0]) snprintf(buf, n, "unknown");
}

/* The tag every figure line carries: the kernels it was measured with. */
static char tag[1536];

static void make_tag(void) {
    char desc[1024];
    gemm_describe(desc, sizeof desc);
    snprintf(tag, sizeof tag, "isa=%s threads=%d [%s]", cpu_isa_name(), mama_get_threads(), desc);
}

/* Best GFLOP/s of C (M,N) = A (M,K) B^T over >= 0.5 s (fp32, or bf16 B when bf16), by
 * wall clock; *cpu_rate the same from the smallest process CPU time of one call. */
static double gemm_rate(int M, int N, int K, int bf16, double *cpu_rate) {
    float *a = malloc(sizeof(float) * (size_t)M * K), *b = malloc(sizeof(float) * (size_t)N * K);
    float *c = malloc(sizeof(float) * (size_t)M * N);
    uint16_t *b16 = malloc(sizeof(uint16_t) * (size_t)N * K);
    double best = 1e30, best_cpu = 1e30;
    if (a && b && c && b16) {
        for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.1f;
        for (size_t i = 0; i < (size_t)N * K; i++) b[i] = (float)(i % 5) * 0.1f;
        dtype_f32_to_bf16_n(b16, b, (size_t)N * K);
        double start = now();
        for (int rep = -1; rep < 3 || now() - start < 0.5; rep++) {
            double t0 = now(), c0 = cpu_now();
            if (bf16) gemm_bf16_forward(1, M, N, K, a, K, b16, K, NULL, GEMM_NONE, c, N);
            else gemm_forward(0, 1, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
            double dt = now() - t0, dc = cpu_now() - c0;
            if (rep >= 0 && dt < best) best = dt;
            if (rep >= 0 && dc < best_cpu) best_cpu = dc;
        }
    }
    *cpu_rate = best_cpu < 1e30 ? 2.0 * M * N * K / best_cpu / 1e9 : 0.0;
    free(a); free(b); free(c); free(b16);
    return best < 1e30 ? 2.0 * M * N * K / best / 1e9 : 0.0;
}

/* Forward FLOPs of one image (multiply-add = 2), as bench/vit_bench.c counts them. */
static double vit_flops(const vit_config *c, int S) {
    double C = c->width, M = c->width * c->mlp_ratio, P = c->patch;
    double Np = (double)(S / c->patch) * (S / c->patch), T = 1 + c->n_registers + Np;
    double layer = 2 * T * C * 3 * C + 4 * T * T * C + 2 * T * C * C + 4 * T * C * M;
    return 2 * Np * 3 * P * P * C + c->depth * layer;
}

static int tower(const char *config, int B, int iters, mama_precision want) {
    vit_config c = {.width = 768, .depth = 12, .heads = 12, .patch = 14, .image_size = 518,
                    .n_registers = 4, .mlp_ratio = 4.0f, .ln_eps = 1e-6f, .layerscale = 1,
                    .in_chans = 3, .embed = 0};
    if (!strcmp(config, "small")) { c.width = 384; c.heads = 6; c.n_registers = 0; }
    else if (!strcmp(config, "tiny")) { c.width = 192; c.depth = 4; c.heads = 3; c.image_size = 224; }
    else if (strcmp(config, "base") != 0) {
        fprintf(stderr, "mama bench: --config %s: use base, small or tiny\n", config);
        return 2;
    }
    vit_model *m = NULL;
    if (vit_create(&c, &m) != MAMA_OK) {
        fprintf(stderr, "mama bench: %s\n", mama_last_error());
        return 1;
    }
    vit_init_random(m, 1);
    char note[256];
    mama_precision got = gemm_precision_resolve(want, note, sizeof note);
    if (note[0]) fprintf(stderr, "mama bench: %s\n", note);
    int S = c.image_size, status = 1;
    float *x = malloc(sizeof(float) * (size_t)B * 3 * S * S);
    if (!x || vit_set_precision(m, got) != MAMA_OK) {
        fprintf(stderr, "mama bench: %s\n", x ? mama_last_error() : "out of memory");
        goto done;
    }
    for (size_t i = 0; i < (size_t)B * 3 * S * S; i++) x[i] = (float)(i % 251) / 125.0f - 1.0f;
    double best = 1e30, sum = 0, best_cpu = 1e30;
    for (int it = -1; it < iters; it++) {
        double t0 = now(), c0 = cpu_now();
        if (vit_forward(m, x, B, S, S, 0) != MAMA_OK) {
            fprintf(stderr, "mama bench: %s\n", mama_last_error());
            goto done;
        }
        double dt = now() - t0, dc = cpu_now() - c0;
        if (it >= 0) {
            sum += dt;
            if (dt < best) best = dt;
            if (dc < best_cpu) best_cpu = dc;
        }
    }
    make_tag();
    double gf = vit_flops(&c, S) * B / 1e9;
    printf("tower config=%s size=%d batch=%d precision=%s best_ms=%.1f mean_ms=%.1f cpu_ms=%.1f "
           "gflop=%.1f gflops=%.1f peak_rss_mb=%.0f %s\n", config, S, B, mama_precision_name(got),
           best * 1e3, sum / iters * 1e3, best_cpu * 1e3, gf, gf / best, peak_rss_mb(), tag);
    status = 0;
done:
    free(x);
    vit_free(m);
    return status;
}

int mama_cmd_bench(int argc, char **argv) {
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"batch", required_argument, 0, 'b'},
        {"threads", required_argument, 0, 't'}, {"precision", required_argument, 0, 'p'},
        {"iters", required_argument, 0, 'i'}, {"no-gemm", no_argument, 0, 'G'},
        {"no-tower", no_argument, 0, 'T'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *config = "base";
    int B = 1, threads = 0, iters = 3, do_gemm = 1, do_tower = 1, c;
    mama_precision want = MAMA_PREC_FP32;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:b:t:p:i:GTh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'b': B = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'i': iters = atoi(optarg); break;
        case 'G': do_gemm = 0; break;
        case 'T': do_tower = 0; break;
        case 'p':
            if (mama_precision_parse(optarg, &want) != MAMA_OK) {
                fprintf(stderr, "mama bench: --precision: %s\n", mama_last_error());
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || B < 1 || B > 64 || threads < 0 || threads > 1024 || iters < 1 ||
        iters > 1000) {
        usage(stderr);
        return 2;
    }
    mama_set_threads(threads);
    char flags[512];
    cpu_flags(flags, sizeof flags);
    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) < 0) load[0] = -1;
    printf("machine cpu=\"%s\" cpus_online=%ld engine_threads=%d load=%.2f,%.2f,%.2f\n",
           cpu_isa_model(), sysconf(_SC_NPROCESSORS_ONLN), mama_get_threads(), load[0], load[1],
           load[2]);
    printf("machine flags=%s engine_isa=%s (MAMA_MAX_ISA caps it; ONEDNN_MAX_CPU_ISA caps "
           "oneDNN; MAMA_GEMM=openblas forces OpenBLAS)\n", flags, cpu_isa_name());
    if (do_gemm) {
        static const struct { const char *what; int M, N, K; } shapes[] = {
            {"square2048", 2048, 2048, 2048}, {"vit_qkv", 1374, 2304, 768}};
        for (size_t s = 0; s < 2; s++)
            for (int bf16 = 0; bf16 < 2; bf16++) {
                if (bf16 && !gemm_bf16_native()) {
                    printf("gemm shape=%s precision=bf16 skipped: no native bf16 GEMM here\n",
                           shapes[s].what);
                    continue;
                }
                double rc, r = gemm_rate(shapes[s].M, shapes[s].N, shapes[s].K, bf16, &rc);
                make_tag();
                printf("gemm shape=%s m=%d n=%d k=%d precision=%s gflops=%.1f cpu_gflops=%.1f "
                       "%s\n", shapes[s].what, shapes[s].M, shapes[s].N, shapes[s].K,
                       bf16 ? "bf16" : "fp32", r, rc, tag);
                fflush(stdout);
            }
    }
    return do_tower ? tower(config, B, iters, want) : 0;
}
