/*
 * serialize.h - one key entry <-> bytes, the value format of LMDB
 * checkpoints (normative layout: docs/checkpoint-format.md, "Values").
 *
 * The bytes carry their own on-disk type and encoding numbers
 * (SER_TYPE_*, SER_ENC_*), which are never renumbered and are independent
 * of the in-memory enum obj_type / enum obj_enc. Layout (little-endian):
 *   type u8, encoding u8, absolute expiry i64 (ms, -1 = none),
 *   key length u32, key bytes, then the type's payload.
 * Strings: SER_ENC_INT is an i64; SER_ENC_BYTES is a u64 length and the
 * bytes; SER_ENC_LZ4 (strings of SER_LZ4_THRESHOLD bytes or more, when it
 * saves space) is the u64 original length and an LZ4 block. The payload
 * must end exactly at the end of the input.
 *
 * The decoder bounds every length by the input, never reads out of it and
 * never trusts a length before checking it; it returns LODE_ECORRUPT for
 * malformed input and LODE_EVERSION for a type or encoding this version
 * does not know (a newer writer's value).
 *
 * Thread: any (pure functions; the decoder allocates the new entry).
 */
#ifndef LODE_SERIALIZE_H
#define LODE_SERIALIZE_H

#include "engine/buf.h"
#include "engine/object.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* On-disk types. 0 is never valid. A type other than strings is written
 * and read by its module's obj_ops (serialize / parse), with encoding
 * numbers of its own, starting at 1 (0 is never valid). A reader that does
 * not know a type or encoding answers LODE_EVERSION. */
enum ser_type {
    SER_TYPE_STRING = 1,
    SER_TYPE_LIST = 2,
    SER_TYPE_SET = 3,
    SER_TYPE_ZSET = 4,
    SER_TYPE_HASH = 5,
    SER_TYPE_STREAM = 6, /* reserved */
};

/* On-disk string encodings. */
enum ser_enc {
    SER_ENC_INT = 1,   /* payload: i64 */
    SER_ENC_BYTES = 2, /* payload: u64 length, bytes */
    SER_ENC_LZ4 = 3,   /* payload: u64 original length, LZ4 block of the bytes */
};

/* Strings at least this long are stored LZ4-compressed when that is smaller. */
#define SER_LZ4_THRESHOLD 1024

/* Fixed part before the key: type, encoding, expiry, key length. */
#define SER_HEADER 14

/* Little-endian helpers for the type modules' payloads. */
void ser_put_u32(struct buf *out, uint32_t v);
void ser_put_u64(struct buf *out, uint64_t v);
/* A length-prefixed byte string: u32 length, bytes. */
void ser_put_str(struct buf *out, const void *s, size_t n);

/* A bounded reader over a payload: every get checks the remaining length;
 * after a failed get `bad` is set and later gets fail too. */
struct ser_rd {
    const uint8_t *p;
    size_t n, off;
    bool bad;
};
static inline struct ser_rd ser_rd_init(const uint8_t *p, size_t n)
{
    struct ser_rd r = {p, n, 0, false};
    return r;
}
bool ser_get_u8(struct ser_rd *r, uint8_t *v);
bool ser_get_u32(struct ser_rd *r, uint32_t *v);
bool ser_get_u64(struct ser_rd *r, uint64_t *v);
/* n raw bytes (borrowed from the input). */
bool ser_get_bytes(struct ser_rd *r, size_t n, const uint8_t **out);
/* A string written by ser_put_str (borrowed). */
bool ser_get_str(struct ser_rd *r, const char **s, size_t *n);
/* Whether the reader is at the end of its input without a failure. */
static inline bool ser_rd_done(const struct ser_rd *r)
{
    return !r->bad && r->off == r->n;
}

/* Appends the serialized form of kv with absolute expiry expire_ms (-1 for
 * none) to out. Returns 0, or -ENOTSUP for a type this version cannot
 * write yet (nothing is appended then). */
int serialize_kv(struct buf *out, const struct kv *kv, long long expire_ms);

/* Decodes <p, n> into a new entry (owned by the caller, free with kv_free;
 * not in any table) and its expiry (OUT: -1 for none). Strings come back
 * in the most compact in-memory encoding (an integer-looking string as
 * ENC_INT, up to OBJ_EMBSTR_MAX bytes as ENC_EMBSTR), as a reload does in
 * Redis. Returns 0, LODE_ECORRUPT or LODE_EVERSION; *out is untouched on
 * failure. */
int serialize_parse_kv(const void *p, size_t n, struct kv **out, long long *expire_ms);

/* The key stored in <p, n> without decoding the value: OUT key (borrowed
 * from p) and klen. Returns 0 or LODE_ECORRUPT (header or key cut short). */
int serialize_peek_key(const void *p, size_t n, const char **key, size_t *klen);

#endif
