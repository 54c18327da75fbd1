/* db_outbox.c: result objects and the outbox (see db.h), written once for both backends
 * through the statement table of db_sql.c (prepared once per connection, like every
 * other query). */
#include "db/db_internal.h"

#include <stdio.h>
#include <string.h>

static const char *const outbox_states[DB_OUTBOX_NSTATES] = {"pending", "sent", "failed"};

const char *db_outbox_state_name(int state) {
    return state >= 0 && state < DB_OUTBOX_NSTATES ? outbox_states[state] : "unknown";
}

db_rc db_object_put(db *d, const db_object *o) {
    return WRITE(NULL, S_OBJ_PUT, A_TEXT(o->study_uid), A_INT(o->version), A_TEXT(o->kind),
                 A_TEXT(o->sop_uid), A_TEXT(o->sop_class), A_TEXT(o->path), A_INT(o->size),
                 A_INT(o->created_at));
}

db_rc db_object_get(db *d, const char *study_uid, int version, const char *kind, db_object *out) {
    db_thread *t;
    db_rc r = RUN(S_OBJ_GET, A_TEXT(study_uid), A_INT(version), A_TEXT(kind));
    if (r != DB_OK) return r;
    int s = NEXT();
    if (s == 1) {
        memset(out, 0, sizeof *out);
        db_copy_col(d, t, out->study_uid, sizeof out->study_uid, 0);
        out->version = (int)COL_INT(1);
        db_copy_col(d, t, out->kind, sizeof out->kind, 2);
        db_copy_col(d, t, out->sop_uid, sizeof out->sop_uid, 3);
        db_copy_col(d, t, out->sop_class, sizeof out->sop_class, 4);
        db_copy_col(d, t, out->path, sizeof out->path, 5);
        out->size = COL_INT(6);
        out->created_at = COL_INT(7);
    }
    r = db_end_read(d, t, s);
    return r == DB_OK && s == 0 ? DB_NOTFOUND : r;
}

db_rc db_outbox_add(db *d, const char *study_uid, int version, const char *kind,
                    const char *destination, int64_t now) {
    return WRITE(NULL, S_OUTBOX_ADD, A_TEXT(study_uid), A_INT(version), A_TEXT(kind),
                 A_TEXT(destination), A_INT(now));
}

static db_rc outbox_rows(db *d, db_thread *t, db_outbox *out, int max, int *out_n) {
    int s = 0, n = 0;
    while (n < max && (s = NEXT()) == 1) {
        db_outbox *o = &out[n++];
        memset(o, 0, sizeof *o);
        o->id = COL_INT(0);
        db_copy_col(d, t, o->study_uid, sizeof o->study_uid, 1);
        o->version = (int)COL_INT(2);
        db_copy_col(d, t, o->kind, sizeof o->kind, 3);
        db_copy_col(d, t, o->destination, sizeof o->destination, 4);
        o->state = (int)COL_INT(5);
        o->attempts = (int)COL_INT(6);
        o->next_at = COL_INT(7);
        db_copy_col(d, t, o->last_error, sizeof o->last_error, 8);
        o->created_at = COL_INT(9);
        o->sent_at = COL_INT(10);
    }
    *out_n = n;
    return db_end_read(d, t, s);
}

db_rc db_outbox_due(db *d, int64_t now, db_outbox *out, int max, int *out_n) {
    db_thread *t;
    *out_n = 0;
    db_rc r = RUN(S_OUTBOX_DUE, A_INT(now), A_INT(max));
    return r == DB_OK ? outbox_rows(d, t, out, max, out_n) : r;
}

db_rc db_outbox_of_study(db *d, const char *study_uid, db_outbox *out, int max, int *out_n) {
    db_thread *t;
    *out_n = 0;
    db_rc r = RUN(S_OUTBOX_OF_STUDY, A_TEXT(study_uid), A_INT(max));
    return r == DB_OK ? outbox_rows(d, t, out, max, out_n) : r;
}

db_rc db_outbox_next_due(db *d, int64_t *out_at, int *out_found) {
    db_thread *t;
    *out_found = 0;
    db_rc r = RUN0(S_OUTBOX_NEXT_DUE);
    if (r != DB_OK) return r;
    int s = NEXT();
    if (s == 1 && COL_INT(0) > 0) {
        *out_at = COL_INT(1);
        *out_found = 1;
    }
    return db_end_read(d, t, s);
}

db_rc db_outbox_mark_sent(db *d, int64_t id, int64_t now) {
    return WRITE(NULL, S_OUTBOX_SENT, A_INT(id), A_INT(now));
}

db_rc db_outbox_mark_retry(db *d, int64_t id, int64_t next_at, const char *error, int give_up) {
    return WRITE(NULL, S_OUTBOX_RETRY, A_INT(id), A_INT(next_at), A_TEXT(error),
                 A_INT(give_up ? DB_OUTBOX_FAILED : DB_OUTBOX_PENDING));
}

db_rc db_outbox_counts(db *d, int64_t out_counts[DB_OUTBOX_NSTATES]) {
    for (int i = 0; i < DB_OUTBOX_NSTATES; i++) out_counts[i] = 0;
    db_thread *t;
    db_rc r = RUN0(S_OUTBOX_COUNTS);
    if (r != DB_OK) return r;
    int s;
    while ((s = NEXT()) == 1) {
        int64_t st = COL_INT(0);
        if (st >= 0 && st < DB_OUTBOX_NSTATES) out_counts[st] = COL_INT(1);
    }
    return db_end_read(d, t, s);
}
