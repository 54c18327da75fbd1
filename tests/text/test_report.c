/* test_report.c: the report builder gives exactly the hand-written texts of the spec
 * (MAMA_METHOD.md section 4, docs/reports.md), the clinical-row choice follows its rules,
 * masking rates hold over many samples, and class prompts are built per task. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/text/report.h"
#include "tests/check.h"

static void expect_text(const char *what, mama_status rc, char *got, const char *want) {
    CHECK_MSG(rc == MAMA_OK, "%s: rc %d (%s)", what, rc, mama_last_error());
    if (rc != MAMA_OK) return;
    CHECK_MSG(strcmp(got, want) == 0, "%s:\n  got:  %s\n  want: %s", what, got, want);
    free(got);
}

static report_clinical_row row_init(void) {
    report_clinical_row r;
    memset(&r, 0, sizeof r);
    r.path_severity = -1;
    r.age_at_study = NAN;
    return r;
}

static void test_known_rows(void) {
    report_clinical_row r = row_init();
    r.empi_anon = "p1"; r.acc_anon = "e1"; r.desc = "MG Screening Bilateral";
    r.tissueden = 3; r.asses = 'N'; r.side = 'L';
    r.race_desc = "Caucasian or White"; r.ethnic_group_desc = "Non-Hispanic or Latino";
    r.age_at_study = 57.8;
    report_image_meta m = {"e1", "MG Screening Bilateral", "2D", 'L', "CC"};
    char *t = NULL;
    mama_status rc = report_build(&r, &m, NULL, &t);
    expect_text("negative dense screening", rc, t,
        "Procedure reported: MG Screening Bilateral. Reason for procedure: screening. "
        "Patient info: This patient is Caucasian or White, Non-Hispanic or Latino, and 57 years old. "
        "Image info: This is a 2D full-field digital mammogram of the left breast with CC view. "
        "Breast composition: The breast tissue is heterogeneously dense. "
        "This may lower the sensitivity of mammography. "
        "Findings: The mammogram shows that there is no evidence of malignancy. "
        "Impressions: BI-RADS Category 1: Negative. Overall assessment: Negative.");

    /* Diagnostic exam, suspicious mass and calcifications, all meta masked. */
    report_clinical_row s = row_init();
    s.acc_anon = "e2"; s.desc = "MG Diagnostic Left";
    s.tissueden = 1; s.asses = 'S'; s.side = 'R';
    s.massshape = "X"; s.massmargin = "S"; s.massdens = "+";
    s.calcfind = "P"; s.calcdistri = "S";
    s.race_desc = "Asian"; s.ethnic_group_desc = "Hispanic or Latino"; s.age_at_study = 61;
    report_image_meta m2 = {"e2", "MG Diagnostic Left", "C-view", 'R', "MLO"};
    report_mask all = {true, true, true, true, true, true};
    rc = report_build(&s, &m2, &all, &t);
    expect_text("suspicious masked", rc, t,
        "Procedure reported: MG Diagnostic Left. Reason for procedure: diagnostic. "
        "Patient info: This patient is unknown, unknown, and of unknown age. "
        "Image info: This is an unknown full-field digital mammogram of the unknown breast with unknown view. "
        "Breast composition: The breast tissue is almost entirely fat. "
        "Findings: The mammogram shows that there is a suspicious abnormality. "
        "There is an irregular mass with spiculated margins and high density. "
        "There are fine pleomorphic calcifications in a segmental distribution. "
        "Impressions: BI-RADS Category 4: Suspicious abnormality. "
        "Overall assessment: Suspicious.");

    /* Partly masked (race and view), same row unmasked elsewhere; C-view image type;
     * extremely dense; density-only mass; distribution-only calcifications. */
    report_mask part = {false, true, false, false, false, true};
    s.tissueden = 4; s.asses = 'B';
    s.massshape = NULL; s.massmargin = ""; s.massdens = "=";
    s.calcfind = NULL; s.calcdistri = "D";
    rc = report_build(&s, &m2, &part, &t);
    expect_text("benign partly masked", rc, t,
        "Procedure reported: MG Diagnostic Left. Reason for procedure: diagnostic. "
        "Patient info: This patient is unknown, Hispanic or Latino, and 61 years old. "
        "Image info: This is a C-view full-field digital mammogram of the right breast with unknown view. "
        "Breast composition: The breast tissue is extremely dense. "
        "This may lower the sensitivity of mammography. "
        "Findings: The mammogram shows that there are benign findings. "
        "There is a mass with equal density. "
        "There are calcifications in a diffuse distribution. "
        "Impressions: BI-RADS Category 2: Benign. Overall assessment: Benign.");

    /* Missing values: no density, no assessment, no demographics, no image meta:
     * the study description comes from the clinical row. Asymmetry (not a mass shape). */
    report_clinical_row u = row_init();
    u.acc_anon = "e3"; u.desc = "MG Screening Bilateral w/ CAD"; u.massshape = "F";
    u.massmargin = "Z"; /* unknown code: left out */
    rc = report_build(&u, NULL, NULL, &t);
    expect_text("missing values", rc, t,
        "Procedure reported: MG Screening Bilateral w/ CAD. Reason for procedure: screening. "
        "Patient info: This patient is unknown, unknown, and of unknown age. "
        "Image info: This is an unknown full-field digital mammogram of the unknown breast with unknown view. "
        "Breast composition: unknown. Findings: unknown. There is a focal asymmetry. "
        "Impressions: unknown. Overall assessment: unknown.");

    /* Every BI-RADS category's three phrases, and male breast. */
    static const struct { char asses; const char *tail; } cats[] = {
        {'A', "Findings: The mammogram shows that additional imaging evaluation is needed. "
              "Impressions: BI-RADS Category 0: Incomplete, additional imaging evaluation is needed. "
              "Overall assessment: Incomplete."},
        {'P', "Findings: The mammogram shows that there is a probably benign finding. "
              "Impressions: BI-RADS Category 3: Probably benign. Overall assessment: Probably benign."},
        {'M', "Findings: The mammogram shows that there is an abnormality highly suggestive of malignancy. "
              "Impressions: BI-RADS Category 5: Highly suggestive of malignancy. "
              "Overall assessment: Highly suggestive of malignancy."},
        {'K', "Findings: The mammogram shows that there is a known biopsy-proven malignancy. "
              "Impressions: BI-RADS Category 6: Known biopsy-proven malignancy. "
              "Overall assessment: Known malignancy."},
    };
    for (size_t i = 0; i < sizeof cats / sizeof cats[0]; i++) {
        report_clinical_row c = row_init();
        c.acc_anon = "e4"; c.desc = "MG Diagnostic Bilateral"; c.asses = cats[i].asses;
        c.tissueden = (int)i == 0 ? 5 : 2; c.age_at_study = 45;
        char want[1024];
        snprintf(want, sizeof want,
                 "Procedure reported: MG Diagnostic Bilateral. Reason for procedure: diagnostic. "
                 "Patient info: This patient is unknown, unknown, and 45 years old. "
                 "Image info: This is an unknown full-field digital mammogram of the unknown breast with unknown view. "
                 "Breast composition: %s %s",
                 i == 0 ? "This is a male breast." : "The breast tissue has scattered fibroglandular densities.",
                 cats[i].tail);
        rc = report_build(&c, NULL, NULL, &t);
        expect_text("category", rc, t, want);
    }
}

static void test_row_choice(void) {
    report_clinical_row rows[8];
    for (int i = 0; i < 8; i++) rows[i] = row_init();
    /* exam e1: L:N, L:S, R:M, B:B ; exam e2: B:A, B:B ; exam e3: R:A, R:N ; e4: L:B, R:A */
    const char *acc[8] = {"e1", "e1", "e1", "e1", "e2", "e2", "e3", "e3"};
    const char side[8] = {'L', 'L', 'R', 'B', 'B', 'B', 'R', 'R'};
    const char asses[8] = {'N', 'S', 'M', 'B', 'B', 'A', 'N', 'A'};
    for (int i = 0; i < 8; i++) { rows[i].acc_anon = acc[i]; rows[i].side = side[i]; rows[i].asses = asses[i]; }
    struct { const char *acc; char lat; int want; } cases[] = {
        {"e1", 'L', 1},  /* same side: S beats N */
        {"e1", 'R', 2},  /* same side: only M */
        {"e2", 'L', 5},  /* no L rows: side B; all <= 2 and a 0 exists: the 0 row */
        {"e3", 'L', 7},  /* no L, no B: any side; all <= 2 with a 0: the 0 row */
        {"e3", 'R', 7},
        {"e1", 0, 3},    /* no laterality: the side B rows (row 3) */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        report_image_meta m = {cases[i].acc, NULL, NULL, cases[i].lat, NULL};
        int got = -1;
        mama_status rc = report_choose_row(rows, 8, &m, &got);
        CHECK_MSG(rc == MAMA_OK && got == cases[i].want, "case %zu: rc %d got %d want %d", i, rc, got, cases[i].want);
    }
    /* A 0 row does not win when a row is > 2. */
    report_clinical_row r2[3] = {row_init(), row_init(), row_init()};
    const char a2[3] = {'A', 'P', 'N'};
    for (int i = 0; i < 3; i++) { r2[i].acc_anon = "x"; r2[i].side = 'R'; r2[i].asses = a2[i]; }
    report_image_meta mx = {"x", NULL, NULL, 'R', NULL};
    int got = -1;
    CHECK_MSG(report_choose_row(r2, 3, &mx, &got) == MAMA_OK && got == 1, "P (3) beats A (0): got %d", got);
    /* Unknown assessment codes lose against known ones, ties keep the first row. */
    r2[0].asses = 'Z'; r2[1].asses = 'B'; r2[2].asses = 'B';
    CHECK_MSG(report_choose_row(r2, 3, &mx, &got) == MAMA_OK && got == 1, "first B row: got %d", got);
    /* Exam with no rows: a clear error. */
    report_image_meta mn = {"nope", NULL, NULL, 'L', NULL};
    CHECK_MSG(report_choose_row(r2, 3, &mn, &got) == MAMA_ENOTFOUND, "missing exam");
    CHECK_MSG(strstr(mama_last_error(), "nope") != NULL, "message names the exam: %s", mama_last_error());
    CHECK_MSG(report_birads_rank('A') == 0 && report_birads_rank('K') == 6 && report_birads_rank('x') == -1, "ranks");
}

static void test_masking_rates(void) {
    mama_rng rng;
    mama_rng_seed(&rng, 1234);
    const int n = 10000;
    int counts[6] = {0}, all_six = 0;
    for (int i = 0; i < n; i++) {
        report_mask m;
        report_mask_sample(&m, &rng, 0.8);
        counts[0] += m.age; counts[1] += m.race; counts[2] += m.ethnicity;
        counts[3] += m.image_type; counts[4] += m.side; counts[5] += m.view;
        all_six += m.age && m.race && m.ethnicity && m.image_type && m.side && m.view;
    }
    /* Binomial(10000, 0.8): sd = 40; allow 5 sd. */
    for (int f = 0; f < 6; f++)
        CHECK_MSG(fabs(counts[f] - 8000.0) < 200.0, "field %d masked %d of %d", f, counts[f], n);
    /* Independence: all six masked with probability 0.8^6 = 0.262144 (sd about 44). */
    CHECK_MSG(fabs(all_six - 2621.44) < 220.0, "all six masked %d times", all_six);
    /* Same seed, same masks; and the masks reach the text. */
    mama_rng a, b;
    mama_rng_seed(&a, 7);
    mama_rng_seed(&b, 7);
    for (int i = 0; i < 100; i++) {
        report_mask ma, mb;
        report_mask_sample(&ma, &a, 0.8);
        report_mask_sample(&mb, &b, 0.8);
        CHECK_MSG(memcmp(&ma, &mb, sizeof ma) == 0, "deterministic");
    }
    report_mask never, always;
    report_mask_sample(&never, &a, 0.0);
    report_mask_sample(&always, &a, 1.0);
    CHECK_MSG(!never.age && !never.view && always.age && always.view, "p 0 and 1");
}

static void test_prompts(void) {
    char *t = NULL;
    mama_status rc = report_class_prompt(REPORT_TASK_DENSITY, 2, NULL, NULL, &t);
    expect_text("density C prompt", rc, t,
        "Procedure reported: MG Screening Bilateral. Reason for procedure: screening. "
        "Patient info: This patient is unknown, unknown, and of unknown age. "
        "Image info: This is an unknown full-field digital mammogram of the unknown breast with unknown view. "
        "Breast composition: The breast tissue is heterogeneously dense. "
        "This may lower the sensitivity of mammography.");
    report_clinical_row r = row_init();
    r.desc = "MG Diagnostic Right"; r.race_desc = "Asian"; r.ethnic_group_desc = "Non-Hispanic or Latino";
    r.age_at_study = 70.2; r.asses = 'N'; r.tissueden = 1;
    report_image_meta m = {"e", "MG Diagnostic Right", "2D", 'R', "MLO"};
    rc = report_class_prompt(REPORT_TASK_BIRADS, 4, &r, &m, &t);
    expect_text("birads 4 prompt with meta", rc, t,
        "Procedure reported: MG Diagnostic Right. Reason for procedure: diagnostic. "
        "Patient info: This patient is Asian, Non-Hispanic or Latino, and 70 years old. "
        "Image info: This is a 2D full-field digital mammogram of the right breast with MLO view. "
        "Findings: The mammogram shows that there is a suspicious abnormality. "
        "Impressions: BI-RADS Category 4: Suspicious abnormality. Overall assessment: Suspicious.");
    rc = report_class_prompt(REPORT_TASK_MALIGNANCY, 1, NULL, NULL, &t);
    expect_text("malignant prompt", rc, t,
        "Procedure reported: MG Screening Bilateral. Reason for procedure: screening. "
        "Patient info: This patient is unknown, unknown, and of unknown age. "
        "Image info: This is an unknown full-field digital mammogram of the unknown breast with unknown view. "
        "Findings: The mammogram shows that there is an abnormality highly suggestive of malignancy. "
        "Impressions: BI-RADS Category 5: Highly suggestive of malignancy. "
        "Overall assessment: Highly suggestive of malignancy.");
    CHECK_MSG(report_task_classes(REPORT_TASK_DENSITY) == 4 && report_task_classes(REPORT_TASK_BIRADS) == 7 &&
              report_task_classes(REPORT_TASK_MALIGNANCY) == 2, "class counts");
    CHECK_MSG(strcmp(report_class_name(REPORT_TASK_DENSITY, 3), "D") == 0, "D");
    CHECK_MSG(strcmp(report_class_name(REPORT_TASK_MALIGNANCY, 0), "benign") == 0, "benign");
    CHECK_MSG(report_class_name(REPORT_TASK_BIRADS, 7) == NULL, "no class 7");
    CHECK_MSG(report_class_prompt(REPORT_TASK_DENSITY, 4, NULL, NULL, &t) == MAMA_EINVAL, "bad class");
    /* Every prompt of every task builds. */
    for (int task = 0; task < REPORT_TASK_COUNT; task++)
        for (int k = 0; k < report_task_classes((report_task)task); k++) {
            rc = report_class_prompt((report_task)task, k, NULL, NULL, &t);
            CHECK_MSG(rc == MAMA_OK && strlen(t) > 100, "task %d class %d", task, k);
            if (rc == MAMA_OK) free(t);
        }
}

int main(void) {
    test_known_rows();
    test_row_choice();
    test_masking_rates();
    test_prompts();
    return check_done("report");
}
