/* results.h: what mamad makes of a committed result version, and queues for the PACS:
 *   <storage>/results/<study>/v<N>/sr.dcm        Mammography CAD SR (dicom/dcm_sr.h)
 *                                  overview.dcm  Secondary Capture (dicom/dcm_sc.h)
 *                                  overview.png  the same picture for REST
 *                                  <view>.png    the dashboard's thumbnails
 * Files are written atomically first; then one transaction records them (result_objects)
 * and queues one outbox row per object and [forward] destination, so a crash leaves
 * either nothing recorded (the files are rewritten under the same names and UIDs next
 * time) or everything. A later version's SR names the earlier one as predecessor. */
#ifndef MAMA_RESULTS_H
#define MAMA_RESULTS_H

#include <stdint.h>

#include "daemon/config.h"
#include "daemon/worker.h"
#include "db/db.h"

typedef struct results_ctx {
    db *index;                   /* the writer connection */
    const mamad_config *cfg;
    const char *model_id;        /* the scorer's (stable pointer) */
    const int *model_untrained;
    void (*wake_outbox)(void *ctx);
    void *wake_ctx;
} results_ctx;

/* worker_publish_fn for worker_scorer.publish: ctx is a results_ctx. Failures are logged
 * (the result itself stands; the objects are missing from REST and the outbox). */
void results_publish(void *ctx, const worker_job *job, int version, const char *json,
                     const worker_thumbs *thumbs, int64_t now);

/* The parts of a result JSON the SR and the overview report, per breast (0 L, 1 R):
 * density 0..3 (A..D) or -1, BI-RADS 0..6 or -1, p(cancer) or -1. Exported for tests. */
typedef struct results_breast {
    int present;
    int density, birads;
    double p_cancer;
} results_breast;
void results_extract(const char *json, results_breast out[2], results_breast *out_study);

#endif
