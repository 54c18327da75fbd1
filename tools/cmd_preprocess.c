/* cmd_preprocess.c: `mama preprocess FILE... --out-png DIR`: runs the evaluation
 * preprocessing (MAMA_METHOD.md section 6: [0,1] with VOI, MONOCHROME1 inverted, Otsu
 * breast crop, antialiased bilinear resize to S x S) on DICOM or PNG/PGM files and writes
 * what the model sees (before the 3-channel repeat and (x-0.5)/0.5) as gray PNGs named
 * <parent folder>_<file stem>.png. Optionally the normalised (3,S,S) float32 tensors. */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/vision/image_io.h"
#include "engine/vision/preprocess.h"
#include "tools/image_source.h"
#include "tools/out_name.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: mama preprocess FILE... --out-png DIR [options]\n"
            "  --out-png DIR   write each preprocessed image as DIR/<parent>_<stem>.png\n"
            "  --out-raw DIR   also write the model input (3,S,S) float32 little endian .f32\n"
            "  --size S        model side (default 518)\n"
            "  --no-crop       skip the Otsu breast crop (resize the whole image)\n"
            "  --bits 8|16     PNG depth (default 8)\n"
            "Prints one line per file: source size, crop box, transfer syntax and view.\n");
}

int cmd_preprocess(int argc, char **argv) {
    const char *out_png = NULL, *out_raw = NULL;
    int size = PREP_DEFAULT_SIZE, crop = 1, bits = 8, nfiles = 0;
    const char **files = calloc((size_t)argc, sizeof *files);
    if (!files) return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            free(files);
            return 0;
        } else if (!strcmp(a, "--out-png") && i + 1 < argc) {
            out_png = argv[++i];
        } else if (!strcmp(a, "--out-raw") && i + 1 < argc) {
            out_raw = argv[++i];
        } else if (!strcmp(a, "--size") && i + 1 < argc) {
            size = atoi(argv[++i]);
        } else if (!strcmp(a, "--bits") && i + 1 < argc) {
            bits = atoi(argv[++i]);
        } else if (!strcmp(a, "--no-crop")) {
            crop = 0;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "mama preprocess: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            free(files);
            return 2;
        } else {
            files[nfiles++] = a;
        }
    }
    if (!out_png || nfiles == 0 || size < 8 || size > 8192 || (bits != 8 && bits != 16)) {
        fprintf(stderr, "mama preprocess: need FILE... and --out-png DIR (size 8..8192, bits 8 or 16)\n");
        usage(stderr);
        free(files);
        return 2;
    }
    const char *dirs[2] = {out_png, out_raw};
    for (int d = 0; d < 2; d++)
        if (dirs[d] && mkdir(dirs[d], 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "mama preprocess: cannot create %s: %s\n", dirs[d], strerror(errno));
            free(files);
            return 1;
        }
    prep_config cfg;
    prep_config_default(&cfg);
    cfg.size = size;
    cfg.crop = crop;
    size_t n = (size_t)size * size;
    float *gray = malloc(sizeof(float) * n), *model = malloc(sizeof(float) * 3 * n);
    int failed = 0;
    for (int k = 0; k < nfiles && gray && model; k++) {
        float *img = NULL;
        int H, W, is_dicom;
        dcm_instance_info info;
        prep_box box;
        char name[8192];
        mama_status rc = image_source_load(files[k], &img, &H, &W, &info, &is_dicom);
        if (rc == MAMA_OK) rc = prep_crop_resize(gray, size, size, img, H, W, crop, &box);
        if (rc == MAMA_OK) {
            out_name(name, sizeof name, out_png, files[k], ".png");
            rc = image_io_save_png(name, gray, size, size, bits);
        }
        if (rc == MAMA_OK && out_raw) {
            prep_to_model_input(model, gray, size, cfg.mean, cfg.std);
            out_name(name, sizeof name, out_raw, files[k], ".f32");
            FILE *f = fopen(name, "wb");
            if (!f || fwrite(model, sizeof(float), 3 * n, f) != 3 * n)
                rc = mama_errorf(MAMA_EIO, "%s: cannot write", name);
            if (f && fclose(f) != 0 && rc == MAMA_OK) rc = mama_errorf(MAMA_EIO, "%s: cannot write", name);
        }
        if (rc == MAMA_OK) {
            out_name(name, sizeof name, out_png, files[k], ".png");
            char extra[256] = "";
            if (is_dicom)
                snprintf(extra, sizeof extra, " ts=%s view=%s-%s %s", info.transfer_syntax_uid,
                         info.image_laterality, info.view_position, info.photometric);
            printf("%s: %dx%d -> crop y=%d x=%d h=%d w=%d -> %dx%d %s%s\n", files[k], H, W, box.y0,
                   box.x0, box.h, box.w, size, size, name, extra);
        } else {
            fprintf(stderr, "mama preprocess: %s\n", mama_last_error());
            failed++;
        }
        free(img);
    }
    if (!gray || !model) {
        fprintf(stderr, "mama preprocess: out of memory\n");
        failed++;
    }
    free(gray);
    free(model);
    free(files);
    return failed ? 1 : 0;
}
