/* preprocess.h: grayscale mammogram in [0,1] -> model input tensor (MAMA_METHOD.md sec. 6).
 *
 * Legend: H, W rows and columns of a source image; OH, OW of a resized image; S the model
 * side (518 for the paper model); 3 channels (the gray image repeated).
 *
 * Evaluation path (prep_image_eval):
 *   breast mask (engine/vision/breast_mask.h: air/tissue threshold, labels and clear film
 *   out, opening, the largest component on the chest-wall side) -> bounding box of the
 *   mask -> resize the box to S x S (aspect not kept) -> repeat to 3 channels ->
 *   (x - mean[c]) / std[c].
 * Training path (prep_image_train): the same crop, then the SimCLR-style augmentations
 *   (random resized crop scale 0.1-1, aspect 3/4-4/3; h and v flip p 0.5 each;
 *   brightness and contrast jitter 0.8 in random order with p 0.8; Gaussian blur 7x7,
 *   sigma U(0.1, 2), p 0.4), then channels and normalisation. Deterministic for the
 *   caller's RNG state (mama_rng).
 *
 * Resize filter (prep_resize): separable antialiased bilinear = a triangle filter whose
 * support widens by the scale factor when shrinking; identical to PyTorch's
 * F.interpolate(mode="bilinear", align_corners=False, antialias=True) and to PIL's
 * BILINEAR resize. Plain bilinear when enlarging. Pure C, no DICOM. */
#ifndef MAMA_PREPROCESS_H
#define MAMA_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/rng.h"
#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PREP_DEFAULT_SIZE 518

typedef struct prep_box {
    int y0, x0;   /* top-left corner in the source image */
    int h, w;     /* size (>= 1) */
} prep_box;

typedef struct prep_config {
    int size;          /* S: output side, default 518 */
    float mean[3];     /* per-channel mean, default 0.5 */
    float std[3];      /* per-channel std, default 0.5 */
    int crop;          /* 1: breast crop (default); 0: use the whole image */
} prep_config;

typedef struct prep_aug_config {
    float scale_min, scale_max;  /* random resized crop area fraction: 0.1, 1 */
    float ratio_min, ratio_max;  /* aspect w/h, log-uniform: 3/4, 4/3 */
    float p_hflip, p_vflip;      /* 0.5, 0.5 */
    float jitter;                /* brightness = contrast = 0.8: factors U(0.2, 1.8) */
    float p_jitter;              /* 0.8 */
    int blur_kernel;             /* 7 (odd) */
    float blur_sigma_min, blur_sigma_max; /* 0.1, 2 */
    float p_blur;                /* 0.4 */
} prep_aug_config;

/* The paper's defaults (above). */
void prep_config_default(prep_config *out_cfg);
void prep_aug_config_default(prep_aug_config *out_aug);

/* Otsu's threshold (the breast mask's split of air from tissue classes) of img (H,W) in [0,1] over 256 equal bins on [0,1] (bin of v =
 * floor(256 v), clamped to 0..255); returns t = (k+1)/256 for the best split after bin k:
 * foreground is v >= t. A constant image gives t = 1 (no foreground). */
float prep_otsu_threshold(const float *img, int H, int W);

/* Bounding box of the largest 8-connected component of {v >= t} in img (H,W): the
 * plain Otsu crop the breast mask replaced, kept as the baseline tests compare with. When the
 * image has no foreground the box is the whole image. Labels foreground runs with
 * union-find (scratch: 16 bytes per run, allocated inside); ties go to the component
 * whose first pixel comes first in raster order. */
mama_status prep_breast_box(prep_box *out_box, const float *img, int H, int W, float t);

/* out (OH,OW) = antialiased bilinear resize of the box `box` of img (H,W), whose rows
 * are `stride` floats apart. Scratch allocated inside. */
mama_status prep_resize(float *out, int OH, int OW, const float *img, int stride,
                        prep_box box);

/* out (3,S,S) = the gray img (S,S) repeated to 3 channels and normalised per channel. */
void prep_to_model_input(float *out, const float *img, int S, const float mean[3],
                         const float std[3]);

/* Evaluation: out (3,S,S) model input from img (H,W) in [0,1]. out_box (may be NULL)
 * receives the crop box. */
mama_status prep_image_eval(float *out, const float *img, int H, int W,
                            const prep_config *cfg, prep_box *out_box);

/* Cropped + resized gray image without channels/normalisation: out (OH,OW) in [0,1]
 * (for caches, PNG export and contact sheets). */
mama_status prep_crop_resize(float *out, int OH, int OW, const float *img, int H, int W,
                             int crop, prep_box *out_box);

/* The same two with the breast mask's details (quality flags) in out_info (may be
 * NULL; untouched when crop is 0). */
struct breast_mask_info;
mama_status prep_image_eval_info(float *out, const float *img, int H, int W,
                                 const prep_config *cfg, prep_box *out_box,
                                 struct breast_mask_info *out_info);
mama_status prep_crop_resize_info(float *out, int OH, int OW, const float *img, int H,
                                  int W, int crop, prep_box *out_box,
                                  struct breast_mask_info *out_info);

/* Training: out (3,S,S) from img (H,W) in [0,1] (typically an already cropped cache
 * entry: pass cfg->crop = 0 then). rng (engine/rng.h) is advanced; the same state gives
 * the same output. */
mama_status prep_image_train(float *out, const float *img, int H, int W,
                             const prep_config *cfg, const prep_aug_config *aug,
                             mama_rng *rng);

/* The pieces of prep_image_train, exposed for tests. All images in [0,1].
 *   prep_rrc_params: torchvision RandomResizedCrop.get_params (10 tries, then the
 *   centre crop clamped to the ratio range) on an H x W image.
 *   prep_jitter: out (N) = contrast/brightness jitter of in (N) with factors b, c; order 0
 *   = brightness first, 1 = contrast first; the contrast mean is the mean of the input to
 *   that step (torchvision uses the gray mean); results clamped to [0,1].
 *   prep_blur: out (H,W) = Gaussian blur of in (H,W), kernel k x k, sigma, reflect pad. */
void prep_rrc_params(prep_box *out_box, int H, int W, const prep_aug_config *aug,
                     mama_rng *rng);
void prep_jitter(float *out, const float *in, size_t N, float b, float c, int order);
mama_status prep_blur(float *out, const float *in, int H, int W, int k, float sigma);

#ifdef __cplusplus
}
#endif
#endif
