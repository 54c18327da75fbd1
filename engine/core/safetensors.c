/* safetensors.c: the validated mmap reader of safetensors files. Sharded checkpoints
 * (.index.json) are in safetensors_index.c, the atomic writer in safetensors_writer.c.
 *
 * Reader invariants, established by st_open before any tensor is handed out:
 *  - 8 <= file size; 0 < header length <= file size - 8 (and <= HEADER_MAX);
 *  - the header is one JSON object: "__metadata__" (object of strings) and tensors, each
 *    {"dtype": known, "shape": [ints >= 0, at most ST_MAX_DIMS],
 *     "data_offsets": [begin, end]} with 0 <= begin <= end <= data size,
 *    end - begin == numel * dtype size (computed without overflow), no two tensors with
 *    bytes overlapping;
 *  - so every st_tensor.data .. data + nbytes lies inside the mapping.
 * Tensor data may be unaligned when a foreign writer did not align the header; read it with
 * st_read_f32 (which uses memcpy), not by casting. Tensors are listed sorted by name. */
#include "engine/core/safetensors.h"
#include "engine/core/safetensors_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "engine/core/dtype.h"

#define HEADER_MAX (100u * 1024u * 1024u) /* same bound as the reference implementation */

static const struct {
    const char *name;
    size_t size;
} dtype_table[] = {
    [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2},
    [ST_F64] = {"F64", 8}, [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4},
    [ST_I16] = {"I16", 2}, [ST_I8] = {"I8", 1},   [ST_U8] = {"U8", 1},
    [ST_BOOL] = {"BOOL", 1},
};
#define N_DTYPES ((int)(sizeof dtype_table / sizeof dtype_table[0]))

size_t st_dtype_size(st_dtype dt) {
    return (int)dt >= 0 && (int)dt < N_DTYPES ? dtype_table[dt].size : 0;
}

const char *st_dtype_name(st_dtype dt) {
    return (int)dt >= 0 && (int)dt < N_DTYPES ? dtype_table[dt].name : "?";
}

static int dtype_parse(const char *s, st_dtype *out) {
    for (int i = 0; i < N_DTYPES; i++)
        if (strcmp(s, dtype_table[i].name) == 0) {
            *out = (st_dtype)i;
            return 1;
        }
    return 0;
}

/* ---------------------------------------------------------------- reader */

char *st_impl_dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

typedef struct span {
    uint64_t begin, end;
    const char *name;
} span;

static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static mama_status push_tensor(st_file *f, const st_tensor *t) {
    if (f->count == f->cap) {
        int ncap = f->cap ? f->cap * 2 : 64;
        st_tensor *nt = realloc(f->tensors, (size_t)ncap * sizeof *nt);
        if (!nt) return mama_errorf(MAMA_ENOMEM, "%s: out of memory for the tensor table", f->path);
        f->tensors = nt;
        f->cap = ncap;
    }
    f->tensors[f->count++] = *t;
    return MAMA_OK;
}

static mama_status map_file(const char *path, shard *s) {
    /* O_NONBLOCK: a FIFO must not block the open; it is then refused as not regular */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return mama_errorf(errno == ENOENT ? MAMA_ENOTFOUND : MAMA_EIO, "%s: cannot open: %s",
                           path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return mama_errorf(MAMA_EIO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return mama_errorf(MAMA_EIO, "%s: not a regular file", path);
    }
    if (st.st_size < 8) {
        close(fd);
        return mama_errorf(MAMA_EFORMAT,
                           "%s: %lld bytes, too short for a safetensors file (8-byte header "
                           "length missing); the file is truncated or not safetensors",
                           path, (long long)st.st_size);
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (m == MAP_FAILED) return mama_errorf(MAMA_EIO, "%s: mmap failed: %s", path, strerror(e));
    s->map = m;
    s->size = (size_t)st.st_size;
    return MAMA_OK;
}

static int json_to_u64(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v)) return 0;
    json_int_t i = json_integer_value(v);
    if (i < 0) return 0;
    *out = (uint64_t)i;
    return 1;
}

/* Parses and validates one tensor entry of shard s. On success fills *t (name owned). */
static mama_status parse_entry(const char *path, const char *name, json_t *v,
                               const unsigned char *data, uint64_t data_size, st_tensor *t) {
    if (!json_is_object(v))
        return mama_errorf(MAMA_EFORMAT, "%s: tensor '%s': header entry is not a JSON object",
                           path, name);
    json_t *jd = json_object_get(v, "dtype");
    json_t *js = json_object_get(v, "shape");
    json_t *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd))
        return mama_errorf(MAMA_EFORMAT, "%s: tensor '%s': \"dtype\" missing or not a string",
                           path, name);
    st_dtype dt;
    if (!dtype_parse(json_string_value(jd), &dt))
        return mama_errorf(MAMA_EFORMAT,
                           "%s: tensor '%s': unknown dtype \"%s\" (known: F32 F16 BF16 F64 I64 "
                           "I32 I16 I8 U8 BOOL)",
                           path, name, json_string_value(jd));
    if (!json_is_array(js))
        return mama_errorf(MAMA_EFORMAT, "%s: tensor '%s': \"shape\" missing or not an array",
                           path, name);
    size_t ndim = json_array_size(js);
    if (ndim > ST_MAX_DIMS)
        return mama_errorf(MAMA_EFORMAT, "%s: tensor '%s': %zu dims (at most %d supported)",
                           path, name, ndim, ST_MAX_DIMS);
    memset(t, 0, sizeof *t);
    uint64_t numel = 1;
    for (size_t i = 0; i < ndim; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return mama_errorf(MAMA_EFORMAT,
                               "%s: tensor '%s': shape dim %zu is not an integer >= 0", path,
                               name, i);
        uint64_t dim = (uint64_t)json_integer_value(d);
        if (__builtin_mul_overflow(numel, dim, &numel) || numel > (uint64_t)INT64_MAX)
            return mama_errorf(MAMA_EFORMAT, "%s: tensor '%s': element count overflows", path,
                               name);
        t->shape[i] = (int64_t)dim;
    }
    uint64_t nbytes;
    if (__builtin_mul_overflow(numel, (uint64_t)st_dtype_size(dt), &nbytes))
        return mama_errorf(MAMA_EFORMAT, "%s: tensor '%s': byte size overflows", path, name);
    uint64_t begin, end;
    if (!json_is_array(jo) || json_array_size(jo) != 2 ||
        !json_to_u64(json_array_get(jo, 0), &begin) || !json_to_u64(json_array_get(jo, 1), &end))
        return mama_errorf(MAMA_EFORMAT,
                           "%s: tensor '%s': \"data_offsets\" must be [begin, end] with "
                           "integers >= 0",
                           path, name);
    if (begin > end)
        return mama_errorf(MAMA_EFORMAT, "%s: tensor '%s': data_offsets begin %llu > end %llu",
                           path, name, (unsigned long long)begin, (unsigned long long)end);
    if (end > data_size)
        return mama_errorf(MAMA_EFORMAT,
                           "%s: tensor '%s': data_offsets [%llu, %llu] run past the data area "
                           "(%llu bytes); the file is truncated or corrupt",
                           path, name, (unsigned long long)begin, (unsigned long long)end,
                           (unsigned long long)data_size);
    if (end - begin != nbytes)
        return mama_errorf(MAMA_EFORMAT,
                           "%s: tensor '%s': %llu bytes in data_offsets but dtype %s x %llu "
                           "elements needs %llu",
                           path, name, (unsigned long long)(end - begin), st_dtype_name(dt),
                           (unsigned long long)numel, (unsigned long long)nbytes);
    t->name = st_impl_dup_str(name);
    if (!t->name) return mama_errorf(MAMA_ENOMEM, "%s: out of memory", path);
    t->dtype = dt;
    t->ndim = (int)ndim;
    t->numel = (int64_t)numel;
    t->data = data + begin;
    t->nbytes = (size_t)nbytes;
    return MAMA_OK;
}

/* Adds the string entries of a __metadata__ object (or stringified values of an index's
 * "metadata") to f->metadata, first writer wins. strict: non-strings are an error. */
mama_status st_impl_merge_metadata(st_file *f, const char *path, json_t *m, int strict) {
    if (!json_is_object(m))
        return mama_errorf(MAMA_EFORMAT, "%s: \"__metadata__\" is not a JSON object", path);
    const char *key;
    json_t *val;
    json_object_foreach(m, key, val) {
        if (json_object_get(f->metadata, key)) continue;
        json_t *s = NULL;
        if (json_is_string(val)) {
            s = json_string(json_string_value(val));
        } else if (strict) {
            return mama_errorf(MAMA_EFORMAT,
                               "%s: __metadata__ value of '%s' is not a string (safetensors "
                               "metadata maps strings to strings)",
                               path, key);
        } else {
            char *txt = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
            if (!txt) return mama_errorf(MAMA_ENOMEM, "%s: out of memory", path);
            s = json_string(txt);
            free(txt);
        }
        if (!s || json_object_set_new(f->metadata, key, s) != 0)
            return mama_errorf(MAMA_ENOMEM, "%s: out of memory for metadata", path);
    }
    return MAMA_OK;
}

static const st_tensor *find_in(const st_file *f, int n, const char *name) {
    if (n == 0) return NULL;
    st_tensor key;
    key.name = name;
    return bsearch(&key, f->tensors, (size_t)n, sizeof *f->tensors, cmp_tensor_name);
}

/* Parses and validates one safetensors image s->map (s->size bytes), appending its tensors
 * to f. */
static mama_status parse_shard(st_file *f, shard *s) {
    mama_status rc;
    if (s->size < 8)
        return mama_errorf(MAMA_EFORMAT,
                           "%s: %zu bytes, too short for a safetensors file (8-byte header "
                           "length missing); the file is truncated or not safetensors",
                           s->path, s->size);
    const unsigned char *p = s->map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | p[i];
    if (hlen == 0 || hlen > s->size - 8)
        return mama_errorf(MAMA_EFORMAT,
                           "%s: header length %llu does not fit the file (%zu bytes); the "
                           "file is truncated or not safetensors",
                           s->path, (unsigned long long)hlen, s->size);
    if (hlen > HEADER_MAX)
        return mama_errorf(MAMA_EFORMAT, "%s: header length %llu exceeds the %u-byte limit",
                           s->path, (unsigned long long)hlen, HEADER_MAX);
    json_error_t err;
    json_t *root = json_loadb((const char *)p + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return mama_errorf(MAMA_EFORMAT, "%s: header is not valid JSON (byte %d: %s)", s->path,
                           err.position, err.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return mama_errorf(MAMA_EFORMAT, "%s: header is not a JSON object", s->path);
    }
    const unsigned char *data = p + 8 + hlen;
    uint64_t data_size = s->size - 8 - hlen;
    size_t n = json_object_size(root);
    span *spans = malloc((n ? n : 1) * sizeof *spans);
    if (!spans) {
        json_decref(root);
        return mama_errorf(MAMA_ENOMEM, "%s: out of memory", s->path);
    }
    size_t nspans = 0;
    int base = f->count; /* tensors of earlier shards, sorted */
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            rc = st_impl_merge_metadata(f, s->path, val, 1);
            if (rc != MAMA_OK) goto done;
            continue;
        }
        if (find_in(f, base, key)) {
            rc = mama_errorf(MAMA_EFORMAT, "%s: tensor '%s' appears in more than one shard",
                             s->path, key);
            goto done;
        }
        st_tensor t;
        rc = parse_entry(s->path, key, val, data, data_size, &t);
        if (rc != MAMA_OK) goto done;
        rc = push_tensor(f, &t);
        if (rc != MAMA_OK) {
            free((char *)t.name);
            goto done;
        }
        const st_tensor *added = &f->tensors[f->count - 1];
        spans[nspans].begin = (uint64_t)((const unsigned char *)added->data - data);
        spans[nspans].end = spans[nspans].begin + added->nbytes;
        spans[nspans].name = added->name;
        nspans++;
    }
    qsort(spans, nspans, sizeof *spans, cmp_span);
    /* sorted by begin: a non-empty span overlaps an earlier one iff it starts before the
       end of the last non-empty span (empty tensors own no bytes); linear time */
    const span *last = NULL;
    for (size_t i = 0; i < nspans; i++) {
        if (spans[i].begin == spans[i].end) continue;
        if (last && last->end > spans[i].begin) {
            rc = mama_errorf(MAMA_EFORMAT,
                             "%s: tensor '%s' [%llu, %llu] overlaps tensor '%s' [%llu, %llu]",
                             s->path, spans[i].name, (unsigned long long)spans[i].begin,
                             (unsigned long long)spans[i].end, last->name,
                             (unsigned long long)last->begin, (unsigned long long)last->end);
            goto done;
        }
        last = &spans[i];
    }
    /* keep the table sorted so that st_find (bsearch) works while later shards load */
    qsort(f->tensors, (size_t)f->count, sizeof *f->tensors, cmp_tensor_name);
done:
    free(spans);
    json_decref(root);
    return rc;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}
mama_status st_impl_add_shard(st_file *f, const char *path) {
    shard *ns = realloc(f->shards, (size_t)(f->nshards + 1) * sizeof *ns);
    if (!ns) return mama_errorf(MAMA_ENOMEM, "%s: out of memory", path);
    f->shards = ns;
    shard *s = &f->shards[f->nshards];
    memset(s, 0, sizeof *s);
    s->path = st_impl_dup_str(path);
    if (!s->path) return mama_errorf(MAMA_ENOMEM, "%s: out of memory", path);
    f->nshards++;
    mama_status rc = map_file(s->path, s);
    if (rc != MAMA_OK) return rc;
    s->mapped = 1;
    return parse_shard(f, s);
}
mama_status st_open(const char *path, st_file **out_file) {
    *out_file = NULL;
    st_file *f = calloc(1, sizeof *f);
    if (!f) return mama_errorf(MAMA_ENOMEM, "%s: out of memory", path);
    f->path = st_impl_dup_str(path);
    f->metadata = json_object();
    mama_status rc;
    if (!f->path || !f->metadata) {
        rc = mama_errorf(MAMA_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    rc = ends_with(path, ".index.json") ? st_impl_open_index(f) : st_impl_add_shard(f, path);
    if (rc != MAMA_OK) goto fail;
    *out_file = f;
    return MAMA_OK;
fail:
    st_close(f);
    return rc;
}

mama_status st_open_memory(const void *data, size_t size, const char *name,
                           st_file **out_file) {
    *out_file = NULL;
    st_file *f = calloc(1, sizeof *f);
    if (!f) return mama_errorf(MAMA_ENOMEM, "%s: out of memory", name);
    f->path = st_impl_dup_str(name);
    f->metadata = json_object();
    f->shards = calloc(1, sizeof *f->shards);
    mama_status rc;
    if (!f->path || !f->metadata || !f->shards || !(f->shards[0].path = st_impl_dup_str(name))) {
        rc = mama_errorf(MAMA_ENOMEM, "%s: out of memory", name);
        goto fail;
    }
    f->nshards = 1;
    f->shards[0].map = (void *)data;
    f->shards[0].size = size;
    rc = parse_shard(f, &f->shards[0]);
    if (rc != MAMA_OK) goto fail;
    *out_file = f;
    return MAMA_OK;
fail:
    st_close(f);
    return rc;
}

void st_close(st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->count; i++) free((char *)f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < f->nshards; i++) {
        if (f->shards[i].mapped) munmap(f->shards[i].map, f->shards[i].size);
        free(f->shards[i].path);
    }
    free(f->shards);
    json_decref(f->metadata);
    free(f->path);
    free(f);
}

int st_count(const st_file *f) { return f->count; }

const st_tensor *st_at(const st_file *f, int i) {
    return i >= 0 && i < f->count ? &f->tensors[i] : NULL;
}

const st_tensor *st_find(const st_file *f, const char *name) {
    return find_in(f, f->count, name);
}

const char *st_metadata(const st_file *f, const char *key) {
    return json_string_value(json_object_get(f->metadata, key));
}

int st_metadata_count(const st_file *f) { return (int)json_object_size(f->metadata); }

const char *st_metadata_key(const st_file *f, int i) {
    int k = 0;
    const char *key;
    json_t *val;
    json_object_foreach(f->metadata, key, val) {
        (void)val;
        if (k++ == i) return key;
    }
    return NULL;
}

const char *st_path(const st_file *f) { return f->path; }

static void shape_text(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t u = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && u < cap; i++)
        u += (size_t)snprintf(buf + u, cap - u, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (u < cap) snprintf(buf + u, cap - u, "]");
}

static mama_status convert_f32(const st_file *f, const st_tensor *t, float *dst) {
    size_t n = (size_t)t->numel;
    switch (t->dtype) {
    case ST_F32: memcpy(dst, t->data, n * sizeof(float)); return MAMA_OK;
    case ST_BF16: dtype_bf16_to_f32_n(dst, t->data, n); return MAMA_OK;
    case ST_F16: dtype_f16_to_f32_n(dst, t->data, n); return MAMA_OK;
    case ST_F64: {
        const unsigned char *s = t->data;
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, s + 8 * i, 8);
            dst[i] = (float)d;
        }
        return MAMA_OK;
    }
    default: break;
    }
    return mama_errorf(MAMA_EDTYPE, "%s: tensor '%s' has dtype %s, not a float type", f->path,
                       t->name, st_dtype_name(t->dtype));
}

mama_status st_read_f32(const st_file *f, const char *name, float *dst, int ndim,
                        const int64_t *shape) {
    const st_tensor *t = st_find(f, name);
    if (!t) return mama_errorf(MAMA_ENOTFOUND, "%s: tensor '%s' not found", f->path, name);
    if (shape) {
        int same = t->ndim == ndim;
        for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
        if (!same) {
            char want[256], got[256];
            shape_text(want, sizeof want, ndim, shape);
            shape_text(got, sizeof got, t->ndim, t->shape);
            return mama_errorf(MAMA_ESHAPE, "%s: tensor '%s' has shape %s, expected %s",
                               f->path, name, got, want);
        }
    }
    return convert_f32(f, t, dst);
}

mama_status st_read_f32_n(const st_file *f, const char *name, float *dst, int64_t numel) {
    const st_tensor *t = st_find(f, name);
    if (!t) return mama_errorf(MAMA_ENOTFOUND, "%s: tensor '%s' not found", f->path, name);
    if (t->numel != numel) {
        char got[256];
        shape_text(got, sizeof got, t->ndim, t->shape);
        return mama_errorf(MAMA_ESHAPE, "%s: tensor '%s' has shape %s (%lld elements), expected "
                           "%lld elements", f->path, name, got, (long long)t->numel,
                           (long long)numel);
    }
    return convert_f32(f, t, dst);
}
