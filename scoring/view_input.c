/* view_input.c: see view_input.h. */
#include "scoring/view_input.h"

#include <stdio.h>
#include <string.h>

#include "dicom/dcm_image.h"
#include "engine/vision/preprocess.h"
#include "engine/core/status.h"

int view_input_load(const mama_model *m, const char *path, float *out_pixels,
                    dcm_instance_info *out_info, char *err, size_t errlen) {
    prep_config pc;
    prep_config_default(&pc);
    pc.size = m->pre.image_size;
    memcpy(pc.mean, m->pre.mean, sizeof pc.mean);
    memcpy(pc.std, m->pre.std, sizeof pc.std);
    dcm_image img;
    if (dcm_image_load(path, &img, err, errlen) != 0) return VIEW_INPUT_ERR_READ;
    if (out_info) *out_info = img.info;
    mama_status st = prep_image_eval(out_pixels, img.pixels, img.rows, img.cols, &pc, NULL);
    dcm_image_free(&img);
    if (st != MAMA_OK) {
        snprintf(err, errlen, "preprocessing: %s", mama_last_error());
        return VIEW_INPUT_ERR_PREP;
    }
    return 0;
}
