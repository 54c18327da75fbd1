/* results.c: see results.h. */
#include "daemon/results.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/log.h"
#include "daemon/overview.h"
#include "dicom/dcm_sc.h"
#include "dicom/dcm_sr.h"

static const char density_letters[] = "ABCD";

static void extract_one(json_t *tasks, results_breast *b) {
    b->present = tasks != NULL;
    b->density = b->birads = -1;
    b->p_cancer = -1;
    if (!tasks) return;
    const char *d = json_string_value(json_object_get(json_object_get(tasks, "density"), "prediction"));
    if (d && d[0] && !d[1] && strchr(density_letters, d[0])) b->density = (int)(strchr(density_letters, d[0]) - density_letters);
    const char *br = json_string_value(json_object_get(json_object_get(tasks, "birads"), "prediction"));
    if (br && br[0] >= '0' && br[0] <= '6' && !br[1]) b->birads = br[0] - '0';
    json_t *p = json_object_get(json_object_get(json_object_get(tasks, "malignancy"), "probs"), "cancer");
    if (json_is_number(p)) b->p_cancer = json_number_value(p);
}

void results_extract(const char *json, results_breast out[2], results_breast *out_study) {
    json_t *root = json ? json_loads(json, 0, NULL) : NULL;
    json_t *breasts = json_object_get(root, "breasts");
    extract_one(json_object_get(json_object_get(breasts, "L"), "tasks"), &out[0]);
    extract_one(json_object_get(json_object_get(breasts, "R"), "tasks"), &out[1]);
    if (out_study) extract_one(json_object_get(json_object_get(root, "study"), "tasks"), out_study);
    json_decref(root);
}

static int mkdir_p(const char *path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0750) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0750) != 0 && errno != EEXIST ? -1 : 0;
}

static void dt_of(int64_t ms, char out[16]) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

static int64_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

static int write_file(const char *path, const unsigned char *data, size_t len) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, len, f) == len;
    ok = (fflush(f) == 0) && ok;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return -1;
    }
    return 0;
}

typedef struct pub {
    const results_ctx *rc;
    const worker_job *job;
    int version;
    int64_t now;
    char dir[700];
    char dt[16];
    db_object objs[8];
    int n_objs;
    char err[1024];
} pub;

static void add_obj(pub *p, const char *kind, const char *sop_uid, const char *sop_class, const char *path) {
    db_object *o = &p->objs[p->n_objs++];
    memset(o, 0, sizeof *o);
    snprintf(o->study_uid, sizeof o->study_uid, "%s", p->job->study_uid);
    o->version = p->version;
    snprintf(o->kind, sizeof o->kind, "%s", kind);
    snprintf(o->sop_uid, sizeof o->sop_uid, "%s", sop_uid ? sop_uid : "");
    snprintf(o->sop_class, sizeof o->sop_class, "%s", sop_class ? sop_class : "");
    snprintf(o->path, sizeof o->path, "%s", path);
    o->size = file_size(path);
    o->created_at = p->now;
}

/* Keys of the deterministic UIDs (dicom/dcm_derived.h): study, kind, version, time. */
static void key_of(const pub *p, const char *kind, int version, int64_t at, char *out, size_t n) {
    snprintf(out, n, "mamad/%s/%s/v%d/%lld", p->job->study_uid, kind, version, (long long)at);
}

static int write_sr(pub *p, const results_breast br[2]) {
    db_instance *list = NULL;
    int n = 0;
    if (db_study_instances(p->rc->index, p->job->study_uid, &list, &n) != DB_OK) {
        snprintf(p->err, sizeof p->err, "index: %s", db_errmsg(p->rc->index));
        return -1;
    }
    dcm_sr_view views[4];
    int nv = 0;
    for (int i = 0; i < p->job->n_views; i++) {
        const worker_view *w = &p->job->views[i];
        for (int k = 0; k < n; k++) {
            if (strcmp(list[k].sop_uid, w->sop_uid) != 0) continue;
            views[nv++] = (dcm_sr_view){.sop_class_uid = list[k].sop_class, .sop_instance_uid = list[k].sop_uid,
                                        .series_uid = list[k].series_uid, .laterality = w->key[0],
                                        .view = w->key + 2};
        }
    }
    dcm_sr_breast b[2];
    int nb = 0;
    for (int i = 0; i < 2; i++)
        if (br[i].present)
            b[nb++] = (dcm_sr_breast){.laterality = i == 0 ? 'L' : 'R', .density = br[i].density,
                                      .birads = br[i].birads, .p_cancer = br[i].p_cancer};
    char key[300], series[200], prev[300] = "", path[800], uid[65];
    key_of(p, "sr", p->version, p->now, key, sizeof key);
    snprintf(series, sizeof series, "mamad/%s/sr-series", p->job->study_uid);
    if (p->version > 1) {
        db_object po;
        if (db_object_get(p->rc->index, p->job->study_uid, p->version - 1, "sr", &po) == DB_OK)
            key_of(p, "sr", po.version, po.created_at, prev, sizeof prev);
    }
    snprintf(path, sizeof path, "%s/sr.dcm", p->dir);
    dcm_sr_report r = {.source_path = p->job->views[0].path, .uid_key = key, .series_key = series,
                       .version = p->version, .views = views, .n_views = nv, .breasts = b, .n_breasts = nb,
                       .model_id = p->rc->model_id, .software_version = MAMA_VERSION,
                       .untrained = p->rc->model_untrained ? *p->rc->model_untrained : 1,
                       .predecessor_key = prev[0] ? prev : NULL, .content_datetime = p->dt};
    int rc = dcm_sr_write(path, &r, uid, p->err, sizeof p->err);
    free(list);
    if (rc == 0) add_obj(p, "sr", uid, DCM_SOP_MAMMO_CAD_SR, path);
    return rc;
}

static void fmt_score(char *out, size_t n, const char *name, const results_breast *b) {
    char m[24] = "-", d[4] = "-", r[12] = "-";
    if (b->p_cancer >= 0) snprintf(m, sizeof m, "%.3f", b->p_cancer);
    if (b->density >= 0) snprintf(d, sizeof d, "%c", density_letters[b->density]);
    if (b->birads >= 0) snprintf(r, sizeof r, "%d", b->birads);
    snprintf(out, n, "%s malignancy %s  density %s  BI-RADS %s", name, m, d, r);
}

static int write_overview(pub *p, const worker_thumbs *th, const results_breast br[2], const results_breast *study) {
    int untrained = p->rc->model_untrained ? *p->rc->model_untrained : 1;
    overview_view views[4];
    memset(views, 0, sizeof views);
    for (int i = 0; i < th->n && i < 4; i++) {
        snprintf(views[i].key, sizeof views[i].key, "%s", th->key[i]);
        views[i].side = th->side;
        views[i].gray = th->gray[i];
        fmt_score(views[i].label, sizeof views[i].label, th->key[i][0] == 'L' ? "L" : "R",
                  &br[th->key[i][0] == 'L' ? 0 : 1]);
    }
    char l0[200], l1[200], l2[200];
    snprintf(l0, sizeof l0, "MaMA result v%d  %s", p->version, p->job->study_uid);
    fmt_score(l1, sizeof l1, "study:", study);
    snprintf(l2, sizeof l2, "model %s (%s)   mamad %s", p->rc->model_id ? p->rc->model_id : "?",
             untrained ? "untrained demo model" : "trained", MAMA_VERSION);
    overview_page page = {.views = views, .n_views = th->n,
                          .lines = {l0, l1, l2, NULL},
                          .footer = untrained ? "NOT FOR DIAGNOSIS - untrained demo model"
                                              : "NOT FOR DIAGNOSIS - decision support only"};
    uint8_t *rgb = NULL;
    int rows = 0, cols = 0;
    if (overview_render(&page, &rgb, &rows, &cols, p->err, sizeof p->err) != 0) return -1;
    char key[300], series[200], path[800], uid[65], desc[300];
    key_of(p, "overview", p->version, p->now, key, sizeof key);
    snprintf(series, sizeof series, "mamad/%s/overview-series", p->job->study_uid);
    snprintf(path, sizeof path, "%s/overview.dcm", p->dir);
    snprintf(desc, sizeof desc, "MaMA overview v%d, model %s%s; NOT FOR DIAGNOSIS", p->version,
             p->rc->model_id ? p->rc->model_id : "?", untrained ? " (untrained demo)" : "");
    dcm_sc_image sc = {.source_path = p->job->views[0].path, .uid_key = key, .series_key = series,
                       .instance_number = p->version, .description = desc, .content_datetime = p->dt,
                       .rows = rows, .cols = cols, .rgb = rgb};
    int rc = dcm_sc_write(path, &sc, uid, p->err, sizeof p->err);
    if (rc == 0) add_obj(p, "overview", uid, DCM_SOP_SECONDARY_CAPTURE, path);
    unsigned char *png = NULL;
    size_t len = 0;
    if (rc == 0 && overview_png(rgb, rows, cols, 3, &png, &len) == 0) {
        snprintf(path, sizeof path, "%s/overview.png", p->dir);
        if (write_file(path, png, len) == 0) add_obj(p, "overview.png", NULL, NULL, path);
    }
    free(png);
    free(rgb);
    return rc;
}

static void write_thumbs(pub *p, const worker_thumbs *th) {
    for (int i = 0; i < th->n && p->n_objs < 8; i++) {
        unsigned char *png = NULL;
        size_t len = 0;
        char path[800], kind[24];
        if (overview_png(th->gray[i], th->side, th->side, 1, &png, &len) != 0) continue;
        snprintf(path, sizeof path, "%s/%s.png", p->dir, th->key[i]);
        snprintf(kind, sizeof kind, "thumb:%s", th->key[i]);
        if (write_file(path, png, len) == 0) add_obj(p, kind, NULL, NULL, path);
        free(png);
    }
}

/* One transaction: the objects and their outbox rows. */
static db_rc record(pub *p) {
    db *d = p->rc->index;
    db_rc r = db_tx_begin(d);
    if (r != DB_OK) return r;
    for (int i = 0; r == DB_OK && i < p->n_objs; i++) r = db_object_put(d, &p->objs[i]);
    for (int f = 0; r == DB_OK && f < p->rc->cfg->n_forward; f++) {
        const config_forward *fw = &p->rc->cfg->forward[f];
        for (int i = 0; r == DB_OK && i < p->n_objs; i++) {
            const char *k = p->objs[i].kind;
            if ((!strcmp(k, "sr") && (fw->objects & CONFIG_FWD_SR)) ||
                (!strcmp(k, "overview") && (fw->objects & CONFIG_FWD_OVERVIEW)))
                r = db_outbox_add(d, p->job->study_uid, p->version, k, fw->name, p->now);
        }
    }
    if (r == DB_OK) r = db_change_add(d, "ResultObjects", p->job->study_uid, p->now);
    if (r == DB_OK) return db_tx_commit(d);
    db_tx_rollback(d);
    return r;
}

void results_publish(void *ctx, const worker_job *job, int version, const char *json,
                     const worker_thumbs *thumbs, int64_t now) {
    const results_ctx *rc = ctx;
    if (!rc || !job || job->n_views == 0 || version <= 0) return;
    pub *p = calloc(1, sizeof *p);
    if (!p) return;
    *p = (pub){.rc = rc, .job = job, .version = version, .now = now};
    dt_of(now, p->dt);
    snprintf(p->dir, sizeof p->dir, "%s/results/%s/v%d", rc->cfg->storage_dir, job->study_uid, version);
    results_breast br[2], study;
    results_extract(json, br, &study);
    if (mkdir_p(p->dir) != 0) {
        log_error(LOG_CAT_MAIN, "results of %s v%d: cannot create %s: %s", job->study_uid, version, p->dir,
                  strerror(errno));
        free(p);
        return;
    }
    if (write_sr(p, br) != 0)
        log_error(LOG_CAT_DICOM, "results of %s v%d: SR: %s", job->study_uid, version, p->err);
    if (thumbs && thumbs->n > 0) {
        if (write_overview(p, thumbs, br, &study) != 0)
            log_error(LOG_CAT_DICOM, "results of %s v%d: overview: %s", job->study_uid, version, p->err);
        write_thumbs(p, thumbs);
    }
    /* Test hook (tests/service/results_test.py crash_publish): MAMAD_TEST_CRASH_AT=
     * publish_before_record kills the daemon here, between the committed result and its
     * objects; the study is still `scoring`, so the restart re-queues it and the next
     * version gets its objects. It can only end this process. */
    const char *hook = getenv("MAMAD_TEST_CRASH_AT");
    if (hook && strcmp(hook, "publish_before_record") == 0) raise(SIGKILL);
    db_rc r = record(p);
    if (r != DB_OK)
        log_error(LOG_CAT_DB, "results of %s v%d: recording the objects: %s", job->study_uid, version,
                  db_errmsg(rc->index));
    else
        log_info(LOG_CAT_MAIN, "results of %s v%d: %d object(s) written, %d destination(s)", job->study_uid,
                 version, p->n_objs, rc->cfg->n_forward);
    if (r == DB_OK && rc->wake_outbox && rc->cfg->n_forward > 0) rc->wake_outbox(rc->wake_ctx);
    free(p);
}
