/* vit.cu: the DINOv2 image tower's forward on the GPU in bf16, built from the cuda_ ops
 * with the same block structure as engine/vision/vit.c (MAMA_METHOD.md section 1).
 *
 * The weights are converted to bf16 once, at cuda_vit_create, into one device block laid
 * out by the CPU model's parameter table retyped to bf16 (ptable_retype); a vit_params
 * struct then holds device addresses of bf16 data (read through dev()). Activations live
 * in one device block per input shape, laid out by a second table and rebuilt only when
 * (B, H, W) changes: no cudaMalloc in the layer loop. The position table is resized on
 * the host in fp32 (pos_embed_resize, once per input size) and uploaded.
 * Outputs come back in fp32: the pooled mean of all tokens before the final LayerNorm,
 * optionally the projected l2-normalised embedding (computed on the host: E x C is tiny)
 * and the patch tokens after the final LayerNorm. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <initializer_list>

#include "engine/core/dtype.h"
#include "engine/cuda/cuda_common.cuh"
#include "engine/cuda/cuda_vit.h"
#include "engine/ops/ops.h"
#include "engine/ops/pos_embed.h"

namespace {

/* Device activations of one input shape (bf16 unless noted). */
struct vit_dev_acts {
    float *inp;                  /* (B, 3, H, W) fp32 as uploaded */
    mama_bf16 *cols;             /* (B*Np, K) */
    mama_bf16 *patch_out;        /* (B*Np, C) */
    mama_bf16 *pos;              /* (1 + Np, C) */
    mama_bf16 *x, *res1;         /* (B*T, C) residual stream */
    mama_bf16 *ln;               /* (B*T, C) */
    mama_bf16 *qkv;              /* (B*T, 3C) */
    mama_bf16 *atty, *proj;      /* (B*T, C) */
    mama_bf16 *fch_pre, *fch;    /* (B*T, M) */
    float *mean, *rstd;          /* (B*T) fp32 */
    float *pooled;               /* (B, C) fp32 */
};

__device__ inline float ld(const mama_bf16 *p, size_t i) {
    return __bfloat162float(reinterpret_cast<const __nv_bfloat16 *>(p)[i]);
}

/* cols row b*Np + gy*Gw + gx = the patch's pixels in Conv2d weight order (c, ky, kx). */
__global__ void im2col_kernel(__nv_bfloat16 *cols, const float *inp, int B, int Cin, int H,
                              int W, int P, int Gh, int Gw) {
    size_t K = (size_t)Cin * P * P, n = (size_t)B * Gh * Gw * K;
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    size_t row = i / K, k = i % K;
    int c = (int)(k / (P * P)), ky = (int)(k / P % P), kx = (int)(k % P);
    int b = (int)(row / ((size_t)Gh * Gw)), g = (int)(row % ((size_t)Gh * Gw));
    int gy = g / Gw, gx = g % Gw;
    cols[i] = __float2bfloat16_rn(
        inp[(((size_t)b * Cin + c) * H + (size_t)gy * P + ky) * W + (size_t)gx * P + kx]);
}

/* x (B,T,C) = [CLS + pos0, registers, patches + pos] */
__global__ void tokens_kernel(__nv_bfloat16 *x, const mama_bf16 *patch_out,
                              const mama_bf16 *pos, const mama_bf16 *cls, const mama_bf16 *reg,
                              int B, int T, int R, int Np, int C) {
    size_t n = (size_t)B * T * C, i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    int c = (int)(i % C), t = (int)(i / C % T), b = (int)(i / ((size_t)C * T));
    float v;
    if (t == 0)
        v = ld(cls, c) + ld(pos, c);
    else if (t <= R)
        v = ld(reg, (size_t)(t - 1) * C + c);
    else {
        int p = t - 1 - R;
        v = ld(patch_out, ((size_t)b * Np + p) * C + c) + ld(pos, (size_t)(1 + p) * C + c);
    }
    x[i] = __float2bfloat16_rn(v);
}

/* pooled (B,C) = mean over the T tokens of x, fp32 accumulation. */
__global__ void mean_tokens_kernel(float *pooled, const __nv_bfloat16 *x, int B, int T, int C) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= B * C) return;
    int b = i / C, c = i % C;
    float s = 0.0f;
    for (int t = 0; t < T; t++) s += __bfloat162float(x[((size_t)b * T + t) * C + c]);
    pooled[i] = s / T;
}

}  // namespace

struct cuda_vit {
    vit_config cfg;
    int M, G0, K;
    const float *h_pos;     /* the CPU model's fp32 position table (not owned) */
    const float *h_proj_w;  /* and its fp32 projection (E, C) (not owned) */
    ptable wtab;         /* bf16 layout of the CPU parameter table */
    void *wblock;
    vit_params w;        /* device addresses of bf16 data */
    ptable atab;
    void *ablock;
    vit_dev_acts a;
    int B, H, W, Gh, Gw, Np, T;
    float *h_pos_interp, *h_pos_scratch;
    uint16_t *h_pos_bf16;
};

static const mama_bf16 *dev(const float *p) { return reinterpret_cast<const mama_bf16 *>(p); }

extern "C" mama_status cuda_vit_create(const vit_model *m, cuda_vit **out) {
    *out = nullptr;
    if (!g_cuda.open)
        return mama_errorf(MAMA_EINVAL, "cuda_vit_create: open a device first (cuda_device_open)");
    cuda_vit *g = (cuda_vit *)calloc(1, sizeof *g);
    if (!g) return mama_errorf(MAMA_ENOMEM, "cuda_vit_create: out of memory");
    g->cfg = m->cfg;
    g->M = m->M;
    g->G0 = m->G0;
    g->K = m->K;
    g->h_pos = m->params.pos;
    g->h_proj_w = m->params.proj_w;
    mama_status rc = ptable_retype(&g->wtab, &m->ptab, MAMA_BF16);
    uint16_t *host = nullptr;
    if (rc == MAMA_OK) rc = cuda_ptable_alloc(&g->wtab, &g->wblock);
    if (rc == MAMA_OK && !(host = (uint16_t *)malloc(g->wtab.bytes ? g->wtab.bytes : 1)))
        rc = mama_errorf(MAMA_ENOMEM, "cuda_vit_create: %zu bytes for the bf16 weights",
                         g->wtab.bytes);
    if (rc == MAMA_OK) {
        memset(host, 0, g->wtab.bytes);
        for (int i = 0; i < m->ptab.n; i++) {
            const ptable_entry *src = &m->ptab.e[i], *dst = &g->wtab.e[i];
            const float *s = (const float *)((const char *)m->params_memory + src->offset);
            dtype_f32_to_bf16_n((uint16_t *)((char *)host + dst->offset), s, src->numel);
        }
        rc = cuda_upload(g->wblock, host, g->wtab.bytes);
        if (rc == MAMA_OK) rc = cuda_sync();  /* host buffer is freed below */
    }
    free(host);
    if (rc != MAMA_OK) {
        cuda_vit_free(g);
        return rc;
    }
    ptable_point(&g->wtab, g->wblock, &g->w);
    ptable_init(&g->atab);
    *out = g;
    return MAMA_OK;
}

extern "C" void cuda_vit_free(cuda_vit *g) {
    if (!g) return;
    cuda_free(g->wblock);
    cuda_free(g->ablock);
    ptable_free(&g->wtab);
    ptable_free(&g->atab);
    free(g->h_pos_interp);
    free(g->h_pos_scratch);
    free(g->h_pos_bf16);
    free(g);
}

/* ptable_add with a C++ dims list (PTABLE_SHAPE is a C compound literal). */
static void act_add(ptable *t, const char *name, mama_dtype dt, size_t slot,
                    std::initializer_list<int64_t> dims) {
    int64_t shape[PTABLE_MAX_DIMS];
    int n = 0;
    for (int64_t d : dims) shape[n++] = d;
    ptable_add(t, name, dt, slot, n, shape);
}
#define ACT(name, dt, ...) act_add(t, #name, dt, PTABLE_SLOT(vit_dev_acts, name), {__VA_ARGS__})

static mama_status acts_prepare(cuda_vit *g, int B, int H, int W) {
    if (g->ablock && g->B == B && g->H == H && g->W == W) return MAMA_OK;
    const int P = g->cfg.patch, C = g->cfg.width, R = g->cfg.n_registers, M = g->M;
    int Gh = H / P, Gw = W / P, Np = Gh * Gw, T = 1 + R + Np;
    int64_t BT = (int64_t)B * T;
    cuda_free(g->ablock);
    g->ablock = nullptr;
    ptable *t = &g->atab;
    ptable_clear(t);
    ACT(inp, MAMA_F32, B, g->cfg.in_chans, H, W);
    ACT(cols, MAMA_BF16, (int64_t)B * Np, g->K);
    ACT(patch_out, MAMA_BF16, (int64_t)B * Np, C);
    ACT(pos, MAMA_BF16, 1 + Np, C);
    ACT(x, MAMA_BF16, BT, C);
    ACT(res1, MAMA_BF16, BT, C);
    ACT(ln, MAMA_BF16, BT, C);
    ACT(qkv, MAMA_BF16, BT, 3 * C);
    ACT(atty, MAMA_BF16, BT, C);
    ACT(proj, MAMA_BF16, BT, C);
    ACT(fch_pre, MAMA_BF16, BT, M);
    ACT(fch, MAMA_BF16, BT, M);
    ACT(mean, MAMA_F32, BT);
    ACT(rstd, MAMA_F32, BT);
    ACT(pooled, MAMA_F32, B, C);
    mama_status rc = ptable_layout(t);
    if (rc == MAMA_OK) rc = cuda_ptable_alloc(t, &g->ablock);
    if (rc != MAMA_OK) return rc;
    ptable_point(t, g->ablock, &g->a);
    /* position table at this grid, resized on the host (fp32) and uploaded as bf16 */
    free(g->h_pos_interp);
    free(g->h_pos_scratch);
    free(g->h_pos_bf16);
    size_t npos = (size_t)(1 + Np) * C;
    g->h_pos_interp = (float *)malloc(npos * sizeof(float));
    g->h_pos_scratch = (float *)malloc(
        (pos_embed_scratch_floats(g->G0, Gh, Gw, C) + 1) * sizeof(float));
    g->h_pos_bf16 = (uint16_t *)malloc(npos * sizeof(uint16_t));
    if (!g->h_pos_interp || !g->h_pos_scratch || !g->h_pos_bf16)
        return mama_errorf(MAMA_ENOMEM, "cuda_vit_forward: position table for %dx%d", H, W);
    /* the same resize convention as the CPU tower (Dinov2Model plain, with-registers AA) */
    (g->cfg.pos_plain ? pos_embed_resize_bicubic : pos_embed_resize)(g->h_pos_interp,
        g->h_pos_scratch, g->h_pos, g->G0, Gh, Gw, H, W, C);
    dtype_f32_to_bf16_n(g->h_pos_bf16, g->h_pos_interp, npos);
    rc = cuda_upload(g->a.pos, g->h_pos_bf16, npos * sizeof(uint16_t));
    if (rc != MAMA_OK) return rc;
    g->B = B;
    g->H = H;
    g->W = W;
    g->Gh = Gh;
    g->Gw = Gw;
    g->Np = Np;
    g->T = T;
    return MAMA_OK;
}

static mama_status block_forward(cuda_vit *g, int l) {
    const vit_config *cfg = &g->cfg;
    const vit_params *w = &g->w;
    vit_dev_acts *a = &g->a;
    const int C = cfg->width, NH = cfg->heads, M = g->M, BT = g->B * g->T;
    const size_t lc = (size_t)l * C;
    const float scale = 1.0f / sqrtf((float)(C / NH));
    mama_status rc;
#define TRY(x) if ((rc = (x)) != MAMA_OK) return rc
    TRY(cuda_layernorm_forward(a->ln, a->mean, a->rstd, a->x, dev(w->ln1w) + lc,
                               dev(w->ln1b) + lc, BT, C, cfg->ln_eps));
    TRY(cuda_linear_forward(a->qkv, nullptr, a->ln, dev(w->qkvw) + lc * 3 * C,
                            dev(w->qkvb) + 3 * lc, BT, C, 3 * C, 0));
    TRY(cuda_attention_forward(a->atty, nullptr, a->qkv, nullptr, g->B, g->T, C, NH, scale, 0));
    TRY(cuda_linear_forward(a->proj, nullptr, a->atty, dev(w->attprojw) + lc * C,
                            dev(w->attprojb) + lc, BT, C, C, 0));
    TRY(cuda_residual_scaled_forward(a->res1, a->x, a->proj, w->ls1 ? dev(w->ls1) + lc : nullptr,
                                     (size_t)BT, C));
    TRY(cuda_layernorm_forward(a->ln, a->mean, a->rstd, a->res1, dev(w->ln2w) + lc,
                               dev(w->ln2b) + lc, BT, C, cfg->ln_eps));
    TRY(cuda_linear_forward(a->fch, a->fch_pre, a->ln, dev(w->fc1w) + (size_t)l * M * C,
                            dev(w->fc1b) + (size_t)l * M, BT, C, M, 2));
    TRY(cuda_linear_forward(a->proj, nullptr, a->fch, dev(w->fc2w) + (size_t)l * C * M,
                            dev(w->fc2b) + lc, BT, M, C, 0));
    TRY(cuda_residual_scaled_forward(a->x, a->res1, a->proj, w->ls2 ? dev(w->ls2) + lc : nullptr,
                                     (size_t)BT, C));
#undef TRY
    return MAMA_OK;
}

extern "C" mama_status cuda_vit_forward(cuda_vit *g, const float *h_inp, int B, int H, int W,
                                        float *h_pooled, float *h_proj, float *h_patches) {
    if (!g || !h_inp || B <= 0 || H < g->cfg.patch || W < g->cfg.patch)
        return mama_errorf(MAMA_EINVAL, "cuda_vit_forward: batch %d of %dx%d images", B, H, W);
    mama_status rc = acts_prepare(g, B, H, W);
    if (rc != MAMA_OK) return rc;
    const vit_config *cfg = &g->cfg;
    vit_dev_acts *a = &g->a;
    const int C = cfg->width, R = cfg->n_registers, T = g->T, Np = g->Np, BT = B * T;
    size_t n_in = (size_t)B * cfg->in_chans * H * W;
    if ((rc = cuda_upload(a->inp, h_inp, n_in * sizeof(float))) != MAMA_OK) return rc;
    size_t ncols = (size_t)B * Np * g->K;
    im2col_kernel<<<cuda_blocks(ncols, 256), 256, 0, g_cuda.stream>>>(
        bf(a->cols), a->inp, B, cfg->in_chans, H, W, cfg->patch, g->Gh, g->Gw);
    CUDA_LAUNCHED("im2col");
    rc = cuda_linear_forward(a->patch_out, nullptr, a->cols, dev(g->w.patch_w), dev(g->w.patch_b),
                             B * Np, g->K, C, 0);
    if (rc != MAMA_OK) return rc;
    size_t nx = (size_t)BT * C;
    tokens_kernel<<<cuda_blocks(nx, 256), 256, 0, g_cuda.stream>>>(
        bf(a->x), a->patch_out, a->pos, dev(g->w.cls), dev(g->w.reg), B, T, R, Np, C);
    CUDA_LAUNCHED("tokens");
    for (int l = 0; l < cfg->depth; l++)
        if ((rc = block_forward(g, l)) != MAMA_OK) return rc;
    mean_tokens_kernel<<<cuda_blocks((size_t)B * C, 256), 256, 0, g_cuda.stream>>>(
        a->pooled, bf(a->x), B, T, C);
    CUDA_LAUNCHED("mean_tokens");
    if (h_patches) {  /* final LN of every token; the patch rows are copied out */
        rc = cuda_layernorm_forward(a->ln, a->mean, a->rstd, a->x, dev(g->w.lnfw),
                                    dev(g->w.lnfb), BT, C, cfg->ln_eps);
        if (rc != MAMA_OK) return rc;
    }
    if ((rc = cuda_download(h_pooled, a->pooled, (size_t)B * C * sizeof(float))) != MAMA_OK)
        return rc;
    if (h_patches) {
        uint16_t *tmp = (uint16_t *)malloc((size_t)Np * C * sizeof(uint16_t));
        if (!tmp) return mama_errorf(MAMA_ENOMEM, "cuda_vit_forward: patch download buffer");
        for (int b = 0; b < B && rc == MAMA_OK; b++) {
            rc = cuda_download(tmp, a->ln + ((size_t)b * T + 1 + R) * C,
                               (size_t)Np * C * sizeof(uint16_t));
            if (rc == MAMA_OK)
                dtype_bf16_to_f32_n(h_patches + (size_t)b * Np * C, tmp, (size_t)Np * C);
        }
        free(tmp);
        if (rc != MAMA_OK) return rc;
    }
    if (h_proj && cfg->embed > 0) {
        linear_forward(h_proj, h_pooled, g->h_proj_w, nullptr, B, C, cfg->embed);
        l2norm_rows(h_proj, nullptr, B, cfg->embed);
    }
    return cuda_sync();
}
