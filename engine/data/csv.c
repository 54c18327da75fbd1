/* csv.c: RFC 4180 reader (see csv.h). A record is parsed into one growing buffer of
 * NUL-terminated fields plus an offset table; nothing is allocated per field. */
#include "engine/data/csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct csv_reader {
    char *name;
    char *data;         /* whole file */
    size_t len, pos;
    int line;           /* current physical line (1-based) at pos */
    int rec_line;       /* first line of the current record */
    char *buf;          /* field text of the current record */
    size_t buf_len, buf_cap;
    size_t *offs;       /* start of each field in buf */
    int nfields, offs_cap;
};

static mama_status create(const char *name, char *data, size_t len, csv_reader **out) {
    csv_reader *r = calloc(1, sizeof *r);
    if (!r) {
        free(data);
        return mama_errorf(MAMA_ENOMEM, "%s: out of memory", name);
    }
    r->name = strdup(name);
    r->data = data;
    r->len = len;
    r->line = 1;
    if (!r->name) {
        csv_close(r);
        return mama_errorf(MAMA_ENOMEM, "%s: out of memory", name);
    }
    if (len >= 3 && (unsigned char)data[0] == 0xEF && (unsigned char)data[1] == 0xBB && (unsigned char)data[2] == 0xBF)
        r->pos = 3;
    *out = r;
    return MAMA_OK;
}

mama_status csv_open(const char *path, csv_reader **out_reader) {
    *out_reader = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return mama_errorf(MAMA_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *data = malloc(cap);
    while (data) {
        size_t n = fread(data + len, 1, cap - len, f);
        len += n;
        if (len < cap) break;
        char *bigger = realloc(data, cap * 2);
        if (!bigger) {
            free(data);
            data = NULL;
            break;
        }
        data = bigger;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!data) return mama_errorf(MAMA_ENOMEM, "%s: out of memory reading the file", path);
    if (err) {
        free(data);
        return mama_errorf(MAMA_EIO, "%s: read error", path);
    }
    return create(path, data, len, out_reader);
}

mama_status csv_open_mem(const char *name, const char *data, size_t len, csv_reader **out_reader) {
    *out_reader = NULL;
    char *copy = malloc(len ? len : 1);
    if (!copy) return mama_errorf(MAMA_ENOMEM, "%s: out of memory", name);
    memcpy(copy, data, len);
    return create(name, copy, len, out_reader);
}

void csv_close(csv_reader *r) {
    if (!r) return;
    free(r->name);
    free(r->data);
    free(r->buf);
    free(r->offs);
    free(r);
}

static int put_char(csv_reader *r, char c) {
    if (r->buf_len + 1 >= r->buf_cap) {
        size_t cap = r->buf_cap ? r->buf_cap * 2 : 256;
        char *b = realloc(r->buf, cap);
        if (!b) return -1;
        r->buf = b;
        r->buf_cap = cap;
    }
    r->buf[r->buf_len++] = c;
    return 0;
}

static int start_field(csv_reader *r) {
    if (r->nfields == r->offs_cap) {
        int cap = r->offs_cap ? r->offs_cap * 2 : 32;
        size_t *o = realloc(r->offs, (size_t)cap * sizeof *o);
        if (!o) return -1;
        r->offs = o;
        r->offs_cap = cap;
    }
    r->offs[r->nfields++] = r->buf_len;
    return 0;
}

/* After an error: skip the rest of the physical line. */
static void skip_line(csv_reader *r) {
    while (r->pos < r->len && r->data[r->pos] != '\n') r->pos++;
    if (r->pos < r->len) {
        r->pos++;
        r->line++;
    }
}

mama_status csv_next(csv_reader *r, int *out_nfields) {
    *out_nfields = 0;
    r->nfields = 0;
    r->buf_len = 0;
    /* skip blank lines */
    while (r->pos < r->len) {
        char c = r->data[r->pos];
        if (c == '\n') {
            r->pos++;
            r->line++;
        } else if (c == '\r' && r->pos + 1 < r->len && r->data[r->pos + 1] == '\n') {
            r->pos += 2;
            r->line++;
        } else {
            break;
        }
    }
    if (r->pos >= r->len) return MAMA_ENOTFOUND;
    r->rec_line = r->line;
    if (start_field(r)) return mama_errorf(MAMA_ENOMEM, "%s:%d: out of memory", r->name, r->line);
    for (;;) {
        /* one field */
        if (r->pos < r->len && r->data[r->pos] == '"') {
            int open_line = r->line;
            r->pos++;
            for (;;) {
                if (r->pos >= r->len) {
                    r->nfields = 0;
                    return mama_errorf(MAMA_EFORMAT, "%s:%d: quoted field opened on line %d is never closed",
                                       r->name, open_line, open_line);
                }
                char c = r->data[r->pos++];
                if (c == '"') {
                    if (r->pos < r->len && r->data[r->pos] == '"') {
                        r->pos++;
                    } else {
                        break;
                    }
                } else if (c == '\n') {
                    r->line++;
                }
                if (put_char(r, c)) return mama_errorf(MAMA_ENOMEM, "%s:%d: out of memory", r->name, r->line);
            }
            if (r->pos < r->len) {
                char c = r->data[r->pos];
                int crlf = c == '\r' && r->pos + 1 < r->len && r->data[r->pos + 1] == '\n';
                if (c != ',' && c != '\n' && !crlf) {
                    int line = r->line, field = r->nfields;
                    skip_line(r);
                    r->nfields = 0;
                    return mama_errorf(MAMA_EFORMAT, "%s:%d: text after the closing quote of field %d", r->name, line,
                                       field);
                }
            }
        } else {
            while (r->pos < r->len) {
                char c = r->data[r->pos];
                if (c == ',' || c == '\n' || (c == '\r' && r->pos + 1 < r->len && r->data[r->pos + 1] == '\n')) break;
                if (c == '"') {
                    int line = r->line, field = r->nfields;
                    skip_line(r);
                    r->nfields = 0;
                    return mama_errorf(MAMA_EFORMAT,
                                       "%s:%d: quote inside unquoted field %d (quote the whole field and double the quote)",
                                       r->name, line, field);
                }
                if (put_char(r, c)) return mama_errorf(MAMA_ENOMEM, "%s:%d: out of memory", r->name, r->line);
                r->pos++;
            }
        }
        if (put_char(r, '\0')) return mama_errorf(MAMA_ENOMEM, "%s:%d: out of memory", r->name, r->line);
        /* separator or end of record */
        if (r->pos >= r->len) break;
        char c = r->data[r->pos];
        if (c == ',') {
            r->pos++;
            if (start_field(r)) return mama_errorf(MAMA_ENOMEM, "%s:%d: out of memory", r->name, r->line);
            continue;
        }
        r->pos += c == '\r' ? 2 : 1;
        r->line++;
        break;
    }
    *out_nfields = r->nfields;
    return MAMA_OK;
}

const char *csv_field(const csv_reader *r, int i) {
    if (i < 0 || i >= r->nfields) return "";
    return r->buf + r->offs[i];
}

int csv_nfields(const csv_reader *r) { return r->nfields; }
int csv_line(const csv_reader *r) { return r->rec_line; }
const char *csv_name(const csv_reader *r) { return r->name; }

mama_status csv_header(csv_reader *r, const char *const *names, const int *required, int n, int *out_index) {
    int nf;
    mama_status rc = csv_next(r, &nf);
    if (rc == MAMA_ENOTFOUND) return mama_errorf(MAMA_EFORMAT, "%s:1: empty file, expected a header row", r->name);
    if (rc) return rc;
    for (int k = 0; k < n; k++) {
        out_index[k] = -1;
        for (int i = 0; i < nf; i++)
            if (strcmp(csv_field(r, i), names[k]) == 0) {
                out_index[k] = i;
                break;
            }
        if (out_index[k] < 0 && (!required || required[k]))
            return mama_errorf(MAMA_EFORMAT, "%s:%d: no column '%s' in the header", r->name, csv_line(r), names[k]);
    }
    return MAMA_OK;
}
