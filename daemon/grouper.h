/* grouper.h: the study state machine. Every received instance is indexed here, in the
 * same transaction that moves its study through
 *     receiving -> complete | timed_out -> queued -> scoring -> scored | failed
 * (the design notes at the top of grouper.c name the function behind each arrow). All
 * state lives in the index, so a restart resumes every study (grouper_resume). */
#ifndef MAMA_GROUPER_H
#define MAMA_GROUPER_H

#include <stdint.h>

#include "db/db.h"
#include "dicom/dcm_instance.h"

typedef struct grouper_config {
    int64_t stable_age_ms;  /* no new instance for this long: receiving -> timed_out */
    int64_t max_wait_ms;    /* first instance this long ago: receiving -> timed_out */
    int max_attempts;       /* scoring attempts before a study fails */
    int tick_ms;            /* timer period */
} grouper_config;

typedef struct grouper grouper;

/* notify (optional) is called after a study becomes queued, e.g. to wake a worker. */
int grouper_create(db *index, const grouper_config *cfg, void (*notify)(void *), void *notify_ctx,
                   grouper **out_grouper);
void grouper_destroy(grouper *g);
/* Sets the queued callback; call before the timer starts and before stores arrive. */
void grouper_set_notify(grouper *g, void (*notify)(void *), void *notify_ctx);

/* Indexes one stored instance (path = its final place) and updates its study, in one
 * transaction. DB_OK, DB_DUPLICATE (nothing changed, duplicates counted), DB_FULL or
 * DB_ERROR (nothing changed). */
db_rc grouper_add_instance(grouper *g, const dcm_instance_info *info, const char *path,
                           int64_t size, int64_t now);
/* The same with the file's SHA-256 (64 hex digits, or NULL/"") recorded in its row. */
db_rc grouper_add_stored(grouper *g, const dcm_instance_info *info, const char *path,
                         int64_t size, const char *sha256, int64_t now);
/* receiving studies past a deadline -> timed_out -> queued; scoring studies whose lease
 * lapsed -> queued. Safe to run on every node at once. */
db_rc grouper_tick(grouper *g, int64_t now);
/* At start-up: complete/timed_out -> queued; scoring claimed by this node (interrupted by
 * its restart), unclaimed, or with a lapsed lease -> queued. */
db_rc grouper_resume(grouper *g, int64_t now);
/* Worker outcomes for a study it claimed (state scoring). Recorded only while this node
 * still holds the claim (otherwise nothing changes: the lease lapsed and another node
 * took the study). grouper_scored_result writes the result version in the same
 * transaction (json NULL: only the move to scored); DB_NOTFOUND (nothing written) when
 * the claim is no longer ours. */
db_rc grouper_scored(grouper *g, const char *uid, int64_t now);
db_rc grouper_scored_result(grouper *g, const char *uid, const char *model_id, const char *json,
                            const char *timings_json, int64_t now, int *out_version);
/* The result version alone, the study left scoring (claim-checked like the above): for a
 * worker that publishes objects of the version before grouper_scored, so that a crash
 * between the two scores the study again instead of leaving a version undelivered. */
db_rc grouper_add_result(grouper *g, const char *uid, const char *model_id, const char *json,
                         const char *timings_json, int64_t now, int *out_version);
db_rc grouper_score_failed(grouper *g, const char *uid, const char *reason, int64_t now);
/* Admin rescore: any state but receiving/scoring -> queued. DB_NOTFOUND if unknown;
 * DB_DUPLICATE when the study is receiving or scoring (nothing to do yet). */
db_rc grouper_rescore(grouper *g, const char *uid, int64_t now);

/* Timer thread calling grouper_tick every tick_ms. */
int grouper_timer_start(grouper *g);
void grouper_timer_stop(grouper *g);

int64_t grouper_now_ms(void);

#endif
