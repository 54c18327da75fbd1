/* hf_config.c: reads a Hugging Face checkpoint's config.json and tensors (see hf_config.h). */
#include "engine/core/hf_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mama_status hf_config_read(const char *weights_path, const char *config_path,
                           char **out_text) {
    char cpath[4096];
    if (!config_path) {
        const char *slash = strrchr(weights_path, '/');
        int dir = slash ? (int)(slash - weights_path) + 1 : 0;
        snprintf(cpath, sizeof cpath, "%.*sconfig.json", dir, weights_path);
        config_path = cpath;
    }
    FILE *fp = fopen(config_path, "rb");
    if (!fp)
        return mama_errorf(MAMA_EIO, "%s: cannot open the model's config.json (it must sit "
                           "beside the weights or be given explicitly)", config_path);
    char *buf = NULL;
    long n = -1;
    if (fseek(fp, 0, SEEK_END) == 0) n = ftell(fp);
    if (n < 0 || n > (16l << 20) || fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        return mama_errorf(MAMA_EIO, "%s: cannot size the file (or larger than 16 MiB)",
                           config_path);
    }
    buf = malloc((size_t)n + 1);
    if (!buf) { fclose(fp); return mama_errorf(MAMA_ENOMEM, "%s: out of memory", config_path); }
    if (fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        fclose(fp);
        return mama_errorf(MAMA_EIO, "%s: short read", config_path);
    }
    fclose(fp);
    buf[n] = 0;
    *out_text = buf;
    return MAMA_OK;
}

mama_status hf_config_parse(const char *json_text, const char *family, json_t **out_root) {
    json_error_t err;
    json_t *root = json_loads(json_text ? json_text : "", 0, &err);
    if (!root || !json_is_object(root)) {
        if (root) json_decref(root);
        return mama_errorf(MAMA_EFORMAT, "%s config: not a JSON object (line %d: %s)", family,
                           err.line, err.text);
    }
    *out_root = root;
    return MAMA_OK;
}

int hf_config_int(json_t *root, const char *key, int dflt) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return dflt;
    if (!json_is_integer(v)) return -1;
    json_int_t x = json_integer_value(v);
    return (x < 0 || x > 0x7fffffff) ? -1 : (int)x;
}

float hf_config_float(json_t *root, const char *key, float dflt) {
    json_t *v = json_object_get(root, key);
    return json_is_number(v) ? (float)json_number_value(v) : dflt;
}

void hf_config_ints(json_t *root, const hf_int_field *fields, int n) {
    for (int i = 0; i < n; i++) *fields[i].dst = hf_config_int(root, fields[i].key, fields[i].dflt);
}

mama_status hf_config_expect(json_t *root, const char *family, const char *key,
                             const char *const *allowed, const char *why) {
    json_t *v = json_object_get(root, key);
    if (!json_is_string(v)) return MAMA_OK;
    for (const char *const *a = allowed; *a; a++)
        if (strcmp(json_string_value(v), *a) == 0) return MAMA_OK;
    return mama_errorf(MAMA_EUNSUPPORTED, "%s config: %s '%s' is not supported (%s)", family,
                       key, json_string_value(v), why);
}

mama_status hf_read_tensor(const st_file *f, const char *family, const char *prefix,
                           const char *name, float *dst, int ndim, int64_t d0, int64_t d1) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    if (!st_find(f, full))
        return mama_errorf(MAMA_ENOTFOUND, "%s weights: tensor '%s' missing (is this a "
                           "%s-family checkpoint matching config.json?)", family, full, family);
    int64_t shape[2] = {d0, d1};
    return st_read_f32(f, full, dst, ndim, shape);
}
