/* disk_full.h: the one rule for "this write failed because the storage is full", shared by
 * the SCP (dicom/dcm_scp.cc: answers 0xA700 Out of Resources, which tells the sender to
 * retry later, instead of 0x0110 Processing Failure) and the daemon's store
 * (daemon/store.c: says so in the log). */
#ifndef MAMA_COMMON_DISK_FULL_H
#define MAMA_COMMON_DISK_FULL_H

#ifdef __cplusplus
extern "C" {
#endif

/* 1 for ENOSPC (no space), EDQUOT (quota exhausted) and EFBIG (file larger than the file
 * system or RLIMIT_FSIZE allows): conditions that clear when space is freed. EIO and EROFS
 * are not: a failing disk or a read-only mount needs a person, not a retry. */
int disk_full(int err);

/* Bytes an unprivileged writer can still use on the file system holding path (statvfs
 * f_bavail x f_frsize), or -1 when it cannot be asked. The storage reserve
 * (storage.reserve: C-STOREs get 0xA700 below it, /health says so) is measured with it. */
long long disk_free_bytes(const char *path);

#ifdef __cplusplus
}
#endif
#endif
