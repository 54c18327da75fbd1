/* db_pg.c: the PostgreSQL backend (libpq), for several mamad nodes on one index.
 *
 * One PGconn per thread; each statement is prepared on that connection at its first use
 * (named "s<id>", ?N rewritten to $N) and kept until the connection is lost, when db.c
 * reconnects and the statements are prepared again. Parameters travel as text and the
 * server infers their types from the statement.
 *
 * Locking: every writing transaction starts with pg_advisory_xact_lock(WRITE_LOCK), one
 * lock for all nodes, held to commit. Without it the changes log could commit out of
 * sequence order (an identity value is taken at insert, not at commit), and a reader of
 * GET /changes?since=N that already saw N+1 would miss N for ever. With it, sequence
 * order is commit order, the grouper's read-modify-write of a study is serialised across
 * nodes (one StudyComplete, timers fire once) and deadlocks cannot form. Commits are
 * durable (synchronous_commit = on, the server's default, asserted per connection).
 *
 * Errors: SQLSTATE 40001 (serialization), 40P01 (deadlock), class 08 (connection),
 * 57P01-57P03 (server shutting down or starting) and a connection gone bad are DB_RETRY;
 * 53100 (disk full) is DB_FULL; anything else DB_ERROR with the server's message. */
#include "db/db_internal.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arbitrary but fixed: every node must use the same key. ("mamad" in ASCII.) */
#define WRITE_LOCK 0x6d616d6164LL
#define MIGRATE_LOCK 0x6d616d6165LL
#define MAX_ARGS 16

struct db_conn {
    PGconn *pq;
    unsigned char prepared[S_COUNT];
    PGresult *res;        /* the running statement's rows */
    int row, nrows;
};

static db_rc classify_sqlstate(const char *state, int bad_conn) {
    if (bad_conn) return DB_RETRY;
    if (!state) return DB_ERROR;
    if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strncmp(state, "08", 2) ||
        !strcmp(state, "57P01") || !strcmp(state, "57P02") || !strcmp(state, "57P03"))
        return DB_RETRY;
    if (!strcmp(state, "53100")) return DB_FULL;
    return DB_ERROR;
}

/* Classifies a failed result (res may be NULL: the connection failed) and clears it. */
static db_rc fail_res(db_conn *c, PGresult *res, char *errmsg, size_t errlen) {
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    if (!msg || !*msg) msg = PQerrorMessage(c->pq);
    snprintf(errmsg, errlen, "postgresql: %s", msg && *msg ? msg : "unknown error");
    size_t n = strlen(errmsg);
    while (n && (errmsg[n - 1] == '\n' || errmsg[n - 1] == ' ')) errmsg[--n] = '\0';
    db_rc r = classify_sqlstate(state, PQstatus(c->pq) != CONNECTION_OK);
    if (res) PQclear(res);
    return r;
}

static db_rc exec(db_conn *c, const char *sql, char *errmsg, size_t errlen) {
    PGresult *res = PQexec(c->pq, sql);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        PQclear(res);
        return DB_OK;
    }
    return fail_res(c, res, errmsg, errlen);
}

static void pg_disconnect(db_conn *c) {
    if (!c) return;
    if (c->res) PQclear(c->res);
    if (c->pq) PQfinish(c->pq);
    free(c);
}

static void quiet_notices(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

static db_rc pg_connect(const char *uri, const char *node, db_conn **out, char *errmsg,
                        size_t errlen) {
    *out = NULL;
    db_conn *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(errmsg, errlen, "out of memory");
        return DB_ERROR;
    }
    char app[80];
    snprintf(app, sizeof app, "mamad %s", node && *node ? node : "");
    /* Defaults first, the URI last: with expand_dbname its own settings override them. */
    const char *keys[] = {"application_name", "connect_timeout", "dbname", NULL};
    const char *vals[] = {app, "10", uri, NULL};
    c->pq = PQconnectdbParams(keys, vals, 1);
    if (!c->pq || PQstatus(c->pq) != CONNECTION_OK) {
        const char *m = c->pq ? PQerrorMessage(c->pq) : "out of memory";
        snprintf(errmsg, errlen, "cannot connect to the PostgreSQL index: %s(check "
                 "storage.index, that the server runs and that pg_hba.conf lets this node in)",
                 m);
        for (char *p = errmsg; *p; p++)
            if (*p == '\n' || *p == '\t') *p = ' ';
        /* Refused or timed out: the server may be restarting; worth another try. */
        db_rc r = c->pq && PQstatus(c->pq) == CONNECTION_BAD ? DB_RETRY : DB_ERROR;
        pg_disconnect(c);
        return r;
    }
    PQsetNoticeProcessor(c->pq, quiet_notices, NULL);
    db_rc r = exec(c, "SET synchronous_commit = on; SET client_min_messages = warning", errmsg,
                   errlen);
    if (r != DB_OK) {
        pg_disconnect(c);
        return r;
    }
    *out = c;
    return DB_OK;
}

static int pg_alive(db_conn *c) { return c->pq && PQstatus(c->pq) == CONNECTION_OK; }

/* ?N -> $N; the statements have no '?' inside literals. */
static char *to_dollar(const char *sql) {
    char *out = strdup(sql);
    if (!out) return NULL;
    for (char *p = out; *p; p++)
        if (*p == '?') *p = '$';
    return out;
}

static void end_result(db_conn *c) {
    if (c->res) PQclear(c->res);
    c->res = NULL;
    c->row = c->nrows = 0;
}

static db_rc pg_run(db_conn *c, db_sql_id id, const db_arg *args, int nargs, char *errmsg,
                    size_t errlen) {
    char name[16];
    snprintf(name, sizeof name, "s%d", (int)id);
    end_result(c);
    if (!c->prepared[id]) {
        char *sql = to_dollar(db_sql_text(id, DB_DIALECT_PG));
        if (!sql) {
            snprintf(errmsg, errlen, "out of memory");
            return DB_ERROR;
        }
        PGresult *res = PQprepare(c->pq, name, sql, 0, NULL);
        free(sql);
        if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
            db_rc r = fail_res(c, res, errmsg, errlen);
            char m[400];
            snprintf(m, sizeof m, "%s", errmsg);
            snprintf(errmsg, errlen, "preparing statement %d: %s", (int)id, m);
            return r;
        }
        PQclear(res);
        c->prepared[id] = 1;
    }
    if (nargs > MAX_ARGS) {
        snprintf(errmsg, errlen, "statement %d: too many parameters", (int)id);
        return DB_ERROR;
    }
    char nums[MAX_ARGS][24];
    const char *vals[MAX_ARGS];
    for (int i = 0; i < nargs; i++) {
        if (args[i].type == DB_ARG_INT) {
            snprintf(nums[i], sizeof nums[i], "%lld", (long long)args[i].i);
            vals[i] = nums[i];
        } else if (args[i].type == DB_ARG_TEXT) {
            vals[i] = args[i].s;
        } else {
            vals[i] = NULL;
        }
    }
    PGresult *res = PQexecPrepared(c->pq, name, nargs, vals, NULL, NULL, 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return fail_res(c, res, errmsg, errlen);
    c->res = res;
    c->row = -1;
    c->nrows = PQntuples(res);
    return DB_OK;
}

static int pg_next(db_conn *c, char *errmsg, size_t errlen) {
    (void)errmsg;
    (void)errlen;
    if (!c->res || c->row + 1 >= c->nrows) return 0;
    c->row++;
    return 1;
}

static int64_t pg_col_int(db_conn *c, int col) {
    if (!c->res || PQgetisnull(c->res, c->row, col)) return 0;
    return strtoll(PQgetvalue(c->res, c->row, col), NULL, 10);
}

static const char *pg_col_text(db_conn *c, int col) {
    if (!c->res || PQgetisnull(c->res, c->row, col)) return "";
    return PQgetvalue(c->res, c->row, col);
}

static int64_t pg_changes(db_conn *c) {
    const char *n = c->res ? PQcmdTuples(c->res) : "";
    return *n ? strtoll(n, NULL, 10) : 0;
}

static void pg_done(db_conn *c) { end_result(c); }

static db_rc pg_begin(db_conn *c, char *errmsg, size_t errlen) {
    char sql[96];
    snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%lld)", (long long)WRITE_LOCK);
    db_rc r = exec(c, sql, errmsg, errlen);
    if (r != DB_OK && pg_alive(c)) exec(c, "ROLLBACK", errmsg, errlen);
    return r;
}

static db_rc pg_commit(db_conn *c, char *errmsg, size_t errlen) {
    end_result(c);
    PGresult *res = PQexec(c->pq, "COMMIT");
    /* COMMIT of an aborted transaction answers COMMAND_OK with tag ROLLBACK. */
    if (res && PQresultStatus(res) == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(res), "COMMIT")) {
        PQclear(res);
        return DB_OK;
    }
    if (res && PQresultStatus(res) == PGRES_COMMAND_OK) {
        PQclear(res);
        snprintf(errmsg, errlen, "postgresql: the transaction was rolled back");
        return DB_ERROR;
    }
    return fail_res(c, res, errmsg, errlen);
}

static void pg_rollback(db_conn *c) {
    char m[64];
    end_result(c);
    if (pg_alive(c)) exec(c, "ROLLBACK", m, sizeof m);
}

/* The version row, or 0 while no migration has run (the table is created under the
 * migration lock, never here: nodes starting at once would race on it). */
static db_rc pg_schema_version(db_conn *c, int *out_version, char *errmsg, size_t errlen) {
    *out_version = 0;
    PGresult *res = PQexec(c->pq, "SELECT to_regclass('schema_version') IS NOT NULL");
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) return fail_res(c, res, errmsg, errlen);
    int exists = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (!exists) return DB_OK;
    res = PQexec(c->pq, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) return fail_res(c, res, errmsg, errlen);
    *out_version = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return DB_OK;
}

static db_rc pg_migrate(db_conn *c, int to_version, const char *sql, char *errmsg, size_t errlen) {
    char lock[96];
    snprintf(lock, sizeof lock, "BEGIN; SELECT pg_advisory_xact_lock(%lld)", (long long)MIGRATE_LOCK);
    db_rc r = exec(c, lock, errmsg, errlen);
    if (r != DB_OK) goto rollback;
    r = exec(c, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", errmsg,
             errlen);
    if (r != DB_OK) goto rollback;
    int now = 0;
    if ((r = pg_schema_version(c, &now, errmsg, errlen)) != DB_OK) goto rollback;
    if (now >= to_version) return pg_commit(c, errmsg, errlen);   /* another node did it */
    char bump[96];
    snprintf(bump, sizeof bump, "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%d)",
             to_version);
    if ((r = exec(c, sql, errmsg, errlen)) != DB_OK || (r = exec(c, bump, errmsg, errlen)) != DB_OK)
        goto rollback;
    return pg_commit(c, errmsg, errlen);
rollback:
    pg_rollback(c);
    return r;
}

static db_rc pg_integrity_check(db_conn *c, int *out_ok, char *errmsg, size_t errlen) {
    *out_ok = 0;
    db_rc r = exec(c, "SELECT 1", errmsg, errlen);
    if (r == DB_OK) *out_ok = 1;
    return r;
}

const db_backend db_backend_pg = {
    .name = "postgresql",
    .dialect = DB_DIALECT_PG,
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .alive = pg_alive,
    .run = pg_run,
    .next = pg_next,
    .col_int = pg_col_int,
    .col_text = pg_col_text,
    .changes = pg_changes,
    .done = pg_done,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .schema_version = pg_schema_version,
    .migrate = pg_migrate,
    .integrity_check = pg_integrity_check,
};
