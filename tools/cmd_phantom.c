/* cmd_phantom.c: `mama phantom`, generated screening mammography studies written as
 * DICOM MG files with their ground truth in the EMBED and RSNA table formats.
 * Layout: OUT/<accession>/<view>.dcm (LCC, RCC, LMLO, RMLO; extras as LCC_SPOT ...),
 * OUT/manifest.csv, embed_metadata.csv, embed_clinical.csv, train.csv,
 * phantom_findings.csv. See docs/phantom.md. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dicom/dcm_writer.h"
#include "tools/mama.h"
#include "tools/phantom/phantom.h"
#include "tools/phantom/phantom_tables.h"

int cmd_phantom(int argc, char **argv);

enum { EXTRA_SPOT = 1, EXTRA_MAG = 2, EXTRA_IMPLANT = 4, EXTRA_FORPROC = 8, EXTRA_RETAKE = 16 };

typedef struct options {
    const char *out;
    int count;
    uint64_t seed;
    int rows, cols, bits, mono1;
    dcm_tsyntax ts;
    unsigned extras;
    unsigned views; /* bit (side*2 + mlo) */
    double abnormal;
    int quiet;
    int voi_sigmoid;   /* VOI LUT Function SIGMOID instead of LINEAR */
    int layout_rsna; /* OUT/<patient_id>/<image_id>.dcm instead of OUT/<accession>/<view>.dcm */
    unsigned hard;   /* PH_HARD_* */
    int density;     /* 1..4 forced, 0 drawn */
    int masks;       /* write <name>_mask.pgm beside each image */
} options;

static void usage(FILE *f) {
    fprintf(f,
            "usage: mama phantom --out DIR [options]\n"
            "  --count N          studies to generate (default 1)\n"
            "  --seed S           random seed (default 1); same seed, same bytes\n"
            "  --size RxC         rows x columns (default 3328x2560; e.g. 256x208 for tests)\n"
            "  --bits B           bits stored, 10..16 (default 12)\n"
            "  --mono1            MONOCHROME1 (inverted stored values)\n"
            "  --tsyntax T        explicit (default), implicit, deflate, rle, jpegll, jpegls, j2k\n"
            "  --extra LIST       spot,mag,implant,forproc,retake (extra views)\n"
            "  --views LIST       subset of LCC,RCC,LMLO,RMLO (incomplete studies)\n"
            "  --abnormal P       probability of a study with findings (default 0.45)\n"
            "  --voi F            VOI LUT function: linear (default) or sigmoid\n"
            "  --layout L         views: OUT/<accession>/<view>.dcm (default);\n"
            "                     rsna: OUT/<patient_id>/<image_id>.dcm as train.csv names them\n"
            "  --hard LIST        fatty,film,labels,markers: the cases that break a plain\n"
            "                     Otsu crop (docs/phantom.md); implies --masks\n"
            "  --density D        force BI-RADS density A, B, C or D (fatty forces A)\n"
            "  --masks            write each view's true mask as <name>_mask.pgm (0 air,\n"
            "                     255 breast, 160 pectoral, 64 label/marker, 32 film border)\n"
            "  --quiet            no progress lines\n");
}

static int parse_list(const char *text, const char *const *names, int n, unsigned *out, const char *what) {
    *out = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (int i = 0; i < n; i++)
            if (strcmp(tok, names[i]) == 0) {
                *out |= 1u << i;
                found = 1;
            }
        if (!found) {
            fprintf(stderr, "mama phantom: %s: unknown name '%s'\n", what, tok);
            return -1;
        }
    }
    return 0;
}

static int parse(int argc, char **argv, options *o) {
    memset(o, 0, sizeof *o);
    o->count = 1;
    o->seed = 1;
    o->rows = 3328;
    o->cols = 2560;
    o->bits = 12;
    o->views = 0xf;
    o->abnormal = 0.45;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE                                                                  \
    do {                                                                            \
        if (!val) {                                                                 \
            fprintf(stderr, "mama phantom: %s needs a value\n", a);                 \
            return 2;                                                               \
        }                                                                           \
        i++;                                                                        \
    } while (0)
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(a, "--out") == 0) {
            NEED_VALUE;
            o->out = val;
        } else if (strcmp(a, "--count") == 0) {
            NEED_VALUE;
            char *end;
            long n = strtol(val, &end, 10);
            if (*end || n < 1 || n > 10000000) {
                fprintf(stderr, "mama phantom: --count must be 1..10000000, not '%s'\n", val);
                return 2;
            }
            o->count = (int)n;
        } else if (strcmp(a, "--seed") == 0) {
            NEED_VALUE;
            char *end;
            errno = 0;
            unsigned long long s = strtoull(val, &end, 10);
            if (*end || errno || val[0] == '-') {
                fprintf(stderr, "mama phantom: --seed must be a non-negative integer, not '%s'\n", val);
                return 2;
            }
            o->seed = s;
        } else if (strcmp(a, "--size") == 0) {
            NEED_VALUE;
            int r, c;
            char x;
            if (sscanf(val, "%d%c%d", &r, &x, &c) != 3 || x != 'x' || r < 64 || c < 64 || r > 8192 || c > 8192) {
                fprintf(stderr, "mama phantom: --size must be ROWSxCOLUMNS within 64..8192, not '%s'\n", val);
                return 2;
            }
            o->rows = r;
            o->cols = c;
        } else if (strcmp(a, "--bits") == 0) {
            NEED_VALUE;
            int b = atoi(val);
            if (b < 10 || b > 16) {
                fprintf(stderr, "mama phantom: --bits must be 10..16, not '%s'\n", val);
                return 2;
            }
            o->bits = b;
        } else if (strcmp(a, "--mono1") == 0) {
            o->mono1 = 1;
        } else if (strcmp(a, "--tsyntax") == 0) {
            NEED_VALUE;
            if (dcm_tsyntax_parse(val, &o->ts) != 0) {
                fprintf(stderr, "mama phantom: --tsyntax: unknown transfer syntax '%s' "
                                "(explicit, implicit, deflate, rle, jpegll, jpegls, j2k)\n", val);
                return 2;
            }
        } else if (strcmp(a, "--extra") == 0) {
            NEED_VALUE;
            static const char *const names[] = {"spot", "mag", "implant", "forproc", "retake"};
            if (parse_list(val, names, 5, &o->extras, "--extra (spot, mag, implant, forproc, retake)") != 0) return 2;
        } else if (strcmp(a, "--views") == 0) {
            NEED_VALUE;
            static const char *const names[] = {"LCC", "LMLO", "RCC", "RMLO"};
            if (parse_list(val, names, 4, &o->views, "--views (LCC, RCC, LMLO, RMLO)") != 0 || !o->views) return 2;
        } else if (strcmp(a, "--abnormal") == 0) {
            NEED_VALUE;
            char *end;
            o->abnormal = strtod(val, &end);
            if (*end || o->abnormal < 0 || o->abnormal > 1) {
                fprintf(stderr, "mama phantom: --abnormal must be within 0..1, not '%s'\n", val);
                return 2;
            }
        } else if (strcmp(a, "--voi") == 0) {
            NEED_VALUE;
            if (strcmp(val, "linear") == 0) o->voi_sigmoid = 0;
            else if (strcmp(val, "sigmoid") == 0) o->voi_sigmoid = 1;
            else {
                fprintf(stderr, "mama phantom: --voi: '%s' is not linear or sigmoid\n", val);
                return 2;
            }
        } else if (strcmp(a, "--layout") == 0) {
            NEED_VALUE;
            if (strcmp(val, "views") == 0) o->layout_rsna = 0;
            else if (strcmp(val, "rsna") == 0) o->layout_rsna = 1;
            else {
                fprintf(stderr, "mama phantom: --layout: '%s' is not views or rsna\n", val);
                return 2;
            }
        } else if (strcmp(a, "--hard") == 0) {
            NEED_VALUE;
            static const char *const names[] = {"fatty", "film", "labels", "markers"};
            if (parse_list(val, names, 4, &o->hard, "--hard (fatty, film, labels, markers)") != 0) return 2;
            o->masks = 1;
        } else if (strcmp(a, "--density") == 0) {
            NEED_VALUE;
            if (strlen(val) != 1 || val[0] < 'A' || val[0] > 'D') {
                fprintf(stderr, "mama phantom: --density must be A, B, C or D, not '%s'\n", val);
                return 2;
            }
            o->density = val[0] - 'A' + 1;
        } else if (strcmp(a, "--masks") == 0) {
            o->masks = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
        } else {
            fprintf(stderr, "mama phantom: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
#undef NEED_VALUE
    }
    if (!o->out) {
        fprintf(stderr, "mama phantom: --out DIR is required\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

static int make_dir(const char *path) {
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return 0;
    fprintf(stderr, "mama phantom: cannot create %s: %s\n", path, strerror(errno));
    return -1;
}

/* One image to write: which breast and view, and how it differs from the standard. */
typedef struct shot {
    int side, mlo;
    unsigned mods;        /* DCM_VIEWMOD_* */
    int for_processing;
    int retake;
    const char *suffix;   /* file name suffix ("", "_SPOT", ...) */
    int series;           /* 1 standard, 2 for processing, 3 extra views */
} shot;

static int add_shot(shot *list, int n, int side, int mlo, unsigned mods, int fp, int retake, const char *suffix,
                    int series) {
    list[n] = (shot){side, mlo, mods, fp, retake, suffix, series};
    return n + 1;
}

/* The true mask as an 8-bit PGM (docs/phantom.md: 0 air, 255 breast, 160 pectoral,
 * 64 label or marker, 32 film border). */
static int write_mask(const char *path, const uint8_t *mask, int rows, int cols) {
    static const uint8_t level[5] = {0, 255, 160, 32, 64};
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "mama phantom: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "P5\n%d %d\n255\n", cols, rows);
    int ok = 1;
    for (int y = 0; y < rows && ok; y++) {
        uint8_t line[8192];
        for (int x = 0; x < cols; x++) line[x] = level[mask[(size_t)y * cols + x] % 5];
        ok = fwrite(line, 1, (size_t)cols, f) == (size_t)cols;
    }
    if (fclose(f) != 0) ok = 0;
    if (!ok) fprintf(stderr, "mama phantom: cannot write %s\n", path);
    return ok ? 0 : -1;
}

static int generate_study(const options *o, int index, ph_tables *tab, uint16_t *pix, void *work, uint8_t *mask) {
    const double spacing = PH_DETECTOR_WIDTH_MM / o->cols;
    ph_study st;
    ph_case_draw(&st, o->seed, index, o->rows * spacing, o->abnormal);
    if (o->extras & EXTRA_IMPLANT) st.implant = 1;
    if (o->density) st.density = o->density;
    if (o->hard & PH_HARD_FATTY) st.density = 1;

    char dir[4096];
    char folder[32];
    if (o->layout_rsna) snprintf(folder, sizeof folder, "%ld", st.rsna_patient);
    else snprintf(folder, sizeof folder, "%s", st.accession);
    snprintf(dir, sizeof dir, "%s/%s", o->out, folder);
    if (make_dir(dir) != 0) return -1;

    shot shots[32];
    int n = 0;
    for (int mlo = 0; mlo < 2; mlo++)
        for (int side = 0; side < 2; side++)
            if (o->views & (1u << (side * 2 + mlo))) n = add_shot(shots, n, side, mlo, 0, 0, 0, "", 1);
    int nstd = n;
    /* the extras go to the breast with a finding when there is one */
    int fside = st.breast[1].nfind > st.breast[0].nfind;
    if (o->extras & EXTRA_SPOT) n = add_shot(shots, n, fside, 0, DCM_VIEWMOD_SPOT, 0, 0, "_SPOT", 3);
    if (o->extras & EXTRA_MAG) n = add_shot(shots, n, fside, 1, DCM_VIEWMOD_MAGNIFICATION, 0, 0, "_MAG", 3);
    if (o->extras & EXTRA_IMPLANT)
        for (int k = 0; k < nstd; k++)
            n = add_shot(shots, n, shots[k].side, shots[k].mlo, DCM_VIEWMOD_IMPLANT_DISPLACED, 0, 0, "_ID", 1);
    if (o->extras & EXTRA_FORPROC)
        for (int k = 0; k < nstd; k++) n = add_shot(shots, n, shots[k].side, shots[k].mlo, 0, 1, 0, "_FORPROC", 2);
    if (o->extras & EXTRA_RETAKE && nstd > 0) n = add_shot(shots, n, shots[0].side, shots[0].mlo, 0, 0, 1, "_RETAKE", 1);

    ph_mark marks[2][2][PH_MAX_FINDINGS];
    memset(marks, 0, sizeof marks);
    int have_cc[2] = {0, 0}, have_mlo[2] = {0, 0};
    char series_uid[4][65];
    for (int s = 1; s <= 3; s++) ph_uid(series_uid[s], o->seed, (uint64_t)index, 0x534552000ull + (uint64_t)s);

    for (int k = 0; k < n; k++) {
        const shot *sh = &shots[k];
        ph_view v = {.side = sh->side,
                     .mlo = sh->mlo,
                     .rows = o->rows,
                     .cols = o->cols,
                     .bits = o->bits,
                     .mono1 = o->mono1,
                     .implant_displaced = (sh->mods & DCM_VIEWMOD_IMPLANT_DISPLACED) != 0,
                     .noise_seed = ph_hash3(o->seed, (uint64_t)index, 1000 + (uint64_t)k * (sh->retake ? 7 : 1)),
                     .hard = o->hard,
                     .mask = mask};
        ph_mark m[PH_MAX_FINDINGS];
        if (ph_render(&st, &v, pix, work, m) != 0) {
            fprintf(stderr, "mama phantom: cannot render a %dx%d image\n", o->rows, o->cols);
            return -1;
        }
        if (sh->series == 1 && !sh->retake && !sh->mods) {
            memcpy(marks[sh->side][sh->mlo], m, sizeof m);
            if (sh->mlo) have_mlo[sh->side] = 1;
            else have_cc[sh->side] = 1;
        }
        const char *lat = sh->side ? "R" : "L";
        const char *view = sh->mlo ? "MLO" : "CC";
        char name[64], path[4200], rel[128], sop[65], acq[32], desc[64], patient_age[8];
        long image_id = st.rsna_patient * 100 + k + 1;
        if (o->layout_rsna) snprintf(name, sizeof name, "%ld", image_id);
        else snprintf(name, sizeof name, "%s%s%s", lat, view, sh->suffix);
        if (mask) {
            snprintf(path, sizeof path, "%s/%s_mask.pgm", dir, name);
            if (write_mask(path, mask, o->rows, o->cols) != 0) return -1;
        }
        snprintf(path, sizeof path, "%s/%s.dcm", dir, name);
        snprintf(rel, sizeof rel, "%s/%s.dcm", folder, name);
        ph_uid(sop, o->seed, (uint64_t)index, 0x534f5000ull + (uint64_t)k);
        int minutes = 2 * k + 1;
        int hh = (st.study_time[0] - '0') * 10 + (st.study_time[1] - '0');
        int mm = (st.study_time[2] - '0') * 10 + (st.study_time[3] - '0') + minutes;
        snprintf(acq, sizeof acq, "%s%02d%02d%c%c", st.study_date, (hh + mm / 60) % 24, mm % 60, st.study_time[4],
                 st.study_time[5]);
        snprintf(patient_age, sizeof patient_age, "%03dY", st.age);
        snprintf(desc, sizeof desc, "%s%s", sh->series == 2 ? "RAW " : "", sh->series == 3 ? "Additional views" : "Screening views");
        double wc, ww;
        ph_window(&v, &wc, &ww);
        /* LINEAR windows map around c - 0.5 over w - 1 (PS3.3 C.11.2.1.2), so the exact
         * mirror of a MONOCHROME2 window is M - c + 1; SIGMOID mirrors at M - c. */
        if (v.mono1 && !o->voi_sigmoid) wc += 1.0;
        dcm_mg_image img = {
            .patient_id = st.patient_id,
            .patient_name = st.patient_name,
            .patient_birth_date = st.birth_date,
            .patient_age = patient_age,
            .study_uid = st.study_uid,
            .study_id = st.accession + 1,
            .study_date = st.study_date,
            .study_time = st.study_time,
            .study_description = st.screening ? "MG Screening Bilateral" : "MG Diagnostic Bilateral",
            .accession_number = st.accession,
            .referring_physician = "",
            .series_uid = series_uid[sh->series],
            .series_number = sh->series,
            .series_description = desc,
            .manufacturer = "MAMA Phantom",
            .model_name = "phantom-1",
            .institution = "Phantom Screening Centre",
            .sop_instance_uid = sop,
            .instance_number = k + 1,
            .acquisition_datetime = acq,
            .laterality = lat,
            .view_position = view,
            .view_modifiers = sh->mods,
            .for_processing = sh->for_processing,
            .implant_present = st.implant,
            .mono1 = o->mono1,
            .window_center = wc,
            .window_width = ww,
            .voi_lut_function = o->voi_sigmoid ? "SIGMOID" : "LINEAR",
            .pixel_spacing_mm = spacing,
            .body_part_thickness_mm = 40 + (st.index % 30),
            .compression_force_n = 80 + (st.index % 50),
            .kvp = 28 + (st.index % 4),
            .rows = (uint16_t)o->rows,
            .columns = (uint16_t)o->cols,
            .bits_stored = (uint16_t)o->bits,
            .pixels = pix,
        };
        char err[DCM_WRITER_ERR_MAX];
        if (dcm_write_mg(path, &img, o->ts, err, sizeof err) != 0) {
            fprintf(stderr, "mama phantom: %s\n", err);
            return -1;
        }
        char mods[32] = "";
        if (sh->mods & DCM_VIEWMOD_SPOT) strcat(mods, "SPOT");
        if (sh->mods & DCM_VIEWMOD_MAGNIFICATION) strcat(mods, "MAG");
        if (sh->mods & DCM_VIEWMOD_IMPLANT_DISPLACED) strcat(mods, "ID");
        ph_image_row row = {
            .rel_path = rel,
            .series_uid = series_uid[sh->series],
            .sop_uid = sop,
            .sop_class_uid = sh->for_processing ? DCM_SOP_MG_PROCESSING : DCM_SOP_MG_PRESENTATION,
            .tsyntax_uid = dcm_tsyntax_uid(o->ts),
            .series_description = desc,
            .side = sh->side,
            .view = view,
            .modifiers = mods,
            .for_processing = sh->for_processing,
            .mono1 = o->mono1,
            .spot_mag = (sh->mods & (DCM_VIEWMOD_SPOT | DCM_VIEWMOD_MAGNIFICATION)) != 0,
            .rows = o->rows,
            .cols = o->cols,
            .bits = o->bits,
            .instance_number = k + 1,
            .rsna = !sh->for_processing && !sh->mods,
            .rsna_image_id = image_id,
        };
        ph_tables_image(tab, &st, &row);
    }
    ph_tables_study(tab, &st, (const ph_mark(*)[2][PH_MAX_FINDINGS])marks, have_cc, have_mlo);
    if (!o->quiet) printf("%s: %d images\n", dir, n);
    return 0;
}

int cmd_phantom(int argc, char **argv) {
    options o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : rc;
    if (make_dir(o.out) != 0) return 1;
    size_t npix = (size_t)o.rows * o.cols;
    uint16_t *pix = malloc(npix * sizeof *pix);
    void *work = malloc(ph_render_work_size(o.rows, o.cols));
    /* the film overlay needs the mask to know where the air is */
    uint8_t *mask = o.masks || o.hard ? malloc(npix) : NULL;
    if (!pix || !work || ((o.masks || o.hard) && !mask)) {
        fprintf(stderr, "mama phantom: out of memory for a %dx%d image\n", o.rows, o.cols);
        free(pix);
        free(work);
        free(mask);
        return 1;
    }
    ph_tables tab;
    char err[512];
    if (ph_tables_open(&tab, o.out, err, sizeof err) != 0) {
        fprintf(stderr, "mama phantom: %s\n", err);
        free(pix);
        free(work);
        free(mask);
        return 1;
    }
    rc = 0;
    for (int i = 0; i < o.count && rc == 0; i++)
        if (generate_study(&o, i, &tab, pix, work, mask) != 0) rc = 1;
    if (ph_tables_close(&tab) != 0) {
        fprintf(stderr, "mama phantom: writing the tables in %s failed\n", o.out);
        rc = 1;
    }
    free(pix);
    free(work);
    free(mask);
    return rc;
}
