/* db.h: the mamad index. One API, two backends behind it (db_internal.h): SQLite (the
 * embedded default; storage.index is a file path, WAL mode) and PostgreSQL through libpq
 * (storage.index = postgresql://...), which lets several mamad nodes share one index.
 * The schema versions and migrations are the same on both.
 *
 * A db handle may be shared by any number of threads: each thread gets its own connection
 * (opened on first use, closed when the thread ends or the handle closes) with its own
 * prepared statements, so REST readers run beside the ingest commits instead of queueing
 * behind one connection. db_errmsg is the calling thread's last message.
 *
 * Every function returns a db_rc; on DB_ERROR db_errmsg says what failed. Times are
 * milliseconds since the Unix epoch (int64). Strings passed in are copied; strings
 * returned in structs are owned by the struct (fixed arrays) or by the caller where the
 * comment says so.
 *
 * Transactions: db_tx_run(d, body, ctx) runs body inside one transaction and runs it
 * again, with bounded exponential backoff, when the database reports a serialization
 * failure, a deadlock, a busy lock or a lost connection (PostgreSQL restarting): body
 * must therefore be repeatable (reset its outputs at its start). db_tx_begin/commit nest;
 * only the outermost pair talks to the database. Calls made outside a transaction run in
 * their own implicit one (and are retried the same way). Writing transactions take the
 * backend's write lock at begin (SQLite BEGIN IMMEDIATE; PostgreSQL one advisory lock for
 * all nodes), which keeps the changes log's sequence in commit order across nodes. Each
 * commit is durable before it returns (SQLite synchronous=FULL; PostgreSQL
 * synchronous_commit on): a commit here acknowledges a C-STORE. */
#ifndef MAMA_DB_H
#define MAMA_DB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum db_rc {
    DB_OK = 0,
    DB_DUPLICATE = 1,  /* db_instance_add: the SOP Instance UID is already indexed */
    DB_NOTFOUND = 2,   /* no such study / no queued study / no result */
    DB_ERROR = -1,     /* database error (or retries exhausted); see db_errmsg */
    DB_FULL = -2,      /* out of space (SQLITE_FULL / I/O error, PostgreSQL 53100) */
    DB_RETRY = -3,     /* only inside a transaction: busy, serialization failure, deadlock
                        * or lost connection; nothing was written. A db_tx_run body
                        * returns it as it is and the whole transaction runs again. */
} db_rc;

typedef struct db db;

/* The current schema version (the number of migrations, db_schema.c). */
#define DB_SCHEMA_VERSION 3

/* target: a file path (SQLite) or a postgresql:// / postgres:// URI (libpq). Opens the
 * calling thread's connection and migrates the schema. */
db_rc db_open(const char *target, db **out_db, char *err, size_t errlen);
void db_close(db *d);
const char *db_errmsg(const db *d);
int db_schema_version(db *d);
const char *db_backend_name(const db *d);   /* "sqlite" or "postgresql" */

/* This node's id (written on every change, result and claim) and the lease a claim gets
 * (renewed by db_lease_renew). Set once, before other threads use the handle. */
void db_set_node(db *d, const char *node_id, int64_t lease_ms);
const char *db_node(const db *d);
int64_t db_lease_ms(const db *d);

db_rc db_tx_begin(db *d);
db_rc db_tx_commit(db *d);
void db_tx_rollback(db *d);
/* Runs body(d, ctx) in one transaction: committed when body returns >= 0 (DB_OK,
 * DB_DUPLICATE, DB_NOTFOUND: returned as they are), rolled back otherwise. Retried as a
 * whole (see above); DB_ERROR when the retries are used up. */
db_rc db_tx_run(db *d, db_rc (*body)(db *d, void *ctx), void *ctx);

/* ---- instances */
typedef struct db_instance {
    char sop_uid[65];
    char study_uid[65];
    char series_uid[65];
    char sop_class[65];
    char view_key[8];          /* "L-CC", "R-MLO", or "" when not one of the four views */
    char laterality[3];
    char view[17];
    char modifiers[140];
    char presentation_intent[17];
    char acq_datetime[27];
    char path[512];
    int64_t size;
    char sha256[65];           /* optional, "" when not computed */
    int64_t received_at;
} db_instance;

/* Inserts one instance row. DB_DUPLICATE (and nothing written) when the SOP Instance UID
 * is already indexed; then the duplicates counter is incremented. */
db_rc db_instance_add(db *d, const db_instance *inst);
db_rc db_instance_exists(db *d, const char *sop_uid, int *out_exists);
/* All instances of a study, oldest received first; *out_list is malloc'ed, caller frees. */
db_rc db_study_instances(db *d, const char *study_uid, db_instance **out_list, int *out_n);

/* ---- studies */
typedef enum db_state {
    DB_STATE_RECEIVING = 0,
    DB_STATE_COMPLETE,
    DB_STATE_TIMED_OUT,
    DB_STATE_QUEUED,
    DB_STATE_SCORING,
    DB_STATE_SCORED,
    DB_STATE_FAILED,
    DB_STATE_COUNT
} db_state;

const char *db_state_name(db_state s);
int db_state_parse(const char *text, db_state *out_state);  /* 0 ok, -1 unknown */

typedef struct db_study {
    int64_t id;                /* creation order; paging cursor */
    char uid[65];
    db_state state;
    char patient_id[193];      /* UTF-8: 64 characters of any DICOM character set */
    char accession[193];
    int64_t first_at, last_at; /* first / last instance received */
    int64_t stable_deadline;   /* last_at + stable_age: receiving -> timed_out */
    int64_t max_deadline;      /* first_at + max_wait: receiving -> timed_out */
    int64_t state_at;          /* when the state last changed */
    int attempts;              /* scoring attempts */
    int complete;              /* 1 when the four views are present */
    int rescore_pending;       /* new images arrived while scoring */
    char reason[256];          /* why timed_out / failed / requeued */
    int result_version;        /* latest result version, 0 = none */
    int n_instances;
    char claimed_by[64];       /* node of the latest claim ("" before any) */
    int64_t lease_until;       /* scoring: the claim lapses after this time */
} db_study;

db_rc db_study_get(db *d, const char *uid, db_study *out_study);
/* Creates the study row when missing (state receiving); never changes an existing one. */
db_rc db_study_ensure(db *d, const db_study *init, int *out_created);
/* Writes every mutable field of s (state, times, deadlines, flags, reason) and, when the
 * state differs from the stored one, appends a change row of type "state:<name>". */
db_rc db_study_update(db *d, const db_study *s);
/* Sets the state (and reason) and appends a change. DB_NOTFOUND when no such study. */
db_rc db_study_set_state(db *d, const char *uid, db_state state, const char *reason,
                         int64_t now);
/* Studies newest first. state < 0: any state. before_id <= 0: from the newest. Fetches at
 * most limit rows into out (caller's array of limit entries); *out_more is 1 when older
 * rows exist beyond the page. */
db_rc db_studies_list(db *d, int state, int64_t before_id, int limit, db_study *out,
                      int *out_n, int *out_more);
/* Atomically moves the oldest queued study to scoring (attempts + 1), claimed by this
 * node with a lease until now + lease_ms. Concurrent claimers on several nodes never get
 * the same study (PostgreSQL: FOR UPDATE SKIP LOCKED). DB_NOTFOUND when none is queued. */
db_rc db_study_claim_next(db *d, int64_t now, db_study *out_study);
/* Extends this node's claim on a scoring study to now + lease_ms. DB_NOTFOUND when the
 * claim is no longer ours (it lapsed and another node took the study). */
db_rc db_lease_renew(db *d, const char *uid, int64_t now);
/* Scoring studies whose lease lapsed (lease_until <= now); with mine = 1 also those this
 * node (or nobody) claimed before now: its previous life, at start-up. Oldest first, up
 * to max. */
db_rc db_studies_orphaned(db *d, int64_t now, int mine, char (*out_uids)[65], int max,
                          int *out_n);
/* Receiving studies whose stable or max deadline is <= now, up to max; uids copied. */
db_rc db_studies_due(db *d, int64_t now, char (*out_uids)[65], int max, int *out_n);
/* Studies in the given state (oldest first), up to max. */
db_rc db_studies_in_state(db *d, db_state state, char (*out_uids)[65], int max, int *out_n);
db_rc db_study_count_by_state(db *d, int64_t out_counts[DB_STATE_COUNT]);

/* ---- results */
typedef struct db_result {
    int version;
    char model_id[128];
    char *json;                /* malloc'ed, freed by db_result_free */
    char *timings_json;        /* malloc'ed */
    int64_t created_at;
    char node[64];             /* the node that scored it */
} db_result;

/* Appends the next result version of a study (returned in *out_version) and records it
 * as the study's latest. */
db_rc db_result_add(db *d, const char *study_uid, const char *model_id, const char *json,
                    const char *timings_json, int64_t now, int *out_version);
/* All result versions, oldest first; *out_list malloc'ed; free with db_results_free. */
db_rc db_results_list(db *d, const char *study_uid, db_result **out_list, int *out_n);
void db_results_free(db_result *list, int n);

/* ---- changes: a monotonic 64-bit log of study events */
typedef struct db_change {
    int64_t seq;
    char type[32];
    char study_uid[65];
    int64_t at;
    char node[64];             /* the node that made the change */
} db_change;

db_rc db_change_add(db *d, const char *type, const char *study_uid, int64_t at);
/* Rows with seq > since in order, up to limit (fetches limit + 1): *out_done is 1 when no
 * more rows follow the page. out has room for limit entries. */
db_rc db_changes_since(db *d, int64_t since, int limit, db_change *out, int *out_n,
                       int *out_done);
db_rc db_changes_last(db *d, int64_t *out_seq);  /* 0 when the log is empty */

/* ---- counters (metrics that must survive restarts) */
db_rc db_counter_add(db *d, const char *name, int64_t delta);
db_rc db_counter_get(db *d, const char *name, int64_t *out_value);
db_rc db_instance_totals(db *d, int64_t *out_count, int64_t *out_bytes);

/* ---- result objects: files derived from a result version (db_outbox.c) */
typedef struct db_object {
    char study_uid[65];
    int version;
    char kind[24];             /* "sr", "overview", "thumb:L-CC", ... */
    char sop_uid[65];          /* "" for files that are not DICOM */
    char sop_class[65];
    char path[512];
    int64_t size;
    int64_t created_at;
} db_object;

/* Records (or replaces) one object of a result version. */
db_rc db_object_put(db *d, const db_object *o);
/* The object of kind of a version (version 0: the latest version that has one). */
db_rc db_object_get(db *d, const char *study_uid, int version, const char *kind, db_object *out);

/* ---- outbox: objects to send, one row per object and destination */
typedef enum db_outbox_state {
    DB_OUTBOX_PENDING = 0,     /* to send at next_at */
    DB_OUTBOX_SENT = 1,        /* the destination answered Success */
    DB_OUTBOX_FAILED = 2,      /* gave up after the configured attempts */
    DB_OUTBOX_NSTATES
} db_outbox_state;

typedef struct db_outbox {
    int64_t id;
    char study_uid[65];
    int version;
    char kind[24];
    char destination[160];
    int state;
    int attempts;
    int64_t next_at;
    char last_error[256];
    int64_t created_at, sent_at;
} db_outbox;

const char *db_outbox_state_name(int state);
/* Queues kind of version for destination (nothing when that row exists). */
db_rc db_outbox_add(db *d, const char *study_uid, int version, const char *kind,
                    const char *destination, int64_t now);
/* Pending rows with next_at <= now, oldest first, up to max. */
db_rc db_outbox_due(db *d, int64_t now, db_outbox *out, int max, int *out_n);
/* The earliest next_at of a pending row; *out_found 0 when none. */
db_rc db_outbox_next_due(db *d, int64_t *out_at, int *out_found);
db_rc db_outbox_mark_sent(db *d, int64_t id, int64_t now);
/* One failed attempt: attempts + 1, the error, and either the next try or FAILED. */
db_rc db_outbox_mark_retry(db *d, int64_t id, int64_t next_at, const char *error, int give_up);
/* All rows of a study, oldest first, up to max. */
db_rc db_outbox_of_study(db *d, const char *study_uid, db_outbox *out, int max, int *out_n);
db_rc db_outbox_counts(db *d, int64_t out_counts[DB_OUTBOX_NSTATES]);

/* ---- retention and deletion (db_retention.c). A deletion is: db_deletion_begin (the
 * intent, committed), remove the files, db_deletion_finish (every row of the study and the
 * intent in one transaction, plus a "StudyDeleted" change). db_deletions_pending lists the
 * intents a crash left, to be finished at start. */
typedef enum db_delete_rc {
    DB_DELETE_OK = 0,
    DB_DELETE_BUSY = 1,        /* receiving, complete, timed out, queued or scoring */
    DB_DELETE_UNDELIVERED = 2, /* results not yet sent (pending or failed outbox rows) */
} db_delete_rc;

/* Records the intent to delete a study. Refuses (DB_OK, *out_refused set, nothing written)
 * a study that is not finished (scored or failed), and one with undelivered results unless
 * force. DB_NOTFOUND when no such study. */
db_rc db_deletion_begin(db *d, const char *study_uid, const char *reason, int force, int64_t now,
                        db_delete_rc *out_refused);
db_rc db_deletion_finish(db *d, const char *study_uid, int64_t now);
db_rc db_deletions_pending(db *d, char (*out_uids)[65], int max, int *out_n);
/* Every file of a study (instances and result objects); *out_paths malloc'ed array of
 * malloc'ed strings, free with db_paths_free. */
db_rc db_study_files(db *d, const char *study_uid, char ***out_paths, int *out_n);
void db_paths_free(char **paths, int n);
/* Finished studies that retention may remove, oldest state change first: state scored or
 * failed, state_at <= before (any age when before < 0), every outbox row sent, not being
 * deleted. Up to max uids. */
db_rc db_retention_candidates(db *d, int64_t before, char (*out_uids)[65], int max, int *out_n);
/* Bytes of instances plus result objects. */
db_rc db_storage_bytes(db *d, int64_t *out_bytes);

/* SQLite: PRAGMA integrity_check, *out_ok = 1 when it answers "ok". PostgreSQL checks its
 * own pages; there *out_ok = 1 when the server answers. */
db_rc db_integrity_check(db *d, int *out_ok);

#ifdef __cplusplus
}
#endif
#endif
