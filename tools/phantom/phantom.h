/* phantom.h: private interface of the screening-study generator behind `mama phantom`.
 * A study is first drawn as a case (phantom_case.c: patient, density, findings, truth),
 * then each view is rendered from it (phantom_render.c), written as DICOM by the tool and
 * described in the ground-truth tables (phantom_tables.c). All randomness comes from
 * mama_rng streams seeded from (seed, study index, purpose), so a study does not depend on
 * how many others were drawn before it.
 *
 * Geometry is in millimetres on a canonical detector 179.2 mm wide (2560 columns of
 * 0.07 mm at full size); the chest wall is the image's left edge for the left breast and
 * the right edge for the right breast (Patient Orientation A\R, P\L, A\FR, P\FL). */
#ifndef MAMA_PHANTOM_H
#define MAMA_PHANTOM_H

#include <stdint.h>
#include <stdio.h>

#include "engine/core/rng.h"

#define PH_DETECTOR_WIDTH_MM 179.2
#define PH_MAX_FINDINGS 4

/* ---- random numbers: the engine's generator (engine/core/rng.h, xoshiro256**), with
 * states keyed by three numbers instead of one seed. The draw helpers below are the
 * phantom's own; their exact arithmetic is part of "same seed, same bytes". */
uint64_t ph_hash3(uint64_t a, uint64_t b, uint64_t c);
void ph_rng_seed(mama_rng *r, uint64_t a, uint64_t b, uint64_t c);
/* A 32-bit integer hash (lowbias32) for per-pixel noise and lattices: part of "same seed,
 * same bytes" too. */
static inline uint32_t ph_hash32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}
double ph_rng_range(mama_rng *r, double lo, double hi);
/* Box-Muller on u1 in [1e-300, 1) (mama_rng_normal uses 1 - u): kept so that phantoms
 * stay byte-identical across the move to the engine's generator. */
double ph_rng_normal(mama_rng *r);
int ph_rng_pick(mama_rng *r, const double *weights, int n);

/* ---- UIDs: "2.25." + the decimal value of a 128-bit UUID (version 8 layout) derived
 * from the three numbers; out must hold 65 bytes. */
void ph_uid(char *out, uint64_t a, uint64_t b, uint64_t c);

/* ---- the case */
typedef enum ph_kind { PH_MASS = 0, PH_CALC, PH_DISTORTION, PH_ASYMMETRY } ph_kind;
typedef enum ph_shape { PH_ROUND = 0, PH_OVAL, PH_IRREGULAR } ph_shape;
typedef enum ph_margin { PH_CIRCUMSCRIBED = 0, PH_INDISTINCT, PH_SPICULATED } ph_margin;
typedef enum ph_massdens { PH_DENS_HIGH = 0, PH_DENS_EQUAL, PH_DENS_LOW } ph_massdens;
typedef enum ph_calcmorph {
    PH_CALC_PUNCTATE = 0, PH_CALC_ROUND, PH_CALC_COARSE, PH_CALC_AMORPHOUS,
    PH_CALC_COARSE_HETERO, PH_CALC_FINE_PLEOMORPHIC, PH_CALC_FINE_LINEAR_BRANCHING
} ph_calcmorph;
typedef enum ph_calcdistri { PH_DISTRI_GROUPED = 0, PH_DISTRI_LINEAR, PH_DISTRI_SEGMENTAL, PH_DISTRI_REGIONAL } ph_calcdistri;

typedef struct ph_finding {
    ph_kind kind;
    ph_shape shape;
    ph_margin margin;
    ph_massdens massdens;
    ph_calcmorph calc_morph;
    ph_calcdistri calc_distri;
    double dist_mm;        /* distance from the nipple, the same in CC and MLO */
    double angle_cc;       /* direction from the nipple in CC (rad; 0 = towards the chest wall, + = down) */
    double angle_mlo;      /* same in MLO */
    double size_mm;        /* radius (mass, asymmetry, distortion) or cluster radius (calcs) */
    double contrast;       /* peak added intensity (0..1 scale) */
    double orient;         /* long-axis orientation (rad) */
    uint64_t seed;         /* detail seed (spicules, specks), shared by both views */
    double p_malignant;    /* the model's probability */
    int malignant;         /* drawn truth */
    int birads;            /* assessed category 0..5 */
    int biopsied;
    int path_severity;     /* EMBED-style: 0 invasive, 1 in situ, 4 benign, -1 none */
} ph_finding;

typedef struct ph_breast {
    char side;             /* 'L' or 'R' */
    double depth_cc_mm;    /* nipple to chest wall, CC */
    double depth_mlo_mm;   /* nipple to chest wall, MLO */
    double nipple_y_cc;    /* nipple row (mm from the top) */
    double nipple_y_mlo;
    double half_cc_mm;     /* half extent up/down from the nipple, CC */
    double up_mlo_mm, down_mlo_mm; /* MLO extents above and below the nipple */
    double pect_top_mm;    /* pectoral muscle width at the top edge (MLO) */
    double pect_len_mm;    /* where the pectoral edge meets the chest wall (MLO) */
    int nfind;
    ph_finding find[PH_MAX_FINDINGS];
    int birads;            /* highest assessed category in this breast (1 = negative) */
    int malignant;
} ph_breast;

typedef struct ph_study {
    uint64_t seed;
    int index;
    char patient_id[32];   /* also empi_anon */
    char accession[32];    /* also acc_anon */
    char patient_name[48];
    char study_uid[65];
    char study_date[9];    /* DA */
    char study_time[7];    /* TM */
    char birth_date[9];
    int age;
    int density;           /* 1..4 = A..D */
    int screening;         /* 1: screening exam, 0: diagnostic */
    int implant;
    const char *race;
    const char *ethnicity;
    int rsna_site, rsna_machine;
    long rsna_patient;
    ph_breast breast[2];   /* [0] left, [1] right */
} ph_study;

/* Draws study `index` of a run with this seed. rows_mm is the detector height (rows x
 * pixel spacing); abnormal is the probability of at least one finding. */
void ph_case_draw(ph_study *out_study, uint64_t seed, int index, double rows_mm, double abnormal);

/* Breast outline in a view: e < 1 inside, where e is the elliptic radius about the point
 * of the chest wall level with the nipple (the nipple itself lies at e = 1); x_mm from the
 * chest wall, y_mm from the top. ph_pect_x: pectoral muscle edge in MLO (0 below it). */
double ph_breast_e(const ph_breast *b, int mlo, double x_mm, double y_mm);
double ph_pect_x(const ph_breast *b, double y_mm);
/* Centre of finding f in a view, in mm. */
void ph_finding_pos(const ph_breast *b, const ph_finding *f, int mlo, double *out_x, double *out_y);

const char *ph_kind_name(ph_kind k);
/* EMBED codes (docs/reports.md of the report builder) for the clinical table. */
const char *ph_embed_massshape(const ph_finding *f);
const char *ph_embed_massmargin(const ph_finding *f);
const char *ph_embed_massdens(const ph_finding *f);
const char *ph_embed_calcfind(const ph_finding *f);
const char *ph_embed_calcdistri(const ph_finding *f);
char ph_embed_asses(int birads);  /* 0 A, 1 N, 2 B, 3 P, 4 S, 5 M, 6 K */

/* ---- rendering */
typedef struct ph_view {
    int side;              /* 0 left, 1 right */
    int mlo;               /* 0 CC, 1 MLO */
    int rows, cols;
    int bits;              /* bits stored */
    int mono1;             /* store inverted values */
    int implant_displaced; /* implant pushed out of the field */
    uint64_t noise_seed;   /* per acquisition (a retake gets another) */
    unsigned hard;         /* PH_HARD_*: the cases that broke the Otsu crop */
    uint8_t *mask;         /* rows x cols or NULL: the true mask (PH_MASK_*), as written */
} ph_view;

/* Hard cases (phantom_hard.c): a fatty breast whose pectoral is much brighter than its
 * fat; digitised film (film base instead of air, clear-film borders, black scanner
 * padding); burned-in labels; a lead marker and a step wedge. */
enum { PH_HARD_FATTY = 1, PH_HARD_FILM = 2, PH_HARD_LABELS = 4, PH_HARD_MARKERS = 8 };
/* True mask values: what each pixel is. */
enum { PH_MASK_AIR = 0, PH_MASK_BREAST = 1, PH_MASK_PECTORAL = 2, PH_MASK_BORDER = 3, PH_MASK_LABEL = 4 };
/* Draws the film, label and marker overlays into img (rows x cols, canonical frame: chest
 * wall left, values 0..1) and marks them in mask (same frame; may be NULL), in places
 * the breast leaves free. s: mm per pixel. */
void ph_hard_apply(const ph_study *st, const ph_view *v, float *img, uint8_t *mask, double s);

/* Where a finding landed in a rendered view (pixels, canonical or mirrored as written). */
typedef struct ph_mark {
    double x, y, r;
} ph_mark;

/* Renders one view into out (rows x cols stored values). work is scratch space of
 * ph_render_work_size(rows, cols) bytes. marks (may be NULL) receives one entry per
 * finding of that breast. Returns 0, or -1 on an impossible size. */
size_t ph_render_work_size(int rows, int cols);
int ph_render(const ph_study *st, const ph_view *v, uint16_t *out, void *work, ph_mark *marks);

/* Window centre and width (stored values) suiting a rendered view. */
void ph_window(const ph_view *v, double *out_center, double *out_width);

#endif
