/* strmap.h: a string -> int32 hash map (open addressing, FNV-1a, linear probing) for
 * vocabularies and caches. Keys are byte strings with a length (not necessarily
 * NUL-terminated) and are copied in. Not thread-safe for concurrent writers. */
#ifndef MAMA_STRMAP_H
#define MAMA_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct strmap strmap;

mama_status strmap_create(size_t expected, strmap **out_map);
void strmap_free(strmap *m);
/* Inserts or overwrites key -> value. */
mama_status strmap_put(strmap *m, const char *key, size_t len, int32_t value);
/* 1 and *out_value when found, else 0. */
int strmap_get(const strmap *m, const char *key, size_t len, int32_t *out_value);
size_t strmap_count(const strmap *m);
/* Removes every entry (keeps the table size). */
void strmap_clear(strmap *m);

#ifdef __cplusplus
}
#endif
#endif
