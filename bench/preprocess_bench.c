/* preprocess_bench.c: decode + preprocess throughput of the C pipeline on DICOM files:
 * dcm_image_load (decode, VOI, MONOCHROME1) then prep_image_eval (Otsu crop, antialiased
 * resize to S x S, 3 channels, normalise). One thread. Run by bench/preprocess_bench.sh
 * beside bench/preprocess_pydicom.py; prints one line per phase and images/s. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dicom/dcm_image.h"
#include "engine/vision/preprocess.h"
#include "bench/bench_util.h"

char *openblas_get_config(void);

int main(int argc, char **argv) {
    int reps = 3, size = PREP_DEFAULT_SIZE, first = 1, min_side = 0;
    const char *label = "C";
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (!strcmp(argv[first], "--reps") && first + 1 < argc) reps = atoi(argv[++first]);
        else if (!strcmp(argv[first], "--size") && first + 1 < argc) size = atoi(argv[++first]);
        else if (!strcmp(argv[first], "--label") && first + 1 < argc) label = argv[++first];
        else if (!strcmp(argv[first], "--j2k-min-side") && first + 1 < argc) min_side = atoi(argv[++first]);
        else if (!strcmp(argv[first], "--j2k-threads") && first + 1 < argc) dcm_image_set_j2k_threads(atoi(argv[++first]));
    }
    if (first >= argc) {
        fprintf(stderr, "usage: preprocess_bench [--reps N] [--size S] [--label L] [--j2k-threads T] [--j2k-min-side M] FILE.dcm...\n");
        return 2;
    }
    printf("# openblas: %s (not used by this pipeline)\n", openblas_get_config());
    prep_config cfg;
    prep_config_default(&cfg);
    cfg.size = size;
    float *out = malloc(sizeof(float) * 3 * size * size);
    /* per file: the best of the repetitions (the machine is shared; the minimum is the
     * least disturbed figure), and the mean over all repetitions */
    int nf = argc - first;
    double *best_dec = malloc(sizeof(double) * nf), *best_pre = malloc(sizeof(double) * nf);
    for (int i = 0; i < nf; i++) best_dec[i] = best_pre[i] = 1e30;
    double sum_all = 0, checksum = 0;
    for (int r = 0; r < reps; r++)
        for (int i = first; i < argc; i++) {
            dcm_image img;
            char err[512];
            double t0 = bench_now();
            if (dcm_image_load_scaled(argv[i], min_side, &img, err, sizeof err) != 0) {
                fprintf(stderr, "%s\n", err);
                return 1;
            }
            double t1 = bench_now();
            if (prep_image_eval(out, img.pixels, img.rows, img.cols, &cfg, NULL) != MAMA_OK) {
                fprintf(stderr, "%s\n", mama_last_error());
                return 1;
            }
            double t2 = bench_now();
            if (t1 - t0 + t2 - t1 < best_dec[i - first] + best_pre[i - first]) {
                best_dec[i - first] = t1 - t0;
                best_pre[i - first] = t2 - t1;
            }
            sum_all += t2 - t0;
            if (r == 0) checksum += out[(size / 2) * size + size / 2];
            dcm_image_free(&img);
        }
    double dec = 0, pre = 0;
    for (int i = 0; i < nf; i++) {
        dec += best_dec[i];
        pre += best_pre[i];
    }
    printf("%s: %d images x %d reps  best: decode %.1f ms/img  preprocess %.1f ms/img  total %.2f images/s"
           "  (mean %.2f images/s, checksum %.4f)\n",
           label, nf, reps, 1e3 * dec / nf, 1e3 * pre / nf, nf / (dec + pre), nf * reps / sum_all, checksum);
    free(best_dec);
    free(best_pre);
    free(out);
    return 0;
}
