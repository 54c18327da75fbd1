/* mias.c: mini-MIAS Info.txt reader (see mias.h). */
#include "engine/data/mias.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const classes[] = {"CALC", "CIRC", "SPIC", "MISC", "ARCH", "ASYM"};

static int parse_num(const char *tok, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(tok, &end, 10);
    if (end == tok || *end || errno || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

/* One "mdb..." line into the film table (films indexed by number - 1). */
static mama_status parse_line(const char *path, int line, char *text, mias_film *films, int max_films) {
    char *tok[10];
    int nt = 0;
    for (char *save = NULL, *p = strtok_r(text, " \t\r\n", &save); p && nt < 10; p = strtok_r(NULL, " \t\r\n", &save))
        tok[nt++] = p;
    int number;
    if (strlen(tok[0]) != 6 || parse_num(tok[0] + 3, 1, max_films, &number))
        return mama_errorf(MAMA_EFORMAT, "%s:%d: '%s' is not a reference mdb001..mdb%03d", path, line, tok[0],
                           max_films);
    if (nt < 3) return mama_errorf(MAMA_EFORMAT, "%s:%d: %s has %d fields, expected at least 3", path, line, tok[0], nt);
    char tissue = tok[1][0];
    if (tok[1][1] || !strchr("FGD", tissue))
        return mama_errorf(MAMA_EFORMAT, "%s:%d: %s: background tissue '%s' is not F, G or D", path, line, tok[0],
                           tok[1]);
    mias_film *f = &films[number - 1];
    if (f->number && f->tissue != tissue)
        return mama_errorf(MAMA_EFORMAT, "%s:%d: %s: tissue %c contradicts %c on line %d", path, line, tok[0], tissue,
                           f->tissue, f->line);
    int norm = strcmp(tok[2], "NORM") == 0;
    if (norm) {
        if (nt != 3) return mama_errorf(MAMA_EFORMAT, "%s:%d: %s: a NORM line has extra fields", path, line, tok[0]);
        if (f->number)
            return mama_errorf(MAMA_EFORMAT, "%s:%d: %s is listed again (first on line %d)", path, line, tok[0],
                               f->line);
    } else {
        int known = 0;
        for (size_t k = 0; k < sizeof classes / sizeof classes[0]; k++) known |= strcmp(tok[2], classes[k]) == 0;
        if (!known)
            return mama_errorf(MAMA_EFORMAT, "%s:%d: %s: class '%s' is not CALC, CIRC, SPIC, MISC, ARCH, ASYM or NORM",
                               path, line, tok[0], tok[2]);
        if (nt < 4 || tok[3][1] || (tok[3][0] != 'B' && tok[3][0] != 'M'))
            return mama_errorf(MAMA_EFORMAT, "%s:%d: %s: severity '%s' is not B or M", path, line, tok[0],
                               nt < 4 ? "" : tok[3]);
        if (f->number && f->nabn == 0)
            return mama_errorf(MAMA_EFORMAT, "%s:%d: %s was listed as normal on line %d", path, line, tok[0], f->line);
        if (f->nabn == MIAS_MAX_ABN)
            return mama_errorf(MAMA_EFORMAT, "%s:%d: %s has more than %d abnormalities", path, line, tok[0],
                               MIAS_MAX_ABN);
        mias_abnormality *a = &f->abn[f->nabn];
        memset(a, 0, sizeof *a);
        snprintf(a->cls, sizeof a->cls, "%s", tok[2]);
        a->severity = tok[3][0];
        a->line = line;
        if (nt == 7) {
            if (parse_num(tok[4], 0, MIAS_IMAGE_SIZE, &a->x) || parse_num(tok[5], 0, MIAS_IMAGE_SIZE, &a->y) ||
                parse_num(tok[6], 1, MIAS_IMAGE_SIZE, &a->radius))
                return mama_errorf(MAMA_EFORMAT, "%s:%d: %s: centre/radius '%s %s %s' are not pixels within 0..%d",
                                   path, line, tok[0], tok[4], tok[5], tok[6], MIAS_IMAGE_SIZE);
            a->has_xy = 1;
        } else if (!(nt == 4 || (nt == 6 && strcmp(tok[4], "*NOTE") == 0))) {
            return mama_errorf(MAMA_EFORMAT, "%s:%d: %s: expected x y radius after the severity, got %d fields", path,
                               line, tok[0], nt - 4);
        }
        f->nabn++;
    }
    if (!f->number) {
        snprintf(f->ref, sizeof f->ref, "mdb%03d", number);
        f->number = number;
        f->side = number % 2 == 0 ? 'L' : 'R';
        f->tissue = tissue;
        f->line = line;
    }
    return MAMA_OK;
}

mama_status mias_load(const char *info_txt, table_mode mode, mias_set **out_set, table_issues *issues) {
    *out_set = NULL;
    enum { MAX_FILMS = 999 };
    FILE *fp = fopen(info_txt, "r");
    if (!fp) return mama_errorf(MAMA_EIO, "%s: cannot open: %s (set MAMA_SHARED_DIR?)", info_txt, strerror(errno));
    mias_film *films = calloc(MAX_FILMS, sizeof *films);
    mias_set *s = calloc(1, sizeof *s);
    mama_status rc = MAMA_OK;
    if (!films || !s) {
        rc = mama_errorf(MAMA_ENOMEM, "out of memory");
        goto done;
    }
    char buf[512];
    int line = 0;
    while (fgets(buf, sizeof buf, fp)) {
        line++;
        if (strncmp(buf, "mdb", 3) != 0) continue;
        if (!strchr(buf, '\n') && !feof(fp)) {
            rc = mama_errorf(MAMA_EFORMAT, "%s:%d: line longer than %zu bytes", info_txt, line, sizeof buf - 1);
            int c;
            while ((c = fgetc(fp)) != EOF && c != '\n') {}
        } else {
            rc = parse_line(info_txt, line, buf, films, MAX_FILMS);
        }
        if (rc && (rc = table_row_failed(mode, issues, rc))) goto done;
    }
    if (ferror(fp)) {
        rc = mama_errorf(MAMA_EIO, "%s: read error", info_txt);
        goto done;
    }
    for (int i = 0; i < MAX_FILMS; i++)
        if (films[i].number) s->n++;
    s->films = malloc((size_t)(s->n ? s->n : 1) * sizeof *s->films);
    if (!s->films) {
        rc = mama_errorf(MAMA_ENOMEM, "out of memory");
        goto done;
    }
    s->n = 0;
    for (int i = 0; i < MAX_FILMS; i++)
        if (films[i].number) s->films[s->n++] = films[i];
    if (s->n == 0) rc = mama_errorf(MAMA_EFORMAT, "%s: no film lines (lines starting with mdb)", info_txt);
done:
    fclose(fp);
    free(films);
    if (rc) {
        mias_free(s);
        return rc;
    }
    *out_set = s;
    return MAMA_OK;
}

void mias_free(mias_set *s) {
    if (!s) return;
    free(s->films);
    free(s);
}

int mias_woman(const mias_film *f) { return (f->number + 1) / 2; }

char mias_severity(const mias_film *f) {
    if (f->nabn == 0) return 'N';
    for (int k = 0; k < f->nabn; k++)
        if (f->abn[k].severity == 'M') return 'M';
    return 'B';
}

void mias_abn_pixel(const mias_abnormality *a, double *out_col, double *out_row) {
    *out_col = a->x;
    *out_row = MIAS_IMAGE_SIZE - 1 - a->y;
}

