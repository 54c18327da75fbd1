/* eval_features.h: what `mama eval` needs of a model for each image of a data set: the
 * model's own per-view class probabilities for every task (zero-shot prompts or linear
 * heads, through engine/score.c) and the mean-pooled tower feature (the linear probe's
 * input). Images are read by tools/image_source (DICOM or PNG) and preprocessed with the
 * model's settings; an image that cannot be read or preprocessed is logged with its path
 * and skipped (counted), never fatal. */
#ifndef MAMA_TOOLS_EVAL_FEATURES_H
#define MAMA_TOOLS_EVAL_FEATURES_H

#include <stdio.h>

#include "engine/model.h"
#include "tools/train_data.h"

typedef struct eval_features {
    int n;          /* images kept */
    int n_bad;      /* images skipped */
    int C, P;       /* pooled width; probabilities per image (all tasks) */
    int task_offset[MODEL_MAX_TASKS + 1];
    int *item;      /* (n) index into the train_data items */
    float *pooled;  /* (n, C) */
    float *probs;   /* (n, P) */
} eval_features;

/* Every item of d whose split is in want[] (want[SPLIT_TRAIN] etc. nonzero), at most
 * max_images per split when max_images > 0 (the first ones in file order). Progress and
 * skipped images go to log. 0, or -1 with a message (the model failed, out of memory). */
int eval_features_compute(mama_model *m, const train_data *d, const int want[3], int max_images,
                          FILE *log, eval_features *out, char *err, size_t errlen);
void eval_features_free(eval_features *f);

#endif
