/* rng.c: xoshiro256** (Blackman & Vigna) with splitmix64 seeding; see rng.h. */
#include "engine/core/rng.h"

#include <math.h>

uint64_t mama_rng_mix64(uint64_t x) {
    uint64_t z = x + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = mama_rng_mix64(*x);
    *x += 0x9e3779b97f4a7c15ULL;
    return z;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void mama_rng_seed(mama_rng *rng, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

uint64_t mama_rng_u64(mama_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double mama_rng_uniform(mama_rng *rng) {
    return (double)(mama_rng_u64(rng) >> 11) * 0x1.0p-53;
}

uint64_t mama_rng_below(mama_rng *rng, uint64_t n) {
    /* Rejection on the top of the range keeps every residue equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = mama_rng_u64(rng); while (x >= limit);
    return x % n;
}

int mama_rng_bernoulli(mama_rng *rng, double p) {
    if (p <= 0.0) return 0;
    if (p >= 1.0) return 1;
    return mama_rng_uniform(rng) < p;
}

double mama_rng_normal(mama_rng *rng) {
    double u1 = 1.0 - mama_rng_uniform(rng); /* (0, 1]: log is finite */
    double u2 = mama_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
