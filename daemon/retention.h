/* retention.h: keeping the disk from filling with old studies. A thread applies, every
 * storage.retention_check:
 *   - storage.retention: finished studies (scored or failed) whose state is older than it
 *     and whose results are all delivered are deleted;
 *   - storage.max_size: while instances + result objects exceed it, the oldest such study
 *     is deleted (Orthanc's MaximumStorageSize recycling).
 * A study still receiving, complete, queued or scoring, or with an outbox row not yet
 * sent, is never removed by retention (db_retention_candidates).
 *
 * One deletion (also DELETE /api/v1/studies/{uid}) runs in an order a crash cannot leave
 * half done: (1) the intent row is committed; (2) the files are removed; (3) the rows of
 * the study and the intent go in one transaction with a StudyDeleted change. A crash after
 * (1) is finished by retention_resume at start: files that are already gone are fine, and
 * no row outlives its file once the daemon has started again. */
#ifndef MAMA_RETENTION_H
#define MAMA_RETENTION_H

#include <stddef.h>

#include "daemon/config.h"
#include "db/db.h"

typedef struct retention retention;

/* Deletes one study now (the order above). force: also with undelivered results (the
 * admin's DELETE). Returns DB_OK, DB_NOTFOUND, or DB_OK with *out_refused set (busy or
 * undelivered, nothing removed); DB_ERROR/DB_FULL with a message in err. */
db_rc retention_delete(db *index, const mamad_config *cfg, const char *study_uid, const char *reason,
                       int force, db_delete_rc *out_refused, char *err, size_t errlen);

/* Finishes the deletions a crash interrupted. Call before the SCP accepts stores. */
db_rc retention_resume(db *index, const mamad_config *cfg);

/* Starts the periodic thread when storage.retention or storage.max_size is set. */
int retention_start(db *index, const mamad_config *cfg, retention **out);
void retention_stop(retention *r);

#endif
