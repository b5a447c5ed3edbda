/*
 * buf.h - a growable byte buffer: <ptr, len, cap>, always NUL-terminated
 * past len so that C library parsers (strtold and friends) can read it.
 *
 * Invariants: len < cap whenever ptr != NULL; ptr[len] == '\0'.
 * Thread: the owner's. Allocates through lode_malloc; never blocks.
 */
#ifndef LODE_BUF_H
#define LODE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *ptr;  /* owned; NULL when empty and never grown */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated */
};

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* A borrowed byte string: <pointer, length> (command arguments, keys). */
struct slice {
    const char *ptr;
    size_t len;
};
/* A slice of a string literal. */
#define SL(lit) ((struct slice){(lit), sizeof(lit) - 1})

void buf_init(struct buf *b);
/* Frees the contents; b is left empty and reusable. */
void buf_release(struct buf *b);
/* Grows b to hold n more bytes (and the NUL); buf_reserve's slow path.
 * Returns the write position ptr+len. */
char *buf_grow(struct buf *b, size_t n);
/* Makes room for n more bytes. Returns the write position ptr+len. */
static inline char *buf_reserve(struct buf *b, size_t n)
{
    if (b->len + n + 1 > b->cap) return buf_grow(b, n);
    return b->ptr + b->len;
}
void buf_append(struct buf *b, const void *p, size_t n);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Drops the first n bytes, moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);
/* Inserts n bytes at offset off (off <= len). */
void buf_insert(struct buf *b, size_t off, const void *p, size_t n);
/* Sets len (<= cap-1) and terminates. */
void buf_setlen(struct buf *b, size_t len);
/* Appends s quoted as Redis shows arguments (MONITOR, redis-cli):
 * "a\x00b\n" with \\ \" \n \r \t \a \b escapes and \xHH elsewhere. */
void buf_append_repr(struct buf *b, const char *s, size_t n);
/* Shrinks the allocation when more than half of it is idle. */
void buf_shrink(struct buf *b);

#endif
