/* scp_instance_test.c: unit tests of dcm_uid_valid and dcm_read_instance_info (the checks
 * the SCP runs on every received file before the daemon sees it), and that the pixel
 * loader (dcm_image_load: scoring, the CLI) reads the tags by the same rule.
 * argv[1]: a small MG file written by `scp_harness mkdcm` (see meson.build) with
 * SOP 1.2.826.0.1.3680043.9.7433.4.1, left CC, 64 x 48. Every truncation of it must be
 * refused with a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dicom/dcm_image.h"
#include "dicom/dcm_instance_read.h"
#include "tests/check.h"

static void test_uids(void) {
    const char *good[] = {"1.2.840.10008.1.2", "0", "1.0.2", "2.25.329800735698586629295641978511506172918",
                          "1.2.826.0.1.3680043.9.7433.4.1"};
    const char *bad[] = {"", "1..2", ".1", "1.", "01.2", "1.02", "1.2/3", "1.2.a", "1.2.3/../../x",
                         "1\\2", "1 2", "..", "/", "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.23.24.25",
                         NULL};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK_MSG(dcm_uid_valid(good[i]) == 1, "'%s' should be valid", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(dcm_uid_valid(bad[i]) == 0, "'%s' should be invalid", bad[i] ? bad[i] : "(null)");
    char longest[65];
    memset(longest, '1', 64);
    longest[64] = '\0';
    CHECK_MSG(dcm_uid_valid(longest) == 1, "64 digits are a valid UID");
    char too_long[66];
    memset(too_long, '1', 65);
    too_long[65] = '\0';
    CHECK_MSG(dcm_uid_valid(too_long) == 0, "65 characters are too many");
}

static void test_read(const char *path) {
    dcm_instance_info ii;
    char err[256] = "";
    int rc = dcm_read_instance_info(path, &ii, err, sizeof err);
    CHECK_MSG(rc == 0, "reading %s: %s", path, err);
    if (rc != 0) return;
    CHECK_MSG(!strcmp(ii.sop_instance_uid, "1.2.826.0.1.3680043.9.7433.4.1"), "sop %s", ii.sop_instance_uid);
    CHECK_MSG(!strcmp(ii.sop_class_uid, "1.2.840.10008.5.1.4.1.1.1.2"), "class %s", ii.sop_class_uid);
    CHECK_MSG(!strcmp(ii.study_uid, "1.2.826.0.1.3680043.9.7433.4"), "study %s", ii.study_uid);
    CHECK_MSG(!strcmp(ii.series_uid, "1.2.826.0.1.3680043.9.7433.4.9"), "series %s", ii.series_uid);
    CHECK_MSG(!strcmp(ii.transfer_syntax_uid, "1.2.840.10008.1.2.1"), "ts %s", ii.transfer_syntax_uid);
    CHECK_MSG(!strcmp(ii.modality, "MG"), "modality %s", ii.modality);
    CHECK_MSG(!strcmp(ii.patient_id, "PHANTOM01"), "patient %s", ii.patient_id);
    CHECK_MSG(!strcmp(ii.image_laterality, "L"), "laterality %s", ii.image_laterality);
    CHECK_MSG(!strcmp(ii.view_position, "CC"), "view %s", ii.view_position);
    CHECK_MSG(!strcmp(ii.view_code, "R-10242"), "view code %s", ii.view_code);
    CHECK_MSG(!strcmp(ii.view_code_meaning, "cranio-caudal"), "meaning %s", ii.view_code_meaning);
    CHECK_MSG(!strcmp(ii.view_modifiers, ""), "modifiers %s", ii.view_modifiers);
    CHECK_MSG(!strcmp(ii.presentation_intent, "FOR PRESENTATION"), "intent %s", ii.presentation_intent);
    CHECK_MSG(!strcmp(ii.patient_age, "057Y"), "age %s", ii.patient_age);
    CHECK_MSG(!strcmp(ii.study_date, "20260101"), "date %s", ii.study_date);
    CHECK_MSG(!strcmp(ii.photometric, "MONOCHROME2"), "photometric %s", ii.photometric);
    CHECK_MSG(ii.rows == 64 && ii.columns == 48 && ii.bits_stored == 12, "geometry %u x %u, %u bits",
              ii.rows, ii.columns, ii.bits_stored);
}

static void test_truncations(const char *path, const char *tmpdir) {
    size_t nb = 0;
    unsigned char *b = (unsigned char *)check_read_file(path, &nb);
    CHECK_MSG(b != NULL, "read %s", path);
    if (!b) return;
    long n = (long)nb;
    char cut[4096];
    snprintf(cut, sizeof cut, "%s/scp_instance_test_cut.dcm", tmpdir);
    long lens[] = {n - 1, n - 2, n - 100, n - 6000, n / 2, 400, 300, 200, 140, 132, 100, 4, 0};
    int refused = 0, tried = 0;
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        if (lens[i] < 0 || lens[i] >= n) continue;
        FILE *o = fopen(cut, "wb");
        if (!o) { CHECK_MSG(0, "create %s", cut); break; }
        fwrite(b, 1, (size_t)lens[i], o);
        fclose(o);
        dcm_instance_info ii;
        char err[256] = "";
        int rc = dcm_read_instance_info(cut, &ii, err, sizeof err);
        tried++;
        CHECK_MSG(rc != 0, "a copy cut to %ld of %ld bytes was accepted", lens[i], n);
        CHECK_MSG(rc == 0 || err[0], "no message for a copy cut to %ld bytes", lens[i]);
        if (rc != 0) refused++;
    }
    printf("truncations refused: %d of %d\n", refused, tried);
    /* a value of Pixel Data that disagrees with Rows x Columns: flip Rows to 65 */
    unsigned char *p = NULL;
    for (long i = 0; i + 8 < n; i++)
        if (b[i] == 0x28 && b[i + 1] == 0 && b[i + 2] == 0x10 && b[i + 3] == 0 && b[i + 4] == 'U' && b[i + 5] == 'S') {
            p = b + i + 8;
            break;
        }
    CHECK_MSG(p != NULL, "Rows element not found");
    if (p) {
        p[0] = 65;
        FILE *o = fopen(cut, "wb");
        if (o) { fwrite(b, 1, (size_t)n, o); fclose(o); }
        dcm_instance_info ii;
        char err[256] = "";
        CHECK_MSG(dcm_read_instance_info(cut, &ii, err, sizeof err) != 0, "pixel length mismatch accepted");
        printf("rows changed: %s\n", err);
    }
    remove(cut);
    free(b);
    dcm_instance_info ii;
    char err[256] = "";
    CHECK_MSG(dcm_read_instance_info("/nonexistent/x.dcm", &ii, err, sizeof err) != 0 && err[0], "missing file");
}

/* One tag reader, one rule: a PatientID of 70 characters (LO allows 64) is refused by
 * ingest and by the pixel loader alike, each naming the tag; neither truncates it (two
 * patients whose IDs share 64 characters would merge). The file is the test file with
 * the value of (0010,0020) (explicit VR little endian, LO, 2-byte length) replaced. */
static void test_overlong(const char *path, const char *tmpdir) {
    size_t nb = 0;
    unsigned char *b = (unsigned char *)check_read_file(path, &nb);
    CHECK_MSG(b != NULL, "read %s", path);
    if (!b) return;
    long n = (long)nb;
    dcm_image img;
    char err[256] = "";
    CHECK_MSG(dcm_image_load(path, &img, err, sizeof err) == 0, "the unmodified file loads: %s", err);
    CHECK_MSG(!strcmp(img.info.patient_id, "PHANTOM01"), "pixel loader patient %s", img.info.patient_id);
    dcm_image_free(&img);
    long at = -1;
    for (long i = 132; i + 8 < n; i++)
        if (b[i] == 0x10 && b[i + 1] == 0 && b[i + 2] == 0x20 && b[i + 3] == 0 && b[i + 4] == 'L' &&
            b[i + 5] == 'O') {
            at = i;
            break;
        }
    CHECK_MSG(at >= 0, "PatientID element not found");
    if (at < 0) { free(b); return; }
    size_t old_len = (size_t)(b[at + 6] | b[at + 7] << 8);
    CHECK_MSG(at + 8 + (long)old_len <= n, "PatientID value runs past the end of the file");
    if (at + 8 + (long)old_len > n) { free(b); return; }
    char value[71];
    memset(value, 'P', 70);
    value[70] = '\0';
    char out[4096];
    snprintf(out, sizeof out, "%s/scp_instance_test_long.dcm", tmpdir);
    FILE *o = fopen(out, "wb");
    CHECK_MSG(o != NULL, "create %s", out);
    if (!o) { free(b); return; }
    unsigned char len[2] = {70, 0};
    fwrite(b, 1, (size_t)at + 6, o);
    fwrite(len, 1, 2, o);
    fwrite(value, 1, 70, o);
    fwrite(b + at + 8 + old_len, 1, (size_t)n - ((size_t)at + 8 + old_len), o);
    fclose(o);
    dcm_instance_info ii;
    err[0] = '\0';
    CHECK_MSG(dcm_read_instance_info(out, &ii, err, sizeof err) != 0 && strstr(err, "PatientID"),
              "ingest: a 70-character PatientID must be refused naming the tag (got '%s')", err);
    err[0] = '\0';
    int rc = dcm_image_load(out, &img, err, sizeof err);
    CHECK_MSG(rc != 0 && strstr(err, "PatientID") && strstr(err, out),
              "pixel loader: a 70-character PatientID must be refused naming the file and the tag "
              "(got '%s')", err);
    if (rc == 0) dcm_image_free(&img);
    printf("over-long PatientID: %s\n", err);
    remove(out);
    free(b);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: scp_instance_test FILE TMPDIR\n");
        return 2;
    }
    test_uids();
    test_read(argv[1]);
    test_truncations(argv[1], argv[2]);
    test_overlong(argv[1], argv[2]);
    return check_done("scp instance");
}
