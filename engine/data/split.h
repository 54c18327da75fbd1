/* split.h: patient-level train/validation/test splits (70/10/20), deterministic for a
 * seed and independent of row order: the distinct patients are ranked by a seeded 64-bit
 * hash of their identifier (ties by the identifier itself), the first round(0.7 n) go to
 * train, the next round(0.8 n) - round(0.7 n) to validation, the rest to test. Every image
 * of a patient lands in the same split. */
#ifndef MAMA_SPLIT_H
#define MAMA_SPLIT_H

#include <stdint.h>

#include "engine/core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum split_kind { SPLIT_TRAIN = 0, SPLIT_VAL = 1, SPLIT_TEST = 2 } split_kind;

const char *split_name(split_kind s); /* "train", "val", "test" */

/* patient_ids[i] is the patient of item i (n items, repeats allowed); out_split[i] gets
 * its split. Identifiers must not be NULL (MAMA_EINVAL naming the item). */
mama_status split_patients(const char *const *patient_ids, int n, uint64_t seed, split_kind *out_split);

#ifdef __cplusplus
}
#endif
#endif
