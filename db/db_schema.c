/* db_schema.c: the index schema as an ordered list of migrations. PRAGMA user_version
 * holds the number of migrations applied; each migration runs in its own transaction
 * together with the user_version bump, so a crash leaves the schema at a whole version.
 * A new schema change is a new entry at the end; old entries never change. */
#include "db/db_internal.h"

#include <stdio.h>

static const char *const migrations[] = {
    /* 1: the initial schema */
    "CREATE TABLE instances ("
    "  sop_uid TEXT PRIMARY KEY,"
    "  study_uid TEXT NOT NULL,"
    "  series_uid TEXT NOT NULL DEFAULT '',"
    "  sop_class TEXT NOT NULL DEFAULT '',"
    "  view_key TEXT NOT NULL DEFAULT '',"
    "  laterality TEXT NOT NULL DEFAULT '',"
    "  view TEXT NOT NULL DEFAULT '',"
    "  modifiers TEXT NOT NULL DEFAULT '',"
    "  presentation_intent TEXT NOT NULL DEFAULT '',"
    "  acq_datetime TEXT NOT NULL DEFAULT '',"
    "  path TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  sha256 TEXT,"
    "  received_at INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX instances_study ON instances(study_uid, received_at);"
    "CREATE TABLE studies ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  uid TEXT NOT NULL UNIQUE,"
    "  state INTEGER NOT NULL,"
    "  patient_id TEXT NOT NULL DEFAULT '',"
    "  accession TEXT NOT NULL DEFAULT '',"
    "  first_at INTEGER NOT NULL,"
    "  last_at INTEGER NOT NULL,"
    "  stable_deadline INTEGER NOT NULL,"
    "  max_deadline INTEGER NOT NULL,"
    "  state_at INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  complete INTEGER NOT NULL DEFAULT 0,"
    "  rescore_pending INTEGER NOT NULL DEFAULT 0,"
    "  reason TEXT NOT NULL DEFAULT '',"
    "  result_version INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX studies_state ON studies(state, id);"
    "CREATE TABLE results ("
    "  study_uid TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  model_id TEXT NOT NULL,"
    "  json TEXT NOT NULL,"
    "  timings_json TEXT NOT NULL DEFAULT '{}',"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (study_uid, version)"
    ") WITHOUT ROWID;"
    "CREATE TABLE changes ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  type TEXT NOT NULL,"
    "  study_uid TEXT NOT NULL,"
    "  at INTEGER NOT NULL"
    ");"
    "CREATE TABLE counters ("
    "  name TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "INSERT INTO counters(name, value) VALUES ('duplicates', 0);",
    /* 2: objects derived from results (CAD SR, overview, thumbnails), the outbox of
     * objects to send to the [forward] destinations, deletions in progress (issue 16;
     * db_outbox.c, db_retention.c) */
    "CREATE TABLE result_objects ("
    "  study_uid TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  sop_uid TEXT NOT NULL DEFAULT '',"
    "  sop_class TEXT NOT NULL DEFAULT '',"
    "  path TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (study_uid, version, kind)"
    ") WITHOUT ROWID;"
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  study_uid TEXT NOT NULL,"
    "  version INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  destination TEXT NOT NULL,"
    "  state INTEGER NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_at INTEGER NOT NULL,"
    "  last_error TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL,"
    "  sent_at INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE (study_uid, version, kind, destination)"
    ");"
    "CREATE INDEX outbox_due ON outbox(state, next_at);"
    /* a study being deleted: its files go first, then its rows and this row in one
     * transaction, so an interrupted deletion is finished at start (db_retention.c) */
    "CREATE TABLE deletions ("
    "  study_uid TEXT PRIMARY KEY,"
    "  reason TEXT NOT NULL,"
    "  started_at INTEGER NOT NULL"
    ") WITHOUT ROWID;",
};

int db_schema_migrate(sqlite3 *conn, char *err, size_t errlen) {
    const int n = (int)(sizeof migrations / sizeof migrations[0]);
    sqlite3_stmt *st = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(conn, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) goto fail;
    if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (version > n) {
        snprintf(err, errlen,
                 "index schema version %d is newer than this mamad knows (%d): "
                 "run the newer mamad or restore a matching backup", version, n);
        return -1;
    }
    for (int v = version; v < n; v++) {
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
        if (sqlite3_exec(conn, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) goto fail;
        if (sqlite3_exec(conn, migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(conn, bump, NULL, NULL, NULL) != SQLITE_OK) {
            snprintf(err, errlen, "migration to schema version %d failed: %s", v + 1,
                     sqlite3_errmsg(conn));
            sqlite3_exec(conn, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        if (sqlite3_exec(conn, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) goto fail;
    }
    return 0;
fail:
    snprintf(err, errlen, "reading or migrating the schema failed: %s", sqlite3_errmsg(conn));
    if (st) sqlite3_finalize(st);
    return -1;
}
