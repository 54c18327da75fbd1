/* cmd_import_images.c: `mama import images` and `mama import cbis`: the images people
 * actually have (PNG, PGM, TIFF, JPEG exports, or DICOM of another kind such as the
 * Secondary Capture of CBIS-DDSM) turned into MG For Presentation studies that mamad and
 * any PACS accept (dciodvfy clean; docs/operations.md "Importing images").
 *
 * Which image is which comes from a CSV (path, patient_id, study, laterality, view;
 * optional study_date, spacing_mm), from a file-name pattern ({patient}, {study}, {lat},
 * {view}, {*} placeholders), or from the CBIS-DDSM folder names
 * (<Calc|Mass>-<Training|Test>_P_<n>_<LEFT|RIGHT>_<CC|MLO>/..., its .dcm files; the ROI and crop
 * folders, whose names end in _<k>, are skipped).
 *
 * Every output file: OUT/<patient>_<study>/<LAT><VIEW>.dcm (a second image of the same
 * view gets _2, _3 ...), pixel values unchanged (8-bit sources BitsStored 8, others 16;
 * DICOM sources: their displayed values after VOI, 16 bits), ImageType DERIVED\PRIMARY,
 * the source file named in DerivationDescription, Patient Orientation from where the
 * breast actually lies (the breast mask's chest-wall side), UIDs 2.25.<hash of the
 * patient, study and source> so that a re-import gives the same UIDs. OUT/import_manifest.csv
 * lists what was written. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dicom/dcm_image.h"
#include "dicom/dcm_writer.h"
#include "engine/data/csv.h"
#include "engine/vision/breast_mask.h"
#include "tools/phantom/phantom.h"
#include "tools/raster_read.h"

int cmd_import_images(int argc, char **argv);
int cmd_import_cbis(int argc, char **argv);

#define IMPORT_UID_ROOT 0x494d504f5254ull /* "IMPORT" */

typedef struct import_item {
    char path[4096];
    char patient[65];
    char study[65];
    char lat[2];      /* "L" or "R" */
    char view[8];     /* "CC", "MLO", ... */
    char date[9];     /* DA or "" */
    double spacing_mm;
} import_item;

typedef struct import_opts {
    const char *out;
    dcm_tsyntax ts;
    double spacing_mm;
    const char *date;
    FILE *manifest;
    int written;
} import_opts;

static uint64_t fnv1a(const char *s, uint64_t h) {
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

/* LEFT/L/left -> "L", RIGHT/R -> "R"; CC/MLO/ML/LM/XCCL... uppercased. 0 or -1. */
static int norm_lat(const char *in, char out[2]) {
    if (!strcasecmp(in, "L") || !strcasecmp(in, "LEFT")) out[0] = 'L';
    else if (!strcasecmp(in, "R") || !strcasecmp(in, "RIGHT")) out[0] = 'R';
    else return -1;
    out[1] = 0;
    return 0;
}

static int norm_view(const char *in, char out[8]) {
    static const char *const ok[] = {"CC", "MLO", "ML", "LM", "LMO", "FB", "XCCL", "XCCM", "SIO"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!strcasecmp(in, ok[i])) {
            snprintf(out, 8, "%s", ok[i]);
            return 0;
        }
    return -1;
}

/* A name safe for a folder: letters, digits, '-' and '.' kept, the rest '_'. */
static void safe_name(char *out, size_t n, const char *in) {
    size_t j = 0;
    for (size_t i = 0; in[i] && j + 1 < n; i++) {
        unsigned char c = (unsigned char)in[i];
        out[j++] = isalnum(c) || c == '-' || c == '.' ? (char)c : '_';
    }
    out[j] = 0;
    if (!j || !strcmp(out, ".") || !strcmp(out, "..")) snprintf(out, n, "_");
}

/* Source pixels as 16-bit stored values with their bit depth, from any readable file. */
static int load_pixels(const char *path, uint16_t **px, int *w, int *h, int *bits) {
    const char *kind = raster_kind(path);
    if (kind && !strcmp(kind, "dicom")) {
        dcm_image img;
        char err[512];
        if (dcm_image_load(path, &img, err, sizeof err) != 0) {
            fprintf(stderr, "mama import: %s\n", err);
            return -1;
        }
        size_t n = (size_t)img.rows * img.cols;
        *px = malloc(n * sizeof **px);
        if (!*px) {
            dcm_image_free(&img);
            fprintf(stderr, "mama import: %s: out of memory\n", path);
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            float v = img.pixels[i];
            (*px)[i] = (uint16_t)(v <= 0 ? 0 : v >= 1 ? 65535 : (int)(v * 65535.0f + 0.5f));
        }
        *w = img.cols;
        *h = img.rows;
        *bits = 16;
        dcm_image_free(&img);
        return 0;
    }
    if (raster_read(path, px, w, h, bits) != MAMA_OK) {
        fprintf(stderr, "mama import: %s\n", mama_last_error());
        return -1;
    }
    return 0;
}

/* 1 when the breast's chest wall is on the image's left (breast_mask.h). */
static int chest_wall_left(const uint16_t *px, int w, int h, int bits) {
    size_t n = (size_t)w * h;
    float *img = malloc(n * sizeof *img);
    if (!img) return 1;
    float scale = 1.0f / (float)((1u << bits) - 1);
    for (size_t i = 0; i < n; i++) img[i] = px[i] * scale;
    breast_mask_info info;
    int left = breast_mask_compute(img, h, w, NULL, &info) != MAMA_OK || !info.chest_wall_right;
    free(img);
    return left;
}

static int make_dir(const char *path) {
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return 0;
    fprintf(stderr, "mama import: cannot create %s: %s\n", path, strerror(errno));
    return -1;
}

static int write_item(import_opts *o, const import_item *it, int instance) {
    uint16_t *px = NULL;
    int w, h, bits;
    if (load_pixels(it->path, &px, &w, &h, &bits) != 0) return -1;
    if (w > 65535 || h > 65535) {
        fprintf(stderr, "mama import: %s: %dx%d is too large for DICOM\n", it->path, w, h);
        free(px);
        return -1;
    }
    char folder[160], dir[4300], path[4400], rel[200], name[32];
    char sp[65], ss[65];
    safe_name(sp, sizeof sp, it->patient);
    safe_name(ss, sizeof ss, it->study);
    snprintf(folder, sizeof folder, "%s_%s", sp, ss);
    snprintf(dir, sizeof dir, "%s/%s", o->out, folder);
    if (make_dir(dir) != 0) {
        free(px);
        return -1;
    }
    struct stat st;
    for (int k = 1;; k++) { /* a second image of a view gets _2, _3 ... */
        if (k == 1) snprintf(name, sizeof name, "%s%s", it->lat, it->view);
        else snprintf(name, sizeof name, "%s%s_%d", it->lat, it->view, k);
        snprintf(path, sizeof path, "%s/%s.dcm", dir, name);
        if (stat(path, &st) != 0) break;
    }
    snprintf(rel, sizeof rel, "%s/%s.dcm", folder, name);
    uint64_t hs = fnv1a(it->study, fnv1a("|", fnv1a(it->patient, 0xcbf29ce484222325ull)));
    uint64_t hi = fnv1a(it->path, fnv1a(name, hs));
    char study_uid[65], series_uid[65], sop_uid[65], accession[17], study_id[17], desc[64], deriv[1024];
    ph_uid(study_uid, IMPORT_UID_ROOT, hs, 1);
    ph_uid(series_uid, IMPORT_UID_ROOT, hs, 2);
    ph_uid(sop_uid, IMPORT_UID_ROOT, hi, 3);
    /* AccessionNumber and StudyID are SH (16 characters): the study's own name when it
     * fits, else a hash of it (the name stays in StudyDescription) */
    if (strlen(it->study) <= 16) snprintf(accession, sizeof accession, "%s", it->study);
    else snprintf(accession, sizeof accession, "I%015llx", (unsigned long long)(hs & 0xfffffffffffffffull));
    snprintf(study_id, sizeof study_id, "%s", accession);
    snprintf(desc, sizeof desc, "MG imported: %.50s", it->study);
    snprintf(deriv, sizeof deriv, "Imported by mama import from %.900s", it->path);
    int cw_left = chest_wall_left(px, w, h, bits);
    int mlo = strcmp(it->view, "CC") != 0;
    /* rows towards A for a left breast whose chest wall is on the left (the standard
     * hanging); a film scanned the other way round says so */
    char orient[8];
    snprintf(orient, sizeof orient, "%c\\%s%c", cw_left ? 'A' : 'P', mlo ? "F" : "", it->lat[0] == 'L' ? 'R' : 'L');
    double maxv = (double)((1u << bits) - 1);
    dcm_mg_image img = {
        .patient_id = it->patient,
        .patient_name = "",
        .study_uid = study_uid,
        .study_id = study_id,
        .study_date = it->date[0] ? it->date : o->date,
        .study_time = "",
        .study_description = desc,
        .accession_number = accession,
        .referring_physician = "",
        .series_uid = series_uid,
        .series_number = 1,
        .series_description = "Imported views",
        .manufacturer = "",
        .sop_instance_uid = sop_uid,
        .instance_number = instance,
        .laterality = it->lat,
        .view_position = it->view,
        .derived = 1,
        .window_center = (maxv + 1) / 2,
        .window_width = maxv + 1,
        .voi_lut_function = "LINEAR",
        .pixel_spacing_mm = it->spacing_mm > 0 ? it->spacing_mm : o->spacing_mm,
        .derivation_description = deriv,
        .patient_orientation = orient,
        .burned_in_annotation = 1,
        .rows = (uint16_t)h,
        .columns = (uint16_t)w,
        .bits_stored = (uint16_t)bits,
        .pixels = px,
    };
    char err[DCM_WRITER_ERR_MAX];
    int rc = dcm_write_mg(path, &img, o->ts, err, sizeof err);
    free(px);
    if (rc != 0) {
        fprintf(stderr, "mama import: %s\n", err);
        return -1;
    }
    fprintf(o->manifest, "%s,\"%s\",%s,%s,%s,%s,%d,%s,%s,%s\n", rel, it->path, it->patient, it->study, it->lat,
            it->view, bits, cw_left ? "left" : "right", study_uid, sop_uid);
    o->written++;
    return 0;
}

/* ---- sources ---- */

/* Path relative to the CSV's folder unless absolute. */
static void resolve(char *out, size_t n, const char *base_file, const char *p) {
    if (p[0] == '/') {
        snprintf(out, n, "%s", p);
        return;
    }
    const char *slash = strrchr(base_file, '/');
    if (!slash) snprintf(out, n, "%s", p);
    else snprintf(out, n, "%.*s/%s", (int)(slash - base_file), base_file, p);
}

static int fill_item(import_item *it, const char *path, const char *patient, const char *study, const char *lat,
                     const char *view, const char *where) {
    memset(it, 0, sizeof *it);
    snprintf(it->path, sizeof it->path, "%s", path);
    if (!patient[0] || strlen(patient) > 64 || !study[0] || strlen(study) > 64) {
        fprintf(stderr, "mama import: %s: patient and study must be 1..64 characters ('%s', '%s')\n", where, patient,
                study);
        return -1;
    }
    snprintf(it->patient, sizeof it->patient, "%s", patient);
    snprintf(it->study, sizeof it->study, "%s", study);
    if (norm_lat(lat, it->lat) != 0) {
        fprintf(stderr, "mama import: %s: laterality '%s' is not L, R, LEFT or RIGHT\n", where, lat);
        return -1;
    }
    if (norm_view(view, it->view) != 0) {
        fprintf(stderr, "mama import: %s: view '%s' is not CC, MLO, ML, LM, XCCL ...\n", where, view);
        return -1;
    }
    return 0;
}

static int from_csv(import_opts *o, const char *csv_path) {
    csv_reader *r;
    if (csv_open(csv_path, &r) != MAMA_OK) {
        fprintf(stderr, "mama import: %s\n", mama_last_error());
        return -1;
    }
    static const char *const names[] = {"path", "patient_id", "study", "laterality", "view", "study_date", "spacing_mm"};
    static const int required[] = {1, 1, 1, 1, 1, 0, 0};
    int col[7];
    if (csv_header(r, names, required, 7, col) != MAMA_OK) {
        fprintf(stderr, "mama import: %s (columns: path,patient_id,study,laterality,view[,study_date,spacing_mm])\n",
                mama_last_error());
        csv_close(r);
        return -1;
    }
    int rc = 0, nf, n = 0;
    mama_status st;
    while ((st = csv_next(r, &nf)) == MAMA_OK) {
        char where[4200], path[4096];
        snprintf(where, sizeof where, "%s:%d", csv_path, csv_line(r));
        resolve(path, sizeof path, csv_path, csv_field(r, col[0]));
        import_item it;
        if (fill_item(&it, path, csv_field(r, col[1]), csv_field(r, col[2]), csv_field(r, col[3]),
                      csv_field(r, col[4]), where) != 0) {
            rc = -1;
            continue;
        }
        if (col[5] >= 0) {
            const char *d = csv_field(r, col[5]);
            int ok = strlen(d) == 8;
            for (int i = 0; ok && d[i]; i++) ok = isdigit((unsigned char)d[i]);
            if (d[0] && !ok) {
                fprintf(stderr, "mama import: %s: study_date '%s' is not YYYYMMDD\n", where, d);
                rc = -1;
                continue;
            }
            snprintf(it.date, sizeof it.date, "%s", d);
        }
        if (col[6] >= 0 && csv_field(r, col[6])[0]) {
            char *end;
            it.spacing_mm = strtod(csv_field(r, col[6]), &end);
            if (*end || !(it.spacing_mm > 0 && it.spacing_mm < 10)) {
                fprintf(stderr, "mama import: %s: spacing_mm '%s' is not a size in mm\n", where, csv_field(r, col[6]));
                rc = -1;
                continue;
            }
        }
        if (write_item(o, &it, ++n) != 0) rc = -1;
    }
    if (st != MAMA_ENOTFOUND) {
        fprintf(stderr, "mama import: %s\n", mama_last_error());
        rc = -1;
    }
    csv_close(r);
    return rc;
}

/* Matches name against pattern with {patient} {study} {lat} {view} {*} placeholders (each
 * one or more characters); fills the captures. 1 on a match. */
static int match(const char *pat, const char *s, char cap[4][65]) {
    if (!*pat) return !*s;
    if (*pat == '{') {
        static const char *const keys[] = {"{patient}", "{study}", "{lat}", "{view}", "{*}"};
        for (int k = 0; k < 5; k++) {
            size_t kl = strlen(keys[k]);
            if (strncmp(pat, keys[k], kl)) continue;
            for (size_t len = 1; len <= strlen(s) && len < 65; len++) {
                char saved[65] = "";
                if (k < 4) {
                    snprintf(saved, sizeof saved, "%s", cap[k]);
                    snprintf(cap[k], 65, "%.*s", (int)len, s);
                }
                if (match(pat + kl, s + len, cap)) return 1;
                if (k < 4) snprintf(cap[k], 65, "%s", saved);
            }
            return 0;
        }
    }
    return *pat == *s && match(pat + 1, s + 1, cap);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int from_pattern(import_opts *o, const char *pattern, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "mama import: cannot open %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **g = realloc(names, cap * sizeof *g);
            if (!g) break;
            names = g;
        }
        names[n] = strdup(e->d_name);
        if (names[n]) n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str); /* the same instance numbers on every run */
    int rc = 0, matched = 0;
    for (size_t i = 0; i < n; i++) {
        char c[4][65] = {"", "", "", ""};
        if (match(pattern, names[i], c)) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            import_item it;
            if (fill_item(&it, path, c[0], c[1][0] ? c[1] : c[0], c[2], c[3], path) != 0 ||
                write_item(o, &it, ++matched) != 0)
                rc = -1;
        }
        free(names[i]);
    }
    free(names);
    if (!matched) {
        fprintf(stderr, "mama import: no file in %s matches '%s'\n", dir, pattern);
        return -1;
    }
    return rc;
}

/* CBIS-DDSM: "<Calc|Mass>-<Training|Test>_P_<digits>_<LEFT|RIGHT>_<CC|MLO>"; 1 on a
 * match, with patient "P_<digits>" and study the part before the laterality. */
static int cbis_folder(const char *name, char *patient, char *study, char *lat, char *view) {
    const char *p = name;
    if (!strncmp(p, "Calc-", 5) || !strncmp(p, "Mass-", 5)) p += 5;
    else return 0;
    if (!strncmp(p, "Training_", 9)) p += 9;
    else if (!strncmp(p, "Test_", 5)) p += 5;
    else return 0;
    if (strncmp(p, "P_", 2)) return 0;
    const char *digits = p + 2, *q = digits;
    while (isdigit((unsigned char)*q)) q++;
    if (q == digits || *q != '_') return 0;
    snprintf(patient, 65, "P_%.*s", (int)(q - digits), digits);
    snprintf(study, 65, "%.*s", (int)(q - name), name);
    q++;
    if (!strncmp(q, "LEFT_", 5)) {
        snprintf(lat, 8, "L");
        q += 5;
    } else if (!strncmp(q, "RIGHT_", 6)) {
        snprintf(lat, 8, "R");
        q += 6;
    } else {
        return 0;
    }
    if (strcmp(q, "CC") && strcmp(q, "MLO")) return 0; /* "..._CC_1": an ROI or crop */
    snprintf(view, 8, "%s", q);
    return 1;
}

/* The DICOM files under dir (depth-first, sorted), at most max. */
static int collect_dicom(const char *dir, char paths[][4096], int n, int max, int depth) {
    if (depth > 6) return n;
    struct dirent **list;
    int k = scandir(dir, &list, NULL, alphasort);
    for (int i = 0; i < k; i++) {
        const char *nm = list[i]->d_name;
        if (nm[0] != '.' && n < max) {
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", dir, nm);
            struct stat st;
            if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) n = collect_dicom(p, paths, n, max, depth + 1);
            else if (S_ISREG(st.st_mode) && raster_kind(p) && !strcmp(raster_kind(p), "dicom"))
                snprintf(paths[n++], 4096, "%s", p);
        }
        free(list[i]);
    }
    free(list);
    return n;
}

static int from_cbis(import_opts *o, const char *dir) {
    struct dirent **list;
    int k = scandir(dir, &list, NULL, alphasort);
    if (k < 0) {
        fprintf(stderr, "mama import cbis: cannot open %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = 0, views = 0, skipped = 0;
    enum { MAX_FILES = 16 };
    static char files[MAX_FILES][4096];
    for (int i = 0; i < k; i++) {
        char patient[65], study[65], lat[8], view[8], sub[4096];
        const char *nm = list[i]->d_name;
        if (nm[0] == '.') {
            free(list[i]);
            continue;
        }
        if (!cbis_folder(nm, patient, study, lat, view)) {
            skipped++;
            free(list[i]);
            continue;
        }
        snprintf(sub, sizeof sub, "%s/%s", dir, nm);
        int nf = collect_dicom(sub, files, 0, MAX_FILES, 0);
        if (nf == 0) fprintf(stderr, "mama import cbis: %s holds no DICOM file\n", sub);
        for (int f = 0; f < nf; f++) {
            import_item it;
            if (fill_item(&it, files[f], patient, study, lat, view, files[f]) != 0 || write_item(o, &it, ++views) != 0)
                rc = -1;
        }
        free(list[i]);
    }
    free(list);
    printf("mama import cbis: %d full-field images; %d other folders (ROI masks, crops) skipped\n", views, skipped);
    if (!views) {
        fprintf(stderr, "mama import cbis: no <Calc|Mass>-<Training|Test>_P_<n>_<LEFT|RIGHT>_<CC|MLO> folder in %s\n",
                dir);
        return -1;
    }
    return rc;
}

/* ---- the commands ---- */

static void usage(FILE *f) {
    fprintf(f,
            "usage: mama import images OUT --csv FILE [options]\n"
            "       mama import images OUT --pattern PATTERN DIR [options]\n"
            "       mama import cbis DIR OUT [options]\n"
            "  --csv FILE       columns path,patient_id,study,laterality,view[,study_date,spacing_mm];\n"
            "                   paths relative to the CSV's folder\n"
            "  --pattern P DIR  file names in DIR such as '{patient}_{study}_{lat}_{view}.png'\n"
            "                   ({*} matches anything; no {study}: one study per patient)\n"
            "  --spacing MM     pixel spacing when the CSV gives none (default 0.1; cbis 0.05)\n"
            "  --date YYYYMMDD  StudyDate when the CSV gives none (default empty)\n"
            "  --tsyntax T      explicit (default), implicit, deflate, rle, jpegll, jpegls, j2k\n"
            "Inputs: PNG, PGM, TIFF (8/16-bit gray), JPEG, DICOM (e.g. Secondary Capture).\n"
            "Output: OUT/<patient>_<study>/<LAT><VIEW>.dcm (MG For Presentation) and\n"
            "OUT/import_manifest.csv; send with storescu (docs/operations.md).\n");
}

static int run(int cbis, int argc, char **argv) {
    import_opts o = {.ts = DCM_TS_EXPLICIT_LE, .spacing_mm = cbis ? 0.05 : 0.1, .date = ""};
    const char *csv = NULL, *pattern = NULL, *dir = NULL, *pos[2] = {NULL, NULL};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--csv") && i + 1 < argc) {
            csv = argv[++i];
        } else if (!strcmp(a, "--pattern") && i + 2 < argc) {
            pattern = argv[++i];
            dir = argv[++i];
        } else if (!strcmp(a, "--spacing") && i + 1 < argc) {
            char *end;
            o.spacing_mm = strtod(argv[++i], &end);
            if (*end || !(o.spacing_mm > 0 && o.spacing_mm < 10)) {
                fprintf(stderr, "mama import: --spacing must be a size in mm, not '%s'\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--date") && i + 1 < argc) {
            o.date = argv[++i];
            int ok = strlen(o.date) == 8;
            for (int k = 0; ok && o.date[k]; k++) ok = isdigit((unsigned char)o.date[k]);
            if (!ok) {
                fprintf(stderr, "mama import: --date must be YYYYMMDD, not '%s'\n", o.date);
                return 2;
            }
        } else if (!strcmp(a, "--tsyntax") && i + 1 < argc) {
            if (dcm_tsyntax_parse(argv[++i], &o.ts) != 0) {
                fprintf(stderr, "mama import: --tsyntax: unknown transfer syntax '%s'\n", argv[i]);
                return 2;
            }
        } else if (a[0] == '-' || npos == 2) {
            fprintf(stderr, "mama import: unknown option or extra argument '%s'\n", a);
            usage(stderr);
            return 2;
        } else {
            pos[npos++] = a;
        }
    }
    const char *src = cbis ? pos[0] : NULL;
    o.out = cbis ? pos[1] : pos[0];
    if (!o.out || (cbis ? !src : (!csv == !pattern))) {
        fprintf(stderr, cbis ? "mama import cbis: need DIR and OUT\n"
                             : "mama import images: need OUT and one of --csv FILE or --pattern P DIR\n");
        usage(stderr);
        return 2;
    }
    if (make_dir(o.out) != 0) return 1;
    char mpath[4200];
    snprintf(mpath, sizeof mpath, "%s/import_manifest.csv", o.out);
    o.manifest = fopen(mpath, "w");
    if (!o.manifest) {
        fprintf(stderr, "mama import: cannot create %s: %s\n", mpath, strerror(errno));
        return 1;
    }
    fprintf(o.manifest, "path,source,patient_id,study,laterality,view,bits_stored,chest_wall,study_uid,sop_instance_uid\n");
    int rc = cbis ? from_cbis(&o, src) : csv ? from_csv(&o, csv) : from_pattern(&o, pattern, dir);
    if (fclose(o.manifest) != 0) {
        fprintf(stderr, "mama import: writing %s failed\n", mpath);
        rc = -1;
    }
    printf("%d images written to %s%s\n", o.written, o.out, rc ? " (with errors: see above)" : "");
    return rc ? 1 : 0;
}

int cmd_import_images(int argc, char **argv) { return run(0, argc, argv); }
int cmd_import_cbis(int argc, char **argv) { return run(1, argc, argv); }
