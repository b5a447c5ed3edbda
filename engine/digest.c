/*
 * digest.c - SHA-1 (FIPS 180-4, section 6.1) and the dataset digest
 * (see digest.h for the construction).
 */
#include "engine/digest.h"
#include "engine/lode.h"
#include "engine/object.h"
#include "engine/util.h"

#include <errno.h>
#include <string.h>

/* ---- SHA-1 ---- */

static uint32_t rol32(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static uint32_t load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Processes one 64-byte block (FIPS 180-4, 6.1.2). */
static void sha1_block(uint32_t h[5], const uint8_t *blk)
{
    uint32_t w[80];
    for (int t = 0; t < 16; t++) w[t] = load_be32(blk + 4 * t);
    for (int t = 16; t < 80; t++) w[t] = rol32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int t = 0; t < 80; t++) {
        uint32_t f, k;
        if (t < 20) {
            f = (b & c) | (~b & d); /* Ch */
            k = 0x5a827999;
        } else if (t < 40) {
            f = b ^ c ^ d; /* Parity */
            k = 0x6ed9eba1;
        } else if (t < 60) {
            f = (b & c) | (b & d) | (c & d); /* Maj */
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        uint32_t tmp = rol32(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = rol32(b, 30);
        b = a;
        a = tmp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void digest_sha1_init(struct digest_sha1 *s)
{
    /* initial hash value, FIPS 180-4 section 5.3.1 */
    s->h[0] = 0x67452301;
    s->h[1] = 0xefcdab89;
    s->h[2] = 0x98badcfe;
    s->h[3] = 0x10325476;
    s->h[4] = 0xc3d2e1f0;
    s->nbytes = 0;
    s->nblock = 0;
}

void digest_sha1_update(struct digest_sha1 *s, const void *p, size_t n)
{
    const uint8_t *in = p;
    s->nbytes += n;
    if (s->nblock) {
        size_t take = 64 - s->nblock < n ? 64 - s->nblock : n;
        memcpy(s->block + s->nblock, in, take);
        s->nblock += take;
        in += take;
        n -= take;
        if (s->nblock < 64) return;
        sha1_block(s->h, s->block);
        s->nblock = 0;
    }
    for (; n >= 64; in += 64, n -= 64) sha1_block(s->h, in);
    memcpy(s->block, in, n);
    s->nblock = n;
}

void digest_sha1_final(struct digest_sha1 *s, uint8_t out[DIGEST_LEN])
{
    /* padding (5.1.1): a 1 bit, zeros to 56 mod 64, then the bit length */
    uint64_t bits = s->nbytes * 8;
    uint8_t pad[72];
    size_t npad = (s->nblock < 56 ? 56 : 120) - s->nblock;
    memset(pad, 0, sizeof(pad));
    pad[0] = 0x80;
    for (int i = 0; i < 8; i++) pad[npad + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
    digest_sha1_update(s, pad, npad + 8);
    lode_assert(s->nblock == 0);
    for (int i = 0; i < 5; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

void digest_sha1(const void *p, size_t n, uint8_t out[DIGEST_LEN])
{
    struct digest_sha1 s;
    digest_sha1_init(&s);
    digest_sha1_update(&s, p, n);
    digest_sha1_final(&s, out);
}

/* ---- combinators ---- */

void digest_mix(uint8_t d[DIGEST_LEN], const void *p, size_t n)
{
    struct digest_sha1 s;
    digest_sha1_init(&s);
    digest_sha1_update(&s, d, DIGEST_LEN);
    digest_sha1_update(&s, p, n);
    digest_sha1_final(&s, d);
}

void digest_xor(uint8_t d[DIGEST_LEN], const uint8_t other[DIGEST_LEN])
{
    for (int i = 0; i < DIGEST_LEN; i++) d[i] ^= other[i];
}

void digest_hex(const uint8_t d[DIGEST_LEN], char out[DIGEST_HEX_SIZE])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < DIGEST_LEN; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * DIGEST_LEN] = '\0';
}

/* ---- dataset ---- */

int digest_value(const struct kv *kv, uint8_t out[DIGEST_LEN])
{
    memset(out, 0, DIGEST_LEN);
    uint8_t type = kv->type;
    digest_mix(out, &type, 1);
    if (kv->type == OBJ_STRING) {
        char tmp[UTIL_LLSTR_SIZE];
        size_t n;
        const char *p = kv_str(kv, tmp, &n);
        digest_mix(out, p, n);
        return 0;
    }
    const struct obj_ops *ops = obj_get_ops(kv->type);
    if (!ops || !ops->digest) {
        memset(out, 0, DIGEST_LEN);
        return -ENOSYS;
    }
    ops->digest(kv->v.ptr, kv->enc, out);
    return 0;
}

/* Digest of one key: name, value and expiry. */
static int digest_key(struct db *db, const struct kv *kv, uint8_t out[DIGEST_LEN])
{
    uint8_t vd[DIGEST_LEN];
    int rc = digest_value(kv, vd);
    if (rc != 0) return rc;
    memset(out, 0, DIGEST_LEN);
    digest_mix(out, kv_key(kv), kv->klen);
    digest_mix(out, vd, DIGEST_LEN);
    long long when = db_expire_of(db, kv);
    if (when != -1) {
        uint8_t buf[10 + 8];
        memcpy(buf, "!!expire!!", 10);
        for (int i = 0; i < 8; i++) buf[10 + i] = (uint8_t)((unsigned long long)when >> (8 * i));
        digest_mix(out, buf, sizeof(buf));
    }
    return 0;
}

int digest_dataset(struct engine *eng, uint8_t out[DIGEST_LEN], int *bad_type)
{
    memset(out, 0, DIGEST_LEN);
    for (int i = 0; i < eng->ndbs; i++) {
        struct db *db = &eng->dbs[i];
        if (db_size(db) == 0) continue;
        uint8_t dbd[DIGEST_LEN] = {0};
        size_t live = 0;
        int rc = 0;
        struct dict_iter it;
        dict_iter_init(&it, &db->keys);
        for (struct dnode *n; (n = dict_iter_next(&it)) != NULL;) {
            const struct kv *kv = (const struct kv *)n;
            if ((kv->flags & KV_HAS_EXPIRE) && db_is_expired(eng, db, kv)) continue;
            uint8_t kd[DIGEST_LEN];
            rc = digest_key(db, kv, kd);
            if (rc != 0) {
                if (bad_type) *bad_type = kv->type;
                break;
            }
            digest_xor(dbd, kd);
            live++;
        }
        dict_iter_release(&it);
        if (rc != 0) {
            memset(out, 0, DIGEST_LEN);
            return rc;
        }
        if (!live) continue;
        uint8_t idx[4] = {(uint8_t)i, (uint8_t)(i >> 8), (uint8_t)(i >> 16), (uint8_t)(i >> 24)};
        digest_mix(out, idx, sizeof(idx));
        digest_mix(out, dbd, DIGEST_LEN);
    }
    return 0;
}
