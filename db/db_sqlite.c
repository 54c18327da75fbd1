/* db_sqlite.c: the SQLite backend (the embedded default). One sqlite3 connection per
 * thread (SQLITE_OPEN_NOMUTEX: the connection never crosses threads), statements
 * prepared on first use and kept; WAL lets those connections read beside the one writer,
 * synchronous=FULL makes each commit durable (in WAL mode NORMAL may lose the last commits
 * on power loss, and a commit acknowledges a C-STORE). Writers take BEGIN IMMEDIATE; a
 * writer that waited out busy_timeout gets DB_RETRY and db_tx_run runs it again. */
#include "db/db_internal.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct db_conn {
    sqlite3 *conn;
    sqlite3_stmt *st[S_COUNT];
    sqlite3_stmt *cur;    /* the running statement */
    int pending;          /* the first step's outcome not yet read by next */
    int first_rc;
};

static db_rc classify(sqlite3 *conn, int src, char *errmsg, size_t errlen) {
    snprintf(errmsg, errlen, "sqlite: %s", sqlite3_errmsg(conn));
    int primary = src & 0xff;
    if (primary == SQLITE_FULL || primary == SQLITE_IOERR) return DB_FULL;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return DB_RETRY;
    return DB_ERROR;
}

static void sq_disconnect(db_conn *c) {
    if (!c) return;
    for (int i = 0; i < S_COUNT; i++)
        if (c->st[i]) sqlite3_finalize(c->st[i]);
    if (c->conn) sqlite3_close(c->conn);
    free(c);
}

static db_rc sq_connect(const char *path, const char *node, db_conn **out, char *errmsg,
                        size_t errlen) {
    (void)node;
    *out = NULL;
    db_conn *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(errmsg, errlen, "out of memory");
        return DB_ERROR;
    }
    int rc = sqlite3_open_v2(path, &c->conn,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        snprintf(errmsg, errlen, "cannot open index %s: %s (check the directory exists and is "
                 "writable)", path, c->conn ? sqlite3_errmsg(c->conn) : "out of memory");
        sq_disconnect(c);
        return DB_ERROR;
    }
    sqlite3_busy_timeout(c->conn, 10000);
    sqlite3_extended_result_codes(c->conn, 0);
    static const char *const pragmas =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
        "PRAGMA temp_store=MEMORY;";
    if (sqlite3_exec(c->conn, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(errmsg, errlen, "cannot configure index %s: %s", path, sqlite3_errmsg(c->conn));
        sq_disconnect(c);
        return DB_ERROR;
    }
    sqlite3_stmt *jm = NULL;
    int wal = 0;
    if (sqlite3_prepare_v2(c->conn, "PRAGMA journal_mode", -1, &jm, NULL) == SQLITE_OK &&
        sqlite3_step(jm) == SQLITE_ROW)
        wal = strcmp((const char *)sqlite3_column_text(jm, 0), "wal") == 0;
    sqlite3_finalize(jm);
    if (!wal) {
        snprintf(errmsg, errlen, "index %s: the file system does not support WAL mode", path);
        sq_disconnect(c);
        return DB_ERROR;
    }
    *out = c;
    return DB_OK;
}

static int sq_alive(db_conn *c) { return c->conn != NULL; }

static db_rc sq_run(db_conn *c, db_sql_id id, const db_arg *args, int nargs, char *errmsg,
                    size_t errlen) {
    if (!c->st[id] && sqlite3_prepare_v3(c->conn, db_sql_text(id, DB_DIALECT_SQLITE), -1,
                                         SQLITE_PREPARE_PERSISTENT, &c->st[id], NULL) != SQLITE_OK) {
        db_rc r = classify(c->conn, sqlite3_errcode(c->conn), errmsg, errlen);
        snprintf(errmsg, errlen, "preparing statement %d failed: %s", (int)id,
                 sqlite3_errmsg(c->conn));
        return r == DB_RETRY ? r : DB_ERROR;
    }
    sqlite3_stmt *s = c->st[id];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    for (int i = 0; i < nargs; i++) {
        if (args[i].type == DB_ARG_INT) sqlite3_bind_int64(s, i + 1, args[i].i);
        else if (args[i].type == DB_ARG_TEXT) sqlite3_bind_text(s, i + 1, args[i].s, -1, SQLITE_TRANSIENT);
        else sqlite3_bind_null(s, i + 1);
    }
    /* Step once now so that a write's outcome (and its error) is known at run. */
    int rc = sqlite3_step(s);
    c->cur = s;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        db_rc r = classify(c->conn, rc, errmsg, errlen);
        sqlite3_reset(s);
        c->cur = NULL;
        return r;
    }
    c->pending = 1;
    c->first_rc = rc;
    return DB_OK;
}

static int sq_next(db_conn *c, char *errmsg, size_t errlen) {
    if (!c->cur) return 0;
    int rc;
    if (c->pending) {
        c->pending = 0;
        rc = c->first_rc;
    } else {
        rc = sqlite3_step(c->cur);
    }
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    return (int)classify(c->conn, rc, errmsg, errlen);
}

static int64_t sq_col_int(db_conn *c, int col) { return sqlite3_column_int64(c->cur, col); }

static const char *sq_col_text(db_conn *c, int col) {
    const unsigned char *t = sqlite3_column_text(c->cur, col);
    return t ? (const char *)t : "";
}

static int64_t sq_changes(db_conn *c) { return sqlite3_changes(c->conn); }

static void sq_done(db_conn *c) {
    if (c->cur) sqlite3_reset(c->cur);
    c->cur = NULL;
    c->pending = 0;
}

static db_rc exec(db_conn *c, const char *sql, char *errmsg, size_t errlen) {
    int rc = sqlite3_exec(c->conn, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? DB_OK : classify(c->conn, rc, errmsg, errlen);
}

static db_rc sq_begin(db_conn *c, char *errmsg, size_t errlen) {
    return exec(c, "BEGIN IMMEDIATE", errmsg, errlen);
}

static db_rc sq_commit(db_conn *c, char *errmsg, size_t errlen) {
    db_rc r = exec(c, "COMMIT", errmsg, errlen);
    if (r != DB_OK) sqlite3_exec(c->conn, "ROLLBACK", NULL, NULL, NULL);
    return r;
}

static void sq_rollback(db_conn *c) { sqlite3_exec(c->conn, "ROLLBACK", NULL, NULL, NULL); }

static db_rc sq_schema_version(db_conn *c, int *out_version, char *errmsg, size_t errlen) {
    sqlite3_stmt *st = NULL;
    *out_version = 0;
    int rc = sqlite3_prepare_v2(c->conn, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK) return classify(c->conn, rc, errmsg, errlen);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *out_version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? DB_OK : classify(c->conn, rc, errmsg, errlen);
}

static db_rc sq_migrate(db_conn *c, int to_version, const char *sql, char *errmsg, size_t errlen) {
    db_rc r = sq_begin(c, errmsg, errlen);
    if (r != DB_OK) return r;
    int now = 0;
    if ((r = sq_schema_version(c, &now, errmsg, errlen)) != DB_OK) goto rollback;
    if (now >= to_version) goto commit;   /* another process migrated meanwhile */
    char bump[64];
    snprintf(bump, sizeof bump, "PRAGMA user_version = %d", to_version);
    if ((r = exec(c, sql, errmsg, errlen)) != DB_OK || (r = exec(c, bump, errmsg, errlen)) != DB_OK)
        goto rollback;
commit:
    return sq_commit(c, errmsg, errlen);
rollback:
    sq_rollback(c);
    return r;
}

static db_rc sq_integrity_check(db_conn *c, int *out_ok, char *errmsg, size_t errlen) {
    sqlite3_stmt *s = NULL;
    *out_ok = 0;
    int rc = sqlite3_prepare_v2(c->conn, "PRAGMA integrity_check", -1, &s, NULL);
    db_rc r = DB_OK;
    if (rc != SQLITE_OK) r = classify(c->conn, rc, errmsg, errlen);
    else if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        *out_ok = strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
    else r = classify(c->conn, rc, errmsg, errlen);
    sqlite3_finalize(s);
    return r;
}

const db_backend db_backend_sqlite = {
    .name = "sqlite",
    .dialect = DB_DIALECT_SQLITE,
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .alive = sq_alive,
    .run = sq_run,
    .next = sq_next,
    .col_int = sq_col_int,
    .col_text = sq_col_text,
    .changes = sq_changes,
    .done = sq_done,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .schema_version = sq_schema_version,
    .migrate = sq_migrate,
    .integrity_check = sq_integrity_check,
};
