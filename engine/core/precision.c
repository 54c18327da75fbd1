/* precision.c: names of the precisions (precision.h). */
#include "engine/core/precision.h"

#include <strings.h>

static const char *const names[] = {"fp32", "bf16", "auto"};

mama_status mama_precision_parse(const char *s, mama_precision *out) {
    for (int i = 0; s && i < 3; i++)
        if (strcasecmp(s, names[i]) == 0) {
            *out = (mama_precision)i;
            return MAMA_OK;
        }
    return mama_errorf(MAMA_EINVAL, "precision '%s': use fp32, bf16 or auto", s ? s : "(null)");
}

const char *mama_precision_name(mama_precision p) {
    return (unsigned)p < 3 ? names[p] : "?";
}
