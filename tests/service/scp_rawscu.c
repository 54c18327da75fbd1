/* scp_rawscu.c: a tiny DICOM upper-layer client, written from PS3.8, for the SCP tests.
 * It sends what storescu cannot: a C-STORE whose dataset bytes are garbage, cut short, or
 * whose SOP Instance UID differs from the command's, and it can hold an association open
 * (to fill the pool). It prints what came back:
 *   "ASSOC accepted" | "ASSOC rejected result=R source=S reason=X"
 *   "STATUS 0xNNNN" per C-STORE, "RELEASED".
 *
 *   scp_rawscu --port P [--host ADDR] --called AE --calling AE [--file F] [--mode normal|garbage|truncate]
 *              [--cmd-sop UID] [--cmd-class UID (context and command)] [--count N] [--hold SECONDS] [--pace MS between PDVs]
 * The dataset is the file's own (explicit VR little endian, its meta header stripped) and
 * is proposed with the file's transfer syntax. Exit status 0 when the exchange finished. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct { unsigned char *p; size_t n, cap; } buf;

static void put(buf *b, const void *v, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) { perror("realloc"); exit(1); }
    }
    memcpy(b->p + b->n, v, n);
    b->n += n;
}
static void be16(buf *b, unsigned v) { unsigned char x[2] = {(v >> 8) & 0xff, v & 0xff}; put(b, x, 2); }
static void be32(buf *b, unsigned long v) {
    unsigned char x[4] = {(v >> 24) & 0xff, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff};
    put(b, x, 4);
}
static void le16(buf *b, unsigned v) { unsigned char x[2] = {v & 0xff, (v >> 8) & 0xff}; put(b, x, 2); }
static void le32(buf *b, unsigned long v) {
    unsigned char x[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff};
    put(b, x, 4);
}
static void item(buf *b, unsigned type, const void *v, size_t n) {
    unsigned char h[2] = {(unsigned char)type, 0};
    put(b, h, 2); be16(b, (unsigned)n); put(b, v, n);
}
static void ae16(buf *b, const char *ae) {
    char a[16];
    memset(a, ' ', 16);
    memcpy(a, ae, strlen(ae) > 16 ? 16 : strlen(ae));
    put(b, a, 16);
}

static int sock;
static buf body, pc, ui, sub, pdu;
static unsigned char *file_bytes;

static void free_all(void) {
    free(body.p); free(pc.p); free(ui.p); free(sub.p); free(pdu.p); free(file_bytes);
}

static int send_all(const void *p, size_t n) {
    const unsigned char *c = p;
    while (n) {
        ssize_t k = send(sock, c, n, MSG_NOSIGNAL);
        if (k <= 0) return -1;
        c += k; n -= (size_t)k;
    }
    return 0;
}
static int recv_all(void *p, size_t n) {
    unsigned char *c = p;
    while (n) {
        ssize_t k = recv(sock, c, n, 0);
        if (k <= 0) return -1;
        c += k; n -= (size_t)k;
    }
    return 0;
}
/* One PDU: returns its type, body in *out (caller frees), -1 on EOF. */
static int read_pdu(unsigned char **out, size_t *out_len) {
    unsigned char h[6];
    if (recv_all(h, 6) != 0) return -1;
    size_t len = ((size_t)h[2] << 24) | ((size_t)h[3] << 16) | ((size_t)h[4] << 8) | h[5];
    unsigned char *data = malloc(len ? len : 1);
    if (!data || recv_all(data, len) != 0) { free(data); return -1; }
    *out = data;
    *out_len = len;
    return h[0];
}

/* Value of a meta element (group 2, explicit VR LE) of a DICOM file, or "" */
static void meta_str(const unsigned char *f, size_t n, unsigned e, char *out, size_t cap, size_t *ds_off) {
    out[0] = '\0';
    size_t pos = 132;
    while (pos + 8 <= n) {
        unsigned g = f[pos] | f[pos + 1] << 8, el = f[pos + 2] | f[pos + 3] << 8;
        if (g != 2) break;
        char vr0 = (char)f[pos + 4], vr1 = (char)f[pos + 5];
        size_t len, hdr;
        if ((vr0 == 'O' && vr1 == 'B') || (vr0 == 'U' && vr1 == 'N')) {
            len = f[pos + 8] | f[pos + 9] << 8 | (size_t)f[pos + 10] << 16 | (size_t)f[pos + 11] << 24;
            hdr = 12;
        } else {
            len = f[pos + 6] | f[pos + 7] << 8;
            hdr = 8;
        }
        if (el == e && len < cap) {
            size_t k = len;
            memcpy(out, f + pos + hdr, k);
            out[k] = '\0';
            while (k && (out[k - 1] == '\0' || out[k - 1] == ' ')) out[--k] = '\0';
        }
        pos += hdr + len;
    }
    if (ds_off) *ds_off = pos;
}

static void cmd_ui(buf *b, unsigned e, const char *uid) {
    size_t n = strlen(uid), padded = n + (n & 1);
    le16(b, 0); le16(b, e); le32(b, padded); put(b, uid, n);
    if (padded != n) put(b, "", 1);
}
static void cmd_us(buf *b, unsigned e, unsigned v) { le16(b, 0); le16(b, e); le32(b, 2); le16(b, v); }

static int send_pdv(unsigned pcid, int command, int last, const unsigned char *p, size_t n) {
    buf b = {0};
    unsigned char h[2] = {4, 0};
    put(&b, h, 2);
    be32(&b, n + 6);
    be32(&b, n + 2);
    unsigned char ph[2] = {(unsigned char)pcid, (unsigned char)((command ? 1 : 0) | (last ? 2 : 0))};
    put(&b, ph, 2);
    put(&b, p, n);
    int rc = send_all(b.p, b.n);
    free(b.p);
    return rc;
}

int main(int argc, char **argv) {
    int port = 0, count = 1, hold = 0, pace_ms = 0;
    const char *called = "MAMAD", *calling = "SENDER", *file = NULL, *mode = "normal", *cmd_sop = NULL;
    const char *cmd_class = NULL, *host = "127.0.0.1";
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--port")) port = atoi(v);
        else if (!strcmp(a, "--called")) called = v;
        else if (!strcmp(a, "--calling")) calling = v;
        else if (!strcmp(a, "--file")) file = v;
        else if (!strcmp(a, "--mode")) mode = v;
        else if (!strcmp(a, "--cmd-sop")) cmd_sop = v;
        else if (!strcmp(a, "--cmd-class")) cmd_class = v;
        else if (!strcmp(a, "--count")) count = atoi(v);
        else if (!strcmp(a, "--hold")) hold = atoi(v);
        else if (!strcmp(a, "--pace")) pace_ms = atoi(v);
        else if (!strcmp(a, "--host")) host = v;
        else { fprintf(stderr, "unknown option %s\n", a); return 2; }
    }
    unsigned char *f = NULL;
    size_t fn = 0, ds_off = 0;
    atexit(free_all);
    char sop_class[80] = "1.2.840.10008.1.1", sop[80] = "", ts[80] = "1.2.840.10008.1.2.1";
    if (file) {
        FILE *fp = fopen(file, "rb");
        if (!fp) { perror(file); return 2; }
        fseek(fp, 0, SEEK_END);
        fn = (size_t)ftell(fp);
        fseek(fp, 0, SEEK_SET);
        f = file_bytes = malloc(fn);
        if (!f || fread(f, 1, fn, fp) != fn) { fprintf(stderr, "cannot read %s\n", file); return 2; }
        fclose(fp);
        meta_str(f, fn, 2, sop_class, sizeof sop_class, NULL);
        meta_str(f, fn, 3, sop, sizeof sop, NULL);
        meta_str(f, fn, 0x10, ts, sizeof ts, &ds_off);
    }
    if (cmd_class) snprintf(sop_class, sizeof sop_class, "%s", cmd_class);
    /* --host: a numeric IPv4 or IPv6 address (default 127.0.0.1) */
    struct sockaddr_storage a;
    memset(&a, 0, sizeof a);
    socklen_t alen;
    if (strchr(host, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&a;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) { fprintf(stderr, "bad --host\n"); return 2; }
        alen = sizeof *a6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&a;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) { fprintf(stderr, "bad --host\n"); return 2; }
        alen = sizeof *a4;
    }
    sock = socket(a.ss_family, SOCK_STREAM, 0);
    struct timeval tv = {20, 0};
    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(sock, (struct sockaddr *)&a, alen) != 0) { perror("connect"); return 1; }

    /* A-ASSOCIATE-RQ */
    be16(&body, 1); be16(&body, 0);
    ae16(&body, called); ae16(&body, calling);
    unsigned char zero[32] = {0};
    put(&body, zero, 32);
    item(&body, 0x10, "1.2.840.10008.3.1.1.1", 21);
    unsigned char pch[4] = {1, 0, 0, 0};
    put(&pc, pch, 4);
    item(&pc, 0x30, sop_class, strlen(sop_class));
    item(&pc, 0x40, ts, strlen(ts));
    item(&body, 0x20, pc.p, pc.n);
    be32(&sub, 16384);
    item(&ui, 0x51, sub.p, 4);
    item(&ui, 0x52, "1.2.826.0.1.3680043.9.7433.1.2", 30);
    item(&body, 0x50, ui.p, ui.n);
    unsigned char h[2] = {1, 0};
    put(&pdu, h, 2); be32(&pdu, body.n); put(&pdu, body.p, body.n);
    if (send_all(pdu.p, pdu.n) != 0) { fprintf(stderr, "send failed\n"); return 1; }

    unsigned char *r = NULL;
    size_t rn = 0;
    int type = read_pdu(&r, &rn);
    if (type == 3 && rn >= 4) {
        printf("ASSOC rejected result=%u source=%u reason=%u\n", r[1], r[2], r[3]);
        free(r);
        return 0;
    }
    if (type != 2) { printf("ASSOC failed pdu=%d\n", type); if (type >= 0) free(r); return 1; }
    int accepted = 0;
    for (size_t pos = 68; pos + 4 <= rn;) {
        unsigned it = r[pos], len = (unsigned)(r[pos + 2] << 8 | r[pos + 3]);
        if (it == 0x21 && len >= 4 && r[pos + 4] == 1 && r[pos + 6] == 0) accepted = 1;
        pos += 4 + len;
    }
    free(r);
    printf("ASSOC accepted%s\n", accepted ? "" : " (presentation context refused)");
    fflush(stdout);
    if (hold) {   /* idle like a real SCU: still listening, so an A-ABORT ends it */
        struct timeval ht = {hold, 0};
        setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &ht, sizeof ht);
        unsigned char *pdu_body = NULL;
        size_t pdu_len = 0;
        int t = read_pdu(&pdu_body, &pdu_len);
        free(pdu_body);
        if (t == 7) { printf("ABORTED by the SCP\n"); close(sock); return 0; }
        if (t >= 0) { printf("UNEXPECTED pdu=%d while idle\n", t); return 1; }
        setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }

    for (int k = 0; k < count && file && accepted; k++) {
        const unsigned char *ds = f + ds_off;
        size_t dn = fn - ds_off;
        static const char garbage[] = "This is not a DICOM data set, just some text bytes!!";
        if (!strcmp(mode, "garbage")) { ds = (const unsigned char *)garbage; dn = sizeof garbage - 1; dn &= ~(size_t)1; }
        else if (!strcmp(mode, "truncate")) { dn = dn * 6 / 10; dn &= ~(size_t)1; }
        buf c = {0}, rest = {0};
        cmd_ui(&rest, 0x0002, sop_class);
        cmd_us(&rest, 0x0100, 0x0001);
        cmd_us(&rest, 0x0110, (unsigned)(k + 1));
        cmd_us(&rest, 0x0700, 0);
        cmd_us(&rest, 0x0800, 0x0000);
        cmd_ui(&rest, 0x1000, cmd_sop ? cmd_sop : sop);
        le16(&c, 0); le16(&c, 0); le32(&c, 4); le32(&c, rest.n);
        put(&c, rest.p, rest.n);
        if (send_pdv(1, 1, 1, c.p, c.n) != 0) { fprintf(stderr, "send failed\n"); return 1; }
        for (size_t off = 0; off < dn || dn == 0; off += 8000) {
            size_t take = dn - off > 8000 ? 8000 : dn - off;
            if (send_pdv(1, 0, off + take >= dn, ds + off, take) != 0) { fprintf(stderr, "send failed\n"); return 1; }
            if (pace_ms) usleep((useconds_t)pace_ms * 1000);   /* a slow sender */
            if (dn == 0) break;
        }
        free(c.p); free(rest.p);
        /* C-STORE-RSP: a command PDV; find (0000,0900) */
        type = read_pdu(&r, &rn);
        if (type != 4) { printf("STORE no-response pdu=%d\n", type); if (type >= 0) free(r); return 1; }
        unsigned status = 0xffff;
        for (size_t pos = 6; pos + 8 <= rn;) {   /* after the PDV length and header */
            unsigned g = r[pos] | r[pos + 1] << 8, e = r[pos + 2] | r[pos + 3] << 8;
            unsigned long len = r[pos + 4] | r[pos + 5] << 8 | (unsigned long)r[pos + 6] << 16 | (unsigned long)r[pos + 7] << 24;
            if (g == 0 && e == 0x0900 && len == 2) status = r[pos + 8] | r[pos + 9] << 8;
            pos += 8 + len;
        }
        free(r);
        printf("STATUS 0x%04X\n", status);
        fflush(stdout);
    }
    unsigned char rel[10] = {5, 0, 0, 0, 0, 4, 0, 0, 0, 0};
    send_all(rel, sizeof rel);
    type = read_pdu(&r, &rn);
    if (type == 6) { printf("RELEASED\n"); free(r); }
    else { printf("RELEASE pdu=%d\n", type); if (type >= 0) free(r); }
    close(sock);
    return 0;
}
