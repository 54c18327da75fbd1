/* safetensors_impl.h: internals shared by the reader (safetensors.c), the shard index
 * (safetensors_index.c) and the writer (safetensors_writer.c); not part of the API. */
#ifndef MAMA_SAFETENSORS_IMPL_H
#define MAMA_SAFETENSORS_IMPL_H

#include <jansson.h>

#include "engine/core/safetensors.h"

typedef struct shard {
    char *path;
    void *map;
    size_t size;
    int mapped; /* 1: map is ours (munmap); 0: borrowed (st_open_memory) */
} shard;

struct st_file {
    char *path;
    shard *shards;
    int nshards;
    st_tensor *tensors; /* sorted by name; names owned (char *) */
    int count;
    int cap;
    json_t *metadata; /* object of strings, never NULL after open */
};

/* strdup that reports failure as NULL (the callers turn it into MAMA_ENOMEM). */
char *st_impl_dup_str(const char *s);
/* Maps and validates one file as the next shard of f, adding its tensors. */
mama_status st_impl_add_shard(st_file *f, const char *path);
/* Merges a metadata object m (from path) into f's; strict: values must be strings. */
mama_status st_impl_merge_metadata(st_file *f, const char *path, json_t *m, int strict);
/* Opens f->path as an HF .index.json: every shard it names, beside the index. */
mama_status st_impl_open_index(st_file *f);

#endif
