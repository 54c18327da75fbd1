/* scorer.h: the worker_scorer backed by the engine: a model file (engine/model.h) scores
 * the selected views of a study (dicom/dcm_image.h decode -> engine/preprocess.h ->
 * engine/score.h). One model instance is used by one thread at a time (its activation
 * arena), so scoring is serialized by a mutex; reload loads the new file first and swaps
 * it in only when it loaded. */
#ifndef MAMA_SCORER_H
#define MAMA_SCORER_H

#include <stddef.h>

#include "daemon/worker.h"

typedef struct scorer scorer;

/* 0, or -1 with a message naming the file and what is wrong with it. */
int scorer_open(const char *model_path, scorer **out_scorer, char *err, size_t errlen);
void scorer_close(scorer *s);
/* Runs the model in `precision` ("fp32", "bf16", "auto": scoring.precision), now and after
 * every reload; logs what it resolved to on this CPU (and why, when bf16 became fp32). */
int scorer_set_precision(scorer *s, const char *precision, char *err, size_t errlen);
/* Engine threads used while scoring (>= 1; the default is 1 until set). */
void scorer_set_threads(scorer *s, int threads);
/* The interface the workers call; model_id points into s (stable for its lifetime). */
worker_scorer scorer_interface(scorer *s);
/* Reloads the model file (rest_ctx.reload_model). */
int scorer_reload(void *s, char *err, size_t errlen);
const char *scorer_model_id(const scorer *s);
/* Points at a flag, kept current across reloads: 1 while the model is marked untrained. */
const int *scorer_model_untrained(const scorer *s);
/* The loaded model's provenance status, kept current across reloads (like the id). */
const char *scorer_model_status(const scorer *s);

#endif
