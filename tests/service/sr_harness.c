/* sr_harness.c: writes a Mammography CAD SR from four images with values given on the
 * command line, for tests/service/results_test.py (which checks it with dsrdump and
 * dciodvfy, independent readers).
 *   sr_harness OUT.dcm LCC.dcm LMLO.dcm RCC.dcm RMLO.dcm DENS_L BIRADS_L P_L DENS_R BIRADS_R P_R
 *              UNTRAINED [PREDECESSOR_KEY] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dicom/dcm_instance_read.h"
#include "dicom/dcm_sr.h"

int main(int argc, char **argv) {
    if (argc < 13) {
        fprintf(stderr, "usage: sr_harness OUT LCC LMLO RCC RMLO dL bL pL dR bR pR untrained [prev]\n");
        return 2;
    }
    static const char lat[4] = {'L', 'L', 'R', 'R'};
    static const char *view[4] = {"CC", "MLO", "CC", "MLO"};
    dcm_instance_info info[4];
    dcm_sr_view v[4];
    for (int i = 0; i < 4; i++) {
        char err[512];
        if (dcm_read_instance_info(argv[2 + i], &info[i], err, sizeof err) != 0) {
            fprintf(stderr, "sr_harness: %s\n", err);
            return 1;
        }
        v[i] = (dcm_sr_view){.sop_class_uid = info[i].sop_class_uid,
                             .sop_instance_uid = info[i].sop_instance_uid,
                             .series_uid = info[i].series_uid, .laterality = lat[i], .view = view[i]};
    }
    dcm_sr_breast b[2] = {
        {.laterality = 'L', .density = atoi(argv[6]), .birads = atoi(argv[7]), .p_cancer = atof(argv[8])},
        {.laterality = 'R', .density = atoi(argv[9]), .birads = atoi(argv[10]), .p_cancer = atof(argv[11])},
    };
    char key[256], series[256], uid[65], err[1024];
    snprintf(key, sizeof key, "%s/sr/%s", info[0].study_uid, argc > 13 ? "2" : "1");
    snprintf(series, sizeof series, "%s/sr", info[0].study_uid);
    dcm_sr_report r = {.source_path = argv[2], .uid_key = key, .series_key = series,
                       .version = argc > 13 ? 2 : 1, .views = v, .n_views = 4, .breasts = b,
                       .n_breasts = 2, .model_id = "0123456789abcdef", .software_version = "0.test",
                       .untrained = atoi(argv[12]), .predecessor_key = argc > 13 ? argv[13] : NULL,
                       .content_datetime = "20261202101500"};
    if (dcm_sr_write(argv[1], &r, uid, err, sizeof err) != 0) {
        fprintf(stderr, "sr_harness: %s\n", err);
        return 1;
    }
    printf("%s\n", uid);
    return 0;
}
