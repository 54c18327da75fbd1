/* db_retention.c: deletion bookkeeping and the retention queries (see db.h). */
#include "db/db_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs one statement with up to two text and one int64 parameter; no rows expected. */
static db_rc exec3(db *d, const char *sql, const char *a, const char *b, int64_t c) {
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db_conn(d), sql, -1, &s, NULL);
    if (rc != SQLITE_OK) return db_fail(d, rc);
    if (sqlite3_bind_parameter_count(s) >= 1) db_bind_text(s, 1, a);
    if (sqlite3_bind_parameter_count(s) >= 2) db_bind_text(s, 2, b);
    if (sqlite3_bind_parameter_count(s) >= 3) sqlite3_bind_int64(s, 3, c);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? DB_OK : db_fail(d, rc);
}

/* One integer of a query with a text parameter; -1 when no row. */
static db_rc int_of(db *d, const char *sql, const char *arg, int64_t *out) {
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db_conn(d), sql, -1, &s, NULL);
    if (rc != SQLITE_OK) return db_fail(d, rc);
    if (arg) db_bind_text(s, 1, arg);
    rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? DB_OK : db_fail(d, rc);
}

db_rc db_deletion_begin(db *d, const char *study_uid, const char *reason, int force, int64_t now,
                        db_delete_rc *out_refused) {
    *out_refused = DB_DELETE_OK;
    db_rc r = db_tx_begin(d);
    if (r != DB_OK) return r;
    int64_t state = -1, undelivered = 0;
    r = int_of(d, "SELECT state FROM studies WHERE uid = ?1", study_uid, &state);
    if (r == DB_OK && state < 0) r = DB_NOTFOUND;
    if (r == DB_OK && state != DB_STATE_SCORED && state != DB_STATE_FAILED) *out_refused = DB_DELETE_BUSY;
    if (r == DB_OK && !*out_refused && !force) {
        r = int_of(d, "SELECT COUNT(*) FROM outbox WHERE study_uid = ?1 AND state <> 1", study_uid, &undelivered);
        if (r == DB_OK && undelivered > 0) *out_refused = DB_DELETE_UNDELIVERED;
    }
    if (r == DB_OK && !*out_refused)
        r = exec3(d, "INSERT OR IGNORE INTO deletions(study_uid, reason, started_at) VALUES (?1, ?2, ?3)",
                  study_uid, reason, now);
    if (r == DB_OK && !*out_refused) return db_tx_commit(d);
    db_tx_rollback(d);
    return r;
}

db_rc db_deletion_finish(db *d, const char *study_uid, int64_t now) {
    static const char *const sql[] = {
        "DELETE FROM instances WHERE study_uid = ?1",
        "DELETE FROM results WHERE study_uid = ?1",
        "DELETE FROM result_objects WHERE study_uid = ?1",
        "DELETE FROM outbox WHERE study_uid = ?1",
        "DELETE FROM studies WHERE uid = ?1",
        "DELETE FROM deletions WHERE study_uid = ?1",
    };
    db_rc r = db_tx_begin(d);
    if (r != DB_OK) return r;
    for (size_t i = 0; r == DB_OK && i < sizeof sql / sizeof sql[0]; i++) r = exec3(d, sql[i], study_uid, NULL, 0);
    if (r == DB_OK) r = db_change_add(d, "StudyDeleted", study_uid, now);
    if (r == DB_OK) return db_tx_commit(d);
    db_tx_rollback(d);
    return r;
}

static db_rc uids(db *d, sqlite3_stmt *s, char (*out)[65], int max, int *out_n) {
    int rc = SQLITE_DONE, n = 0;
    while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(s, 0);
        snprintf(out[n++], 65, "%s", t ? (const char *)t : "");
    }
    if (n == max) rc = SQLITE_DONE;
    sqlite3_finalize(s);
    *out_n = n;
    return rc == SQLITE_DONE ? DB_OK : db_fail(d, rc);
}

db_rc db_deletions_pending(db *d, char (*out_uids)[65], int max, int *out_n) {
    *out_n = 0;
    db_lock(d);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db_conn(d), "SELECT study_uid FROM deletions ORDER BY started_at", -1, &s, NULL);
    db_rc r = rc == SQLITE_OK ? uids(d, s, out_uids, max, out_n) : db_fail(d, rc);
    db_unlock(d);
    return r;
}

db_rc db_retention_candidates(db *d, int64_t before, char (*out_uids)[65], int max, int *out_n) {
    *out_n = 0;
    db_lock(d);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db_conn(d),
        "SELECT s.uid FROM studies s WHERE s.state IN (?1, ?2) AND (?3 < 0 OR s.state_at <= ?3) "
        "AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.study_uid = s.uid AND o.state <> 1) "
        "AND NOT EXISTS (SELECT 1 FROM deletions x WHERE x.study_uid = s.uid) "
        "ORDER BY s.state_at, s.id LIMIT ?4", -1, &s, NULL);
    db_rc r;
    if (rc != SQLITE_OK) {
        r = db_fail(d, rc);
    } else {
        sqlite3_bind_int(s, 1, DB_STATE_SCORED);
        sqlite3_bind_int(s, 2, DB_STATE_FAILED);
        sqlite3_bind_int64(s, 3, before);
        sqlite3_bind_int(s, 4, max);
        r = uids(d, s, out_uids, max, out_n);
    }
    db_unlock(d);
    return r;
}

db_rc db_storage_bytes(db *d, int64_t *out_bytes) {
    db_lock(d);
    db_rc r = int_of(d, "SELECT (SELECT COALESCE(SUM(size), 0) FROM instances) + "
                        "(SELECT COALESCE(SUM(size), 0) FROM result_objects)", NULL, out_bytes);
    db_unlock(d);
    return r;
}

db_rc db_study_files(db *d, const char *study_uid, char ***out_paths, int *out_n) {
    *out_paths = NULL;
    *out_n = 0;
    db_lock(d);
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db_conn(d), "SELECT path FROM instances WHERE study_uid = ?1 UNION ALL "
                                            "SELECT path FROM result_objects WHERE study_uid = ?1", -1, &s, NULL);
    if (rc != SQLITE_OK) {
        db_rc r = db_fail(d, rc);
        db_unlock(d);
        return r;
    }
    db_bind_text(s, 1, study_uid);
    char **paths = NULL;
    int n = 0, cap = 0;
    db_rc r = DB_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **np = realloc(paths, (size_t)cap * sizeof *np);
            if (!np) {
                r = DB_ERROR;
                break;
            }
            paths = np;
        }
        const unsigned char *t = sqlite3_column_text(s, 0);
        if (!(paths[n] = strdup(t ? (const char *)t : ""))) {
            r = DB_ERROR;
            break;
        }
        n++;
    }
    if (r == DB_OK && rc != SQLITE_DONE) r = db_fail(d, rc);
    sqlite3_finalize(s);
    db_unlock(d);
    if (r != DB_OK) {
        db_paths_free(paths, n);
        return r;
    }
    *out_paths = paths;
    *out_n = n;
    return DB_OK;
}

void db_paths_free(char **paths, int n) {
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
}
