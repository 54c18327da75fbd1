/* db_index.c: the queries behind the C API of db.h, written once for every backend. A
 * query runs a statement of db_sql.c through db_q_run on the calling thread's connection
 * and reads its rows through the backend; a write that appends to the changes log runs
 * inside a transaction (nested into the caller's when there is one) so that it always
 * holds the backend's write lock. */
#include "db/db_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[DB_STATE_COUNT] = {
    "receiving", "complete", "timed_out", "queued", "scoring", "scored", "failed",
};

static const char *const change_types[DB_STATE_COUNT] = {
    "StudyReceiving", "StudyComplete", "StudyTimedOut", "StudyQueued",
    "StudyScoring", "StudyScored", "StudyFailed",
};

const char *db_state_name(db_state s) {
    return (s >= 0 && s < DB_STATE_COUNT) ? state_names[s] : "unknown";
}

int db_state_parse(const char *text, db_state *out_state) {
    for (int i = 0; i < DB_STATE_COUNT; i++)
        if (text && strcmp(text, state_names[i]) == 0) {
            *out_state = (db_state)i;
            return 0;
        }
    return -1;
}


/* ---- instances */

db_rc db_instance_add(db *d, const db_instance *in) {
    db_rc r = db_tx_begin(d);
    if (r != DB_OK) return r;
    int64_t changed = 0;
    r = WRITE(&changed, S_INST_ADD, A_TEXT(in->sop_uid), A_TEXT(in->study_uid),
              A_TEXT(in->series_uid), A_TEXT(in->sop_class), A_TEXT(in->view_key),
              A_TEXT(in->laterality), A_TEXT(in->view), A_TEXT(in->modifiers),
              A_TEXT(in->presentation_intent), A_TEXT(in->acq_datetime), A_TEXT(in->path),
              A_INT(in->size), in->sha256[0] ? A_TEXT(in->sha256) : A_NULL(),
              A_INT(in->received_at));
    if (r == DB_OK && changed == 0) {
        r = db_run_write(d, S_DUP_INC, NULL, 0, NULL);
        if (r == DB_OK) r = DB_DUPLICATE;
    }
    if (r < 0) {
        db_tx_rollback(d);
        return r;
    }
    db_rc c = db_tx_commit(d);
    return c == DB_OK ? r : c;
}

db_rc db_instance_exists(db *d, const char *sop_uid, int *out_exists) {
    db_thread *t;
    db_rc r = RUN(S_INST_EXISTS, A_TEXT(sop_uid));
    if (r != DB_OK) return r;
    int s = NEXT();
    *out_exists = s == 1;
    return db_end_read(d, t, s);
}

static void read_instance(db *d, db_thread *t, db_instance *o) {
    memset(o, 0, sizeof *o);
    db_copy_col(d, t, o->sop_uid, sizeof o->sop_uid, 0);
    db_copy_col(d, t, o->study_uid, sizeof o->study_uid, 1);
    db_copy_col(d, t, o->series_uid, sizeof o->series_uid, 2);
    db_copy_col(d, t, o->sop_class, sizeof o->sop_class, 3);
    db_copy_col(d, t, o->view_key, sizeof o->view_key, 4);
    db_copy_col(d, t, o->laterality, sizeof o->laterality, 5);
    db_copy_col(d, t, o->view, sizeof o->view, 6);
    db_copy_col(d, t, o->modifiers, sizeof o->modifiers, 7);
    db_copy_col(d, t, o->presentation_intent, sizeof o->presentation_intent, 8);
    db_copy_col(d, t, o->acq_datetime, sizeof o->acq_datetime, 9);
    db_copy_col(d, t, o->path, sizeof o->path, 10);
    o->size = COL_INT(11);
    db_copy_col(d, t, o->sha256, sizeof o->sha256, 12);
    o->received_at = COL_INT(13);
}

db_rc db_study_instances(db *d, const char *study_uid, db_instance **out_list, int *out_n) {
    *out_list = NULL;
    *out_n = 0;
    db_thread *t;
    db_rc r = RUN(S_INST_OF_STUDY, A_TEXT(study_uid));
    if (r != DB_OK) return r;
    int cap = 0, n = 0, s;
    db_instance *list = NULL;
    while ((s = NEXT()) == 1) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            db_instance *nl = realloc(list, (size_t)cap * sizeof *list);
            if (!nl) {
                s = db_fail(t, DB_ERROR, "out of memory");
                break;
            }
            list = nl;
        }
        read_instance(d, t, &list[n++]);
    }
    r = db_end_read(d, t, s);
    if (r != DB_OK) {
        free(list);
        return r;
    }
    *out_list = list;
    *out_n = n;
    return DB_OK;
}

/* ---- studies */

static void read_study(db *d, db_thread *t, db_study *o) {
    memset(o, 0, sizeof *o);
    o->id = COL_INT(0);
    db_copy_col(d, t, o->uid, sizeof o->uid, 1);
    o->state = (db_state)COL_INT(2);
    db_copy_col(d, t, o->patient_id, sizeof o->patient_id, 3);
    db_copy_col(d, t, o->accession, sizeof o->accession, 4);
    o->first_at = COL_INT(5);
    o->last_at = COL_INT(6);
    o->stable_deadline = COL_INT(7);
    o->max_deadline = COL_INT(8);
    o->state_at = COL_INT(9);
    o->attempts = (int)COL_INT(10);
    o->complete = (int)COL_INT(11);
    o->rescore_pending = (int)COL_INT(12);
    db_copy_col(d, t, o->reason, sizeof o->reason, 13);
    o->result_version = (int)COL_INT(14);
    o->n_instances = (int)COL_INT(15);
    db_copy_col(d, t, o->claimed_by, sizeof o->claimed_by, 16);
    o->lease_until = COL_INT(17);
}

db_rc db_study_get(db *d, const char *uid, db_study *out_study) {
    db_thread *t;
    db_rc r = RUN(S_STUDY_GET, A_TEXT(uid));
    if (r != DB_OK) return r;
    int s = NEXT();
    if (s == 1) read_study(d, t, out_study);
    r = db_end_read(d, t, s);
    return r == DB_OK && s == 0 ? DB_NOTFOUND : r;
}

/* Appends one change row of this node (the caller holds a transaction). */
static db_rc change_add(db *d, const char *type, const char *study_uid, int64_t at) {
    return WRITE(NULL, S_CHANGE_ADD, A_TEXT(type), A_TEXT(study_uid), A_INT(at), A_TEXT(d->node));
}

db_rc db_study_ensure(db *d, const db_study *in, int *out_created) {
    db_rc r = db_tx_begin(d);
    if (r != DB_OK) return r;
    int64_t changed = 0;
    r = WRITE(&changed, S_STUDY_INSERT, A_TEXT(in->uid), A_INT(in->state), A_TEXT(in->patient_id),
              A_TEXT(in->accession), A_INT(in->first_at), A_INT(in->last_at),
              A_INT(in->stable_deadline), A_INT(in->max_deadline), A_INT(in->state_at));
    if (r == DB_OK) {
        *out_created = changed > 0;
        if (*out_created) r = change_add(d, "NewStudy", in->uid, in->first_at);
    }
    return db_tx_end(d, r);
}

db_rc db_study_update(db *d, const db_study *in) {
    db_rc r = db_tx_begin(d);
    if (r != DB_OK) return r;
    db_study old;
    r = db_study_get(d, in->uid, &old);
    if (r == DB_OK)
        r = WRITE(NULL, S_STUDY_UPDATE, A_TEXT(in->uid), A_INT(in->state), A_TEXT(in->patient_id),
                  A_TEXT(in->accession), A_INT(in->first_at), A_INT(in->last_at),
                  A_INT(in->stable_deadline), A_INT(in->max_deadline), A_INT(in->state_at),
                  A_INT(in->attempts), A_INT(in->complete), A_INT(in->rescore_pending),
                  A_TEXT(in->reason));
    if (r == DB_OK && old.state != in->state)
        r = change_add(d, change_types[in->state], in->uid, in->state_at);
    return db_tx_end(d, r);
}

db_rc db_study_set_state(db *d, const char *uid, db_state state, const char *reason,
                         int64_t now) {
    db_rc r = db_tx_begin(d);
    if (r != DB_OK) return r;
    int64_t changed = 0;
    r = WRITE(&changed, S_STUDY_STATE, A_TEXT(uid), A_INT(state), A_TEXT(reason), A_INT(now));
    if (r == DB_OK && changed == 0) r = DB_NOTFOUND;
    else if (r == DB_OK) r = change_add(d, change_types[state], uid, now);
    return db_tx_end(d, r);
}

db_rc db_studies_list(db *d, int state, int64_t before_id, int limit, db_study *out,
                      int *out_n, int *out_more) {
    *out_n = 0;
    *out_more = 0;
    db_thread *t;
    int64_t before = before_id > 0 ? before_id : INT64_MAX;
    db_rc r = state >= 0 ? RUN(S_STUDIES_LIST_STATE, A_INT(before), A_INT(limit + 1), A_INT(state))
                         : RUN(S_STUDIES_LIST, A_INT(before), A_INT(limit + 1));
    if (r != DB_OK) return r;
    int s, n = 0;
    while ((s = NEXT()) == 1) {
        if (n == limit) {
            *out_more = 1;
            continue;
        }
        read_study(d, t, &out[n++]);
    }
    *out_n = n;
    return db_end_read(d, t, s);
}

typedef struct claim_ctx {
    int64_t now;
    db_study *out;
} claim_ctx;

static db_rc claim_body(db *d, void *arg) {
    claim_ctx *c = arg;
    char uid[65] = "";
    db_thread *t;
    db_rc r = RUN(S_STUDY_CLAIM, A_INT(DB_STATE_QUEUED), A_INT(DB_STATE_SCORING), A_INT(c->now),
                  A_TEXT(d->node), A_INT(c->now + d->lease_ms));
    if (r != DB_OK) return r;
    int s = NEXT();
    if (s == 1) db_copy_col(d, t, uid, sizeof uid, 0);
    if ((r = db_end_read(d, t, s)) != DB_OK) return r;
    if (!uid[0]) return DB_NOTFOUND;
    if ((r = change_add(d, change_types[DB_STATE_SCORING], uid, c->now)) != DB_OK) return r;
    return db_study_get(d, uid, c->out);
}

db_rc db_study_claim_next(db *d, int64_t now, db_study *out_study) {
    claim_ctx c = {.now = now, .out = out_study};
    return db_tx_run(d, claim_body, &c);
}

db_rc db_lease_renew(db *d, const char *uid, int64_t now) {
    int64_t changed = 0;
    db_rc r = WRITE(&changed, S_LEASE_RENEW, A_TEXT(uid), A_TEXT(d->node), A_INT(now + d->lease_ms),
                    A_INT(DB_STATE_SCORING));
    return r == DB_OK && changed == 0 ? DB_NOTFOUND : r;
}

static db_rc uid_rows(db *d, db_thread *t, char (*out_uids)[65], int max, int *out_n) {
    int s = 0, n = 0;
    while (n < max && (s = NEXT()) == 1) db_copy_col(d, t, out_uids[n++], 65, 0);
    *out_n = n;
    return db_end_read(d, t, s);
}

db_rc db_studies_due(db *d, int64_t now, char (*out_uids)[65], int max, int *out_n) {
    db_thread *t;
    *out_n = 0;
    db_rc r = RUN(S_STUDIES_DUE, A_INT(DB_STATE_RECEIVING), A_INT(now), A_INT(max));
    return r == DB_OK ? uid_rows(d, t, out_uids, max, out_n) : r;
}

db_rc db_studies_in_state(db *d, db_state state, char (*out_uids)[65], int max, int *out_n) {
    db_thread *t;
    *out_n = 0;
    db_rc r = RUN(S_STUDIES_IN_STATE, A_INT(state), A_INT(max));
    return r == DB_OK ? uid_rows(d, t, out_uids, max, out_n) : r;
}

db_rc db_studies_orphaned(db *d, int64_t now, int mine, char (*out_uids)[65], int max,
                          int *out_n) {
    db_thread *t;
    *out_n = 0;
    db_rc r = RUN(S_STUDIES_ORPHANED, A_INT(DB_STATE_SCORING), A_INT(now), A_INT(mine ? 1 : 0),
                  A_TEXT(d->node), A_INT(max));
    return r == DB_OK ? uid_rows(d, t, out_uids, max, out_n) : r;
}

db_rc db_study_count_by_state(db *d, int64_t out_counts[DB_STATE_COUNT]) {
    for (int i = 0; i < DB_STATE_COUNT; i++) out_counts[i] = 0;
    db_thread *t;
    db_rc r = RUN0(S_STUDY_COUNTS);
    if (r != DB_OK) return r;
    int s;
    while ((s = NEXT()) == 1) {
        int64_t st = COL_INT(0);
        if (st >= 0 && st < DB_STATE_COUNT) out_counts[st] = COL_INT(1);
    }
    return db_end_read(d, t, s);
}

/* ---- results */

db_rc db_result_add(db *d, const char *study_uid, const char *model_id, const char *json,
                    const char *timings_json, int64_t now, int *out_version) {
    db_rc r = db_tx_begin(d);
    if (r != DB_OK) return r;
    db_thread *t;
    int version = 0;
    if ((r = RUN(S_RESULT_MAXV, A_TEXT(study_uid))) != DB_OK) return db_tx_end(d, r);
    int s = NEXT();
    if (s == 1) version = (int)COL_INT(0) + 1;
    if ((r = db_end_read(d, t, s)) == DB_OK && s != 1)
        r = db_fail(t, DB_ERROR, "reading the latest result version returned no row");
    if (r == DB_OK)
        r = WRITE(NULL, S_RESULT_ADD, A_TEXT(study_uid), A_INT(version), A_TEXT(model_id),
                  A_TEXT(json), A_TEXT(timings_json ? timings_json : "{}"), A_INT(now),
                  A_TEXT(d->node));
    if (r == DB_OK) r = WRITE(NULL, S_STUDY_SET_RV, A_TEXT(study_uid), A_INT(version));
    if (r == DB_OK) r = change_add(d, "NewResult", study_uid, now);
    r = db_tx_end(d, r);
    if (r == DB_OK && out_version) *out_version = version;
    return r;
}

db_rc db_results_list(db *d, const char *study_uid, db_result **out_list, int *out_n) {
    *out_list = NULL;
    *out_n = 0;
    db_thread *t;
    db_rc r = RUN(S_RESULTS_LIST, A_TEXT(study_uid));
    if (r != DB_OK) return r;
    int s, n = 0, cap = 0;
    db_result *list = NULL;
    while ((s = NEXT()) == 1) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            db_result *nl = realloc(list, (size_t)cap * sizeof *list);
            if (!nl) {
                s = db_fail(t, DB_ERROR, "out of memory");
                break;
            }
            list = nl;
        }
        db_result *o = &list[n++];
        memset(o, 0, sizeof *o);
        o->version = (int)COL_INT(0);
        db_copy_col(d, t, o->model_id, sizeof o->model_id, 1);
        const char *j = COL_TEXT(2);
        o->json = strdup(*j ? j : "null");
        o->timings_json = strdup(*COL_TEXT(3) ? COL_TEXT(3) : "{}");
        o->created_at = COL_INT(4);
        db_copy_col(d, t, o->node, sizeof o->node, 5);
        if (!o->json || !o->timings_json) {
            s = db_fail(t, DB_ERROR, "out of memory");
            break;
        }
    }
    r = db_end_read(d, t, s);
    if (r != DB_OK) {
        db_results_free(list, n);
        return r;
    }
    *out_list = list;
    *out_n = n;
    return DB_OK;
}

void db_results_free(db_result *list, int n) {
    for (int i = 0; i < n; i++) {
        free(list[i].json);
        free(list[i].timings_json);
    }
    free(list);
}

/* ---- changes */

db_rc db_change_add(db *d, const char *type, const char *study_uid, int64_t at) {
    db_rc r = db_tx_begin(d);
    if (r != DB_OK) return r;
    return db_tx_end(d, change_add(d, type, study_uid, at));
}

db_rc db_changes_since(db *d, int64_t since, int limit, db_change *out, int *out_n,
                       int *out_done) {
    *out_n = 0;
    *out_done = 1;
    db_thread *t;
    db_rc r = RUN(S_CHANGES_SINCE, A_INT(since), A_INT(limit + 1));
    if (r != DB_OK) return r;
    int s, n = 0;
    while ((s = NEXT()) == 1) {
        if (n == limit) {
            *out_done = 0;
            continue;
        }
        db_change *c = &out[n++];
        c->seq = COL_INT(0);
        db_copy_col(d, t, c->type, sizeof c->type, 1);
        db_copy_col(d, t, c->study_uid, sizeof c->study_uid, 2);
        c->at = COL_INT(3);
        db_copy_col(d, t, c->node, sizeof c->node, 4);
    }
    *out_n = n;
    return db_end_read(d, t, s);
}

static db_rc one_int64(db *d, db_sql_id id, const char *arg, int64_t *out) {
    db_thread *t;
    db_rc r = arg ? RUN(id, A_TEXT(arg)) : RUN0(id);
    if (r != DB_OK) return r;
    int s = NEXT();
    *out = s == 1 ? COL_INT(0) : 0;
    return db_end_read(d, t, s);
}

db_rc db_changes_last(db *d, int64_t *out_seq) { return one_int64(d, S_CHANGES_LAST, NULL, out_seq); }

/* ---- counters */

db_rc db_counter_add(db *d, const char *name, int64_t delta) {
    return WRITE(NULL, S_COUNTER_ADD, A_TEXT(name), A_INT(delta));
}

db_rc db_counter_get(db *d, const char *name, int64_t *out_value) {
    return one_int64(d, S_COUNTER_GET, name, out_value);
}

db_rc db_instance_totals(db *d, int64_t *out_count, int64_t *out_bytes) {
    db_thread *t;
    db_rc r = RUN0(S_INST_TOTALS);
    if (r != DB_OK) return r;
    int s = NEXT();
    if (s == 1) {
        *out_count = COL_INT(0);
        *out_bytes = COL_INT(1);
    }
    r = db_end_read(d, t, s);
    return r == DB_OK && s != 1 ? db_fail(t, DB_ERROR, "no totals row") : r;
}
