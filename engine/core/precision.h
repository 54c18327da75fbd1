/* precision.h: the arithmetic a tower's products run in, as a user asks for it
 * (`--precision fp32|bf16|auto`, mamad's scoring.precision).
 * fp32 is the reference. bf16: the weight matrices rounded to bf16 once, each product's
 * input rounded on the way in, accumulation, LayerNorm, softmax and everything else in
 * fp32. auto: bf16 where the CPU has a native bf16 kernel (AVX512-BF16, AMX), else fp32.
 * Which one a request resolves to on this machine is gemm.h's gemm_precision_resolve. */
#ifndef MAMA_PRECISION_H
#define MAMA_PRECISION_H

#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mama_precision { MAMA_PREC_FP32 = 0, MAMA_PREC_BF16, MAMA_PREC_AUTO } mama_precision;

/* "fp32", "bf16" or "auto" (case-insensitive); MAMA_EINVAL naming the choices otherwise. */
mama_status mama_precision_parse(const char *s, mama_precision *out);
const char *mama_precision_name(mama_precision p);

#ifdef __cplusplus
}
#endif
#endif
