/* test_grouper_db.c: the study state machine (daemon/grouper.c) on a real SQLite index
 * in a temporary directory (or, with MAMA_TEST_PG_URI set by pgserver.py, on a real
 * PostgreSQL database: the same checks on the other backend), with a controlled clock: completeness at once, duplicates,
 * out-of-order retakes, stable_age and max_wait timeouts, claiming, scoring outcomes,
 * late images, restart resume, result versions, paging of studies and of the changes
 * feed at its edges, schema version and integrity. */
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon/grouper.h"
#include "daemon/grouper_view.h"
#include "daemon/worker.h"
#include "tests/check.h"

#define MG_PRES "1.2.840.10008.5.1.4.1.1.1.2"

static char dir[] = "/tmp/mamad-grouper-XXXXXX";
static char path[300];

static dcm_instance_info mk(const char *study, const char *sop, const char *lat, const char *pos,
                            const char *acq) {
    dcm_instance_info i;
    memset(&i, 0, sizeof i);
    snprintf(i.study_uid, sizeof i.study_uid, "%s", study);
    snprintf(i.series_uid, sizeof i.series_uid, "%s.1", study);
    snprintf(i.sop_instance_uid, sizeof i.sop_instance_uid, "%s", sop);
    snprintf(i.sop_class_uid, sizeof i.sop_class_uid, MG_PRES);
    snprintf(i.image_laterality, sizeof i.image_laterality, "%s", lat);
    snprintf(i.view_position, sizeof i.view_position, "%s", pos);
    snprintf(i.acquisition_datetime, sizeof i.acquisition_datetime, "%s", acq);
    snprintf(i.presentation_intent, sizeof i.presentation_intent, "FOR PRESENTATION");
    snprintf(i.patient_id, sizeof i.patient_id, "P1");
    return i;
}

static db_rc add(grouper *g, dcm_instance_info i, int64_t now) {
    return grouper_add_instance(g, &i, "/x.dcm", 100, now);
}

static db_state state_of(db *d, const char *uid) {
    db_study s;
    if (db_study_get(d, uid, &s) != DB_OK) return DB_STATE_COUNT;
    return s.state;
}

static int has_change(db *d, const char *type, const char *uid) {
    db_change ch[256];
    int n = 0, done = 0;
    db_changes_since(d, 0, 256, ch, &n, &done);
    for (int i = 0; i < n; i++)
        if (!strcmp(ch[i].type, type) && !strcmp(ch[i].study_uid, uid)) return 1;
    return 0;
}

int main(void) {
    char err[300];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/index.sqlite", dir);
    const char *pg = getenv("MAMA_TEST_PG_URI");
    if (pg && *pg) snprintf(path, sizeof path, "%s", pg);
    db *d = NULL;
    CHECK(db_open(path, &d, err, sizeof err) == DB_OK);
    if (!d) CHECK_DONE();
    CHECK(db_schema_version(d) == DB_SCHEMA_VERSION);
    db_set_node(d, "n1", 5000);
    grouper_config gc = {.stable_age_ms = 1000, .max_wait_ms = 5000, .max_attempts = 2, .tick_ms = 50};
    grouper *g = NULL;
    CHECK(grouper_create(d, &gc, NULL, NULL, &g) == 0);
    int64_t t = 1700000000000;

    /* A four-view study, out of order, with a duplicate and a retake: complete -> queued
     * at the fourth view, no waiting. */
    const char *A = "1.2.3.1";
    CHECK(add(g, mk(A, "1.2.3.1.4", "R", "MLO", "20240101100400"), t) == DB_OK);
    CHECK(state_of(d, A) == DB_STATE_RECEIVING);
    CHECK(add(g, mk(A, "1.2.3.1.1", "L", "CC", "20240101100100"), t + 10) == DB_OK);
    CHECK(add(g, mk(A, "1.2.3.1.1", "L", "CC", "20240101100100"), t + 20) == DB_DUPLICATE);
    CHECK(add(g, mk(A, "1.2.3.1.9", "L", "CC", "20240101100900"), t + 30) == DB_OK); /* retake */
    CHECK(add(g, mk(A, "1.2.3.1.2", "L", "MLO", "20240101100200"), t + 40) == DB_OK);
    CHECK(state_of(d, A) == DB_STATE_RECEIVING);
    CHECK(add(g, mk(A, "1.2.3.1.3", "R", "CC", "20240101100300"), t + 50) == DB_OK);
    CHECK(state_of(d, A) == DB_STATE_QUEUED);
    CHECK(has_change(d, "NewStudy", A) && has_change(d, "StudyComplete", A) &&
          has_change(d, "StudyQueued", A));
    int64_t dups = 0;
    CHECK(db_counter_get(d, "duplicates", &dups) == DB_OK && dups == 1);
    worker_job job;
    CHECK(worker_job_load(d, A, &job) == DB_OK);
    CHECK(job.complete == 1 && job.n_views == 4);
    CHECK_STR(job.views[0].key, "L-CC");
    CHECK_STR(job.views[0].sop_uid, "1.2.3.1.9"); /* the retake */
    db_study s;
    CHECK(db_study_get(d, A, &s) == DB_OK && s.complete == 1 && s.n_instances == 5);

    /* Three views: receiving until stable_age, then timed_out -> queued, incomplete. */
    const char *B = "1.2.3.2";
    CHECK(add(g, mk(B, "1.2.3.2.1", "L", "CC", "1"), t) == DB_OK);
    CHECK(add(g, mk(B, "1.2.3.2.2", "L", "MLO", "1"), t + 100) == DB_OK);
    CHECK(add(g, mk(B, "1.2.3.2.3", "R", "CC", "1"), t + 200) == DB_OK);
    CHECK(grouper_tick(g, t + 1100) == DB_OK);
    CHECK(state_of(d, B) == DB_STATE_RECEIVING);
    CHECK(grouper_tick(g, t + 1200) == DB_OK);
    CHECK(state_of(d, B) == DB_STATE_QUEUED);
    CHECK(has_change(d, "StudyTimedOut", B));
    CHECK(db_study_get(d, B, &s) == DB_OK && s.complete == 0 && strstr(s.reason, "R-MLO") &&
          strstr(s.reason, "stable_age"));

    /* max_wait bounds a trickling study: non-view images keep it fresh, still it times out. */
    const char *C = "1.2.3.3";
    for (int i = 0; i < 8; i++) {
        char sop[32];
        snprintf(sop, sizeof sop, "1.2.3.3.%d", i + 1);
        CHECK(add(g, mk(C, sop, "L", "ML", "1"), t + i * 800) == DB_OK);
        CHECK(grouper_tick(g, t + i * 800 + 1) == DB_OK);
    }
    CHECK(state_of(d, C) == DB_STATE_QUEUED);
    CHECK(db_study_get(d, C, &s) == DB_OK && strstr(s.reason, "max_wait"));

    /* Claiming: oldest queued first, atomically; then none left. */
    db_study c1, c2, c3, c4;
    CHECK(db_study_claim_next(d, t + 9000, &c1) == DB_OK);
    CHECK_STR(c1.uid, A);
    CHECK(c1.state == DB_STATE_SCORING && c1.attempts == 1);
    CHECK(db_study_claim_next(d, t + 9000, &c2) == DB_OK);
    CHECK_STR(c2.uid, B);
    CHECK(db_study_claim_next(d, t + 9000, &c3) == DB_OK);
    CHECK_STR(c3.uid, C);
    CHECK(db_study_claim_next(d, t + 9000, &c4) == DB_NOTFOUND);

    /* A: an image arrives while scoring -> scored, then re-queued; result versions 1, 2. */
    CHECK(add(g, mk(A, "1.2.3.1.10", "R", "CC", "20240101101000"), t + 9100) == DB_OK);
    CHECK(state_of(d, A) == DB_STATE_SCORING);
    int ver = 0;
    CHECK(db_result_add(d, A, "m1", "{\"score\":0.5}", "{}", t + 9200, &ver) == DB_OK && ver == 1);
    CHECK(grouper_scored(g, A, t + 9200) == DB_OK);
    CHECK(state_of(d, A) == DB_STATE_QUEUED);
    CHECK(db_study_claim_next(d, t + 9300, &c1) == DB_OK);
    CHECK(db_result_add(d, A, "m1", "{\"score\":0.6}", "{}", t + 9400, &ver) == DB_OK && ver == 2);
    CHECK(grouper_scored(g, A, t + 9400) == DB_OK);
    CHECK(state_of(d, A) == DB_STATE_SCORED);
    CHECK(db_study_get(d, A, &s) == DB_OK && s.result_version == 2);
    /* A late image after scoring re-queues at once (the study is complete). */
    CHECK(add(g, mk(A, "1.2.3.1.11", "L", "MLO", "20240101101100"), t + 9500) == DB_OK);
    CHECK(state_of(d, A) == DB_STATE_QUEUED);
    db_result *res = NULL;
    int nres = 0;
    CHECK(db_results_list(d, A, &res, &nres) == DB_OK && nres == 2);
    if (nres == 2) CHECK(res[1].version == 2 && strstr(res[1].json, "0.6"));
    db_results_free(res, nres);

    /* B: failures are retried max_attempts times, then failed. */
    CHECK(grouper_score_failed(g, B, "engine error", t + 9600) == DB_OK);
    CHECK(state_of(d, B) == DB_STATE_QUEUED);
    CHECK(db_study_claim_next(d, t + 9700, &c1) == DB_OK); /* A (older id) */
    CHECK_STR(c1.uid, A);
    CHECK(db_study_claim_next(d, t + 9700, &c2) == DB_OK);
    CHECK_STR(c2.uid, B);
    CHECK(c2.attempts == 2);
    CHECK(grouper_score_failed(g, B, "engine error", t + 9800) == DB_OK);
    CHECK(state_of(d, B) == DB_STATE_FAILED);
    CHECK(db_study_get(d, B, &s) == DB_OK && strstr(s.reason, "engine error"));
    /* Admin rescore: failed -> queued; a scoring study cannot be rescored. */
    CHECK(grouper_rescore(g, B, t + 9900) == DB_OK && state_of(d, B) == DB_STATE_QUEUED);
    CHECK(grouper_rescore(g, A, t + 9900) == DB_DUPLICATE);
    CHECK(grouper_rescore(g, "9.9.9", t + 9900) == DB_NOTFOUND);

    /* Restart: A was left scoring; a new process resumes it into the queue. */
    grouper_destroy(g);
    db_close(d);
    d = NULL;
    CHECK(db_open(path, &d, err, sizeof err) == DB_OK);
    if (!d) CHECK_DONE();
    CHECK(db_schema_version(d) == DB_SCHEMA_VERSION);
    db_set_node(d, "n1", 5000);   /* the same node restarted: its own claims come back */
    CHECK(grouper_create(d, &gc, NULL, NULL, &g) == 0);
    CHECK(state_of(d, A) == DB_STATE_SCORING);
    CHECK(grouper_resume(g, t + 10000) == DB_OK);
    CHECK(state_of(d, A) == DB_STATE_QUEUED);
    int ok = 0;
    CHECK(db_integrity_check(d, &ok) == DB_OK && ok == 1);

    /* Studies: newest first, paged by id, filtered by state. */
    db_study page[2];
    int n = 0, more = 0;
    CHECK(db_studies_list(d, -1, 0, 2, page, &n, &more) == DB_OK && n == 2 && more == 1);
    CHECK_STR(page[0].uid, C);
    CHECK_STR(page[1].uid, B);
    CHECK(db_studies_list(d, -1, page[1].id, 2, page, &n, &more) == DB_OK && n == 1 && more == 0);
    CHECK_STR(page[0].uid, A);
    CHECK(db_studies_list(d, DB_STATE_QUEUED, 0, 2, page, &n, &more) == DB_OK && n == 2);
    CHECK(db_studies_list(d, DB_STATE_SCORED, 0, 2, page, &n, &more) == DB_OK && n == 0 && more == 0);

    /* The changes feed at its edges. */
    int64_t last = 0;
    CHECK(db_changes_last(d, &last) == DB_OK && last > 5);
    db_change ch[8];
    int done = 0;
    CHECK(db_changes_since(d, last, 5, ch, &n, &done) == DB_OK && n == 0 && done == 1); /* empty */
    CHECK(db_changes_since(d, last - 3, 3, ch, &n, &done) == DB_OK && n == 3 && done == 1); /* exact */
    CHECK(n == 3 && ch[2].seq == last);
    CHECK(db_changes_since(d, last - 4, 3, ch, &n, &done) == DB_OK && n == 3 && done == 0);
    CHECK(db_changes_since(d, 0, 1, ch, &n, &done) == DB_OK && n == 1 && done == 0 && ch[0].seq == 1);
    CHECK(db_changes_since(d, 1, 1, ch, &n, &done) == DB_OK && n == 1 && ch[0].seq == 2); /* no gap */

    /* Leases: a claim records the node and lapses 5 s after its last renewal; only the
     * owner renews or records an outcome; any node's tick re-queues a lapsed claim. */
    int64_t T = t + 20000;
    CHECK(db_study_claim_next(d, T, &c1) == DB_OK); /* A */
    CHECK_STR(c1.claimed_by, "n1");
    CHECK(c1.lease_until == T + 5000);
    CHECK(db_lease_renew(d, c1.uid, T + 1000) == DB_OK);
    CHECK(db_study_get(d, c1.uid, &s) == DB_OK && s.lease_until == T + 6000);
    char orphans[4][65];
    CHECK(db_studies_orphaned(d, T + 5999, 0, orphans, 4, &n) == DB_OK && n == 0);
    CHECK(db_studies_orphaned(d, T + 6000, 0, orphans, 4, &n) == DB_OK && n == 1);
    db_set_node(d, "n2", 5000);
    CHECK(db_lease_renew(d, c1.uid, T + 2000) == DB_NOTFOUND);          /* not n2's claim */
    CHECK(db_studies_orphaned(d, T + 2000, 1, orphans, 4, &n) == DB_OK && n == 0);
    CHECK(grouper_tick(g, T + 5999) == DB_OK && state_of(d, c1.uid) == DB_STATE_SCORING);
    CHECK(grouper_scored_result(g, c1.uid, "m1", "{}", "{}", T + 3000, &ver) == DB_NOTFOUND);
    CHECK(state_of(d, c1.uid) == DB_STATE_SCORING);
    CHECK(grouper_tick(g, T + 6000) == DB_OK && state_of(d, c1.uid) == DB_STATE_QUEUED); /* n2 */
    CHECK(db_study_get(d, c1.uid, &s) == DB_OK && strstr(s.reason, "lease of node n1"));
    CHECK(db_study_claim_next(d, T + 7000, &c2) == DB_OK); /* n2 claims it again */
    CHECK_STR(c2.uid, c1.uid);
    CHECK_STR(c2.claimed_by, "n2");
    db_set_node(d, "n1", 5000);   /* n1 comes back with its result: dropped, n2's stands */
    CHECK(grouper_scored_result(g, c2.uid, "m1", "{\"late\":1}", "{}", T + 7100, &ver) == DB_NOTFOUND);
    CHECK(db_studies_orphaned(d, T + 7100, 1, orphans, 4, &n) == DB_OK && n == 0);
    db_set_node(d, "n2", 5000);
    CHECK(grouper_scored_result(g, c2.uid, "m1", "{\"n2\":1}", "{}", T + 7200, &ver) == DB_OK);
    CHECK(state_of(d, c2.uid) == DB_STATE_SCORED);
    CHECK(db_results_list(d, c2.uid, &res, &nres) == DB_OK && nres == 3);
    if (nres == 3) CHECK(strstr(res[2].json, "n2") && !strcmp(res[2].node, "n2"));
    db_results_free(res, nres);
    CHECK(db_changes_since(d, 0, 8, ch, &n, &done) == DB_OK && n == 8 && !strcmp(ch[0].node, "n1"));

    grouper_destroy(g);
    db_close(d);

    /* An index from a newer mamad is refused with a message, not migrated or damaged. */
    char newer[320];
    snprintf(newer, sizeof newer, "%s/newer.sqlite", dir);
    sqlite3 *raw = NULL;
    CHECK(sqlite3_open(newer, &raw) == SQLITE_OK);
    CHECK(sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(raw);
    d = NULL;
    CHECK(db_open(newer, &d, err, sizeof err) == DB_ERROR && d == NULL);
    CHECK(strstr(err, "newer") != NULL);
    /* A fresh index gets every migration; opening it again applies none. */
    snprintf(newer, sizeof newer, "%s/fresh.sqlite", dir);
    CHECK(db_open(newer, &d, err, sizeof err) == DB_OK && db_schema_version(d) == DB_SCHEMA_VERSION);
    db_close(d);
    CHECK(db_open(newer, &d, err, sizeof err) == DB_OK && db_schema_version(d) == DB_SCHEMA_VERSION);
    db_close(d);
    check_remove_dir(dir);
    CHECK_DONE();
}
