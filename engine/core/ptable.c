/* ptable.c: tensor tables laid out in one aligned block (see ptable.h). */
#include "engine/core/ptable.h"

#include <stdlib.h>
#include <string.h>

void ptable_init(ptable *t) { memset(t, 0, sizeof *t); }

void ptable_free(ptable *t) {
    free(t->e);
    ptable_init(t);
}

void ptable_clear(ptable *t) {
    t->n = 0;
    t->bytes = t->numel = 0;
    t->err = MAMA_OK;
}

/* Records the first error only: later ones are usually its consequences. */
static int fail(ptable *t, mama_status rc) {
    if (t->err == MAMA_OK) t->err = rc;
    return -1;
}

int ptable_add(ptable *t, const char *name, mama_dtype dtype, size_t slot, int ndim,
               const int64_t *shape) {
    if (!name) name = "?";
    if (ndim < 1 || ndim > PTABLE_MAX_DIMS)
        return fail(t, mama_errorf(MAMA_EINVAL, "tensor table: '%s' has %d dims (1..%d)",
                                   name, ndim, PTABLE_MAX_DIMS));
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return fail(t, mama_errorf(MAMA_EINVAL, "tensor table: '%s' dim %d is %lld",
                                       name, i, (long long)shape[i]));
        if ((uint64_t)shape[i] > SIZE_MAX ||
            (shape[i] && numel > SIZE_MAX / (size_t)shape[i]))
            return fail(t, mama_errorf(MAMA_ENOMEM, "tensor table: '%s' element count "
                                       "overflows", name));
        numel *= (size_t)shape[i];
    }
    size_t es = dtype_size(dtype);
    if (numel > SIZE_MAX / es)
        return fail(t, mama_errorf(MAMA_ENOMEM, "tensor table: '%s' byte size overflows",
                                   name));
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 32;
        ptable_entry *e = realloc(t->e, (size_t)cap * sizeof *e);
        if (!e) return fail(t, mama_errorf(MAMA_ENOMEM, "tensor table: out of memory"));
        t->e = e;
        t->cap = cap;
    }
    ptable_entry *e = &t->e[t->n];
    memset(e, 0, sizeof *e);
    e->name = name;
    e->dtype = dtype;
    e->ndim = ndim;
    memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
    e->numel = numel;
    e->nbytes = numel * es;
    e->slot = slot;
    return t->n++;
}

mama_status ptable_layout(ptable *t) {
    if (t->err != MAMA_OK) return t->err;
    size_t off = 0, numel = 0;
    for (int i = 0; i < t->n; i++) {
        ptable_entry *e = &t->e[i];
        size_t start = (off + PTABLE_ALIGN - 1) / PTABLE_ALIGN * PTABLE_ALIGN;
        if (start < off || e->nbytes > SIZE_MAX - start)
            return t->err = mama_errorf(MAMA_ENOMEM, "tensor table: block size overflows at "
                                        "'%s'", e->name);
        e->offset = start;
        if (e->nbytes) off = start + e->nbytes;
        numel += e->numel;
    }
    t->bytes = off;
    t->numel = numel;
    return MAMA_OK;
}

mama_status ptable_alloc(const ptable *t, void **out_block) {
    *out_block = NULL;
    size_t bytes = (t->bytes + PTABLE_ALIGN - 1) / PTABLE_ALIGN * PTABLE_ALIGN;
    if (bytes < t->bytes) return mama_errorf(MAMA_ENOMEM, "tensor table: size overflow");
    if (bytes == 0) bytes = PTABLE_ALIGN;   /* a valid block even for an empty table */
    void *b = aligned_alloc(PTABLE_ALIGN, bytes);
    if (!b)
        return mama_errorf(MAMA_ENOMEM, "cannot allocate %zu bytes (%.1f MB) for %d tensors",
                           bytes, bytes / 1e6, t->n);
    memset(b, 0, bytes);
    *out_block = b;
    return MAMA_OK;
}

void ptable_block_free(void *block) { free(block); }

void *ptable_ptr(const ptable *t, void *block, int i) {
    if (i < 0 || i >= t->n || !block || t->e[i].nbytes == 0) return NULL;
    return (char *)block + t->e[i].offset;
}

void ptable_point(const ptable *t, void *block, void *slots) {
    for (int i = 0; i < t->n; i++) {
        if (t->e[i].slot == PTABLE_NO_SLOT) continue;
        void *p = ptable_ptr(t, block, i);
        /* memcpy: the member is a float * or int *, not a void * */
        memcpy((char *)slots + t->e[i].slot, &p, sizeof p);
    }
}

mama_status ptable_make(ptable *t, void **out_block, void *slots) {
    *out_block = NULL;
    mama_status rc = ptable_layout(t);
    if (rc == MAMA_OK) rc = ptable_alloc(t, out_block);
    if (rc == MAMA_OK && slots) ptable_point(t, *out_block, slots);
    return rc;
}

int ptable_find(const ptable *t, const char *name) {
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->e[i].name, name) == 0) return i;
    return -1;
}

int ptable_entry_of(const ptable *t, const void *block, const void *p) {
    uintptr_t b = (uintptr_t)block, q = (uintptr_t)p;
    if (!block || q < b) return -1;
    size_t off = q - b;
    for (int i = 0; i < t->n; i++)
        if (off >= t->e[i].offset && off - t->e[i].offset < t->e[i].nbytes) return i;
    return -1;
}

mama_status ptable_retype(ptable *dst, const ptable *src, mama_dtype dtype) {
    ptable_init(dst);
    for (int i = 0; i < src->n; i++) {
        const ptable_entry *e = &src->e[i];
        mama_dtype dt = dtype_is_float(e->dtype) ? dtype : e->dtype;
        ptable_add(dst, e->name, dt, e->slot, e->ndim, e->shape);
    }
    mama_status rc = ptable_layout(dst);
    if (rc != MAMA_OK) ptable_free(dst);
    return rc;
}
