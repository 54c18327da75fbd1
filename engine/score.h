/* score.h: scoring one study with a model: per view, per breast and per study class
 * probabilities for every task of the model (rules in docs/scoring.md).
 *
 * Legend: V views of the study, S model input side, K classes of a task, C tower width,
 * E embed dim.
 *
 * Per view and task:
 *   zero_shot: p = softmax_k(s * cos(f, t_k)), f = the projected global image feature
 *              (E), t_k the class-prompt embedding, s = exp(logit_scale);
 *   linear:    p = softmax(W g + b), g = the mean-pooled tower feature (C).
 * Per breast (L, R; views of unknown laterality form a third group "U"): the mean of its
 * views' probabilities. Per study: rule "mean" averages the breasts; rule "max_suspicion"
 * takes the breast whose probability mass on the task's suspicious classes is highest
 * (ties: L, then R, then U).
 *
 * Threads: a model (its activation arena) is used by one thread at a time; different
 * models may be scored in parallel. Nothing here is global. */
#ifndef MAMA_SCORE_H
#define MAMA_SCORE_H

#include <jansson.h>

#include "engine/model.h"
#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SCORE_ID_MAX 68
#define SCORE_VIEW_MAX 17
#define SCORE_GROUPS 3          /* breasts: 0 L, 1 R, 2 U (unknown laterality) */

typedef struct score_view_in {
    const float *pixels;   /* (3, S, S) preprocessed model input (model->pre) */
    char laterality;       /* 'L', 'R', anything else = unknown */
    const char *view;      /* "CC", "MLO", ... (copied; may be NULL) */
    const char *id;        /* caller's id, e.g. the SOP Instance UID (copied; may be NULL) */
} score_view_in;

typedef struct score_view_out {
    char id[SCORE_ID_MAX];
    char laterality;                /* 'L', 'R' or 'U' */
    char view[SCORE_VIEW_MAX];
    float *probs;                   /* per task t: probs + task_offset[t], K_t values */
} score_view_out;

typedef struct score_result {
    int n_tasks;
    int task_offset[MODEL_MAX_TASKS + 1];   /* prefix sums of K_t: floats per probs row */
    int n_views;
    score_view_out *views;                  /* (V) */
    int breast_views[SCORE_GROUPS];         /* views per group; 0 = group absent */
    float *breast_probs;                    /* (SCORE_GROUPS, task_offset[n_tasks]) */
    float *study_probs;                     /* (task_offset[n_tasks]) */
    int study_from[MODEL_MAX_TASKS];        /* max_suspicion: group taken; -1 for mean */
    double forward_ms;                      /* image tower time, all views */
    double total_ms;
    char model_id[32];
    int model_untrained;
    float *memory;                          /* owns probs of views, breasts, study */
} score_result;

/* Scores V >= 1 views of one study. Inputs must be (3, S, S) with S = model->pre.image_size.
 * On success *out_result is owned by the caller (score_result_free). */
mama_status score_study(mama_model *model, const score_view_in *views, int n_views,
                        score_result **out_result);
void score_result_free(score_result *r);

/* Index of the most probable class of task t in a probs row. */
int score_argmax(const score_result *r, const float *probs_row, int t);

/* The result as JSON (new reference; the caller json_decref's it), NULL when out of memory:
 * {"model": {...}, "views": [...], "breasts": {"L": ...}, "study": {...}, "timing_ms": {...}}.
 * The model is needed for task and class names and must be the one that scored. */
json_t *score_result_json(const score_result *r, const mama_model *model);

#ifdef __cplusplus
}
#endif
#endif
