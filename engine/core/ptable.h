/* ptable.h: the engine's one way to lay out tensors in memory: a table of named entries
 * (name, dtype, shape) placed at 64-byte-aligned offsets in ONE block.
 *
 * The table is the layout; blocks are separate. One table serves every block of the same
 * layout (llm.c style): a tower's parameters, their gradients and the optimiser's two
 * moments are four blocks of one table; a tower's activations are a block of a second
 * table rebuilt only when the batch shape changes. The table never touches the memory it
 * describes (ptable_point only computes addresses), so a device block of t->bytes from
 * cudaMalloc is pointed the same way; ptable_retype gives the bf16 layout of a table.
 *
 *   ptable t; ptable_init(&t);
 *   ptable_add(&t, "qkvw", MAMA_F32, PTABLE_SLOT(vit_params, qkvw), PTABLE_SHAPE(L, 3 * C, C));
 *   ...                         (errors are sticky: no check after each add)
 *   rc = ptable_layout(&t);     (offsets; MAMA_EINVAL/ENOMEM naming the entry)
 *   rc = ptable_alloc(&t, &block);  ptable_point(&t, block, &m->params);
 *   rc = ptable_alloc(&t, &grads);  ptable_point(&t, grads, &m->grads);   (same layout)
 *
 * A slot is where an entry's address goes: the offset of a pointer member in the tower's
 * own pointer struct (PTABLE_SLOT), so the hot loops use plain pointers, no lookups.
 * Entries with no elements take no space and are pointed to NULL. */
#ifndef MAMA_PTABLE_H
#define MAMA_PTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/dtype.h"
#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PTABLE_ALIGN 64
#define PTABLE_MAX_DIMS 4
#define PTABLE_NO_SLOT ((size_t)-1)
/* Slot of pointer member `field` of struct type `type` (array members: field[i]). */
#define PTABLE_SLOT(type, field) offsetof(type, field)
/* ndim and shape array from a list of sizes: PTABLE_SHAPE(L, C) -> 2, (int64_t[]){L, C}. */
#define PTABLE_SHAPE(...)                                                                  \
    (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__}

typedef struct ptable_entry {
    const char *name;   /* not owned: a literal, or a string that outlives the table */
    mama_dtype dtype;
    int ndim;
    int64_t shape[PTABLE_MAX_DIMS];
    size_t numel;
    size_t nbytes;      /* numel * dtype size */
    size_t offset;      /* bytes from the block's start; a multiple of PTABLE_ALIGN */
    size_t slot;        /* PTABLE_SLOT in the pointer struct, or PTABLE_NO_SLOT */
} ptable_entry;

typedef struct ptable {
    ptable_entry *e;
    int n, cap;
    size_t bytes;       /* after ptable_layout: end of the last entry, the size of a block */
    size_t numel;       /* after ptable_layout: elements of all entries (no padding) */
    mama_status err;    /* first error of an add, returned by ptable_layout */
} ptable;

void ptable_init(ptable *t);
/* Frees the entry array (not any block). The table is empty and reusable afterwards. */
void ptable_free(ptable *t);
/* Drops the entries (keeps the array) to build a new layout, e.g. for a new batch shape. */
void ptable_clear(ptable *t);

/* Appends an entry; returns its index, or -1 after recording the error (a negative dim,
 * ndim outside 1..PTABLE_MAX_DIMS, an element count overflowing size_t, no memory).
 * Dims of 0 are allowed (the entry is empty). Names should be unique (ptable_find). */
int ptable_add(ptable *t, const char *name, mama_dtype dtype, size_t slot, int ndim,
               const int64_t *shape);

/* Computes the offsets and t->bytes; returns the first add error, or MAMA_ENOMEM when the
 * block size overflows. */
mama_status ptable_layout(ptable *t);

/* A zeroed host block of t->bytes, 64-byte aligned (one byte-range per entry); free with
 * ptable_block_free. Call again for a second block of the same layout (gradients, moments). */
mama_status ptable_alloc(const ptable *t, void **out_block);
void ptable_block_free(void *block);

/* Writes each slotted entry's address in `block` into the pointer struct `slots`. */
void ptable_point(const ptable *t, void *block, void *slots);

/* The three steps of an owner: ptable_layout, ptable_alloc, ptable_point (slots may be
 * NULL). *out_block is NULL on failure. */
mama_status ptable_make(ptable *t, void **out_block, void *slots);

/* Index of the entry named `name`, -1 when none. */
int ptable_find(const ptable *t, const char *name);
/* Address of entry i in block (NULL for an empty entry or i out of range). */
void *ptable_ptr(const ptable *t, void *block, int i);
/* Index of the entry whose bytes in block hold address p, -1 when none (padding, outside). */
int ptable_entry_of(const ptable *t, const void *block, const void *p);

/* dst = src's entries with every floating-point entry in dtype (e.g. MAMA_BF16 for a
 * device copy), laid out. dst is initialised by the call; free it with ptable_free. */
mama_status ptable_retype(ptable *dst, const ptable *src, mama_dtype dtype);

#ifdef __cplusplus
}
#endif
#endif
