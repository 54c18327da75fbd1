/* attention.cu: fused multi-head attention forward (flash style: online softmax over key
 * tiles, the T x T matrix never stored), the portable path for any sm_80+ card.
 *
 * Grid (query tiles, NH, B); a block of kRows warps, one query row per warp. Each tile of
 * kKeys keys and values is staged in shared memory once for the block's rows; a lane
 * holds HS / 32 elements of q, of the accumulator and of each key and value, so a score
 * is one warp reduction. Scores, running max, sum and accumulator are fp32.
 * Same contract as ops.h attention_forward: qkv (B,T,3C) [q | k | v], key_mask (B,T)
 * 1 = attend, scale on q.k, causal; a row with no key gets out 0 and lse -inf.
 * A Hopper path (wgmma tiles fed by TMA) is the later, faster form of this kernel. */
#include <math.h>

#include "engine/cuda/cuda_common.cuh"

namespace {

constexpr int kRows = 8;   /* query rows (warps) per block */
constexpr int kKeys = 32;  /* keys per shared-memory tile */

template <int HS>
__global__ void attention_forward_kernel(__nv_bfloat16 *out, float *lse,
                                         const __nv_bfloat16 *qkv, const float *key_mask,
                                         int T, int C, int NH, float scale, int causal) {
    constexpr int PER = HS / 32;
    __shared__ float ks[kKeys][HS];
    __shared__ float vs[kKeys][HS];
    __shared__ float kvalid[kKeys];
    int b = blockIdx.z, h = blockIdx.y, warp = threadIdx.x / 32, lane = threadIdx.x & 31;
    int t = blockIdx.x * kRows + warp;
    int active = t < T;
    size_t row3 = (size_t)3 * C;
    const __nv_bfloat16 *base = qkv + (size_t)b * T * row3;
    float q[PER], acc[PER];
    for (int j = 0; j < PER; j++) {
        q[j] = active ? __bfloat162float(base[(size_t)t * row3 + h * HS + lane * PER + j]) * scale
                      : 0.0f;
        acc[j] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    int last_row = min(T, (int)(blockIdx.x + 1) * kRows) - 1;
    int key_end = causal ? last_row + 1 : T;
    for (int k0 = 0; k0 < key_end; k0 += kKeys) {
        for (int i = threadIdx.x; i < kKeys * HS; i += blockDim.x) {
            int kk = i / HS, d = i % HS, key = k0 + kk;
            float kv = 0.0f, vv = 0.0f;
            if (key < T) {
                const __nv_bfloat16 *r = base + (size_t)key * row3 + h * HS + d;
                kv = __bfloat162float(r[C]);
                vv = __bfloat162float(r[2 * C]);
            }
            ks[kk][d] = kv;
            vs[kk][d] = vv;
        }
        for (int kk = threadIdx.x; kk < kKeys; kk += blockDim.x) {
            int key = k0 + kk;
            kvalid[kk] = key < T && (!key_mask || key_mask[(size_t)b * T + key] != 0.0f);
        }
        __syncthreads();
        if (active) {
            for (int kk = 0; kk < kKeys; kk++) {
                int key = k0 + kk;
                if (kvalid[kk] == 0.0f || (causal && key > t)) continue;
                float s = 0.0f;
                for (int j = 0; j < PER; j++) s += q[j] * ks[kk][lane * PER + j];
                s = warp_sum(s);
                float mn = fmaxf(m, s);
                float corr = expf(m - mn), p = expf(s - mn);
                l = l * corr + p;
                for (int j = 0; j < PER; j++) acc[j] = acc[j] * corr + p * vs[kk][lane * PER + j];
                m = mn;
            }
        }
        __syncthreads();
    }
    if (!active) return;
    __nv_bfloat16 *o = out + ((size_t)b * T + t) * C + h * HS + lane * PER;
    float inv = l > 0.0f ? 1.0f / l : 0.0f;
    for (int j = 0; j < PER; j++) o[j] = __float2bfloat16_rn(acc[j] * inv);
    if (lse && lane == 0) lse[((size_t)b * NH + h) * T + t] = l > 0.0f ? m + logf(l) : -INFINITY;
}

}  // namespace

extern "C" mama_status cuda_attention_forward(mama_bf16 *out, float *lse, const mama_bf16 *qkv,
                                              const float *key_mask, int B, int T, int C,
                                              int NH, float scale, int causal) {
    if (B < 0 || T < 0 || NH <= 0 || C <= 0 || C % NH != 0)
        return mama_errorf(MAMA_EINVAL, "cuda_attention_forward: B=%d T=%d C=%d NH=%d (C must "
                           "be a multiple of NH)", B, T, C, NH);
    if (B == 0 || T == 0) return MAMA_OK;
    int HS = C / NH;
    dim3 grid((unsigned)((T + kRows - 1) / kRows), (unsigned)NH, (unsigned)B);
    if (HS == 64)
        attention_forward_kernel<64><<<grid, kRows * 32, 0, g_cuda.stream>>>(
            bf(out), lse, bf(qkv), key_mask, T, C, NH, scale, causal);
    else if (HS == 128)
        attention_forward_kernel<128><<<grid, kRows * 32, 0, g_cuda.stream>>>(
            bf(out), lse, bf(qkv), key_mask, T, C, NH, scale, causal);
    else
        return mama_errorf(MAMA_EUNSUPPORTED, "cuda_attention_forward: head size %d (64 and "
                           "128 are built: ViT-B/S and GPT-2-family towers)", HS);
    CUDA_LAUNCHED("attention_forward");
    return MAMA_OK;
}
