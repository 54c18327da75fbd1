/* db_retention.c: deletion bookkeeping and the retention queries (see db.h), written once
 * for both backends through the statement table of db_sql.c. */
#include "db/db_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One integer of a statement with one text parameter (-1 when no row). */
static db_rc int_of(db *d, db_sql_id id, const char *arg, int64_t *out) {
    db_thread *t;
    db_rc r = RUN(id, A_TEXT(arg));
    if (r != DB_OK) return r;
    int s = NEXT();
    *out = s == 1 ? COL_INT(0) : -1;
    return db_end_read(d, t, s);
}

db_rc db_deletion_begin(db *d, const char *study_uid, const char *reason, int force, int64_t now,
                        db_delete_rc *out_refused) {
    *out_refused = DB_DELETE_OK;
    db_rc r = db_tx_begin(d);
    if (r != DB_OK) return r;
    int64_t state = -1, undelivered = 0;
    r = int_of(d, S_DEL_STATE, study_uid, &state);
    if (r == DB_OK && state < 0) r = DB_NOTFOUND;
    if (r == DB_OK && state != DB_STATE_SCORED && state != DB_STATE_FAILED) *out_refused = DB_DELETE_BUSY;
    if (r == DB_OK && !*out_refused && !force) {
        r = int_of(d, S_DEL_UNDELIVERED, study_uid, &undelivered);
        if (r == DB_OK && undelivered > 0) *out_refused = DB_DELETE_UNDELIVERED;
    }
    if (r == DB_OK && !*out_refused)
        r = WRITE(NULL, S_DEL_INTENT_ADD, A_TEXT(study_uid), A_TEXT(reason), A_INT(now));
    if (r == DB_OK && *out_refused) {   /* nothing written: end the transaction cleanly */
        db_tx_rollback(d);
        return DB_OK;
    }
    return db_tx_end(d, r);
}

db_rc db_deletion_finish(db *d, const char *study_uid, int64_t now) {
    static const db_sql_id steps[] = {S_DEL_INSTANCES, S_DEL_RESULTS, S_DEL_OBJECTS, S_DEL_OUTBOX,
                                      S_DEL_STUDY, S_DEL_INTENT};
    db_rc r = db_tx_begin(d);
    if (r != DB_OK) return r;
    for (size_t i = 0; r == DB_OK && i < sizeof steps / sizeof steps[0]; i++)
        r = WRITE(NULL, steps[i], A_TEXT(study_uid));
    if (r == DB_OK) r = db_change_add(d, "StudyDeleted", study_uid, now);
    return db_tx_end(d, r);
}

static db_rc uid_rows(db *d, db_thread *t, char (*out)[65], int max, int *out_n) {
    int s = 0, n = 0;
    while (n < max && (s = NEXT()) == 1) db_copy_col(d, t, out[n++], 65, 0);
    *out_n = n;
    return db_end_read(d, t, s);
}

db_rc db_deletions_pending(db *d, char (*out_uids)[65], int max, int *out_n) {
    db_thread *t;
    *out_n = 0;
    db_rc r = RUN0(S_DEL_PENDING);
    return r == DB_OK ? uid_rows(d, t, out_uids, max, out_n) : r;
}

db_rc db_retention_candidates(db *d, int64_t before, char (*out_uids)[65], int max, int *out_n) {
    db_thread *t;
    *out_n = 0;
    db_rc r = RUN(S_RETENTION, A_INT(DB_STATE_SCORED), A_INT(DB_STATE_FAILED), A_INT(before), A_INT(max));
    return r == DB_OK ? uid_rows(d, t, out_uids, max, out_n) : r;
}

db_rc db_storage_bytes(db *d, int64_t *out_bytes) {
    db_thread *t;
    db_rc r = RUN0(S_STORAGE_BYTES);
    if (r != DB_OK) return r;
    int s = NEXT();
    *out_bytes = s == 1 ? COL_INT(0) : 0;
    return db_end_read(d, t, s);
}

db_rc db_study_files(db *d, const char *study_uid, char ***out_paths, int *out_n) {
    *out_paths = NULL;
    *out_n = 0;
    db_thread *t;
    db_rc r = RUN(S_STUDY_FILES, A_TEXT(study_uid));
    if (r != DB_OK) return r;
    char **paths = NULL;
    int n = 0, cap = 0, s;
    while ((s = NEXT()) == 1) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **np = realloc(paths, (size_t)cap * sizeof *np);
            if (!np) {
                s = db_fail(t, DB_ERROR, "out of memory");
                break;
            }
            paths = np;
        }
        if (!(paths[n] = strdup(COL_TEXT(0)))) {
            s = db_fail(t, DB_ERROR, "out of memory");
            break;
        }
        n++;
    }
    r = db_end_read(d, t, s);
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
