/* prepcache.c: on-disk cache of cropped, downsized images (see prepcache.h for the key,
 * the entry layout and the atomicity contract). */
#define _GNU_SOURCE
#include "engine/vision/prepcache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/vision/breast_mask.h"

#define PC_MAGIC "MAMAPC01"
#define PC_VERSION 2u /* 2: the crop is the breast mask (breast_mask.c), not Otsu's largest component */
#define PC_HEADER 64u
#define PC_MAX_SIDE 65535

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#define FNV_INIT 0xcbf29ce484222325ULL

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void prepcache_config_default(prepcache_config *out_cfg, const char *dir) {
    out_cfg->dir = dir;
    out_cfg->max_side = 2 * PREP_DEFAULT_SIZE;
    out_cfg->crop = 1;
    out_cfg->loader_tag = "";
}

static mama_status make_key(const prepcache_config *cfg, const char *path, uint64_t *out_key) {
    struct stat st;
    if (stat(path, &st) != 0)
        return mama_errorf(MAMA_ENOTFOUND, "%s: cannot stat (%s)", path, strerror(errno));
    char real[PATH_MAX];
    const char *name = realpath(path, real) ? real : path;
    uint64_t h = FNV_INIT;
    uint32_t version = PC_VERSION;
    int64_t fields[6] = {(int64_t)st.st_size, (int64_t)st.st_mtim.tv_sec, (int64_t)st.st_mtim.tv_nsec,
                         (int64_t)st.st_ino, cfg->max_side, cfg->crop};
    h = fnv1a(h, &version, sizeof version);
    h = fnv1a(h, name, strlen(name) + 1);
    h = fnv1a(h, fields, sizeof fields);
    const char *tag = cfg->loader_tag ? cfg->loader_tag : "";
    h = fnv1a(h, tag, strlen(tag) + 1);
    *out_key = h;
    return MAMA_OK;
}

static void entry_name(const prepcache_config *cfg, uint64_t key, char *out, size_t cap) {
    snprintf(out, cap, "%s/%016llx.mpc", cfg->dir, (unsigned long long)key);
}

mama_status prepcache_entry_path(const prepcache_config *cfg, const char *path, char *out,
                                 size_t cap) {
    uint64_t key;
    mama_status rc = make_key(cfg, path, &key);
    if (rc == MAMA_OK) entry_name(cfg, key, out, cap);
    return rc;
}

/* Reads and validates an entry; 0 = valid (outputs set), 1 = absent, 2 = corrupt. */
static int read_entry(const char *name, uint64_t key, float **out_pixels, int *out_h, int *out_w,
                      prep_box *out_box) {
    FILE *f = fopen(name, "rb");
    if (!f) return 1;
    uint8_t hd[PC_HEADER];
    int result = 2;
    uint16_t *raw = NULL;
    float *pixels = NULL;
    if (fread(hd, 1, PC_HEADER, f) != PC_HEADER) goto done;
    if (memcmp(hd, PC_MAGIC, 8) != 0 || get32(hd + 8) != PC_VERSION || get32(hd + 12) != PC_HEADER ||
        get64(hd + 16) != key)
        goto done;
    uint32_t h = get32(hd + 24), w = get32(hd + 28);
    if (h == 0 || w == 0 || h > PC_MAX_SIDE || w > PC_MAX_SIDE) goto done;
    size_t n = (size_t)h * w;
    raw = malloc(n * 2);
    pixels = malloc(n * sizeof(float));
    if (!raw || !pixels) goto done;
    if (fread(raw, 2, n, f) != n || fgetc(f) != EOF) goto done; /* short or long: corrupt */
    if (fnv1a(FNV_INIT, raw, n * 2) != get64(hd + 56)) goto done;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *b = (const uint8_t *)(raw + i);
        pixels[i] = (float)(b[0] | (b[1] << 8)) / 65535.0f;
    }
    if (out_box)
        *out_box = (prep_box){(int32_t)get32(hd + 40), (int32_t)get32(hd + 44), (int32_t)get32(hd + 48),
                              (int32_t)get32(hd + 52)};
    *out_pixels = pixels;
    *out_h = (int)h;
    *out_w = (int)w;
    pixels = NULL;
    result = 0;
done:
    fclose(f);
    free(raw);
    free(pixels);
    return result;
}

static mama_status write_entry(const char *name, uint64_t key, const float *img, int H, int W,
                               int src_h, int src_w, prep_box box) {
    size_t n = (size_t)H * W;
    uint8_t *buf = malloc(PC_HEADER + n * 2);
    if (!buf) return mama_errorf(MAMA_ENOMEM, "%s: no memory for a cache entry", name);
    uint8_t *pay = buf + PC_HEADER;
    for (size_t i = 0; i < n; i++) {
        float v = img[i];
        v = v != v ? 0.0f : v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        unsigned q = (unsigned)lrintf(v * 65535.0f);
        pay[2 * i] = (uint8_t)q;
        pay[2 * i + 1] = (uint8_t)(q >> 8);
    }
    memset(buf, 0, PC_HEADER);
    memcpy(buf, PC_MAGIC, 8);
    put32(buf + 8, PC_VERSION);
    put32(buf + 12, PC_HEADER);
    put64(buf + 16, key);
    put32(buf + 24, (uint32_t)H);
    put32(buf + 28, (uint32_t)W);
    put32(buf + 32, (uint32_t)src_h);
    put32(buf + 36, (uint32_t)src_w);
    put32(buf + 40, (uint32_t)box.y0);
    put32(buf + 44, (uint32_t)box.x0);
    put32(buf + 48, (uint32_t)box.h);
    put32(buf + 52, (uint32_t)box.w);
    put64(buf + 56, fnv1a(FNV_INIT, pay, n * 2));

    static _Thread_local unsigned counter;
    char tmp[PATH_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u.%p", name, (long)getpid(), counter++, (void *)&counter);
    mama_status rc = MAMA_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = mama_errorf(MAMA_EIO, "%s: cannot create (%s)", tmp, strerror(errno));
        goto done;
    }
    size_t total = PC_HEADER + n * 2, off = 0;
    while (off < total) {
        ssize_t k = write(fd, buf + off, total - off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            rc = mama_errorf(MAMA_EIO, "%s: write failed (%s)", tmp, strerror(errno));
            break;
        }
        off += (size_t)k;
    }
    if (rc == MAMA_OK && fsync(fd) != 0) rc = mama_errorf(MAMA_EIO, "%s: fsync failed (%s)", tmp, strerror(errno));
    if (close(fd) != 0 && rc == MAMA_OK) rc = mama_errorf(MAMA_EIO, "%s: close failed (%s)", tmp, strerror(errno));
    if (rc == MAMA_OK && rename(tmp, name) != 0)
        rc = mama_errorf(MAMA_EIO, "%s: rename failed (%s)", name, strerror(errno));
    if (rc != MAMA_OK) unlink(tmp);
done:
    free(buf);
    return rc;
}

mama_status prepcache_get(const prepcache_config *cfg, const char *path,
                          prepcache_loader load, void *ctx, float **out_pixels, int *out_h,
                          int *out_w, prep_box *out_box, prepcache_result *out_result) {
    *out_pixels = NULL;
    *out_h = *out_w = 0;
    if (!cfg || !cfg->dir || !cfg->dir[0] || cfg->max_side < 1 || cfg->max_side > PC_MAX_SIDE || !load)
        return mama_errorf(MAMA_EINVAL, "preprocessing cache: bad configuration (dir, max_side 1..%d, loader)",
                           PC_MAX_SIDE);
    uint64_t key;
    mama_status rc = make_key(cfg, path, &key);
    if (rc != MAMA_OK) return rc;
    char name[PATH_MAX + 32];
    entry_name(cfg, key, name, sizeof name);
    int state = read_entry(name, key, out_pixels, out_h, out_w, out_box);
    if (state == 0) {
        if (out_result) *out_result = PREPCACHE_HIT;
        return MAMA_OK;
    }
    if (mkdir(cfg->dir, 0755) != 0 && errno != EEXIST)
        return mama_errorf(MAMA_EIO, "%s: cannot create the cache directory (%s)", cfg->dir, strerror(errno));

    float *src = NULL;
    int H = 0, W = 0;
    rc = load(ctx, path, &src, &H, &W);
    if (rc != MAMA_OK) return rc;
    prep_box box = {0, 0, H, W};
    if (cfg->crop) {
        breast_mask_info info;
        rc = breast_mask_compute(src, H, W, NULL, &info);
        if (rc != MAMA_OK) {
            free(src);
            return rc;
        }
        box = info.box;
    }
    int longer = box.h > box.w ? box.h : box.w;
    int OH = box.h, OW = box.w;
    if (longer > cfg->max_side) {
        double s = (double)cfg->max_side / longer;
        OH = (int)lround(box.h * s);
        OW = (int)lround(box.w * s);
        OH = OH < 1 ? 1 : OH;
        OW = OW < 1 ? 1 : OW;
    }
    float *img = malloc(sizeof(float) * (size_t)OH * OW);
    if (!img) {
        free(src);
        return mama_errorf(MAMA_ENOMEM, "%s: no memory for the cached image", path);
    }
    rc = prep_resize(img, OH, OW, src, W, box);
    free(src);
    if (rc == MAMA_OK) rc = write_entry(name, key, img, OH, OW, H, W, box);
    if (rc != MAMA_OK) {
        free(img);
        return rc;
    }
    /* serve what a hit would serve: the 16-bit quantised values */
    for (size_t i = 0; i < (size_t)OH * OW; i++) {
        float v = img[i];
        v = v != v ? 0.0f : v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        img[i] = (float)lrintf(v * 65535.0f) / 65535.0f;
    }
    *out_pixels = img;
    *out_h = OH;
    *out_w = OW;
    if (out_box) *out_box = box;
    if (out_result) *out_result = state == 1 ? PREPCACHE_MISS : PREPCACHE_REBUILT;
    return MAMA_OK;
}
