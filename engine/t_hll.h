/*
 * t_hll.h - HyperLogLog sketches: the primitives behind PFADD, PFCOUNT,
 * PFMERGE, PFDEBUG and PFSELFTEST (whose handlers are in the command table).
 *
 * A HyperLogLog is an ordinary string value (TYPE says string, as in Redis)
 * in our own layout, normative in docs/hyperloglog.md:
 *   header   8 bytes: "LHLL", encoding (1 sparse, 2 dense), version 1,
 *            two reserved zero bytes
 *   sparse   the non-zero registers as 3-byte big-endian words
 *            (index << 6 | value), strictly increasing index, value 1..51
 *   dense    16384 registers of 6 bits, register i in bits 6i..6i+5 of the
 *            12288-byte little-endian bit string
 * A string whose header does not match is "not a valid HyperLogLog"
 * (WRONGTYPE, as Redis says); a matching header with a malformed body is
 * corrupt (INVALIDOBJ). Every reader bounds every access by the length.
 *
 * Register i holds the largest rank seen among elements whose 64-bit hash
 * (hll_hash) has i in its low 14 bits; the rank is the position of the
 * lowest set bit of the remaining 50 bits (1..50), or 51 when they are all
 * zero. The cardinality estimate is Ertl's improved estimator over the
 * register histogram (standard error about 1.04/sqrt(16384) = 0.81%).
 *
 * Thread: main (pure functions; nothing here touches the keyspace).
 */
#ifndef LODE_T_HLL_H
#define LODE_T_HLL_H

#include <stddef.h>
#include <stdint.h>

#define HLL_P           14
#define HLL_REGISTERS   (1 << HLL_P)            /* 16384 */
#define HLL_Q           (64 - HLL_P)            /* hash bits left for the rank: 50 */
#define HLL_RANK_MAX    (HLL_Q + 1)             /* 51 */
#define HLL_HDR_SIZE    8                       /* magic, encoding, version, reserved */
#define HLL_DENSE_BYTES (HLL_REGISTERS * 6 / 8) /* 12288 */
#define HLL_DENSE_SIZE  (HLL_HDR_SIZE + HLL_DENSE_BYTES)
#define HLL_ENTRY_SIZE  3 /* one sparse register */

enum hll_enc { HLL_SPARSE = 1, HLL_DENSE = 2 };

/* The 64-bit hash of an element (same bytes, same hash, on every machine:
 * HyperLogLog strings are persisted and merged across servers). */
uint64_t hll_hash(const void *p, size_t n);

/* Splits a hash into the register index (0..16383) and rank (1..51). */
void hll_split(uint64_t hash, unsigned *index, unsigned *rank);

/* HLL_SPARSE or HLL_DENSE when <p, n> has a valid HyperLogLog header (and a
 * dense value has exactly HLL_DENSE_SIZE bytes); 0 when it is not a
 * HyperLogLog. Reads at most HLL_HDR_SIZE bytes. */
int hll_kind(const uint8_t *p, size_t n);

/* Checks the body of a HyperLogLog whose header hll_kind accepted: 0, or
 * LODE_ECORRUPT for a malformed sparse body or a dense register above 51. */
int hll_validate(const uint8_t *p, size_t n);

/* Adds the register histogram of a valid-header HyperLogLog into histo
 * (histo[v] counts the registers holding v; callers zero it first).
 * Returns 0 or LODE_ECORRUPT (histo is then partly updated). */
int hll_histogram(const uint8_t *p, size_t n, uint32_t histo[HLL_RANK_MAX + 1]);

/* Merges a valid-header HyperLogLog into regs (regs[i] = max(regs[i], its
 * register i)). Returns 0 or LODE_ECORRUPT (regs is then partly updated). */
int hll_merge_regs(const uint8_t *p, size_t n, uint8_t regs[HLL_REGISTERS]);

/* Cardinality estimate from a register histogram (values 0..51, summing to
 * HLL_REGISTERS). */
uint64_t hll_estimate(const uint32_t histo[HLL_RANK_MAX + 1]);
/* The same from registers (each 0..51). */
uint64_t hll_estimate_regs(const uint8_t regs[HLL_REGISTERS]);

/* Register i of a dense body (HLL_DENSE_BYTES bytes, after the header). */
unsigned hll_dense_get(const uint8_t *body, unsigned i);

/* Runs the internal consistency checks (PFSELFTEST): 0 when they pass,
 * otherwise -1 with a description in why (at least 128 bytes). */
int hll_selftest(char *why, size_t whylen);

#endif
