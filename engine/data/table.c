/* table.c: malformed-row bookkeeping, string pool and field parsers for the readers. */
#include "engine/data/table.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void table_issues_init(table_issues *is) { memset(is, 0, sizeof *is); }

void table_issues_free(table_issues *is) {
    if (!is) return;
    for (int i = 0; i < is->count; i++) free(is->msg[i]);
    free(is->msg);
    memset(is, 0, sizeof *is);
}

mama_status table_issues_add_last(table_issues *is) {
    if (is->count == is->cap) {
        int cap = is->cap ? is->cap * 2 : 16;
        char **m = realloc(is->msg, (size_t)cap * sizeof *m);
        if (!m) return mama_errorf(MAMA_ENOMEM, "out of memory recording a malformed row");
        is->msg = m;
        is->cap = cap;
    }
    char *copy = strdup(mama_last_error());
    if (!copy) return mama_errorf(MAMA_ENOMEM, "out of memory recording a malformed row");
    is->msg[is->count++] = copy;
    return MAMA_OK;
}

mama_status table_row_failed(table_mode mode, table_issues *is, mama_status rc) {
    if (rc == MAMA_ENOMEM || mode == TABLE_STRICT) return rc;
    if (!is) return mama_errorf(MAMA_EINVAL, "lenient mode needs a table_issues to report the rows it leaves out");
    return table_issues_add_last(is);
}

struct table_pool_block {
    struct table_pool_block *next;
    size_t used, cap;
    char data[];
};

const char *table_pool_strdup(table_pool *p, const char *s) {
    size_t n = strlen(s) + 1;
    struct table_pool_block *b = p->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 65536 ? n : 65536;
        b = malloc(sizeof *b + cap);
        if (!b) return NULL;
        b->next = p->head;
        b->used = 0;
        b->cap = cap;
        p->head = b;
    }
    char *dst = b->data + b->used;
    memcpy(dst, s, n);
    b->used += n;
    return dst;
}

void table_pool_free(table_pool *p) {
    struct table_pool_block *b = p->head;
    while (b) {
        struct table_pool_block *next = b->next;
        free(b);
        b = next;
    }
    p->head = NULL;
}

mama_status table_parse_int(const char *file, int line, const char *col, const char *text, long lo, long hi,
                            long missing, long *out_value) {
    if (!text[0]) {
        *out_value = missing;
        return MAMA_OK;
    }
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end != text && end[0] == '.' && end[1] == '0' && end[2] == '\0') end += 2;
    if (end == text || *end || errno || v < lo || v > hi)
        return mama_errorf(MAMA_EFORMAT, "%s:%d: column '%s': '%s' is not an integer in %ld..%ld", file, line, col,
                           text, lo, hi);
    *out_value = v;
    return MAMA_OK;
}

mama_status table_parse_double(const char *file, int line, const char *col, const char *text, double lo, double hi,
                               double *out_value) {
    if (!text[0] || strcasecmp(text, "nan") == 0) {
        *out_value = NAN;
        return MAMA_OK;
    }
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !(v >= lo && v <= hi))
        return mama_errorf(MAMA_EFORMAT, "%s:%d: column '%s': '%s' is not a number in %g..%g", file, line, col, text,
                           lo, hi);
    *out_value = v;
    return MAMA_OK;
}

mama_status table_parse_char(const char *file, int line, const char *col, const char *text, const char *allowed,
                             int empty_ok, char *out_value) {
    if (!text[0] && empty_ok) {
        *out_value = 0;
        return MAMA_OK;
    }
    if (text[0] && !text[1] && strchr(allowed, text[0])) {
        *out_value = text[0];
        return MAMA_OK;
    }
    return mama_errorf(MAMA_EFORMAT, "%s:%d: column '%s': '%s' is not one of %s%s", file, line, col, text, allowed,
                       empty_ok ? " or empty" : "");
}

mama_status table_parse_bool(const char *file, int line, const char *col, const char *text, int missing,
                             int *out_value) {
    if (!text[0]) {
        *out_value = missing;
        return MAMA_OK;
    }
    if (!strcasecmp(text, "true") || !strcmp(text, "1") || !strcmp(text, "1.0") || !strcasecmp(text, "yes")) {
        *out_value = 1;
        return MAMA_OK;
    }
    if (!strcasecmp(text, "false") || !strcmp(text, "0") || !strcmp(text, "0.0") || !strcasecmp(text, "no")) {
        *out_value = 0;
        return MAMA_OK;
    }
    return mama_errorf(MAMA_EFORMAT, "%s:%d: column '%s': '%s' is not True/False or 1/0", file, line, col, text);
}

mama_status table_read_csv(const char *path, const char *const *names, const int *required, int ncols,
                           size_t elem, table_row_fn fn, void *ctx, table_mode mode, table_issues *issues,
                           void **out_rows, int **out_lines, int *out_n) {
    if (ncols > TABLE_MAX_COLS)
        return mama_errorf(MAMA_EINVAL, "%s: %d columns requested, at most %d", path, ncols, TABLE_MAX_COLS);
    csv_reader *r = NULL;
    int idx[TABLE_MAX_COLS];
    char *arr = NULL;
    int *lines = NULL;
    int n = 0, cap = 0;
    mama_status rc = csv_open(path, &r);
    if (rc) return rc;
    if ((rc = csv_header(r, names, required, ncols, idx))) goto done;
    int header_n = csv_nfields(r);
    for (;;) {
        int nf;
        rc = csv_next(r, &nf);
        if (rc == MAMA_ENOTFOUND) {
            rc = MAMA_OK;
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            char *a = realloc(arr, (size_t)cap * elem);
            if (a) arr = a;
            int *l = out_lines ? realloc(lines, (size_t)cap * sizeof *l) : NULL;
            if (l) lines = l;
            if (!a || (out_lines && !l)) {
                rc = mama_errorf(MAMA_ENOMEM, "%s: out of memory", path);
                goto done;
            }
        }
        void *dst = arr + (size_t)n * elem;
        memset(dst, 0, elem);
        if (rc == MAMA_OK && nf != header_n)
            rc = mama_errorf(MAMA_EFORMAT, "%s:%d: %d fields, the header has %d", path, csv_line(r), nf, header_n);
        if (rc == MAMA_OK) rc = fn(ctx, r, idx, dst);
        if (rc == MAMA_OK) {
            if (lines) lines[n] = csv_line(r);
            n++;
            continue;
        }
        if ((rc = table_row_failed(mode, issues, rc))) goto done;
    }
done:
    csv_close(r);
    if (rc) {
        free(arr);
        free(lines);
        return rc;
    }
    *out_rows = arr;
    if (out_lines) *out_lines = lines;
    *out_n = n;
    return MAMA_OK;
}
