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

#include <stddef.h>
#include <stdint.h>

/* On-disk types. 0 is never valid; 2..6 are reserved for the types to come
 * (a reader that does not know one answers LODE_EVERSION). */
enum ser_type {
    SER_TYPE_STRING = 1,
    SER_TYPE_LIST = 2,   /* reserved */
    SER_TYPE_SET = 3,    /* reserved */
    SER_TYPE_ZSET = 4,   /* reserved */
    SER_TYPE_HASH = 5,   /* reserved */
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
