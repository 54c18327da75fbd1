/* rng.h: a small seeded pseudo-random generator (xoshiro256** seeded through splitmix64).
 * Deterministic for a given seed on every platform, no global state: each user owns its
 * mama_rng and passes it explicitly (report masking, augmentation, data order). Not a
 * cryptographic generator. */
#ifndef MAMA_RNG_H
#define MAMA_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mama_rng {
    uint64_t s[4];
} mama_rng;

/* Seeds the state from one 64-bit value (any value, 0 included, gives a valid state). */
void mama_rng_seed(mama_rng *rng, uint64_t seed);
/* splitmix64's output step as a stateless hash of x: for callers that derive seeds or
 * states from keys (the phantom's (seed, study, purpose) streams) rather than from one
 * seed. mama_rng_seed's i-th state word is mama_rng_mix64(seed + i * 0x9e3779b97f4a7c15). */
uint64_t mama_rng_mix64(uint64_t x);
/* Next 64 uniformly distributed bits. */
uint64_t mama_rng_u64(mama_rng *rng);
/* Uniform double in [0, 1), 53 random bits. */
double mama_rng_uniform(mama_rng *rng);
/* Uniform integer in [0, n) without modulo bias; n > 0. */
uint64_t mama_rng_below(mama_rng *rng, uint64_t n);
/* 1 with probability p (p <= 0 never, p >= 1 always), else 0. */
int mama_rng_bernoulli(mama_rng *rng, double p);
/* Standard normal (Box-Muller, one value per call). */
double mama_rng_normal(mama_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
