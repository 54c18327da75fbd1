/* mias.h: the mini-MIAS truth table (../shared/data/mias/Info.txt, see its README).
 * Data lines start with "mdb": reference, background tissue (F/G/D), class (CALC CIRC
 * SPIC MISC ARCH ASYM NORM), severity (B/M, absent for NORM), x, y and radius in pixels
 * (origin at the BOTTOM-left; absent for some widely distributed calcifications, or
 * "*NOTE 3*"). A film with several abnormalities has several lines. Even numbers are
 * left breasts, odd numbers right ones; films 2k-1 and 2k are one woman; all are MLO.
 * Other lines (the prose header) are ignored. */
#ifndef MAMA_MIAS_H
#define MAMA_MIAS_H

#include "engine/core/status.h"
#include "engine/data/table.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MIAS_MAX_ABN 4
#define MIAS_IMAGE_SIZE 1024

typedef struct mias_abnormality {
    char cls[5];           /* "CALC", "CIRC", "SPIC", "MISC", "ARCH", "ASYM" */
    char severity;         /* 'B' or 'M' */
    int has_xy;            /* 0: centre and radius not given */
    int x, y, radius;      /* Info.txt coordinates: origin bottom-left */
    int line;
} mias_abnormality;

typedef struct mias_film {
    char ref[8];           /* "mdb001" */
    int number;            /* 1..322 */
    char side;             /* 'L' (even) or 'R' (odd) */
    char tissue;           /* 'F', 'G', 'D' */
    int nabn;              /* 0 for a normal film */
    mias_abnormality abn[MIAS_MAX_ABN];
    int line;              /* first line of the film */
} mias_film;

typedef struct mias_set {
    mias_film *films;      /* by film number */
    int n;
} mias_set;

mama_status mias_load(const char *info_txt, table_mode mode, mias_set **out_set, table_issues *issues);
void mias_free(mias_set *s);

int mias_woman(const mias_film *f);       /* (number + 1) / 2: 1..161 */
/* 'N' normal, 'M' when any abnormality is malignant, else 'B'. (The README's counts,
 * 64 benign and 51 malignant, follow each film's first line: mdb144 has a benign and a
 * malignant line.) */
char mias_severity(const mias_film *f);
/* Centre of abnormality k in image coordinates (column, row from the top). */
void mias_abn_pixel(const mias_abnormality *a, double *out_col, double *out_row);

#ifdef __cplusplus
}
#endif
#endif
