/* image_io.h: grayscale PNG and PGM files <-> float images in [0,1], for converted data
 * sets (mini-MIAS) and for exporting preprocessed images and contact sheets.
 *
 * Legend: H, W rows and columns. Reading: 8- and 16-bit gray PNG (gray+alpha: alpha
 * dropped), binary (P5) and ASCII (P2) PGM with maxval up to 65535; the value v maps to
 * v / maxval (255, 65535 or the PGM maxval), no windowing. Colour files are refused. */
#ifndef MAMA_IMAGE_IO_H
#define MAMA_IMAGE_IO_H

#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads path (PNG or PGM, told apart by content) into *out_pixels (H,W), malloc'd; the
 * caller frees it. */
mama_status image_io_load_gray(const char *path, float **out_pixels, int *out_h, int *out_w);

/* Writes img (H,W), values clamped to [0,1], as a gray PNG of bit depth 8 or 16,
 * atomically (temporary file + rename). */
mama_status image_io_save_png(const char *path, const float *img, int H, int W, int bits);

#ifdef __cplusplus
}
#endif
#endif
