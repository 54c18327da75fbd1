/* disk_full.c: see disk_full.h. */
#include "common/disk_full.h"

#include <errno.h>

int disk_full(int err) { return err == ENOSPC || err == EDQUOT || err == EFBIG; }
