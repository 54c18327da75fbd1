/* status.h: the engine's return codes and its thread-local error message.
 * Every engine function that can fail returns mama_status; on failure it has recorded a
 * message the user can act on (mama_last_error), naming the file, tensor or value. */
#ifndef MAMA_STATUS_H
#define MAMA_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mama_status {
    MAMA_OK = 0,
    MAMA_ENOMEM,       /* allocation failed */
    MAMA_EIO,          /* read/write/mmap failed */
    MAMA_EFORMAT,      /* malformed file (header, JSON, offsets, truncated data) */
    MAMA_ESHAPE,       /* tensor shape does not match the config */
    MAMA_ENOTFOUND,    /* tensor, key or file missing */
    MAMA_EINVAL,       /* bad argument or config value */
    MAMA_EDTYPE,       /* unsupported or mismatched dtype */
    MAMA_ENUMERIC,     /* NaN/Inf in inputs, activations or gradients */
    MAMA_EUNSUPPORTED, /* feature not built in (e.g. CUDA) */
} mama_status;

const char *mama_status_name(mama_status rc);

/* Records a formatted message for this thread and returns rc, so that callers can write
 * `return mama_errorf(MAMA_EFORMAT, "%s: tensor %s ...", path, name);` */
mama_status mama_errorf(mama_status rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last message recorded on this thread ("" when none). */
const char *mama_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
