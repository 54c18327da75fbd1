/* npy_write.h: one float32 array as a NumPy .npy file (format 1.0, little endian, C order),
 * for research users who read features with numpy.load. */
#ifndef MAMA_TOOLS_NPY_WRITE_H
#define MAMA_TOOLS_NPY_WRITE_H

#include <stdint.h>

#include "engine/core/status.h"

/* Writes data (product of shape floats) to path via a temporary file and rename. */
mama_status npy_write_f32(const char *path, const float *data, int ndim, const int64_t *shape);

#endif
