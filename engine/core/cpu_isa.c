/* cpu_isa.c: the engine's run-time ISA choice (cpu_isa.h). */
#include "engine/core/cpu_isa.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define X86 1
#else
#define X86 0
#endif

static int level; /* 0 baseline, 1 avx2+fma, 2 avx512, 3 avx512 + bf16 */
static char model[64] = "unknown";
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void detect(void) {
#if X86
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    /* AVX512-BF16: CPUID leaf 7 sub-leaf 1, EAX bit 5 */
    unsigned a = 0, b = 0, c = 0, d = 0;
    int bf16 = avx512 && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5));
    level = bf16 ? 3 : avx512 ? 2 : avx2 ? 1 : 0;
    unsigned regs[12];
    if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x80000004u) {
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002u + i, &regs[4 * i], &regs[4 * i + 1], &regs[4 * i + 2],
                        &regs[4 * i + 3]);
        memcpy(model, regs, 48);
        model[48] = '\0';
        char *s = model; /* brand strings may start with blanks */
        while (*s == ' ') s++;
        memmove(model, s, strlen(s) + 1);
    }
#endif
    const char *cap = getenv("MAMA_MAX_ISA");
    if (cap && strcasecmp(cap, "avx2") == 0 && level > 1) level = 1;
    if (cap && strcasecmp(cap, "avx512") == 0 && level > 2) level = 2;
    if (cap && strcasecmp(cap, "baseline") == 0) level = 0;
}

static int get(void) {
    pthread_once(&once, detect);
    return level;
}

int cpu_isa_avx2_fma(void) { return get() >= 1; }
int cpu_isa_avx512(void) { return get() >= 2; }
int cpu_isa_avx512_bf16(void) { return get() >= 3; }

const char *cpu_isa_name(void) {
    static const char *const names[] = {"baseline", "avx2", "avx512", "avx512_bf16"};
    return names[get()];
}

const char *cpu_isa_model(void) {
    get();
    return model;
}
