/* dcm_tmpfile.h (private to dicom/): the temporary file one C-STORE streams into.
 *
 * A DcmOutputStream whose bytes go straight to a file descriptor through a small buffer.
 * It never reports failure to DCMTK: after the first write error (ENOSPC, EDQUOT, EIO)
 * it remembers errno and swallows the rest, so that DIMSE_receiveDataSetInFile still
 * reads the whole dataset off the network and the association stays usable; the caller
 * then answers with a failure status. The fault-injection switch (fail_errno) makes the
 * first data write fail as if the disk were full; only the test harness turns it on. */
#ifndef MAMA_DCM_TMPFILE_H
#define MAMA_DCM_TMPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcostrma.h"

class DcmTmpConsumer : public DcmConsumer {
public:
    explicit DcmTmpConsumer(int fd) : fd_(fd) {}
    ~DcmTmpConsumer() override;
    OFBool good() const override { return OFTrue; }
    OFCondition status() const override { return EC_Normal; }
    OFBool isFlushed() const override { return OFTrue; }
    offile_off_t avail() const override { return 1 << 30; }
    offile_off_t write(const void *buf, offile_off_t buflen) override;
    void flush() override {}

    /* Writes out the buffer; returns 0, or the first errno seen on this file. */
    int finish();
    int error() const { return err_; }
    uint64_t bytes() const { return bytes_; }
    /* SHA-256 of every byte written (the whole file), as 64 lowercase hex digits + NUL;
     * "" when the digest could not be computed. Call after finish(). */
    void sha256_hex(char out[65]);
    int fail_errno = 0;   /* fault injection: the next data write fails with this errno */

private:
    int drain();
    void start_writeback();
    int fd_;
    int err_ = 0;
    uint64_t on_disk_ = 0;      /* bytes written to fd_ so far */
    uint64_t kicked_ = 0;       /* bytes whose writeback has been started */
    uint64_t bytes_ = 0;
    size_t used_ = 0;
    unsigned char *buf_ = nullptr;
    struct evp_md_ctx_st *md_ = nullptr;   /* OpenSSL EVP_MD_CTX, made on first write */
    bool md_failed_ = false;
};

class DcmTmpStream : public DcmOutputStream {
public:
    explicit DcmTmpStream(DcmTmpConsumer *c) : DcmOutputStream(c) {}
};

/* Creates tmp_dir/<prefix>-<pid>-<seq>-<rand>.part with O_CREAT|O_EXCL, mode 0640.
 * Returns the fd and the path in out_path, or -1 with errno set. */
int dcm_tmpfile_create(const char *tmp_dir, char *out_path, size_t path_len);

/* Appends the 128-byte preamble, "DICM" and the group 0002 file meta information
 * (explicit VR little endian) for one received instance to out. Returns its length. */
size_t dcm_tmpfile_meta(unsigned char *out, size_t cap, const char *sop_class_uid,
                        const char *sop_instance_uid, const char *transfer_syntax_uid,
                        const char *source_ae);

#endif
