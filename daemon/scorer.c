/* scorer.c: see scorer.h. */
#include "daemon/scorer.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "scoring/view_input.h"
#include "engine/core/parallel.h"
#include "engine/model.h"
#include "engine/score.h"

struct scorer {
    char path[512];
    pthread_mutex_t mu;     /* one scoring (or swap) at a time */
    mama_model *model;
    char model_id[64];
    int untrained;          /* the loaded model's provenance says untrained */
    char status[64];        /* its provenance.status ("pretrained-backbone, heads untrained") */
    mama_precision precision; /* as asked (scoring.precision); applied at every load */
    int threads;            /* engine threads while scoring (scoring.threads resolved) */
};

/* Applies s->precision to m and logs the outcome. */
static int apply_precision(scorer *s, mama_model *m, char *err, size_t errlen) {
    char note[256];
    mama_precision got;
    if (model_set_precision(m, s->precision, &got, note, sizeof note) != MAMA_OK) {
        snprintf(err, errlen, "scoring.precision %s: %s", mama_precision_name(s->precision),
                 mama_last_error());
        return -1;
    }
    if (note[0]) log_warn(LOG_CAT_ENGINE, "scoring.precision: %s", note);
    log_info(LOG_CAT_ENGINE, "image tower runs in %s (scoring.precision %s)",
             mama_precision_name(got), mama_precision_name(s->precision));
    return 0;
}

int scorer_set_precision(scorer *s, const char *precision, char *err, size_t errlen) {
    mama_precision p;
    if (mama_precision_parse(precision, &p) != MAMA_OK) {
        snprintf(err, errlen, "%s", mama_last_error());
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    s->precision = p;
    int rc = apply_precision(s, s->model, err, errlen);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void scorer_set_threads(scorer *s, int threads) { s->threads = threads > 0 ? threads : 1; }

int scorer_open(const char *model_path, scorer **out_scorer, char *err, size_t errlen) {
    scorer *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(s->path, sizeof s->path, "%s", model_path);
    pthread_mutex_init(&s->mu, NULL);
    s->threads = 1;
    if (model_load(model_path, &s->model) != MAMA_OK) {
        snprintf(err, errlen, "scoring.model %s: %s", model_path, mama_last_error());
        scorer_close(s);
        return -1;
    }
    snprintf(s->model_id, sizeof s->model_id, "%s", s->model->id);
    s->untrained = s->model->untrained;
    snprintf(s->status, sizeof s->status, "%s", s->model->status);
    *out_scorer = s;
    return 0;
}

void scorer_close(scorer *s) {
    if (!s) return;
    model_free(s->model);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

const char *scorer_model_id(const scorer *s) { return s->model_id; }
const int *scorer_model_untrained(const scorer *s) { return &s->untrained; }
const char *scorer_model_status(const scorer *s) { return s->status; }

int scorer_reload(void *ctx, char *err, size_t errlen) {
    scorer *s = ctx;
    mama_model *fresh = NULL;
    if (model_load(s->path, &fresh) != MAMA_OK) {
        snprintf(err, errlen, "%s: %s (the previous model stays loaded)", s->path, mama_last_error());
        return -1;
    }
    if (s->precision != MAMA_PREC_FP32 && apply_precision(s, fresh, err, errlen) != 0) {
        model_free(fresh);
        return -1;
    }
    pthread_mutex_lock(&s->mu);
    mama_model *old = s->model;
    s->model = fresh;
    snprintf(s->model_id, sizeof s->model_id, "%s", fresh->id);
    s->untrained = fresh->untrained;
    snprintf(s->status, sizeof s->status, "%s", fresh->status);
    pthread_mutex_unlock(&s->mu);
    model_free(old);
    log_info(LOG_CAT_ENGINE, "model %s reloaded (id %s)", s->path, s->model_id);
    return 0;
}

/* Channel 0 of a model input back to [0,1] (x * std + mean), as 8-bit gray. */
static uint8_t *input_to_gray(const mama_model *m, const float *in) {
    const int S = m->pre.image_size;
    uint8_t *g = malloc((size_t)S * S);
    if (!g) return NULL;
    for (size_t i = 0; i < (size_t)S * S; i++) {
        float v = in[i] * m->pre.std[0] + m->pre.mean[0];
        v = v < 0 ? 0 : v > 1 ? 1 : v;
        g[i] = (uint8_t)(v * 255.0f + 0.5f);
    }
    return g;
}

static int score(void *ctx, const worker_job *job, char **out_json, worker_thumbs *thumbs, char *err,
                 size_t errlen) {
    scorer *s = ctx;
    int rc = -1;
    *out_json = NULL;
    pthread_mutex_lock(&s->mu);
    /* OpenMP's thread count is per calling thread: set it in the worker that scores */
    if (mama_get_threads() != s->threads) mama_set_threads(s->threads);
    mama_model *m = s->model;
    const int S = m->pre.image_size;
    const size_t per = (size_t)3 * S * S;
    float *inputs = malloc(sizeof(float) * per * (size_t)job->n_views);
    score_view_in views[4];
    char lat[4], view[4][8], quality[4][256];
    score_result *r = NULL;
    if (!inputs) {
        snprintf(err, errlen, "out of memory for %d views of %dx%d", job->n_views, S, S);
        goto out;
    }
    for (int i = 0; i < job->n_views; i++) {
        char e[400];
        if (view_input_load_checked(m, job->views[i].path, inputs + per * (size_t)i, NULL, quality[i],
                                    sizeof quality[i], e, sizeof e) != 0) {
            snprintf(err, errlen, "%s: %s", job->views[i].sop_uid, e);
            goto out;
        }
        lat[i] = job->views[i].key[0];                    /* "L-CC" -> 'L' */
        snprintf(view[i], sizeof view[i], "%s", job->views[i].key + 2);
        if (thumbs && thumbs->n < 4) {
            uint8_t *g = input_to_gray(m, inputs + per * (size_t)i);
            if (g) {
                thumbs->side = S;
                snprintf(thumbs->key[thumbs->n], sizeof thumbs->key[0], "%s", job->views[i].key);
                thumbs->gray[thumbs->n++] = g;
            }
        }
        views[i] = (score_view_in){.pixels = inputs + per * (size_t)i, .laterality = lat[i],
                                   .view = view[i], .id = job->views[i].sop_uid};
    }
    if (score_study(m, views, job->n_views, &r) != MAMA_OK) {
        snprintf(err, errlen, "scoring: %s", mama_last_error());
        goto out;
    }
    json_t *j = score_result_json(r, m);
    if (j) {
        json_object_set_new(j, "complete", json_boolean(job->complete));
        for (int i = 0; i < job->n_views; i++) view_input_warn(j, job->views[i].sop_uid, quality[i]);
        /* the same digits as `mama score` (tools/cmd_score.c) */
        *out_json = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
        json_decref(j);
    }
    if (!*out_json) {
        snprintf(err, errlen, "out of memory writing the result");
        goto out;
    }
    rc = 0;
out:
    pthread_mutex_unlock(&s->mu);
    score_result_free(r);
    free(inputs);
    return rc;
}

worker_scorer scorer_interface(scorer *s) {
    worker_scorer w = {.ctx = s, .model_id = s->model_id, .score = score};
    return w;
}
