/* db_internal.h: private to db/: the connection struct and the schema migrator. */
#ifndef MAMA_DB_INTERNAL_H
#define MAMA_DB_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>

#include "db/db.h"

int db_schema_migrate(sqlite3 *conn, char *err, size_t errlen);

/* For the query files beside db.c (db_outbox.c): the connection, the handle's mutex and
 * the error rule of db.c (DB_FULL on SQLITE_FULL / I/O errors, message in db_errmsg). */
sqlite3 *db_conn(db *d);
void db_lock(db *d);
void db_unlock(db *d);
db_rc db_fail(db *d, int sqlite_rc);

/* Binds a C string (NULL as ""), copied by SQLite. */
static inline void db_bind_text(sqlite3_stmt *s, int i, const char *v) {
    sqlite3_bind_text(s, i, v ? v : "", -1, SQLITE_TRANSIENT);
}

#endif
