/*
 * t_hash.h - the hash type: its encodings, its registration and a small
 * read API for other modules (SORT's BY / GET patterns read hash fields).
 *
 * Encodings (kv->enc of an OBJ_HASH entry; in-memory numbers only, the
 * checkpoint has its own, docs/checkpoint-format.md "Hashes"):
 *   HASH_ENC_PACK   v.ptr is a pack (engine/pack.h) of field, value,
 *                   field, value...; insertion order; OBJECT ENCODING
 *                   "listpack". Used while the hash has at most
 *                   hash-max-listpack-entries fields and every field and
 *                   value has at most hash-max-listpack-value bytes.
 *   HASH_ENC_TABLE  v.ptr is an intrusive hash table (engine/dict.h) whose
 *                   elements are single allocations holding the chain
 *                   link, both lengths, the field and the value; OBJECT
 *                   ENCODING "hashtable". A hash never converts back, as
 *                   in Redis.
 * A hash is never empty: the command that removes its last field deletes
 * the key.
 *
 * Thread: main (the values are owned by the keyspace). The read API never
 * allocates and never changes the value.
 */
#ifndef LODE_T_HASH_H
#define LODE_T_HASH_H

#include "engine/object.h"

#include <stdbool.h>
#include <stddef.h>

enum hash_enc { HASH_ENC_PACK = 0, HASH_ENC_TABLE = 1 };

/* Installs the hash type's obj_ops (called from types_init). */
void hash_register(void);

/* Looks up field <f, flen> in the hash entry kv (kv->type must be
 * OBJ_HASH). On a hit sets OUT *v / *vlen to the value and returns true;
 * the bytes are borrowed until the hash next changes, and may live in tmp
 * (UTIL_LLSTR_SIZE bytes, for values the packed encoding stores as
 * integers). Returns false when the field is absent. */
bool hash_get(const struct kv *kv, const char *f, size_t flen, char *tmp, const char **v,
              size_t *vlen);

/* Number of fields of the hash entry kv. */
size_t hash_len(const struct kv *kv);

#endif
