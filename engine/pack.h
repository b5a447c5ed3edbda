/*
 * pack.h - a packed sequence of small strings and integers in one
 * allocation: the compact encoding of small hashes, sorted sets and the
 * nodes of lists (OBJECT ENCODING calls it "listpack", as Redis does).
 *
 * Layout (little-endian; also the on-disk form, docs/checkpoint-format.md):
 *   u32 total bytes, u32 entry count, then the entries back to back.
 *   An entry is: a tag byte, its payload, then its back-length (the size of
 *   tag + payload, 7 bits per byte, written so that it reads backwards from
 *   the entry's last byte: each byte but the one nearest the payload has
 *   its high bit set).
 *   Tags: 0x00..0x7f  a string of that many bytes (0..127)
 *         0x80        a string, u32 length follows
 *         0x81..0x84  an integer in 1, 2, 4 or 8 bytes (two's complement)
 *         0xa0..0xff  a small integer 0..95 with no payload
 *   A string whose bytes are the canonical decimal form of a 64-bit integer
 *   (util_str2ll) is stored as an integer; reading it back gives the same
 *   bytes, so callers never see the difference.
 *
 * Entries are addressed by pointers into the pack. A call that may move the
 * pack (insert, replace, delete) returns the new pack and updates the entry
 * pointer it was given; every other pointer into the pack is then stale.
 *
 * Limits: a pack holds at most UINT32_MAX bytes; callers keep packs small
 * (the *-max-listpack-* settings, list node size) so linear scans stay
 * cheap.
 *
 * Thread: any (no shared state). Allocates through lode_malloc.
 */
#ifndef LODE_PACK_H
#define LODE_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Header size: total bytes + count. */
#define PK_HEADER 8

/* One entry's value: a string (s != NULL) or an integer (s == NULL, v). */
struct pk_val {
    const char *s;
    size_t len;
    long long v;
};

/* A new empty pack. */
uint8_t *pk_new(void);
void pk_free(uint8_t *pk);
uint8_t *pk_dup(const uint8_t *pk);

static inline uint32_t pk_bytes(const uint8_t *pk)
{
    return (uint32_t)pk[0] | (uint32_t)pk[1] << 8 | (uint32_t)pk[2] << 16 | (uint32_t)pk[3] << 24;
}
static inline uint32_t pk_count(const uint8_t *pk)
{
    return (uint32_t)pk[4] | (uint32_t)pk[5] << 8 | (uint32_t)pk[6] << 16 | (uint32_t)pk[7] << 24;
}
/* Allocated size (MEMORY USAGE). */
size_t pk_mem(const uint8_t *pk);

/* Walking: NULL when there is no such entry. */
uint8_t *pk_first(uint8_t *pk);
uint8_t *pk_last(uint8_t *pk);
uint8_t *pk_next(uint8_t *pk, uint8_t *e);
uint8_t *pk_prev(uint8_t *pk, uint8_t *e);
/* The entry at index i (negative: from the end, -1 is the last). Walks from
 * the nearer end. */
uint8_t *pk_at(uint8_t *pk, long long i);

/* The value of entry e. */
void pk_get(const uint8_t *e, struct pk_val *out);
/* The entry as bytes: integers are formatted into tmp (UTIL_LLSTR_SIZE
 * bytes). The result is borrowed until the pack changes. */
const char *pk_str(const uint8_t *e, char *tmp, size_t *len);
/* Whether entry e holds exactly the bytes <s, n>. */
bool pk_eq(const uint8_t *e, const char *s, size_t n);
/* The entry as a long long when it is an integer or a string that parses
 * as one (util_str2ll). */
bool pk_ll(const uint8_t *e, long long *out);

/* Inserts <s, n> before entry *e (*e NULL: at the end); *e then points at
 * the new entry. Returns the pack (it may have moved). */
uint8_t *pk_insert(uint8_t *pk, uint8_t **e, const char *s, size_t n);
/* The same for an integer value. */
uint8_t *pk_insert_ll(uint8_t *pk, uint8_t **e, long long v);
uint8_t *pk_append(uint8_t *pk, const char *s, size_t n);
uint8_t *pk_prepend(uint8_t *pk, const char *s, size_t n);
/* Replaces entry *e by <s, n>; *e points at the new value. */
uint8_t *pk_replace(uint8_t *pk, uint8_t **e, const char *s, size_t n);
/* Deletes up to count entries starting at *e; *e then points at the entry
 * that followed them (NULL at the end). */
uint8_t *pk_delete(uint8_t *pk, uint8_t **e, uint32_t count);
/* Deletes count entries starting at index start (negative from the end);
 * out-of-range parts are ignored. */
uint8_t *pk_delete_range(uint8_t *pk, long long start, uint32_t count);

/* The first entry at or after from (NULL: the first entry) that equals
 * <s, n>, comparing only every (skip + 1)-th entry (skip 1: the fields of
 * field/value pairs). NULL when absent. */
uint8_t *pk_find(uint8_t *pk, uint8_t *from, const char *s, size_t n, uint32_t skip);

/* Checks that <p, n> is a well-formed pack: header, every entry's tag,
 * lengths and back-length in bounds, count and total bytes consistent.
 * The checkpoint decoder calls it before trusting a pack from disk. */
bool pk_validate(const uint8_t *p, size_t n);
/* A copy of a validated pack <p, n>, in its own allocation. */
uint8_t *pk_from_bytes(const uint8_t *p, size_t n);

#endif
