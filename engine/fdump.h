/*
 * fdump.h - the FUNCTION DUMP / RESTORE payload codec, also the value of
 * the checkpoint's "functions" meta record. Normative layout:
 * docs/functions-format.md.
 *
 * The payload lists libraries as (name, code) pairs; a reader restores a
 * library by loading its code again, so the payload never holds compiled
 * Lua. A CRC-32C over everything before it ends the payload.
 *
 * The decoder bounds every length by the bytes that remain and refuses an
 * unknown version or non-zero reserved bits (fuzz/fuzz_function_restore.c).
 *
 * Thread: any. Allocates (the decoder's array); never blocks.
 */
#ifndef LODE_ENGINE_FDUMP_H
#define LODE_ENGINE_FDUMP_H

#include "engine/buf.h"

#include <stddef.h>
#include <stdint.h>

#define FDUMP_MAGIC     "LODEFUNC"
#define FDUMP_MAGIC_LEN 8
#define FDUMP_VERSION   1
/* magic, version, reserved, count; then the CRC */
#define FDUMP_HEADER_LEN (FDUMP_MAGIC_LEN + 2 + 2 + 4)
#define FDUMP_MIN_LEN    (FDUMP_HEADER_LEN + 4)

/* One library: both fields borrowed (from the caller, or from the decoded
 * payload). */
struct fdump_lib {
    const char *name;
    size_t name_len;
    const char *code;
    size_t code_len;
};

/* Appends the payload holding n libraries (in this order) to out. */
void fdump_encode(struct buf *out, int n, const struct fdump_lib *libs);

/* Decodes the payload <p, n>. OUT: *libs (owned array, free with
 * lode_free; its fields point into p, valid while p is) and *nlibs.
 * Returns 0, or -1 when the bytes are not a well-formed payload of a
 * version this reader knows (bad magic, version, reserved bits, a length
 * past the end, trailing bytes, a wrong CRC); then *libs is NULL. */
int fdump_decode(const char *p, size_t n, struct fdump_lib **libs, int *nlibs);

#endif
