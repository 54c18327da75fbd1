/* grouper_view.h: the view rules of a screening mammogram, pure functions with no I/O:
 * which of the four standard views (L/R x CC/MLO) an instance is, and which instance
 * fills a view when several do (For Presentation over For Processing, then the latest
 * acquisition: a retake replaces the earlier image). Unit-tested in tests/service. */
#ifndef MAMA_GROUPER_VIEW_H
#define MAMA_GROUPER_VIEW_H

#include "db/db.h"
#include "dicom/dcm_instance.h"

#define GROUPER_N_VIEWS 4
/* Index order of the four views: L-CC, L-MLO, R-CC, R-MLO. */
extern const char *const grouper_view_keys[GROUPER_N_VIEWS];

typedef struct grouper_view {
    char key[8];            /* "L-CC" ... or "" when not a standard view */
    char laterality[3];     /* "L" / "R" / "" */
    char view[17];          /* "CC" / "MLO" / what ViewPosition said */
    int implant_displaced;  /* 1 for an implant-displaced (Eklund) view: it counts */
    int for_processing;     /* 1 when FOR PROCESSING (by intent or SOP class) */
    const char *why_not;    /* static text when key is "": why it does not count */
} grouper_view;

/* Classifies one instance's tags. Never fails: unknown inputs give key "" + why_not. */
void grouper_view_classify(const dcm_instance_info *info, grouper_view *out);

/* Index 0..3 of a view key, or -1. */
int grouper_view_index(const char *key);

/* > 0 when a should fill its view rather than b, < 0 when b, never 0 for distinct SOPs:
 * For Presentation first, then the later acquisition date-time, then the later receipt,
 * then the larger SOP Instance UID (so the choice is deterministic). */
int grouper_view_prefer(const db_instance *a, const db_instance *b);

/* For each of the four views, the index in list of the instance that fills it, or -1.
 * Returns how many views are filled (4 = complete). */
int grouper_view_select(const db_instance *list, int n, int out_idx[GROUPER_N_VIEWS]);

#endif
