/* st_util.h: helpers for the safetensors tests: a scratch directory and raw file writers
 * (header text + data bytes) for hand-made valid and corrupt files. */
#ifndef MAMA_TEST_ST_UTIL_H
#define MAMA_TEST_ST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Creates a fresh directory under $TMPDIR (or /tmp); returns a static path. */
static inline const char *st_test_dir(const char *tag) {
    static char dir[512];
    const char *t = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mama_%s_XXXXXX", t && t[0] ? t : "/tmp", tag);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    return dir;
}

static inline void write_bytes(const char *path, const void *buf, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* file = u64 header length (hlen_override when != UINT64_MAX) + header + data */
static inline void write_raw(const char *path, const char *header, const void *data,
                             size_t ndata, uint64_t hlen_override) {
    size_t h = strlen(header);
    unsigned char *buf = malloc(8 + h + ndata + 1);
    uint64_t hl = hlen_override != UINT64_MAX ? hlen_override : h;
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hl >> (8 * i));
    memcpy(buf + 8, header, h);
    if (ndata) memcpy(buf + 8 + h, data, ndata);
    write_bytes(path, buf, 8 + h + ndata);
    free(buf);
}

static inline unsigned char *read_all(const char *path, size_t *out_n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) n = 0;
    fclose(f);
    *out_n = (size_t)n;
    return buf;
}

#endif
