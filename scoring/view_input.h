/* view_input.h: one DICOM view turned into a model's input. Decodes the file's pixels
 * (dicom/dcm_image.h) and preprocesses them with the model's own settings (input size,
 * per-channel mean and std; engine/vision/preprocess.h, evaluation path).
 *
 * The glue between dicom/ and engine/ that mamad's scoring worker (daemon/scorer.c) and
 * `mama score` (tools/cmd_score.c) both need. It lives in the scoring/ wing, above both
 * layers and below daemon/ and tools/ (scoring/meson.build: view_input_dep), because the
 * engine must stay DICOM-free, dicom/ does not use the engine, and no tool includes the
 * daemon. */
#ifndef MAMA_SCORING_VIEW_INPUT_H
#define MAMA_SCORING_VIEW_INPUT_H

#include <stddef.h>

#include "dicom/dcm_instance.h"
#include <jansson.h>

#include "engine/model.h"

enum {
    VIEW_INPUT_ERR_READ = -1, /* the file could not be read or decoded; err: the reader's message */
    VIEW_INPUT_ERR_PREP = -2, /* decoded, but preprocessing failed; err: "preprocessing: ..." */
};

/* Reads path and writes the model input of its image.
 * out_pixels: (3, S, S) with S = m->pre.image_size, written on success.
 * out_info: the file's key tags (may be NULL).
 * Returns 0, or VIEW_INPUT_ERR_READ / VIEW_INPUT_ERR_PREP with a message in err. */
int view_input_load(const mama_model *m, const char *path, float *out_pixels,
                    dcm_instance_info *out_info, char *err, size_t errlen);

/* As view_input_load; quality (may be NULL; qlen bytes) receives the crop's quality
 * warning (engine/vision/breast_mask.h: box over 95% of the image, breast cut by the edge,
 * too dark, too small, none found), "" when the crop looks sound. */
int view_input_load_checked(const mama_model *m, const char *path, float *out_pixels,
                            dcm_instance_info *out_info, char *quality, size_t qlen,
                            char *err, size_t errlen);

/* Appends "view <id>: <quality>" to the "warnings" array of a score_result_json object
 * when quality is not empty, so that a bad crop is never silent. Returns 0, -1 when
 * result has no warnings array or memory ran out. */
int view_input_warn(json_t *result, const char *id, const char *quality);

#endif
