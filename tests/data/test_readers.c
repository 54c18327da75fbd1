/* test_readers.c: the data set readers.
 *   test_readers csv            RFC 4180 corner cases and errors naming file:line
 *   test_readers tables DIR     a phantom folder (made with --layout rsna): EMBED, RSNA,
 *                               phantom truth and splits agree with one another; malformed
 *                               copies are rejected (strict) or counted (lenient)
 *   test_readers mias INFO.txt  the real mini-MIAS truth table (counts from its README) */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/data/csv.h"
#include "engine/data/embed_dataset.h"
#include "engine/data/mias.h"
#include "engine/data/phantom_truth.h"
#include "engine/data/rsna.h"
#include "engine/data/split.h"
#include "tests/check.h"

/* ------------------------------------------------------------------ csv */

static void test_csv(void) {
    const char *text = "\xEF\xBB\xBF" "a,b,c\r\n"
                       "1,\"x, y\",\"say \"\"hi\"\"\"\r\n"
                       "\n"
                       "2,\"two\nlines\",\r\n"
                       "3,,last";
    csv_reader *r;
    int nf;
    CHECK_MSG(csv_open_mem("mem.csv", text, strlen(text), &r) == MAMA_OK, "%s", mama_last_error());
    CHECK_MSG(csv_next(r, &nf) == MAMA_OK && nf == 3, "header: %d", nf);
    CHECK_MSG(strcmp(csv_field(r, 0), "a") == 0, "BOM not skipped: '%s'", csv_field(r, 0));
    CHECK_MSG(csv_next(r, &nf) == MAMA_OK && nf == 3 && csv_line(r) == 2, "row 2 nf %d line %d", nf, csv_line(r));
    CHECK_MSG(strcmp(csv_field(r, 1), "x, y") == 0, "'%s'", csv_field(r, 1));
    CHECK_MSG(strcmp(csv_field(r, 2), "say \"hi\"") == 0, "'%s'", csv_field(r, 2));
    CHECK_MSG(csv_next(r, &nf) == MAMA_OK && nf == 3 && csv_line(r) == 4, "row 3 nf %d line %d", nf, csv_line(r));
    CHECK_MSG(strcmp(csv_field(r, 1), "two\nlines") == 0 && csv_field(r, 2)[0] == 0, "'%s'", csv_field(r, 1));
    CHECK_MSG(csv_next(r, &nf) == MAMA_OK && nf == 3 && csv_line(r) == 6, "row 4 nf %d line %d", nf, csv_line(r));
    CHECK_MSG(strcmp(csv_field(r, 2), "last") == 0 && csv_field(r, 1)[0] == 0, "'%s'", csv_field(r, 2));
    CHECK_MSG(csv_next(r, &nf) == MAMA_ENOTFOUND, "expected the end");
    csv_close(r);

    struct {
        const char *text, *want;
    } bad[] = {
        {"a,b\n1,x\"y\n", "bad.csv:2: quote inside unquoted field 2"},
        {"a,b\n1,\"x\"y\n", "bad.csv:2: text after the closing quote of field 2"},
        {"a,b\n1,2\n3,\"open\nstill open\n", "bad.csv:3: quoted field opened on line 3 is never closed"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        CHECK_MSG(csv_open_mem("bad.csv", bad[k].text, strlen(bad[k].text), &r) == MAMA_OK, "open");
        mama_status rc = MAMA_OK;
        while (rc == MAMA_OK) rc = csv_next(r, &nf);
        CHECK_MSG(rc == MAMA_EFORMAT, "case %zu: rc %s", k, mama_status_name(rc));
        CHECK_MSG(strstr(mama_last_error(), bad[k].want) != NULL, "case %zu: got '%s', want '%s'", k, mama_last_error(),
                  bad[k].want);
        csv_close(r);
    }
    /* after an error the reader goes on with the next line */
    const char *skip = "a,b\n1,x\"y\n2,z\n";
    csv_open_mem("skip.csv", skip, strlen(skip), &r);
    csv_next(r, &nf);
    CHECK_MSG(csv_next(r, &nf) == MAMA_EFORMAT, "bad row");
    CHECK_MSG(csv_next(r, &nf) == MAMA_OK && strcmp(csv_field(r, 1), "z") == 0 && csv_line(r) == 3, "resume: line %d",
              csv_line(r));
    csv_close(r);
    /* header lookup */
    const char *h = "x,y\n";
    csv_open_mem("h.csv", h, strlen(h), &r);
    const char *names[] = {"y", "z"};
    int idx[2];
    CHECK_MSG(csv_header(r, names, NULL, 2, idx) == MAMA_EFORMAT && strstr(mama_last_error(), "h.csv:1: no column 'z'"),
              "%s", mama_last_error());
    csv_close(r);

    /* fuzz: random texts over the characters that matter never crash, always end, and
     * every error names the file and a line within the text */
    static const char alphabet[] = ",\"\n\r a1";
    uint64_t x = 88172645463325252ull;
    for (int iter = 0; iter < 3000; iter++) {
        char buf[64];
        int len = iter % 60;
        int newlines = 0;
        for (int i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = alphabet[x % (sizeof alphabet - 1)];
            newlines += buf[i] == '\n';
        }
        csv_reader *fz;
        if (csv_open_mem("fuzz.csv", buf, (size_t)len, &fz) != MAMA_OK) {
            CHECK_MSG(0, "open");
            continue;
        }
        int guard = 0;
        for (;;) {
            mama_status rc2 = csv_next(fz, &nf);
            if (rc2 == MAMA_ENOTFOUND) break;
            if (rc2 == MAMA_EFORMAT) {
                int line = -1;
                CHECK_MSG(sscanf(mama_last_error(), "fuzz.csv:%d:", &line) == 1 && line >= 1 && line <= newlines + 1,
                          "message '%s'", mama_last_error());
            } else {
                CHECK_MSG(rc2 == MAMA_OK && nf >= 1, "rc %s", mama_status_name(rc2));
            }
            if (++guard > 100) {
                CHECK_MSG(0, "reader does not advance on '%.*s'", len, buf);
                break;
            }
        }
        csv_close(fz);
    }
}

/* ------------------------------------------------------------------ tables */

/* Copy of src with line `line` (1-based) replaced by repl (NULL: unchanged) and extra
 * appended at the end. */
static void write_variant(const char *src, const char *dst, int line, const char *repl, const char *extra) {
    char *text = check_read_file(src, NULL);
    FILE *f = fopen(dst, "wb");
    int cur = 1;
    for (char *p = text; *p;) {
        char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);
        if (cur == line && repl) fprintf(f, "%s\n", repl);
        else fwrite(p, 1, len, f);
        p += len;
        cur++;
    }
    if (extra) fputs(extra, f);
    fclose(f);
    free(text);
}

static const phantom_image *by_path(const phantom_truth *t, const char *path) {
    for (int i = 0; i < t->nimages; i++)
        if (strcmp(t->images[i].path, path) == 0) return &t->images[i];
    return NULL;
}

static void test_tables(const char *dir) {
    char meta[4096], clin[4096], train[4096];
    snprintf(meta, sizeof meta, "%s/embed_metadata.csv", dir);
    snprintf(clin, sizeof clin, "%s/embed_clinical.csv", dir);
    snprintf(train, sizeof train, "%s/train.csv", dir);

    phantom_truth *pt;
    CHECK_MSG(phantom_truth_load(dir, TABLE_STRICT, &pt, NULL) == MAMA_OK, "%s", mama_last_error());
    if (!pt) return;
    CHECK_MSG(pt->nimages >= 40, "only %d images", pt->nimages);
    CHECK_MSG(pt->nfindings >= 5, "only %d findings", pt->nfindings);

    /* EMBED: every image gets a clinical row of its side, and its report states the
     * generated density and the breast's BI-RADS category */
    embed_dataset_table *et;
    CHECK_MSG(embed_dataset_load(meta, clin, TABLE_STRICT, &et, NULL) == MAMA_OK, "%s", mama_last_error());
    if (!et) return;
    CHECK_MSG(et->nimages == pt->nimages, "%d metadata rows, %d manifest rows", et->nimages, pt->nimages);
    static const char *dens_text[] = {"almost entirely fat", "scattered fibroglandular densities",
                                      "heterogeneously dense", "extremely dense"};
    int checked = 0, cancers = 0;
    for (int i = 0; i < et->nimages; i++) {
        const embed_dataset_image *im = &et->images[i];
        const phantom_image *p = by_path(pt, im->dicom_path);
        CHECK_MSG(p != NULL, "metadata path %s not in the manifest", im->dicom_path);
        if (!p) continue;
        CHECK_MSG(p->laterality == im->laterality && strcmp(p->view, im->view) == 0, "%s: side/view differ",
                  im->dicom_path);
        int row;
        CHECK_MSG(embed_dataset_image_row(et, i, &row) == MAMA_OK, "%s", mama_last_error());
        const report_clinical_row *cr = &et->rows[row];
        CHECK_MSG(cr->side == im->laterality, "%s: chosen row has side %c", im->dicom_path, cr->side);
        CHECK_MSG(cr->tissueden == p->density - 'A' + 1, "%s: tissueden %d, density %c", im->dicom_path, cr->tissueden,
                  p->density);
        char *text = NULL;
        CHECK_MSG(embed_dataset_image_report(et, i, NULL, &text) == MAMA_OK, "%s", mama_last_error());
        if (text) {
            char want[64];
            snprintf(want, sizeof want, "BI-RADS Category %d", p->birads);
            CHECK_MSG(strstr(text, want) != NULL, "%s: report lacks '%s': %s", im->dicom_path, want, text);
            CHECK_MSG(strstr(text, dens_text[p->density - 'A']) != NULL, "%s: report lacks '%s'", im->dicom_path,
                      dens_text[p->density - 'A']);
            checked++;
        }
        free(text);
        cancers += p->cancer;
    }
    CHECK_MSG(checked == et->nimages, "%d of %d reports checked", checked, et->nimages);

    /* RSNA: every row names an existing DICOM file whose manifest labels agree */
    rsna_table *rt;
    CHECK_MSG(rsna_load(train, TABLE_STRICT, &rt, NULL) == MAMA_OK, "%s", mama_last_error());
    if (rt) {
        int standard = 0;
        for (int i = 0; i < pt->nimages; i++) standard += !pt->images[i].for_processing && !pt->images[i].modifiers[0];
        CHECK_MSG(rt->n == standard, "train.csv has %d rows, %d standard images", rt->n, standard);
        for (int i = 0; i < rt->n; i++) {
            char path[4096], rel[64];
            CHECK_MSG(rsna_dicom_path(&rt->images[i], dir, path, sizeof path) == MAMA_OK, "%s", mama_last_error());
            struct stat sb;
            CHECK_MSG(stat(path, &sb) == 0 && sb.st_size > 1000, "%s missing", path);
            snprintf(rel, sizeof rel, "%ld/%ld.dcm", rt->images[i].patient_id, rt->images[i].image_id);
            const phantom_image *p = by_path(pt, rel);
            CHECK_MSG(p && p->cancer == rt->images[i].cancer && p->density == rt->images[i].density &&
                      p->laterality == rt->images[i].laterality,
                      "%s: labels differ from the manifest", rel);
        }
        char small[64];
        CHECK_MSG(rsna_dicom_path(&rt->images[0], dir, small, 8) == MAMA_EINVAL, "short buffer accepted");
        (void)small;
        rsna_free(rt);
    }

    /* malignant findings are cancers of their breast */
    for (int k = 0; k < pt->nfindings; k++) {
        const phantom_finding *f = &pt->findings[k];
        if (!f->malignant) continue;
        for (int i = 0; i < pt->nimages; i++)
            if (strcmp(pt->images[i].accession, f->accession) == 0 && pt->images[i].laterality == f->side)
                CHECK_MSG(pt->images[i].cancer == 1, "%s %c: malignant finding but cancer 0", f->accession, f->side);
    }

    /* splits: patient level, 70/10/20, deterministic, order-independent */
    int n = et->nimages;
    const char **ids = malloc((size_t)n * sizeof *ids), **rev = malloc((size_t)n * sizeof *rev);
    split_kind *s1 = malloc((size_t)n * sizeof *s1), *s2 = malloc((size_t)n * sizeof *s2), *s3 = malloc((size_t)n * sizeof *s3);
    for (int i = 0; i < n; i++) {
        ids[i] = et->images[i].empi_anon;
        rev[n - 1 - i] = ids[i];
    }
    CHECK_MSG(split_patients(ids, n, 7, s1) == MAMA_OK, "%s", mama_last_error());
    CHECK_MSG(split_patients(rev, n, 7, s2) == MAMA_OK, "%s", mama_last_error());
    CHECK_MSG(split_patients(ids, n, 8, s3) == MAMA_OK, "%s", mama_last_error());
    int count[3] = {0, 0, 0}, patients = 0, differ = 0;
    for (int i = 0; i < n; i++) {
        CHECK_MSG(s1[i] == s2[n - 1 - i], "order changed the split of %s", ids[i]);
        differ += s1[i] != s3[i];
        int first = 1;
        for (int j = 0; j < i; j++)
            if (strcmp(ids[j], ids[i]) == 0) {
                CHECK_MSG(s1[j] == s1[i], "patient %s in two splits", ids[i]);
                first = 0;
                break;
            }
        if (first) {
            patients++;
            count[s1[i]]++;
        }
    }
    int want_train = (int)(0.7 * patients + 0.5), want_val = (int)(0.8 * patients + 0.5) - want_train;
    CHECK_MSG(count[0] == want_train && count[1] == want_val && count[2] == patients - want_train - want_val,
              "split sizes %d/%d/%d of %d patients", count[0], count[1], count[2], patients);
    CHECK_MSG(differ > 0, "seeds 7 and 8 gave the same split");
    free(ids);
    free(rev);
    free(s1);
    free(s2);
    free(s3);

    /* malformed copies */
    char tmpdir[] = "/tmp/mama_readers_XXXXXX";
    CHECK_MSG(mkdtemp(tmpdir) != NULL, "mkdtemp");
    char bad_clin[4200], bad_meta[4200], bad_train[4200];
    snprintf(bad_clin, sizeof bad_clin, "%s/embed_clinical.csv", tmpdir);
    snprintf(bad_meta, sizeof bad_meta, "%s/embed_metadata.csv", tmpdir);
    snprintf(bad_train, sizeof bad_train, "%s/train.csv", tmpdir);
    /* line 3: tissueden 7 */
    write_variant(clin, bad_clin, 3,
                  "PH1,A1,20200101,MG Screening Bilateral,7,N,L,,,,,,,Asian,Non-Hispanic or Latino,50.0",
                  "PH2,A2,20200101,desc,2,N,L,,,,,,,\"unterminated\n");
    embed_dataset_table *bt = NULL;
    mama_status rc = embed_dataset_load(NULL, bad_clin, TABLE_STRICT, &bt, NULL);
    CHECK_MSG(rc == MAMA_EFORMAT && bt == NULL, "strict load of a bad table: %s", mama_status_name(rc));
    CHECK_MSG(strstr(mama_last_error(), "embed_clinical.csv:3: column 'tissueden': '7'") != NULL, "message: %s",
              mama_last_error());
    table_issues is;
    table_issues_init(&is);
    rc = embed_dataset_load(NULL, bad_clin, TABLE_LENIENT, &bt, &is);
    CHECK_MSG(rc == MAMA_OK && bt, "lenient: %s", mama_last_error());
    CHECK_MSG(is.count == 2, "lenient: %d issues", is.count);
    if (is.count == 2) {
        CHECK_MSG(strstr(is.msg[0], "embed_clinical.csv:3:") != NULL, "%s", is.msg[0]);
        CHECK_MSG(strstr(is.msg[1], "never closed") != NULL, "%s", is.msg[1]);
    }
    if (bt) CHECK_MSG(bt->nrows == et->nrows - 1, "lenient kept %d of %d rows", bt->nrows, et->nrows);
    embed_dataset_free(bt);
    table_issues_free(&is);
    CHECK_MSG(embed_dataset_load(NULL, bad_clin, TABLE_LENIENT, &bt, NULL) == MAMA_EINVAL, "lenient without an issue list");
    /* metadata: a row with a field too many (line 4), laterality X (line 6) */
    write_variant(meta, bad_meta, 4, "a,b,c,d,e,f,g,h,i,j,k,l,m,EXTRA", NULL);
    char tmp2[4300];
    snprintf(tmp2, sizeof tmp2, "%s.2", bad_meta);
    write_variant(bad_meta, tmp2, 6, "PH9,A9,20200101,d,s,2D,X,CC,,p.dcm,1.2,1.3,1.4", NULL);
    rename(tmp2, bad_meta);
    table_issues_init(&is);
    CHECK_MSG(embed_dataset_load(bad_meta, NULL, TABLE_LENIENT, &bt, &is) == MAMA_OK, "%s", mama_last_error());
    CHECK_MSG(is.count == 2 && strstr(is.msg[0], "embed_metadata.csv:4: 14 fields, the header has 13") &&
              strstr(is.msg[1], "embed_metadata.csv:6: column 'ImageLateralityFinal': 'X'"),
              "%d issues: %s / %s", is.count, is.count > 0 ? is.msg[0] : "", is.count > 1 ? is.msg[1] : "");
    if (bt) CHECK_MSG(bt->nimages == et->nimages - 2, "%d of %d", bt->nimages, et->nimages);
    embed_dataset_free(bt);
    table_issues_free(&is);
    /* a missing required column */
    write_variant(clin, bad_clin, 1,
                  "empi_anon,acc_anon,study_date_anon,desc,tissueden,assessment,side,massshape,massmargin,massdens,"
                  "calcfind,calcdistri,path_severity,RACE_DESC,ETHNIC_GROUP_DESC,age_at_study",
                  NULL);
    CHECK_MSG(embed_dataset_load(NULL, bad_clin, TABLE_STRICT, &bt, NULL) == MAMA_EFORMAT &&
              strstr(mama_last_error(), "embed_clinical.csv:1: no column 'asses'"),
              "%s", mama_last_error());
    /* RSNA: BIRADS 4 is not an RSNA value (line 2), cancer empty (line 5) */
    write_variant(train, bad_train, 2, "1,5,6,L,CC,50,0,0,0,4,0,B,21,False", NULL);
    snprintf(tmp2, sizeof tmp2, "%s.2", bad_train);
    write_variant(bad_train, tmp2, 5, "1,5,7,R,CC,50,,0,0,1,0,B,21,False", NULL);
    rename(tmp2, bad_train);
    rsna_table *brt = NULL;
    CHECK_MSG(rsna_load(bad_train, TABLE_STRICT, &brt, NULL) == MAMA_EFORMAT &&
              strstr(mama_last_error(), "train.csv:2: column 'BIRADS': '4'"),
              "%s", mama_last_error());
    table_issues_init(&is);
    CHECK_MSG(rsna_load(bad_train, TABLE_LENIENT, &brt, &is) == MAMA_OK && is.count == 2 &&
              strstr(is.msg[1], "train.csv:5: column 'cancer' is empty"),
              "%d issues %s", is.count, is.count > 1 ? is.msg[1] : mama_last_error());
    rsna_free(brt);
    table_issues_free(&is);
    /* the phantom truth reader too */
    char bad_man[4200], src_man[4200];
    snprintf(src_man, sizeof src_man, "%s/manifest.csv", dir);
    snprintf(bad_man, sizeof bad_man, "%s/manifest.csv", tmpdir);
    write_variant(src_man, bad_man, 3, "x.dcm,1,2,3,4,P,A,L,CC,,FOR LOOKING,1.2,256,208,12,MONOCHROME2,1,C,1,0", NULL);
    char src_find[4200], dst_find[4200];
    snprintf(src_find, sizeof src_find, "%s/phantom_findings.csv", dir);
    snprintf(dst_find, sizeof dst_find, "%s/phantom_findings.csv", tmpdir);
    write_variant(src_find, dst_find, 0, NULL, NULL);
    phantom_truth *bpt = NULL;
    CHECK_MSG(phantom_truth_load(tmpdir, TABLE_STRICT, &bpt, NULL) == MAMA_EFORMAT &&
              strstr(mama_last_error(), "manifest.csv:3: column 'intent': 'FOR LOOKING'"),
              "%s", mama_last_error());
    unlink(bad_clin);
    unlink(bad_meta);
    unlink(bad_train);
    unlink(bad_man);
    unlink(dst_find);
    rmdir(tmpdir);
    (void)cancers;
    embed_dataset_free(et);
    phantom_truth_free(pt);
}

/* ------------------------------------------------------------------ mias */

static void test_mias(const char *info) {
    mias_set *s;
    CHECK_MSG(mias_load(info, TABLE_STRICT, &s, NULL) == MAMA_OK, "%s", mama_last_error());
    if (!s) return;
    CHECK_MSG(s->n == 322, "%d films", s->n);
    int women[400] = {0}, nwomen = 0, tissue[3] = {0}, normal = 0, first_b = 0, first_m = 0, any_m = 0, only_b = 0,
        lines = 0, no_xy = 0;
    static const char *cls_names[6] = {"CALC", "CIRC", "SPIC", "MISC", "ARCH", "ASYM"};
    static const int cls_want[6] = {30, 25, 19, 15, 19, 15}; /* lines per class in Info.txt */
    int cls_lines[6] = {0};
    for (int i = 0; i < s->n; i++) {
        const mias_film *f = &s->films[i];
        CHECK_MSG(f->number == i + 1, "film %d at %d", f->number, i);
        CHECK_MSG(f->side == (f->number % 2 ? 'R' : 'L'), "%s side %c", f->ref, f->side);
        if (!women[mias_woman(f)]++) nwomen++;
        tissue[f->tissue == 'F' ? 0 : f->tissue == 'G' ? 1 : 2]++;
        char sev = mias_severity(f);
        normal += sev == 'N';
        any_m += sev == 'M';
        only_b += sev == 'B';
        if (f->nabn) {
            first_b += f->abn[0].severity == 'B';
            first_m += f->abn[0].severity == 'M';
        }
        lines += f->nabn ? f->nabn : 1;
        for (int k = 0; k < f->nabn; k++) {
            no_xy += !f->abn[k].has_xy;
            for (int c = 0; c < 6; c++) cls_lines[c] += strcmp(f->abn[k].cls, cls_names[c]) == 0;
        }
    }
    CHECK_MSG(nwomen == 161, "%d women", nwomen);
    for (int w = 1; w <= 161; w++) CHECK_MSG(women[w] == 2, "woman %d has %d films", w, women[w]);
    CHECK_MSG(tissue[0] == 106 && tissue[1] == 104 && tissue[2] == 112, "F %d G %d D %d", tissue[0], tissue[1], tissue[2]);
    CHECK_MSG(normal == 207 && first_b == 64 && first_m == 51, "README counts: normal %d benign %d malignant %d", normal,
              first_b, first_m);
    CHECK_MSG(any_m == 52 && only_b == 63, "any malignant %d, benign only %d (mdb144 has both)", any_m, only_b);
    CHECK_MSG(lines == 330, "%d data lines", lines);
    for (int c = 0; c < 6; c++)
        CHECK_MSG(cls_lines[c] == cls_want[c], "%s: %d lines, expected %d", cls_names[c], cls_lines[c], cls_want[c]);
    const mias_film *f1 = &s->films[0], *f5 = &s->films[4], *f216 = &s->films[215];
    CHECK_MSG(strcmp(f1->ref, "mdb001") == 0 && f1->tissue == 'G' && f1->nabn == 1 && strcmp(f1->abn[0].cls, "CIRC") == 0 &&
              f1->abn[0].x == 535 && f1->abn[0].y == 425 && f1->abn[0].radius == 197,
              "mdb001 parsed wrong");
    double col, row;
    mias_abn_pixel(&f1->abn[0], &col, &row);
    CHECK_MSG(col == 535 && row == 1023 - 425, "mdb001 centre at %g,%g", col, row);
    CHECK_MSG(mias_woman(&s->films[0]) == 1 && mias_woman(&s->films[1]) == 1 && mias_woman(&s->films[2]) == 2, "woman");
    CHECK_MSG(f5->nabn == 2, "mdb005 has %d abnormalities", f5->nabn);
    CHECK_MSG(f216->nabn == 1 && !f216->abn[0].has_xy && f216->abn[0].severity == 'M', "mdb216 (*NOTE 3*)");
    CHECK_MSG(no_xy >= 4, "%d abnormalities without a centre", no_xy);
    mias_free(s);

    /* malformed: bad tissue on line 2, unknown class on line 3 */
    char path[] = "/tmp/mama_mias_XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs("header prose\nmdb001 X CIRC B 1 2 3\nmdb002 G BLOB B 1 2 3\nmdb003 F NORM\n", f);
    fclose(f);
    CHECK_MSG(mias_load(path, TABLE_STRICT, &s, NULL) == MAMA_EFORMAT && strstr(mama_last_error(), ":2: mdb001: background"),
              "%s", mama_last_error());
    table_issues is;
    table_issues_init(&is);
    CHECK_MSG(mias_load(path, TABLE_LENIENT, &s, &is) == MAMA_OK && s->n == 1 && is.count == 2 &&
              strstr(is.msg[1], ":3: mdb002: class 'BLOB'"),
              "%d issues", is.count);
    mias_free(s);
    table_issues_free(&is);

    /* fuzz: random data lines never crash; every line is either a film or an issue */
    static const char *tokens[] = {"mdb001", "mdb002", "mdb999", "mdb1000", "mdbx", "F", "G", "D", "X", "CALC", "NORM",
                                   "SPIC", "B", "M", "*NOTE", "3*", "12", "-5", "1024", "99999999999", "", "\t"};
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int iter = 0; iter < 300; iter++) {
        f = fopen(path, "w");
        int nlines = 1 + iter % 5;
        for (int l = 0; l < nlines; l++) {
            int ntok = 1 + (int)(x % 9);
            fputs("mdb", f);
            for (int k = 0; k < ntok; k++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                fprintf(f, "%s%s", k ? " " : "", tokens[x % (sizeof tokens / sizeof tokens[0])]);
            }
            fputc('\n', f);
        }
        fclose(f);
        table_issues_init(&is);
        mama_status rc = mias_load(path, TABLE_LENIENT, &s, &is);
        CHECK_MSG(rc == MAMA_OK || rc == MAMA_EFORMAT, "rc %s", mama_status_name(rc));
        if (rc == MAMA_OK) {
            int abn = 0;
            for (int i = 0; i < s->n; i++) abn += s->films[i].nabn ? s->films[i].nabn : 1;
            CHECK_MSG(abn + is.count == nlines, "%d film lines + %d issues != %d lines", abn, is.count, nlines);
            mias_free(s);
        }
        table_issues_free(&is);
    }
    unlink(path);
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "csv") == 0) {
        test_csv();
    } else if (argc == 3 && strcmp(argv[1], "tables") == 0) {
        test_tables(argv[2]);
    } else if (argc == 3 && strcmp(argv[1], "mias") == 0) {
        if (access(argv[2], R_OK) != 0) {
            printf("SKIP: %s not readable (MAMA_SHARED_DIR?)\n", argv[2]);
            return 77;
        }
        test_mias(argv[2]);
    } else {
        fprintf(stderr, "usage: test_readers csv | tables DIR | mias INFO.txt\n");
        return 2;
    }
    if (check_failures) fprintf(stderr, "%d check_failures\n", check_failures);
    else printf("ok\n");
    return check_failures ? 1 : 0;
}
