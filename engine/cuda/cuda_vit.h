/* cuda_vit.h: the DINOv2 image tower's forward on the GPU (bf16 weights and activations,
 * fp32 accumulation), made from a loaded CPU tower (engine/vision/vit.h).
 * The CPU model must outlive the GPU one (its fp32 position table and projection are
 * read from it). Open a device first (cuda_device_open). */
#ifndef MAMA_CUDA_VIT_H
#define MAMA_CUDA_VIT_H

#include "engine/core/status.h"
#include "engine/vision/vit.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cuda_vit cuda_vit;

/* Converts the weights to bf16 once and uploads them into one device block. */
mama_status cuda_vit_create(const vit_model *m, cuda_vit **out_gpu);
void cuda_vit_free(cuda_vit *g);

/* h_inp (B, 3, H, W) normalised pixels on the host. Outputs on the host, fp32:
 * h_pooled (B, C) mean of all tokens before the final LN (required);
 * h_proj (B, E) l2-normalised projection when the tower has one (NULL: skipped);
 * h_patches (B, Np, C) patch tokens after the final LN (NULL: skipped).
 * Device buffers are sized for (B, H, W) on first use and reused while it repeats. */
mama_status cuda_vit_forward(cuda_vit *g, const float *h_inp, int B, int H, int W,
                             float *h_pooled, float *h_proj, float *h_patches);

#ifdef __cplusplus
}
#endif
#endif
