/* gemm_dnnl.c: the oneDNN backend of gemm.c. oneDNN's matmul primitive picks its kernel
 * from the running CPU's feature bits (AVX2, AVX-512, AVX512-BF16, AMX) when the primitive
 * is created, not from a table of CPU models, so a server newer than the library still
 * gets its widest kernel. ONEDNN_MAX_CPU_ISA (read by oneDNN itself) caps it.
 *
 * Primitives: one per distinct call shape (transposes, M, N, K, leading dimensions, types,
 * alpha, beta, bias, post-op and thread count), created on first use and kept for the
 * life of the process in a fixed table under a mutex; a full table still runs the call
 * with a primitive made and dropped on the spot. A primitive whose implementation is
 * oneDNN's reference code ("ref:") is refused (it is orders of magnitude slower than
 * OpenBLAS): the call returns -1 and the dispatcher falls back.
 * Threads: oneDNN here uses the same OpenMP runtime as the engine and parallelises each
 * call over the pool (omp_get_max_threads() at creation, part of the key); gemm.c sends
 * calls made inside an OpenMP region to single-threaded OpenBLAS instead.
 * Memory objects, the stream and the scratchpad are made per call (cheap: no data is
 * copied; they wrap the caller's pointers), so concurrent calls share only the immutable
 * primitive. The scratchpad must be the caller's (dnnl_scratchpad_mode_user): in the
 * default library mode oneDNN 2.x shares one scratchpad between primitives, and two
 * threads running the same primitive at once wrote over each other's partial sums
 * (test_gemm's concurrent case, seen under ASan's timing). */
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ops/gemm_impl.h"

#ifdef MAMA_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>

#define CACHE_SLOTS 256

typedef struct key {
    int trans_a, trans_b, M, N, K, lda, ldb, ldc, ab_type, has_bias, post, nthr;
    float alpha, beta;
} key;

typedef struct entry {
    key k;
    dnnl_primitive_t prim; /* NULL: this shape has no native primitive (fall back) */
} entry;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static entry cache[CACHE_SLOTS];
static int cache_used;
static dnnl_engine_t cpu_engine;
static int engine_state; /* 0 not tried, 1 ready, -1 failed */
static char kernels_seen[512];

/* The engine, made once (under cache_lock). */
static int engine_ready(void) {
    if (engine_state == 0)
        engine_state = dnnl_engine_create(&cpu_engine, dnnl_cpu, 0) == dnnl_success ? 1 : -1;
    return engine_state == 1;
}

static void key_of(key *k, const gemm_call *g) {
    memset(k, 0, sizeof *k); /* padding too: keys are compared with memcmp */
    k->trans_a = g->trans_a; k->trans_b = g->trans_b;
    k->M = g->M; k->N = g->N; k->K = g->K;
    k->lda = g->lda; k->ldb = g->ldb; k->ldc = g->ldc;
    k->ab_type = (int)g->ab_type; k->has_bias = g->bias != NULL; k->post = g->post;
    k->nthr = omp_get_max_threads();
    k->alpha = g->alpha; k->beta = g->beta;
}

/* Row-major 2-D descriptor of an (rows, cols) operand stored with leading dimension ld,
 * transposed in memory when trans. */
static dnnl_status_t md2(dnnl_memory_desc_t *md, int rows, int cols, int ld, int trans,
                         dnnl_data_type_t dt) {
    dnnl_dims_t dims = {rows, cols};
    dnnl_dims_t strides = {trans ? 1 : ld, trans ? ld : 1};
    return dnnl_memory_desc_init_by_strides(md, 2, dims, dt, strides);
}

/* Remembers an implementation name for gemm_dnnl_kernels (under cache_lock). */
static void note_kernel(const char *impl, int ab_type) {
    char item[96];
    snprintf(item, sizeof item, "%s %s", impl, ab_type == MAMA_BF16 ? "bf16" : "f32");
    if (strstr(kernels_seen, item)) return;
    size_t len = strlen(kernels_seen);
    snprintf(kernels_seen + len, sizeof kernels_seen - len, "%s%s", len ? ", " : "", item);
}

/* A primitive for k, or NULL when oneDNN has only reference code (or nothing) for it. */
static dnnl_primitive_t create(const key *k) {
    dnnl_data_type_t ab = k->ab_type == MAMA_BF16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_desc_t a_md, b_md, c_md, bias_md;
    if (md2(&a_md, k->M, k->K, k->lda, k->trans_a, ab) != dnnl_success ||
        md2(&b_md, k->K, k->N, k->ldb, k->trans_b, ab) != dnnl_success ||
        md2(&c_md, k->M, k->N, k->ldc, 0, dnnl_f32) != dnnl_success ||
        md2(&bias_md, 1, k->N, k->N, 0, dnnl_f32) != dnnl_success)
        return NULL;
    dnnl_matmul_desc_t desc;
    if (dnnl_matmul_desc_init(&desc, &a_md, &b_md, k->has_bias ? &bias_md : NULL, &c_md) !=
        dnnl_success)
        return NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t ops = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    int ok = dnnl_primitive_attr_create(&attr) == dnnl_success &&
             dnnl_post_ops_create(&ops) == dnnl_success;
    if (ok && k->alpha != 1.0f)
        ok = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &k->alpha) == dnnl_success;
    if (ok && k->beta != 0.0f) ok = dnnl_post_ops_append_sum(ops, k->beta) == dnnl_success;
    if (ok && k->post != GEMM_POST_NONE)
        ok = dnnl_post_ops_append_eltwise(ops, 1.0f,
                                          k->post == GEMM_POST_GELU_ERF ? dnnl_eltwise_gelu_erf
                                                                        : dnnl_eltwise_gelu_tanh,
                                          0.0f, 0.0f) == dnnl_success;
    if (ok) ok = dnnl_primitive_attr_set_post_ops(attr, ops) == dnnl_success;
    if (ok) ok = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) ==
                 dnnl_success;
    if (ok) ok = dnnl_primitive_desc_create(&pd, &desc, attr, cpu_engine, NULL) == dnnl_success;
    const char *impl = NULL;
    if (ok) ok = dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) ==
                     dnnl_success && impl;
    if (ok && strncmp(impl, "ref", 3) != 0) {
        if (dnnl_primitive_create(&prim, pd) != dnnl_success) prim = NULL;
        else note_kernel(impl, k->ab_type);
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (ops) dnnl_post_ops_destroy(ops);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return prim;
}

/* The cached primitive for k (*owned = 0), or a fresh one the caller destroys (*owned = 1)
 * when the table is full; NULL when there is none. */
static dnnl_primitive_t lookup(const key *k, int *owned) {
    *owned = 0;
    pthread_mutex_lock(&cache_lock);
    dnnl_primitive_t prim = NULL;
    if (!engine_ready()) goto out;
    for (int i = 0; i < cache_used; i++)
        if (memcmp(&cache[i].k, k, sizeof *k) == 0) {
            prim = cache[i].prim;
            goto out;
        }
    prim = create(k);
    if (cache_used < CACHE_SLOTS) {
        cache[cache_used].k = *k;
        cache[cache_used].prim = prim;
        cache_used++;
    } else {
        *owned = prim != NULL;
    }
out:
    pthread_mutex_unlock(&cache_lock);
    return prim;
}

static int wrap(dnnl_memory_t *mem, int rows, int cols, int ld, int trans, dnnl_data_type_t dt,
                const void *p) {
    dnnl_memory_desc_t md;
    return md2(&md, rows, cols, ld, trans, dt) == dnnl_success &&
           dnnl_memory_create(mem, &md, cpu_engine, (void *)p) == dnnl_success;
}

int gemm_dnnl_run(const gemm_call *g) {
    key k;
    key_of(&k, g);
    int owned;
    dnnl_primitive_t prim = lookup(&k, &owned);
    if (!prim) return -1;
    dnnl_data_type_t ab = g->ab_type == MAMA_BF16 ? dnnl_bf16 : dnnl_f32;
    dnnl_memory_t a = NULL, b = NULL, c = NULL, bias = NULL, pad = NULL;
    dnnl_stream_t stream = NULL;
    int rc = -1;
    /* this call's own scratchpad (see the top of the file) */
    const_dnnl_primitive_desc_t pd = NULL;
    const dnnl_memory_desc_t *pad_md = NULL;
    size_t pad_bytes = 0;
    void *pad_buf = NULL;
    if (dnnl_primitive_get_primitive_desc(prim, &pd) == dnnl_success)
        pad_md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (pad_md) pad_bytes = dnnl_memory_desc_get_size(pad_md);
    /* posix_memalign, not aligned_alloc: test_attention counts the engine's aligned_alloc
     * calls (--wrap) to inject failures into the attention scratch */
    if (pad_bytes && posix_memalign(&pad_buf, 64, pad_bytes) != 0) pad_buf = NULL;
    int pad_ok = !pad_bytes || (pad_buf && dnnl_memory_create(&pad, pad_md, cpu_engine, pad_buf) ==
                                               dnnl_success);
    if (pad_ok && wrap(&a, g->M, g->K, g->lda, g->trans_a, ab, g->A) &&
        wrap(&b, g->K, g->N, g->ldb, g->trans_b, ab, g->B) &&
        wrap(&c, g->M, g->N, g->ldc, 0, dnnl_f32, g->C) &&
        (!g->bias || wrap(&bias, 1, g->N, g->N, 0, dnnl_f32, g->bias)) &&
        dnnl_stream_create(&stream, cpu_engine, dnnl_stream_default_flags) == dnnl_success) {
        dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}};
        int nargs = 3;
        if (g->bias) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, bias};
        if (pad) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, pad};
        if (dnnl_primitive_execute(prim, stream, nargs, args) == dnnl_success &&
            dnnl_stream_wait(stream) == dnnl_success)
            rc = 0;
    }
    if (stream) dnnl_stream_destroy(stream);
    if (bias) dnnl_memory_destroy(bias);
    if (c) dnnl_memory_destroy(c);
    if (b) dnnl_memory_destroy(b);
    if (a) dnnl_memory_destroy(a);
    if (pad) dnnl_memory_destroy(pad);
    free(pad_buf);
    if (owned) dnnl_primitive_destroy(prim);
    return rc;
}

int gemm_dnnl_bf16_native(void) {
    static int state; /* 0 unknown, 1 yes, -1 no; probed once */
    pthread_mutex_lock(&cache_lock);
    if (state == 0) {
        state = -1;
        if (engine_ready()) {
            key k = {0};
            k.M = k.N = k.K = k.lda = k.ldb = k.ldc = 64;
            k.ab_type = MAMA_BF16;
            k.nthr = 1;
            k.alpha = 1.0f;
            dnnl_primitive_t p = create(&k);
            if (p) {
                state = 1;
                dnnl_primitive_destroy(p);
            }
        }
    }
    int yes = state == 1;
    pthread_mutex_unlock(&cache_lock);
    return yes;
}

static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

const char *gemm_dnnl_version(void) {
    static char buf[128];
    pthread_mutex_lock(&cache_lock);
    if (!buf[0]) {
        const dnnl_version_t *v = dnnl_version();
        snprintf(buf, sizeof buf, "oneDNN %d.%d.%d (isa %s)", v->major, v->minor, v->patch,
                 isa_name(dnnl_get_effective_cpu_isa()));
    }
    pthread_mutex_unlock(&cache_lock);
    return buf;
}

void gemm_dnnl_kernels(char *buf, size_t n) {
    pthread_mutex_lock(&cache_lock);
    snprintf(buf, n, "%s", kernels_seen[0] ? kernels_seen : "none yet");
    pthread_mutex_unlock(&cache_lock);
}

#else /* built without oneDNN */

int gemm_dnnl_run(const gemm_call *g) {
    (void)g;
    return -1;
}
int gemm_dnnl_bf16_native(void) { return 0; }
const char *gemm_dnnl_version(void) { return NULL; }
void gemm_dnnl_kernels(char *buf, size_t n) { snprintf(buf, n, "oneDNN not built in"); }

#endif
