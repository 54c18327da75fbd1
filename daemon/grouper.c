/* grouper.c: the study state machine (see grouper.h).
 *
 * Design notes
 * ------------
 *                 grouper_add_instance (first instance)
 *                              |
 *                              v
 *   +-------------------- receiving ------------------+
 *   | grouper_add_instance:    | grouper_tick:        |
 *   | four views present       | stable_age or        |
 *   v                          | max_wait passed      |
 * complete                     v                      |
 *   |                      timed_out                  |
 *   +-------- enqueue() -------+                      |
 *                 v                                   |
 *               queued <---------------------------+  |
 *                 | worker: db_study_claim_next     |  |
 *                 v                                 |  |
 *              scoring --grouper_score_failed-------+ (attempts left; also grouper_resume
 *                 |              \                     after a crash)
 *   grouper_scored|               \--> failed (attempts used up)
 *                 v
 *               scored
 *
 * Late images: grouper_add_instance on a scored or failed study sends it back to
 * receiving (new deadlines), or straight to complete -> queued when the four views are
 * there; the next scoring writes a new result version. An image arriving while scoring
 * sets rescore_pending, and grouper_scored then re-queues instead of finishing. A
 * queued, complete or timed_out study just gains the image. grouper_rescore (admin)
 * re-queues a scored/failed/queued study.
 *
 * Invariants: every transition is one committed transaction together with its change
 * row; complete and timed_out are transient (enqueue runs in the same transaction), and
 * grouper_resume re-queues any left by an older version. Deadlines are absolute times in
 * the row, so the timer needs no memory of its own.
 *
 * Several nodes on one index (PostgreSQL): every transition is a db_tx_run body that
 * reads the study again inside the transaction, and every writing transaction holds the
 * backend's one write lock, so the four views of a study arriving at four nodes at once
 * still make one study row and one StudyComplete, and a deadline that every node's timer
 * sees fires once (timeout_body re-checks it). A claim (db_study_claim_next) records the
 * node and a lease; the worker renews it while scoring; grouper_tick re-queues a scoring
 * study whose lease lapsed (requeue_body: its node died), and finish_body records an
 * outcome only for the node that still holds the claim, the result row in the same
 * transaction, so a study is scored once even when a slow node comes back.
 */
#include "daemon/grouper.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "daemon/grouper_view.h"

struct grouper {
    db *index;
    grouper_config cfg;
    void (*notify)(void *);
    void *notify_ctx;
    pthread_t timer;
    int timer_running;
    int stopping;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

int64_t grouper_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int grouper_create(db *index, const grouper_config *cfg, void (*notify)(void *), void *notify_ctx,
                   grouper **out_grouper) {
    grouper *g = calloc(1, sizeof *g);
    if (!g) return -1;
    g->index = index;
    g->cfg = *cfg;
    if (g->cfg.tick_ms <= 0) g->cfg.tick_ms = 100;
    g->notify = notify;
    g->notify_ctx = notify_ctx;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    *out_grouper = g;
    return 0;
}

void grouper_set_notify(grouper *g, void (*notify)(void *), void *notify_ctx) {
    g->notify = notify;
    g->notify_ctx = notify_ctx;
}

void grouper_destroy(grouper *g) {
    if (!g) return;
    grouper_timer_stop(g);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g);
}

/* Describes the missing views into buf ("" when complete); returns the number filled. */
static int views_filled(db *index, const char *uid, char *missing, size_t n, db_rc *out_rc) {
    db_instance *list = NULL;
    int count = 0, idx[GROUPER_N_VIEWS];
    *out_rc = db_study_instances(index, uid, &list, &count);
    if (*out_rc != DB_OK) return 0;
    int filled = grouper_view_select(list, count, idx);
    free(list);
    missing[0] = '\0';
    for (int v = 0; v < GROUPER_N_VIEWS; v++) {
        if (idx[v] >= 0) continue;
        size_t len = strlen(missing);
        snprintf(missing + len, n - len, "%s%s", len ? " " : "", grouper_view_keys[v]);
    }
    return filled;
}

/* complete | timed_out -> queued, within the caller's transaction. */
static db_rc enqueue(grouper *g, db_study *s, int64_t now) {
    s->state = DB_STATE_QUEUED;
    s->state_at = now;
    return db_study_update(g->index, s);
}

static db_rc set_state(grouper *g, db_study *s, db_state st, int64_t now) {
    s->state = st;
    s->state_at = now;
    return db_study_update(g->index, s);
}

typedef struct add_ctx {
    grouper *g;
    const dcm_instance_info *info;
    const db_instance *in;
    int64_t now;
    int queued;          /* out: the study became queued */
} add_ctx;

/* One instance in, its study updated: the body of grouper_add_instance's transaction
 * (run again from the start when the backend asks for a retry). */
static db_rc add_body(db *index, void *arg) {
    add_ctx *c = arg;
    grouper *g = c->g;
    const dcm_instance_info *info = c->info;
    int64_t now = c->now;
    c->queued = 0;
    db_rc rc = db_instance_add(index, c->in);
    if (rc == DB_DUPLICATE) return rc;   /* the counter update is the only change: kept */
    if (rc != DB_OK) return rc;

    db_study s;
    memset(&s, 0, sizeof s);
    snprintf(s.uid, sizeof s.uid, "%s", info->study_uid);
    snprintf(s.patient_id, sizeof s.patient_id, "%s", info->patient_id);
    snprintf(s.accession, sizeof s.accession, "%s", info->accession_number);
    s.state = DB_STATE_RECEIVING;
    s.first_at = s.last_at = s.state_at = now;
    s.stable_deadline = now + g->cfg.stable_age_ms;
    s.max_deadline = now + g->cfg.max_wait_ms;
    int created = 0;
    if ((rc = db_study_ensure(index, &s, &created)) != DB_OK) return rc;
    if ((rc = db_study_get(index, info->study_uid, &s)) != DB_OK) return rc;
    if (!created) {
        s.last_at = now;
        s.stable_deadline = now + g->cfg.stable_age_ms;
        if (!s.patient_id[0]) snprintf(s.patient_id, sizeof s.patient_id, "%s", info->patient_id);
        if (!s.accession[0]) snprintf(s.accession, sizeof s.accession, "%s", info->accession_number);
    }
    char missing[64];
    int filled = views_filled(index, s.uid, missing, sizeof missing, &rc);
    if (rc != DB_OK) return rc;
    s.complete = filled == GROUPER_N_VIEWS;

    switch (s.state) {
    case DB_STATE_SCORED:
    case DB_STATE_FAILED:
        /* A late image: collect again, then score a new result version. */
        s.attempts = 0;
        s.max_deadline = now + g->cfg.max_wait_ms;
        snprintf(s.reason, sizeof s.reason, "late image after %s", db_state_name(s.state));
        if ((rc = set_state(g, &s, DB_STATE_RECEIVING, now)) != DB_OK) return rc;
        /* fall through */
    case DB_STATE_RECEIVING:
        if (s.complete) {
            if ((rc = set_state(g, &s, DB_STATE_COMPLETE, now)) != DB_OK) return rc;
            if ((rc = enqueue(g, &s, now)) != DB_OK) return rc;
            c->queued = 1;
        } else if ((rc = db_study_update(index, &s)) != DB_OK) return rc;
        break;
    case DB_STATE_SCORING:
        s.rescore_pending = 1;
        if ((rc = db_study_update(index, &s)) != DB_OK) return rc;
        break;
    default: /* complete, timed_out, queued: the image joins the queued study */
        if (s.complete) s.reason[0] = '\0';
        if ((rc = db_study_update(index, &s)) != DB_OK) return rc;
        break;
    }
    return DB_OK;
}

db_rc grouper_add_instance(grouper *g, const dcm_instance_info *info, const char *path,
                           int64_t size, int64_t now) {
    return grouper_add_stored(g, info, path, size, NULL, now);
}

db_rc grouper_add_stored(grouper *g, const dcm_instance_info *info, const char *path,
                         int64_t size, const char *sha256, int64_t now) {
    grouper_view v;
    grouper_view_classify(info, &v);
    db_instance in;
    memset(&in, 0, sizeof in);
    snprintf(in.sop_uid, sizeof in.sop_uid, "%s", info->sop_instance_uid);
    snprintf(in.study_uid, sizeof in.study_uid, "%s", info->study_uid);
    snprintf(in.series_uid, sizeof in.series_uid, "%s", info->series_uid);
    snprintf(in.sop_class, sizeof in.sop_class, "%s", info->sop_class_uid);
    snprintf(in.view_key, sizeof in.view_key, "%s", v.key);
    snprintf(in.laterality, sizeof in.laterality, "%s", v.laterality);
    snprintf(in.view, sizeof in.view, "%s", v.view);
    snprintf(in.modifiers, sizeof in.modifiers, "%s", info->view_modifiers);
    snprintf(in.presentation_intent, sizeof in.presentation_intent, "%s",
             v.for_processing ? "FOR PROCESSING" : "FOR PRESENTATION");
    snprintf(in.acq_datetime, sizeof in.acq_datetime, "%s", info->acquisition_datetime);
    snprintf(in.path, sizeof in.path, "%s", path);
    if (sha256) snprintf(in.sha256, sizeof in.sha256, "%s", sha256);
    in.size = size;
    in.received_at = now;

    add_ctx c = {.g = g, .info = info, .in = &in, .now = now};
    db_rc rc = db_tx_run(g->index, add_body, &c);
    if (rc == DB_OK && c.queued && g->notify) g->notify(g->notify_ctx);
    return rc;
}

typedef struct one_ctx {
    grouper *g;
    const char *uid;
    int64_t now;
    int ok;                 /* finish: scored (1) or failed (0) */
    const char *reason;
    /* finish with a result */
    const char *model_id, *json, *timings;
    int *out_version;
    int result_only;        /* write the result, leave the study scoring */
    int queued;             /* out */
} one_ctx;

/* The start of every body: outputs reset (a retried body starts from scratch), the study
 * read again inside this transaction. */
static db_rc load(db *index, one_ctx *c, db_study *s) {
    c->queued = 0;
    return db_study_get(index, c->uid, s);
}

/* receiving past a deadline -> timed_out -> queued; re-checked inside the transaction,
 * where the backend's write lock makes this node the only one deciding: a deadline
 * fires once however many nodes tick. */
static db_rc timeout_body(db *index, void *arg) {
    one_ctx *c = arg;
    db_study s;
    db_rc rc = load(index, c, &s);
    if (rc != DB_OK) return rc == DB_NOTFOUND ? DB_OK : rc;
    if (s.state != DB_STATE_RECEIVING || (s.stable_deadline > c->now && s.max_deadline > c->now))
        return DB_OK;
    char missing[64];
    views_filled(index, s.uid, missing, sizeof missing, &rc);
    if (rc != DB_OK) return rc;
    snprintf(s.reason, sizeof s.reason, "%s passed with views missing: %s",
             s.stable_deadline <= c->now ? "stable_age" : "max_wait", missing);
    if ((rc = set_state(c->g, &s, DB_STATE_TIMED_OUT, c->now)) != DB_OK) return rc;
    if ((rc = enqueue(c->g, &s, c->now)) != DB_OK) return rc;
    c->queued = 1;
    log_info(LOG_CAT_MAIN, "study %s timed out (%s)", s.uid, s.reason);
    return DB_OK;
}

/* scoring whose claim lapsed (its node died or lost the index) -> queued. mine: also
 * this node's own claims (at start-up, from its previous life) and unclaimed rows. */
static db_rc requeue_body(db *index, void *arg) {
    one_ctx *c = arg;
    db_study s;
    db_rc rc = load(index, c, &s);
    if (rc != DB_OK) return rc == DB_NOTFOUND ? DB_OK : rc;
    int mine = c->ok;
    int lapsed = s.lease_until <= c->now;
    /* ours from before this start: a claim our workers made since (state_at >= now) is
     * live, not interrupted */
    int own = (!strcmp(s.claimed_by, db_node(index)) || !s.claimed_by[0]) && s.state_at < c->now;
    if (s.state != DB_STATE_SCORING || !(lapsed || (mine && own))) return DB_OK;
    if (mine && own) snprintf(s.reason, sizeof s.reason, "scoring interrupted by a restart");
    else snprintf(s.reason, sizeof s.reason, "the lease of node %s lapsed while scoring",
                  s.claimed_by);
    log_warn(LOG_CAT_MAIN, "study %s: %s: queued again", s.uid, s.reason);
    if ((rc = enqueue(c->g, &s, c->now)) != DB_OK) return rc;
    c->queued = 1;
    return DB_OK;
}

db_rc grouper_tick(grouper *g, int64_t now) {
    char uids[32][65];
    int n = 0, queued = 0;
    db_rc rc = db_studies_due(g->index, now, uids, 32, &n);
    for (int i = 0; rc == DB_OK && i < n; i++) {
        one_ctx c = {.g = g, .uid = uids[i], .now = now};
        rc = db_tx_run(g->index, timeout_body, &c);
        queued += c.queued;
    }
    if (rc == DB_OK) rc = db_studies_orphaned(g->index, now, 0, uids, 32, &n);
    for (int i = 0; rc == DB_OK && i < n; i++) {
        one_ctx c = {.g = g, .uid = uids[i], .now = now, .ok = 0};
        rc = db_tx_run(g->index, requeue_body, &c);
        queued += c.queued;
    }
    if (queued && g->notify) g->notify(g->notify_ctx);
    return rc;
}

static db_rc resume_body(db *index, void *arg) {
    one_ctx *c = arg;
    db_study s;
    db_rc rc = load(index, c, &s);
    if (rc != DB_OK) return rc == DB_NOTFOUND ? DB_OK : rc;
    if (s.state != DB_STATE_COMPLETE && s.state != DB_STATE_TIMED_OUT) return DB_OK;
    if ((rc = enqueue(c->g, &s, c->now)) != DB_OK) return rc;
    c->queued = 1;
    return DB_OK;
}

/* 1 when uid is among the n in seen. */
static int uid_seen(char (*seen)[65], int n, const char *uid) {
    for (int i = 0; i < n; i++)
        if (strcmp(seen[i], uid) == 0) return 1;
    return 0;
}

/* Re-queues what a stop left complete, timed out or scoring. The workers already run, so a
 * study re-queued here can be claimed (scoring again) before the next page is read: each
 * study is resumed at most once per call (the seen list), or it would be scored twice. */
db_rc grouper_resume(grouper *g, int64_t now) {
    static const db_state from[] = {DB_STATE_COMPLETE, DB_STATE_TIMED_OUT, DB_STATE_SCORING};
    int resumed = 0, cap = 0;
    char (*seen)[65] = NULL;
    db_rc rc = DB_OK;
    for (size_t k = 0; k < sizeof from / sizeof from[0] && rc == DB_OK; k++) {
        for (;;) {
            char uids[64][65];
            int n = 0, fresh = 0;
            /* Scoring studies of other live nodes are theirs: only this node's claims from
             * before this start (its previous life), unclaimed ones and lapsed leases. */
            if (from[k] == DB_STATE_SCORING) rc = db_studies_orphaned(g->index, now, 1, uids, 64, &n);
            else rc = db_studies_in_state(g->index, from[k], uids, 64, &n);
            if (rc != DB_OK || n == 0) break;
            for (int i = 0; i < n && rc == DB_OK; i++) {
                if (uid_seen(seen, resumed, uids[i])) continue;
                if (resumed == cap) {
                    int ncap = cap ? 2 * cap : 64;
                    char (*grown)[65] = realloc(seen, (size_t)ncap * sizeof *seen);
                    if (!grown) {
                        rc = DB_ERROR;
                        break;
                    }
                    seen = grown;
                    cap = ncap;
                }
                memcpy(seen[resumed++], uids[i], sizeof seen[0]);  /* both char[65], NUL-terminated */
                fresh++;
                one_ctx c = {.g = g, .uid = uids[i], .now = now, .ok = 1};
                rc = db_tx_run(g->index, from[k] == DB_STATE_SCORING ? requeue_body : resume_body, &c);
            }
            if (rc != DB_OK || fresh == 0) break;   /* nothing new: done (or another node was) */
        }
    }
    free(seen);
    if (resumed) log_info(LOG_CAT_MAIN, "resumed %d studies into the queue", resumed);
    if (rc == DB_OK) rc = grouper_tick(g, now);
    if (resumed && g->notify) g->notify(g->notify_ctx);
    return rc;
}

/* A worker's outcome: only the node holding the claim may record it. A claim that lapsed
 * and was taken by another node is left alone (DB_NOTFOUND), so a study is scored by the
 * one node that holds it, and a result with it in the same transaction. */
static db_rc finish_body(db *index, void *arg) {
    one_ctx *c = arg;
    grouper *g = c->g;
    int64_t now = c->now;
    db_study s;
    db_rc rc = load(index, c, &s);
    if (rc != DB_OK) return rc;
    if (s.state != DB_STATE_SCORING) return DB_NOTFOUND; /* e.g. resumed meanwhile: leave it */
    if (s.claimed_by[0] && strcmp(s.claimed_by, db_node(index)) != 0) return DB_NOTFOUND;
    if (c->ok) {
        if (c->json && (rc = db_result_add(index, c->uid, c->model_id, c->json, c->timings, now,
                                           c->out_version)) != DB_OK)
            return rc;
        if (c->result_only) return DB_OK;   /* still scoring: objects are published next */
        s.reason[0] = '\0';
        /* a study scored with views missing keeps saying why (docs/openapi.yaml: reason) */
        if (!s.complete) {
            char missing[64];
            views_filled(index, s.uid, missing, sizeof missing, &rc);
            if (rc != DB_OK) return rc;
            snprintf(s.reason, sizeof s.reason, "timed out, scored with views missing: %s", missing);
        }
        rc = set_state(g, &s, DB_STATE_SCORED, now);
        if (rc == DB_OK && s.rescore_pending) {
            s.rescore_pending = 0;
            s.attempts = 0;
            snprintf(s.reason, sizeof s.reason, "images arrived while scoring");
            rc = enqueue(g, &s, now);
            c->queued = 1;
        }
    } else {
        snprintf(s.reason, sizeof s.reason, "%s", c->reason ? c->reason : "scoring failed");
        if (s.attempts < g->cfg.max_attempts) {
            rc = enqueue(g, &s, now);
            c->queued = 1;
        } else {
            rc = set_state(g, &s, DB_STATE_FAILED, now);
        }
    }
    return rc;
}

static db_rc finish(grouper *g, one_ctx *c) {
    db_rc rc = db_tx_run(g->index, finish_body, c);
    if (rc == DB_OK && c->queued && g->notify) g->notify(g->notify_ctx);
    return rc == DB_NOTFOUND ? DB_OK : rc;
}

db_rc grouper_scored(grouper *g, const char *uid, int64_t now) {
    one_ctx c = {.g = g, .uid = uid, .now = now, .ok = 1};
    return finish(g, &c);
}

db_rc grouper_scored_result(grouper *g, const char *uid, const char *model_id, const char *json,
                            const char *timings_json, int64_t now, int *out_version) {
    one_ctx c = {.g = g, .uid = uid, .now = now, .ok = 1, .model_id = model_id, .json = json,
                 .timings = timings_json, .out_version = out_version};
    if (out_version) *out_version = 0;
    db_rc rc = db_tx_run(g->index, finish_body, &c);
    if (rc == DB_OK && c.queued && g->notify) g->notify(g->notify_ctx);
    return rc;
}

db_rc grouper_add_result(grouper *g, const char *uid, const char *model_id, const char *json,
                         const char *timings_json, int64_t now, int *out_version) {
    one_ctx c = {.g = g, .uid = uid, .now = now, .ok = 1, .model_id = model_id, .json = json,
                 .timings = timings_json, .out_version = out_version, .result_only = 1};
    if (out_version) *out_version = 0;
    return db_tx_run(g->index, finish_body, &c);
}

db_rc grouper_score_failed(grouper *g, const char *uid, const char *reason, int64_t now) {
    one_ctx c = {.g = g, .uid = uid, .now = now, .ok = 0, .reason = reason};
    return finish(g, &c);
}

static db_rc rescore_body(db *index, void *arg) {
    one_ctx *c = arg;
    db_study s;
    db_rc rc = load(index, c, &s);
    if (rc != DB_OK) return rc;
    if (s.state == DB_STATE_RECEIVING || s.state == DB_STATE_SCORING) return DB_DUPLICATE;
    s.attempts = 0;
    snprintf(s.reason, sizeof s.reason, "rescore requested");
    if (s.state == DB_STATE_QUEUED) rc = db_study_update(index, &s);
    else rc = enqueue(c->g, &s, c->now);
    c->queued = rc == DB_OK;
    return rc;
}

db_rc grouper_rescore(grouper *g, const char *uid, int64_t now) {
    one_ctx c = {.g = g, .uid = uid, .now = now};
    db_rc rc = db_tx_run(g->index, rescore_body, &c);
    if (rc == DB_OK && c.queued && g->notify) g->notify(g->notify_ctx);
    return rc;
}

static void *timer_main(void *arg) {
    grouper *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)g->cfg.tick_ms * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
        if (g->stopping) break;
        pthread_mutex_unlock(&g->mu);
        db_rc rc = grouper_tick(g, grouper_now_ms());
        if (rc != DB_OK) log_error(LOG_CAT_DB, "grouper timer: %s", db_errmsg(g->index));
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

int grouper_timer_start(grouper *g) {
    g->stopping = 0;
    if (pthread_create(&g->timer, NULL, timer_main, g) != 0) return -1;
    g->timer_running = 1;
    return 0;
}

void grouper_timer_stop(grouper *g) {
    if (!g->timer_running) return;
    pthread_mutex_lock(&g->mu);
    g->stopping = 1;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->timer, NULL);
    g->timer_running = 0;
}
