/* db_outbox.c: result objects and the outbox (schema migration 2; see db.h). Statements
 * are prepared per call with bound parameters: these run a few times per study, not per
 * instance, so they stay out of db.c's per-connection statement table. */
#include "db/db_internal.h"

#include <stdio.h>
#include <string.h>

static const char *const outbox_states[DB_OUTBOX_NSTATES] = {"pending", "sent", "failed"};

const char *db_outbox_state_name(int state) {
    return state >= 0 && state < DB_OUTBOX_NSTATES ? outbox_states[state] : "unknown";
}

static void copy_col(char *dst, size_t n, sqlite3_stmt *s, int col) {
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(dst, n, "%s", t ? (const char *)t : "");
}

/* Prepares sql under the handle's lock; NULL (and the lock released) on failure. */
static sqlite3_stmt *prep(db *d, const char *sql, db_rc *out_rc) {
    sqlite3_stmt *s = NULL;
    db_lock(d);
    int rc = sqlite3_prepare_v2(db_conn(d), sql, -1, &s, NULL);
    if (rc != SQLITE_OK) {
        *out_rc = db_fail(d, rc);
        db_unlock(d);
        return NULL;
    }
    return s;
}

/* Steps a statement that returns no rows, finalizes it, releases the lock. */
static db_rc run(db *d, sqlite3_stmt *s) {
    int rc = sqlite3_step(s);
    db_rc r = rc == SQLITE_DONE ? DB_OK : db_fail(d, rc);
    sqlite3_finalize(s);
    db_unlock(d);
    return r;
}

db_rc db_object_put(db *d, const db_object *o) {
    db_rc r = DB_OK;
    sqlite3_stmt *s = prep(d, "INSERT OR REPLACE INTO result_objects(study_uid, version, kind, sop_uid, "
                              "sop_class, path, size, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8)", &r);
    if (!s) return r;
    db_bind_text(s, 1, o->study_uid);
    sqlite3_bind_int(s, 2, o->version);
    db_bind_text(s, 3, o->kind);
    db_bind_text(s, 4, o->sop_uid);
    db_bind_text(s, 5, o->sop_class);
    db_bind_text(s, 6, o->path);
    sqlite3_bind_int64(s, 7, o->size);
    sqlite3_bind_int64(s, 8, o->created_at);
    return run(d, s);
}

db_rc db_object_get(db *d, const char *study_uid, int version, const char *kind, db_object *out) {
    db_rc r = DB_OK;
    sqlite3_stmt *s = prep(d, "SELECT study_uid, version, kind, sop_uid, sop_class, path, size, created_at "
                              "FROM result_objects WHERE study_uid = ?1 AND kind = ?3 AND "
                              "(?2 = 0 OR version = ?2) ORDER BY version DESC LIMIT 1", &r);
    if (!s) return r;
    db_bind_text(s, 1, study_uid);
    sqlite3_bind_int(s, 2, version);
    db_bind_text(s, 3, kind);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        memset(out, 0, sizeof *out);
        copy_col(out->study_uid, sizeof out->study_uid, s, 0);
        out->version = sqlite3_column_int(s, 1);
        copy_col(out->kind, sizeof out->kind, s, 2);
        copy_col(out->sop_uid, sizeof out->sop_uid, s, 3);
        copy_col(out->sop_class, sizeof out->sop_class, s, 4);
        copy_col(out->path, sizeof out->path, s, 5);
        out->size = sqlite3_column_int64(s, 6);
        out->created_at = sqlite3_column_int64(s, 7);
        r = DB_OK;
    } else {
        r = rc == SQLITE_DONE ? DB_NOTFOUND : db_fail(d, rc);
    }
    sqlite3_finalize(s);
    db_unlock(d);
    return r;
}

db_rc db_outbox_add(db *d, const char *study_uid, int version, const char *kind,
                    const char *destination, int64_t now) {
    db_rc r = DB_OK;
    sqlite3_stmt *s = prep(d, "INSERT OR IGNORE INTO outbox(study_uid, version, kind, destination, next_at, "
                              "created_at) VALUES (?1,?2,?3,?4,?5,?5)", &r);
    if (!s) return r;
    db_bind_text(s, 1, study_uid);
    sqlite3_bind_int(s, 2, version);
    db_bind_text(s, 3, kind);
    db_bind_text(s, 4, destination);
    sqlite3_bind_int64(s, 5, now);
    return run(d, s);
}

#define OUTBOX_COLS "id, study_uid, version, kind, destination, state, attempts, next_at, last_error, " \
                    "created_at, sent_at"

static db_rc rows(db *d, sqlite3_stmt *s, db_outbox *out, int max, int *out_n) {
    int rc, n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < max) {
        db_outbox *o = &out[n++];
        o->id = sqlite3_column_int64(s, 0);
        copy_col(o->study_uid, sizeof o->study_uid, s, 1);
        o->version = sqlite3_column_int(s, 2);
        copy_col(o->kind, sizeof o->kind, s, 3);
        copy_col(o->destination, sizeof o->destination, s, 4);
        o->state = sqlite3_column_int(s, 5);
        o->attempts = sqlite3_column_int(s, 6);
        o->next_at = sqlite3_column_int64(s, 7);
        copy_col(o->last_error, sizeof o->last_error, s, 8);
        o->created_at = sqlite3_column_int64(s, 9);
        o->sent_at = sqlite3_column_int64(s, 10);
    }
    db_rc r = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? DB_OK : db_fail(d, rc);
    sqlite3_finalize(s);
    db_unlock(d);
    *out_n = n;
    return r;
}

db_rc db_outbox_due(db *d, int64_t now, db_outbox *out, int max, int *out_n) {
    db_rc r = DB_OK;
    *out_n = 0;
    sqlite3_stmt *s = prep(d, "SELECT " OUTBOX_COLS " FROM outbox WHERE state = 0 AND next_at <= ?1 "
                              "ORDER BY next_at, id LIMIT ?2", &r);
    if (!s) return r;
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int(s, 2, max);
    return rows(d, s, out, max, out_n);
}

db_rc db_outbox_of_study(db *d, const char *study_uid, db_outbox *out, int max, int *out_n) {
    db_rc r = DB_OK;
    *out_n = 0;
    sqlite3_stmt *s = prep(d, "SELECT " OUTBOX_COLS " FROM outbox WHERE study_uid = ?1 ORDER BY id LIMIT ?2", &r);
    if (!s) return r;
    db_bind_text(s, 1, study_uid);
    sqlite3_bind_int(s, 2, max);
    return rows(d, s, out, max, out_n);
}

db_rc db_outbox_next_due(db *d, int64_t *out_at, int *out_found) {
    db_rc r = DB_OK;
    *out_found = 0;
    sqlite3_stmt *s = prep(d, "SELECT MIN(next_at) FROM outbox WHERE state = 0", &r);
    if (!s) return r;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        *out_at = sqlite3_column_int64(s, 0);
        *out_found = 1;
    }
    r = rc == SQLITE_ROW || rc == SQLITE_DONE ? DB_OK : db_fail(d, rc);
    sqlite3_finalize(s);
    db_unlock(d);
    return r;
}

db_rc db_outbox_mark_sent(db *d, int64_t id, int64_t now) {
    db_rc r = DB_OK;
    sqlite3_stmt *s = prep(d, "UPDATE outbox SET state = 1, attempts = attempts + 1, sent_at = ?2, "
                              "last_error = '' WHERE id = ?1", &r);
    if (!s) return r;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, now);
    return run(d, s);
}

db_rc db_outbox_mark_retry(db *d, int64_t id, int64_t next_at, const char *error, int give_up) {
    db_rc r = DB_OK;
    sqlite3_stmt *s = prep(d, "UPDATE outbox SET attempts = attempts + 1, next_at = ?2, last_error = ?3, "
                              "state = ?4 WHERE id = ?1", &r);
    if (!s) return r;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, next_at);
    db_bind_text(s, 3, error);
    sqlite3_bind_int(s, 4, give_up ? DB_OUTBOX_FAILED : DB_OUTBOX_PENDING);
    return run(d, s);
}

db_rc db_outbox_counts(db *d, int64_t out_counts[DB_OUTBOX_NSTATES]) {
    db_rc r = DB_OK;
    for (int i = 0; i < DB_OUTBOX_NSTATES; i++) out_counts[i] = 0;
    sqlite3_stmt *s = prep(d, "SELECT state, COUNT(*) FROM outbox GROUP BY state", &r);
    if (!s) return r;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int st = sqlite3_column_int(s, 0);
        if (st >= 0 && st < DB_OUTBOX_NSTATES) out_counts[st] = sqlite3_column_int64(s, 1);
    }
    r = rc == SQLITE_DONE ? DB_OK : db_fail(d, rc);
    sqlite3_finalize(s);
    db_unlock(d);
    return r;
}
