/*
 * util.c - conversions, glob matching, hashing, PRNG, clocks (see util.h).
 */
#include "engine/util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

bool util_str2ull(const char *s, size_t n, unsigned long long *out)
{
    if (n == 0 || n > 20) return false;
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    if (s[0] < '1' || s[0] > '9') return false;
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool util_str2ll(const char *s, size_t n, long long *out)
{
    if (n == 0) return false;
    bool neg = s[0] == '-';
    unsigned long long v;
    if (!util_str2ull(s + neg, n - neg, &v)) return false;
    if (neg) {
        if (v == 0) return false; /* "-0" is not an integer for Redis */
        if (v > (unsigned long long)LLONG_MAX + 1) return false;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX) return false;
        *out = (long long)v;
    }
    return true;
}

/* "00" "01" ... "99": two digits per step. */
static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324"
                                     "25262728293031323334353637383940414243444546474849"
                                     "50515253545556575859606162636465666768697071727374"
                                     "75767778798081828384858687888990919293949596979899";

int util_ull2str(char *dst, unsigned long long v)
{
    int n = 1;
    for (unsigned long long t = v; t >= 10; t /= 10) n++;
    dst[n] = '\0';
    char *w = dst + n;
    while (v >= 100) {
        unsigned i = (unsigned)(v % 100) * 2;
        v /= 100;
        *--w = digit_pairs[i + 1];
        *--w = digit_pairs[i];
    }
    if (v >= 10) {
        unsigned i = (unsigned)v * 2;
        *--w = digit_pairs[i + 1];
        *--w = digit_pairs[i];
    } else {
        *--w = (char)('0' + v);
    }
    return n;
}

int util_ll2str(char *dst, long long v)
{
    if (v >= 0) return util_ull2str(dst, (unsigned long long)v);
    dst[0] = '-';
    return 1 + util_ull2str(dst + 1, (unsigned long long)(-(v + 1)) + 1);
}

bool util_str2ld(const char *s, size_t n, long double *out)
{
    char buf[UTIL_MAX_LD_CHARS];
    if (n == 0 || n >= sizeof(buf)) return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    char *end;
    long double v = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || end != buf + n || isnan(v)) return false;
    if (errno == EINVAL) return false;
    if (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO))
        return false;
    *out = v;
    return true;
}

bool util_str2d(const char *s, size_t n, double *out)
{
    char small[128];
    char *buf = n < sizeof(small) ? small : malloc(n + 1);
    if (!buf) return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    char *end;
    double v = strtod(buf, &end);
    bool ok = n > 0 && !isspace((unsigned char)buf[0]) && (size_t)(end - buf) == n && !isnan(v) &&
              !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO));
    if (buf != small) free(buf);
    if (ok) *out = v;
    return ok;
}

int util_ld2str(char *dst, size_t cap, long double v)
{
    if (isinf(v)) return snprintf(dst, cap, "%s", v > 0 ? "inf" : "-inf");
    int l = snprintf(dst, cap, "%.17Lf", v);
    if (l < 0 || (size_t)l >= cap) return 0;
    if (memchr(dst, '.', (size_t)l)) {
        while (dst[l - 1] == '0') l--;
        if (dst[l - 1] == '.') l--;
    }
    if (l == 2 && dst[0] == '-' && dst[1] == '0') {
        dst[0] = '0';
        l = 1;
    }
    dst[l] = '\0';
    return l;
}

int util_d2str(char *dst, size_t cap, double v)
{
    if (isinf(v)) return snprintf(dst, cap, "%s", v > 0 ? "inf" : "-inf");
    return snprintf(dst, cap, "%.17g", v);
}

/* One bracket class at pat[0]=='['. Returns the pattern length consumed
 * (through the closing ']' or the end) and sets *hit. */
static size_t glob_class(const char *pat, size_t plen, char c, bool nocase, bool *hit)
{
    size_t i = 1;
    bool neg = false, match = false;
    if (i < plen && pat[i] == '^') {
        neg = true;
        i++;
    }
    if (nocase) c = (char)tolower((unsigned char)c);
    for (; i < plen && pat[i] != ']'; i++) {
        if (pat[i] == '\\' && i + 1 < plen) {
            i++;
            char p = nocase ? (char)tolower((unsigned char)pat[i]) : pat[i];
            if (p == c) match = true;
        } else if (i + 2 < plen && pat[i + 1] == '-') {
            unsigned char lo = (unsigned char)pat[i], hi = (unsigned char)pat[i + 2];
            if (lo > hi) {
                unsigned char t = lo;
                lo = hi;
                hi = t;
            }
            if (nocase) {
                lo = (unsigned char)tolower(lo);
                hi = (unsigned char)tolower(hi);
            }
            if ((unsigned char)c >= lo && (unsigned char)c <= hi) match = true;
            i += 2;
        } else {
            char p = nocase ? (char)tolower((unsigned char)pat[i]) : pat[i];
            if (p == c) match = true;
        }
    }
    *hit = neg ? !match : match;
    return i < plen ? i + 1 : plen;
}

bool util_glob_match(const char *pat, size_t plen, const char *str, size_t slen, bool nocase)
{
    /* Iterative matcher: on a mismatch after a '*', retry with the star
     * absorbing one more byte. Linear in practice, no recursion. */
    size_t p = 0, s = 0, star_p = (size_t)-1, star_s = 0;
    while (s < slen) {
        if (p < plen) {
            char pc = pat[p];
            if (pc == '*') {
                while (p < plen && pat[p] == '*') p++;
                if (p == plen) return true;
                star_p = p;
                star_s = s;
                continue;
            }
            if (pc == '?') {
                p++;
                s++;
                continue;
            }
            if (pc == '[') {
                bool hit;
                size_t used = glob_class(pat + p, plen - p, str[s], nocase, &hit);
                if (hit) {
                    p += used;
                    s++;
                    continue;
                }
            } else {
                if (pc == '\\' && p + 1 < plen) pc = pat[++p];
                char sc = str[s];
                bool eq =
                    nocase ? tolower((unsigned char)pc) == tolower((unsigned char)sc) : pc == sc;
                if (eq) {
                    p++;
                    s++;
                    continue;
                }
            }
        }
        if (star_p == (size_t)-1) return false;
        p = star_p;
        s = ++star_s;
    }
    while (p < plen && pat[p] == '*') p++;
    return p == plen;
}

/* ---- hashing ---- */

static uint64_t hash_k0 = 0x9e3779b97f4a7c15ULL, hash_k1 = 0xd6e8feb86659fd93ULL;

void util_hash_seed(const uint8_t seed[16])
{
    memcpy(&hash_k0, seed, 8);
    memcpy(&hash_k1, seed + 8, 8);
    hash_k0 |= 1;
}

static inline uint64_t mum(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t rd_tail(const uint8_t *p, size_t n)
{
    /* n in 1..7: read without touching bytes past the end */
    uint64_t v = 0;
    memcpy(&v, p, n);
    return v;
}

uint64_t util_hash(const void *data, size_t n)
{
    const uint8_t *p = data;
    uint64_t h = hash_k0 ^ mum(n ^ hash_k1, 0xa0761d6478bd642fULL);
    while (n >= 16) {
        h = mum(rd64(p) ^ hash_k1 ^ h, rd64(p + 8) ^ 0xe7037ed1a0b428dbULL);
        p += 16;
        n -= 16;
    }
    if (n >= 8) {
        h = mum(rd64(p) ^ h, 0x8ebc6af09c88c6e3ULL ^ hash_k1);
        p += 8;
        n -= 8;
    }
    if (n) h = mum(rd_tail(p, n) ^ h ^ (n << 56), 0x589965cc75374cc3ULL ^ hash_k0);
    return mum(h ^ (h >> 29), hash_k1 | 1);
}

uint64_t util_hash_nocase(const void *data, size_t n)
{
    uint8_t tmp[64];
    const uint8_t *p = data;
    uint64_t h = 0;
    while (n) {
        size_t k = n < sizeof(tmp) ? n : sizeof(tmp);
        for (size_t i = 0; i < k; i++) tmp[i] = (uint8_t)tolower(p[i]);
        h ^= util_hash(tmp, k);
        h = mum(h, 0x9fb21c651e98df25ULL);
        p += k;
        n -= k;
    }
    return h;
}

/* ---- PRNG: splitmix64 stream per thread ---- */

static _Thread_local uint64_t rng_state;

uint64_t util_rand64(void)
{
    if (rng_state == 0) rng_state = hash_k0 ^ (uint64_t)util_mono_us();
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t util_rand_below(uint64_t n)
{
    return (uint64_t)(((__uint128_t)util_rand64() * n) >> 64);
}

long long util_ms_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

long long util_us_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

struct timespec util_deadline_after_us(long long us)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += us / 1000000;
    ts.tv_nsec += (us % 1000000) * 1000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

long long util_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool util_eq_nocase(const char *s, size_t n, const char *lit)
{
    size_t i = 0;
    for (; i < n; i++) {
        if (!lit[i] || tolower((unsigned char)s[i]) != tolower((unsigned char)lit[i])) return false;
    }
    return lit[i] == '\0';
}
