/* gpt2_impl.h: internals shared by gpt2.c and gpt2_load.c (not part of the API). */
#ifndef MAMA_GPT2_IMPL_H
#define MAMA_GPT2_IMPL_H

#include "engine/text/gpt2.h"

/* in, out features of LoRA target t (lora.h bit index) in a block of config c. */
void gpt2_lora_dims(const gpt2_config *c, int t, int *in, int *out);

#endif
