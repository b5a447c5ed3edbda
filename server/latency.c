/*
 * latency.c - log-linear latency histograms (see latency.h).
 */
#include "server/latency.h"
#include "engine/lode.h"

static int bucket_of(uint64_t ns)
{
    if (ns < LAT_SUB) return (int)ns;
    int e = 63 - __builtin_clzll(ns); /* ns in [2^e, 2^(e+1)), e >= 4 */
    int sub = (int)((ns >> (e - 4)) & (LAT_SUB - 1));
    int idx = (e - 3) * LAT_SUB + sub;
    return idx < LAT_BUCKETS ? idx : LAT_BUCKETS - 1;
}

/* Midpoint of a bucket, in ns. */
static double bucket_value(int idx)
{
    if (idx < LAT_SUB) return (double)idx;
    int e = idx / LAT_SUB + 3, sub = idx % LAT_SUB;
    double lo = (double)(1ULL << e) + (double)sub * (double)(1ULL << (e - 4));
    return lo + (double)(1ULL << (e - 4)) / 2;
}

void latency_record(struct latency_hist **h, uint64_t ns)
{
    if (!*h) *h = lode_calloc(sizeof(**h));
    (*h)->count++;
    (*h)->bucket[bucket_of(ns)]++;
}

double latency_percentile(const struct latency_hist *h, double p)
{
    if (!h || !h->count) return 0;
    uint64_t want = (uint64_t)((double)h->count * p / 100.0 + 0.5);
    if (want < 1) want = 1;
    uint64_t seen = 0;
    for (int i = 0; i < LAT_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= want) return bucket_value(i) / 1000.0;
    }
    return bucket_value(LAT_BUCKETS - 1) / 1000.0;
}

void latency_free(struct latency_hist **h)
{
    lode_free(*h);
    *h = NULL;
}
