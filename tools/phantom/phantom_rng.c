/* phantom_rng.c: the generator's random streams (the engine's xoshiro256**, states keyed
 * through splitmix64's mix) and its deterministic UIDs. Streams are keyed by (seed, index,
 * purpose) so that every study and every view can be regenerated on its own. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tools/phantom/phantom.h"

uint64_t ph_hash3(uint64_t a, uint64_t b, uint64_t c) {
    return mama_rng_mix64(mama_rng_mix64(mama_rng_mix64(a) ^ b) ^ c);
}

void ph_rng_seed(mama_rng *r, uint64_t a, uint64_t b, uint64_t c) {
    uint64_t x = ph_hash3(a, b, c);
    for (int i = 0; i < 4; i++) {
        x = mama_rng_mix64(x + (uint64_t)i);
        r->s[i] = x;
    }
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
}

double ph_rng_range(mama_rng *r, double lo, double hi) { return lo + (hi - lo) * mama_rng_uniform(r); }

double ph_rng_normal(mama_rng *r) {
    double u1 = mama_rng_uniform(r), u2 = mama_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int ph_rng_pick(mama_rng *r, const double *weights, int n) {
    double total = 0;
    for (int i = 0; i < n; i++) total += weights[i];
    double u = mama_rng_uniform(r) * total;
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
