/* raster_read.h: grayscale raster files as 16-bit stored values, for `mama import images`:
 * PNG and PGM (engine/vision/image_io.h), TIFF (libtiff: 8 or 16 bits, one sample,
 * MinIsBlack or MinIsWhite, which is inverted so that bright = dense) and JPEG (libjpeg:
 * 8-bit baseline/progressive, colour converted to gray by libjpeg). Told apart by content
 * (magic bytes), not by the file name. The values are kept exactly: *out_bits is 8 for
 * 8-bit sources (values 0..255) and 16 for the rest (0..65535). */
#ifndef MAMA_TOOLS_RASTER_READ_H
#define MAMA_TOOLS_RASTER_READ_H

#include <stdint.h>

#include "engine/core/status.h"

/* What a file is by its first bytes: "png", "pgm", "tiff", "jpeg", "dicom" or NULL. */
const char *raster_kind(const char *path);

/* Reads a PNG, PGM, TIFF or JPEG file; *out_px (h x w) malloc'd. Errors name the file. */
mama_status raster_read(const char *path, uint16_t **out_px, int *out_w, int *out_h, int *out_bits);

#endif
