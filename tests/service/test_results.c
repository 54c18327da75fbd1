/* test_results.c: the pieces behind the results sent to the PACS (issue 16) that a unit
 * test reaches without a network: the outbox rows in a real SQLite index (queue once,
 * due order, retry bookkeeping, sent, counts), the backoff, the [forward] settings, what
 * results_extract reads from a result JSON, and that the SR / overview writers refuse bad
 * input with a message and leave no file. The end-to-end checks (storescp, dsrdump,
 * dciodvfy) are in results_test.py. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/config.h"
#include "daemon/outbox.h"
#include "daemon/results.h"
#include "db/db.h"
#include "dicom/dcm_sc.h"
#include "dicom/dcm_sr.h"
#include "tests/check.h"

static char tmpdir[] = "/tmp/mamad-results-XXXXXX";

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static void test_outbox_rows(void) {
    char path[300], err[600];
    snprintf(path, sizeof path, "%s/index.sqlite", tmpdir);
    /* MAMA_TEST_PG_URI (pgserver.py): the same rows in a real PostgreSQL database */
    const char *pg = getenv("MAMA_TEST_PG_URI");
    if (pg && *pg) snprintf(path, sizeof path, "%s", pg);
    db *d = NULL;
    CHECK_MSG(db_open(path, &d, err, sizeof err) == DB_OK, "%s", err);
    if (!d) return;
    CHECK(db_schema_version(d) == DB_SCHEMA_VERSION);
    CHECK(db_outbox_add(d, "1.2.3", 1, "sr", "PACS@h:104", 1000) == DB_OK);
    CHECK(db_outbox_add(d, "1.2.3", 1, "sr", "PACS@h:104", 1001) == DB_OK);   /* same row: ignored */
    CHECK(db_outbox_add(d, "1.2.3", 1, "overview", "PACS@h:104", 900) == DB_OK);
    db_outbox rows[8];
    int n = 0;
    CHECK(db_outbox_due(d, 999, rows, 8, &n) == DB_OK && n == 1 && !strcmp(rows[0].kind, "overview"));
    CHECK(db_outbox_due(d, 5000, rows, 8, &n) == DB_OK && n == 2);
    CHECK(n == 2 && rows[0].next_at <= rows[1].next_at);          /* oldest due first */
    int64_t at = 0;
    int found = 0;
    CHECK(db_outbox_next_due(d, &at, &found) == DB_OK && found && at == 900);
    int64_t sr_id = !strcmp(rows[0].kind, "sr") ? rows[0].id : rows[1].id;
    int64_t ov_id = sr_id == rows[0].id ? rows[1].id : rows[0].id;
    CHECK(db_outbox_mark_retry(d, sr_id, 8000, "connection refused", 0) == DB_OK);
    CHECK(db_outbox_due(d, 5000, rows, 8, &n) == DB_OK && n == 1 && rows[0].id == ov_id);
    CHECK(db_outbox_mark_sent(d, ov_id, 5001) == DB_OK);
    CHECK(db_outbox_of_study(d, "1.2.3", rows, 8, &n) == DB_OK && n == 2);
    for (int i = 0; i < n; i++) {
        if (rows[i].id == sr_id)
            CHECK(rows[i].state == DB_OUTBOX_PENDING && rows[i].attempts == 1 && rows[i].next_at == 8000 &&
                  !strcmp(rows[i].last_error, "connection refused"));
        else
            CHECK(rows[i].state == DB_OUTBOX_SENT && rows[i].attempts == 1 && rows[i].sent_at == 5001);
    }
    CHECK(db_outbox_mark_retry(d, sr_id, 9000, "gave up", 1) == DB_OK);
    int64_t counts[DB_OUTBOX_NSTATES];
    CHECK(db_outbox_counts(d, counts) == DB_OK && counts[0] == 0 && counts[1] == 1 && counts[2] == 1);
    CHECK(db_outbox_due(d, 1000000, rows, 8, &n) == DB_OK && n == 0);   /* failed rows are not due */
    /* objects: version 0 = the latest */
    db_object o = {.version = 1, .size = 10, .created_at = 1};
    snprintf(o.study_uid, sizeof o.study_uid, "1.2.3");
    snprintf(o.kind, sizeof o.kind, "sr");
    snprintf(o.path, sizeof o.path, "/x/v1");
    CHECK(db_object_put(d, &o) == DB_OK);
    o.version = 2;
    snprintf(o.path, sizeof o.path, "/x/v2");
    CHECK(db_object_put(d, &o) == DB_OK);
    db_object got;
    CHECK(db_object_get(d, "1.2.3", 0, "sr", &got) == DB_OK && got.version == 2 && !strcmp(got.path, "/x/v2"));
    CHECK(db_object_get(d, "1.2.3", 1, "sr", &got) == DB_OK && !strcmp(got.path, "/x/v1"));
    CHECK(db_object_get(d, "1.2.3", 0, "overview", &got) == DB_NOTFOUND);
    db_close(d);
}

static void test_backoff(void) {
    CHECK(outbox_backoff_ms(1000, 1) == 1000);
    CHECK(outbox_backoff_ms(1000, 2) == 2000);
    CHECK(outbox_backoff_ms(1000, 4) == 8000);
    CHECK(outbox_backoff_ms(1000, 40) == 3600000);   /* capped at 1 h, no overflow */
}

static void test_forward_config(void) {
    mamad_config c;
    char err[600];
    config_defaults(&c);
    CHECK(config_set(&c, "forward.destinations", "PACS@10.0.0.5:104/sr  ARCH@pacs.local:11112", err, sizeof err) == 0);
    CHECK(config_finish(&c, err, sizeof err) == 0);
    CHECK(c.n_forward == 2);
    CHECK_STR(c.forward[0].ae, "PACS");
    CHECK_STR(c.forward[0].host, "10.0.0.5");
    CHECK(c.forward[0].port == 104 && c.forward[0].objects == CONFIG_FWD_SR);
    CHECK_STR(c.forward[0].name, "PACS@10.0.0.5:104");
    CHECK(c.forward[1].objects == (CONFIG_FWD_SR | CONFIG_FWD_OVERVIEW) && c.forward[1].port == 11112);
    static const char *bad[] = {"PACS@host", "@host:104", "PACS@host:0", "PACS@host:70000", "PACS@host:1x",
                                "PACS@:104", "PACS@host:104/pdf", "AETITLEMORETHAN16@h:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        config_defaults(&c);
        CHECK(config_set(&c, "forward.destinations", bad[i], err, sizeof err) == 0);
        err[0] = 0;
        CHECK_MSG(config_finish(&c, err, sizeof err) != 0 && strstr(err, "forward.destinations"), "%s", bad[i]);
    }
}

static void test_extract(void) {
    const char *json =
        "{\"breasts\":{\"L\":{\"tasks\":{\"density\":{\"prediction\":\"C\"},\"birads\":{\"prediction\":\"4\"},"
        "\"malignancy\":{\"probs\":{\"no_cancer\":0.25,\"cancer\":0.75}}}},"
        "\"R\":{\"tasks\":{\"density\":{\"prediction\":\"Z\"}}}},"
        "\"study\":{\"tasks\":{\"birads\":{\"prediction\":\"4\"}}}}";
    results_breast b[2], s;
    results_extract(json, b, &s);
    CHECK(b[0].present && b[0].density == 2 && b[0].birads == 4 && b[0].p_cancer == 0.75);
    CHECK(b[1].present && b[1].density == -1 && b[1].birads == -1 && b[1].p_cancer < 0);  /* unknown class: left out */
    CHECK(s.present && s.birads == 4 && s.density == -1);
    results_extract("not json", b, &s);
    CHECK(!b[0].present && !b[1].present && !s.present);
}

static void test_writers_refuse(void) {
    char out[300], err[600] = "";
    snprintf(out, sizeof out, "%s/sr.dcm", tmpdir);
    dcm_sr_view v = {.sop_class_uid = "1.2.840.10008.5.1.4.1.1.1.2", .sop_instance_uid = "1.2.3.4",
                     .series_uid = "1.2.3.5", .laterality = 'L', .view = "CC"};
    dcm_sr_report r = {.source_path = "/nonexistent.dcm", .uid_key = "k", .series_key = "s", .version = 1,
                       .views = &v, .n_views = 1};
    CHECK(dcm_sr_write(out, &r, NULL, err, sizeof err) != 0 && strstr(err, "/nonexistent.dcm"));
    r.n_views = 0;
    CHECK(dcm_sr_write(out, &r, NULL, err, sizeof err) != 0 && strstr(err, "no view"));
    r.n_views = 1;
    v.laterality = 'B';
    CHECK(dcm_sr_write(out, &r, NULL, err, sizeof err) != 0 && strstr(err, "L/R CC/MLO"));
    CHECK(!exists(out));
    uint8_t px[3] = {1, 2, 3};
    dcm_sc_image sc = {.source_path = "/nonexistent.dcm", .uid_key = "k", .series_key = "s", .rows = 1,
                       .cols = 1, .rgb = px};
    CHECK(dcm_sc_write(out, &sc, NULL, err, sizeof err) != 0 && strstr(err, "/nonexistent.dcm"));
    sc.rows = 0;
    CHECK(dcm_sc_write(out, &sc, NULL, err, sizeof err) != 0);
    CHECK(!exists(out));
    char a[65], b[65];
    dcm_uid_for_key("study/sr/v1/5", a);
    dcm_uid_for_key("study/sr/v1/5", b);
    CHECK(!strcmp(a, b) && !strncmp(a, "2.25.", 5) && strlen(a) <= 64);
    dcm_uid_for_key("study/sr/v2/5", b);
    CHECK(strcmp(a, b) != 0);
}

int main(void) {
    if (!mkdtemp(tmpdir)) return 1;
    test_outbox_rows();
    test_backoff();
    test_forward_config();
    test_extract();
    test_writers_refuse();
    check_remove_dir(tmpdir);
    return check_done("test_results");
}
