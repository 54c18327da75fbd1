/* test_db_retry.c: the retry of db_tx_run and of single statements when the PostgreSQL
 * connection is cut, by injection: a second libpq connection terminates the test's
 * backend (pg_terminate_backend, found by its application_name "mamad <node>").
 *
 *  - killed between two statements of a transaction body: the body runs again on a new
 *    connection and its first attempt's write is gone (one change row, not two);
 *  - killed while idle: the next single statement reconnects and succeeds;
 *  - grouper_add_instance after a kill: indexed once, its study created once.
 * Catches: a lost connection surfacing as an error instead of a retry, a retry that
 * keeps the half-done work of the failed attempt, a connection never reopened.
 * Needs MAMA_TEST_PG_URI (pgserver.py); without it the test is skipped (77). */
#include <libpq-fe.h>
#include <stdlib.h>

#include "daemon/grouper.h"
#include "tests/check.h"

static PGconn *side;
static int attempts;

static void kill_node_sessions(const char *node) {
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
             "'mamad %s'", node);
    PGresult *r = PQexec(side, sql);
    CHECK_MSG(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) >= 1, "%s", PQerrorMessage(side));
    PQclear(r);
}

static int count_changes(db *d, const char *type) {
    db_change ch[64];
    int n = 0, done = 0, c = 0;
    if (db_changes_since(d, 0, 64, ch, &n, &done) != DB_OK) return -1;
    for (int i = 0; i < n; i++) c += !strcmp(ch[i].type, type);
    return c;
}

/* Writes a change, then (first attempt only) has its connection cut, then writes more. */
static db_rc body(db *d, void *ctx) {
    (void)ctx;
    attempts++;
    db_rc rc = db_change_add(d, "RetryTest", "1.2.3", attempts);
    if (rc != DB_OK) return rc;
    if (attempts == 1) kill_node_sessions("retry");
    return db_change_add(d, "RetryTestSecond", "1.2.3", attempts);
}

int main(void) {
    const char *uri = getenv("MAMA_TEST_PG_URI");
    if (!uri || !*uri) {
        printf("SKIP: MAMA_TEST_PG_URI is not set (run through pgserver.py)\n");
        return 77;
    }
    char err[400];
    db *d = NULL;
    CHECK_MSG(db_open(uri, &d, err, sizeof err) == DB_OK, "%s", err);
    if (!d) CHECK_DONE();
    side = PQconnectdb(uri);
    CHECK(PQstatus(side) == CONNECTION_OK);
    db_set_node(d, "retry", 60000);
    /* The handle's first connection was opened before the node was set: reopen it. */
    kill_node_sessions("");
    int64_t last = 0;
    CHECK(db_changes_last(d, &last) == DB_OK);

    CHECK(db_tx_run(d, body, NULL) == DB_OK);
    CHECK_MSG(attempts == 2, "attempts %d", attempts);
    CHECK(count_changes(d, "RetryTest") == 1 && count_changes(d, "RetryTestSecond") == 1);

    kill_node_sessions("retry");     /* idle connection cut */
    int64_t v = -1;
    CHECK(db_counter_get(d, "duplicates", &v) == DB_OK && v == 0);

    grouper_config gc = {.stable_age_ms = 1000, .max_wait_ms = 5000, .max_attempts = 2, .tick_ms = 50};
    grouper *g = NULL;
    CHECK(grouper_create(d, &gc, NULL, NULL, &g) == 0);
    dcm_instance_info i;
    memset(&i, 0, sizeof i);
    snprintf(i.study_uid, sizeof i.study_uid, "1.2.3.4");
    snprintf(i.sop_instance_uid, sizeof i.sop_instance_uid, "1.2.3.4.1");
    snprintf(i.sop_class_uid, sizeof i.sop_class_uid, "1.2.840.10008.5.1.4.1.1.1.2");
    snprintf(i.image_laterality, sizeof i.image_laterality, "L");
    snprintf(i.view_position, sizeof i.view_position, "CC");
    kill_node_sessions("retry");
    CHECK(grouper_add_instance(g, &i, "/x.dcm", 10, 1700000000000) == DB_OK);
    db_study s;
    CHECK(db_study_get(d, "1.2.3.4", &s) == DB_OK && s.n_instances == 1);
    CHECK(count_changes(d, "NewStudy") == 1);

    grouper_destroy(g);
    db_close(d);
    PQfinish(side);
    CHECK_DONE();
}
