/* privilege.h: least privilege for mamad. As root it refuses to run unless told either to
 * drop to a user once its ports are bound (--user: the ports below 1024 a PACS may expect
 * need root, nothing after them does) or that root is intended (--allow-root). */
#ifndef MAMA_PRIVILEGE_H
#define MAMA_PRIVILEGE_H

#include <stddef.h>

/* 0 when mamad may go on as the current user with these options, -1 with the reason
 * (as root with neither user nor allow_root; --user given but not root and not already
 * that user). */
int privilege_check(const char *user, int allow_root, char *err, size_t errlen);

/* Becomes user (its primary group and supplementary groups) for good; checks that root
 * cannot be regained. Call after binding, before any file is opened. No-op for NULL/""
 * or when already that user. 0, or -1 with the reason. */
int privilege_drop(const char *user, char *err, size_t errlen);

#endif
