/* metrics.c: see metrics.h. */
#include "daemon/metrics.h"

const double metrics_latency_bounds[METRICS_LATENCY_BUCKETS] = {
    0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300,
};

void metrics_observe_latency(metrics *m, int64_t ms) {
    int b = 0;
    while (b < METRICS_LATENCY_BUCKETS && (double)ms / 1000.0 > metrics_latency_bounds[b]) b++;
    atomic_fetch_add(&m->latency_bucket[b], 1);
    atomic_fetch_add(&m->latency_sum_ms, ms);
}
