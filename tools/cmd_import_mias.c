/* cmd_import_mias.c: `mama import mias DIR OUT`, the mini-MIAS films as DICOM studies,
 * one per woman (L-MLO from the even film, R-MLO from the odd one), so that they can be
 * sent to mamad like any study. Pixels are the PNG's 8-bit film values, unchanged, in
 * 16-bit words with BitsStored 8; MG For Presentation, ImageType DERIVED\SECONDARY
 * (digitised film), Imager Pixel Spacing 0.2 mm, Burned In Annotation YES (film labels).
 * UIDs derive from the film and woman numbers only, so a re-import gives the same UIDs.
 * Patient Orientation follows where the breast actually lies in each film (the side
 * with more tissue is the chest wall), since MIAS films are not all mirrored the same
 * way. Also writes OUT/mias_manifest.csv (path, film, woman, side, tissue, severity,
 * UIDs). */
#include <errno.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dicom/dcm_writer.h"
#include "engine/data/mias.h"
#include "tools/mama.h"
#include "tools/phantom/phantom.h"

int cmd_import(int argc, char **argv);

#define MIAS_UID_ROOT 0x4d494153ull /* "MIAS" */

static void usage(FILE *f) {
    fprintf(f, "usage: mama import mias DIR OUT [--films FIRST-LAST] [--tsyntax T]\n"
               "  DIR      the mini-MIAS folder (Info.txt, images/mdbNNN.png)\n"
               "  OUT      output folder: OUT/MIASnnn/{LMLO,RMLO}.dcm and OUT/mias_manifest.csv\n"
               "  --films  only films FIRST..LAST (e.g. 1-6 = women 1 to 3)\n"
               "  --tsyntax explicit (default), implicit, deflate, rle, jpegll, jpegls, j2k\n");
}

/* Reads an 8-bit grayscale PNG into a malloc'd 16-bit buffer. */
static int read_png(const char *path, uint16_t **out_px, int *out_w, int *out_h) {
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path)) {
        fprintf(stderr, "mama import mias: %s: %s\n", path, im.message);
        return -1;
    }
    im.format = PNG_FORMAT_GRAY;
    size_t n = (size_t)im.width * im.height;
    uint8_t *buf = malloc(n ? n : 1);
    uint16_t *px = malloc((n ? n : 1) * sizeof *px);
    if (!buf || !px || !png_image_finish_read(&im, NULL, buf, 0, NULL)) {
        fprintf(stderr, "mama import mias: %s: %s\n", path, buf && px ? im.message : "out of memory");
        png_image_free(&im);
        free(buf);
        free(px);
        return -1;
    }
    for (size_t i = 0; i < n; i++) px[i] = buf[i];
    free(buf);
    *out_px = px;
    *out_w = (int)im.width;
    *out_h = (int)im.height;
    return 0;
}

/* 1 when the breast (more tissue) lies on the image's left half. */
static int chest_wall_left(const uint16_t *px, int w, int h) {
    uint64_t left = 0, right = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            if (x < w / 2) left += px[(size_t)y * w + x];
            else right += px[(size_t)y * w + x];
        }
    return left >= right;
}

static int import_film(const char *dir, const char *out, const mias_film *f, dcm_tsyntax ts, FILE *manifest) {
    char png_path[4096];
    snprintf(png_path, sizeof png_path, "%s/images/%s.png", dir, f->ref);
    uint16_t *px;
    int w, h;
    if (read_png(png_path, &px, &w, &h) != 0) return -1;
    if (w > 65535 || h > 65535) {
        fprintf(stderr, "mama import mias: %s: %dx%d is too large for DICOM rows/columns\n", png_path, w, h);
        free(px);
        return -1;
    }
    int woman = mias_woman(f);
    char patient_id[16], name[32], study_dir[4200], path[4300], rel[64];
    char study_uid[65], series_uid[65], sop_uid[65], desc[160];
    snprintf(patient_id, sizeof patient_id, "MIAS%03d", woman);
    snprintf(name, sizeof name, "MIAS^WOMAN%03d", woman);
    snprintf(study_dir, sizeof study_dir, "%s/%s", out, patient_id);
    if (mkdir(study_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "mama import mias: cannot create %s: %s\n", study_dir, strerror(errno));
        free(px);
        return -1;
    }
    const char *view_name = f->side == 'L' ? "LMLO" : "RMLO";
    snprintf(path, sizeof path, "%s/%s.dcm", study_dir, view_name);
    snprintf(rel, sizeof rel, "%s/%s.dcm", patient_id, view_name);
    ph_uid(study_uid, MIAS_UID_ROOT, (uint64_t)woman, 1);
    ph_uid(series_uid, MIAS_UID_ROOT, (uint64_t)woman, 2);
    ph_uid(sop_uid, MIAS_UID_ROOT, (uint64_t)f->number, 3);
    snprintf(desc, sizeof desc, "Digitised screen-film mammogram, mini-MIAS %s (200 um, 8-bit), background tissue %c",
             f->ref, f->tissue);
    int cw_left = chest_wall_left(px, w, h);
    /* standard: chest wall left for L (A\FR), right for R (P\FL); the mirrored films flip
     * only the row direction */
    const char *orient = f->side == 'L' ? (cw_left ? "A\\FR" : "P\\FR") : (cw_left ? "A\\FL" : "P\\FL");
    char acq[20];
    snprintf(acq, sizeof acq, "19940101%02d%02d00", 9 + woman % 8, f->side == 'L' ? 10 : 20);
    dcm_mg_image img = {
        .patient_id = patient_id,
        .patient_name = name,
        .study_uid = study_uid,
        .study_id = patient_id + 4,
        .study_date = "19940101",
        .study_time = "090000",
        .study_description = "MG Screening Bilateral (mini-MIAS film)",
        .accession_number = patient_id,
        .referring_physician = "",
        .series_uid = series_uid,
        .series_number = 1,
        .series_description = "mini-MIAS MLO films",
        .manufacturer = "MIAS (digitised film)",
        .sop_instance_uid = sop_uid,
        .instance_number = f->side == 'L' ? 1 : 2,
        .acquisition_datetime = acq,
        .laterality = f->side == 'L' ? "L" : "R",
        .view_position = "MLO",
        .derived = 1,
        .window_center = 127.5,
        .window_width = 256,
        .voi_lut_function = "LINEAR",
        .pixel_spacing_mm = 0.2,
        .derivation_description = desc,
        .patient_orientation = orient,
        .burned_in_annotation = 1,
        .rows = (uint16_t)h,
        .columns = (uint16_t)w,
        .bits_stored = 8,
        .pixels = px,
    };
    char err[DCM_WRITER_ERR_MAX];
    int rc = dcm_write_mg(path, &img, ts, err, sizeof err);
    free(px);
    if (rc != 0) {
        fprintf(stderr, "mama import mias: %s\n", err);
        return -1;
    }
    fprintf(manifest, "%s,%s,%d,%c,%c,%c,%d,%s,%s,%s\n", rel, f->ref, woman, f->side, f->tissue, mias_severity(f),
            cw_left, study_uid, series_uid, sop_uid);
    return 0;
}

static int import_mias(int argc, char **argv) {
    const char *dir = NULL, *out = NULL;
    int first = 1, last = 100000;
    dcm_tsyntax ts = DCM_TS_EXPLICIT_LE;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--films") == 0 && i + 1 < argc) {
            char dash;
            if (sscanf(argv[++i], "%d%c%d", &first, &dash, &last) != 3 || dash != '-' || first < 1 || last < first) {
                fprintf(stderr, "mama import mias: --films must be FIRST-LAST, e.g. 1-6, not '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--tsyntax") == 0 && i + 1 < argc) {
            if (dcm_tsyntax_parse(argv[++i], &ts) != 0) {
                fprintf(stderr, "mama import mias: --tsyntax: unknown transfer syntax '%s'\n", argv[i]);
                return 2;
            }
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "mama import mias: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (!dir) {
            dir = argv[i];
        } else if (!out) {
            out = argv[i];
        } else {
            fprintf(stderr, "mama import mias: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!dir || !out) {
        usage(stderr);
        return 2;
    }
    char info[4096];
    snprintf(info, sizeof info, "%s/Info.txt", dir);
    mias_set *set;
    if (mias_load(info, TABLE_STRICT, &set, NULL) != MAMA_OK) {
        fprintf(stderr, "mama import mias: %s\n", mama_last_error());
        return 1;
    }
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "mama import mias: cannot create %s: %s\n", out, strerror(errno));
        mias_free(set);
        return 1;
    }
    char mpath[4200];
    snprintf(mpath, sizeof mpath, "%s/mias_manifest.csv", out);
    FILE *manifest = fopen(mpath, "w");
    if (!manifest) {
        fprintf(stderr, "mama import mias: cannot create %s: %s\n", mpath, strerror(errno));
        mias_free(set);
        return 1;
    }
    fprintf(manifest, "path,film,woman,laterality,tissue,severity,chest_wall_left,study_uid,series_uid,sop_instance_uid\n");
    int rc = 0, n = 0;
    for (int i = 0; i < set->n && rc == 0; i++) {
        const mias_film *f = &set->films[i];
        if (f->number < first || f->number > last) continue;
        if (import_film(dir, out, f, ts, manifest) != 0) rc = 1;
        else n++;
    }
    if (fclose(manifest) != 0) {
        fprintf(stderr, "mama import mias: writing %s failed\n", mpath);
        rc = 1;
    }
    mias_free(set);
    if (rc == 0 && n == 0) {
        fprintf(stderr, "mama import mias: no film in %d-%d\n", first, last);
        return 1;
    }
    if (rc == 0) printf("%d films written to %s\n", n, out);
    return rc;
}

int cmd_import_images(int argc, char **argv); /* cmd_import_images.c */
int cmd_import_cbis(int argc, char **argv);

int cmd_import(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "mias") == 0) return import_mias(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "images") == 0) return cmd_import_images(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "cbis") == 0) return cmd_import_cbis(argc - 1, argv + 1);
    fprintf(stderr, "usage: mama import mias DIR OUT [options]\n"
                    "       mama import images OUT (--csv FILE | --pattern P DIR) [options]\n"
                    "       mama import cbis DIR OUT [options]\n");
    return argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) ? 0 : 2;
}
