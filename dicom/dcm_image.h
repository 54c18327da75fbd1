/* dcm_image.h: decoded pixels of one DICOM image as float in [0,1], bright = dense.
 *
 * Reads any supported transfer syntax (implicit/explicit VR little endian, explicit big
 * endian, deflated, RLE, JPEG baseline/extended/lossless, JPEG-LS, JPEG 2000 through
 * OpenJPEG), applies the modality rescale, then the first VOI LUT of the VOI LUT
 * Sequence, or else the first window centre/width with its VOI LUT Function
 * (LINEAR, LINEAR_EXACT, SIGMOID), or else min-max over the image's stored values, and
 * inverts MONOCHROME1 so that the result always has bright = dense (MONOCHROME2 sense).
 * Refused with a clear message: non-DICOM or truncated files, unknown transfer syntax,
 * no pixel data, colour images, bits stored > 16, more than one frame (tomosynthesis).
 * Thread-safe; DCMTK's decoders are registered once on first use. */
#ifndef MAMA_DCM_IMAGE_H
#define MAMA_DCM_IMAGE_H

#include <stddef.h>

#include "dicom/dcm_instance.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How the stored values were mapped to [0,1] (diagnostics, tests). */
typedef enum dcm_voi_kind {
    DCM_VOI_MINMAX = 0,   /* no VOI in the file: (v - min) / (max - min) over the image */
    DCM_VOI_LUT = 1,      /* VOI LUT Sequence item 1: LUT[v] / (2^bits - 1) */
    DCM_VOI_LINEAR = 2,   /* window, VOI LUT Function LINEAR (also when absent) */
    DCM_VOI_LINEAR_EXACT = 3,
    DCM_VOI_SIGMOID = 4,
} dcm_voi_kind;

typedef struct dcm_image {
    int rows, cols;          /* H, W */
    float *pixels;           /* (H, W) row-major, in [0,1], bright = dense; malloc'd */
    dcm_instance_info info;  /* key tags of the file (info.rows/columns/bits_stored too) */
    dcm_voi_kind voi;        /* which mapping was applied */
    double window_center, window_width; /* the window used (0 when not a window) */
    int inverted;            /* 1 when MONOCHROME1 was inverted */
    int scale_log2;          /* 0: full size; k: JPEG 2000 decoded 2^k times smaller
                                (dcm_image_load_scaled); info keeps the file's size */
} dcm_image;

/* Loads and decodes `path` into *out (zeroed first). Returns 0 on success; on failure
 * returns -1, writes a message naming the file and the cause to err (when err != NULL)
 * and leaves *out empty (nothing to free). Frees with dcm_image_free. */
int dcm_image_load(const char *path, dcm_image *out, char *err, size_t errlen);

/* As dcm_image_load, but a JPEG 2000 file is decoded at the coarsest wavelet resolution
 * whose shorter side is still >= min_side (each level halves both sides, rounding up),
 * skipping the finer levels: several times faster when the result is downsized anyway
 * (scoring at 518: min_side 1036 keeps twice the model's resolution). The pixels are
 * then the wavelet low-pass image, close to but not equal to a downsized full decode.
 * Other transfer syntaxes, and min_side <= 0, decode at full size. */
int dcm_image_load_scaled(const char *path, int min_side, dcm_image *out, char *err,
                          size_t errlen);

/* Releases out->pixels and zeroes *img; safe on a zeroed or already freed image. */
void dcm_image_free(dcm_image *img);

/* Threads OpenJPEG may use to decode one JPEG 2000 image (process-wide, default 1; the
 * scoring workers already run in parallel). Values < 1 mean 1. */
void dcm_image_set_j2k_threads(int n);

/* The VOI math on one modality value, exposed for tests and for callers holding raw
 * values: window centre c, width w, function kind (LINEAR, LINEAR_EXACT, SIGMOID).
 * Follows DICOM PS3.3 C.11.2.1.2; output in [0,1]. */
double dcm_window_apply(double x, double c, double w, dcm_voi_kind kind);

#ifdef __cplusplus
}
#endif
#endif
