/*
 * lode.h - definitions every Lodestore module shares: error codes, assertions,
 * and the accounted allocator.
 *
 * Error convention (STYLE.md section 4): a function that can fail returns int,
 * 0 on success and negative on failure. OS failures are -errno; our own
 * failures use the LODE_E* codes, which live below the errno range.
 *
 * Memory: every allocation the server makes for data goes through lode_malloc
 * and friends, which keep used_memory exact (the allocator's usable size, not
 * the requested size), so INFO memory reports the truth. The counter is an
 * atomic so that the WAL thread may allocate too.
 *
 * Thread: any. Never blocks.
 */
#ifndef LODE_LODE_H
#define LODE_LODE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum {
    LODE_EBASE = -10000,
    LODE_ENOMEM,   /* allocation failed */
    LODE_EPROTO,   /* malformed input from a peer */
    LODE_ERANGE,   /* value out of range */
    LODE_ECORRUPT, /* on-disk data failed validation */
    LODE_EVERSION, /* unknown format version */
};

/* Names both -errno values and LODE_E* codes. Never NULL. */
const char *lode_strerror(int err);

#define LODE_LIKELY(x)   __builtin_expect(!!(x), 1)
#define LODE_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* A broken invariant is our bug: report it and abort. Stays on in release. */
#define lode_assert(cond)                                                                          \
    do {                                                                                           \
        if (LODE_UNLIKELY(!(cond))) lode_panic(__FILE__, __LINE__, "assertion failed: " #cond);    \
    } while (0)
#define LODE_PANIC(msg) lode_panic(__FILE__, __LINE__, msg)
_Noreturn void lode_panic(const char *file, int line, const char *msg);

/* Accounted allocation. These never return NULL: out of memory panics, as a
 * half-applied command would be worse than a clean stop. */
void *lode_malloc(size_t n);
void *lode_calloc(size_t n);
void *lode_realloc(void *p, size_t n);
void lode_free(void *p);
char *lode_strdup(const char *s);
/* Usable size of a block returned by the functions above. */
size_t lode_usable(const void *p);
/* Bytes currently allocated through the functions above. */
size_t lode_used_memory(void);
/* Name of the allocator in use ("jemalloc-5.3.0" or "libc"). */
const char *lode_allocator_name(void);
/* Asks the allocator to return unused pages to the system. */
void lode_allocator_purge(void);
struct buf;
/* Appends the allocator's statistics report; -1 when it has none. */
int lode_allocator_stats(struct buf *out);

#endif
