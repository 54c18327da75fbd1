/* outbox.h: the sender of results to the PACS. One thread takes the due rows of the
 * outbox table (db.h), sends each object with C-STORE (dicom/dcm_scu.h) to its
 * [forward] destination, and records the outcome: sent, or one more attempt with
 * exponential backoff (forward.retry doubling, at most 1 h) until forward.max_attempts.
 *
 * Durability: a row leaves `pending` only after the destination answered Success and
 * the update is committed, so a crash at any point resends at most the one object whose
 * answer was not yet recorded; its SOP Instance UID is the same (dicom/dcm_derived.h),
 * so the PACS sees the same instance again, never a second copy. A restart resumes the
 * pending rows where they were. */
#ifndef MAMA_OUTBOX_H
#define MAMA_OUTBOX_H

#include "daemon/config.h"
#include "daemon/metrics.h"
#include "db/db.h"

typedef struct outbox outbox;

/* Starts the sender (no thread when cfg has no destination). 0 or -1. */
int outbox_start(db *index, const mamad_config *cfg, metrics *m, outbox **out_outbox);
/* Wakes the sender: new rows are due now. */
void outbox_wake(void *ob);
/* Finishes the send in progress, joins the thread, frees. */
void outbox_stop(outbox *ob);

/* The delay before attempt n + 1 after n failed ones (exported for tests). */
int64_t outbox_backoff_ms(int64_t base_ms, int failed_attempts);

#endif
