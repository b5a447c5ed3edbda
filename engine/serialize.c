/*
 * serialize.c - key entries as checkpoint values (see serialize.h and
 * docs/checkpoint-format.md).
 */
#include "engine/serialize.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <lz4.h>

#include <errno.h>
#include <string.h>

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

void ser_put_u32(struct buf *out, uint32_t v)
{
    uint8_t b[4];
    put_u32(b, v);
    buf_append(out, b, 4);
}

void ser_put_u64(struct buf *out, uint64_t v)
{
    uint8_t b[8];
    put_u64(b, v);
    buf_append(out, b, 8);
}

void ser_put_str(struct buf *out, const void *s, size_t n)
{
    lode_assert(n <= UINT32_MAX);
    ser_put_u32(out, (uint32_t)n);
    buf_append(out, s, n);
}

bool ser_get_bytes(struct ser_rd *r, size_t n, const uint8_t **out)
{
    if (r->bad || n > r->n - r->off) {
        r->bad = true;
        return false;
    }
    *out = r->p + r->off;
    r->off += n;
    return true;
}

bool ser_get_u8(struct ser_rd *r, uint8_t *v)
{
    const uint8_t *b;
    if (!ser_get_bytes(r, 1, &b)) return false;
    *v = b[0];
    return true;
}

bool ser_get_u32(struct ser_rd *r, uint32_t *v)
{
    const uint8_t *b;
    if (!ser_get_bytes(r, 4, &b)) return false;
    *v = get_u32(b);
    return true;
}

bool ser_get_u64(struct ser_rd *r, uint64_t *v)
{
    const uint8_t *b;
    if (!ser_get_bytes(r, 8, &b)) return false;
    *v = get_u64(b);
    return true;
}

bool ser_get_str(struct ser_rd *r, const char **s, size_t *n)
{
    uint32_t len;
    const uint8_t *b;
    if (!ser_get_u32(r, &len) || !ser_get_bytes(r, len, &b)) return false;
    *s = (const char *)b;
    *n = len;
    return true;
}

/* Appends the LZ4 form of a string's bytes (u64 original length, then the
 * compressed block) when that is smaller. Returns false, appending
 * nothing, when compression does not save space. */
static bool append_lz4(struct buf *out, const char *s, size_t len)
{
    size_t start = out->len;
    int bound = LZ4_compressBound((int)len);
    uint8_t *w = (uint8_t *)buf_reserve(out, 8 + (size_t)bound);
    int n = LZ4_compress_default(s, (char *)w + 8, (int)len, bound);
    if (n <= 0 || (size_t)n + 8 >= len) return false;
    put_u64(w, (uint64_t)len);
    out->len = start + 8 + (size_t)n;
    out->ptr[out->len] = '\0';
    return true;
}

int serialize_kv(struct buf *out, const struct kv *kv, long long expire_ms)
{
    const struct obj_ops *ops = obj_get_ops(kv->type);
    if (kv->type != OBJ_STRING && (!ops || !ops->serialize)) return -ENOTSUP;
    size_t entry = out->len;
    uint8_t h[SER_HEADER];
    h[0] = kv->type == OBJ_STRING ? SER_TYPE_STRING : (uint8_t)ops->ser_type;
    h[1] = kv->enc == ENC_INT ? SER_ENC_INT : SER_ENC_BYTES;
    put_u64(h + 2, (uint64_t)(expire_ms < 0 ? -1 : expire_ms));
    put_u32(h + 10, kv->klen);
    buf_append(out, h, sizeof(h));
    buf_append(out, kv_key(kv), kv->klen);
    if (kv->type != OBJ_STRING) {
        int enc = ops->serialize(out, kv->v.ptr, kv->enc);
        out->ptr[entry + 1] = (char)enc;
        return 0;
    }
    uint8_t v[8];
    if (kv->enc == ENC_INT) {
        put_u64(v, (uint64_t)kv->v.i);
        buf_append(out, v, 8);
    } else {
        char tmp[UTIL_LLSTR_SIZE];
        size_t len;
        const char *s = kv_str(kv, tmp, &len);
        if (len >= SER_LZ4_THRESHOLD && len <= (size_t)LZ4_MAX_INPUT_SIZE &&
            append_lz4(out, s, len)) {
            out->ptr[entry + 1] = SER_ENC_LZ4;
            return 0;
        }
        put_u64(v, (uint64_t)len);
        buf_append(out, v, 8);
        buf_append(out, s, len);
    }
    return 0;
}

int serialize_peek_key(const void *p, size_t n, const char **key, size_t *klen)
{
    const uint8_t *b = p;
    if (n < SER_HEADER) return LODE_ECORRUPT;
    uint32_t kl = get_u32(b + 10);
    if (kl > n - SER_HEADER) return LODE_ECORRUPT;
    *key = (const char *)b + SER_HEADER;
    *klen = kl;
    return 0;
}

int serialize_parse_kv(const void *p, size_t n, struct kv **out, long long *expire_ms)
{
    const uint8_t *b = p;
    const char *key;
    size_t klen;
    if (serialize_peek_key(p, n, &key, &klen) != 0) return LODE_ECORRUPT;
    if (b[0] == 0 || b[1] == 0) return LODE_ECORRUPT;
    long long exp = (long long)get_u64(b + 2);
    if (exp < -1) return LODE_ECORRUPT;
    size_t off = SER_HEADER + klen, left = n - off;
    struct kv *kv;
    if (b[0] != SER_TYPE_STRING) {
        int type = obj_type_of_ser(b[0]);
        if (type < 0) return LODE_EVERSION;
        void *ptr;
        int enc;
        int rc = obj_get_ops(type)->parse(b + off, left, b[1], &ptr, &enc);
        if (rc != 0) return rc;
        *out = kv_new_obj(key, klen, type, enc, ptr);
        *expire_ms = exp;
        return 0;
    }
    switch (b[1]) {
    case SER_ENC_INT:
        if (left != 8) return LODE_ECORRUPT;
        kv = kv_new_int(key, klen, (long long)get_u64(b + off));
        break;
    case SER_ENC_BYTES: {
        if (left < 8) return LODE_ECORRUPT;
        uint64_t vlen = get_u64(b + off);
        if (vlen != left - 8) return LODE_ECORRUPT;
        kv = kv_new_str(key, klen, (const char *)b + off + 8, (size_t)vlen);
        break;
    }
    case SER_ENC_LZ4: {
        /* u64 original length, then an LZ4 block; LZ4 expands at most about
         * 255:1, so a larger claim is refused before anything is allocated */
        if (left < 9) return LODE_ECORRUPT;
        uint64_t vlen = get_u64(b + off);
        size_t clen = left - 8;
        if (vlen == 0 || vlen > (uint64_t)clen * 255 + 64 || vlen > (uint64_t)LZ4_MAX_INPUT_SIZE)
            return LODE_ECORRUPT;
        char *raw = lode_malloc((size_t)vlen);
        int got = LZ4_decompress_safe((const char *)b + off + 8, raw, (int)clen, (int)vlen);
        if (got < 0 || (uint64_t)got != vlen) {
            lode_free(raw);
            return LODE_ECORRUPT;
        }
        kv = kv_new_str(key, klen, raw, (size_t)vlen);
        lode_free(raw);
        break;
    }
    case 0: return LODE_ECORRUPT;
    default: return LODE_EVERSION;
    }
    *out = kv;
    *expire_ms = exp;
    return 0;
}
