/* breast_mask.h: the breast region of a mammogram (FFDM or digitised film), its crop box
 * and per-view quality flags. The method and where it departs from the literature are in
 * docs/preprocessing.md section 2; the code is engine/vision/breast_mask.c.
 *
 * Legend: H, W rows and columns of the image (values in [0,1], bright = dense); h, w of
 * the working image (box-averaged by an integer factor k so that max(h, w) <= 512).
 *
 * Steps: (1) air/tissue threshold t1 = b + 0.15 (f - b), b the median of Otsu's dark
 * class (air, film base, padding), f the median of its bright class (tissue): low enough
 * that fat is breast, high enough that film base is not; when the dark class holds a
 * second population well above the air (the fat of a fatty breast whose bright class is
 * the pectoral) t1 goes half way to it; (2) burned-in labels, markers and clear film
 * (bright AND flat AND mostly surrounded by air) taken out; (3) an opening with a square
 * of side 2r+1 (r = 1% of max(h, w)) cuts thin film-border bands and the bridges that join
 * labels or markers to the breast; (4) the component kept is the largest, weighed by
 * being on the chest-wall side (the half of the image holding more tissue); (5) the
 * thresholded cells within r + 1 of it taken back, holes filled; (6) the skin line: a
 * lower threshold t2 from the air right outside the mask, applied within 2r of it;
 * (7) back to full size by nearest cell. The pectoral muscle, being tissue above t joined
 * to the breast, stays. */
#ifndef MAMA_BREAST_MASK_H
#define MAMA_BREAST_MASK_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/status.h"
#include "engine/vision/preprocess.h"

#ifdef __cplusplus
extern "C" {
#endif

/* quality flags (a bad crop is never silent: these become the result's warnings) */
enum {
    BM_FLAG_BOX_LARGE = 1u << 0,     /* crop box holds > 95% of the image: not cropped */
    BM_FLAG_EDGE = 1u << 1,          /* the breast touches the image edge opposite the chest wall */
    BM_FLAG_DARK = 1u << 2,          /* the tissue is too dark (median < 0.12): under-exposed or bad window */
    BM_FLAG_SMALL = 1u << 3,         /* the breast covers < 5% of the image */
    BM_FLAG_EMPTY = 1u << 4,         /* no tissue found: the whole image is used */
};

typedef struct breast_mask_info {
    prep_box box;          /* bounding box of the mask (the whole image when empty) */
    int chest_wall_right;  /* 1: the chest wall is on the right half (normally a right breast) */
    float threshold;       /* the final threshold (t2, or t1 when there was no air to measure) */
    float air_level;       /* b2 (or b) */
    float tissue_level;    /* median inside the first mask (or f) */
    float mask_fraction;   /* mask pixels / image pixels */
    float box_fraction;    /* box area / image area */
    unsigned flags;        /* BM_FLAG_* */
} breast_mask_info;

/* Segments img (H,W). out_mask (may be NULL): H*W bytes, 1 breast, 0 not. Scratch is
 * allocated inside (about 6 bytes per working pixel plus the labels). */
mama_status breast_mask_compute(const float *img, int H, int W, uint8_t *out_mask,
                                breast_mask_info *out_info);

/* The flags as one warning sentence ("crop: ..."), "" when none; returns the number of
 * flags. buf of n bytes, always terminated. */
int breast_mask_warning(const breast_mask_info *info, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
