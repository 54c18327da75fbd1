/* status.c: names of the engine's status codes and the per-thread error message. */
#include "engine/core/status.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[1024];

const char *mama_status_name(mama_status rc) {
    switch (rc) {
    case MAMA_OK: return "ok";
    case MAMA_ENOMEM: return "out of memory";
    case MAMA_EIO: return "I/O error";
    case MAMA_EFORMAT: return "malformed file";
    case MAMA_ESHAPE: return "shape mismatch";
    case MAMA_ENOTFOUND: return "not found";
    case MAMA_EINVAL: return "invalid argument";
    case MAMA_EDTYPE: return "unsupported dtype";
    case MAMA_ENUMERIC: return "non-finite value";
    case MAMA_EUNSUPPORTED: return "not supported in this build";
    }
    return "unknown status";
}

mama_status mama_errorf(mama_status rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return rc;
}

const char *mama_last_error(void) { return last_error; }
