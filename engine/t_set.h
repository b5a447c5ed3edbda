/*
 * t_set.h - the set type (engine/t_set.c): its registration with the
 * object layer and the encoding names other modules and tests may meet.
 *
 * Encodings, as Redis 7.0 has them (OBJECT ENCODING names in quotes):
 *   SET_ENC_INTSET  "intset": a sorted array of distinct 64-bit integers
 *                   stored 2, 4 or 8 bytes wide (the narrowest width that
 *                   fits every member ever added; never narrowed again).
 *                   Used while every member is a canonical integer
 *                   (util_str2ll) and there are at most
 *                   eng->lim.set_max_intset_entries of them.
 *   SET_ENC_HT      "hashtable": an intrusive table (engine/dict.h) of
 *                   members, one allocation each. A set never converts
 *                   back to an intset in place (SPOP with a count near
 *                   the size rebuilds the survivors as Redis does, so
 *                   they may come back as an intset).
 * The checkpoint payloads are described in docs/checkpoint-format.md
 * ("Sets").
 *
 * Thread: main (registration at start-up, from types_init).
 */
#ifndef LODE_T_SET_H
#define LODE_T_SET_H

/* In-memory kv->enc values of sets (never written to disk). */
enum set_enc { SET_ENC_INTSET = 8, SET_ENC_HT = 9 };

/* Installs the set type's obj_ops (object.h). Idempotent. */
void set_register(void);

#endif
