/* npy_write.c: see npy_write.h. Header: magic, version 1.0, a 2-byte length, then a Python
 * dict literal padded with spaces and a newline so that the data starts 64-byte aligned. */
#include "tools/npy_write.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

mama_status npy_write_f32(const char *path, const float *data, int ndim, const int64_t *shape) {
    char dict[256], tmp[4096];
    size_t n = 1, o = 0;
    o += (size_t)snprintf(dict + o, sizeof dict - o, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < ndim; i++) {
        o += (size_t)snprintf(dict + o, sizeof dict - o, "%lld%s", (long long)shape[i],
                              ndim == 1 ? "," : i + 1 < ndim ? ", " : "");
        n *= (size_t)shape[i];
    }
    o += (size_t)snprintf(dict + o, sizeof dict - o, "), }");
    size_t total = 10 + o + 1, pad = (64 - total % 64) % 64;
    unsigned char head[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    uint16_t hl = (uint16_t)(o + pad + 1);
    head[8] = (unsigned char)(hl & 0xff);
    head[9] = (unsigned char)(hl >> 8);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return mama_errorf(MAMA_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    int ok = fwrite(head, 1, 10, f) == 10 && fwrite(dict, 1, o, f) == o;
    for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF && fwrite(data, sizeof(float), n, f) == n;
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return mama_errorf(MAMA_EIO, "%s: cannot write: %s", path, strerror(e));
    }
    return MAMA_OK;
}
