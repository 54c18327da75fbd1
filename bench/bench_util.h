/* bench_util.h: the clock and load report every benchmark program shares. */
#ifndef MAMA_BENCH_UTIL_H
#define MAMA_BENCH_UTIL_H

#include <stdio.h>
#include <time.h>

/* Monotonic wall-clock seconds. */
static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Seconds of CPU time used by this process (all threads): comparable on a busy machine. */
static inline double bench_cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The machine may be shared: print its load beside the figures. */
static inline void bench_print_load(void) {
    char buf[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f)) buf[0] = '\0';
        fclose(f);
    }
    printf("load average at start: %s", buf);
}

#endif
