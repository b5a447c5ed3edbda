/*
 * reply.c - RESP2/RESP3 reply encoder (see reply.h).
 */
#include "engine/reply.h"
#include "engine/util.h"

#include <stdio.h>
#include <string.h>

void reply_init(struct reply *r, struct buf *out, int resp)
{
    r->out = out;
    r->resp = resp;
    r->errors = 0;
    r->err_code[0] = '\0';
}

/* Writes "<prefix><n>\r\n". */
static void header(struct reply *r, char prefix, long long n)
{
    char *w = buf_reserve(r->out, UTIL_LLSTR_SIZE + 3);
    w[0] = prefix;
    int l = util_ll2str(w + 1, n);
    w[1 + l] = '\r';
    w[2 + l] = '\n';
    r->out->len += (size_t)l + 3;
    r->out->ptr[r->out->len] = '\0';
}

void reply_ok(struct reply *r)
{
    buf_append(r->out, "+OK\r\n", 5);
}

void reply_status(struct reply *r, const char *s)
{
    buf_putc(r->out, '+');
    buf_append(r->out, s, strlen(s));
    buf_append(r->out, "\r\n", 2);
}

void reply_error(struct reply *r, const char *msg)
{
    size_t start = r->out->len;
    buf_putc(r->out, '-');
    buf_append(r->out, msg, strlen(msg));
    for (size_t i = start + 1; i < r->out->len; i++)
        if (r->out->ptr[i] == '\r' || r->out->ptr[i] == '\n') r->out->ptr[i] = ' ';
    buf_append(r->out, "\r\n", 2);
    if (r->errors++ == 0) {
        size_t n = strcspn(msg, " ");
        if (n >= sizeof(r->err_code)) n = sizeof(r->err_code) - 1;
        memcpy(r->err_code, msg, n);
        r->err_code[n] = '\0';
    }
}

void reply_errorf(struct reply *r, const char *fmt, ...)
{
    struct buf tmp = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&tmp, fmt, ap);
    va_end(ap);
    reply_error(r, tmp.ptr ? tmp.ptr : "ERR");
    buf_release(&tmp);
}

void reply_int(struct reply *r, long long v)
{
    header(r, ':', v);
}

void reply_bulk(struct reply *r, const char *p, size_t n)
{
    /* one reservation for "$<n>\r\n<bytes>\r\n" */
    char *start = buf_reserve(r->out, n + UTIL_LLSTR_SIZE + 5), *w = start;
    *w++ = '$';
    if (n < 10)
        *w++ = (char)('0' + n);
    else
        w += util_ull2str(w, n);
    *w++ = '\r';
    *w++ = '\n';
    if (n) memcpy(w, p, n);
    w += n;
    *w++ = '\r';
    *w++ = '\n';
    r->out->len += (size_t)(w - start);
    r->out->ptr[r->out->len] = '\0';
}

void reply_cstr(struct reply *r, const char *s)
{
    reply_bulk(r, s, strlen(s));
}

void reply_bulk_ll(struct reply *r, long long v)
{
    char tmp[UTIL_LLSTR_SIZE];
    int n = util_ll2str(tmp, v);
    reply_bulk(r, tmp, (size_t)n);
}

void reply_null(struct reply *r)
{
    if (r->resp >= 3)
        buf_append(r->out, "_\r\n", 3);
    else
        buf_append(r->out, "$-1\r\n", 5);
}

void reply_null_array(struct reply *r)
{
    if (r->resp >= 3)
        buf_append(r->out, "_\r\n", 3);
    else
        buf_append(r->out, "*-1\r\n", 5);
}

void reply_array(struct reply *r, long long n)
{
    header(r, '*', n);
}

void reply_empty_array(struct reply *r)
{
    buf_append(r->out, "*0\r\n", 4);
}

void reply_map(struct reply *r, long long n)
{
    if (r->resp >= 3)
        header(r, '%', n);
    else
        header(r, '*', n * 2);
}

void reply_set(struct reply *r, long long n)
{
    header(r, r->resp >= 3 ? '~' : '*', n);
}

void reply_push(struct reply *r, long long n)
{
    header(r, r->resp >= 3 ? '>' : '*', n);
}

void reply_double(struct reply *r, double d)
{
    char tmp[64];
    int n = util_d2str(tmp, sizeof(tmp), d);
    if (r->resp >= 3) {
        buf_putc(r->out, ',');
        buf_append(r->out, tmp, (size_t)n);
        buf_append(r->out, "\r\n", 2);
    } else {
        reply_bulk(r, tmp, (size_t)n);
    }
}

void reply_bool(struct reply *r, bool b)
{
    if (r->resp >= 3)
        buf_append(r->out, b ? "#t\r\n" : "#f\r\n", 4);
    else
        reply_int(r, b ? 1 : 0);
}

void reply_verbatim(struct reply *r, const char *p, size_t n)
{
    if (r->resp < 3) {
        reply_bulk(r, p, n);
        return;
    }
    header(r, '=', (long long)n + 4);
    buf_append(r->out, "txt:", 4);
    buf_append(r->out, p, n);
    buf_append(r->out, "\r\n", 2);
}

size_t reply_defer(struct reply *r)
{
    return r->out->len;
}

static void defer_fill(struct reply *r, size_t token, char prefix, long long n)
{
    char tmp[UTIL_LLSTR_SIZE + 3];
    tmp[0] = prefix;
    int l = util_ll2str(tmp + 1, n);
    tmp[1 + l] = '\r';
    tmp[2 + l] = '\n';
    buf_insert(r->out, token, tmp, (size_t)l + 3);
}

void reply_defer_array(struct reply *r, size_t token, long long n)
{
    defer_fill(r, token, '*', n);
}

void reply_defer_map(struct reply *r, size_t token, long long n)
{
    if (r->resp >= 3)
        defer_fill(r, token, '%', n);
    else
        defer_fill(r, token, '*', n * 2);
}

void reply_defer_set(struct reply *r, size_t token, long long n)
{
    defer_fill(r, token, r->resp >= 3 ? '~' : '*', n);
}
