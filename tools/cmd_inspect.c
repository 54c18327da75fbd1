/* cmd_inspect.c: `mama inspect MODEL`: the metadata (config pretty-printed) and the tensor
 * table of a safetensors file or a sharded checkpoint's .index.json. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "engine/core/safetensors.h"
#include "tools/mama.h"

int cmd_inspect(int argc, char **argv);

static void usage(FILE *out) {
    fprintf(out,
            "usage: mama inspect MODEL.safetensors | MODEL.safetensors.index.json\n"
            "Prints the __metadata__ (JSON values pretty-printed) and the tensor table\n"
            "(name, dtype, shape, MB) with the total parameter count.\n");
}

/* Prints value indented under its key: pretty JSON when it parses as an object or array. */
static void print_value(const char *key, const char *value) {
    json_t *j = json_loads(value, JSON_REJECT_DUPLICATES, NULL);
    if (j && (json_is_object(j) || json_is_array(j))) {
        char *txt = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (txt) {
            printf("  %s:\n", key);
            for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n"))
                printf("    %s\n", line);
            free(txt);
            json_decref(j);
            return;
        }
    }
    json_decref(j);
    printf("  %s: %s\n", key, value);
}

int cmd_inspect(int argc, char **argv) {
    if (argc != 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : 2;
    }
    st_file *f;
    mama_status rc = st_open(argv[1], &f);
    if (rc != MAMA_OK) {
        fprintf(stderr, "mama inspect: %s: %s\n", mama_status_name(rc), mama_last_error());
        return 1;
    }
    printf("file: %s\n", argv[1]);
    int nm = st_metadata_count(f);
    printf("metadata (%d):\n", nm);
    for (int i = 0; i < nm; i++) {
        const char *k = st_metadata_key(f, i);
        print_value(k, st_metadata(f, k));
    }
    int n = st_count(f);
    size_t wname = 4;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(st_at(f, i)->name);
        if (l > wname) wname = l;
    }
    printf("tensors (%d):\n  %-*s  %-5s  %-24s  %10s\n", n, (int)wname, "name", "dtype", "shape",
           "MB");
    long long params = 0;
    double bytes = 0;
    for (int i = 0; i < n; i++) {
        const st_tensor *t = st_at(f, i);
        char shape[256];
        size_t u = (size_t)snprintf(shape, sizeof shape, "[");
        for (int d = 0; d < t->ndim && u < sizeof shape; d++)
            u += (size_t)snprintf(shape + u, sizeof shape - u, d ? ", %lld" : "%lld",
                                  (long long)t->shape[d]);
        if (u < sizeof shape) snprintf(shape + u, sizeof shape - u, "]");
        printf("  %-*s  %-5s  %-24s  %10.3f\n", (int)wname, t->name, st_dtype_name(t->dtype),
               shape, (double)t->nbytes / 1e6);
        params += t->numel;
        bytes += (double)t->nbytes;
    }
    printf("total: %lld parameters, %.3f MB\n", params, bytes / 1e6);
    st_close(f);
    return 0;
}
