/* file_sha256.c: SHA-256 of a file through OpenSSL's EVP digest (see file_sha256.h). */
#include "engine/core/file_sha256.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

mama_status file_sha256_hex(const char *path, char hex[65]) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return mama_errorf(MAMA_EIO, "%s: cannot open to checksum it: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    mama_status rc = MAMA_OK;
    if (!ctx || !buf || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        rc = mama_errorf(MAMA_ENOMEM, "%s: cannot start a SHA-256 digest", path);
        goto done;
    }
    size_t n;
    while ((n = fread(buf, 1, CHUNK, fp)) > 0) EVP_DigestUpdate(ctx, buf, n);
    if (ferror(fp)) { rc = mama_errorf(MAMA_EIO, "%s: read error while checksumming", path); goto done; }
    unsigned char md[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    for (unsigned i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
done:
    free(buf);
    EVP_MD_CTX_free(ctx);
    fclose(fp);
    return rc;
}
