/* out_name.c: see out_name.h. */
#define _GNU_SOURCE
#include "tools/out_name.h"

#include <libgen.h>
#include <stdio.h>
#include <string.h>

void out_name(char *out, size_t cap, const char *dir, const char *path, const char *ext) {
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s", path);
    snprintf(b, sizeof b, "%s", path);
    char *base = basename(a), *parent = basename(dirname(b));
    char stem[1024];
    snprintf(stem, sizeof stem, "%s", base);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = '\0';
    snprintf(out, cap, "%s/%s_%s%s", dir, parent, stem, ext);
}
