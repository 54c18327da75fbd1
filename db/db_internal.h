/* db_internal.h: private to db/. The index has one set of queries (db_index.c) written
 * once against the backend interface below; a backend (db_sqlite.c, db_pg.c) owns its
 * connection, the SQL dialect's prepare, binding and result reading, its transactions and
 * its locking, and classifies its errors into db_rc. db.c holds the handle: one
 * connection per thread, opened on first use, and the retry of transactions.
 *
 * Statement ids index one table (db_sql.c) with a text per dialect; parameters are ?N in
 * both (the PostgreSQL backend rewrites them to $N when it prepares). */
#ifndef MAMA_DB_INTERNAL_H
#define MAMA_DB_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"

typedef enum db_sql_id {
    S_INST_ADD, S_INST_EXISTS, S_INST_OF_STUDY, S_DUP_INC,
    S_STUDY_GET, S_STUDY_INSERT, S_STUDY_UPDATE, S_STUDY_STATE,
    S_STUDIES_LIST, S_STUDIES_LIST_STATE, S_STUDY_CLAIM, S_STUDIES_DUE, S_STUDIES_IN_STATE,
    S_STUDIES_ORPHANED, S_LEASE_RENEW,
    S_STUDY_COUNTS, S_RESULT_MAXV, S_RESULT_ADD, S_STUDY_SET_RV, S_RESULTS_LIST,
    S_CHANGE_ADD, S_CHANGES_SINCE, S_CHANGES_LAST, S_COUNTER_ADD, S_COUNTER_GET,
    S_INST_TOTALS,
    /* results to PACS: objects, outbox, retention (db_outbox.c, db_retention.c) */
    S_OBJ_PUT, S_OBJ_GET, S_OUTBOX_ADD, S_OUTBOX_DUE, S_OUTBOX_OF_STUDY, S_OUTBOX_NEXT_DUE,
    S_OUTBOX_SENT, S_OUTBOX_RETRY, S_OUTBOX_COUNTS, S_DEL_STATE, S_DEL_UNDELIVERED,
    S_DEL_INTENT_ADD, S_DEL_INSTANCES, S_DEL_RESULTS, S_DEL_OBJECTS, S_DEL_OUTBOX, S_DEL_STUDY,
    S_DEL_INTENT, S_DEL_PENDING, S_RETENTION, S_STORAGE_BYTES, S_STUDY_FILES,
    S_COUNT
} db_sql_id;

typedef enum db_dialect { DB_DIALECT_SQLITE = 0, DB_DIALECT_PG = 1, DB_DIALECT_COUNT } db_dialect;

/* The SQL of statement id in a dialect (db_sql.c). */
const char *db_sql_text(db_sql_id id, db_dialect dialect);

/* One bound parameter. */
typedef struct db_arg {
    enum { DB_ARG_NULL, DB_ARG_INT, DB_ARG_TEXT } type;
    int64_t i;
    const char *s;
} db_arg;

#define A_INT(v) ((db_arg){.type = DB_ARG_INT, .i = (int64_t)(v)})
#define A_TEXT(v) ((db_arg){.type = DB_ARG_TEXT, .s = (v) ? (v) : ""})
#define A_NULL() ((db_arg){.type = DB_ARG_NULL})

typedef struct db_conn db_conn;   /* a backend's connection (opaque to db.c) */

/* The backend interface. Every function taking errmsg writes a message there on failure
 * (errlen bytes) and returns DB_ERROR, DB_FULL or DB_RETRY. A connection runs one
 * statement at a time: run, then next until it returns 0, then done. */
typedef struct db_backend {
    const char *name;
    db_dialect dialect;
    db_rc (*connect)(const char *target, const char *node, db_conn **out, char *errmsg,
                     size_t errlen);
    void (*disconnect)(db_conn *c);
    /* 1 while the connection is usable (a PostgreSQL one may have died with its server). */
    int (*alive)(db_conn *c);
    /* Runs statement id with args; rows (if any) are then read with next/col_*. */
    db_rc (*run)(db_conn *c, db_sql_id id, const db_arg *args, int nargs, char *errmsg,
                 size_t errlen);
    /* 1: a row is current; 0: no more rows; < 0: a db_rc error. */
    int (*next)(db_conn *c, char *errmsg, size_t errlen);
    int64_t (*col_int)(db_conn *c, int col);
    const char *(*col_text)(db_conn *c, int col);   /* "" for NULL; valid until next */
    int64_t (*changes)(db_conn *c);                 /* rows changed by the last run */
    void (*done)(db_conn *c);                       /* ends the current statement */
    /* Transactions. begin takes whatever lock the backend needs to keep the changes log
     * in commit order (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock). */
    db_rc (*begin)(db_conn *c, char *errmsg, size_t errlen);
    db_rc (*commit)(db_conn *c, char *errmsg, size_t errlen);
    void (*rollback)(db_conn *c);
    /* Schema: the number of migrations applied, and applying one (inside its own
     * transaction with the version bump; the backend serialises concurrent migrators). */
    db_rc (*schema_version)(db_conn *c, int *out_version, char *errmsg, size_t errlen);
    db_rc (*migrate)(db_conn *c, int to_version, const char *sql, char *errmsg, size_t errlen);
    db_rc (*integrity_check)(db_conn *c, int *out_ok, char *errmsg, size_t errlen);
} db_backend;

extern const db_backend db_backend_sqlite;
#ifdef MAMA_HAVE_LIBPQ
extern const db_backend db_backend_pg;
#endif

/* ---- db.c: the handle and the calling thread's connection */

/* Per-thread state of one handle: its connection, transaction depth, last message. */
typedef struct db_thread {
    db *owner;
    db_conn *conn;
    int depth;          /* nesting of db_tx_begin */
    int doomed;         /* an inner level rolled back: the outer commit rolls back */
    char errmsg[512];
    struct db_thread *prev, *next;
} db_thread;

struct db {
    const db_backend *be;
    char target[512];
    char node[64];
    int64_t lease_ms;
    pthread_key_t key;
    pthread_mutex_t mu;     /* guards the list of thread states */
    db_thread *threads;
};

/* The calling thread's state (created on first use). DB_ERROR only when out of memory. */
db_rc db_thread_get_state(db *d, db_thread **out_t);
/* The same with a live connection, (re)connecting when needed; on failure *out_t still
 * holds the state with the message (NULL only when out of memory). */
db_rc db_thread_get(db *d, db_thread **out_t);
/* Runs one statement on the thread's connection; outside a transaction a DB_RETRY is
 * retried here with backoff (reconnecting), inside one it is returned for db_tx_run. */
db_rc db_q_run(db *d, db_thread **out_t, db_sql_id id, const db_arg *args, int nargs);
/* Sets the thread's message (printf-style) and returns rc. */
db_rc db_fail(db_thread *t, db_rc rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* db_schema.c: the migrations of a dialect, applied in order. */
db_rc db_schema_migrate(const db_backend *be, db_conn *c, char *err, size_t errlen);
int db_schema_latest(void);

/* ---- db_query.c: shared by the query files (db_index.c and those beside it) */

/* RUN(id, args...) runs statement id on the calling thread's connection into the local
 * db_thread *t; NEXT, COL_INT, COL_TEXT and DONE read its rows (d and t in scope). */
#define NARGS(...) ((int)(sizeof((db_arg[]){__VA_ARGS__}) / sizeof(db_arg)))
#define RUN(id, ...) db_q_run(d, &t, id, (db_arg[]){__VA_ARGS__}, NARGS(__VA_ARGS__))
#define RUN0(id) db_q_run(d, &t, id, NULL, 0)
#define NEXT() d->be->next(t->conn, t->errmsg, sizeof t->errmsg)
#define COL_INT(c) d->be->col_int(t->conn, c)
#define COL_TEXT(c) d->be->col_text(t->conn, c)
#define DONE() d->be->done(t->conn)

/* Runs a statement that returns no rows; *out_changed (optional) = rows it changed. */
db_rc db_run_write(db *d, db_sql_id id, const db_arg *args, int nargs, int64_t *out_changed);
#define WRITE(changed, id, ...) db_run_write(d, id, (db_arg[]){__VA_ARGS__}, NARGS(__VA_ARGS__), changed)
/* Finishes a read: a backend error while stepping (step_rc < 0) replaces DB_OK. */
db_rc db_end_read(db *d, db_thread *t, int step_rc);
/* Ends a write made under db_tx_begin: commit when r is not an error, else roll back. */
db_rc db_tx_end(db *d, db_rc r);
/* Copies column col of the current row into dst (n bytes). */
void db_copy_col(db *d, db_thread *t, char *dst, size_t n, int col);

#endif
