/* view_input.c: see view_input.h. */
#include "scoring/view_input.h"

#include <stdio.h>
#include <string.h>

#include "dicom/dcm_image.h"
#include "engine/vision/breast_mask.h"
#include "engine/vision/preprocess.h"
#include "engine/core/status.h"

int view_input_load(const mama_model *m, const char *path, float *out_pixels,
                    dcm_instance_info *out_info, char *err, size_t errlen) {
    return view_input_load_checked(m, path, out_pixels, out_info, NULL, 0, err, errlen);
}

int view_input_warn(json_t *result, const char *id, const char *quality) {
    if (!quality || !quality[0]) return 0;
    json_t *w = json_object_get(result, "warnings");
    if (!json_is_array(w)) return -1;
    char text[400];
    snprintf(text, sizeof text, "view %s: %s", id ? id : "?", quality);
    return json_array_append_new(w, json_string(text)) == 0 ? 0 : -1;
}

int view_input_load_checked(const mama_model *m, const char *path, float *out_pixels,
                            dcm_instance_info *out_info, char *quality, size_t qlen,
                            char *err, size_t errlen) {
    if (quality && qlen) quality[0] = 0;
    prep_config pc;
    prep_config_default(&pc);
    pc.size = m->pre.image_size;
    memcpy(pc.mean, m->pre.mean, sizeof pc.mean);
    memcpy(pc.std, m->pre.std, sizeof pc.std);
    dcm_image img;
    if (dcm_image_load(path, &img, err, errlen) != 0) return VIEW_INPUT_ERR_READ;
    if (out_info) *out_info = img.info;
    breast_mask_info crop;
    mama_status st = prep_image_eval_info(out_pixels, img.pixels, img.rows, img.cols, &pc, NULL, &crop);
    if (st == MAMA_OK && quality && qlen) breast_mask_warning(&crop, quality, qlen);
    dcm_image_free(&img);
    if (st != MAMA_OK) {
        snprintf(err, errlen, "preprocessing: %s", mama_last_error());
        return VIEW_INPUT_ERR_PREP;
    }
    return 0;
}
