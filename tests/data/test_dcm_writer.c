/* test_dcm_writer.c: dcm_write_mg refuses bad input with a message and leaves nothing
 * behind (no file, no temporary), keeps an existing file when a write is refused, and
 * writes a file DCMTK can parse for each transfer syntax name it accepts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "dicom/dcm_writer.h"
#include "tests/check.h"

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.') n++;
    if (d) closedir(d);
    return n;
}

int main(void) {
    char dir[] = "/tmp/mama_writer_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    enum { R = 64, C = 48 };
    static uint16_t px[R * C];
    for (int i = 0; i < R * C; i++) px[i] = (uint16_t)(i % 4096);
    dcm_mg_image ok = {
        .patient_id = "P1", .patient_name = "TEST^ONE", .study_uid = "1.2.3.4", .series_uid = "1.2.3.4.1",
        .sop_instance_uid = "1.2.3.4.1.1", .study_date = "20200101", .study_time = "101010",
        .accession_number = "A1", .laterality = "L", .view_position = "CC", .window_center = 2000,
        .window_width = 4000, .pixel_spacing_mm = 0.1, .rows = R, .columns = C, .bits_stored = 12, .pixels = px,
    };
    char path[256], err[DCM_WRITER_ERR_MAX];
    snprintf(path, sizeof path, "%s/ok.dcm", dir);
    CHECK_MSG(dcm_write_mg(path, &ok, DCM_TS_EXPLICIT_LE, err, sizeof err) == 0, "%s", err);
    struct stat before, after;
    CHECK_MSG(stat(path, &before) == 0 && before.st_size > R * C * 2, "file not written");

    struct {
        const char *what, *want;
        dcm_mg_image img;
        dcm_tsyntax ts;
    } bad[] = {
        {"pixel above 12 bits", "above 4095 for BitsStored 12", ok, DCM_TS_EXPLICIT_LE},
        {"no SOP UID", "UIDs are required", ok, DCM_TS_EXPLICIT_LE},
        {"laterality B", "laterality must be", ok, DCM_TS_EXPLICIT_LE},
        {"unknown view", "unknown view position \"AP\"", ok, DCM_TS_EXPLICIT_LE},
        {"7 bits", "BitsStored 7 outside 8..16", ok, DCM_TS_EXPLICIT_LE},
        {"bad syntax", "unknown transfer syntax", ok, (dcm_tsyntax)42},
        {"no pixels", "no pixels", ok, DCM_TS_EXPLICIT_LE},
    };
    static uint16_t hot[R * C];
    memcpy(hot, px, sizeof hot);
    hot[R * C - 1] = 4096;
    bad[0].img.pixels = hot;
    bad[1].img.sop_instance_uid = "";
    bad[2].img.laterality = "B";
    bad[3].img.view_position = "AP";
    bad[4].img.bits_stored = 7;
    bad[6].img.pixels = NULL;
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        err[0] = 0;
        CHECK_MSG(dcm_write_mg(path, &bad[k].img, bad[k].ts, err, sizeof err) == -1, "%s accepted", bad[k].what);
        CHECK_MSG(strstr(err, bad[k].want) != NULL, "%s: message '%s'", bad[k].what, err);
    }
    CHECK_MSG(stat(path, &after) == 0 && after.st_size == before.st_size && after.st_mtime == before.st_mtime,
              "the existing file changed");
    snprintf(path, sizeof path, "%s/missing/dir/x.dcm", dir);
    CHECK_MSG(dcm_write_mg(path, &ok, DCM_TS_EXPLICIT_LE, err, sizeof err) == -1 && strstr(err, "cannot write"), "%s",
              err);
    CHECK_MSG(count_entries(dir) == 1, "%d entries left in %s (temporaries?)", count_entries(dir), dir);

    /* names round-trip */
    for (int t = 0; t < DCM_TS_COUNT; t++) {
        dcm_tsyntax back;
        CHECK_MSG(dcm_tsyntax_parse(dcm_tsyntax_name((dcm_tsyntax)t), &back) == 0 && back == (dcm_tsyntax)t, "%d", t);
        CHECK_MSG(strncmp(dcm_tsyntax_uid((dcm_tsyntax)t), "1.2.840.10008.1.2", 17) == 0, "%d", t);
    }
    dcm_tsyntax dummy;
    CHECK_MSG(dcm_tsyntax_parse("jpeg2000", &dummy) == -1, "unknown name accepted");
    snprintf(path, sizeof path, "%s/ok.dcm", dir);
    unlink(path);
    rmdir(dir);
    if (check_failures) fprintf(stderr, "%d check_failures\n", check_failures);
    else printf("ok\n");
    return check_failures ? 1 : 0;
}
