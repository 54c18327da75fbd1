/* worker.c: see worker.h. Claims carry a lease (db_study_claim_next); while the scorer
 * runs, a renewer thread extends the lease of every study this pool is scoring every
 * lease/3, so that only a node that stopped (killed, hung, cut off from the index) lets
 * its claims lapse, and grouper_tick on any node queues those studies again. */
#include "daemon/worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "daemon/grouper_view.h"

struct worker_pool {
    db *index;
    grouper *g;
    metrics *m;
    worker_scorer scorer;
    int active;
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    unsigned wake_seq;
    char (*busy)[65];     /* per thread: the study it scores ("" when idle), under mu */
    pthread_t renewer;
    pthread_cond_t renew_cv;   /* the renewer's own: wake-ups for work do not renew early */
    int renewer_running;
};

typedef struct worker_arg {
    worker_pool *p;
    int slot;
} worker_arg;

db_rc worker_job_load(db *index, const char *study_uid, worker_job *out_job) {
    memset(out_job, 0, sizeof *out_job);
    snprintf(out_job->study_uid, sizeof out_job->study_uid, "%s", study_uid);
    db_instance *list = NULL;
    int n = 0, idx[GROUPER_N_VIEWS];
    db_rc rc = db_study_instances(index, study_uid, &list, &n);
    if (rc != DB_OK) return rc;
    int filled = grouper_view_select(list, n, idx);
    out_job->complete = filled == GROUPER_N_VIEWS;
    for (int v = 0; v < GROUPER_N_VIEWS; v++) {
        if (idx[v] < 0) continue;
        worker_view *w = &out_job->views[out_job->n_views++];
        snprintf(w->key, sizeof w->key, "%s", grouper_view_keys[v]);
        snprintf(w->sop_uid, sizeof w->sop_uid, "%s", list[idx[v]].sop_uid);
        snprintf(w->path, sizeof w->path, "%s", list[idx[v]].path);
    }
    free(list);
    return DB_OK;
}

void worker_thumbs_free(worker_thumbs *t) {
    if (!t) return;
    for (int i = 0; i < t->n; i++) free(t->gray[i]);
    memset(t, 0, sizeof *t);
}

static void run_one(worker_pool *p, const db_study *s) {
    worker_job job;
    worker_thumbs thumbs = {0};
    int version = 0;
    char err[512] = "";
    char *json = NULL;
    int64_t t0 = grouper_now_ms();
    db_rc rc = worker_job_load(p->index, s->uid, &job);
    int ok = rc == DB_OK && job.n_views > 0;
    if (rc != DB_OK) snprintf(err, sizeof err, "index: %s", db_errmsg(p->index));
    else if (job.n_views == 0) snprintf(err, sizeof err, "no scorable view (no 2D L/R CC/MLO image)");
    if (ok && p->scorer.score(p->scorer.ctx, &job, &json, p->scorer.publish ? &thumbs : NULL, err,
                              sizeof err) != 0)
        ok = 0;
    int64_t t1 = grouper_now_ms();
    if (ok) {
        char timings[96];
        snprintf(timings, sizeof timings, "{\"score_ms\":%lld}", (long long)(t1 - t0));
        /* Counted first, so that a study seen scored is always counted (taken back when
         * the outcome could not be recorded). Each step below holds only while the claim
         * is ours. Without objects to publish: the result and the move to scored in one
         * transaction. With them: the result, its objects, then scored, so that a crash
         * in between leaves the study scoring (resumed, scored again, delivered). */
        atomic_fetch_add(&p->m->scoring_ok, 1);
        if (!p->scorer.publish) {
            rc = grouper_scored_result(p->g, s->uid, p->scorer.model_id, json, timings, t1, &version);
        } else {
            rc = grouper_add_result(p->g, s->uid, p->scorer.model_id, json, timings, t1, &version);
            if (rc == DB_OK) p->scorer.publish(p->scorer.publish_ctx, &job, version, json, &thumbs, t1);
            if (rc == DB_OK) rc = grouper_scored_result(p->g, s->uid, NULL, NULL, NULL, t1, NULL);
        }
        worker_thumbs_free(&thumbs);
        free(json);
        if (rc == DB_OK) {
            metrics_observe_latency(p->m, t1 - t0);
            log_info(LOG_CAT_ENGINE, "study %s scored: %d view(s), %lld ms, model %s", s->uid, job.n_views,
                     (long long)(t1 - t0), p->scorer.model_id);
            return;
        }
        atomic_fetch_sub(&p->m->scoring_ok, 1);
        if (rc == DB_NOTFOUND) {
            log_warn(LOG_CAT_ENGINE, "study %s: the claim lapsed while scoring (another node has "
                     "it now); this result is dropped", s->uid);
            return;
        }
        snprintf(err, sizeof err, "writing the result: %s", db_errmsg(p->index));
    } else {
        worker_thumbs_free(&thumbs);
        free(json);
    }
    atomic_fetch_add(&p->m->scoring_failed, 1);
    log_warn(LOG_CAT_ENGINE, "scoring study %s failed (attempt %d): %s", s->uid, s->attempts, err);
    rc = grouper_score_failed(p->g, s->uid, err, t1);
    if (rc != DB_OK) log_error(LOG_CAT_DB, "recording the outcome of %s: %s", s->uid, db_errmsg(p->index));
}

static void set_busy(worker_pool *p, int slot, const char *uid) {
    pthread_mutex_lock(&p->mu);
    snprintf(p->busy[slot], sizeof p->busy[slot], "%s", uid);
    pthread_mutex_unlock(&p->mu);
}

static void *worker_main(void *arg) {
    worker_arg *wa = arg;
    worker_pool *p = wa->p;
    const int slot = wa->slot;
    free(wa);
    for (;;) {
        pthread_mutex_lock(&p->mu);
        int stop = p->stopping;
        pthread_mutex_unlock(&p->mu);
        if (stop) break;
        db_study s;
        db_rc rc = db_study_claim_next(p->index, grouper_now_ms(), &s);
        if (rc == DB_OK) {
            set_busy(p, slot, s.uid);
            run_one(p, &s);
            set_busy(p, slot, "");
            continue;
        }
        if (rc != DB_NOTFOUND) log_error(LOG_CAT_DB, "claiming a study: %s", db_errmsg(p->index));
        /* Woken by this node's grouper, or every second to see what other nodes queued. */
        pthread_mutex_lock(&p->mu);
        unsigned seen = p->wake_seq;
        while (!p->stopping && seen == p->wake_seq) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            if (pthread_cond_timedwait(&p->cv, &p->mu, &ts) != 0) break;
        }
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

/* Every lease/3: extend the claims of the studies being scored here. */
static void *renewer_main(void *arg) {
    worker_pool *p = arg;
    int64_t period = db_lease_ms(p->index) / 3;
    if (period < 10) period = 10;
    pthread_mutex_lock(&p->mu);
    while (!p->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += period / 1000;
        ts.tv_nsec += (period % 1000) * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&p->renew_cv, &p->mu, &ts);
        if (p->stopping) break;
        for (int i = 0; i < p->n_threads; i++) {
            char uid[65];
            snprintf(uid, sizeof uid, "%s", p->busy[i]);
            if (!uid[0]) continue;
            pthread_mutex_unlock(&p->mu);
            db_rc rc = db_lease_renew(p->index, uid, grouper_now_ms());
            /* Usually the worker finished between reading its slot and the renewal; when
             * the claim really lapsed, the worker says so as it records the outcome. */
            if (rc == DB_NOTFOUND)
                log_debug(LOG_CAT_DB, "study %s: lease not renewed (no longer scoring here)", uid);
            else if (rc != DB_OK)
                log_warn(LOG_CAT_DB, "renewing the lease of %s: %s", uid, db_errmsg(p->index));
            pthread_mutex_lock(&p->mu);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int worker_pool_start(db *index, grouper *g, metrics *m, const worker_scorer *scorer,
                      int n_threads, worker_pool **out_pool) {
    worker_pool *p = calloc(1, sizeof *p);
    if (!p) return -1;
    p->index = index;
    p->g = g;
    p->m = m;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->renew_cv, NULL);
    if (scorer && scorer->score && n_threads > 0) {
        p->scorer = *scorer;
        p->active = 1;
        p->threads = calloc((size_t)n_threads, sizeof *p->threads);
        p->busy = calloc((size_t)n_threads, sizeof *p->busy);
        if (!p->threads || !p->busy) goto fail;
        for (int i = 0; i < n_threads; i++) {
            worker_arg *wa = malloc(sizeof *wa);
            if (!wa) goto fail;
            *wa = (worker_arg){.p = p, .slot = i};
            if (pthread_create(&p->threads[i], NULL, worker_main, wa) != 0) {
                free(wa);
                goto fail;
            }
            p->n_threads++;
        }
        if (pthread_create(&p->renewer, NULL, renewer_main, p) != 0) goto fail;
        p->renewer_running = 1;
    }
    *out_pool = p;
    return 0;
fail:
    worker_pool_stop(p);
    return -1;
}

void worker_pool_wake(void *pool) {
    worker_pool *p = pool;
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->wake_seq++;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void worker_pool_stop(worker_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_cond_broadcast(&p->renew_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
    if (p->renewer_running) pthread_join(p->renewer, NULL);
    free(p->threads);
    free(p->busy);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->renew_cv);
    free(p);
}

int worker_pool_active(const worker_pool *p) { return p && p->active; }
