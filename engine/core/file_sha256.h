/* file_sha256.h: the SHA-256 of a file as 64 lowercase hex digits (OpenSSL libcrypto), for
 * model provenance: a model file names the checksums of the weights it was built from. */
#ifndef MAMA_FILE_SHA256_H
#define MAMA_FILE_SHA256_H

#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* hex receives 64 hex digits and a NUL. MAMA_EIO names the path when it cannot be read. */
mama_status file_sha256_hex(const char *path, char hex[65]);

#ifdef __cplusplus
}
#endif
#endif
