/* routes_results.c: see routes_results.h. */
#include "daemon/routes_results.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/utf8.h"
#include "daemon/retention.h"
#include "dicom/dcm_instance_read.h"

#define MAX_FILE_BYTES (512L << 20)

/* Reads a whole file into a malloc'ed buffer. */
static char *slurp(const char *path, size_t *out_len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= MAX_FILE_BYTES) {
        buf = malloc((size_t)st.st_size + 1);
        if (buf && fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
            free(buf);
            buf = NULL;
        }
        if (buf) *out_len = (size_t)st.st_size;
    }
    fclose(f);
    return buf;
}

static void send_file(rest_response *resp, const char *path, const char *type) {
    size_t len = 0;
    char *body = slurp(path, &len);
    if (!body) {
        rest_error(resp, REST_ERR_INTERNAL, "the stored file of this object cannot be read");
        return;
    }
    resp->status = 200;
    resp->body = body;
    resp->body_len = len;
    resp->content_type = type;
}

/* The object of kind of the study (?version=N, default the latest). 1, or 0 with the
 * error response filled. */
static int find_object(const rest_request *req, rest_response *resp, const char *kind, db_object *o) {
    if (!dcm_uid_valid(req->param)) {
        rest_error(resp, REST_ERR_BAD_UID, "'%.*s' is not a valid DICOM UID", (int)utf8_prefix(req->param, 70), req->param);
        return 0;
    }
    int version = 0;
    const char *v = rest_query(req, "version");
    if (v) {
        char *end = NULL;
        long x = strtol(v, &end, 10);
        if (!*v || *end || x < 1 || x > 1000000) {
            rest_error(resp, REST_ERR_BAD_PARAM, "version must be an integer >= 1 (got '%.*s')", (int)utf8_prefix(v, 20), v);
            return 0;
        }
        version = (int)x;
    }
    db_study s;
    db_rc rc = db_study_get(req->ctx->index, req->param, &s);
    if (rc == DB_NOTFOUND) {
        rest_error(resp, REST_ERR_STUDY_NOT_FOUND, "no study %s", req->param);
        return 0;
    }
    if (rc == DB_OK) rc = db_object_get(req->ctx->index, req->param, version, kind, o);
    if (rc == DB_NOTFOUND) {
        rest_error(resp, REST_ERR_NOT_FOUND, "study %s has no %s%s yet (it is made when the study is scored)",
                   req->param, kind, version ? " of that version" : "");
        return 0;
    }
    if (rc != DB_OK) {
        rest_error(resp, REST_ERR_INTERNAL, NULL);
        return 0;
    }
    return 1;
}

static int accepts_png(const rest_request *req) {
    const char *a = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Accept");
    return a && strstr(a, "image/png") != NULL;
}

void h_study_sr(const rest_request *req, rest_response *resp) {
    db_object o;
    if (find_object(req, resp, "sr", &o)) send_file(resp, o.path, "application/dicom");
}

void h_study_overview(const rest_request *req, rest_response *resp) {
    db_object o;
    const int png = accepts_png(req);
    if (find_object(req, resp, png ? "overview.png" : "overview", &o))
        send_file(resp, o.path, png ? "image/png" : "application/dicom");
}

void h_study_thumbnail(const rest_request *req, rest_response *resp) {
    const char *view = rest_query(req, "view");
    static const char *const keys[] = {"L-CC", "L-MLO", "R-CC", "R-MLO"};
    int ok = 0;
    for (int i = 0; view && i < 4; i++) ok |= strcmp(view, keys[i]) == 0;
    if (!ok) {
        rest_error(resp, REST_ERR_BAD_PARAM, "view must be one of L-CC, L-MLO, R-CC, R-MLO");
        return;
    }
    char kind[24];
    snprintf(kind, sizeof kind, "thumb:%s", view);
    db_object o;
    if (find_object(req, resp, kind, &o)) send_file(resp, o.path, "image/png");
}

void h_study_delete(const rest_request *req, rest_response *resp) {
    if (!dcm_uid_valid(req->param)) {
        rest_error(resp, REST_ERR_BAD_UID, "'%.*s' is not a valid DICOM UID", (int)utf8_prefix(req->param, 70), req->param);
        return;
    }
    char err[600] = "";
    db_delete_rc refused = DB_DELETE_OK;
    db_rc rc = retention_delete(req->ctx->writer, req->ctx->cfg, req->param, "DELETE by an admin", 1, &refused,
                                err, sizeof err);
    if (rc == DB_NOTFOUND) rest_error(resp, REST_ERR_STUDY_NOT_FOUND, "no study %s", req->param);
    else if (rc == DB_OK && refused)
        rest_error(resp, REST_ERR_BUSY, "study %s is still receiving, queued or being scored; retry when it is "
                   "scored or failed", req->param);
    else if (rc != DB_OK) rest_error(resp, REST_ERR_INTERNAL, "deleting the study failed: %s", err);
    else rest_json(resp, 200, json_pack("{s:o,s:b}", "study", rest_str(req->param), "deleted", 1));
}

/* ---- the dashboard: static files of rest.web_dir, a fixed list (no path from the URL
 * reaches the file system). */
static const struct {
    const char *name, *type;
} web_files[] = {
    {"index.html", "text/html; charset=utf-8"},
    {"app.js", "text/javascript; charset=utf-8"},
    {"style.css", "text/css; charset=utf-8"},
};

static void web_file(const rest_request *req, rest_response *resp, const char *name) {
    for (size_t i = 0; i < sizeof web_files / sizeof web_files[0]; i++) {
        if (strcmp(name, web_files[i].name) != 0) continue;
        char path[700];
        const char *dir = req->ctx->cfg->rest_web_dir[0] ? req->ctx->cfg->rest_web_dir : MAMA_WEB_DIR;
        snprintf(path, sizeof path, "%s/%s", dir, name);
        size_t len = 0;
        char *body = slurp(path, &len);
        if (!body) {
            rest_error(resp, REST_ERR_NOT_FOUND, "the dashboard is not installed (no %s)", path);
            return;
        }
        resp->status = 200;
        resp->body = body;
        resp->body_len = len;
        resp->content_type = web_files[i].type;
        return;
    }
    rest_error(resp, REST_ERR_NOT_FOUND, "no dashboard file %.*s", (int)utf8_prefix(name, 60), name);
}

void h_dashboard_index(const rest_request *req, rest_response *resp) { web_file(req, resp, "index.html"); }
void h_dashboard_file(const rest_request *req, rest_response *resp) { web_file(req, resp, req->param); }

json_t *routes_outbox_json(db *index, const char *study_uid) {
    json_t *arr = json_array();
    db_outbox rows[64];
    int n = 0;
    if (db_outbox_of_study(index, study_uid, rows, 64, &n) != DB_OK) return arr;
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:i,s:o,s:o,s:s,s:i,s:o,s:I,s:I}", "version", rows[i].version,
                                             "object", rest_str(rows[i].kind), "destination",
                                             rest_str(rows[i].destination),
                                             "state", db_outbox_state_name(rows[i].state), "attempts",
                                             rows[i].attempts, "last_error", rest_str(rows[i].last_error),
                                             "next_try_ms", (json_int_t)rows[i].next_at, "sent_ms",
                                             (json_int_t)rows[i].sent_at));
    return arr;
}

void routes_outbox_metrics(db *index, const metrics *m, char *b, size_t cap, size_t *len) {
    int64_t counts[DB_OUTBOX_NSTATES] = {0};
    db_outbox_counts(index, counts);
#define OUT(...) do { int w_ = snprintf(b + *len, cap - *len, __VA_ARGS__); \
                      if (w_ > 0 && (size_t)w_ < cap - *len) *len += (size_t)w_; } while (0)
    OUT("# HELP mamad_outbox Objects for the [forward] destinations by state.\n# TYPE mamad_outbox gauge\n");
    for (int i = 0; i < DB_OUTBOX_NSTATES; i++)
        OUT("mamad_outbox{state=\"%s\"} %lld\n", db_outbox_state_name(i), (long long)counts[i]);
    OUT("# HELP mamad_outbox_sends_total Send attempts by outcome since start.\n"
        "# TYPE mamad_outbox_sends_total counter\n");
    OUT("mamad_outbox_sends_total{outcome=\"ok\"} %lld\n", (long long)atomic_load(&m->outbox_sent));
    OUT("mamad_outbox_sends_total{outcome=\"failed\"} %lld\n", (long long)atomic_load(&m->outbox_errors));
#undef OUT
}
