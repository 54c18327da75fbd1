/* routes.c: the REST endpoints, one table row each (method, path, role, handler,
 * summary). docs/openapi.yaml documents the same table. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/disk_full.h"
#include "common/utf8.h"
#include "daemon/grouper_view.h"
#include "daemon/routes.h"
#include "daemon/routes_results.h"
#include "daemon/store.h"
#include "dicom/dcm_instance_read.h"

/* "2026-11-28T18:00:00.123Z"; json null for 0. */
static json_t *iso_time(int64_t ms) {
    if (ms <= 0) return json_null();
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[64];
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return json_string(buf);
}

/* Parses a non-negative decimal integer parameter within [lo, hi]; 1 ok, 0 absent
 * (out left at its default), -1 bad (error response filled). */
static int int_param(const rest_request *req, rest_response *resp, const char *name, int64_t lo,
                     int64_t hi, int64_t *out) {
    const char *v = rest_query(req, name);
    if (!v) return 0;
    int64_t x = 0;
    int ok = *v != '\0' && strlen(v) <= 19;
    for (const char *c = v; ok && *c; c++) {
        if (*c < '0' || *c > '9') ok = 0;
        else if (x > (INT64_MAX - (*c - '0')) / 10) ok = 0;
        else x = x * 10 + (*c - '0');
    }
    if (!ok || x < lo || x > hi) {
        rest_error(resp, REST_ERR_BAD_PARAM, "%s must be an integer in %" PRId64 "..%" PRId64
                   " (got '%.*s')", name, lo, hi, (int)utf8_prefix(v, 40), v);
        return -1;
    }
    *out = x;
    return 1;
}

static int check_uid(const rest_request *req, rest_response *resp) {
    if (dcm_uid_valid(req->param)) return 1;
    rest_error(resp, REST_ERR_BAD_UID, "'%.*s' is not a valid DICOM UID (1-64 digits and dots, "
               "no empty components or leading zeros)", (int)utf8_prefix(req->param, 70), req->param);
    return 0;
}

static json_t *study_summary(const db_study *s) {
    return json_pack("{s:o,s:s,s:b,s:o,s:o,s:o,s:i,s:o,s:o,s:o,s:i,s:i,s:I}", "uid", rest_str(s->uid),
                     "state", db_state_name(s->state), "complete", s->complete, "reason",
                     rest_str(s->reason), "patient_id", rest_str(s->patient_id), "accession",
                     rest_str(s->accession),
                     "instances", s->n_instances, "first_received", iso_time(s->first_at),
                     "last_received", iso_time(s->last_at), "state_changed", iso_time(s->state_at),
                     "attempts", s->attempts, "result_version", s->result_version,
                     "id", (json_int_t)s->id);
}

static json_t *result_json(const db_result *r) {
    json_error_t jerr;
    json_t *res = json_loads(r->json, 0, &jerr);
    json_t *tim = json_loads(r->timings_json, 0, &jerr);
    return json_pack("{s:i,s:o,s:o,s:o,s:o,s:o}", "version", r->version, "model_id",
                     rest_str(r->model_id), "result", res ? res : rest_str(r->json), "timings",
                     tim ? tim : json_object(), "created", iso_time(r->created_at), "node",
                     rest_str(r->node));
}

/* ---- handlers */

static void h_health(const rest_request *req, rest_response *resp) {
    const rest_ctx *c = req->ctx;
    int64_t counts[DB_STATE_COUNT];
    int db_ok = db_study_count_by_state(c->index, counts) == DB_OK;
    int model = c->model_id && c->model_id[0] && worker_pool_active(c->workers);
    char tmp[600], storage_msg[256] = "ok";
    snprintf(tmp, sizeof tmp, "%s/tmp", c->cfg->storage_dir);
    int storage_ok = access(tmp, W_OK) == 0;
    long long free_b = disk_free_bytes(c->cfg->storage_dir);
    long long reserve = (long long)c->cfg->storage_reserve_mb << 20;
    if (!storage_ok)
        snprintf(storage_msg, sizeof storage_msg, "the storage directory is not writable");
    else if (free_b >= 0 && reserve > 0 && free_b < reserve) {
        storage_ok = 0;   /* C-STOREs get 0xA700 now: not ready */
        snprintf(storage_msg, sizeof storage_msg, "%lld MB free, below storage.reserve (%lld MB): "
                 "C-STOREs are refused with 0xA700", free_b >> 20, reserve >> 20);
    }
    json_t *o = json_pack(
        "{s:s,s:o,s:s,s:I,s:I,s:b,s:{s:b,s:b,s:o},s:I,s:s,s:I,s:o,s:s}", "status",
        db_ok && storage_ok ? "ok" : "degraded", "database",
        rest_str(db_ok ? "ok" : db_errmsg(c->index)),
        "storage", storage_msg, "storage_free_bytes", (json_int_t)free_b,
        "storage_reserve_bytes", (json_int_t)reserve,
        "ready", db_ok && storage_ok, "model", "loaded", model, "untrained",
        model && c->model_untrained && *c->model_untrained, "message",
        rest_str(model ? c->model_id
                       : "no model is loaded: complete studies wait in queued (set scoring.model)"),
        "queue_depth", (json_int_t)(db_ok ? counts[DB_STATE_QUEUED] : 0), "version", MAMA_VERSION,
        "uptime_s", (json_int_t)((grouper_now_ms() - c->started_at) / 1000), "node",
        rest_str(c->cfg->node_id), "index", db_backend_name(c->index));
    if (model && c->model_status && c->model_status[0])   /* e.g. "pretrained-backbone, heads untrained" */
        json_object_set_new(json_object_get(o, "model"), "status", json_string(c->model_status));
    rest_json(resp, db_ok && storage_ok ? 200 : 503, o);
}

static void h_studies(const rest_request *req, rest_response *resp) {
    int64_t limit = 100, since = 0;
    int state = -1;
    if (int_param(req, resp, "limit", 1, 1000, &limit) < 0) return;
    if (int_param(req, resp, "since", 0, INT64_MAX, &since) < 0) return;
    const char *st = rest_query(req, "state");
    if (st) {
        db_state s;
        if (db_state_parse(st, &s) != 0) {
            rest_error(resp, REST_ERR_BAD_PARAM, "state must be one of receiving, complete, "
                       "timed_out, queued, scoring, scored, failed (got '%.*s')", (int)utf8_prefix(st, 32), st);
            return;
        }
        state = (int)s;
    }
    db_study *rows = calloc((size_t)limit, sizeof *rows);
    int n = 0, more = 0;
    if (!rows || db_studies_list(req->ctx->index, state, since, (int)limit, rows, &n, &more) != DB_OK) {
        free(rows);
        rest_error(resp, REST_ERR_INTERNAL, NULL);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(arr, study_summary(&rows[i]));
    json_t *next = more && n ? json_integer((json_int_t)rows[n - 1].id) : json_null();
    free(rows);
    rest_json(resp, 200, json_pack("{s:o,s:o,s:b}", "studies", arr, "next", next, "done", !more));
}

static void h_study(const rest_request *req, rest_response *resp) {
    if (!check_uid(req, resp)) return;
    const rest_ctx *c = req->ctx;
    db_study s;
    db_rc rc = db_study_get(c->index, req->param, &s);
    if (rc == DB_NOTFOUND) {
        rest_error(resp, REST_ERR_STUDY_NOT_FOUND, "no study %s", req->param);
        return;
    }
    db_instance *list = NULL;
    int n = 0;
    if (rc != DB_OK || db_study_instances(c->index, req->param, &list, &n) != DB_OK) {
        rest_error(resp, REST_ERR_INTERNAL, NULL);
        return;
    }
    int idx[GROUPER_N_VIEWS];
    grouper_view_select(list, n, idx);
    json_t *o = study_summary(&s);
    json_t *views = json_object(), *missing = json_array(), *insts = json_array();
    for (int v = 0; v < GROUPER_N_VIEWS; v++) {
        if (idx[v] < 0) {
            json_object_set_new(views, grouper_view_keys[v], json_null());
            json_array_append_new(missing, json_string(grouper_view_keys[v]));
            continue;
        }
        const db_instance *in = &list[idx[v]];
        json_object_set_new(views, grouper_view_keys[v],
                            json_pack("{s:o,s:o,s:o}", "sop_uid", rest_str(in->sop_uid),
                                      "presentation_intent", rest_str(in->presentation_intent),
                                      "acquired", rest_str(in->acq_datetime)));
    }
    for (int i = 0; i < n; i++) {
        const db_instance *in = &list[i];
        json_array_append_new(
            insts, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:o,s:b}", "sop_uid",
                             rest_str(in->sop_uid), "series_uid", rest_str(in->series_uid),
                             "sop_class", rest_str(in->sop_class), "view_key",
                             rest_str(in->view_key), "laterality", rest_str(in->laterality),
                             "view", rest_str(in->view), "modifiers", rest_str(in->modifiers),
                             "presentation_intent", rest_str(in->presentation_intent),
                             "acquired", rest_str(in->acq_datetime), "size",
                             (json_int_t)in->size, "received", iso_time(in->received_at),
                             "selected", in->view_key[0] && idx[grouper_view_index(in->view_key)] == i));
    }
    free(list);
    json_object_set_new(o, "views", views);
    json_object_set_new(o, "missing_views", missing);
    json_object_set_new(o, "instance_list", insts);
    json_object_set_new(o, "stable_deadline", iso_time(s.stable_deadline));
    json_object_set_new(o, "max_deadline", iso_time(s.max_deadline));
    db_result *res = NULL;
    int nr = 0;
    if (db_results_list(c->index, s.uid, &res, &nr) == DB_OK && nr > 0)
        json_object_set_new(o, "latest_result", result_json(&res[nr - 1]));
    else
        json_object_set_new(o, "latest_result", json_null());
    db_results_free(res, nr);
    json_object_set_new(o, "outbox", routes_outbox_json(c->index, s.uid));
    rest_json(resp, 200, o);
}

static void h_results(const rest_request *req, rest_response *resp) {
    if (!check_uid(req, resp)) return;
    db_study s;
    db_rc rc = db_study_get(req->ctx->index, req->param, &s);
    if (rc == DB_NOTFOUND) {
        rest_error(resp, REST_ERR_STUDY_NOT_FOUND, "no study %s", req->param);
        return;
    }
    db_result *res = NULL;
    int nr = 0;
    if (rc != DB_OK || db_results_list(req->ctx->index, s.uid, &res, &nr) != DB_OK) {
        rest_error(resp, REST_ERR_INTERNAL, NULL);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < nr; i++) json_array_append_new(arr, result_json(&res[i]));
    db_results_free(res, nr);
    rest_json(resp, 200, json_pack("{s:o,s:o}", "study", rest_str(s.uid), "results", arr));
}

static void h_rescore(const rest_request *req, rest_response *resp) {
    if (!check_uid(req, resp)) return;
    db_rc rc = grouper_rescore(req->ctx->g, req->param, grouper_now_ms());
    if (rc == DB_NOTFOUND) rest_error(resp, REST_ERR_STUDY_NOT_FOUND, "no study %s", req->param);
    else if (rc == DB_DUPLICATE)
        rest_error(resp, REST_ERR_BUSY, "study %s is still receiving or being scored; retry later",
                   req->param);
    else if (rc != DB_OK) rest_error(resp, REST_ERR_INTERNAL, NULL);
    else rest_json(resp, 202, json_pack("{s:o,s:s}", "study", rest_str(req->param), "state", "queued"));
}

static void h_changes(const rest_request *req, rest_response *resp) {
    int64_t limit = 100, since = 0;
    if (int_param(req, resp, "limit", 1, 10000, &limit) < 0) return;
    if (int_param(req, resp, "since", 0, INT64_MAX, &since) < 0) return;
    db_change *rows = calloc((size_t)limit, sizeof *rows);
    int n = 0, done = 1;
    int64_t last = 0;
    if (!rows || db_changes_since(req->ctx->index, since, (int)limit, rows, &n, &done) != DB_OK ||
        (n == 0 && db_changes_last(req->ctx->index, &last) != DB_OK)) {
        free(rows);
        rest_error(resp, REST_ERR_INTERNAL, NULL);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:I,s:o,s:o,s:o,s:o}", "seq", (json_int_t)rows[i].seq,
                                             "type", rest_str(rows[i].type), "study",
                                             rest_str(rows[i].study_uid),
                                             "date", iso_time(rows[i].at), "node",
                                             rest_str(rows[i].node)));
    /* Orthanc's contract: last = the last seq of the page, or on an empty page the
     * current maximum. */
    if (n > 0) last = rows[n - 1].seq;
    free(rows);
    rest_json(resp, 200, json_pack("{s:o,s:b,s:I}", "changes", arr, "done", done, "last",
                                   (json_int_t)last));
}

static void h_models(const rest_request *req, rest_response *resp) {
    const rest_ctx *c = req->ctx;
    json_t *arr = json_array();
    if (c->model_id && c->model_id[0] && worker_pool_active(c->workers))
        json_array_append_new(arr, json_pack("{s:o,s:o,s:b}", "id", rest_str(c->model_id), "path",
                                             rest_str(c->cfg->scoring_model), "active", 1));
    rest_json(resp, 200, json_pack("{s:o}", "models", arr));
}

static void h_models_reload(const rest_request *req, rest_response *resp) {
    const rest_ctx *c = req->ctx;
    if (!c->reload_model || !c->cfg->scoring_model[0]) {
        rest_error(resp, REST_ERR_NO_MODEL, "no model to reload: scoring.model is not set or "
                   "this build has no scoring engine wired");
        return;
    }
    char err[512] = "";
    if (c->reload_model(c->reload_ctx, err, sizeof err) != 0) {
        rest_error(resp, REST_ERR_INTERNAL, "reloading the model failed: %s", err);
        return;
    }
    rest_json(resp, 200, json_pack("{s:s}", "status", "reloaded"));
}

/* Prometheus text exposition format 0.0.4. */
static void h_metrics(const rest_request *req, rest_response *resp) {
    const rest_ctx *c = req->ctx;
    const metrics *m = c->m;
    int64_t counts[DB_STATE_COUNT], n_inst = 0, bytes = 0, dups = 0;
    if (db_study_count_by_state(c->index, counts) != DB_OK ||
        db_instance_totals(c->index, &n_inst, &bytes) != DB_OK ||
        db_counter_get(c->index, "duplicates", &dups) != DB_OK) {
        rest_error(resp, REST_ERR_INTERNAL, NULL);
        return;
    }
    size_t cap = 8192, len = 0;
    char *b = malloc(cap);
    if (!b) {
        rest_error(resp, REST_ERR_INTERNAL, NULL);
        return;
    }
#define OUT(...) do { int w_ = snprintf(b + len, cap - len, __VA_ARGS__); \
                      if (w_ > 0 && (size_t)w_ < cap - len) len += (size_t)w_; } while (0)
#define METRIC(name, type, help) OUT("# HELP " name " " help "\n# TYPE " name " " type "\n")
    /* Counters ending _total are this node's since its start; gauges of the index
     * (instances, studies, queue) are the same on every node sharing it. */
    METRIC("mamad_node_info", "gauge", "This node: its id and index backend.");
    OUT("mamad_node_info{node=\"%s\",index=\"%s\"} 1\n", c->cfg->node_id, db_backend_name(c->index));
    METRIC("mamad_instances_received_total", "counter", "Instances stored and indexed since start.");
    OUT("mamad_instances_received_total %lld\n", (long long)atomic_load(&m->stores_ok));
    METRIC("mamad_bytes_received_total", "counter", "Bytes of instances stored since start.");
    OUT("mamad_bytes_received_total %lld\n", (long long)atomic_load(&m->bytes_stored));
    METRIC("mamad_instances_indexed", "gauge", "Instances in the index.");
    OUT("mamad_instances_indexed %lld\n", (long long)n_inst);
    METRIC("mamad_stored_bytes", "gauge", "Bytes of the indexed instances.");
    OUT("mamad_stored_bytes %lld\n", (long long)bytes);
    METRIC("mamad_storage_free_bytes", "gauge", "Free bytes on the storage file system (-1: unknown).");
    OUT("mamad_storage_free_bytes %lld\n", disk_free_bytes(c->cfg->storage_dir));
    METRIC("mamad_storage_reserve_bytes", "gauge", "storage.reserve: below it C-STOREs get 0xA700.");
    OUT("mamad_storage_reserve_bytes %lld\n", (long long)c->cfg->storage_reserve_mb << 20);
    METRIC("mamad_duplicates_total", "counter", "Duplicate SOP Instance UIDs received (kept once).");
    OUT("mamad_duplicates_total %lld\n", (long long)dups);
    METRIC("mamad_store_failures_total", "counter", "C-STORE requests answered with a failure by the daemon.");
    OUT("mamad_store_failures_total %lld\n", (long long)atomic_load(&m->stores_failed));
    METRIC("mamad_associations_total", "counter", "DICOM associations by outcome.");
    OUT("mamad_associations_total{result=\"accepted\"} %lld\n", (long long)atomic_load(&m->assoc_accepted));
    OUT("mamad_associations_total{result=\"rejected\"} %lld\n", (long long)atomic_load(&m->assoc_rejected));
    METRIC("mamad_studies", "gauge", "Studies by state.");
    for (int i = 0; i < DB_STATE_COUNT; i++)
        OUT("mamad_studies{state=\"%s\"} %lld\n", db_state_name((db_state)i), (long long)counts[i]);
    METRIC("mamad_queue_depth", "gauge", "Studies waiting to be scored.");
    OUT("mamad_queue_depth %lld\n", (long long)counts[DB_STATE_QUEUED]);
    METRIC("mamad_model_loaded", "gauge", "1 when a model is loaded and workers run.");
    OUT("mamad_model_loaded %d\n", c->model_id && c->model_id[0] && worker_pool_active(c->workers));
    METRIC("mamad_scoring_total", "counter", "Scoring attempts by outcome.");
    OUT("mamad_scoring_total{outcome=\"ok\"} %lld\n", (long long)atomic_load(&m->scoring_ok));
    OUT("mamad_scoring_total{outcome=\"failed\"} %lld\n", (long long)atomic_load(&m->scoring_failed));
    METRIC("mamad_scoring_latency_seconds", "histogram", "Time to score one study.");
    long long cum = 0;
    for (int i = 0; i < METRICS_LATENCY_BUCKETS; i++) {
        cum += atomic_load(&m->latency_bucket[i]);
        OUT("mamad_scoring_latency_seconds_bucket{le=\"%g\"} %lld\n", metrics_latency_bounds[i], cum);
    }
    cum += atomic_load(&m->latency_bucket[METRICS_LATENCY_BUCKETS]);
    OUT("mamad_scoring_latency_seconds_bucket{le=\"+Inf\"} %lld\n", cum);
    OUT("mamad_scoring_latency_seconds_sum %.3f\n", (double)atomic_load(&m->latency_sum_ms) / 1000.0);
    OUT("mamad_scoring_latency_seconds_count %lld\n", cum);
    METRIC("mamad_http_requests_total", "counter", "REST requests answered.");
    OUT("mamad_http_requests_total %lld\n", (long long)atomic_load(&m->http_requests));
    METRIC("mamad_http_errors_total", "counter", "REST responses with status >= 400.");
    OUT("mamad_http_errors_total %lld\n", (long long)atomic_load(&m->http_errors));
#undef OUT
#undef METRIC
    routes_outbox_metrics(c->index, m, b, cap, &len);
    resp->status = 200;
    resp->body = b;
    resp->content_type = "text/plain; version=0.0.4";
}

const rest_route rest_routes[] = {
    {"GET", "/api/v1/health", 0, h_health, "Liveness and readiness; no token needed."},
    {"GET", "/api/v1/studies", CONFIG_ROLE_READ, h_studies, "Studies, newest first, paged."},
    {"GET", "/api/v1/studies/{uid}", CONFIG_ROLE_READ, h_study, "One study: views, instances, state, latest result."},
    {"DELETE", "/api/v1/studies/{uid}", CONFIG_ROLE_ADMIN, h_study_delete,
     "Delete a finished study, its files and results (admin)."},
    {"GET", "/api/v1/studies/{uid}/results", CONFIG_ROLE_READ, h_results, "All result versions of a study."},
    {"POST", "/api/v1/studies/{uid}/rescore", CONFIG_ROLE_ADMIN, h_rescore, "Queue a study for scoring again."},
    {"GET", "/api/v1/changes", CONFIG_ROLE_READ, h_changes, "The change feed (since/limit/done/last)."},
    {"GET", "/api/v1/models", CONFIG_ROLE_READ, h_models, "Loaded models."},
    {"POST", "/api/v1/models/reload", CONFIG_ROLE_ADMIN, h_models_reload, "Reload the model file."},
    {"GET", "/metrics", CONFIG_ROLE_READ, h_metrics, "Prometheus metrics."},
    {"GET", "/api/v1/studies/{uid}/sr", CONFIG_ROLE_READ, h_study_sr,
     "The study's Mammography CAD SR (application/dicom); ?version=N."},
    {"GET", "/api/v1/studies/{uid}/overview", CONFIG_ROLE_READ, h_study_overview,
     "The overview image: DICOM Secondary Capture, or PNG with Accept: image/png; ?version=N."},
    {"GET", "/api/v1/studies/{uid}/thumbnail", CONFIG_ROLE_READ, h_study_thumbnail,
     "One processed view as PNG (?view=L-CC|L-MLO|R-CC|R-MLO, ?version=N)."},
    {"GET", "/", 0, h_dashboard_index, "The dashboard (static; it signs in with a read token)."},
    {"GET", "/ui/{file}", 0, h_dashboard_file, "The dashboard's script and style sheet."},
};
const int rest_n_routes = (int)(sizeof rest_routes / sizeof rest_routes[0]);
