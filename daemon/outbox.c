/* outbox.c: see outbox.h. */
#include "daemon/outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "daemon/grouper.h"
#include "daemon/ticker.h"
#include "dicom/dcm_scu.h"

#define OUTBOX_BATCH 16
#define OUTBOX_MAX_BACKOFF_MS (3600 * 1000LL)

struct outbox {
    db *index;
    const mamad_config *cfg;
    metrics *m;
    ticker *thread;      /* NULL when no destination is configured */
};

int64_t outbox_backoff_ms(int64_t base_ms, int failed_attempts) {
    int64_t d = base_ms;
    for (int i = 1; i < failed_attempts && d < OUTBOX_MAX_BACKOFF_MS; i++) d *= 2;
    return d < OUTBOX_MAX_BACKOFF_MS ? d : OUTBOX_MAX_BACKOFF_MS;
}

static const config_forward *destination(const outbox *ob, const char *name) {
    for (int i = 0; i < ob->cfg->n_forward; i++)
        if (strcmp(ob->cfg->forward[i].name, name) == 0) return &ob->cfg->forward[i];
    return NULL;
}

/* Sends one row and records the outcome. */
static void send_one(outbox *ob, const db_outbox *row) {
    char err[600] = "";
    db_object obj;
    const config_forward *dst = destination(ob, row->destination);
    int ok = 0, give_up = 0;
    if (!dst) {
        snprintf(err, sizeof err, "destination %s is no longer in forward.destinations", row->destination);
        give_up = 1;
    } else if (db_object_get(ob->index, row->study_uid, row->version, row->kind, &obj) != DB_OK) {
        snprintf(err, sizeof err, "no %s object of version %d", row->kind, row->version);
        give_up = 1;
    } else {
        dcm_scu_peer peer = {.calling_ae = ob->cfg->forward_calling_ae[0] ? ob->cfg->forward_calling_ae
                                                                          : ob->cfg->dicom_ae_title,
                             .called_ae = dst->ae, .host = dst->host, .port = dst->port,
                             .timeout_s = (int)ob->cfg->forward_timeout_s};
        ok = dcm_scu_store(&peer, obj.path, err, sizeof err) == 0;
    }
    int64_t now = grouper_now_ms();
    db_rc r;
    if (ok) {
        r = db_tx_begin(ob->index);
        if (r == DB_OK) r = db_outbox_mark_sent(ob->index, row->id, now);
        if (r == DB_OK) r = db_change_add(ob->index, "ResultSent", row->study_uid, now);
        if (r == DB_OK) r = db_tx_commit(ob->index);
        else db_tx_rollback(ob->index);
        atomic_fetch_add(&ob->m->outbox_sent, 1);
        log_info(LOG_CAT_DICOM, "sent %s v%d of %s to %s", row->kind, row->version, row->study_uid,
                 row->destination);
    } else {
        int attempts = row->attempts + 1;
        give_up = give_up || attempts >= (int)ob->cfg->forward_max_attempts;
        int64_t next = now + outbox_backoff_ms(ob->cfg->forward_retry_ms, attempts);
        r = db_outbox_mark_retry(ob->index, row->id, next, err, give_up);
        atomic_fetch_add(&ob->m->outbox_errors, 1);
        if (give_up)
            log_error(LOG_CAT_DICOM, "gave up sending %s v%d of %s to %s after %d attempt(s): %s", row->kind,
                      row->version, row->study_uid, row->destination, attempts, err);
        else
            log_warn(LOG_CAT_DICOM, "sending %s v%d of %s to %s failed (attempt %d, next in %lld ms): %s",
                     row->kind, row->version, row->study_uid, row->destination, attempts,
                     (long long)(next - now), err);
    }
    if (r != DB_OK) log_error(LOG_CAT_DB, "outbox: recording a send: %s", db_errmsg(ob->index));
}

/* One round: send what is due; then sleep until the next row is due (at most 1 s, so
 * that a changed clock or a row added by another connection is seen), or until woken. */
static int64_t outbox_round(void *arg, ticker *t) {
    outbox *ob = arg;
    db_outbox rows[OUTBOX_BATCH];
    int n = 0;
    if (db_outbox_due(ob->index, grouper_now_ms(), rows, OUTBOX_BATCH, &n) != DB_OK)
        log_error(LOG_CAT_DB, "outbox: reading due rows: %s", db_errmsg(ob->index));
    for (int i = 0; i < n && !ticker_stopping(t); i++) send_one(ob, &rows[i]);
    if (n > 0) return 0;
    int64_t next = 0, wait_ms = 1000;
    int found = 0;
    if (db_outbox_next_due(ob->index, &next, &found) == DB_OK && found) {
        int64_t d = next - grouper_now_ms();
        if (d < wait_ms) wait_ms = d < 1 ? 1 : d;
    }
    return wait_ms;
}

int outbox_start(db *index, const mamad_config *cfg, metrics *m, outbox **out_outbox) {
    outbox *ob = calloc(1, sizeof *ob);
    if (!ob) return -1;
    ob->index = index;
    ob->cfg = cfg;
    ob->m = m;
    if (cfg->n_forward > 0 && ticker_start(outbox_round, ob, &ob->thread) != 0) {
        free(ob);
        return -1;
    }
    *out_outbox = ob;
    return 0;
}

void outbox_wake(void *arg) {
    outbox *ob = arg;
    if (ob) ticker_wake(ob->thread);
}

void outbox_stop(outbox *ob) {
    if (!ob) return;
    ticker_stop(ob->thread);
    free(ob);
}
