/* hf_config.h: finding and reading a Hugging Face config.json next to its weights. */
#ifndef MAMA_HF_CONFIG_H
#define MAMA_HF_CONFIG_H

#include "engine/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads config_path, or when it is NULL the config.json in the directory of weights_path,
 * into *out_text (NUL-terminated, caller frees). MAMA_EIO names the path tried. */
mama_status hf_config_read(const char *weights_path, const char *config_path,
                           char **out_text);

#ifdef __cplusplus
}
#endif
#endif
