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
/* Start-up sweep: every file under the storage tree that the index does not know (a
 * crash between the rename and the index commit; never acknowledged) is indexed when it
 * reads as the instance its path names, else moved to <dir>/quarantine/. Logged; returns
 * how many were indexed (and *out_quarantined), or -1 when the index failed. */
int store_sweep(store *s, int *out_quarantined);
/* Free space to keep on the storage file system (bytes, 0 = none): a C-STORE that would
 * leave less gets 0xA700. */
void store_set_reserve(store *s, long long bytes);
/* The handler to give dcm_scp_start. */
dcm_scp_handler store_handler(store *s);

/* Final path of an instance: <dir>/<2 hex digits>/<study uid>/<sop uid>.dcm. -1 when a
 * UID is not a valid DICOM UID (so it can never contain a path character). */
int store_final_path(const char *dir, const char *study_uid, const char *sop_uid, char *out,
                     size_t n);

#endif
