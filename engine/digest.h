/*
 * digest.h - SHA-1 and the dataset digest behind DEBUG DIGEST and
 * DEBUG DIGEST-VALUE.
 *
 * The dataset digest is a 160-bit fingerprint of the logical content of
 * every database: db index, key, type, value and absolute expiry. It is
 * independent of insertion order, hash-table layout and encoding (an
 * integer stored as ENC_INT digests like the same digits stored as bytes),
 * so two servers holding the same data report the same digest, and any
 * change to a key, value, type, TTL or db moves it. An empty dataset
 * digests to twenty zero bytes ("000...0" in hex), as in Redis.
 *
 * Construction (all hashing is SHA-1, FIPS 180-4, implemented here):
 *   mix(d, bytes)   d = SHA1(d || bytes)           (order-dependent step)
 *   value(kv)       v = 0; mix(v, type byte); then the type's content:
 *                   strings mix their bytes; other types use the digest
 *                   hook in struct obj_ops (object.h), which must fold
 *                   unordered elements with digest_xor and ordered ones
 *                   with digest_mix.
 *   key(kv)         k = 0; mix(k, key); mix(k, value(kv));
 *                   if it has a TTL: mix(k, "!!expire!!" || ms as 8 bytes LE)
 *   db              x = XOR of key(kv) over its live keys (order-free)
 *   dataset         d = 0; for each db with live keys, in index order:
 *                   mix(d, index as 4 bytes LE); mix(d, x)
 * Keys whose TTL has passed at eng->now_ms are left out, so the digest
 * describes what clients can read, whether or not expiry has reclaimed
 * them yet.
 *
 * Thread: main (reads the keyspace). Never allocates, never blocks.
 */
#ifndef LODE_DIGEST_H
#define LODE_DIGEST_H

#include "engine/db.h"

#include <stddef.h>
#include <stdint.h>

#define DIGEST_LEN 20
/* Hex form plus NUL. */
#define DIGEST_HEX_SIZE (2 * DIGEST_LEN + 1)

/* Incremental SHA-1 state; callers may embed it. */
struct digest_sha1 {
    uint32_t h[5];
    uint64_t nbytes;   /* message length so far */
    uint8_t block[64]; /* pending partial block */
    size_t nblock;     /* bytes in block */
};

void digest_sha1_init(struct digest_sha1 *s);
void digest_sha1_update(struct digest_sha1 *s, const void *p, size_t n);
/* Writes the digest; s must be re-initialised before reuse. */
void digest_sha1_final(struct digest_sha1 *s, uint8_t out[DIGEST_LEN]);
/* One-shot SHA-1 of <p, n>. */
void digest_sha1(const void *p, size_t n, uint8_t out[DIGEST_LEN]);

/* d = SHA1(d || <p, n>). */
void digest_mix(uint8_t d[DIGEST_LEN], const void *p, size_t n);
/* d ^= other (folds an element digest in, independent of order). */
void digest_xor(uint8_t d[DIGEST_LEN], const uint8_t other[DIGEST_LEN]);
/* Lowercase hex of d into out (DIGEST_HEX_SIZE bytes, NUL-terminated). */
void digest_hex(const uint8_t d[DIGEST_LEN], char out[DIGEST_HEX_SIZE]);

/* Digest of kv's type and value (DEBUG DIGEST-VALUE). Returns 0, or
 * -ENOSYS when kv's type is registered without a digest hook: out is then
 * zeroed, so callers refuse rather than report a digest blind to content. */
int digest_value(const struct kv *kv, uint8_t out[DIGEST_LEN]);

/* Digest of the whole dataset as described above (DEBUG DIGEST), at
 * eng->now_ms. Returns 0, or -ENOSYS when some live value's type has no
 * digest hook (out is zeroed; *bad_type, when not NULL, gets the type). */
int digest_dataset(struct engine *eng, uint8_t out[DIGEST_LEN], int *bad_type);

#endif
