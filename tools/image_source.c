/* image_source.c: DICOM or PNG/PGM into a [0,1] float image (see image_source.h). */
#include "tools/image_source.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dicom/dcm_image.h"
#include "engine/vision/image_io.h"

static int looks_like_dicom(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[4] = {0};
    int ok = fseek(f, 128, SEEK_SET) == 0 && fread(magic, 1, 4, f) == 4 && memcmp(magic, "DICM", 4) == 0;
    fclose(f);
    return ok;
}

mama_status image_source_load(const char *path, float **out_pixels, int *out_h, int *out_w,
                              dcm_instance_info *out_info, int *out_is_dicom) {
    *out_pixels = NULL;
    *out_h = *out_w = 0;
    if (out_info) memset(out_info, 0, sizeof *out_info);
    int dicom = looks_like_dicom(path);
    if (out_is_dicom) *out_is_dicom = dicom;
    if (!dicom) return image_io_load_gray(path, out_pixels, out_h, out_w);
    dcm_image img;
    char err[600];
    if (dcm_image_load(path, &img, err, sizeof err) != 0) return mama_errorf(MAMA_EFORMAT, "%s", err);
    *out_pixels = img.pixels; /* ownership moves to the caller */
    *out_h = img.rows;
    *out_w = img.cols;
    if (out_info) *out_info = img.info;
    return MAMA_OK;
}

mama_status image_source_cache_loader(void *ctx, const char *path, float **out_pixels,
                                      int *out_h, int *out_w) {
    (void)ctx;
    return image_source_load(path, out_pixels, out_h, out_w, NULL, NULL);
}
