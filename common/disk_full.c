/* disk_full.c: see disk_full.h. */
#include "common/disk_full.h"

#include <errno.h>
#include <sys/statvfs.h>

int disk_full(int err) { return err == ENOSPC || err == EDQUOT || err == EFBIG; }

long long disk_free_bytes(const char *path) {
    struct statvfs v;
    if (statvfs(path, &v) != 0) return -1;
    return (long long)v.f_bavail * (long long)v.f_frsize;
}
