/* config_table.c: parsing, defaults, help and docs from a settings table (see
 * config_table.h). */
#include "common/config_table.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const cfgt_entry *cfgt_find(const cfgt_table *t, const char *key) {
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->entries[i].name, key) == 0) return &t->entries[i];
    return NULL;
}

static int parse_int(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

static int parse_real(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int parse_duration(const char *s, int64_t *out_ms) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0) return -1;
    double mul;
    if (!*end || strcmp(end, "s") == 0) mul = 1000;
    else if (strcmp(end, "ms") == 0) mul = 1;
    else if (strcmp(end, "m") == 0) mul = 60000;
    else if (strcmp(end, "h") == 0) mul = 3600000;
    else if (strcmp(end, "d") == 0) mul = 86400000;
    else return -1;
    double ms = v * mul;
    if (ms > 9e15) return -1;
    *out_ms = (int64_t)(ms + 0.5);
    return 0;
}

/* Bytes with an optional binary suffix: 500, 64K, 10M, 2G, 1T. */
static int parse_size(const char *s, int64_t *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v < 0) return -1;
    double mul = 1;
    if (!strcmp(end, "K")) mul = 1024.0;
    else if (!strcmp(end, "M")) mul = 1024.0 * 1024;
    else if (!strcmp(end, "G")) mul = 1024.0 * 1024 * 1024;
    else if (!strcmp(end, "T")) mul = 1024.0 * 1024 * 1024 * 1024;
    else if (*end) return -1;
    if (v * mul > 9e18) return -1;
    *out = (int64_t)(v * mul + 0.5);
    return 0;
}

static int parse_bool(const char *s, int64_t *out) {
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcmp(s, "1") || !strcasecmp(s, "on"))
        *out = 1;
    else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcmp(s, "0") ||
             !strcasecmp(s, "off"))
        *out = 0;
    else
        return -1;
    return 0;
}

/* Whether value is one of the ", "-separated choices (case-insensitive). */
static int in_choices(const char *choices, const char *value) {
    size_t vl = strlen(value);
    for (const char *p = choices; *p;) {
        size_t n = strcspn(p, ",");
        if (n == vl && strncasecmp(p, value, n) == 0) return 1;
        p += n;
        while (*p == ',' || *p == ' ') p++;
    }
    return 0;
}

static int set_text(const cfgt_entry *e, char *field, const char *key, const char *value,
                    char *err, size_t errlen) {
    if (e->type == CFGT_ENUM && !in_choices(e->choices, value)) {
        snprintf(err, errlen, "%s: '%s' is not one of %s", key, value, e->choices);
        return -1;
    }
    if (e->check) {
        char msg[256];
        if (e->check(value, msg, sizeof msg) != 0) {
            snprintf(err, errlen, "%s: %s", key, msg);
            return -1;
        }
    }
    if (strlen(value) >= e->size) {
        snprintf(err, errlen, "%s: value longer than %zu characters", key, e->size - 1);
        return -1;
    }
    memcpy(field, value, strlen(value) + 1);
    return 0;
}

static int set_real(const cfgt_entry *e, char *field, const char *key, const char *value,
                    char *err, size_t errlen) {
    double v;
    if (parse_real(value, &v) != 0) {
        snprintf(err, errlen, "%s: '%s' is not a number", key, value);
        return -1;
    }
    if (v < e->rmin || v > e->rmax) {
        snprintf(err, errlen, "%s: %s is outside %g..%g", key, value, e->rmin, e->rmax);
        return -1;
    }
    memcpy(field, &v, sizeof v);
    return 0;
}

int cfgt_set(const cfgt_table *t, void *obj, const char *key, const char *value, char *err,
             size_t errlen) {
    const cfgt_entry *e = cfgt_find(t, key);
    if (!e) {
        snprintf(err, errlen, "unknown setting '%s' (see %s --help for the list)", key, t->program);
        return -1;
    }
    char *field = (char *)obj + e->offset;
    int64_t v = 0;
    switch (e->type) {
    case CFGT_STR:
    case CFGT_ENUM: return set_text(e, field, key, value, err, errlen);
    case CFGT_REAL: return set_real(e, field, key, value, err, errlen);
    case CFGT_BOOL:
        if (parse_bool(value, &v) != 0) {
            snprintf(err, errlen, "%s: '%s' is not a boolean (true/false)", key, value);
            return -1;
        }
        memcpy(field, &v, sizeof v);
        return 0;
    case CFGT_INT:
        if (parse_int(value, &v) != 0) {
            snprintf(err, errlen, "%s: '%s' is not an integer", key, value);
            return -1;
        }
        break;
    case CFGT_DURATION:
        if (parse_duration(value, &v) != 0) {
            snprintf(err, errlen, "%s: '%s' is not a duration (e.g. 500ms, 2s, 5m, 1h, 30d)", key, value);
            return -1;
        }
        break;
    case CFGT_SIZE:
        if (parse_size(value, &v) != 0) {
            snprintf(err, errlen, "%s: '%s' is not a size (bytes, or with K, M, G, T)", key, value);
            return -1;
        }
        break;
    }
    if (v < e->min || v > e->max) {
        if (e->type == CFGT_DURATION)
            snprintf(err, errlen, "%s: %s is outside %lldms..%lldms", key, value,
                     (long long)e->min, (long long)e->max);
        else
            snprintf(err, errlen, "%s: %s is outside %lld..%lld", key, value, (long long)e->min,
                     (long long)e->max);
        return -1;
    }
    memcpy(field, &v, sizeof v);
    return 0;
}

int cfgt_set_arg(const cfgt_table *t, void *obj, const char *kv, char *err, size_t errlen) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        snprintf(err, errlen, "--set expects key=value, got '%s'", kv);
        return -1;
    }
    char key[160];
    if ((size_t)(eq - kv) >= sizeof key) {
        snprintf(err, errlen, "--set: key too long");
        return -1;
    }
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
    return cfgt_set(t, obj, key, eq + 1, err, errlen);
}

void cfgt_defaults(const cfgt_table *t, void *obj) {
    char err[256];
    for (size_t i = 0; i < t->n; i++) {
        int rc = cfgt_set(t, obj, t->entries[i].name, t->entries[i].def, err, sizeof err);
        (void)rc; /* defaults are within their own bounds (each program's test checks) */
    }
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/* One non-comment line: a [section] header or key = value. */
static int load_line(const cfgt_table *t, void *obj, char *s, char *section, size_t section_size,
                     char *msg, size_t msglen) {
    if (*s == '[') {
        char *end = strchr(s, ']');
        if (!end || end[1] || (size_t)(end - s - 1) >= section_size) {
            snprintf(msg, msglen, "bad section header");
            return -1;
        }
        *end = '\0';
        snprintf(section, section_size, "%s", trim(s + 1));
        return 0;
    }
    char *eq = strchr(s, '=');
    if (!eq) {
        snprintf(msg, msglen, "expected `key = value`");
        return -1;
    }
    *eq = '\0';
    char *key = trim(s), *value = trim(eq + 1);
    size_t vl = strlen(value);
    if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
        value[vl - 1] = '\0';
        value++;
    }
    char full[160];
    if (section[0] && !strchr(key, '.')) snprintf(full, sizeof full, "%s.%s", section, key);
    else snprintf(full, sizeof full, "%s", key);
    return cfgt_set(t, obj, full, value, msg, msglen);
}

int cfgt_load_file(const cfgt_table *t, void *obj, const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read config %s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096], section[64] = "";
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#' || *s == ';') continue;
        char msg[300];
        if (load_line(t, obj, s, section, sizeof section, msg, sizeof msg) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

void cfgt_format(const cfgt_entry *e, const void *obj, char *buf, size_t n) {
    const char *field = (const char *)obj + e->offset;
    int64_t v;
    double r;
    switch (e->type) {
    case CFGT_STR:
    case CFGT_ENUM: snprintf(buf, n, "%s", field); return;
    case CFGT_REAL:
        memcpy(&r, field, sizeof r);
        snprintf(buf, n, "%.17g", r);
        return;
    case CFGT_BOOL:
        memcpy(&v, field, sizeof v);
        snprintf(buf, n, "%s", v ? "true" : "false");
        return;
    case CFGT_INT:
    case CFGT_SIZE:
        memcpy(&v, field, sizeof v);
        snprintf(buf, n, "%lld", (long long)v);
        return;
    case CFGT_DURATION:
        memcpy(&v, field, sizeof v);
        snprintf(buf, n, "%lldms", (long long)v);
        return;
    }
}

void cfgt_write(const cfgt_table *t, const void *obj, FILE *out) {
    for (size_t i = 0; i < t->n; i++) {
        const cfgt_entry *e = &t->entries[i];
        char buf[4096];
        cfgt_format(e, obj, buf, sizeof buf);
        /* quoted so that leading/trailing spaces and '#' survive the round trip */
        if (e->type == CFGT_STR) fprintf(out, "%s = \"%s\"\n", e->name, buf);
        else fprintf(out, "%s = %s\n", e->name, buf);
    }
}

static void bounds_text(const cfgt_entry *e, char *buf, size_t n) {
    buf[0] = '\0';
    if (e->type == CFGT_INT) snprintf(buf, n, "%lld..%lld", (long long)e->min, (long long)e->max);
    else if (e->type == CFGT_DURATION)
        snprintf(buf, n, "%lldms..%lldms", (long long)e->min, (long long)e->max);
    else if (e->type == CFGT_REAL) snprintf(buf, n, "%g..%g", e->rmin, e->rmax);
    else if (e->type == CFGT_ENUM && !e->label) snprintf(buf, n, "%s", e->choices);
}

static const char *type_name(const cfgt_entry *e) {
    if (e->label) return e->label;
    switch (e->type) {
    case CFGT_STR: return "string";
    case CFGT_INT: return "integer";
    case CFGT_BOOL: return "boolean";
    case CFGT_DURATION: return "duration";
    case CFGT_REAL: return "number";
    case CFGT_ENUM: return "choice";
    case CFGT_SIZE: return "size";
    }
    return "?";
}

void cfgt_print_help(const cfgt_table *t, FILE *out) {
    for (size_t i = 0; i < t->n; i++) {
        const cfgt_entry *e = &t->entries[i];
        char b[256];
        bounds_text(e, b, sizeof b);
        fprintf(out, "  %-24s %s, default \"%s\"%s%s\n      %s\n", e->name, type_name(e), e->def,
                b[0] ? ", " : "", b, e->help);
    }
}

void cfgt_print_markdown_table(const cfgt_table *t, FILE *out) {
    fprintf(out, "| Setting | Type | Default | Range | Meaning |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < t->n; i++) {
        const cfgt_entry *e = &t->entries[i];
        char b[256];
        bounds_text(e, b, sizeof b);
        fprintf(out, "| `%s` | %s | `%s` | %s | %s |\n", e->name, type_name(e), e->def, b, e->help);
    }
}
