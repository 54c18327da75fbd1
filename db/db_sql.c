/* db_sql.c: the index's statements, one text per dialect. Most are the same SQL on both
 * (INSERT ... ON CONFLICT, RETURNING and upserts are common ground since SQLite 3.35);
 * an entry in pg[] replaces the SQLite text where PostgreSQL needs another (claiming
 * with FOR UPDATE SKIP LOCKED). Parameters are ?N everywhere. */
#include "db/db_internal.h"

#define STUDY_COLS                                                                       \
    "s.id, s.uid, s.state, s.patient_id, s.accession, s.first_at, s.last_at, "          \
    "s.stable_deadline, s.max_deadline, s.state_at, s.attempts, s.complete, "            \
    "s.rescore_pending, s.reason, s.result_version, "                                   \
    "(SELECT COUNT(*) FROM instances i WHERE i.study_uid = s.uid), s.claimed_by, "        \
    "s.lease_until"

#define INST_COLS                                                                        \
    "sop_uid, study_uid, series_uid, sop_class, view_key, laterality, view, modifiers, " \
    "presentation_intent, acq_datetime, path, size, sha256, received_at"

#define OUTBOX_COLS                                                                      \
    "id, study_uid, version, kind, destination, state, attempts, next_at, last_error, "  \
    "created_at, sent_at"

static const char *const common[S_COUNT] = {
    [S_INST_ADD] = "INSERT INTO instances(" INST_COLS ") "
                   "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14) "
                   "ON CONFLICT DO NOTHING",
    [S_INST_EXISTS] = "SELECT 1 FROM instances WHERE sop_uid = ?1",
    [S_INST_OF_STUDY] = "SELECT " INST_COLS " FROM instances WHERE study_uid = ?1 "
                        "ORDER BY received_at, sop_uid",
    [S_DUP_INC] = "UPDATE counters SET value = value + 1 WHERE name = 'duplicates'",
    [S_STUDY_GET] = "SELECT " STUDY_COLS " FROM studies s WHERE s.uid = ?1",
    [S_STUDY_INSERT] = "INSERT INTO studies(uid, state, patient_id, accession, "
                       "first_at, last_at, stable_deadline, max_deadline, state_at) "
                       "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9) ON CONFLICT DO NOTHING",
    [S_STUDY_UPDATE] = "UPDATE studies SET state=?2, patient_id=?3, accession=?4, first_at=?5, "
                       "last_at=?6, stable_deadline=?7, max_deadline=?8, state_at=?9, "
                       "attempts=?10, complete=?11, rescore_pending=?12, reason=?13 "
                       "WHERE uid=?1",
    [S_STUDY_STATE] = "UPDATE studies SET state=?2, reason=?3, state_at=?4 WHERE uid=?1",
    [S_STUDIES_LIST] = "SELECT " STUDY_COLS " FROM studies s WHERE s.id < ?1 "
                       "ORDER BY s.id DESC LIMIT ?2",
    [S_STUDIES_LIST_STATE] = "SELECT " STUDY_COLS " FROM studies s WHERE s.id < ?1 AND "
                             "s.state = ?3 ORDER BY s.id DESC LIMIT ?2",
    [S_STUDY_CLAIM] = "UPDATE studies SET state=?2, attempts=attempts+1, state_at=?3, "
                      "rescore_pending=0, claimed_by=?4, lease_until=?5 "
                      "WHERE id = (SELECT id FROM studies WHERE state=?1 "
                      "ORDER BY id LIMIT 1) RETURNING uid",
    [S_STUDIES_DUE] = "SELECT uid FROM studies WHERE state = ?1 AND "
                      "(stable_deadline <= ?2 OR max_deadline <= ?2) ORDER BY id LIMIT ?3",
    [S_STUDIES_IN_STATE] = "SELECT uid FROM studies WHERE state = ?1 ORDER BY id LIMIT ?2",
    [S_STUDIES_ORPHANED] = "SELECT uid FROM studies WHERE state = ?1 AND (lease_until <= ?2 "
                           "OR (?3 = 1 AND state_at < ?2 AND (claimed_by = ?4 OR claimed_by = ''))) "
                           "ORDER BY id LIMIT ?5",
    [S_LEASE_RENEW] = "UPDATE studies SET lease_until = ?3 WHERE uid = ?1 AND state = ?4 "
                      "AND claimed_by = ?2",
    [S_STUDY_COUNTS] = "SELECT state, COUNT(*) FROM studies GROUP BY state",
    [S_RESULT_MAXV] = "SELECT COALESCE(MAX(version), 0) FROM results WHERE study_uid = ?1",
    [S_RESULT_ADD] = "INSERT INTO results(study_uid, version, model_id, json, timings_json, "
                     "created_at, node) VALUES (?1,?2,?3,?4,?5,?6,?7)",
    [S_STUDY_SET_RV] = "UPDATE studies SET result_version = ?2 WHERE uid = ?1",
    [S_RESULTS_LIST] = "SELECT version, model_id, json, timings_json, created_at, node "
                       "FROM results WHERE study_uid = ?1 ORDER BY version",
    [S_CHANGE_ADD] = "INSERT INTO changes(type, study_uid, at, node) VALUES (?1,?2,?3,?4)",
    [S_CHANGES_SINCE] = "SELECT seq, type, study_uid, at, node FROM changes WHERE seq > ?1 "
                        "ORDER BY seq LIMIT ?2",
    [S_CHANGES_LAST] = "SELECT COALESCE(MAX(seq), 0) FROM changes",
    [S_COUNTER_ADD] = "INSERT INTO counters(name, value) VALUES (?1, ?2) ON CONFLICT(name) "
                      "DO UPDATE SET value = counters.value + excluded.value",
    [S_COUNTER_GET] = "SELECT value FROM counters WHERE name = ?1",
    [S_INST_TOTALS] = "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM instances",
    /* result objects and the outbox (db_outbox.c) */
    [S_OBJ_PUT] = "INSERT INTO result_objects(study_uid, version, kind, sop_uid, sop_class, path, "
                  "size, created_at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8) "
                  "ON CONFLICT(study_uid, version, kind) DO UPDATE SET sop_uid = excluded.sop_uid, "
                  "sop_class = excluded.sop_class, path = excluded.path, size = excluded.size, "
                  "created_at = excluded.created_at",
    [S_OBJ_GET] = "SELECT study_uid, version, kind, sop_uid, sop_class, path, size, created_at "
                  "FROM result_objects WHERE study_uid = ?1 AND kind = ?3 AND "
                  "(?2 = 0 OR version = ?2) ORDER BY version DESC LIMIT 1",
    [S_OUTBOX_ADD] = "INSERT INTO outbox(study_uid, version, kind, destination, next_at, "
                     "created_at) VALUES (?1,?2,?3,?4,?5,?5) ON CONFLICT DO NOTHING",
    [S_OUTBOX_DUE] = "SELECT " OUTBOX_COLS " FROM outbox WHERE state = 0 AND next_at <= ?1 "
                     "ORDER BY next_at, id LIMIT ?2",
    [S_OUTBOX_OF_STUDY] = "SELECT " OUTBOX_COLS " FROM outbox WHERE study_uid = ?1 ORDER BY id "
                          "LIMIT ?2",
    [S_OUTBOX_NEXT_DUE] = "SELECT COUNT(*), COALESCE(MIN(next_at), 0) FROM outbox WHERE state = 0",
    [S_OUTBOX_SENT] = "UPDATE outbox SET state = 1, attempts = attempts + 1, sent_at = ?2, "
                      "last_error = '' WHERE id = ?1",
    [S_OUTBOX_RETRY] = "UPDATE outbox SET attempts = attempts + 1, next_at = ?2, last_error = ?3, "
                       "state = ?4 WHERE id = ?1",
    [S_OUTBOX_COUNTS] = "SELECT state, COUNT(*) FROM outbox GROUP BY state",
    /* deletion and retention (db_retention.c) */
    [S_DEL_STATE] = "SELECT state FROM studies WHERE uid = ?1",
    [S_DEL_UNDELIVERED] = "SELECT COUNT(*) FROM outbox WHERE study_uid = ?1 AND state <> 1",
    [S_DEL_INTENT_ADD] = "INSERT INTO deletions(study_uid, reason, started_at) VALUES (?1, ?2, ?3) "
                         "ON CONFLICT DO NOTHING",
    [S_DEL_INSTANCES] = "DELETE FROM instances WHERE study_uid = ?1",
    [S_DEL_RESULTS] = "DELETE FROM results WHERE study_uid = ?1",
    [S_DEL_OBJECTS] = "DELETE FROM result_objects WHERE study_uid = ?1",
    [S_DEL_OUTBOX] = "DELETE FROM outbox WHERE study_uid = ?1",
    [S_DEL_STUDY] = "DELETE FROM studies WHERE uid = ?1",
    [S_DEL_INTENT] = "DELETE FROM deletions WHERE study_uid = ?1",
    [S_DEL_PENDING] = "SELECT study_uid FROM deletions ORDER BY started_at",
    [S_RETENTION] = "SELECT s.uid FROM studies s WHERE s.state IN (?1, ?2) AND "
                    "(CAST(?3 AS BIGINT) < 0 OR s.state_at <= CAST(?3 AS BIGINT)) AND NOT EXISTS (SELECT 1 FROM outbox o WHERE "
                    "o.study_uid = s.uid AND o.state <> 1) AND NOT EXISTS (SELECT 1 FROM deletions "
                    "x WHERE x.study_uid = s.uid) ORDER BY s.state_at, s.id LIMIT ?4",
    [S_STORAGE_BYTES] = "SELECT (SELECT COALESCE(SUM(size), 0) FROM instances) + "
                        "(SELECT COALESCE(SUM(size), 0) FROM result_objects)",
    [S_STUDY_FILES] = "SELECT path FROM instances WHERE study_uid = ?1 UNION ALL "
                      "SELECT path FROM result_objects WHERE study_uid = ?1",
};

/* PostgreSQL: claimers on several nodes skip a row another claimer holds instead of
 * queueing behind it, and never take the same one. */
static const char *const pg[S_COUNT] = {
    [S_STUDY_CLAIM] = "UPDATE studies SET state=?2, attempts=attempts+1, state_at=?3, "
                      "rescore_pending=0, claimed_by=?4, lease_until=?5 "
                      "WHERE id = (SELECT id FROM studies WHERE state=?1 "
                      "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING uid",
};

const char *db_sql_text(db_sql_id id, db_dialect dialect) {
    if (id < 0 || id >= S_COUNT) return NULL;
    if (dialect == DB_DIALECT_PG && pg[id]) return pg[id];
    return common[id];
}
