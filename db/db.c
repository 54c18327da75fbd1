/* db.c: the index handle (see db.h): picks the backend from storage.index, keeps one
 * connection per thread (a pthread key; each thread's state is also on a list so that
 * db_close can close what threads still hold), nests transactions, and retries.
 *
 * Retrying: a DB_RETRY from the backend (busy, serialization failure, deadlock, lost
 * connection) means nothing was written. Outside a transaction the single statement runs
 * again here; inside one it travels up to db_tx_run, which rolls back and runs the whole
 * body again. Both wait 10 ms doubling to 1 s (with jitter, so that nodes that failed
 * together do not retry together) for at most MAX_ATTEMPTS, about 9 s in all: enough for
 * a PostgreSQL restart, short enough for a C-STORE's DIMSE timeout. A lost connection is
 * reopened at the next attempt. */
#define _GNU_SOURCE
#include "db/db_internal.h"

#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ATTEMPTS 14

db_rc db_fail(db_thread *t, db_rc rc, const char *fmt, ...) {
    if (!t) return rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->errmsg, sizeof t->errmsg, fmt, ap);
    va_end(ap);
    return rc;
}

static void backoff(int attempt) {
    long ms = 10L << (attempt < 7 ? attempt : 7);
    if (ms > 1000) ms = 1000;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = ms / 2 + (long)((unsigned long)now.tv_nsec % (unsigned long)(ms / 2 + 1));
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Logs the first retry of a sequence and its end, not every attempt. */
static void note_retry(const db_thread *t, int attempt, db_rc rc) {
    if (attempt == 0 && rc == DB_RETRY)
        log_warn(LOG_CAT_DB, "index busy or unreachable, retrying: %s", t ? t->errmsg : "");
    else if (attempt > 0 && rc != DB_RETRY)
        log_info(LOG_CAT_DB, "index: %s after %d retr%s", rc >= 0 ? "succeeded" : "failed", attempt,
                 attempt == 1 ? "y" : "ies");
}

/* Before attempt + 1: waits and returns 1, or notes the give-up and returns 0. */
static int wait_before_retry(db_thread *t, int attempt) {
    if (attempt + 1 >= MAX_ATTEMPTS) {
        size_t n = strlen(t->errmsg);
        snprintf(t->errmsg + n, sizeof t->errmsg - n, " (gave up after %d tries)", MAX_ATTEMPTS);
        return 0;
    }
    backoff(attempt);
    return 1;
}

static void thread_unlink(db *d, db_thread *t) {
    if (t->prev) t->prev->next = t->next;
    else d->threads = t->next;
    if (t->next) t->next->prev = t->prev;
}

/* The key's destructor: a thread that used the handle ends. */
static void thread_exit(void *p) {
    db_thread *t = p;
    db *d = t->owner;
    pthread_mutex_lock(&d->mu);
    thread_unlink(d, t);
    pthread_mutex_unlock(&d->mu);
    if (t->conn) d->be->disconnect(t->conn);
    free(t);
}

db_rc db_thread_get_state(db *d, db_thread **out_t) {
    db_thread *t = pthread_getspecific(d->key);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t) {
            *out_t = NULL;
            return DB_ERROR;
        }
        t->owner = d;
        pthread_mutex_lock(&d->mu);
        t->next = d->threads;
        if (d->threads) d->threads->prev = t;
        d->threads = t;
        pthread_mutex_unlock(&d->mu);
        pthread_setspecific(d->key, t);
    }
    *out_t = t;
    return DB_OK;
}

db_rc db_thread_get(db *d, db_thread **out_t) {
    db_thread *t;
    if (db_thread_get_state(d, &t) != DB_OK) {
        *out_t = NULL;
        return DB_ERROR;
    }
    *out_t = t;
    if (t->conn && !d->be->alive(t->conn)) {
        /* Inside a transaction the work so far is gone: let db_tx_run start over. */
        if (t->depth > 0) return db_fail(t, DB_RETRY, "the connection to the index was lost");
        d->be->disconnect(t->conn);
        t->conn = NULL;
    }
    if (!t->conn) return d->be->connect(d->target, d->node, &t->conn, t->errmsg, sizeof t->errmsg);
    return DB_OK;
}

db_rc db_q_run(db *d, db_thread **out_t, db_sql_id id, const db_arg *args, int nargs) {
    db_rc rc = DB_ERROR;
    db_thread *t = NULL;
    for (int attempt = 0;; attempt++) {
        rc = db_thread_get(d, &t);
        if (rc == DB_OK) rc = d->be->run(t->conn, id, args, nargs, t->errmsg, sizeof t->errmsg);
        if (t && t->depth == 0) note_retry(t, attempt, rc);
        if (rc != DB_RETRY || !t || t->depth > 0) break;
        if (!wait_before_retry(t, attempt)) {
            rc = DB_ERROR;
            break;
        }
    }
    *out_t = t;
    return rc;
}

static const db_backend *backend_for(const char *target, char *err, size_t errlen) {
    if (!strncmp(target, "postgresql://", 13) || !strncmp(target, "postgres://", 11)) {
#ifdef MAMA_HAVE_LIBPQ
        return &db_backend_pg;
#else
        snprintf(err, errlen, "storage.index is a PostgreSQL URI but this mamad was built "
                 "without libpq (install libpq-dev and rebuild)");
        return NULL;
#endif
    }
    (void)err;
    (void)errlen;
    return &db_backend_sqlite;
}

db_rc db_open(const char *target, db **out_db, char *err, size_t errlen) {
    *out_db = NULL;
    const db_backend *be = backend_for(target, err, errlen);
    if (!be) return DB_ERROR;
    db *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return DB_ERROR;
    }
    d->be = be;
    d->lease_ms = 60000;
    snprintf(d->target, sizeof d->target, "%s", target);
    if (pthread_key_create(&d->key, thread_exit) != 0) {
        snprintf(err, errlen, "cannot create a thread key");
        free(d);
        return DB_ERROR;
    }
    pthread_mutex_init(&d->mu, NULL);
    db_thread *t = NULL;
    db_rc rc = db_thread_get(d, &t);
    if (rc != DB_OK) {
        snprintf(err, errlen, "%s", t ? t->errmsg : "out of memory");
        goto fail;
    }
    if ((rc = db_schema_migrate(be, t->conn, err, errlen)) != DB_OK) goto fail;
    *out_db = d;
    return DB_OK;
fail:
    db_close(d);
    return rc == DB_RETRY || rc == DB_OK ? DB_ERROR : rc;
}

void db_close(db *d) {
    if (!d) return;
    pthread_mutex_lock(&d->mu);
    for (db_thread *t = d->threads, *next; t; t = next) {
        next = t->next;
        if (t->conn) d->be->disconnect(t->conn);
        free(t);
    }
    d->threads = NULL;
    pthread_mutex_unlock(&d->mu);
    pthread_setspecific(d->key, NULL);
    pthread_key_delete(d->key);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

const char *db_errmsg(const db *d) {
    if (!d) return "no database";
    db_thread *t = pthread_getspecific(d->key);
    return t ? t->errmsg : "";
}

const char *db_backend_name(const db *d) { return d ? d->be->name : ""; }

void db_set_node(db *d, const char *node_id, int64_t lease_ms) {
    snprintf(d->node, sizeof d->node, "%s", node_id ? node_id : "");
    if (lease_ms > 0) d->lease_ms = lease_ms;
}

const char *db_node(const db *d) { return d->node; }

int64_t db_lease_ms(const db *d) { return d->lease_ms; }

int db_schema_version(db *d) {
    db_thread *t;
    int v = -1;
    if (db_thread_get(d, &t) != DB_OK) return -1;
    if (d->be->schema_version(t->conn, &v, t->errmsg, sizeof t->errmsg) != DB_OK) return -1;
    return v;
}

db_rc db_integrity_check(db *d, int *out_ok) {
    db_thread *t;
    *out_ok = 0;
    db_rc rc = db_thread_get(d, &t);
    if (rc != DB_OK) return rc == DB_RETRY ? DB_ERROR : rc;
    return d->be->integrity_check(t->conn, out_ok, t->errmsg, sizeof t->errmsg);
}

/* ---- transactions */

db_rc db_tx_begin(db *d) {
    db_thread *t;
    db_rc rc = db_thread_get(d, &t);
    if (rc != DB_OK) return rc;
    if (t->depth > 0) {
        t->depth++;
        return DB_OK;
    }
    rc = d->be->begin(t->conn, t->errmsg, sizeof t->errmsg);
    if (rc != DB_OK) return rc;
    t->depth = 1;
    t->doomed = 0;
    return DB_OK;
}

db_rc db_tx_commit(db *d) {
    db_thread *t;
    if (db_thread_get_state(d, &t) != DB_OK || t->depth == 0)
        return db_fail(t, DB_ERROR, "commit without a transaction");
    if (--t->depth > 0) return DB_OK;
    if (t->doomed) {
        d->be->rollback(t->conn);
        return db_fail(t, DB_ERROR, "an inner part of the transaction failed; rolled back");
    }
    return d->be->commit(t->conn, t->errmsg, sizeof t->errmsg);
}

void db_tx_rollback(db *d) {
    db_thread *t;
    if (db_thread_get_state(d, &t) != DB_OK || t->depth == 0) return;
    if (--t->depth > 0) {
        t->doomed = 1;
        return;
    }
    if (t->conn) d->be->rollback(t->conn);
}

db_rc db_tx_run(db *d, db_rc (*body)(db *d, void *ctx), void *ctx) {
    db_thread *t;
    if (db_thread_get_state(d, &t) != DB_OK) return DB_ERROR;
    const int nested = t->depth > 0;
    db_rc rc = DB_ERROR;
    for (int attempt = 0;; attempt++) {
        rc = db_tx_begin(d);
        if (rc == DB_OK) {
            rc = body(d, ctx);
            if (rc >= 0) {
                db_rc c = db_tx_commit(d);
                if (c != DB_OK) rc = c;
            } else {
                db_tx_rollback(d);
            }
        }
        if (!nested) note_retry(t, attempt, rc);
        if (rc != DB_RETRY || nested) break;
        if (!wait_before_retry(t, attempt)) {
            rc = DB_ERROR;
            break;
        }
    }
    return rc;
}
