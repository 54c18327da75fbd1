/* phantom_tables.c: the ground truth of a phantom run, written as the real data sets'
 * tables (EMBED metadata and clinical CSVs, RSNA train.csv) plus the generator's own
 * manifest (one row per DICOM file) and finding list (with pixel positions per view).
 * All files are RFC 4180 CSV with a header row; fields holding a comma, quote or line
 * break are quoted. Column lists are in docs/phantom.md. */
#include <stdio.h>
#include <string.h>

#include "tools/phantom/phantom_tables.h"

static void field(FILE *f, const char *s, int last) {
    if (!s) s = "";
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', f);
        for (const char *p = s; *p; p++) {
            if (*p == '"') fputc('"', f);
            fputc(*p, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
    fputc(last ? '\n' : ',', f);
}

static void fieldi(FILE *f, long v, int last) {
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", v);
    field(f, buf, last);
}

static const char *manifest_cols = "path,study_uid,series_uid,sop_instance_uid,sop_class_uid,patient_id,accession,"
                                   "laterality,view,modifiers,intent,transfer_syntax,rows,columns,bits_stored,"
                                   "photometric,instance_number,density,birads,cancer";
static const char *meta_cols = "empi_anon,acc_anon,study_date_anon,StudyDescription,SeriesDescription,FinalImageType,"
                               "ImageLateralityFinal,ViewPosition,spot_mag,anon_dicom_path,SOPInstanceUID,"
                               "SeriesInstanceUID,StudyInstanceUID";
static const char *clin_cols = "empi_anon,acc_anon,study_date_anon,desc,tissueden,asses,side,massshape,massmargin,"
                               "massdens,calcfind,calcdistri,path_severity,RACE_DESC,ETHNIC_GROUP_DESC,age_at_study";
static const char *rsna_cols = "site_id,patient_id,image_id,laterality,view,age,cancer,biopsy,invasive,BIRADS,implant,"
                               "density,machine_id,difficult_negative_case";
static const char *find_cols = "acc_anon,empi_anon,side,finding,kind,massshape,massmargin,massdens,calcfind,calcdistri,"
                               "size_mm,dist_nipple_mm,p_malignant,malignant,birads,path_severity,"
                               "cc_x,cc_y,mlo_x,mlo_y,radius_px";

int ph_tables_open(ph_tables *t, const char *dir, char *err, size_t err_size) {
    memset(t, 0, sizeof *t);
    struct {
        FILE **fp;
        const char *name, *cols;
    } files[] = {
        {&t->manifest, "manifest.csv", manifest_cols},
        {&t->meta, "embed_metadata.csv", meta_cols},
        {&t->clinical, "embed_clinical.csv", clin_cols},
        {&t->rsna, "train.csv", rsna_cols},
        {&t->findings, "phantom_findings.csv", find_cols},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
        *files[i].fp = fopen(path, "w");
        if (!*files[i].fp) {
            snprintf(err, err_size, "%s: cannot create", path);
            ph_tables_close(t);
            return -1;
        }
        fprintf(*files[i].fp, "%s\n", files[i].cols);
    }
    return 0;
}

int ph_tables_close(ph_tables *t) {
    FILE *all[] = {t->manifest, t->meta, t->clinical, t->rsna, t->findings};
    int rc = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i] && fclose(all[i]) != 0) rc = -1;
    memset(t, 0, sizeof *t);
    return rc;
}

void ph_tables_image(ph_tables *t, const ph_study *st, const ph_image_row *im) {
    FILE *f = t->manifest;
    field(f, im->rel_path, 0);
    field(f, st->study_uid, 0);
    field(f, im->series_uid, 0);
    field(f, im->sop_uid, 0);
    field(f, im->sop_class_uid, 0);
    field(f, st->patient_id, 0);
    field(f, st->accession, 0);
    char lat[2] = {st->breast[im->side].side, 0};
    field(f, lat, 0);
    field(f, im->view, 0);
    field(f, im->modifiers, 0);
    field(f, im->for_processing ? "FOR PROCESSING" : "FOR PRESENTATION", 0);
    field(f, im->tsyntax_uid, 0);
    fieldi(f, im->rows, 0);
    fieldi(f, im->cols, 0);
    fieldi(f, im->bits, 0);
    field(f, im->mono1 ? "MONOCHROME1" : "MONOCHROME2", 0);
    fieldi(f, im->instance_number, 0);
    const ph_breast *br = &st->breast[im->side];
    fprintf(f, "%c,%d,%d\n", 'A' + st->density - 1, br->birads, br->malignant);

    f = t->meta;
    field(f, st->patient_id, 0);
    field(f, st->accession, 0);
    field(f, st->study_date, 0);
    field(f, st->screening ? "MG Screening Bilateral" : "MG Diagnostic Bilateral", 0);
    field(f, im->series_description, 0);
    field(f, "2D", 0);
    field(f, lat, 0);
    field(f, im->view, 0);
    field(f, im->spot_mag ? "1" : "", 0);
    field(f, im->rel_path, 0);
    field(f, im->sop_uid, 0);
    field(f, im->series_uid, 0);
    field(f, st->study_uid, 1);

    if (im->rsna) {
        const ph_breast *b = &st->breast[im->side];
        int biopsy = 0, invasive = 0;
        for (int k = 0; k < b->nfind; k++) {
            biopsy |= b->find[k].biopsied;
            invasive |= b->find[k].path_severity == 0;
        }
        f = t->rsna;
        fieldi(f, st->rsna_site, 0);
        fieldi(f, st->rsna_patient, 0);
        fieldi(f, im->rsna_image_id, 0);
        field(f, lat, 0);
        field(f, im->view, 0);
        fieldi(f, st->age, 0);
        fieldi(f, b->malignant, 0);
        fieldi(f, biopsy, 0);
        fieldi(f, invasive, 0);
        char birads[16] = "";
        if (b->birads <= 2) snprintf(birads, sizeof birads, "%d", b->birads);
        field(f, birads, 0);
        fieldi(f, st->implant, 0);
        char dens[2] = {(char)('A' + st->density - 1), 0};
        field(f, dens, 0);
        fieldi(f, st->rsna_machine, 0);
        field(f, biopsy && !b->malignant ? "True" : "False", 1);
    }
}

static void clinical_row(FILE *f, const ph_study *st, char side, int birads, const ph_finding *fd) {
    field(f, st->patient_id, 0);
    field(f, st->accession, 0);
    field(f, st->study_date, 0);
    field(f, st->screening ? "MG Screening Bilateral" : "MG Diagnostic Bilateral", 0);
    fieldi(f, st->density, 0);
    char a[2] = {ph_embed_asses(birads), 0};
    field(f, a, 0);
    char s[2] = {side, 0};
    field(f, s, 0);
    field(f, fd ? ph_embed_massshape(fd) : "", 0);
    field(f, fd ? ph_embed_massmargin(fd) : "", 0);
    field(f, fd ? ph_embed_massdens(fd) : "", 0);
    field(f, fd ? ph_embed_calcfind(fd) : "", 0);
    field(f, fd ? ph_embed_calcdistri(fd) : "", 0);
    if (fd && fd->path_severity >= 0) fieldi(f, fd->path_severity, 0);
    else field(f, "", 0);
    field(f, st->race, 0);
    field(f, st->ethnicity, 0);
    char age[32];
    snprintf(age, sizeof age, "%.1f", st->age + (double)(st->index % 10) / 10.0);
    field(f, age, 1);
}

void ph_tables_study(ph_tables *t, const ph_study *st, const ph_mark marks[2][2][PH_MAX_FINDINGS], int have_cc[2],
                     int have_mlo[2]) {
    for (int s = 0; s < 2; s++) {
        const ph_breast *b = &st->breast[s];
        if (b->nfind == 0) clinical_row(t->clinical, st, b->side, b->birads, NULL);
        for (int k = 0; k < b->nfind; k++) {
            const ph_finding *fd = &b->find[k];
            clinical_row(t->clinical, st, b->side, fd->birads, fd);
            FILE *f = t->findings;
            char lat[2] = {b->side, 0};
            field(f, st->accession, 0);
            field(f, st->patient_id, 0);
            field(f, lat, 0);
            fieldi(f, k, 0);
            field(f, ph_kind_name(fd->kind), 0);
            field(f, ph_embed_massshape(fd), 0);
            field(f, ph_embed_massmargin(fd), 0);
            field(f, ph_embed_massdens(fd), 0);
            field(f, ph_embed_calcfind(fd), 0);
            field(f, ph_embed_calcdistri(fd), 0);
            fprintf(f, "%.2f,%.2f,%.4f,%d,%d,", fd->size_mm, fd->dist_mm, fd->p_malignant, fd->malignant, fd->birads);
            if (fd->path_severity >= 0) fprintf(f, "%d,", fd->path_severity);
            else fputc(',', f);
            const ph_mark *cc = &marks[s][0][k], *mlo = &marks[s][1][k];
            if (have_cc[s]) fprintf(f, "%.1f,%.1f,", cc->x, cc->y);
            else fputs(",,", f);
            if (have_mlo[s]) fprintf(f, "%.1f,%.1f,", mlo->x, mlo->y);
            else fputs(",,", f);
            fprintf(f, "%.1f\n", have_cc[s] ? cc->r : have_mlo[s] ? mlo->r : 0.0);
        }
    }
}
