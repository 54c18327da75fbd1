/* safetensors_writer.c: the atomic writer of safetensors files (see safetensors.h): data
 * ordered by element size then name, header padded to 8 bytes, no gaps; written to a
 * temporary file beside the target, fsynced and renamed over it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "engine/core/safetensors_impl.h"

typedef struct wentry {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t nbytes;
    void *data;
} wentry;

struct st_writer {
    wentry *e;
    int n, cap;
    json_t *metadata;
};

mama_status st_writer_create(st_writer **out_w) {
    *out_w = NULL;
    st_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->metadata = json_object())) {
        free(w);
        return mama_errorf(MAMA_ENOMEM, "safetensors writer: out of memory");
    }
    *out_w = w;
    return MAMA_OK;
}

void st_writer_destroy(st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        free(w->e[i].name);
        free(w->e[i].data);
    }
    free(w->e);
    json_decref(w->metadata);
    free(w);
}

mama_status st_writer_add(st_writer *w, const char *name, st_dtype dtype, int ndim,
                          const int64_t *shape, const void *data) {
    if (!name || !name[0] || strcmp(name, "__metadata__") == 0)
        return mama_errorf(MAMA_EINVAL, "safetensors writer: invalid tensor name '%s'",
                           name ? name : "(null)");
    if (st_dtype_size(dtype) == 0) /* not one of the st_dtype values */
        return mama_errorf(MAMA_EINVAL, "safetensors writer: tensor '%s': bad dtype %d", name,
                           (int)dtype);
    if (ndim < 0 || ndim > ST_MAX_DIMS)
        return mama_errorf(MAMA_EINVAL, "safetensors writer: tensor '%s': %d dims", name, ndim);
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->e[i].name, name) == 0)
            return mama_errorf(MAMA_EINVAL, "safetensors writer: tensor '%s' added twice", name);
    uint64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(numel, (uint64_t)shape[i], &numel))
            return mama_errorf(MAMA_EINVAL, "safetensors writer: tensor '%s': bad shape", name);
    }
    uint64_t nbytes;
    if (__builtin_mul_overflow(numel, (uint64_t)st_dtype_size(dtype), &nbytes) ||
        nbytes > (uint64_t)SIZE_MAX / 2)
        return mama_errorf(MAMA_EINVAL, "safetensors writer: tensor '%s' too large", name);
    if (w->n == w->cap) {
        int ncap = w->cap ? w->cap * 2 : 32;
        wentry *ne = realloc(w->e, (size_t)ncap * sizeof *ne);
        if (!ne) return mama_errorf(MAMA_ENOMEM, "safetensors writer: out of memory");
        w->e = ne;
        w->cap = ncap;
    }
    wentry *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    e->name = st_impl_dup_str(name);
    e->data = malloc(nbytes ? (size_t)nbytes : 1);
    if (!e->name || !e->data) {
        free(e->name);
        free(e->data);
        return mama_errorf(MAMA_ENOMEM, "safetensors writer: out of memory for '%s'", name);
    }
    if (nbytes) memcpy(e->data, data, (size_t)nbytes);
    e->dtype = dtype;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->nbytes = (size_t)nbytes;
    w->n++;
    return MAMA_OK;
}

mama_status st_writer_add_f32(st_writer *w, const char *name, int ndim, const int64_t *shape,
                              const float *data) {
    return st_writer_add(w, name, ST_F32, ndim, shape, data);
}

mama_status st_writer_set_metadata(st_writer *w, const char *key, const char *value) {
    json_t *s = json_string(value);
    if (!s)
        return mama_errorf(MAMA_EINVAL, "safetensors writer: metadata '%s' is not valid UTF-8",
                           key);
    if (json_object_set_new(w->metadata, key, s) != 0)
        return mama_errorf(MAMA_EINVAL, "safetensors writer: bad metadata key '%s'", key);
    return MAMA_OK;
}

/* Larger elements first, then by name: with the data area 8-byte aligned, every tensor then
 * starts aligned to its element size, and the tensors stay contiguous (no gaps), which the
 * reference implementation requires. */
static int cmp_wentry(const void *a, const void *b) {
    const wentry *x = a, *y = b;
    size_t sx = st_dtype_size(x->dtype), sy = st_dtype_size(y->dtype);
    if (sx != sy) return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int write_all(int fd, const void *buf, size_t n) {
    const unsigned char *p = buf;
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

mama_status st_writer_save(st_writer *w, const char *path) {
    qsort(w->e, (size_t)w->n, sizeof *w->e, cmp_wentry);
    json_t *root = json_object();
    char *hdr = NULL, *tmp = NULL;
    int fd = -1;
    mama_status rc = MAMA_OK;
    if (!root) return mama_errorf(MAMA_ENOMEM, "%s: out of memory", path);
    if (json_object_size(w->metadata) > 0 &&
        json_object_set(root, "__metadata__", w->metadata) != 0) {
        rc = mama_errorf(MAMA_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    uint64_t off = 0;
    for (int i = 0; i < w->n; i++) {
        wentry *e = &w->e[i];
        json_t *shape = json_array();
        for (int d = 0; shape && d < e->ndim; d++)
            json_array_append_new(shape, json_integer((json_int_t)e->shape[d]));
        json_t *ent = json_pack("{s:s, s:o, s:[I,I]}", "dtype", st_dtype_name(e->dtype),
                                "shape", shape, "data_offsets", (json_int_t)off,
                                (json_int_t)(off + e->nbytes));
        if (!ent || json_object_set_new(root, e->name, ent) != 0) {
            rc = mama_errorf(MAMA_ENOMEM, "%s: cannot build header for '%s'", path, e->name);
            goto done;
        }
        off += e->nbytes;
    }
    hdr = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!hdr) {
        rc = mama_errorf(MAMA_ENOMEM, "%s: cannot serialise the header", path);
        goto done;
    }
    size_t hlen = strlen(hdr);
    size_t padded = (hlen + 7) / 8 * 8; /* data area starts 8-byte aligned */
    size_t plen = strlen(path);
    tmp = malloc(plen + 16);
    if (!tmp) {
        rc = mama_errorf(MAMA_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    fd = mkstemp(tmp);
    if (fd < 0) {
        rc = mama_errorf(MAMA_EIO, "%s: cannot create temporary file %s: %s", path, tmp,
                         strerror(errno));
        free(tmp);
        tmp = NULL;
        goto done;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    static const char spaces[8] = "        ";
    int bad = write_all(fd, len8, 8) || write_all(fd, hdr, hlen) ||
              write_all(fd, spaces, padded - hlen);
    for (int i = 0; !bad && i < w->n; i++) bad = write_all(fd, w->e[i].data, w->e[i].nbytes);
    if (bad || fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
        rc = mama_errorf(MAMA_EIO, "%s: writing %s failed: %s", path, tmp, strerror(errno));
        goto done;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = mama_errorf(MAMA_EIO, "%s: closing %s failed: %s", path, tmp, strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = mama_errorf(MAMA_EIO, "%s: rename from %s failed: %s", path, tmp, strerror(errno));
        goto done;
    }
    free(tmp);
    tmp = NULL;
    /* make the rename durable */
    char *dir = st_impl_dup_str(path);
    if (dir) {
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        int dfd = open(slash ? (dir[0] ? dir : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
done:
    if (fd >= 0) close(fd);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    free(hdr);
    json_decref(root);
    return rc;
}
