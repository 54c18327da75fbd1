/* worker.h: scoring workers. Each claims the oldest queued study (db_study_claim_next:
 * queued -> scoring), hands its selected views to a scorer and records the outcome
 * (grouper_scored / grouper_score_failed). The scorer is an interface so that the daemon
 * does not depend on how a model is built: the integrator wires engine/score.h to it.
 * Without a scorer no worker runs and complete studies wait in `queued`. */
#ifndef MAMA_WORKER_H
#define MAMA_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/grouper.h"
#include "daemon/metrics.h"
#include "db/db.h"

typedef struct worker_view {
    char key[8];          /* "L-CC", "L-MLO", "R-CC", "R-MLO" */
    char sop_uid[65];
    char path[512];       /* the stored DICOM file */
} worker_view;

typedef struct worker_job {
    char study_uid[65];
    int complete;         /* 1 when all four views are present */
    int n_views;
    worker_view views[4]; /* only the views present */
} worker_job;

/* The views as the model saw them (its input, un-normalised, channel 0), for the overview
 * and the dashboard's thumbnails. Filled by the scorer when asked; freed with
 * worker_thumbs_free. */
typedef struct worker_thumbs {
    int side;             /* S: each image is side x side */
    int n;
    char key[4][8];
    uint8_t *gray[4];     /* malloc'ed; 0 black .. 255 dense */
} worker_thumbs;

void worker_thumbs_free(worker_thumbs *t);

/* Called after a result version is committed (optional): builds and queues what goes back
 * to the PACS (daemon/results.c). */
typedef void (*worker_publish_fn)(void *ctx, const worker_job *job, int version, const char *json,
                                  const worker_thumbs *thumbs, int64_t now);

typedef struct worker_scorer {
    void *ctx;
    const char *model_id;  /* identity written with every result */
    /* Scores one study. 0 and *out_json (malloc'ed JSON object, freed by the caller), or
     * -1 with a message in err. Called from several worker threads at once. */
    int (*score)(void *ctx, const worker_job *job, char **out_json, worker_thumbs *thumbs, char *err,
                 size_t errlen);
    worker_publish_fn publish;   /* optional */
    void *publish_ctx;
} worker_scorer;

typedef struct worker_pool worker_pool;

/* scorer NULL: returns a pool with no threads (scoring disabled). */
int worker_pool_start(db *index, grouper *g, metrics *m, const worker_scorer *scorer,
                      int n_threads, worker_pool **out_pool);
/* Wakes an idle worker (the grouper's notify callback). */
void worker_pool_wake(void *pool);
/* Lets running jobs finish, joins the threads, frees the pool. */
void worker_pool_stop(worker_pool *p);
int worker_pool_active(const worker_pool *p);   /* 1 when a scorer is loaded */

/* Builds the job of a study from its instances (exported for tests). */
db_rc worker_job_load(db *index, const char *study_uid, worker_job *out_job);

#endif
