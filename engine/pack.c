/*
 * pack.c - packed entries in one allocation (see pack.h for the layout).
 */
#include "engine/pack.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <string.h>

enum {
    TAG_STR32 = 0x80,
    TAG_INT8 = 0x81,
    TAG_INT16 = 0x82,
    TAG_INT32 = 0x83,
    TAG_INT64 = 0x84,
    TAG_SMALL = 0xa0, /* 0xa0 + value, value 0..95 */
};
#define SMALL_MAX 95

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void set_bytes(uint8_t *pk, size_t n)
{
    lode_assert(n <= UINT32_MAX);
    put_u32(pk, (uint32_t)n);
}
static void set_count(uint8_t *pk, uint32_t n)
{
    put_u32(pk + 4, n);
}

/* ---- one entry's encoding ---- */

/* The tag and payload of a value about to be written: the payload of an
 * integer lives in hdr, a string's payload is the caller's bytes. */
struct enc {
    uint8_t hdr[9];
    size_t hlen;
    const char *payload; /* string bytes, NULL for integers */
    size_t plen;
};

static void enc_ll(struct enc *e, long long v)
{
    e->payload = NULL;
    e->plen = 0;
    if (v >= 0 && v <= SMALL_MAX) {
        e->hdr[0] = (uint8_t)(TAG_SMALL + v);
        e->hlen = 1;
        return;
    }
    int w;
    if (v >= INT8_MIN && v <= INT8_MAX) {
        e->hdr[0] = TAG_INT8;
        w = 1;
    } else if (v >= INT16_MIN && v <= INT16_MAX) {
        e->hdr[0] = TAG_INT16;
        w = 2;
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        e->hdr[0] = TAG_INT32;
        w = 4;
    } else {
        e->hdr[0] = TAG_INT64;
        w = 8;
    }
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < w; i++) e->hdr[1 + i] = (uint8_t)(u >> (8 * i));
    e->hlen = 1 + (size_t)w;
}

static void enc_str(struct enc *e, const char *s, size_t n)
{
    long long v;
    if (n <= 20 && util_str2ll(s, n, &v)) {
        enc_ll(e, v);
        return;
    }
    lode_assert(n <= UINT32_MAX - 16);
    if (n < 0x80) {
        e->hdr[0] = (uint8_t)n;
        e->hlen = 1;
    } else {
        e->hdr[0] = TAG_STR32;
        put_u32(e->hdr + 1, (uint32_t)n);
        e->hlen = 5;
    }
    e->payload = s;
    e->plen = n;
}

/* Bytes of the back-length field for an entry body of len bytes. */
static size_t backlen_size(size_t len)
{
    size_t k = 1;
    while (len >= 128) {
        len >>= 7;
        k++;
    }
    return k;
}

/* Writes the back-length of len at p (backlen_size(len) bytes). The byte
 * nearest the payload holds the highest bits and has its high bit clear. */
static void backlen_write(uint8_t *p, size_t len)
{
    size_t k = backlen_size(len);
    for (size_t i = k; i-- > 0;) {
        p[i] = (uint8_t)(len & 0x7f) | (i > 0 ? 0x80 : 0);
        len >>= 7;
    }
}

/* Reads a back-length ending at p (the entry's last byte), never reading
 * below lo. Returns the body length and sets *k to the field's size, or
 * returns SIZE_MAX when malformed. */
static size_t backlen_read(const uint8_t *p, const uint8_t *lo, size_t *k)
{
    size_t v = 0;
    unsigned shift = 0;
    size_t n = 0;
    for (;;) {
        if (p < lo || shift > 35) return SIZE_MAX;
        uint8_t c = *p;
        v |= (size_t)(c & 0x7f) << shift;
        n++;
        if (!(c & 0x80)) break;
        shift += 7;
        p--;
    }
    *k = n;
    return v;
}

static size_t enc_total(const struct enc *e)
{
    size_t body = e->hlen + e->plen;
    return body + backlen_size(body);
}

static void enc_write(uint8_t *p, const struct enc *e)
{
    memcpy(p, e->hdr, e->hlen);
    if (e->plen) memcpy(p + e->hlen, e->payload, e->plen);
    backlen_write(p + e->hlen + e->plen, e->hlen + e->plen);
}

/* Size of an entry's tag + payload, from its tag (entry known valid). */
static size_t body_size(const uint8_t *e)
{
    uint8_t t = e[0];
    if (t < 0x80) return 1 + (size_t)t;
    switch (t) {
    case TAG_STR32: return 5 + (size_t)get_u32(e + 1);
    case TAG_INT8: return 2;
    case TAG_INT16: return 3;
    case TAG_INT32: return 5;
    case TAG_INT64: return 9;
    default: return 1; /* TAG_SMALL range */
    }
}

static size_t entry_size(const uint8_t *e)
{
    size_t b = body_size(e);
    return b + backlen_size(b);
}

/* ---- the pack ---- */

uint8_t *pk_new(void)
{
    uint8_t *pk = lode_malloc(PK_HEADER);
    set_bytes(pk, PK_HEADER);
    set_count(pk, 0);
    return pk;
}

void pk_free(uint8_t *pk)
{
    lode_free(pk);
}

uint8_t *pk_dup(const uint8_t *pk)
{
    size_t n = pk_bytes(pk);
    uint8_t *c = lode_malloc(n);
    memcpy(c, pk, n);
    return c;
}

size_t pk_mem(const uint8_t *pk)
{
    return lode_usable(pk);
}

uint8_t *pk_first(uint8_t *pk)
{
    return pk_count(pk) ? pk + PK_HEADER : NULL;
}

uint8_t *pk_last(uint8_t *pk)
{
    if (!pk_count(pk)) return NULL;
    return pk_prev(pk, pk + pk_bytes(pk));
}

uint8_t *pk_next(uint8_t *pk, uint8_t *e)
{
    uint8_t *n = e + entry_size(e);
    return n < pk + pk_bytes(pk) ? n : NULL;
}

/* e may be the end of the pack (one past the last entry). */
uint8_t *pk_prev(uint8_t *pk, uint8_t *e)
{
    if (e <= pk + PK_HEADER) return NULL;
    size_t k = 0;
    size_t body = backlen_read(e - 1, pk + PK_HEADER, &k);
    return e - k - body;
}

uint8_t *pk_at(uint8_t *pk, long long i)
{
    long long n = pk_count(pk);
    if (i < 0) i += n;
    if (i < 0 || i >= n) return NULL;
    uint8_t *e;
    if (i <= n / 2) {
        e = pk_first(pk);
        while (i-- > 0) e = pk_next(pk, e);
    } else {
        e = pk_last(pk);
        for (long long j = n - 1; j > i; j--) e = pk_prev(pk, e);
    }
    return e;
}

void pk_get(const uint8_t *e, struct pk_val *out)
{
    uint8_t t = e[0];
    if (t < 0x80) {
        out->s = (const char *)e + 1;
        out->len = t;
        return;
    }
    out->s = NULL;
    out->len = 0;
    int w = 0;
    switch (t) {
    case TAG_STR32:
        out->s = (const char *)e + 5;
        out->len = get_u32(e + 1);
        return;
    case TAG_INT8: w = 1; break;
    case TAG_INT16: w = 2; break;
    case TAG_INT32: w = 4; break;
    case TAG_INT64: w = 8; break;
    default: out->v = t - TAG_SMALL; return;
    }
    uint64_t u = 0;
    for (int i = 0; i < w; i++) u |= (uint64_t)e[1 + i] << (8 * i);
    if (w < 8 && (u >> (8 * w - 1)) & 1) u |= ~0ULL << (8 * w); /* sign-extend */
    out->v = (long long)u;
}

const char *pk_str(const uint8_t *e, char *tmp, size_t *len)
{
    struct pk_val v;
    pk_get(e, &v);
    if (v.s) {
        *len = v.len;
        return v.s;
    }
    *len = (size_t)util_ll2str(tmp, v.v);
    return tmp;
}

bool pk_ll(const uint8_t *e, long long *out)
{
    struct pk_val v;
    pk_get(e, &v);
    if (!v.s) {
        *out = v.v;
        return true;
    }
    return util_str2ll(v.s, v.len, out);
}

/* Compares entry e with an encoded value (strings that are canonical
 * integers are always integers in a pack, so kinds never mix). */
static bool enc_eq(const uint8_t *e, const struct enc *x, bool xint, long long xv)
{
    struct pk_val v;
    pk_get(e, &v);
    if (!v.s) return xint && v.v == xv;
    return !xint && v.len == x->plen && (v.len == 0 || memcmp(v.s, x->payload, v.len) == 0);
}

bool pk_eq(const uint8_t *e, const char *s, size_t n)
{
    struct enc x;
    enc_str(&x, s, n);
    struct pk_val xv = {0};
    if (!x.payload) pk_get(x.hdr, &xv);
    return enc_eq(e, &x, x.payload == NULL, xv.v);
}

/* Opens a gap of len bytes at offset off and returns the new pack. */
static uint8_t *open_gap(uint8_t *pk, size_t off, size_t len)
{
    size_t bytes = pk_bytes(pk);
    pk = lode_realloc(pk, bytes + len);
    memmove(pk + off + len, pk + off, bytes - off);
    set_bytes(pk, bytes + len);
    return pk;
}

static uint8_t *insert_enc(uint8_t *pk, uint8_t **e, const struct enc *x)
{
    size_t off = *e ? (size_t)(*e - pk) : pk_bytes(pk);
    size_t len = enc_total(x);
    pk = open_gap(pk, off, len);
    enc_write(pk + off, x);
    set_count(pk, pk_count(pk) + 1);
    *e = pk + off;
    return pk;
}

uint8_t *pk_insert(uint8_t *pk, uint8_t **e, const char *s, size_t n)
{
    struct enc x;
    enc_str(&x, s, n);
    return insert_enc(pk, e, &x);
}

uint8_t *pk_insert_ll(uint8_t *pk, uint8_t **e, long long v)
{
    struct enc x;
    enc_ll(&x, v);
    return insert_enc(pk, e, &x);
}

uint8_t *pk_append(uint8_t *pk, const char *s, size_t n)
{
    uint8_t *e = NULL;
    return pk_insert(pk, &e, s, n);
}

uint8_t *pk_prepend(uint8_t *pk, const char *s, size_t n)
{
    uint8_t *e = pk_first(pk);
    return pk_insert(pk, &e, s, n);
}

uint8_t *pk_replace(uint8_t *pk, uint8_t **e, const char *s, size_t n)
{
    struct enc x;
    enc_str(&x, s, n);
    size_t off = (size_t)(*e - pk);
    size_t old = entry_size(*e), len = enc_total(&x);
    size_t bytes = pk_bytes(pk);
    /* s may point into this pack, which is about to move: copy it first */
    char *copy = NULL;
    if (x.payload && x.payload >= (const char *)pk && x.payload < (const char *)pk + bytes) {
        copy = lode_malloc(x.plen);
        memcpy(copy, x.payload, x.plen);
        x.payload = copy;
    }
    if (len > old) {
        pk = open_gap(pk, off + old, len - old);
    } else if (len < old) {
        memmove(pk + off + len, pk + off + old, bytes - off - old);
        set_bytes(pk, bytes - (old - len));
        pk = lode_realloc(pk, bytes - (old - len));
    }
    enc_write(pk + off, &x);
    lode_free(copy);
    *e = pk + off;
    return pk;
}

uint8_t *pk_delete(uint8_t *pk, uint8_t **e, uint32_t count)
{
    size_t off = (size_t)(*e - pk), bytes = pk_bytes(pk);
    uint8_t *p = *e, *end = pk + bytes;
    uint32_t gone = 0;
    while (gone < count && p < end) {
        p += entry_size(p);
        gone++;
    }
    size_t cut = (size_t)(p - *e);
    memmove(pk + off, pk + off + cut, bytes - off - cut);
    set_bytes(pk, bytes - cut);
    set_count(pk, pk_count(pk) - gone);
    pk = lode_realloc(pk, bytes - cut);
    *e = off < bytes - cut ? pk + off : NULL;
    return pk;
}

uint8_t *pk_delete_range(uint8_t *pk, long long start, uint32_t count)
{
    long long n = pk_count(pk);
    if (start < 0) start += n;
    if (start < 0) start = 0;
    if (start >= n || count == 0) return pk;
    uint8_t *e = pk_at(pk, start);
    return pk_delete(pk, &e, count);
}

uint8_t *pk_find(uint8_t *pk, uint8_t *from, const char *s, size_t n, uint32_t skip)
{
    struct enc x;
    enc_str(&x, s, n);
    struct pk_val xv = {0};
    bool xint = x.payload == NULL;
    if (xint) pk_get(x.hdr, &xv);
    uint8_t *e = from ? from : pk_first(pk);
    uint8_t *end = pk + pk_bytes(pk);
    while (e && e < end) {
        if (enc_eq(e, &x, xint, xv.v)) return e;
        e += entry_size(e);
        for (uint32_t i = 0; i < skip && e < end; i++) e += entry_size(e);
    }
    return NULL;
}

bool pk_validate(const uint8_t *p, size_t n)
{
    if (n < PK_HEADER || n > UINT32_MAX || get_u32(p) != n) return false;
    uint32_t count = get_u32(p + 4), seen = 0;
    size_t off = PK_HEADER;
    while (off < n) {
        const uint8_t *e = p + off;
        size_t left = n - off, body;
        uint8_t t = e[0];
        if (t < 0x80)
            body = 1 + (size_t)t;
        else if (t == TAG_STR32) {
            if (left < 5) return false;
            body = 5 + (size_t)get_u32(e + 1);
        } else if (t >= TAG_INT8 && t <= TAG_INT64) {
            static const size_t w[] = {2, 3, 5, 9};
            body = w[t - TAG_INT8];
        } else if (t >= TAG_SMALL)
            body = 1;
        else
            return false;
        if (body > left) return false;
        size_t k = backlen_size(body);
        if (k > left - body) return false;
        size_t got_k = 0;
        if (backlen_read(e + body + k - 1, e + body, &got_k) != body || got_k != k) return false;
        /* strings that are canonical integers are always stored as integers:
         * lookups rely on it */
        if (t < 0x80 || t == TAG_STR32) {
            struct pk_val v;
            long long dummy;
            pk_get(e, &v);
            if (v.len <= 20 && util_str2ll(v.s, v.len, &dummy)) return false;
        }
        off += body + k;
        if (++seen > count) return false;
    }
    return seen == count;
}

uint8_t *pk_from_bytes(const uint8_t *p, size_t n)
{
    uint8_t *pk = lode_malloc(n);
    memcpy(pk, p, n);
    return pk;
}
