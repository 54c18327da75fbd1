/* image_source.h: one entry point for the tools to read any supported image file into a
 * float [0,1] image: DICOM Part 10 (told apart by "DICM" at offset 128; decoded by
 * dcm_image_load) or PNG/PGM (image_io_load_gray). Also the loader the preprocessing
 * cache calls (engine/prepcache.h), so training can cache DICOM and PNG alike. */
#ifndef MAMA_TOOLS_IMAGE_SOURCE_H
#define MAMA_TOOLS_IMAGE_SOURCE_H

#include <stddef.h>

#include "dicom/dcm_instance.h"
#include "engine/core/status.h"

/* Loads path: out_pixels (H,W) malloc'd, caller frees. out_info (may be NULL) receives
 * the DICOM key tags (zeroed for PNG/PGM); out_is_dicom (may be NULL) tells which. On
 * failure the message is in mama_last_error(). */
mama_status image_source_load(const char *path, float **out_pixels, int *out_h, int *out_w,
                              dcm_instance_info *out_info, int *out_is_dicom);

/* prepcache_loader adapter (ctx unused). */
mama_status image_source_cache_loader(void *ctx, const char *path, float **out_pixels,
                                      int *out_h, int *out_w);

#endif
