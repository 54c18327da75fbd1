/* safetensors.h: reading (mmap, validated) and writing safetensors files.
 *
 * Format: u64 little-endian header length N, N bytes of JSON
 *   {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"key": "string value", ...}}
 * then the data area; offsets are relative to the start of the data area.
 * st_open validates everything before returning: header length within the file, JSON
 * well formed, each dtype known, end - begin == numel * dtype size, offsets inside the
 * data area, no two tensors overlapping. Any violation is MAMA_EFORMAT with a message
 * naming the file and tensor; nothing is ever read out of bounds.
 * A path ending in ".index.json" (HF sharded checkpoints, {"weight_map": {name: file}})
 * opens every shard and presents them as one file.
 * Tensors are listed (st_at) sorted by name. Tensor data may be unaligned when a foreign
 * writer did not pad its header: read through st_read_f32 or memcpy, never by casting.
 * The writer orders data by element size then name, pads the header to 8 bytes and leaves
 * no gaps, so files it writes have every tensor aligned to its element size. */
#ifndef MAMA_SAFETENSORS_H
#define MAMA_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum st_dtype {
    ST_F32, ST_F16, ST_BF16, ST_F64, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL,
} st_dtype;

#define ST_MAX_DIMS 8

typedef struct st_tensor {
    const char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    int64_t numel;
    const void *data;   /* points into the mapping; valid until st_close */
    size_t nbytes;
} st_tensor;

typedef struct st_file st_file;

size_t st_dtype_size(st_dtype dt);
const char *st_dtype_name(st_dtype dt);

mama_status st_open(const char *path, st_file **out_file);
void st_close(st_file *f);
/* Same validation on a safetensors image in memory (size bytes, borrowed: it must outlive
 * the st_file). `name` is used in messages. For fuzzing and embedded models. */
mama_status st_open_memory(const void *data, size_t size, const char *name,
                           st_file **out_file);

int st_count(const st_file *f);
const st_tensor *st_at(const st_file *f, int i);
const st_tensor *st_find(const st_file *f, const char *name);  /* NULL when absent */

/* __metadata__ value for key, or NULL. */
const char *st_metadata(const st_file *f, const char *key);

/* Copies tensor `name` into dst as fp32 (converting F16/BF16/F64). The tensor must have
 * exactly `numel` elements and, when shape is not NULL, exactly that shape of ndim dims;
 * otherwise MAMA_ESHAPE naming the tensor, expected and found shapes.
 * (shape NULL: no check; dst must then hold st_find(f, name)->numel floats. Prefer a shape
 * or st_read_f32_n.) MAMA_ENOTFOUND when absent, MAMA_EDTYPE for non-float dtypes. */
mama_status st_read_f32(const st_file *f, const char *name, float *dst, int ndim,
                        const int64_t *shape);
/* Same, checking only the element count (e.g. a [C] bias stored as [1, C]). */
mama_status st_read_f32_n(const st_file *f, const char *name, float *dst, int64_t numel);

/* The path given to st_open; __metadata__ keys in file order (i in 0..count-1). With an
 * index, the shards' __metadata__ come first, then the index's "metadata" (values that are
 * not strings, such as total_size, as compact JSON text). */
const char *st_path(const st_file *f);
int st_metadata_count(const st_file *f);
const char *st_metadata_key(const st_file *f, int i);

/* Writer: collects tensors (copied at add time) and metadata, then writes the file
 * atomically (temp file, fsync, rename). */
typedef struct st_writer st_writer;
mama_status st_writer_create(st_writer **out_w);
mama_status st_writer_add(st_writer *w, const char *name, st_dtype dtype, int ndim,
                          const int64_t *shape, const void *data);
mama_status st_writer_add_f32(st_writer *w, const char *name, int ndim, const int64_t *shape,
                              const float *data);
mama_status st_writer_set_metadata(st_writer *w, const char *key, const char *value);
mama_status st_writer_save(st_writer *w, const char *path);
void st_writer_destroy(st_writer *w);

#ifdef __cplusplus
}
#endif
#endif
