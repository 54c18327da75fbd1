/* dcm_tmpfile.cc: see dcm_tmpfile.h. */
#include "dicom/dcm_tmpfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include <openssl/evp.h>

#include "dcmtk/dcmdata/dcuid.h"

static const size_t kBufSize = 256 * 1024;
/* Start writeback of every 8 MB as it arrives, so the fsync before the response waits for
 * the tail of a 17 MB mammogram rather than all of it (disk and network overlap). */
static const uint64_t kWritebackChunk = 8u << 20;

DcmTmpConsumer::~DcmTmpConsumer() {
    free(buf_);
    EVP_MD_CTX_free(md_);
}

void DcmTmpConsumer::sha256_hex(char out[65]) {
    out[0] = '\0';
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (md_failed_ || !md_ || EVP_DigestFinal_ex(md_, d, &n) != 1 || n != 32) return;
    for (unsigned i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
    EVP_MD_CTX_free(md_);
    md_ = nullptr;
}

int DcmTmpConsumer::drain() {
    size_t off = 0;
    while (off < used_ && err_ == 0) {
        /* pwrite at the known offset: the storage writes (this file, SQLite's WAL) are
         * all positional, so a fault injected into pwrite (tests/service durability) hits
         * storage and never the network or the log */
        ssize_t n = ::pwrite(fd_, buf_ + off, used_ - off, (off_t)on_disk_);
        if (n < 0) {
            if (errno == EINTR) continue;
            err_ = errno;
        } else {
            off += (size_t)n;
            on_disk_ += (uint64_t)n;
        }
    }
    used_ = 0;
    if (err_ == 0 && on_disk_ - kicked_ >= kWritebackChunk) start_writeback();
    return err_;
}

void DcmTmpConsumer::start_writeback() {
    /* Only a hint: errors surface at the fsync that decides the status. */
    (void)sync_file_range(fd_, (off64_t)kicked_, (off64_t)(on_disk_ - kicked_),
                          SYNC_FILE_RANGE_WRITE);
    kicked_ = on_disk_;
}

offile_off_t DcmTmpConsumer::write(const void *buf, offile_off_t buflen) {
    if (buflen <= 0) return 0;
    bytes_ += (uint64_t)buflen;
    /* the digest of the file as written, computed on the way (no second read) */
    if (!md_ && !md_failed_ && (!(md_ = EVP_MD_CTX_new()) || EVP_DigestInit_ex(md_, EVP_sha256(), NULL) != 1))
        md_failed_ = true;
    if (!md_failed_ && EVP_DigestUpdate(md_, buf, (size_t)buflen) != 1) md_failed_ = true;
    if (err_) return buflen;                       /* swallow after the first error */
    if (fail_errno) {
        err_ = fail_errno;
        return buflen;
    }
    if (!buf_) {
        buf_ = (unsigned char *)malloc(kBufSize);
        if (!buf_) {
            err_ = ENOMEM;
            return buflen;
        }
    }
    const unsigned char *p = (const unsigned char *)buf;
    size_t left = (size_t)buflen;
    while (left > 0 && err_ == 0) {
        size_t take = kBufSize - used_;
        if (take > left) take = left;
        memcpy(buf_ + used_, p, take);
        used_ += take;
        p += take;
        left -= take;
        if (used_ == kBufSize) drain();
    }
    return buflen;
}

int DcmTmpConsumer::finish() {
    if (err_ == 0 && used_ > 0) drain();
    return err_;
}

int dcm_tmpfile_create(const char *tmp_dir, char *out_path, size_t path_len) {
    static std::atomic<unsigned long> seq{0};
    for (int attempt = 0; attempt < 16; attempt++) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        unsigned long n = ++seq;
        int len = snprintf(out_path, path_len, "%s/rcv-%ld-%lu-%08lx.part", tmp_dir,
                           (long)getpid(), n, (unsigned long)(ts.tv_nsec ^ (n * 2654435761u)));
        if (len < 0 || (size_t)len >= path_len) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    errno = EEXIST;
    return -1;
}

/* One explicit-VR-little-endian element; values are padded to even length with pad. */
static size_t put_elem(unsigned char *out, size_t cap, size_t pos, uint16_t elem, const char *vr,
                       const void *value, size_t len, char pad) {
    size_t padded = len + (len & 1);
    int long_form = (vr[0] == 'O' && vr[1] == 'B');
    size_t need = 8 + (long_form ? 4 : 0) + padded;
    if (pos + need > cap) return 0;
    unsigned char *p = out + pos;
    p[0] = 0x02; p[1] = 0x00;
    p[2] = (unsigned char)(elem & 0xff); p[3] = (unsigned char)(elem >> 8);
    p[4] = (unsigned char)vr[0]; p[5] = (unsigned char)vr[1];
    if (long_form) {
        p[6] = p[7] = 0;
        p[8] = (unsigned char)(padded & 0xff); p[9] = (unsigned char)((padded >> 8) & 0xff);
        p[10] = (unsigned char)((padded >> 16) & 0xff); p[11] = (unsigned char)(padded >> 24);
        p += 12;
    } else {
        p[6] = (unsigned char)(padded & 0xff); p[7] = (unsigned char)(padded >> 8);
        p += 8;
    }
    memcpy(p, value, len);
    if (padded != len) p[len] = (unsigned char)pad;
    return need;
}

size_t dcm_tmpfile_meta(unsigned char *out, size_t cap, const char *sop_class_uid,
                        const char *sop_instance_uid, const char *transfer_syntax_uid,
                        const char *source_ae) {
    static const unsigned char version[2] = {0x00, 0x01};
    static const char impl_version[] = "MAMAD_" MAMA_VERSION;
    if (cap < 132 + 12) return 0;
    memset(out, 0, 128);
    memcpy(out + 128, "DICM", 4);
    size_t start = 132 + 12;   /* after the group length element */
    size_t pos = start, n;
#define PUT(e, vr, v, l, pad)                                       \
    do {                                                            \
        n = put_elem(out, cap, pos, (e), (vr), (v), (l), (pad));    \
        if (!n) return 0;                                           \
        pos += n;                                                   \
    } while (0)
    PUT(0x0001, "OB", version, 2, 0);
    PUT(0x0002, "UI", sop_class_uid, strlen(sop_class_uid), 0);
    PUT(0x0003, "UI", sop_instance_uid, strlen(sop_instance_uid), 0);
    PUT(0x0010, "UI", transfer_syntax_uid, strlen(transfer_syntax_uid), 0);
    PUT(0x0012, "UI", OFFIS_IMPLEMENTATION_CLASS_UID, strlen(OFFIS_IMPLEMENTATION_CLASS_UID), 0);
    PUT(0x0013, "SH", impl_version, strlen(impl_version) > 16 ? 16 : strlen(impl_version), ' ');
    if (source_ae && source_ae[0]) PUT(0x0016, "AE", source_ae, strnlen(source_ae, 16), ' ');
#undef PUT
    uint32_t group_len = (uint32_t)(pos - start);
    unsigned char gl[4] = {(unsigned char)(group_len & 0xff), (unsigned char)((group_len >> 8) & 0xff),
                           (unsigned char)((group_len >> 16) & 0xff), (unsigned char)(group_len >> 24)};
    put_elem(out, cap, 132, 0x0000, "UL", gl, 4, 0);
    return pos;
}
