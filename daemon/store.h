/* store.h: the daemon's C-STORE handler (dcm_scp_handler): moves a received instance to
 * its final place, indexes it through the grouper and only then answers Success. */
#ifndef MAMA_STORE_H
#define MAMA_STORE_H

#include <stdint.h>

#include "daemon/grouper.h"
#include "daemon/metrics.h"
#include "dicom/dcm_scp.h"

typedef struct store store;

/* dir: the storage root (created when missing, with dir/tmp/<node> for this node's
 * transfers: nodes sharing one storage folder never clean each other's). node "" or
 * NULL: dir/tmp. */
int store_create(const char *dir, const char *node, grouper *g, db *index, metrics *m,
                 store **out_store, char *err, size_t errlen);
void store_destroy(store *s);
/* The temporary directory the SCP streams into (same file system as the storage). */
const char *store_tmp_dir(const store *s);
/* Removes leftovers of transfers interrupted by a crash (never acknowledged). */
void store_clean_tmp(store *s);
/* The handler to give dcm_scp_start. */
dcm_scp_handler store_handler(store *s);

/* Final path of an instance: <dir>/<2 hex digits>/<study uid>/<sop uid>.dcm. -1 when a
 * UID is not a valid DICOM UID (so it can never contain a path character). */
int store_final_path(const char *dir, const char *study_uid, const char *sop_uid, char *out,
                     size_t n);

#endif
