/* cmd_contact_sheet.c: `mama contact-sheet --study DIR --mias DIR --out sheet.png`: one PNG
 * for a person to look at what the model is fed. Top row: the study's four views in
 * hanging order R-CC, L-CC, R-MLO, L-MLO; bottom row: four mini-MIAS films (default
 * mdb001 mdb002 mdb023 mdb028). Every tile is the evaluation preprocessing output (breast
 * crop of engine/vision/breast_mask.h, resized to a square, aspect not kept), so crops that lose tissue or keep
 * labels show at once. On MIAS tiles the Info.txt abnormality circle is drawn in white,
 * mapped through the crop; on the study's tiles likewise the findings of
 * <study>/../phantom_findings.csv (written by mama phantom) when it exists.
 * With --whole every tile is the whole image instead, the breast mask at full brightness,
 * the rest dimmed, and the crop box outlined in white: what the crop kept and dropped. */
#define _GNU_SOURCE
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/vision/breast_mask.h"
#include "engine/vision/image_io.h"
#include "engine/vision/preprocess.h"
#include "tools/image_source.h"

#define SHEET_COLS 4
#define SHEET_GAP 8

static void usage(FILE *out) {
    fprintf(out,
            "usage: mama contact-sheet --study DIR --mias DIR --out sheet.png [options]\n"
            "  --study DIR   folder of one study's DICOM files (e.g. from mama phantom)\n"
            "  --mias DIR    mini-MIAS folder (images/mdbNNN.png and Info.txt)\n"
            "  --films LIST  comma-separated MIAS films (default mdb001,mdb002,mdb023,mdb028)\n"
            "  --tile N      tile side in pixels (default 256)\n"
            "  --whole       whole images: mask bright, the rest dimmed, crop box outlined\n"
            "  --out FILE    PNG to write\n");
}

typedef struct tile {
    char label[64];
    float *pixels; /* (tile, tile) */
} tile;

static int g_whole; /* --whole */

/* img (H,W) in place: outside the mask dimmed, the box outlined (lines about one tile
 * pixel wide). */
static mama_status outline_crop(float *img, int H, int W, int side, prep_box *out_box) {
    uint8_t *mask = malloc((size_t)H * W);
    if (!mask) return mama_errorf(MAMA_ENOMEM, "no memory for a %dx%d mask", H, W);
    breast_mask_info info;
    mama_status rc = breast_mask_compute(img, H, W, mask, &info);
    if (rc == MAMA_OK) {
        for (size_t i = 0; i < (size_t)H * W; i++)
            if (!mask[i]) img[i] = 0.35f * img[i] + 0.22f;
        prep_box b = info.box;
        int lw = (H > W ? H : W) / side + 1;
        for (int y = b.y0; y < b.y0 + b.h; y++)
            for (int x = b.x0; x < b.x0 + b.w; x++)
                if (y - b.y0 < lw || b.y0 + b.h - 1 - y < lw || x - b.x0 < lw || b.x0 + b.w - 1 - x < lw)
                    img[(size_t)y * W + x] = 1.0f;
        *out_box = b;
        char warn[256];
        breast_mask_warning(&info, warn, sizeof warn);
        printf("  breast mask: crop y=%d x=%d h=%d w=%d %s\n", b.y0, b.x0, b.h, b.w, warn);
    }
    free(mask);
    return rc;
}

/* Loads, crops and resizes one file into t->pixels; *out_box gets the crop (with --whole
 * the whole image, the crop drawn into it). */
static int make_tile(tile *t, const char *path, int side, prep_box *out_box, int *out_h, int *out_w,
                     dcm_instance_info *out_info) {
    float *img = NULL;
    int H, W, is_dicom;
    mama_status rc = image_source_load(path, &img, &H, &W, out_info, &is_dicom);
    if (rc == MAMA_OK) {
        t->pixels = malloc(sizeof(float) * (size_t)side * side);
        if (!t->pixels) rc = mama_errorf(MAMA_ENOMEM, "no memory");
        else if (g_whole) {
            prep_box crop;
            rc = outline_crop(img, H, W, side, &crop);
            *out_box = (prep_box){0, 0, H, W};
            if (rc == MAMA_OK) rc = prep_crop_resize(t->pixels, side, side, img, H, W, 0, NULL);
        } else {
            rc = prep_crop_resize(t->pixels, side, side, img, H, W, 1, out_box);
        }
    }
    free(img);
    if (rc != MAMA_OK) {
        fprintf(stderr, "mama contact-sheet: %s\n", mama_last_error());
        free(t->pixels);
        t->pixels = NULL;
        return -1;
    }
    if (out_h) *out_h = H;
    if (out_w) *out_w = W;
    return 0;
}

/* The first Info.txt abnormality of film (x, y from the bottom-left, radius); 0 if found. */
static int mias_truth(const char *mias_dir, const char *film, double *x, double *y, double *r) {
    char path[4096], line[512];
    snprintf(path, sizeof path, "%s/Info.txt", mias_dir);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int found = -1;
    while (found && fgets(line, sizeof line, f)) {
        char ref[32], bg[8], cls[8], sev[8];
        int n = sscanf(line, "%31s %7s %7s %7s %lf %lf %lf", ref, bg, cls, sev, x, y, r);
        if (n == 7 && !strcmp(ref, film)) found = 0;
    }
    fclose(f);
    return found;
}

/* Draws the phantom findings of accession `acc` on one view's tile (columns found by name
 * in the CSV header: acc_anon, side, cc_x, cc_y, mlo_x, mlo_y, radius_px). */
static void draw_phantom_findings(float *tilep, int side, const char *study, const char *acc, const char *lat,
                                  int mlo, prep_box box);

static void draw_circle(float *tilep, int side, double cx, double cy, double rx, double ry) {
    for (int a = 0; a < 720; a++) {
        double t = a * M_PI / 360.0;
        int x = (int)lround(cx + rx * cos(t)), y = (int)lround(cy + ry * sin(t));
        if (x >= 0 && x < side && y >= 0 && y < side) tilep[y * side + x] = 1.0f;
    }
}

static void draw_phantom_findings(float *tilep, int side, const char *study, const char *acc, const char *lat,
                                  int mlo, prep_box box) {
    char path[4096], line[2048];
    snprintf(path, sizeof path, "%s/../phantom_findings.csv", study);
    FILE *f = fopen(path, "r");
    if (!f) return;
    enum { ACC, SIDE, CCX, CCY, MLOX, MLOY, RAD, NCOL };
    static const char *names[NCOL] = {"acc_anon", "side", "cc_x", "cc_y", "mlo_x", "mlo_y", "radius_px"};
    int col[NCOL];
    for (int k = 0; k < NCOL; k++) col[k] = -1;
    if (fgets(line, sizeof line, f)) {
        int i = 0;
        for (char *save = NULL, *t = strtok_r(line, ",\r\n", &save); t; t = strtok_r(NULL, ",\r\n", &save), i++)
            for (int k = 0; k < NCOL; k++)
                if (!strcmp(t, names[k])) col[k] = i;
    }
    for (int k = 0; k < NCOL; k++)
        if (col[k] < 0) {
            fclose(f);
            return;
        }
    while (fgets(line, sizeof line, f)) {
        char *field[64];
        int n = 0;
        for (char *p = line, *q; p && n < 64; p = q) { /* empty fields kept: no strtok */
            q = strchr(p, ',');
            if (q) *q++ = '\0';
            field[n++] = p;
        }
        int need = 0;
        for (int k = 0; k < NCOL; k++) need = col[k] > need ? col[k] : need;
        if (n <= need || strcmp(field[col[ACC]], acc) != 0 || strncmp(field[col[SIDE]], lat, 1) != 0) continue;
        double x = atof(field[col[mlo ? MLOX : CCX]]), y = atof(field[col[mlo ? MLOY : CCY]]);
        double r = atof(field[col[RAD]]);
        double sy = (double)side / box.h, sx = (double)side / box.w;
        draw_circle(tilep, side, (x - box.x0) * sx, (y - box.y0) * sy, r * sx, r * sy);
        printf("  finding at x=%.0f y=%.0f r=%.0f (%s the crop)\n", x, y, r,
               y >= box.y0 && y < box.y0 + box.h && x >= box.x0 && x < box.x0 + box.w ? "inside" : "OUTSIDE");
    }
    fclose(f);
}

int cmd_contact_sheet(int argc, char **argv) {
    const char *study = NULL, *mias = NULL, *out = NULL, *films = "mdb001,mdb002,mdb023,mdb028";
    int side = 256;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--study") && i + 1 < argc) {
            study = argv[++i];
        } else if (!strcmp(a, "--mias") && i + 1 < argc) {
            mias = argv[++i];
        } else if (!strcmp(a, "--films") && i + 1 < argc) {
            films = argv[++i];
        } else if (!strcmp(a, "--tile") && i + 1 < argc) {
            side = atoi(argv[++i]);
        } else if (!strcmp(a, "--whole")) {
            g_whole = 1;
        } else if (!strcmp(a, "--out") && i + 1 < argc) {
            out = argv[++i];
        } else {
            fprintf(stderr, "mama contact-sheet: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!out || (!study && !mias) || side < 16 || side > 2048) {
        fprintf(stderr, "mama contact-sheet: need --out and --study and/or --mias (tile 16..2048)\n");
        usage(stderr);
        return 2;
    }
    tile tiles[2][SHEET_COLS];
    memset(tiles, 0, sizeof tiles);
    int failed = 0;
    /* top row: the study, hanging order */
    static const char *order[SHEET_COLS][2] = {{"R", "CC"}, {"L", "CC"}, {"R", "MLO"}, {"L", "MLO"}};
    if (study) {
        DIR *d = opendir(study);
        struct dirent *e;
        int seen = 0;
        while (d && (e = readdir(d))) {
            size_t nl = strlen(e->d_name);
            if (e->d_name[0] == '.' || (nl > 9 && !strcmp(e->d_name + nl - 9, "_mask.pgm"))) continue; /* phantom truth */
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", study, e->d_name);
            tile t = {{0}, NULL};
            dcm_instance_info info;
            prep_box box;
            if (make_tile(&t, path, side, &box, NULL, NULL, &info) != 0) {
                failed++;
                continue;
            }
            int slot = -1;
            for (int k = 0; k < SHEET_COLS; k++)
                if (!strcmp(info.image_laterality, order[k][0]) && !strcmp(info.view_position, order[k][1]) &&
                    !tiles[0][k].pixels)
                    slot = k;
            if (slot < 0) {
                fprintf(stderr, "mama contact-sheet: %s: view %s-%s not used (slot taken or not a "
                        "standard view)\n", path, info.image_laterality, info.view_position);
                free(t.pixels);
                continue;
            }
            snprintf(t.label, sizeof t.label, "%s-%s", info.image_laterality, info.view_position);
            tiles[0][slot] = t;
            seen++;
            printf("top %d: %s %s crop y=%d x=%d h=%d w=%d\n", slot, t.label, path, box.y0, box.x0, box.h, box.w);
            draw_phantom_findings(tiles[0][slot].pixels, side, study, info.accession_number, info.image_laterality,
                                  !strcmp(info.view_position, "MLO"), box);
        }
        if (d) closedir(d);
        else {
            fprintf(stderr, "mama contact-sheet: cannot open %s\n", study);
            failed++;
        }
        if (seen < SHEET_COLS) fprintf(stderr, "mama contact-sheet: %s: %d of 4 standard views\n", study, seen);
    }
    if (mias) {
        char list[1024];
        snprintf(list, sizeof list, "%s", films);
        int k = 0;
        for (char *save = NULL, *f = strtok_r(list, ",", &save); f && k < SHEET_COLS;
             f = strtok_r(NULL, ",", &save), k++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/images/%s.png", mias, f);
            tile *t = &tiles[1][k];
            prep_box box;
            int H, W;
            if (make_tile(t, path, side, &box, &H, &W, NULL) != 0) {
                failed++;
                continue;
            }
            snprintf(t->label, sizeof t->label, "%s", f);
            double x, y, r;
            printf("bottom %d: %s crop y=%d x=%d h=%d w=%d", k, path, box.y0, box.x0, box.h, box.w);
            if (mias_truth(mias, f, &x, &y, &r) == 0) {
                double row = H - y; /* Info.txt origin is the bottom-left corner */
                double sy = (double)side / box.h, sx = (double)side / box.w;
                draw_circle(t->pixels, side, (x - box.x0) * sx, (row - box.y0) * sy, r * sx, r * sy);
                printf(" abnormality at x=%.0f row=%.0f r=%.0f (%s the crop)", x, row, r,
                       row >= box.y0 && row < box.y0 + box.h && x >= box.x0 && x < box.x0 + box.w ? "inside"
                                                                                                 : "OUTSIDE");
            }
            printf("\n");
        }
    }
    int rows = (study ? 1 : 0) + (mias ? 1 : 0);
    int SW = SHEET_COLS * side + (SHEET_COLS + 1) * SHEET_GAP, SH = rows * side + (rows + 1) * SHEET_GAP;
    float *sheet = malloc(sizeof(float) * (size_t)SW * SH);
    int rc = failed ? 1 : 0;
    if (!sheet) {
        fprintf(stderr, "mama contact-sheet: out of memory\n");
        rc = 1;
    } else {
        for (size_t i = 0; i < (size_t)SW * SH; i++) sheet[i] = 0.2f;
        int r = 0;
        for (int row = 0; row < 2; row++) {
            if ((row == 0 && !study) || (row == 1 && !mias)) continue;
            for (int c = 0; c < SHEET_COLS; c++) {
                const tile *t = &tiles[row][c];
                int oy = SHEET_GAP + r * (side + SHEET_GAP), ox = SHEET_GAP + c * (side + SHEET_GAP);
                for (int y = 0; y < side; y++)
                    for (int x = 0; x < side; x++)
                        sheet[(size_t)(oy + y) * SW + ox + x] = t->pixels ? t->pixels[y * side + x]
                                                                          : ((x / 16 + y / 16) % 2 ? 0.3f : 0.4f);
            }
            r++;
        }
        if (image_io_save_png(out, sheet, SH, SW, 8) != MAMA_OK) {
            fprintf(stderr, "mama contact-sheet: %s\n", mama_last_error());
            rc = 1;
        } else {
            printf("wrote %s (%dx%d): missing tiles are checkered\n", out, SW, SH);
        }
    }
    free(sheet);
    for (int row = 0; row < 2; row++)
        for (int c = 0; c < SHEET_COLS; c++) free(tiles[row][c].pixels);
    return rc;
}
