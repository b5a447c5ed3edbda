/*
 * buf.c - growable byte buffer (see buf.h).
 */
#include "engine/buf.h"
#include "engine/lode.h"

#include <stdio.h>
#include <string.h>

void buf_init(struct buf *b)
{
    b->ptr = NULL;
    b->len = b->cap = 0;
}

void buf_release(struct buf *b)
{
    lode_free(b->ptr);
    buf_init(b);
}

char *buf_grow(struct buf *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap = cap < (1u << 20) ? cap * 2 : cap + (1u << 20);
        b->ptr = lode_realloc(b->ptr, cap);
        b->cap = lode_usable(b->ptr);
    }
    return b->ptr + b->len;
}

void buf_setlen(struct buf *b, size_t len)
{
    lode_assert(len < b->cap);
    b->len = len;
    b->ptr[len] = '\0';
}

void buf_append(struct buf *b, const void *p, size_t n)
{
    char *w = buf_reserve(b, n);
    if (n) memcpy(w, p, n);
    b->len += n;
    b->ptr[b->len] = '\0';
}

void buf_putc(struct buf *b, char c)
{
    buf_append(b, &c, 1);
}

void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof(tmp), fmt, cp);
    va_end(cp);
    if (n < 0) return;
    if ((size_t)n < sizeof(tmp)) {
        buf_append(b, tmp, (size_t)n);
        return;
    }
    char *w = buf_reserve(b, (size_t)n);
    vsnprintf(w, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void buf_consume(struct buf *b, size_t n)
{
    lode_assert(n <= b->len);
    if (n == 0) return;
    memmove(b->ptr, b->ptr + n, b->len - n);
    b->len -= n;
    b->ptr[b->len] = '\0';
}

void buf_insert(struct buf *b, size_t off, const void *p, size_t n)
{
    lode_assert(off <= b->len);
    buf_reserve(b, n);
    memmove(b->ptr + off + n, b->ptr + off, b->len - off);
    memcpy(b->ptr + off, p, n);
    b->len += n;
    b->ptr[b->len] = '\0';
}

void buf_shrink(struct buf *b)
{
    if (!b->ptr) return;
    if (b->len == 0) {
        buf_release(b);
        return;
    }
    if (b->cap > 4096 && b->len + 1 < b->cap / 2) {
        b->ptr = lode_realloc(b->ptr, b->len + 1);
        b->cap = lode_usable(b->ptr);
    }
}

void buf_append_repr(struct buf *b, const char *s, size_t n)
{
    buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '\\': buf_append(b, "\\\\", 2); break;
        case '"': buf_append(b, "\\\"", 2); break;
        case '\n': buf_append(b, "\\n", 2); break;
        case '\r': buf_append(b, "\\r", 2); break;
        case '\t': buf_append(b, "\\t", 2); break;
        case '\a': buf_append(b, "\\a", 2); break;
        case '\b': buf_append(b, "\\b", 2); break;
        default:
            if (ch >= 32 && ch < 127)
                buf_putc(b, (char)ch);
            else
                buf_printf(b, "\\x%02x", ch);
        }
    }
    buf_putc(b, '"');
}
