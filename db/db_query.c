/* db_query.c: the small helpers every query file uses to run a statement of db_sql.c and
 * read its rows through the backend (declared in db_internal.h beside RUN/NEXT/COL_*). */
#include "db/db_internal.h"

#include <stdio.h>

db_rc db_run_write(db *d, db_sql_id id, const db_arg *args, int nargs, int64_t *out_changed) {
    db_thread *t;
    db_rc r = db_q_run(d, &t, id, args, nargs);
    if (r == DB_OK) {
        if (out_changed) *out_changed = d->be->changes(t->conn);
        DONE();
    }
    return r;
}

db_rc db_end_read(db *d, db_thread *t, int step_rc) {
    DONE();
    return step_rc < 0 ? (db_rc)step_rc : DB_OK;
}

db_rc db_tx_end(db *d, db_rc r) {
    if (r < 0) {
        db_tx_rollback(d);
        return r;
    }
    db_rc c = db_tx_commit(d);
    return c == DB_OK ? r : c;
}

void db_copy_col(db *d, db_thread *t, char *dst, size_t n, int col) {
    snprintf(dst, n, "%s", COL_TEXT(col));
}
