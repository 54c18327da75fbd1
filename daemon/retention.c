/* retention.c: see retention.h. */
#define _GNU_SOURCE
#include "daemon/retention.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/grouper.h"
#include "daemon/store.h"
#include "daemon/ticker.h"

#define RETENTION_BATCH 32

struct retention {
    db *index;
    const mamad_config *cfg;
    ticker *thread;      /* NULL when neither storage.retention nor storage.max_size is set */
};

/* Test hook: MAMAD_TEST_CRASH_AT=delete_after_files makes the daemon kill itself (SIGKILL,
 * as kill -9 would) between removing a study's files and removing its rows, so that the
 * tests can crash it at that exact point. It can only end this process. */
static int crash_after_files(void) {
    const char *v = getenv("MAMAD_TEST_CRASH_AT");
    return v && strcmp(v, "delete_after_files") == 0;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    if (type == FTW_DP) rmdir(path);
    else unlink(path);
    return 0;
}

/* Removes the files of a study; a file that is already gone is fine (a resumed deletion). */
static int remove_files(db *index, const mamad_config *cfg, const char *uid, char *err, size_t errlen) {
    char **paths = NULL;
    int n = 0;
    if (db_study_files(index, uid, &paths, &n) != DB_OK) {
        snprintf(err, errlen, "listing the files of %s: %s", uid, db_errmsg(index));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (unlink(paths[i]) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "removing %s: %s", paths[i], strerror(errno));
            rc = -1;
        }
    }
    db_paths_free(paths, n);
    char dir[1200];
    /* the study's results directory (thumbnails, temporary leftovers) and its instance
     * directory, when empty */
    snprintf(dir, sizeof dir, "%s/results/%s", cfg->storage_dir, uid);
    if (nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "removing %s: %s", dir, strerror(errno));
        rc = -1;
    }
    char one[1200];
    if (store_final_path(cfg->storage_dir, uid, "1", one, sizeof one) == 0) {
        char *slash = strrchr(one, '/');
        if (slash) *slash = '\0';
        rmdir(one);  /* ENOTEMPTY when a new instance of the study arrived: it stays */
    }
    return rc;
}

db_rc retention_delete(db *index, const mamad_config *cfg, const char *study_uid, const char *reason,
                       int force, db_delete_rc *out_refused, char *err, size_t errlen) {
    db_rc r = db_deletion_begin(index, study_uid, reason, force, grouper_now_ms(), out_refused);
    if (r != DB_OK || *out_refused) {
        if (r != DB_OK && r != DB_NOTFOUND) snprintf(err, errlen, "%s", db_errmsg(index));
        return r;
    }
    if (remove_files(index, cfg, study_uid, err, errlen) != 0) {
        /* The intent stays: the rows keep pointing at what is left, and the next start
         * (or the next retention pass) tries again. */
        log_error(LOG_CAT_MAIN, "deleting study %s: %s (will be retried)", study_uid, err);
        return DB_ERROR;
    }
    if (crash_after_files()) raise(SIGKILL);
    r = db_deletion_finish(index, study_uid, grouper_now_ms());
    if (r != DB_OK) {
        snprintf(err, errlen, "%s", db_errmsg(index));
        return r;
    }
    log_info(LOG_CAT_MAIN, "study %s deleted (%s)", study_uid, reason);
    return DB_OK;
}

db_rc retention_resume(db *index, const mamad_config *cfg) {
    char uids[RETENTION_BATCH][65];
    int n = 0;
    db_rc r = db_deletions_pending(index, uids, RETENTION_BATCH, &n);
    for (int i = 0; r == DB_OK && i < n; i++) {
        char err[600] = "";
        if (remove_files(index, cfg, uids[i], err, sizeof err) != 0) {
            log_error(LOG_CAT_MAIN, "finishing the deletion of %s: %s", uids[i], err);
            continue;
        }
        r = db_deletion_finish(index, uids[i], grouper_now_ms());
        if (r == DB_OK) log_info(LOG_CAT_MAIN, "finished the interrupted deletion of study %s", uids[i]);
    }
    return r;
}

/* One pass: age first, then size. */
static void apply(retention *rt) {
    char uids[RETENTION_BATCH][65];
    int n = 0;
    char err[600];
    db_delete_rc refused;
    if (rt->cfg->storage_retention_ms > 0 &&
        db_retention_candidates(rt->index, grouper_now_ms() - rt->cfg->storage_retention_ms, uids,
                                RETENTION_BATCH, &n) == DB_OK)
        for (int i = 0; i < n; i++)
            retention_delete(rt->index, rt->cfg, uids[i], "storage.retention", 0, &refused, err, sizeof err);
    if (rt->cfg->storage_max_size <= 0) return;
    for (;;) {
        int64_t bytes = 0;
        if (db_storage_bytes(rt->index, &bytes) != DB_OK || bytes <= rt->cfg->storage_max_size) return;
        if (db_retention_candidates(rt->index, -1, uids, 1, &n) != DB_OK || n == 0) {
            log_warn(LOG_CAT_MAIN, "storage holds %lld bytes, above storage.max_size %lld, and no finished, "
                     "delivered study is left to remove", (long long)bytes, (long long)rt->cfg->storage_max_size);
            return;
        }
        if (retention_delete(rt->index, rt->cfg, uids[0], "storage.max_size", 0, &refused, err, sizeof err) !=
                DB_OK || refused)
            return;
    }
}

static int64_t retention_round(void *arg, ticker *t) {
    (void)t;
    retention *rt = arg;
    apply(rt);
    return rt->cfg->storage_retention_check_ms;
}

int retention_start(db *index, const mamad_config *cfg, retention **out) {
    retention *rt = calloc(1, sizeof *rt);
    if (!rt) return -1;
    rt->index = index;
    rt->cfg = cfg;
    if ((cfg->storage_retention_ms > 0 || cfg->storage_max_size > 0) &&
        ticker_start(retention_round, rt, &rt->thread) != 0) {
        free(rt);
        return -1;
    }
    *out = rt;
    return 0;
}

void retention_stop(retention *rt) {
    if (!rt) return;
    ticker_stop(rt->thread);
    free(rt);
}
