/* db.c: the index connection (see db.h): open + pragmas + migrations, a table of SQL
 * statements prepared once per connection, transactions under the handle's mutex, and
 * the queries behind the C API. */
#include "db/db_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    S_INST_ADD, S_INST_EXISTS, S_INST_OF_STUDY, S_DUP_INC,
    S_STUDY_GET, S_STUDY_INSERT, S_STUDY_UPDATE, S_STUDY_STATE,
    S_STUDIES_LIST, S_STUDIES_LIST_STATE, S_STUDY_CLAIM, S_STUDIES_DUE, S_STUDIES_IN_STATE,
    S_STUDY_COUNTS, S_RESULT_MAXV, S_RESULT_ADD, S_STUDY_SET_RV, S_RESULTS_LIST,
    S_CHANGE_ADD, S_CHANGES_SINCE, S_CHANGES_LAST, S_COUNTER_ADD, S_COUNTER_GET,
    S_INST_TOTALS, S_COUNT
};

#define STUDY_COLS                                                                       \
    "s.id, s.uid, s.state, s.patient_id, s.accession, s.first_at, s.last_at, "          \
    "s.stable_deadline, s.max_deadline, s.state_at, s.attempts, s.complete, "            \
    "s.rescore_pending, s.reason, s.result_version, "                                   \
    "(SELECT COUNT(*) FROM instances i WHERE i.study_uid = s.uid)"

#define INST_COLS                                                                        \
    "sop_uid, study_uid, series_uid, sop_class, view_key, laterality, view, modifiers, " \
    "presentation_intent, acq_datetime, path, size, sha256, received_at"

static const char *const sql_text[S_COUNT] = {
    [S_INST_ADD] = "INSERT OR IGNORE INTO instances(" INST_COLS ") "
                   "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)",
    [S_INST_EXISTS] = "SELECT 1 FROM instances WHERE sop_uid = ?1",
    [S_INST_OF_STUDY] = "SELECT " INST_COLS " FROM instances WHERE study_uid = ?1 "
                        "ORDER BY received_at, sop_uid",
    [S_DUP_INC] = "UPDATE counters SET value = value + 1 WHERE name = 'duplicates'",
    [S_STUDY_GET] = "SELECT " STUDY_COLS " FROM studies s WHERE s.uid = ?1",
    [S_STUDY_INSERT] = "INSERT OR IGNORE INTO studies(uid, state, patient_id, accession, "
                       "first_at, last_at, stable_deadline, max_deadline, state_at) "
                       "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
    [S_STUDY_UPDATE] = "UPDATE studies SET state=?2, patient_id=?3, accession=?4, first_at=?5, "
                       "last_at=?6, stable_deadline=?7, max_deadline=?8, state_at=?9, "
                       "attempts=?10, complete=?11, rescore_pending=?12, reason=?13 "
                       "WHERE uid=?1",
    [S_STUDY_STATE] = "UPDATE studies SET state=?2, reason=?3, state_at=?4 WHERE uid=?1",
    [S_STUDIES_LIST] = "SELECT " STUDY_COLS " FROM studies s WHERE s.id < ?1 "
                       "ORDER BY s.id DESC LIMIT ?2",
    [S_STUDIES_LIST_STATE] = "SELECT " STUDY_COLS " FROM studies s WHERE s.id < ?1 AND "
                             "s.state = ?3 ORDER BY s.id DESC LIMIT ?2",
    [S_STUDY_CLAIM] = "UPDATE studies SET state=?2, attempts=attempts+1, state_at=?3, "
                      "rescore_pending=0 WHERE id = (SELECT id FROM studies WHERE state=?1 "
                      "ORDER BY id LIMIT 1) RETURNING uid",
    [S_STUDIES_DUE] = "SELECT uid FROM studies WHERE state = ?1 AND "
                      "(stable_deadline <= ?2 OR max_deadline <= ?2) ORDER BY id LIMIT ?3",
    [S_STUDIES_IN_STATE] = "SELECT uid FROM studies WHERE state = ?1 ORDER BY id LIMIT ?2",
    [S_STUDY_COUNTS] = "SELECT state, COUNT(*) FROM studies GROUP BY state",
    [S_RESULT_MAXV] = "SELECT COALESCE(MAX(version), 0) FROM results WHERE study_uid = ?1",
    [S_RESULT_ADD] = "INSERT INTO results(study_uid, version, model_id, json, timings_json, "
                     "created_at) VALUES (?1,?2,?3,?4,?5,?6)",
    [S_STUDY_SET_RV] = "UPDATE studies SET result_version = ?2 WHERE uid = ?1",
    [S_RESULTS_LIST] = "SELECT version, model_id, json, timings_json, created_at FROM results "
                       "WHERE study_uid = ?1 ORDER BY version",
    [S_CHANGE_ADD] = "INSERT INTO changes(type, study_uid, at) VALUES (?1,?2,?3)",
    [S_CHANGES_SINCE] = "SELECT seq, type, study_uid, at FROM changes WHERE seq > ?1 "
                        "ORDER BY seq LIMIT ?2",
    [S_CHANGES_LAST] = "SELECT COALESCE(MAX(seq), 0) FROM changes",
    [S_COUNTER_ADD] = "INSERT INTO counters(name, value) VALUES (?1, ?2) "
                      "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
    [S_COUNTER_GET] = "SELECT value FROM counters WHERE name = ?1",
    [S_INST_TOTALS] = "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM instances",
};

struct db {
    sqlite3 *conn;
    sqlite3_stmt *st[S_COUNT];
    pthread_mutex_t mu;       /* recursive: held across a transaction */
    int in_tx;
    char errmsg[512];
};

static const char *const state_names[DB_STATE_COUNT] = {
    "receiving", "complete", "timed_out", "queued", "scoring", "scored", "failed",
};

const char *db_state_name(db_state s) {
    return (s >= 0 && s < DB_STATE_COUNT) ? state_names[s] : "unknown";
}

int db_state_parse(const char *text, db_state *out_state) {
    for (int i = 0; i < DB_STATE_COUNT; i++)
        if (text && strcmp(text, state_names[i]) == 0) {
            *out_state = (db_state)i;
            return 0;
        }
    return -1;
}

static db_rc fail(db *d, int src) {
    snprintf(d->errmsg, sizeof d->errmsg, "sqlite: %s", sqlite3_errmsg(d->conn));
    if (src == SQLITE_FULL || src == SQLITE_IOERR || (src & 0xff) == SQLITE_IOERR)
        return DB_FULL;
    return DB_ERROR;
}

sqlite3 *db_conn(db *d) { return d->conn; }
void db_lock(db *d) { pthread_mutex_lock(&d->mu); }
void db_unlock(db *d) { pthread_mutex_unlock(&d->mu); }
db_rc db_fail(db *d, int sqlite_rc) { return fail(d, sqlite_rc); }

const char *db_errmsg(const db *d) { return d ? d->errmsg : "no database"; }

static void lock(db *d) { pthread_mutex_lock(&d->mu); }
static void unlock(db *d) { pthread_mutex_unlock(&d->mu); }

/* Returns the statement reset and cleared, ready to bind. */
static sqlite3_stmt *stmt(db *d, int id) {
    sqlite3_stmt *s = d->st[id];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v) {
    sqlite3_bind_text(s, i, v ? v : "", -1, SQLITE_TRANSIENT);
}

static void copy_col(char *dst, size_t n, sqlite3_stmt *s, int col) {
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(dst, n, "%s", t ? (const char *)t : "");
}

db_rc db_open(const char *path, db **out_db, char *err, size_t errlen) {
    *out_db = NULL;
    db *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return DB_ERROR;
    }
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&d->mu, &attr);
    pthread_mutexattr_destroy(&attr);

    int rc = sqlite3_open_v2(path, &d->conn,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open index %s: %s (check the directory exists and is "
                 "writable)", path, d->conn ? sqlite3_errmsg(d->conn) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(d->conn, 10000);
    sqlite3_extended_result_codes(d->conn, 0);
    /* WAL for concurrent readers; FULL so that each acknowledging commit is on disk. */
    static const char *const pragmas =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
        "PRAGMA temp_store=MEMORY;";
    if (sqlite3_exec(d->conn, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot configure index %s: %s", path, sqlite3_errmsg(d->conn));
        goto fail;
    }
    {
        sqlite3_stmt *jm = NULL;
        int wal = 0;
        if (sqlite3_prepare_v2(d->conn, "PRAGMA journal_mode", -1, &jm, NULL) == SQLITE_OK &&
            sqlite3_step(jm) == SQLITE_ROW)
            wal = strcmp((const char *)sqlite3_column_text(jm, 0), "wal") == 0;
        sqlite3_finalize(jm);
        if (!wal) {
            snprintf(err, errlen, "index %s: the file system does not support WAL mode", path);
            goto fail;
        }
    }
    if (db_schema_migrate(d->conn, err, errlen) != 0) goto fail;
    for (int i = 0; i < S_COUNT; i++) {
        if (sqlite3_prepare_v3(d->conn, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &d->st[i],
                               NULL) != SQLITE_OK) {
            snprintf(err, errlen, "preparing statement %d failed: %s", i,
                     sqlite3_errmsg(d->conn));
            goto fail;
        }
    }
    *out_db = d;
    return DB_OK;
fail:
    db_close(d);
    return DB_ERROR;
}

void db_close(db *d) {
    if (!d) return;
    for (int i = 0; i < S_COUNT; i++)
        if (d->st[i]) sqlite3_finalize(d->st[i]);
    if (d->conn) sqlite3_close(d->conn);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

int db_schema_version(db *d) {
    int v = -1;
    sqlite3_stmt *s = NULL;
    lock(d);
    if (sqlite3_prepare_v2(d->conn, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    unlock(d);
    return v;
}

db_rc db_tx_begin(db *d) {
    lock(d);
    int rc = sqlite3_exec(d->conn, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        db_rc r = fail(d, rc);
        unlock(d);
        return r;
    }
    d->in_tx = 1;
    return DB_OK;
}

db_rc db_tx_commit(db *d) {
    int rc = sqlite3_exec(d->conn, "COMMIT", NULL, NULL, NULL);
    db_rc r = DB_OK;
    if (rc != SQLITE_OK) {
        r = fail(d, rc);
        sqlite3_exec(d->conn, "ROLLBACK", NULL, NULL, NULL);
    }
    d->in_tx = 0;
    unlock(d);
    return r;
}

void db_tx_rollback(db *d) {
    sqlite3_exec(d->conn, "ROLLBACK", NULL, NULL, NULL);
    d->in_tx = 0;
    unlock(d);
}

/* ---- instances */

db_rc db_instance_add(db *d, const db_instance *in) {
    lock(d);
    sqlite3_stmt *s = stmt(d, S_INST_ADD);
    bind_text(s, 1, in->sop_uid);
    bind_text(s, 2, in->study_uid);
    bind_text(s, 3, in->series_uid);
    bind_text(s, 4, in->sop_class);
    bind_text(s, 5, in->view_key);
    bind_text(s, 6, in->laterality);
    bind_text(s, 7, in->view);
    bind_text(s, 8, in->modifiers);
    bind_text(s, 9, in->presentation_intent);
    bind_text(s, 10, in->acq_datetime);
    bind_text(s, 11, in->path);
    sqlite3_bind_int64(s, 12, in->size);
    if (in->sha256[0]) bind_text(s, 13, in->sha256);
    else sqlite3_bind_null(s, 13);
    sqlite3_bind_int64(s, 14, in->received_at);
    int rc = sqlite3_step(s);
    db_rc r = DB_OK;
    if (rc != SQLITE_DONE) r = fail(d, rc);
    else if (sqlite3_changes(d->conn) == 0) {
        r = DB_DUPLICATE;
        sqlite3_stmt *c = stmt(d, S_DUP_INC);
        rc = sqlite3_step(c);
        if (rc != SQLITE_DONE) r = fail(d, rc);
    }
    unlock(d);
    return r;
}

db_rc db_instance_exists(db *d, const char *sop_uid, int *out_exists) {
    lock(d);
    sqlite3_stmt *s = stmt(d, S_INST_EXISTS);
    bind_text(s, 1, sop_uid);
    int rc = sqlite3_step(s);
    db_rc r = DB_OK;
    if (rc == SQLITE_ROW) *out_exists = 1;
    else if (rc == SQLITE_DONE) *out_exists = 0;
    else r = fail(d, rc);
    sqlite3_reset(s);
    unlock(d);
    return r;
}

static void read_instance(sqlite3_stmt *s, db_instance *o) {
    memset(o, 0, sizeof *o);
    copy_col(o->sop_uid, sizeof o->sop_uid, s, 0);
    copy_col(o->study_uid, sizeof o->study_uid, s, 1);
    copy_col(o->series_uid, sizeof o->series_uid, s, 2);
    copy_col(o->sop_class, sizeof o->sop_class, s, 3);
    copy_col(o->view_key, sizeof o->view_key, s, 4);
    copy_col(o->laterality, sizeof o->laterality, s, 5);
    copy_col(o->view, sizeof o->view, s, 6);
    copy_col(o->modifiers, sizeof o->modifiers, s, 7);
    copy_col(o->presentation_intent, sizeof o->presentation_intent, s, 8);
    copy_col(o->acq_datetime, sizeof o->acq_datetime, s, 9);
    copy_col(o->path, sizeof o->path, s, 10);
    o->size = sqlite3_column_int64(s, 11);
    copy_col(o->sha256, sizeof o->sha256, s, 12);
    o->received_at = sqlite3_column_int64(s, 13);
}

db_rc db_study_instances(db *d, const char *study_uid, db_instance **out_list, int *out_n) {
    *out_list = NULL;
    *out_n = 0;
    lock(d);
    sqlite3_stmt *s = stmt(d, S_INST_OF_STUDY);
    bind_text(s, 1, study_uid);
    int cap = 0, n = 0, rc;
    db_instance *list = NULL;
    db_rc r = DB_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            db_instance *nl = realloc(list, (size_t)cap * sizeof *list);
            if (!nl) {
                snprintf(d->errmsg, sizeof d->errmsg, "out of memory");
                r = DB_ERROR;
                break;
            }
            list = nl;
        }
        read_instance(s, &list[n++]);
    }
    if (r == DB_OK && rc != SQLITE_DONE) r = fail(d, rc);
    sqlite3_reset(s);
    unlock(d);
    if (r != DB_OK) {
        free(list);
        return r;
    }
    *out_list = list;
    *out_n = n;
    return DB_OK;
}

/* ---- studies */

static void read_study(sqlite3_stmt *s, db_study *o) {
    memset(o, 0, sizeof *o);
    o->id = sqlite3_column_int64(s, 0);
    copy_col(o->uid, sizeof o->uid, s, 1);
    o->state = (db_state)sqlite3_column_int(s, 2);
    copy_col(o->patient_id, sizeof o->patient_id, s, 3);
    copy_col(o->accession, sizeof o->accession, s, 4);
    o->first_at = sqlite3_column_int64(s, 5);
    o->last_at = sqlite3_column_int64(s, 6);
    o->stable_deadline = sqlite3_column_int64(s, 7);
    o->max_deadline = sqlite3_column_int64(s, 8);
    o->state_at = sqlite3_column_int64(s, 9);
    o->attempts = sqlite3_column_int(s, 10);
    o->complete = sqlite3_column_int(s, 11);
    o->rescore_pending = sqlite3_column_int(s, 12);
    copy_col(o->reason, sizeof o->reason, s, 13);
    o->result_version = sqlite3_column_int(s, 14);
    o->n_instances = sqlite3_column_int(s, 15);
}

db_rc db_study_get(db *d, const char *uid, db_study *out_study) {
    lock(d);
    sqlite3_stmt *s = stmt(d, S_STUDY_GET);
    bind_text(s, 1, uid);
    int rc = sqlite3_step(s);
    db_rc r = DB_OK;
    if (rc == SQLITE_ROW) read_study(s, out_study);
    else if (rc == SQLITE_DONE) r = DB_NOTFOUND;
    else r = fail(d, rc);
    sqlite3_reset(s);
    unlock(d);
    return r;
}

/* Parameters ?1..?9, shared by S_STUDY_INSERT and S_STUDY_UPDATE. */
static void bind_study_columns(sqlite3_stmt *s, const db_study *in) {
    bind_text(s, 1, in->uid);
    sqlite3_bind_int(s, 2, (int)in->state);
    bind_text(s, 3, in->patient_id);
    bind_text(s, 4, in->accession);
    sqlite3_bind_int64(s, 5, in->first_at);
    sqlite3_bind_int64(s, 6, in->last_at);
    sqlite3_bind_int64(s, 7, in->stable_deadline);
    sqlite3_bind_int64(s, 8, in->max_deadline);
    sqlite3_bind_int64(s, 9, in->state_at);
}

db_rc db_study_ensure(db *d, const db_study *in, int *out_created) {
    lock(d);
    sqlite3_stmt *s = stmt(d, S_STUDY_INSERT);
    bind_study_columns(s, in);
    int rc = sqlite3_step(s);
    db_rc r = DB_OK;
    if (rc != SQLITE_DONE) r = fail(d, rc);
    else {
        *out_created = sqlite3_changes(d->conn) > 0;
        if (*out_created) r = db_change_add(d, "NewStudy", in->uid, in->first_at);
    }
    unlock(d);
    return r;
}

static const char *const change_types[DB_STATE_COUNT] = {
    "StudyReceiving", "StudyComplete", "StudyTimedOut", "StudyQueued",
    "StudyScoring", "StudyScored", "StudyFailed",
};

db_rc db_study_update(db *d, const db_study *in) {
    db_study old;
    lock(d);
    db_rc r = db_study_get(d, in->uid, &old);
    if (r != DB_OK) goto out;
    sqlite3_stmt *s = stmt(d, S_STUDY_UPDATE);
    bind_study_columns(s, in);
    sqlite3_bind_int(s, 10, in->attempts);
    sqlite3_bind_int(s, 11, in->complete);
    sqlite3_bind_int(s, 12, in->rescore_pending);
    bind_text(s, 13, in->reason);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        r = fail(d, rc);
        goto out;
    }
    if (old.state != in->state) r = db_change_add(d, change_types[in->state], in->uid, in->state_at);
out:
    unlock(d);
    return r;
}

db_rc db_study_set_state(db *d, const char *uid, db_state state, const char *reason,
                         int64_t now) {
    lock(d);
    sqlite3_stmt *s = stmt(d, S_STUDY_STATE);
    bind_text(s, 1, uid);
    sqlite3_bind_int(s, 2, (int)state);
    bind_text(s, 3, reason);
    sqlite3_bind_int64(s, 4, now);
    int rc = sqlite3_step(s);
    db_rc r = DB_OK;
    if (rc != SQLITE_DONE) r = fail(d, rc);
    else if (sqlite3_changes(d->conn) == 0) r = DB_NOTFOUND;
    else r = db_change_add(d, change_types[state], uid, now);
    unlock(d);
    return r;
}

db_rc db_studies_list(db *d, int state, int64_t before_id, int limit, db_study *out,
                      int *out_n, int *out_more) {
    *out_n = 0;
    *out_more = 0;
    lock(d);
    sqlite3_stmt *s = stmt(d, state >= 0 ? S_STUDIES_LIST_STATE : S_STUDIES_LIST);
    sqlite3_bind_int64(s, 1, before_id > 0 ? before_id : INT64_MAX);
    sqlite3_bind_int(s, 2, limit + 1);
    if (state >= 0) sqlite3_bind_int(s, 3, state);
    int rc, n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == limit) {
            *out_more = 1;
            continue;
        }
        read_study(s, &out[n++]);
    }
    db_rc r = rc == SQLITE_DONE ? DB_OK : fail(d, rc);
    sqlite3_reset(s);
    *out_n = n;
    unlock(d);
    return r;
}

db_rc db_study_claim_next(db *d, int64_t now, db_study *out_study) {
    char uid[65] = "";
    lock(d);
    db_rc r = db_tx_begin(d);
    if (r != DB_OK) goto out;
    sqlite3_stmt *s = stmt(d, S_STUDY_CLAIM);
    sqlite3_bind_int(s, 1, DB_STATE_QUEUED);
    sqlite3_bind_int(s, 2, DB_STATE_SCORING);
    sqlite3_bind_int64(s, 3, now);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) copy_col(uid, sizeof uid, s, 0);
    else if (rc != SQLITE_DONE) r = fail(d, rc);
    sqlite3_reset(s);
    if (r == DB_OK && uid[0]) r = db_change_add(d, change_types[DB_STATE_SCORING], uid, now);
    if (r == DB_OK && uid[0]) r = db_study_get(d, uid, out_study);
    if (r != DB_OK) {
        db_tx_rollback(d);
        goto out;
    }
    r = db_tx_commit(d);
    if (r == DB_OK && !uid[0]) r = DB_NOTFOUND;
out:
    unlock(d);
    return r;
}

static db_rc uid_rows(db *d, sqlite3_stmt *s, char (*out_uids)[65], int max, int *out_n) {
    int rc, n = 0;
    while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) copy_col(out_uids[n++], 65, s, 0);
    if (n < max && rc != SQLITE_DONE) {
        sqlite3_reset(s);
        return fail(d, rc);
    }
    sqlite3_reset(s);
    *out_n = n;
    return DB_OK;
}

db_rc db_studies_due(db *d, int64_t now, char (*out_uids)[65], int max, int *out_n) {
    lock(d);
    sqlite3_stmt *s = stmt(d, S_STUDIES_DUE);
    sqlite3_bind_int(s, 1, DB_STATE_RECEIVING);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int(s, 3, max);
    db_rc r = uid_rows(d, s, out_uids, max, out_n);
    unlock(d);
    return r;
}

db_rc db_studies_in_state(db *d, db_state state, char (*out_uids)[65], int max, int *out_n) {
    lock(d);
    sqlite3_stmt *s = stmt(d, S_STUDIES_IN_STATE);
    sqlite3_bind_int(s, 1, (int)state);
    sqlite3_bind_int(s, 2, max);
    db_rc r = uid_rows(d, s, out_uids, max, out_n);
    unlock(d);
    return r;
}

db_rc db_study_count_by_state(db *d, int64_t out_counts[DB_STATE_COUNT]) {
    for (int i = 0; i < DB_STATE_COUNT; i++) out_counts[i] = 0;
    lock(d);
    sqlite3_stmt *s = stmt(d, S_STUDY_COUNTS);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int st = sqlite3_column_int(s, 0);
        if (st >= 0 && st < DB_STATE_COUNT) out_counts[st] = sqlite3_column_int64(s, 1);
    }
    db_rc r = rc == SQLITE_DONE ? DB_OK : fail(d, rc);
    sqlite3_reset(s);
    unlock(d);
    return r;
}

/* ---- results */

db_rc db_result_add(db *d, const char *study_uid, const char *model_id, const char *json,
                    const char *timings_json, int64_t now, int *out_version) {
    lock(d);
    db_rc r = db_tx_begin(d);
    if (r != DB_OK) goto out;
    sqlite3_stmt *s = stmt(d, S_RESULT_MAXV);
    bind_text(s, 1, study_uid);
    int rc = sqlite3_step(s);
    int version = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) + 1 : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW) {
        r = fail(d, rc);
        goto rollback;
    }
    s = stmt(d, S_RESULT_ADD);
    bind_text(s, 1, study_uid);
    sqlite3_bind_int(s, 2, version);
    bind_text(s, 3, model_id);
    bind_text(s, 4, json);
    bind_text(s, 5, timings_json ? timings_json : "{}");
    sqlite3_bind_int64(s, 6, now);
    if ((rc = sqlite3_step(s)) != SQLITE_DONE) {
        r = fail(d, rc);
        goto rollback;
    }
    s = stmt(d, S_STUDY_SET_RV);
    bind_text(s, 1, study_uid);
    sqlite3_bind_int(s, 2, version);
    if ((rc = sqlite3_step(s)) != SQLITE_DONE) {
        r = fail(d, rc);
        goto rollback;
    }
    if ((r = db_change_add(d, "NewResult", study_uid, now)) != DB_OK) goto rollback;
    r = db_tx_commit(d);
    if (r == DB_OK && out_version) *out_version = version;
    goto out;
rollback:
    db_tx_rollback(d);
out:
    unlock(d);
    return r;
}

db_rc db_results_list(db *d, const char *study_uid, db_result **out_list, int *out_n) {
    *out_list = NULL;
    *out_n = 0;
    lock(d);
    sqlite3_stmt *s = stmt(d, S_RESULTS_LIST);
    bind_text(s, 1, study_uid);
    int rc, n = 0, cap = 0;
    db_result *list = NULL;
    db_rc r = DB_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            db_result *nl = realloc(list, (size_t)cap * sizeof *list);
            if (!nl) {
                r = DB_ERROR;
                break;
            }
            list = nl;
        }
        db_result *o = &list[n++];
        memset(o, 0, sizeof *o);
        o->version = sqlite3_column_int(s, 0);
        copy_col(o->model_id, sizeof o->model_id, s, 1);
        const char *j = (const char *)sqlite3_column_text(s, 2);
        const char *t = (const char *)sqlite3_column_text(s, 3);
        o->json = strdup(j ? j : "null");
        o->timings_json = strdup(t ? t : "{}");
        o->created_at = sqlite3_column_int64(s, 4);
        if (!o->json || !o->timings_json) {
            r = DB_ERROR;
            break;
        }
    }
    if (r == DB_OK && rc != SQLITE_DONE) r = fail(d, rc);
    if (r == DB_ERROR && !d->errmsg[0]) snprintf(d->errmsg, sizeof d->errmsg, "out of memory");
    sqlite3_reset(s);
    unlock(d);
    if (r != DB_OK) {
        db_results_free(list, n);
        return r;
    }
    *out_list = list;
    *out_n = n;
    return DB_OK;
}

void db_results_free(db_result *list, int n) {
    for (int i = 0; i < n; i++) {
        free(list[i].json);
        free(list[i].timings_json);
    }
    free(list);
}

/* ---- changes */

db_rc db_change_add(db *d, const char *type, const char *study_uid, int64_t at) {
    lock(d);
    sqlite3_stmt *s = stmt(d, S_CHANGE_ADD);
    bind_text(s, 1, type);
    bind_text(s, 2, study_uid);
    sqlite3_bind_int64(s, 3, at);
    int rc = sqlite3_step(s);
    db_rc r = rc == SQLITE_DONE ? DB_OK : fail(d, rc);
    unlock(d);
    return r;
}

db_rc db_changes_since(db *d, int64_t since, int limit, db_change *out, int *out_n,
                       int *out_done) {
    *out_n = 0;
    *out_done = 1;
    lock(d);
    sqlite3_stmt *s = stmt(d, S_CHANGES_SINCE);
    sqlite3_bind_int64(s, 1, since);
    sqlite3_bind_int(s, 2, limit + 1);
    int rc, n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == limit) {
            *out_done = 0;
            continue;
        }
        db_change *c = &out[n++];
        c->seq = sqlite3_column_int64(s, 0);
        copy_col(c->type, sizeof c->type, s, 1);
        copy_col(c->study_uid, sizeof c->study_uid, s, 2);
        c->at = sqlite3_column_int64(s, 3);
    }
    db_rc r = rc == SQLITE_DONE ? DB_OK : fail(d, rc);
    sqlite3_reset(s);
    *out_n = n;
    unlock(d);
    return r;
}

static db_rc one_int64(db *d, int id, const char *arg, int64_t *out) {
    lock(d);
    sqlite3_stmt *s = stmt(d, id);
    if (arg) bind_text(s, 1, arg);
    int rc = sqlite3_step(s);
    db_rc r = DB_OK;
    if (rc == SQLITE_ROW) *out = sqlite3_column_int64(s, 0);
    else if (rc == SQLITE_DONE) *out = 0;
    else r = fail(d, rc);
    sqlite3_reset(s);
    unlock(d);
    return r;
}

db_rc db_changes_last(db *d, int64_t *out_seq) { return one_int64(d, S_CHANGES_LAST, NULL, out_seq); }

db_rc db_counter_add(db *d, const char *name, int64_t delta) {
    lock(d);
    sqlite3_stmt *s = stmt(d, S_COUNTER_ADD);
    bind_text(s, 1, name);
    sqlite3_bind_int64(s, 2, delta);
    int rc = sqlite3_step(s);
    db_rc r = rc == SQLITE_DONE ? DB_OK : fail(d, rc);
    unlock(d);
    return r;
}

db_rc db_counter_get(db *d, const char *name, int64_t *out_value) {
    return one_int64(d, S_COUNTER_GET, name, out_value);
}

db_rc db_instance_totals(db *d, int64_t *out_count, int64_t *out_bytes) {
    lock(d);
    sqlite3_stmt *s = stmt(d, S_INST_TOTALS);
    int rc = sqlite3_step(s);
    db_rc r = DB_OK;
    if (rc == SQLITE_ROW) {
        *out_count = sqlite3_column_int64(s, 0);
        *out_bytes = sqlite3_column_int64(s, 1);
    } else r = fail(d, rc);
    sqlite3_reset(s);
    unlock(d);
    return r;
}

db_rc db_integrity_check(db *d, int *out_ok) {
    sqlite3_stmt *s = NULL;
    lock(d);
    int rc = sqlite3_prepare_v2(d->conn, "PRAGMA integrity_check", -1, &s, NULL);
    db_rc r = DB_OK;
    *out_ok = 0;
    if (rc != SQLITE_OK) r = fail(d, rc);
    else if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        *out_ok = strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
    else r = fail(d, rc);
    sqlite3_finalize(s);
    unlock(d);
    return r;
}
