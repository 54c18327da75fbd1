/* scp_harness.c: test driver for the DICOM SCP (dicom/dcm_scp.h) without the daemon.
 *
 *   scp_harness serve --ae AE --tmp DIR --store DIR [--port P] [--pool N] [--bind ADDR]
 *                     [--allow AE@HOST]... [--dimse-timeout S] [--acse-timeout S]
 *                     [--fail-store N] [--request-timeout S] [--pending-per-host N]
 *                     [--assoc-per-host N] [--tls-cert PEM --tls-key PEM [--tls-ca PEM]
 *                     [--tls-require 0|1]]
 *       Runs the SCP with a minimal durable handler (fsync'd temp file renamed to
 *       STORE/<SOPInstanceUID>.dcm, directory fsynced; a duplicate keeps the first copy)
 *       and prints one line per event on stdout: "PORT n", "EVENT <event> <ae> <host>
 *       <reason>", "STORED <uid> <bytes> ...", "INFO\t<the parsed tags, tab-separated>",
 *       "STOPPED". SIGTERM/SIGINT stop it through
 *       dcm_scp_stop.
 *   scp_harness mkdcm OUT --sop UID --study UID --series UID [--lat L] [--view CC|MLO]
 *                     [--rows R] [--cols C] [--seed S] [--nest N] [--charset CS]
 *                     [--patient ID | --patient-hex HEX]
 *       Writes a small valid Digital Mammography For Presentation file (explicit VR little
 *       endian, 16-bit allocated, 12 stored, View Code Sequence), any UID as given.
 *       --nest N adds Request Attributes Sequences (0040,0275) nested N levels deep
 *       (undefined lengths, 36 bytes a level: the stack-overflow dataset of issue 15);
 *       --charset writes Specific Character Set (0008,0005), --patient the PatientID as
 *       given, --patient-hex its bytes in hex (e.g. 4DDC4C4C45522D31, Latin-1 MÜLLER-1). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "dicom/dcm_scp.h"

static const char *store_dir;
static int duplicates;

static uint16_t store(void *ctx, const dcm_store_request *req) {
    (void)ctx;
    char dest[4096];
    snprintf(dest, sizeof dest, "%s/%s.dcm", store_dir, req->info->sop_instance_uid);
    struct stat st;
    if (stat(dest, &st) == 0) {
        __atomic_add_fetch(&duplicates, 1, __ATOMIC_SEQ_CST);
        printf("DUPLICATE %s\n", req->info->sop_instance_uid);
        fflush(stdout);
        return DCM_STATUS_SUCCESS;
    }
    if (rename(req->tmp_path, dest) != 0) {
        printf("STOREFAIL %s %s\n", req->info->sop_instance_uid, strerror(errno));
        fflush(stdout);
        return errno == ENOSPC ? DCM_STATUS_OUT_OF_RESOURCES : DCM_STATUS_PROCESSING_FAILURE;
    }
    int dfd = open(store_dir, O_RDONLY | O_DIRECTORY);
    if (dfd < 0 || fsync(dfd) != 0) {
        if (dfd >= 0) close(dfd);
        unlink(dest);
        return DCM_STATUS_PROCESSING_FAILURE;
    }
    close(dfd);
    printf("STORED %s %llu %s/%s/%s/%s ts=%s\n", req->info->sop_instance_uid,
           (unsigned long long)req->file_size, req->info->image_laterality,
           req->info->view_position, req->info->view_code, req->info->presentation_intent,
           req->info->transfer_syntax_uid);
    const dcm_instance_info *ii = req->info;
    printf("INFO\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%u\t%u\t%u\t%s\n",
           ii->sop_instance_uid, ii->study_uid, ii->series_uid, ii->sop_class_uid, ii->patient_id,
           ii->accession_number, ii->image_laterality, ii->view_position, ii->view_modifiers,
           ii->presentation_intent, ii->transfer_syntax_uid, ii->rows, ii->columns,
           ii->bits_stored, ii->photometric);
    fflush(stdout);
    return DCM_STATUS_SUCCESS;
}

static void assoc_event(void *ctx, const char *event, const char *ae, const char *host,
                        const char *reason) {
    (void)ctx;
    printf("EVENT %s %s %s %s\n", event, ae[0] ? ae : "-", host[0] ? host : "-", reason);
    fflush(stdout);
}

static int serve(int argc, char **argv) {
    dcm_scp_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_associations = 4;
    cfg.acse_timeout_s = 10;
    cfg.dimse_timeout_s = 10;
    dcm_allow_entry allow[16];
    unsigned long fail_nth = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { fprintf(stderr, "missing value for %s\n", a); return 2; }
        i++;
        if (!strcmp(a, "--ae")) cfg.ae_title = v;
        else if (!strcmp(a, "--port")) cfg.port = (uint16_t)atoi(v);
        else if (!strcmp(a, "--pool")) cfg.max_associations = atoi(v);
        else if (!strcmp(a, "--tmp")) cfg.tmp_dir = v;
        else if (!strcmp(a, "--store")) store_dir = v;
        else if (!strcmp(a, "--dimse-timeout")) cfg.dimse_timeout_s = atoi(v);
        else if (!strcmp(a, "--acse-timeout")) cfg.acse_timeout_s = atoi(v);
        else if (!strcmp(a, "--bind")) cfg.bind_address = v;
        else if (!strcmp(a, "--fail-store")) fail_nth = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--request-timeout")) cfg.request_timeout_s = atoi(v);
        else if (!strcmp(a, "--pending-per-host")) cfg.max_pending_per_host = atoi(v);
        else if (!strcmp(a, "--assoc-per-host")) cfg.max_assoc_per_host = atoi(v);
        else if (!strcmp(a, "--tls-cert")) cfg.tls_cert = v;
        else if (!strcmp(a, "--tls-key")) cfg.tls_key = v;
        else if (!strcmp(a, "--tls-ca")) cfg.tls_ca = v;
        else if (!strcmp(a, "--tls-require")) cfg.tls_require_client_cert = atoi(v);
        else if (!strcmp(a, "--allow") && cfg.n_allow < 16) {
            const char *at = strchr(v, '@');
            dcm_allow_entry *e = &allow[cfg.n_allow++];
            memset(e, 0, sizeof *e);
            snprintf(e->calling_ae, sizeof e->calling_ae, "%.*s", at ? (int)(at - v) : 16, v);
            snprintf(e->host, sizeof e->host, "%s", at ? at + 1 : "*");
        } else { fprintf(stderr, "unknown option %s\n", a); return 2; }
    }
    if (!store_dir || !cfg.tmp_dir || !cfg.ae_title) {
        fprintf(stderr, "serve needs --ae, --tmp and --store\n");
        return 2;
    }
    cfg.allow = allow;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);   /* before any thread: only sigwait sees them */
    dcm_scp_handler h = {NULL, store, assoc_event};
    dcm_scp *scp = NULL;
    char err[512];
    if (dcm_scp_start(&cfg, &h, &scp, err, sizeof err) != 0) {
        fprintf(stderr, "scp_harness: %s\n", err);
        return 1;
    }
    if (fail_nth) dcm_scp_test_fail_store(scp, fail_nth);
    printf("PORT %u\n", dcm_scp_port(scp));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    dcm_scp_stop(scp);
    printf("STOPPED duplicates=%d\n", duplicates);
    fflush(stdout);
    return 0;
}

/* ---- minimal explicit-VR-little-endian writer for mkdcm ---- */

typedef struct { unsigned char *p; size_t n, cap; } buf;

static void put(buf *b, const void *v, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p) { perror("realloc"); exit(1); }
    }
    memcpy(b->p + b->n, v, n);
    b->n += n;
}
static void u16(buf *b, unsigned v) { unsigned char x[2] = {v & 0xff, (v >> 8) & 0xff}; put(b, x, 2); }
static void u32(buf *b, unsigned long v) {
    unsigned char x[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff};
    put(b, x, 4);
}
static void elem(buf *b, unsigned g, unsigned e, const char *vr, const void *v, size_t n) {
    int long_form = !strcmp(vr, "OB") || !strcmp(vr, "OW") || !strcmp(vr, "SQ");
    size_t padded = n + (n & 1);
    u16(b, g); u16(b, e); put(b, vr, 2);
    if (long_form) { u16(b, 0); u32(b, padded); } else u16(b, (unsigned)padded);
    put(b, v, n);
    if (padded != n) { char pad = (!strcmp(vr, "UI") || !strcmp(vr, "OB")) ? 0 : ' '; put(b, &pad, 1); }
}
static void str(buf *b, unsigned g, unsigned e, const char *vr, const char *s) { elem(b, g, e, vr, s, strlen(s)); }
static void us(buf *b, unsigned g, unsigned e, unsigned v) { unsigned char x[2] = {v & 0xff, v >> 8}; elem(b, g, e, "US", x, 2); }

static int mkdcm(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *out = argv[2], *sop = NULL, *study = NULL, *series = NULL, *lat = "L", *view = "CC";
    const char *charset = NULL, *patient = "PHANTOM01";
    int rows = 64, cols = 48;
    long nest = 0;
    unsigned seed = 1;
    for (int i = 3; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--sop")) sop = v;
        else if (!strcmp(a, "--study")) study = v;
        else if (!strcmp(a, "--series")) series = v;
        else if (!strcmp(a, "--lat")) lat = v;
        else if (!strcmp(a, "--view")) view = v;
        else if (!strcmp(a, "--rows")) rows = atoi(v);
        else if (!strcmp(a, "--cols")) cols = atoi(v);
        else if (!strcmp(a, "--seed")) seed = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--nest")) nest = atol(v);
        else if (!strcmp(a, "--charset")) charset = v;
        else if (!strcmp(a, "--patient")) patient = v;
        else if (!strcmp(a, "--patient-hex")) {
            static char raw[130];
            size_t k = 0;
            for (; k + 1 < sizeof raw && v[2 * k] && v[2 * k + 1]; k++) {
                char h[3] = {v[2 * k], v[2 * k + 1], 0};
                raw[k] = (char)strtoul(h, NULL, 16);
            }
            raw[k] = '\0';
            patient = raw;
        }
        else { fprintf(stderr, "unknown option %s\n", a); return 2; }
    }
    if (!sop || !study || !series || rows < 1 || cols < 1) {
        fprintf(stderr, "mkdcm needs --sop, --study, --series\n");
        return 2;
    }
    const char *mg = "1.2.840.10008.5.1.4.1.1.1.2", *ts = "1.2.840.10008.1.2.1";
    buf meta = {0}, ds = {0}, item = {0}, file = {0};
    static const unsigned char version[2] = {0, 1};
    elem(&meta, 2, 1, "OB", version, 2);
    str(&meta, 2, 2, "UI", mg);
    str(&meta, 2, 3, "UI", sop);
    str(&meta, 2, 0x10, "UI", ts);
    str(&meta, 2, 0x12, "UI", "1.2.826.0.1.3680043.9.7433.1.1");
    int mlo = !strcmp(view, "MLO");
    str(&item, 8, 0x100, "SH", mlo ? "R-10226" : "R-10242");
    str(&item, 8, 0x102, "SH", "SRT");
    str(&item, 8, 0x104, "LO", mlo ? "medio-lateral oblique" : "cranio-caudal");

    if (charset) str(&ds, 8, 0x05, "CS", charset);
    str(&ds, 8, 0x16, "UI", mg);
    str(&ds, 8, 0x18, "UI", sop);
    str(&ds, 8, 0x20, "DA", "20260101");
    str(&ds, 8, 0x60, "CS", "MG");
    str(&ds, 8, 0x68, "CS", "FOR PRESENTATION");
    str(&ds, 0x10, 0x20, "LO", patient);
    str(&ds, 0x10, 0x1010, "AS", "057Y");
    str(&ds, 0x18, 0x5101, "CS", view);
    str(&ds, 0x20, 0x0d, "UI", study);
    str(&ds, 0x20, 0x0e, "UI", series);
    str(&ds, 0x20, 0x62, "CS", lat);
    us(&ds, 0x28, 0x02, 1);
    str(&ds, 0x28, 0x04, "CS", "MONOCHROME2");
    us(&ds, 0x28, 0x10, (unsigned)rows);
    us(&ds, 0x28, 0x11, (unsigned)cols);
    us(&ds, 0x28, 0x100, 16);
    us(&ds, 0x28, 0x101, 12);
    us(&ds, 0x28, 0x102, 11);
    us(&ds, 0x28, 0x103, 0);
    for (long i = 0; i < nest; i++) {   /* SQ, undefined length, an undefined-length item */
        u16(&ds, 0x40); u16(&ds, 0x275); put(&ds, "SQ", 2); u16(&ds, 0); u32(&ds, 0xffffffffu);
        u16(&ds, 0xfffe); u16(&ds, 0xe000); u32(&ds, 0xffffffffu);
    }
    for (long i = 0; i < nest; i++) {   /* item delimiter, sequence delimiter */
        u16(&ds, 0xfffe); u16(&ds, 0xe00d); u32(&ds, 0);
        u16(&ds, 0xfffe); u16(&ds, 0xe0dd); u32(&ds, 0);
    }
    buf sq = {0};
    u16(&sq, 0xfffe); u16(&sq, 0xe000); u32(&sq, item.n);
    put(&sq, item.p, item.n);
    elem(&ds, 0x54, 0x220, "SQ", sq.p, sq.n);
    size_t npx = (size_t)rows * (size_t)cols;
    unsigned char *px = malloc(npx * 2);
    if (!px) return 1;
    uint32_t s = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < npx; i++) {
        s = s * 1664525u + 1013904223u;
        unsigned v = (unsigned)((i * 7 + (s >> 20)) & 0x0fff);   /* gradient + noise, 12 bits */
        px[2 * i] = v & 0xff;
        px[2 * i + 1] = (unsigned char)(v >> 8);
    }
    elem(&ds, 0x7fe0, 0x10, "OW", px, npx * 2);
    free(px);

    unsigned char pre[128] = {0};
    put(&file, pre, 128);
    put(&file, "DICM", 4);
    unsigned char gl[4] = {meta.n & 0xff, (meta.n >> 8) & 0xff, (meta.n >> 16) & 0xff, (meta.n >> 24) & 0xff};
    elem(&file, 2, 0, "UL", gl, 4);
    put(&file, meta.p, meta.n);
    put(&file, ds.p, ds.n);
    FILE *f = fopen(out, "wb");
    if (!f || fwrite(file.p, 1, file.n, f) != file.n || fclose(f) != 0) {
        perror(out);
        return 1;
    }
    free(meta.p); free(ds.p); free(item.p); free(sq.p); free(file.p);
    return 0;
}

int main(int argc, char **argv) {
    log_init(LOG_LVL_INFO, LOG_CAT_ALL, 0, "scp_harness");
    if (argc >= 2 && !strcmp(argv[1], "serve")) return serve(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "mkdcm")) return mkdcm(argc, argv);
    fprintf(stderr, "usage: scp_harness serve ... | mkdcm OUT ...\n");
    return 2;
}
