/* safetensors_index.c: Hugging Face sharded checkpoints: a .index.json whose weight_map
 * names, for every tensor, the shard file beside the index that holds it. The shards are
 * opened as one st_file (see safetensors.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/safetensors_impl.h"

mama_status st_impl_open_index(st_file *f) {
    json_error_t err;
    json_t *root = json_load_file(f->path, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        FILE *probe = fopen(f->path, "rb");
        if (!probe)
            return mama_errorf(errno == ENOENT ? MAMA_ENOTFOUND : MAMA_EIO,
                               "%s: cannot open: %s", f->path, strerror(errno));
        fclose(probe);
        return mama_errorf(MAMA_EFORMAT, "%s: index is not valid JSON (line %d: %s)", f->path,
                           err.line, err.text);
    }
    mama_status rc = MAMA_OK;
    char *dir = NULL;
    json_t *wm = json_object_get(root, "weight_map");
    if (!json_is_object(root) || !json_is_object(wm)) {
        rc = mama_errorf(MAMA_EFORMAT, "%s: index has no \"weight_map\" object", f->path);
        goto done;
    }
    const char *slash = strrchr(f->path, '/');
    size_t dlen = slash ? (size_t)(slash - f->path + 1) : 0;
    const char *name;
    json_t *file;
    json_object_foreach(wm, name, file) {
        if (!json_is_string(file)) {
            rc = mama_errorf(MAMA_EFORMAT, "%s: weight_map entry '%s' is not a file name",
                             f->path, name);
            goto done;
        }
        const char *fn = json_string_value(file);
        if (fn[0] == '\0' || fn[0] == '/' || strstr(fn, "..")) {
            rc = mama_errorf(MAMA_EFORMAT,
                             "%s: weight_map entry '%s' names shard \"%s\", which is not a "
                             "plain file beside the index",
                             f->path, name, fn);
            goto done;
        }
        size_t plen = dlen + strlen(fn) + 1;
        free(dir);
        dir = malloc(plen);
        if (!dir) {
            rc = mama_errorf(MAMA_ENOMEM, "%s: out of memory", f->path);
            goto done;
        }
        memcpy(dir, f->path, dlen);
        memcpy(dir + dlen, fn, strlen(fn) + 1);
        int have = 0;
        for (int i = 0; i < f->nshards; i++)
            if (strcmp(f->shards[i].path, dir) == 0) have = 1;
        if (!have) {
            rc = st_impl_add_shard(f, dir);
            if (rc != MAMA_OK) goto done;
        }
    }
    /* every mapped tensor must exist, in the shard the index names */
    json_object_foreach(wm, name, file) {
        const st_tensor *t = st_find(f, name);
        if (!t) {
            rc = mama_errorf(MAMA_EFORMAT, "%s: tensor '%s' is listed in weight_map (shard %s) "
                             "but absent from it", f->path, name, json_string_value(file));
            goto done;
        }
    }
    json_t *meta = json_object_get(root, "metadata");
    if (meta) {
        rc = st_impl_merge_metadata(f, f->path, meta, 0);
        if (rc != MAMA_OK) goto done;
    }
done:
    free(dir);
    json_decref(root);
    return rc;
}
