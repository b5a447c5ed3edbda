/*
 * latency.h - per-command latency histograms for INFO latencystats.
 *
 * Log-linear buckets over nanoseconds: values below 16 ns have a bucket
 * each; above, every power of two is split into 16 sub-buckets, so a
 * reported percentile is within 1/16 (6.25%) of the true value, from 1 ns
 * to about 18 minutes. 41 * 16 counters (5 KiB) per command, allocated on
 * the command's first call.
 *
 * Thread: main. Allocates once per command.
 */
#ifndef LODE_LATENCY_H
#define LODE_LATENCY_H

#include <stdint.h>

#define LAT_SUB     16
#define LAT_BUCKETS (41 * LAT_SUB)

struct latency_hist {
    uint64_t count;
    uint32_t bucket[LAT_BUCKETS];
};

/* Records one duration; *h is allocated on first use. */
void latency_record(struct latency_hist **h, uint64_t ns);
/* The p-th percentile (0 < p <= 100) in microseconds; 0 when empty. */
double latency_percentile(const struct latency_hist *h, double p);
void latency_free(struct latency_hist **h);

#endif
