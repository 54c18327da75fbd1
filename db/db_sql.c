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
                           "OR (?3 = 1 AND (claimed_by = ?4 OR claimed_by = ''))) "
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
