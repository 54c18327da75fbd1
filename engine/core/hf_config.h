/* hf_config.h: reading a Hugging Face checkpoint: finding and parsing its config.json
 * next to the weights, and reading its named tensors with the shape the config implies.
 * Shared by the BERT (bert.c) and GPT-2 (gpt2_load.c) towers. */
#ifndef MAMA_HF_CONFIG_H
#define MAMA_HF_CONFIG_H

#include <jansson.h>
#include <stdint.h>

#include "engine/core/safetensors.h"
#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads config_path, or when it is NULL the config.json in the directory of weights_path,
 * into *out_text (NUL-terminated, caller frees). MAMA_EIO names the path tried. */
mama_status hf_config_read(const char *weights_path, const char *config_path,
                           char **out_text);

/* Parses config text (NULL: empty) into *out_root, a JSON object the caller frees with
 * json_decref. MAMA_EFORMAT "<family> config: not a JSON object (line N: ...)". */
mama_status hf_config_parse(const char *json_text, const char *family, json_t **out_root);

/* Integer field `key` of a parsed config: dflt when absent or null, -1 (invalid) when
 * not an integer in 0..INT_MAX. */
int hf_config_int(json_t *root, const char *key, int dflt);

/* Float field `key`: dflt when absent or not a number. */
float hf_config_float(json_t *root, const char *key, float dflt);

/* One integer field: where it goes and its default when absent (hf_config_int). */
typedef struct hf_int_field {
    const char *key;
    int *dst;
    int dflt;
} hf_int_field;
void hf_config_ints(json_t *root, const hf_int_field *fields, int n);

/* String field `key` must be absent or one of `allowed` (NULL-terminated); else
 * MAMA_EUNSUPPORTED "<family> config: <key> '<value>' is not supported (<why>)". */
mama_status hf_config_expect(json_t *root, const char *family, const char *key,
                             const char *const *allowed, const char *why);

/* Reads tensor prefix+name of f into dst, checked against shape (d0) when ndim is 1 or
 * (d0, d1) when ndim is 2. MAMA_ENOTFOUND names the tensor and the model family
 * ("BERT", "GPT-2") when it is missing; else as st_read_f32. */
mama_status hf_read_tensor(const st_file *f, const char *family, const char *prefix,
                           const char *name, float *dst, int ndim, int64_t d0, int64_t d1);

#ifdef __cplusplus
}
#endif
#endif
