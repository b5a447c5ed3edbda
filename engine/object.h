/*
 * object.h - the key entry (struct kv) and string values.
 *
 * A key entry is one allocation: the header, then the key bytes, then (for
 * short strings) the value bytes. The entry is also the keyspace hash-table
 * element (it embeds the dnode), so a key with a short string value costs a
 * single allocation plus its bucket slot.
 *
 * String encodings (OBJECT ENCODING reports them as Redis does):
 *   ENC_INT     v.i holds the integer; the value is its decimal form.
 *   ENC_EMBSTR  v.i holds the length; the bytes follow the key in data[].
 *   ENC_RAW     v.ptr is a struct rawstr, grown geometrically by appends.
 * A string that fits util_str2ll is stored as ENC_INT; up to
 * OBJ_EMBSTR_MAX bytes as ENC_EMBSTR; larger or mutated-in-place as RAW.
 *
 * Type and encoding numbers here are in-memory only; on-disk formats have
 * their own enums (STYLE.md section 7).
 *
 * Thread: main. Allocates through lode_malloc.
 */
#ifndef LODE_OBJECT_H
#define LODE_OBJECT_H

#include "engine/dict.h"

struct buf;

#include <stddef.h>
#include <stdint.h>

enum obj_type { OBJ_STRING = 0, OBJ_LIST, OBJ_SET, OBJ_ZSET, OBJ_HASH, OBJ_STREAM, OBJ_NTYPES };
enum obj_enc { ENC_RAW = 0, ENC_INT, ENC_EMBSTR, ENC_NENC };

/* Redis stores strings of up to 44 bytes as embstr; we report the same. */
#define OBJ_EMBSTR_MAX 44

enum kv_flags {
    KV_HAS_EXPIRE = 1 << 0, /* an entry in the db's expires index exists */
};

struct kv {
    struct dnode node; /* keyspace chain link */
    union {
        void *ptr;
        long long i;
    } v;
    uint32_t klen;
    uint32_t lru; /* seconds clock of the last access (OBJECT IDLETIME) */
    /* the change-tracking epoch in which the server last recorded this key as
     * changed (server/persist.c); 0 on an entry newly linked under a key, kept
     * by db_replace (same db, same key) */
    uint16_t epoch;
    uint8_t type;  /* enum obj_type */
    uint8_t enc;   /* enum obj_enc */
    uint8_t flags; /* enum kv_flags */
    char data[];   /* key bytes, then embedded value bytes */
};

struct rawstr {
    size_t len;
    char data[]; /* capacity = lode_usable(rawstr) - sizeof(struct rawstr) */
};

static inline const char *kv_key(const struct kv *kv)
{
    return kv->data;
}

/* A new string entry holding a copy of the value, in the most compact
 * encoding. The entry is not in any table. */
struct kv *kv_new_str(const char *key, size_t klen, const char *val, size_t vlen);
/* Same, but never ENC_INT (embstr or raw): for results Redis keeps as
 * strings even when they look like integers (INCRBYFLOAT). */
struct kv *kv_new_bytes(const char *key, size_t klen, const char *val, size_t vlen);
/* A new string entry holding an integer. */
struct kv *kv_new_int(const char *key, size_t klen, long long v);
/* A new entry of another type: v.ptr = ptr (ownership passes to the kv). */
struct kv *kv_new_obj(const char *key, size_t klen, int type, int enc, void *ptr);
/* Frees the entry and its value. NULL is a no-op. */
void kv_free(struct kv *kv);
/* Copy of kv under a new key (for COPY/RENAME): deep copies the value. */
struct kv *kv_dup(const struct kv *kv, const char *key, size_t klen);
/* The same value under a new key, without copying it (RENAME, MOVE): returns
 * a new entry holding kv's type, encoding, value and access time, and frees
 * kv's header, so kv is dead afterwards. kv must not be in any table. Costs
 * one allocation plus copying the key (and an embedded value, at most
 * OBJ_EMBSTR_MAX bytes) whatever the value's size. Flags start cleared. */
struct kv *kv_rekey(struct kv *kv, const char *key, size_t klen);

/* Value of a string entry: returns a pointer to the bytes and the length.
 * tmp (UTIL_LLSTR_SIZE bytes) holds the digits of an ENC_INT value; the
 * result is borrowed until the entry changes. */
const char *kv_str(const struct kv *kv, char *tmp, size_t *len);
size_t kv_strlen(const struct kv *kv);
/* The string as an integer, if it is one (Redis's rules). */
bool kv_str_ll(const struct kv *kv, long long *out);

/* A new ENC_RAW copy of a non-RAW string entry (same key, flags, value),
 * with room for cap value bytes. The old entry is untouched: callers swap
 * it in with db_replace. */
struct kv *kv_to_raw(const struct kv *kv, size_t cap);
/* Ensures the RAW string has room for cap bytes (rawstr may move). */
struct rawstr *kv_raw_reserve(struct kv *kv, size_t cap);

/* Bytes used by the entry and its value (MEMORY USAGE). */
size_t kv_mem_usage(const struct kv *kv);

/* Names for TYPE and OBJECT ENCODING. */
const char *obj_type_name(int type);
const char *kv_encoding_name(const struct kv *kv);

/* Per-type hooks for types implemented in other engine modules. Each type
 * module registers its table once, from types_init (engine/types.h).
 *
 * free, dup, mem: free / deep-copy / memory usage of v.ptr.
 * digest mixes the value's logical content into out (20 bytes, already
 * seeded with the type) with digest_mix / digest_xor from engine/digest.h:
 * unordered elements (set members, hash fields) are folded with
 * digest_xor so the result ignores layout; the same content must give the
 * same bytes in every encoding. DEBUG DIGEST refuses types without it.
 * ser_type is the type's on-disk number (enum ser_type in serialize.h).
 * serialize appends the checkpoint payload of the value to out and returns
 * the on-disk encoding byte it chose (docs/checkpoint-format.md).
 * parse decodes a payload of on-disk encoding ser_enc: on success sets
 * *ptr / *enc and returns 0; LODE_ECORRUPT for malformed input (it must
 * bound every length by n and never read outside <p, n>), LODE_EVERSION
 * for an encoding it does not know; nothing is allocated on failure.
 * each walks the logical content in the type's natural order: list
 * elements (b NULL), set members (b NULL), hash field + value, sorted-set
 * member + score as text (Redis's reply form); the tools (dump) use it.
 * Returning non-zero from fn stops the walk. */
struct obj_ops {
    void (*free)(void *ptr, int enc);
    void *(*dup)(const void *ptr, int enc);
    size_t (*mem)(const void *ptr, int enc);
    const char *(*enc_name)(int enc);
    void (*digest)(const void *ptr, int enc, uint8_t out[20]);
    int ser_type;
    int (*serialize)(struct buf *out, const void *ptr, int enc);
    int (*parse)(const uint8_t *p, size_t n, int ser_enc, void **ptr, int *enc);
    void (*each)(const void *ptr, int enc,
                 int (*fn)(void *priv, const char *a, size_t alen, const char *b, size_t blen),
                 void *priv);
};
void obj_register(int type, const struct obj_ops *ops);
/* The hooks registered for type, NULL for strings and unregistered types. */
const struct obj_ops *obj_get_ops(int type);
/* The in-memory type registered with on-disk type ser_type, -1 if none. */
int obj_type_of_ser(int ser_type);

#endif
