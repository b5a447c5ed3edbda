/*
 * util.h - number/string conversions with Redis's exact acceptance rules,
 * glob matching, the keyspace hash function and a fast PRNG.
 *
 * Thread: any (the hash seed and PRNG state are set up once at start).
 * Never allocates, never blocks.
 */
#ifndef LODE_UTIL_H
#define LODE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Longest decimal form of a long long, with sign and NUL. */
#define UTIL_LLSTR_SIZE 21
/* Longest input util_str2ld accepts (Redis: MAX_LONG_DOUBLE_CHARS). */
#define UTIL_MAX_LD_CHARS (5 * 1024)

/* Strict integer parse: optional '-', no '+', no spaces, no leading zeros,
 * whole input consumed, fits in long long. Returns true on success. */
bool util_str2ll(const char *s, size_t n, long long *out);
/* Same, for unsigned 64-bit values (no sign allowed). */
bool util_str2ull(const char *s, size_t n, unsigned long long *out);
/* Writes v in decimal (no NUL needed by callers, but one is written);
 * returns the length. dst must hold UTIL_LLSTR_SIZE bytes. */
int util_ll2str(char *dst, long long v);
int util_ull2str(char *dst, unsigned long long v);
/* Parses a long double as INCRBYFLOAT accepts it: no leading space, whole
 * input consumed, not NaN. Returns true on success. */
bool util_str2ld(const char *s, size_t n, long double *out);
/* Parses a double as Redis's getDoubleFromObject does ("inf", "-inf" and
 * "+inf" allowed, NaN and spaces not). */
bool util_str2d(const char *s, size_t n, double *out);
/* Formats a long double the way INCRBYFLOAT replies ("%.17Lf", trailing
 * zeros and a bare point removed). Returns the length; dst >= 5200 bytes
 * is always enough, 128 is for any finite value of sane magnitude. */
int util_ld2str(char *dst, size_t cap, long double v);
/* Formats a double the way Redis replies with one (RESP2 bulk / RESP3 ','):
 * "inf", "-inf", integers without a point when exact, else %.17g. */
int util_d2str(char *dst, size_t cap, double v);

/* Glob match as Redis's KEYS/SCAN MATCH/CONFIG GET: * ? [abc] [^a-z] \x. */
bool util_glob_match(const char *pat, size_t plen, const char *str, size_t slen, bool nocase);

/* Seeds the hash function; call once before any table is built. */
void util_hash_seed(const uint8_t seed[16]);
/* The keyspace hash: fast, seeded (so hash flooding needs the seed). */
uint64_t util_hash(const void *p, size_t n);
/* Case-insensitive variant (ASCII), for command names. */
uint64_t util_hash_nocase(const void *p, size_t n);

/* Per-thread PRNG (xoshiro256**-style state); seeded from util_hash_seed. */
uint64_t util_rand64(void);
/* Uniform in [0, n); n > 0. */
uint64_t util_rand_below(uint64_t n);

/* Milliseconds / microseconds since the epoch (wall clock), and a monotonic
 * microsecond clock for durations. */
long long util_ms_now(void);
long long util_us_now(void);
long long util_mono_us(void);
/* The CLOCK_REALTIME time us microseconds from now: a deadline for
 * pthread_cond_timedwait. */
struct timespec util_deadline_after_us(long long us);

/* Case-insensitive ASCII equality of a counted string with a C string. */
bool util_eq_nocase(const char *s, size_t n, const char *lit);

#endif
