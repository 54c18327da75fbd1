/* metrics.h: process counters for /metrics (Prometheus text). Atomic, bumped from the
 * SCP pool threads, the workers and the REST threads; totals that must survive restarts
 * (instances, bytes, duplicates, studies by state) come from the index instead. */
#ifndef MAMA_METRICS_H
#define MAMA_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#define METRICS_LATENCY_BUCKETS 10

typedef struct metrics {
    atomic_llong stores_ok;          /* C-STORE Success, new instances */
    atomic_llong stores_duplicate;   /* C-STORE Success, SOP already indexed */
    atomic_llong stores_failed;      /* C-STORE answered with a failure by the daemon */
    atomic_llong bytes_stored;
    atomic_llong assoc_accepted;
    atomic_llong assoc_rejected;
    atomic_llong http_requests;
    atomic_llong http_errors;        /* responses >= 400 */
    atomic_llong scoring_ok;
    atomic_llong scoring_failed;
    atomic_llong latency_bucket[METRICS_LATENCY_BUCKETS + 1]; /* scoring seconds, +Inf last */
    atomic_llong latency_sum_ms;
    atomic_llong outbox_sent;        /* C-STORE Success from a [forward] destination */
    atomic_llong outbox_errors;      /* failed send attempts */
} metrics;

/* Upper bounds, seconds, of the scoring latency histogram buckets. */
extern const double metrics_latency_bounds[METRICS_LATENCY_BUCKETS];

void metrics_observe_latency(metrics *m, int64_t ms);

#endif
