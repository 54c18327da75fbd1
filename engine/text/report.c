/* report.c: structured reports from tabular metadata, row choice, masking and class
 * prompts (MAMA_METHOD.md sections 4 and 9). Phrases are documented in docs/reports.md:
 * change both together. */
#include "engine/text/report.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- growing string ---- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_appendf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_appendf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) { b->oom = 1; return; }
        if (b->p && (size_t)n < room) { b->len += (size_t)n; return; }
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + (size_t)n + 1) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) { b->oom = 1; return; }
        b->p = q;
        b->cap = cap;
    }
}

static mama_status sb_finish(sbuf *b, char **out_text) {
    if (b->oom || !b->p) {
        free(b->p);
        return mama_errorf(MAMA_ENOMEM, "report: out of memory building the text");
    }
    *out_text = b->p;
    return MAMA_OK;
}

static int coded(const char *s) { return s && s[0]; }

/* "a" or "an" before a word (vowel letter rule; enough for our fixed vocabulary). */
static const char *article(const char *word) {
    return word[0] && strchr("aeiouAEIOU", word[0]) ? "an" : "a";
}

/* ---- code tables (docs/reports.md) ---- */

typedef struct code_phrase {
    const char *code;
    const char *phrase;
} code_phrase;

/* Mass shapes; entries without "mass" in their phrase are findings in their own right
 * (asymmetries, distortion), not mass shapes: see mass_noun(). */
static const code_phrase mass_shapes[] = {
    {"G", "mass"}, {"R", "round mass"}, {"O", "oval mass"}, {"X", "irregular mass"},
    {"I", "irregular mass"}, {"L", "lobulated mass"},
    {"Q", "architectural distortion"}, {"A", "asymmetry"}, {"F", "focal asymmetry"},
    {"B", "global asymmetry"}, {"V", "developing asymmetry"}, {"T", "tubular density"},
    {"Y", "intramammary lymph node"}, {NULL, NULL},
};
static const code_phrase mass_margins[] = {
    {"D", "circumscribed"}, {"U", "indistinct"}, {"M", "microlobulated"},
    {"O", "obscured"}, {"S", "spiculated"}, {"I", "ill-defined"}, {NULL, NULL},
};
static const code_phrase mass_densities[] = {
    {"+", "high"}, {"H", "high"}, {"=", "equal"}, {"E", "equal"}, {"-", "low"},
    {"L", "low"}, {"0", "fat-containing"}, {"F", "fat-containing"}, {NULL, NULL},
};
static const code_phrase calc_morphologies[] = {
    {"A", "amorphous"}, {"H", "coarse heterogeneous"}, {"P", "fine pleomorphic"},
    {"F", "fine linear branching"}, {"L", "fine linear"}, {"B", "benign"},
    {"D", "dystrophic"}, {"E", "rim"}, {"M", "milk of calcium"}, {"R", "round"},
    {"K", "skin"}, {"S", "suture"}, {"V", "vascular"}, {"C", "coarse popcorn-like"},
    {"9", "punctate"}, {NULL, NULL},
};
static const code_phrase calc_distributions[] = {
    {"G", "grouped"}, {"C", "clustered"}, {"S", "segmental"}, {"R", "regional"},
    {"L", "linear"}, {"D", "diffuse"}, {NULL, NULL},
};

/* Phrase of a code (surrounding spaces ignored), NULL when not coded or unknown. */
static const char *lookup(const code_phrase *t, const char *code) {
    if (!coded(code)) return NULL;
    while (*code == ' ') code++;
    size_t n = strlen(code);
    while (n && code[n - 1] == ' ') n--;
    for (; t->code; t++)
        if (strlen(t->code) == n && strncasecmp(t->code, code, n) == 0) return t->phrase;
    return NULL;
}

/* Per BI-RADS rank 0..6: the Findings phrase, the Impressions description and the
 * Overall assessment. */
static const char *const birads_findings[7] = {
    "additional imaging evaluation is needed",
    "there is no evidence of malignancy",
    "there are benign findings",
    "there is a probably benign finding",
    "there is a suspicious abnormality",
    "there is an abnormality highly suggestive of malignancy",
    "there is a known biopsy-proven malignancy",
};
static const char *const birads_impressions[7] = {
    "Incomplete, additional imaging evaluation is needed",
    "Negative",
    "Benign",
    "Probably benign",
    "Suspicious abnormality",
    "Highly suggestive of malignancy",
    "Known biopsy-proven malignancy",
};
static const char *const birads_overall[7] = {
    "Incomplete", "Negative", "Benign", "Probably benign", "Suspicious",
    "Highly suggestive of malignancy", "Known malignancy",
};

/* Breast composition per tissueden 1..4 (A..D). */
static const char *const density_phrases[4] = {
    "The breast tissue is almost entirely fat",
    "The breast tissue has scattered fibroglandular densities",
    "The breast tissue is heterogeneously dense",
    "The breast tissue is extremely dense",
};

int report_birads_rank(char asses) {
    switch (asses) {
    case 'A': return 0;
    case 'N': return 1;
    case 'B': return 2;
    case 'P': return 3;
    case 'S': return 4;
    case 'M': return 5;
    case 'K': return 6;
    default: return -1;
    }
}

/* ---- row choice ---- */

static int same_str(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* Best row of the exam whose side matches `side` ('*' = any); -1 when none. */
static int best_row(const report_clinical_row *rows, int n, const char *acc, char side) {
    int best = -1, best_rank = -2, count = 0, max_rank = -1, zero = -1;
    for (int i = 0; i < n; i++) {
        if (!same_str(rows[i].acc_anon, acc)) continue;
        if (side != '*' && rows[i].side != side) continue;
        int r = report_birads_rank(rows[i].asses);
        count++;
        if (r > best_rank) { best_rank = r; best = i; }
        if (r > max_rank) max_rank = r;
        if (r == 0 && zero < 0) zero = i;
    }
    if (count == 0) return -1;
    if (zero >= 0 && max_rank <= 2) return zero;
    return best;
}

mama_status report_choose_row(const report_clinical_row *rows, int n,
                              const report_image_meta *img, int *out_index) {
    if (!img || !coded(img->acc_anon) || (n > 0 && !rows) || n < 0)
        return mama_errorf(MAMA_EINVAL, "report_choose_row: image without an exam id (acc_anon)");
    int i = -1;
    if (img->laterality) i = best_row(rows, n, img->acc_anon, img->laterality);
    if (i < 0) i = best_row(rows, n, img->acc_anon, 'B');
    if (i < 0) i = best_row(rows, n, img->acc_anon, '*');
    if (i < 0)
        return mama_errorf(MAMA_ENOTFOUND,
                           "report: no clinical row for exam %s: check that the clinical table "
                           "covers the metadata table", img->acc_anon);
    *out_index = i;
    return MAMA_OK;
}

void report_mask_sample(report_mask *out_mask, mama_rng *rng, double p) {
    out_mask->age = mama_rng_bernoulli(rng, p);
    out_mask->race = mama_rng_bernoulli(rng, p);
    out_mask->ethnicity = mama_rng_bernoulli(rng, p);
    out_mask->image_type = mama_rng_bernoulli(rng, p);
    out_mask->side = mama_rng_bernoulli(rng, p);
    out_mask->view = mama_rng_bernoulli(rng, p);
}

/* ---- sections ---- */

static const char *default_procedure = "MG Screening Bilateral";

static void meta_sections(sbuf *b, const report_clinical_row *row, const report_image_meta *img,
                          const report_mask *mask) {
    static const report_mask none;
    if (!mask) mask = &none;
    const char *proc = NULL;
    if (img && coded(img->study_description)) proc = img->study_description;
    else if (row && coded(row->desc)) proc = row->desc;
    else if (!img && !row) proc = default_procedure;
    const char *reason = "unknown";
    if (proc) {
        int screening = 0;
        for (const char *s = proc; *s && !screening; s++) screening = strncasecmp(s, "screen", 6) == 0;
        reason = screening ? "screening" : "diagnostic";
    }
    sb_appendf(b, "Procedure reported: %s. Reason for procedure: %s.", proc ? proc : "unknown", reason);

    const char *race = row && coded(row->race_desc) && !mask->race ? row->race_desc : "unknown";
    const char *eth = row && coded(row->ethnic_group_desc) && !mask->ethnicity
                          ? row->ethnic_group_desc : "unknown";
    sb_appendf(b, " Patient info: This patient is %s, %s, and ", race, eth);
    if (row && !mask->age && isfinite(row->age_at_study) && row->age_at_study >= 0)
        sb_appendf(b, "%d years old.", (int)floor(row->age_at_study));
    else
        sb_appendf(b, "of unknown age.");

    const char *type = img && coded(img->image_type) && !mask->image_type ? img->image_type : "unknown";
    const char *side = "unknown";
    if (img && !mask->side && img->laterality == 'L') side = "left";
    if (img && !mask->side && img->laterality == 'R') side = "right";
    const char *view = img && coded(img->view) && !mask->view ? img->view : "unknown";
    sb_appendf(b, " Image info: This is %s %s full-field digital mammogram of the %s breast with %s view.",
               article(type), type, side, view);
}

static void density_section(sbuf *b, int tissueden) {
    if (tissueden >= 1 && tissueden <= 4) {
        sb_appendf(b, " Breast composition: %s.", density_phrases[tissueden - 1]);
        if (tissueden >= 3) sb_appendf(b, " This may lower the sensitivity of mammography.");
    } else if (tissueden == 5) {
        sb_appendf(b, " Breast composition: This is a male breast.");
    } else {
        sb_appendf(b, " Breast composition: unknown.");
    }
}

static void mass_sentence(sbuf *b, const report_clinical_row *row) {
    const char *shape = lookup(mass_shapes, row->massshape);
    const char *margin = lookup(mass_margins, row->massmargin);
    const char *dens = lookup(mass_densities, row->massdens);
    if (!shape && !margin && !dens) return;
    const char *noun = shape ? shape : "mass";
    sb_appendf(b, " There is %s %s", article(noun), noun);
    if (margin) sb_appendf(b, " with %s margins", margin);
    if (dens) sb_appendf(b, " %s %s density", margin ? "and" : "with", dens);
    sb_appendf(b, ".");
}

static void calc_sentence(sbuf *b, const report_clinical_row *row) {
    const char *morph = lookup(calc_morphologies, row->calcfind);
    const char *distri = lookup(calc_distributions, row->calcdistri);
    if (!morph && !distri) return;
    sb_appendf(b, " There are %s%scalcifications", morph ? morph : "", morph ? " " : "");
    if (distri) sb_appendf(b, " in %s %s distribution", article(distri), distri);
    sb_appendf(b, ".");
}

/* Findings (with the row's mass and calcification sentences when row is given),
 * Impressions and Overall assessment of BI-RADS rank r (-1 = unknown). */
static void assessment_sections(sbuf *b, int r, const report_clinical_row *row) {
    if (r < 0) {
        sb_appendf(b, " Findings: unknown.");
    } else {
        sb_appendf(b, " Findings: The mammogram shows that %s.", birads_findings[r]);
    }
    if (row) {
        mass_sentence(b, row);
        calc_sentence(b, row);
    }
    if (r < 0) {
        sb_appendf(b, " Impressions: unknown. Overall assessment: unknown.");
    } else {
        sb_appendf(b, " Impressions: BI-RADS Category %d: %s. Overall assessment: %s.", r,
                   birads_impressions[r], birads_overall[r]);
    }
}

mama_status report_build(const report_clinical_row *row, const report_image_meta *img,
                         const report_mask *mask, char **out_text) {
    if (!row || !out_text) return mama_errorf(MAMA_EINVAL, "report_build: no clinical row");
    sbuf b = {0};
    meta_sections(&b, row, img, mask);
    density_section(&b, row->tissueden);
    assessment_sections(&b, report_birads_rank(row->asses), row);
    return sb_finish(&b, out_text);
}

/* ---- class prompts ---- */

static const char *const task_names[REPORT_TASK_COUNT] = {"density", "birads", "malignancy"};
static const int task_classes[REPORT_TASK_COUNT] = {4, 7, 2};
static const char *const class_names[REPORT_TASK_COUNT][7] = {
    {"A", "B", "C", "D"},
    {"0", "1", "2", "3", "4", "5", "6"},
    {"benign", "malignant"},
};

const char *report_task_name(report_task task) {
    return (unsigned)task < REPORT_TASK_COUNT ? task_names[task] : NULL;
}

int report_task_classes(report_task task) {
    return (unsigned)task < REPORT_TASK_COUNT ? task_classes[task] : 0;
}

const char *report_class_name(report_task task, int k) {
    if ((unsigned)task >= REPORT_TASK_COUNT || k < 0 || k >= task_classes[task]) return NULL;
    return class_names[task][k];
}

mama_status report_class_prompt(report_task task, int k, const report_clinical_row *row,
                                const report_image_meta *img, char **out_text) {
    if (!report_class_name(task, k) || !out_text)
        return mama_errorf(MAMA_EINVAL, "report_class_prompt: task %d has no class %d", (int)task, k);
    sbuf b = {0};
    meta_sections(&b, row, img, NULL);
    switch (task) {
    case REPORT_TASK_DENSITY: density_section(&b, k + 1); break;
    case REPORT_TASK_BIRADS: assessment_sections(&b, k, NULL); break;
    default: assessment_sections(&b, k == 0 ? 2 : 5, NULL); break;
    }
    return sb_finish(&b, out_text);
}
