/* phantom_rng.c: the generator's random streams (xoshiro256** seeded through splitmix64)
 * and its deterministic UIDs. Streams are keyed by (seed, index, purpose) so that every
 * study and every view can be regenerated on its own. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tools/phantom/phantom.h"

uint64_t ph_mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint64_t ph_hash3(uint64_t a, uint64_t b, uint64_t c) {
    return ph_mix64(ph_mix64(ph_mix64(a) ^ b) ^ c);
}

void ph_rng_seed(ph_rng *r, uint64_t a, uint64_t b, uint64_t c) {
    uint64_t x = ph_hash3(a, b, c);
    for (int i = 0; i < 4; i++) {
        x = ph_mix64(x + (uint64_t)i);
        r->s[i] = x;
    }
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ph_rng_u64(ph_rng *r) {
    uint64_t *s = r->s;
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

double ph_rng_uniform(ph_rng *r) { return (double)(ph_rng_u64(r) >> 11) * 0x1.0p-53; }

double ph_rng_range(ph_rng *r, double lo, double hi) { return lo + (hi - lo) * ph_rng_uniform(r); }

double ph_rng_normal(ph_rng *r) {
    double u1 = ph_rng_uniform(r), u2 = ph_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int ph_rng_pick(ph_rng *r, const double *weights, int n) {
    double total = 0;
    for (int i = 0; i < n; i++) total += weights[i];
    double u = ph_rng_uniform(r) * total;
    for (int i = 0; i < n; i++) {
        if (u < weights[i]) return i;
        u -= weights[i];
    }
    return n - 1;
}

void ph_uid(char *out, uint64_t a, uint64_t b, uint64_t c) {
    uint64_t hi = ph_hash3(a, b, c), lo = ph_hash3(c ^ 0x5555555555555555ull, a, b);
    hi = (hi & ~0xf000ull) | 0x8000ull;                  /* version 8 (custom) */
    lo = (lo & 0x3fffffffffffffffull) | 0x8000000000000000ull; /* RFC 4122 variant */
    unsigned __int128 v = ((unsigned __int128)hi << 64) | lo;
    char digits[48];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    memcpy(out, "2.25.", 5);
    for (int i = 0; i < n; i++) out[5 + i] = digits[n - 1 - i];
    out[5 + n] = '\0';
}
