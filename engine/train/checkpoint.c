/* checkpoint.c: training state <-> one safetensors file (see checkpoint.h). */
#include "engine/train/checkpoint.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/safetensors.h"

#define CKPT_VERSION 1

mama_status ckpt_set_rng(ckpt_state *s, const char *name, const mama_rng *rng) {
    if (strlen(name) >= CKPT_NAME_MAX) return mama_errorf(MAMA_EINVAL, "checkpoint: RNG name '%s' too long", name);
    int i = 0;
    while (i < s->n_rng && strcmp(s->rng_name[i], name) != 0) i++;
    if (i == s->n_rng) {
        if (s->n_rng == CKPT_MAX_RNG) return mama_errorf(MAMA_EINVAL, "checkpoint: more than %d RNGs", CKPT_MAX_RNG);
        s->n_rng++;
        snprintf(s->rng_name[i], CKPT_NAME_MAX, "%s", name);
    }
    s->rng[i] = *rng;
    return MAMA_OK;
}

mama_status ckpt_get_rng(const ckpt_state *s, const char *name, mama_rng *out) {
    for (int i = 0; i < s->n_rng; i++)
        if (!strcmp(s->rng_name[i], name)) {
            *out = s->rng[i];
            return MAMA_OK;
        }
    return mama_errorf(MAMA_ENOTFOUND, "checkpoint: no RNG state named '%s'", name);
}

static char *state_json(const ckpt_state *s) {
    json_t *j = json_object(), *r = json_object();
    json_object_set_new(j, "version", json_integer(CKPT_VERSION));
    json_object_set_new(j, "step", json_integer(s->step));
    json_object_set_new(j, "data_position", json_integer(s->data_position));
    json_object_set_new(j, "bad_images", json_integer(s->bad_images));
    json_object_set_new(j, "nan_streak", json_integer(s->nan_streak));
    json_object_set_new(j, "run_id", json_string(s->run_id));
    for (int i = 0; i < s->n_rng; i++) {
        json_t *w = json_array();
        for (int k = 0; k < 4; k++) {
            char hex[17];
            snprintf(hex, sizeof hex, "%016" PRIx64, s->rng[i].s[k]);
            json_array_append_new(w, json_string(hex));
        }
        json_object_set_new(r, s->rng_name[i], w);
    }
    json_object_set_new(j, "rng", r);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return text;
}

static mama_status parse_state(const char *path, const char *text, ckpt_state *s) {
    json_error_t je;
    json_t *j = text ? json_loads(text, 0, &je) : NULL;
    mama_status rc = MAMA_OK;
    memset(s, 0, sizeof *s);
    if (!j || !json_is_object(j) || json_integer_value(json_object_get(j, "version")) != CKPT_VERSION) {
        rc = mama_errorf(MAMA_EFORMAT, "%s: not a mama checkpoint (no mama_checkpoint metadata of version %d)",
                         path, CKPT_VERSION);
        goto done;
    }
    s->step = json_integer_value(json_object_get(j, "step"));
    s->data_position = json_integer_value(json_object_get(j, "data_position"));
    s->bad_images = json_integer_value(json_object_get(j, "bad_images"));
    s->nan_streak = json_integer_value(json_object_get(j, "nan_streak"));
    snprintf(s->run_id, sizeof s->run_id, "%s", json_string_value(json_object_get(j, "run_id")) ?: "");
    const char *name;
    json_t *w;
    json_object_foreach(json_object_get(j, "rng"), name, w) {
        mama_rng r;
        if (json_array_size(w) != 4) {
            rc = mama_errorf(MAMA_EFORMAT, "%s: RNG %s: expected 4 words", path, name);
            goto done;
        }
        for (int k = 0; k < 4; k++) {
            const char *hex = json_string_value(json_array_get(w, k));
            char *end = NULL;
            r.s[k] = hex ? strtoull(hex, &end, 16) : 0;
            if (!hex || strlen(hex) != 16 || *end) {
                rc = mama_errorf(MAMA_EFORMAT, "%s: RNG %s word %d is not 16 hex digits", path, name, k);
                goto done;
            }
        }
        if ((rc = ckpt_set_rng(s, name, &r)) != MAMA_OK) goto done;
    }
done:
    json_decref(j);
    return rc;
}

static mama_status check_block(const ckpt_block *b) {
    for (int i = 0; i < b->table->n; i++)
        if (b->table->e[i].dtype != MAMA_F32)
            return mama_errorf(MAMA_EDTYPE, "checkpoint: %s%s is not fp32", b->prefix, b->table->e[i].name);
    return MAMA_OK;
}

mama_status ckpt_save(const char *path, const ckpt_state *s, const ckpt_block *blocks, int n_blocks) {
    st_writer *w = NULL;
    mama_status rc = st_writer_create(&w);
    char name[512];
    for (int b = 0; rc == MAMA_OK && b < n_blocks; b++) {
        rc = check_block(&blocks[b]);
        const ptable *t = blocks[b].table;
        for (int i = 0; rc == MAMA_OK && i < t->n; i++) {
            if (t->e[i].numel == 0) continue;
            snprintf(name, sizeof name, "%s%s", blocks[b].prefix, t->e[i].name);
            rc = st_writer_add_f32(w, name, t->e[i].ndim, t->e[i].shape, ptable_ptr(t, blocks[b].block, i));
        }
    }
    char *state = rc == MAMA_OK ? state_json(s) : NULL;
    if (rc == MAMA_OK && !state) rc = mama_errorf(MAMA_ENOMEM, "checkpoint: out of memory");
    if (rc == MAMA_OK) rc = st_writer_set_metadata(w, "mama_checkpoint", state);
    if (rc == MAMA_OK) rc = st_writer_save(w, path);
    free(state);
    st_writer_destroy(w);
    return rc;
}

mama_status ckpt_load(const char *path, ckpt_state *s, const ckpt_block *blocks, int n_blocks) {
    st_file *f = NULL;
    mama_status rc = st_open(path, &f);
    if (rc != MAMA_OK) return rc;
    rc = parse_state(path, st_metadata(f, "mama_checkpoint"), s);
    int expected = 0;
    char name[512];
    for (int b = 0; rc == MAMA_OK && b < n_blocks; b++) {
        rc = check_block(&blocks[b]);
        const ptable *t = blocks[b].table;
        for (int i = 0; rc == MAMA_OK && i < t->n; i++) {
            if (t->e[i].numel == 0) continue;
            expected++;
            snprintf(name, sizeof name, "%s%s", blocks[b].prefix, t->e[i].name);
            const st_tensor *x = st_find(f, name);
            if (!x) rc = mama_errorf(MAMA_ENOTFOUND, "%s: checkpoint has no tensor %s (another model?)", path, name);
            else if (x->dtype != ST_F32 || (size_t)x->numel != t->e[i].numel)
                rc = mama_errorf(MAMA_ESHAPE, "%s: tensor %s has %lld elements, the model %zu (another configuration?)",
                                 path, name, (long long)x->numel, t->e[i].numel);
            else memcpy(ptable_ptr(t, blocks[b].block, i), x->data, x->nbytes);
        }
    }
    if (rc == MAMA_OK && st_count(f) != expected)
        rc = mama_errorf(MAMA_ESHAPE, "%s: checkpoint holds %d tensors, the model %d (another model?)", path,
                         st_count(f), expected);
    st_close(f);
    return rc;
}
