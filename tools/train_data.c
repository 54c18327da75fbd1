/* train_data.c: data sources -> train_item list, split, split.csv (see train_data.h). */
#define _GNU_SOURCE
#include "tools/train_data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/data/embed_dataset.h"
#include "engine/data/mias.h"
#include "engine/data/phantom_truth.h"
#include "engine/data/rsna.h"
#include "engine/data/table.h"
#include "engine/text/report.h"

/* Appends one item (strings copied). 0, or -1 when out of memory. */
static int add_item(train_data *d, int *cap, const char *patient, const char *study,
                    const char *path, char lat, int density, int birads, int cancer, int line) {
    if (d->n == *cap) {
        int nc = *cap ? *cap * 2 : 256;
        train_item *ni = realloc(d->items, (size_t)nc * sizeof *ni);
        if (!ni) return -1;
        d->items = ni;
        *cap = nc;
    }
    train_item *it = &d->items[d->n];
    it->patient = strdup(patient);
    it->study = strdup(study);
    it->path = strdup(path);
    if (!it->patient || !it->study || !it->path) {
        free(it->patient), free(it->study), free(it->path);
        return -1;
    }
    it->laterality = lat;
    it->density = density, it->birads = birads, it->cancer = cancer, it->line = line;
    d->n++;
    return 0;
}

static int load_phantom(const train_config *c, train_data *d, table_mode mode, table_issues *is) {
    phantom_truth *t = NULL;
    if (phantom_truth_load(c->data_root, mode, &t, is) != MAMA_OK) return -1;
    int cap = 0, rc = 0;
    for (int i = 0; i < t->nimages && rc == 0; i++) {
        const phantom_image *im = &t->images[i];
        char path[2 * TRAIN_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", c->data_root, im->path);
        int dens = im->density >= 'A' && im->density <= 'D' ? im->density - 'A' : -1;
        rc = add_item(d, &cap, im->patient_id, im->study_uid, path, im->laterality, dens, im->birads,
                      im->cancer, im->line);
    }
    phantom_truth_free(t);
    return rc;
}

/* mini-MIAS: one study per woman; density is MIAS's own three tissue classes F, G, D
 * (0, 1, 2), not BI-RADS A-D; cancer = any malignant abnormality. */
static int load_mias(const train_config *c, train_data *d, table_mode mode, table_issues *is) {
    char info[2 * TRAIN_PATH_MAX];
    snprintf(info, sizeof info, "%s/Info.txt", c->data_root);
    mias_set *s = NULL;
    if (mias_load(info, mode, &s, is) != MAMA_OK) return -1;
    int cap = 0, rc = 0;
    for (int i = 0; i < s->n && rc == 0; i++) {
        const mias_film *f = &s->films[i];
        if (!f->number) continue; /* a number absent from Info.txt */
        char path[2 * TRAIN_PATH_MAX], woman[16];
        snprintf(path, sizeof path, "%s/images/%s.png", c->data_root, f->ref);
        snprintf(woman, sizeof woman, "MIAS%03d", mias_woman(f));
        const char *tissues = "FGD";
        const char *tp = f->tissue ? strchr(tissues, f->tissue) : NULL;
        rc = add_item(d, &cap, woman, woman, path, f->side, tp ? (int)(tp - tissues) : -1, -1,
                      mias_severity(f) == 'M', f->line);
    }
    mias_free(s);
    return rc;
}

/* RSNA has no study identifier: a patient's images are one screening exam. */
static int load_rsna(const train_config *c, train_data *d, table_mode mode, table_issues *is) {
    rsna_table *t = NULL;
    if (rsna_load(c->data_csv, mode, &t, is) != MAMA_OK) return -1;
    int cap = 0, rc = 0;
    for (int i = 0; i < t->n && rc == 0; i++) {
        const rsna_image *im = &t->images[i];
        char path[2 * TRAIN_PATH_MAX], pid[32];
        if (rsna_dicom_path(im, c->data_root, path, sizeof path) != MAMA_OK) {
            rc = -1;
            break;
        }
        snprintf(pid, sizeof pid, "%ld", im->patient_id);
        int dens = im->density ? im->density - 'A' : -1;
        rc = add_item(d, &cap, pid, pid, path, im->laterality, dens, im->birads, im->cancer, im->line);
    }
    rsna_free(t);
    return rc;
}

/* EMBED, and a hospital's DICOM folder with a labels CSV in EMBED's columns: labels from
 * the clinical row MAMA_METHOD.md section 4 chooses; cancer from path_severity (0 invasive,
 * 1 in situ = cancer; 2..6 = not; missing = unknown). */
static int load_embed(const train_config *c, train_data *d, table_mode mode, table_issues *is) {
    embed_dataset_table *t = NULL;
    const char *clin = c->data_clinical_csv[0] ? c->data_clinical_csv : NULL;
    if (embed_dataset_load(c->data_csv, clin, mode, &t, is) != MAMA_OK) return -1;
    int cap = 0, rc = 0;
    for (int i = 0; i < t->nimages && rc == 0; i++) {
        const embed_dataset_image *im = &t->images[i];
        int row, dens = -1, birads = -1, cancer = -1;
        if (clin && embed_dataset_image_row(t, i, &row) == MAMA_OK) {
            const report_clinical_row *r = &t->rows[row];
            dens = r->tissueden >= 1 && r->tissueden <= 4 ? r->tissueden - 1 : -1;
            birads = report_birads_rank(r->asses);
            cancer = r->path_severity < 0 ? -1 : r->path_severity <= 1;
        }
        char path[2 * TRAIN_PATH_MAX];
        if (im->dicom_path[0] == '/') snprintf(path, sizeof path, "%s", im->dicom_path);
        else snprintf(path, sizeof path, "%s/%s", c->data_root, im->dicom_path);
        rc = add_item(d, &cap, im->empi_anon, im->acc_anon, path, im->laterality, dens, birads,
                      cancer, im->line);
    }
    embed_dataset_free(t);
    return rc;
}

int train_data_load(const train_config *c, train_data *out, FILE *log_out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    table_mode mode = c->data_strict ? TABLE_STRICT : TABLE_LENIENT;
    table_issues is;
    table_issues_init(&is);
    const char *s = c->data_source;
    int rc;
    if (!strcmp(s, "phantom")) rc = load_phantom(c, out, mode, &is);
    else if (!strcmp(s, "mias")) rc = load_mias(c, out, mode, &is);
    else if (!strcmp(s, "rsna")) rc = load_rsna(c, out, mode, &is);
    else rc = load_embed(c, out, mode, &is); /* embed, dicom */
    for (int i = 0; i < is.count; i++)
        if (log_out) fprintf(log_out, "mama train: row left out: %s\n", is.msg[i]);
    out->n_bad_rows = is.count;
    table_issues_free(&is);
    if (rc != 0) {
        const char *why = mama_last_error();
        snprintf(err, errlen, "data.source = %s: %s", s, why && *why ? why : "out of memory");
        train_data_free(out);
        return -1;
    }
    if (out->n == 0) {
        snprintf(err, errlen, "data.source = %s: no images in %s", s,
                 !strcmp(s, "phantom") || !strcmp(s, "mias") ? c->data_root : c->data_csv);
        train_data_free(out);
        return -1;
    }
    return 0;
}

void train_data_free(train_data *d) {
    for (int i = 0; i < d->n; i++) free(d->items[i].patient), free(d->items[i].study), free(d->items[i].path);
    free(d->items);
    free(d->split);
    memset(d, 0, sizeof *d);
}

int train_data_split(train_data *d, uint64_t seed, char *err, size_t errlen) {
    const char **ids = malloc((size_t)d->n * sizeof *ids);
    d->split = malloc((size_t)d->n * sizeof *d->split);
    if (!ids || !d->split) {
        free(ids);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < d->n; i++) ids[i] = d->items[i].patient;
    mama_status rc = split_patients(ids, d->n, seed, d->split);
    free(ids);
    if (rc != MAMA_OK) {
        snprintf(err, errlen, "split: %s", mama_last_error());
        return -1;
    }
    int count[3] = {0, 0, 0};
    for (int i = 0; i < d->n; i++) count[d->split[i]]++;
    for (int k = 0; k < 2; k++)
        if (count[k] == 0) {
            snprintf(err, errlen, "data.split_seed: the %s split is empty (%d images of too few "
                     "patients; the split is 70/10/20 by patient)", split_name((split_kind)k), d->n);
            return -1;
        }
    return 0;
}

/* One CSV field, quoted when it holds a comma, quote or line break. */
static void csv_put(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int train_data_write_split(const train_data *d, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    fprintf(f, "patient,study,path,laterality,density,birads,cancer,split\n");
    for (int i = 0; i < d->n; i++) {
        const train_item *it = &d->items[i];
        csv_put(f, it->patient), fputc(',', f);
        csv_put(f, it->study), fputc(',', f);
        csv_put(f, it->path);
        fprintf(f, ",%c,%d,%d,%d,%s\n", it->laterality ? it->laterality : '?', it->density, it->birads,
                it->cancer, split_name(d->split[i]));
    }
    int bad = ferror(f);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) bad = 1;
    if (fclose(f) != 0) bad = 1;
    if (bad) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
