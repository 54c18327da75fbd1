/* strmap.c: string -> int32 hash map; see strmap.h. */
#include "engine/core/strmap.h"

#include <stdlib.h>
#include <string.h>

typedef struct slot {
    char *key;   /* NULL = empty */
    size_t len;
    uint64_t hash;
    int32_t value;
} slot;

struct strmap {
    slot *slots;
    size_t cap;   /* power of two */
    size_t count;
};

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

mama_status strmap_create(size_t expected, strmap **out_map) {
    strmap *m = calloc(1, sizeof *m);
    if (!m) return mama_errorf(MAMA_ENOMEM, "strmap: out of memory");
    m->cap = 16;
    while (m->cap < expected * 2) m->cap *= 2;
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots) { free(m); return mama_errorf(MAMA_ENOMEM, "strmap: out of memory"); }
    *out_map = m;
    return MAMA_OK;
}

void strmap_clear(strmap *m) {
    if (!m) return;
    for (size_t i = 0; i < m->cap; i++) { free(m->slots[i].key); m->slots[i].key = NULL; }
    m->count = 0;
}

void strmap_free(strmap *m) {
    if (!m) return;
    strmap_clear(m);
    free(m->slots);
    free(m);
}

static slot *find(const strmap *m, const char *key, size_t len, uint64_t h) {
    size_t i = h & (m->cap - 1);
    for (;;) {
        slot *s = &m->slots[i];
        if (!s->key || (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)) return s;
        i = (i + 1) & (m->cap - 1);
    }
}

static mama_status grow(strmap *m) {
    size_t old_cap = m->cap;
    slot *old = m->slots;
    slot *fresh = calloc(old_cap * 2, sizeof *fresh);
    if (!fresh) return mama_errorf(MAMA_ENOMEM, "strmap: out of memory growing to %zu slots", old_cap * 2);
    m->slots = fresh;
    m->cap = old_cap * 2;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key) *find(m, old[i].key, old[i].len, old[i].hash) = old[i];
    free(old);
    return MAMA_OK;
}

mama_status strmap_put(strmap *m, const char *key, size_t len, int32_t value) {
    if ((m->count + 1) * 2 > m->cap) {
        mama_status rc = grow(m);
        if (rc) return rc;
    }
    uint64_t h = fnv1a(key, len);
    slot *s = find(m, key, len, h);
    if (s->key) { s->value = value; return MAMA_OK; }
    s->key = malloc(len + 1);
    if (!s->key) return mama_errorf(MAMA_ENOMEM, "strmap: out of memory");
    memcpy(s->key, key, len);
    s->key[len] = 0;
    s->len = len;
    s->hash = h;
    s->value = value;
    m->count++;
    return MAMA_OK;
}

int strmap_get(const strmap *m, const char *key, size_t len, int32_t *out_value) {
    const slot *s = find(m, key, len, fnv1a(key, len));
    if (!s->key) return 0;
    *out_value = s->value;
    return 1;
}

size_t strmap_count(const strmap *m) { return m->count; }
