/* overview.h: the picture a radiologist sees of mamad's result, drawn with cairo: the four
 * processed views (the model's own input, un-normalised) in the hanging order R-CC L-CC /
 * R-MLO L-MLO, each labelled with its breast's scores, a header with the study scores and
 * the model id, and the "not for diagnosis" line. Written to the PACS as a Secondary
 * Capture (dicom/dcm_sc.h), served over REST as PNG; single views become the dashboard's
 * thumbnails. */
#ifndef MAMA_OVERVIEW_H
#define MAMA_OVERVIEW_H

#include <stddef.h>
#include <stdint.h>

#define OVERVIEW_MAX_LINES 6

typedef struct overview_view {
    char key[8];            /* "L-CC", "L-MLO", "R-CC", "R-MLO" */
    int side;               /* the gray image is side x side */
    const uint8_t *gray;    /* 0 = black, 255 = dense */
    char label[96];         /* burned under the view, e.g. "L  malignancy 0.12  density B" */
} overview_view;

typedef struct overview_page {
    const overview_view *views;
    int n_views;
    const char *lines[OVERVIEW_MAX_LINES]; /* header lines (NULL ends) */
    const char *footer;     /* e.g. "NOT FOR DIAGNOSIS - untrained demo model" */
} overview_page;

/* Renders the page into *out_rgb (malloc'ed rows x cols x 3). 0, or -1 with a message. */
int overview_render(const overview_page *p, uint8_t **out_rgb, int *out_rows, int *out_cols,
                    char *err, size_t errlen);

/* PNG of an RGB (channels 3) or gray (channels 1) image; *out_png malloc'ed. 0 or -1. */
int overview_png(const uint8_t *pixels, int rows, int cols, int channels, unsigned char **out_png,
                 size_t *out_len);

/* Frees cairo's and fontconfig's process-wide caches (at exit, so that leak checkers see
 * only real leaks). No overview call may run at the same time or after. */
void overview_shutdown(void);

#endif
