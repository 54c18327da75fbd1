/* store.c: the C-STORE durability contract, daemon side.
 *
 * Design notes
 * ------------
 * The SCP hands over a fsynced temporary file under <dir>/tmp with validated tags.
 * store_instance then, holding the stripe lock of the SOP Instance UID:
 *   1. derives the final path from the validated UIDs only (store_final_path);
 *   2. if the SOP Instance UID is already indexed: duplicate -> count, answer Success,
 *      the SCP deletes the temporary file (one copy kept);
 *   3. creates the directories (fsyncing each parent that gained an entry);
 *   4. rename(tmp, final) and fsync the directory: the file is durable under its name;
 *   5. grouper_add_instance: the instance row, its study's state and the change rows in
 *      ONE transaction with synchronous=FULL;
 *   6. only then returns Success.
 * A crash between 4 and 5 leaves a file with no row: it was never acknowledged, the
 * sender retries, and the retry renames over it (step 4 replaces an unindexed file); if
 * no retry comes, store_sweep at the next start indexes it (or quarantines what does not
 * read as the instance its path names). A
 * failure in 5 removes the renamed file again and answers 0xA700; so does any disk error
 * in 3-4. The stripe lock keeps two associations storing the same SOP from interleaving
 * steps 2-5.
 */
#define _GNU_SOURCE
#include "daemon/store.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/disk_full.h"
#include "common/log.h"
#include "dicom/dcm_instance_read.h"

#include <openssl/evp.h>

#define N_STRIPES 64

struct store {
    char dir[512];
    char tmp[700];
    grouper *g;
    db *index;
    metrics *m;
    pthread_mutex_t stripes[N_STRIPES];
    long long reserve;     /* storage.reserve in bytes */
};

void store_set_reserve(store *s, long long bytes) { s->reserve = bytes; }

static uint32_t fnv1a(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

int store_final_path(const char *dir, const char *study_uid, const char *sop_uid, char *out,
                     size_t n) {
    if (!dcm_uid_valid(study_uid) || !dcm_uid_valid(sop_uid)) return -1;
    int len = snprintf(out, n, "%s/%02x/%s/%s.dcm", dir, fnv1a(study_uid) & 0xff, study_uid,
                       sop_uid);
    return (len < 0 || (size_t)len >= n) ? -1 : 0;
}

static int fsync_dir(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* mkdir that fsyncs the parent when it created the directory. */
static int make_dir(const char *path, const char *parent) {
    if (mkdir(path, 0750) == 0) return fsync_dir(parent);
    return errno == EEXIST ? 0 : -1;
}

int store_create(const char *dir, const char *node, grouper *g, db *index, metrics *m,
                 store **out_store, char *err, size_t errlen) {
    store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    char tmp_root[600];
    snprintf(tmp_root, sizeof tmp_root, "%s/tmp", dir);
    if (node && *node) snprintf(s->tmp, sizeof s->tmp, "%s/%s", tmp_root, node);
    else snprintf(s->tmp, sizeof s->tmp, "%s", tmp_root);
    s->g = g;
    s->index = index;
    s->m = m;
    for (int i = 0; i < N_STRIPES; i++) pthread_mutex_init(&s->stripes[i], NULL);
    if ((mkdir(s->dir, 0750) != 0 && errno != EEXIST) || (mkdir(tmp_root, 0750) != 0 && errno != EEXIST) ||
        (mkdir(s->tmp, 0750) != 0 && errno != EEXIST)) {
        snprintf(err, errlen, "cannot create storage directory %s: %s (create it, owned by the "
                 "mamad user)", s->tmp, strerror(errno));
        store_destroy(s);
        return -1;
    }
    if (access(s->tmp, W_OK) != 0) {
        snprintf(err, errlen, "storage directory %s is not writable: %s", s->tmp, strerror(errno));
        store_destroy(s);
        return -1;
    }
    *out_store = s;
    return 0;
}

void store_destroy(store *s) {
    if (!s) return;
    for (int i = 0; i < N_STRIPES; i++) pthread_mutex_destroy(&s->stripes[i]);
    free(s);
}

const char *store_tmp_dir(const store *s) { return s->tmp; }

void store_clean_tmp(store *s) {
    DIR *d = opendir(s->tmp);
    if (!d) return;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0) removed++;
    }
    closedir(d);
    if (removed) log_info(LOG_CAT_DICOM, "removed %d unfinished transfer(s) from %s", removed, s->tmp);
}

/* SHA-256 of a whole file as hex (out[65]); "" when it cannot be read. */
static void file_sha256(const char *path, char out[65]) {
    out[0] = '\0';
    FILE *f = fopen(path, "rb");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = f && md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    unsigned char buf[1 << 16], d[EVP_MAX_MD_SIZE];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0) ok = EVP_DigestUpdate(md, buf, n) == 1;
    unsigned int dl = 0;
    if (ok && !ferror(f) && EVP_DigestFinal_ex(md, d, &dl) == 1 && dl == 32)
        for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
    EVP_MD_CTX_free(md);
    if (f) fclose(f);
}

/* Moves an unreadable or misplaced file out of the tree, keeping its bytes. */
static void quarantine(store *s, const char *path, const char *name, const char *why) {
    char qdir[600], dst[1200];
    snprintf(qdir, sizeof qdir, "%s/quarantine", s->dir);
    if (make_dir(qdir, s->dir) != 0) {
        log_error(LOG_CAT_DICOM, "sweep: cannot create %s: %s", qdir, strerror(errno));
        return;
    }
    snprintf(dst, sizeof dst, "%s/%lld-%s", qdir, (long long)grouper_now_ms(), name);
    if (rename(path, dst) != 0 || fsync_dir(qdir) != 0)
        log_error(LOG_CAT_DICOM, "sweep: cannot quarantine %s: %s", path, strerror(errno));
    else
        log_warn(LOG_CAT_DICOM, "sweep: %s quarantined as %s: %s", path, dst, why);
}

/* One file at <dir>/<xx>/<study>/<name>: 1 indexed, 0 known or quarantined, -1 index
 * error. */
static int sweep_file(store *s, const char *path, const char *study, const char *name,
                      int *quarantined) {
    char sop[128];
    size_t nl = strlen(name);
    if (nl < 5 || nl - 4 >= sizeof sop || strcmp(name + nl - 4, ".dcm") != 0) {
        quarantine(s, path, name, "not an instance file name");
        (*quarantined)++;
        return 0;
    }
    memcpy(sop, name, nl - 4);
    sop[nl - 4] = '\0';
    int exists = 0;
    if (dcm_uid_valid(sop) && db_instance_exists(s->index, sop, &exists) != DB_OK) return -1;
    if (exists) return 0;
    dcm_instance_info info;
    char err[512], want[900];
    struct stat st;
    if (dcm_read_instance_info(path, &info, err, sizeof err) != 0 || stat(path, &st) != 0) {
        quarantine(s, path, name, err);
        (*quarantined)++;
        return 0;
    }
    if (strcmp(info.sop_instance_uid, sop) != 0 || strcmp(info.study_uid, study) != 0 ||
        store_final_path(s->dir, info.study_uid, info.sop_instance_uid, want, sizeof want) != 0 ||
        strcmp(want, path) != 0) {
        quarantine(s, path, name, "its UIDs do not match its place in the storage tree");
        (*quarantined)++;
        return 0;
    }
    char sha[65];
    file_sha256(path, sha);
    db_rc rc = grouper_add_stored(s->g, &info, path, (int64_t)st.st_size, sha, grouper_now_ms());
    if (rc == DB_DUPLICATE) return 0;
    if (rc != DB_OK) return -1;
    log_warn(LOG_CAT_DICOM, "sweep: indexed %s (stored before a crash, never acknowledged)", path);
    return 1;
}

int store_sweep(store *s, int *out_quarantined) {
    int indexed = 0, quarantined = 0, failed = 0;
    DIR *top = opendir(s->dir);
    if (!top) return 0;
    struct dirent *a;
    while (!failed && (a = readdir(top))) {
        /* only the <xx> level: tmp/ and quarantine/ are not part of the tree */
        if (strlen(a->d_name) != 2 || !isxdigit((unsigned char)a->d_name[0]) ||
            !isxdigit((unsigned char)a->d_name[1]))
            continue;
        char d1[700];
        snprintf(d1, sizeof d1, "%s/%s", s->dir, a->d_name);
        DIR *mid = opendir(d1);
        if (!mid) continue;
        struct dirent *b;
        while (!failed && (b = readdir(mid))) {
            if (b->d_name[0] == '.') continue;
            char d2[1000];
            snprintf(d2, sizeof d2, "%s/%s", d1, b->d_name);
            DIR *low = opendir(d2);
            if (!low) continue;
            struct dirent *c;
            while (!failed && (c = readdir(low))) {
                if (c->d_name[0] == '.') continue;
                char p[1400];
                snprintf(p, sizeof p, "%s/%s", d2, c->d_name);
                int r = sweep_file(s, p, b->d_name, c->d_name, &quarantined);
                if (r < 0) failed = 1;
                else indexed += r;
            }
            closedir(low);
        }
        closedir(mid);
    }
    closedir(top);
    if (failed) {
        log_error(LOG_CAT_DB, "sweep: the index failed: %s", db_errmsg(s->index));
        return -1;
    }
    if (indexed || quarantined)
        log_warn(LOG_CAT_DICOM, "sweep: %d file(s) indexed, %d quarantined under %s/quarantine",
                 indexed, quarantined, s->dir);
    if (out_quarantined) *out_quarantined = quarantined;
    return indexed;
}

static uint16_t store_instance(void *ctx, const dcm_store_request *req) {
    store *s = ctx;
    const dcm_instance_info *info = req->info;
    char final[900], dir1[600], dir2[700];
    if (store_final_path(s->dir, info->study_uid, info->sop_instance_uid, final, sizeof final) != 0) {
        log_warn(LOG_CAT_DICOM, "store from %s: invalid Study/SOP Instance UID, refused",
                 req->calling_ae);
        atomic_fetch_add(&s->m->stores_failed, 1);
        return DCM_STATUS_DATASET_MISMATCH;
    }
    snprintf(dir1, sizeof dir1, "%s/%02x", s->dir, fnv1a(info->study_uid) & 0xff);
    snprintf(dir2, sizeof dir2, "%s/%s", dir1, info->study_uid);

    pthread_mutex_t *stripe = &s->stripes[fnv1a(info->sop_instance_uid) % N_STRIPES];
    pthread_mutex_lock(stripe);
    uint16_t status = DCM_STATUS_SUCCESS;
    int exists = 0;
    if (db_instance_exists(s->index, info->sop_instance_uid, &exists) != DB_OK) {
        log_error(LOG_CAT_DB, "store %s: %s", info->sop_instance_uid, db_errmsg(s->index));
        status = DCM_STATUS_OUT_OF_RESOURCES;
        goto out;
    }
    if (exists) {
        /* Count it in the index (persisted) through the same path as a racing insert. */
        if (db_counter_add(s->index, "duplicates", 1) != DB_OK)
            log_warn(LOG_CAT_DB, "counting a duplicate: %s", db_errmsg(s->index));
        atomic_fetch_add(&s->m->stores_duplicate, 1);
        log_info(LOG_CAT_DICOM, "duplicate %s from %s: kept the stored copy",
                 info->sop_instance_uid, req->calling_ae);
        goto out;
    }
    if (s->reserve > 0) {
        /* The received file already takes its space in tmp/: what is left must still be
         * above the reserve, or the index could be the next thing to fail for lack of room. */
        long long free_b = disk_free_bytes(s->dir);
        if (free_b >= 0 && free_b < s->reserve) {
            log_warn(LOG_CAT_DICOM, "store %s refused (0xA700): %lld MB free on %s, below storage.reserve "
                     "(%lld MB); free space or lower the reserve", info->sop_instance_uid,
                     free_b >> 20, s->dir, s->reserve >> 20);
            status = DCM_STATUS_OUT_OF_RESOURCES;
            goto out;
        }
    }
    if (make_dir(dir1, s->dir) != 0 || make_dir(dir2, dir1) != 0) {
        int e = errno;
        log_error(LOG_CAT_DICOM, "store %s: cannot create %s: %s", info->sop_instance_uid, dir2,
                  strerror(e));
        status = DCM_STATUS_OUT_OF_RESOURCES;
        goto out;
    }
    if (rename(req->tmp_path, final) != 0 || fsync_dir(dir2) != 0) {
        int e = errno;
        log_error(LOG_CAT_DICOM, "store %s: cannot move into %s: %s%s", info->sop_instance_uid,
                  final, strerror(e), disk_full(e) ? " (disk full?)" : "");
        unlink(final);
        status = DCM_STATUS_OUT_OF_RESOURCES;
        goto out;
    }
    db_rc rc = grouper_add_stored(s->g, info, final, (int64_t)req->file_size, req->sha256,
                                  grouper_now_ms());
    if (rc == DB_OK) {
        atomic_fetch_add(&s->m->stores_ok, 1);
        atomic_fetch_add(&s->m->bytes_stored, (long long)req->file_size);
        log_debug(LOG_CAT_DICOM, "stored %s (%s) from %s", info->sop_instance_uid,
                  info->study_uid, req->calling_ae);
    } else if (rc == DB_DUPLICATE) {
        /* Cannot happen while the stripe lock is held (checked above); if another process
         * shares the index, leave the file: an unindexed file is harmless, a removed
         * indexed one is not. */
        atomic_fetch_add(&s->m->stores_duplicate, 1);
    } else {
        log_error(LOG_CAT_DB, "store %s: index commit failed: %s", info->sop_instance_uid,
                  db_errmsg(s->index));
        /* Another node sharing the storage may have indexed the same instance at this
         * path meanwhile: keep the file when the index says it is that node's. */
        int indexed = 0;
        if (db_instance_exists(s->index, info->sop_instance_uid, &indexed) != DB_OK) indexed = 0;
        if (!indexed) {
            unlink(final);
            fsync_dir(dir2);
        }
        status = DCM_STATUS_OUT_OF_RESOURCES;
    }
out:
    pthread_mutex_unlock(stripe);
    if (status != DCM_STATUS_SUCCESS) atomic_fetch_add(&s->m->stores_failed, 1);
    return status;
}

static void assoc_event(void *ctx, const char *event, const char *calling_ae,
                        const char *peer_host, const char *reason) {
    store *s = ctx;
    if (strcmp(event, "rejected") == 0) {
        atomic_fetch_add(&s->m->assoc_rejected, 1);
        log_debug(LOG_CAT_DICOM, "association from %s@%s rejected: %s", calling_ae ? calling_ae : "?",
                 peer_host ? peer_host : "?", reason ? reason : "");
    } else {
        if (strcmp(event, "accepted") == 0) atomic_fetch_add(&s->m->assoc_accepted, 1);
        log_debug(LOG_CAT_DICOM, "association from %s@%s %s%s%s", calling_ae ? calling_ae : "?",
                 peer_host ? peer_host : "?", event, reason && *reason ? ": " : "",
                 reason ? reason : "");
    }
}

dcm_scp_handler store_handler(store *s) {
    dcm_scp_handler h = {.ctx = s, .store = store_instance, .assoc_event = assoc_event};
    return h;
}
