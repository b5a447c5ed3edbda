/*
 * resp.c - incremental RESP request parser (see resp.h).
 *
 * Multibulk:  *<count>\r\n  then count times  $<len>\r\n<bytes>\r\n
 * Inline:     words separated by spaces, ending in \n (optional \r before);
 *             "double quotes" with \n \r \t \b \a \\ \" \xHH escapes and
 *             'single quotes' with \' only, as redis-cli and Redis accept.
 */
#include "server/resp.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <ctype.h>
#include <limits.h>
#include <string.h>

/* Before AUTH: a client may not make the server buffer much (Redis 7.0). */
#define UNAUTH_MAX_MULTIBULK 10
#define UNAUTH_MAX_BULK      16384

void resp_parser_init(struct resp_parser *p)
{
    memset(p, 0, sizeof(*p));
    p->bulk = -1;
    buf_init(&p->inline_tmp);
}

void resp_parser_release(struct resp_parser *p)
{
    lode_free(p->args);
    buf_release(&p->inline_tmp);
    p->args = NULL;
}

static void push_arg(struct resp_parser *p, size_t off, size_t len)
{
    if (p->argc == p->argc_cap) {
        p->argc_cap = p->argc_cap ? p->argc_cap * 2 : 8;
        p->args = lode_realloc(p->args, sizeof(*p->args) * (size_t)p->argc_cap);
    }
    p->args[p->argc].off = off;
    p->args[p->argc].len = len;
    p->argc++;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool resp_split_inline(struct resp_parser *p, const char *s, size_t n)
{
    struct buf *t = &p->inline_tmp;
    buf_reserve(t, 1); /* empty arguments still need a valid base pointer */
    t->len = 0;
    p->argc = 0;
    p->is_inline = true;
    size_t i = 0;
    for (;;) {
        while (i < n && isspace((unsigned char)s[i])) i++;
        if (i >= n) return true;
        size_t start = t->len;
        bool inq = false, insq = false, done = false;
        while (!done) {
            if (inq) {
                if (i >= n) return false;
                if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x' && hexval(s[i + 2]) >= 0 &&
                    hexval(s[i + 3]) >= 0) {
                    buf_putc(t, (char)(hexval(s[i + 2]) * 16 + hexval(s[i + 3])));
                    i += 3;
                } else if (s[i] == '\\' && i + 1 < n) {
                    char c;
                    i++;
                    switch (s[i]) {
                    case 'n': c = '\n'; break;
                    case 'r': c = '\r'; break;
                    case 't': c = '\t'; break;
                    case 'b': c = '\b'; break;
                    case 'a': c = '\a'; break;
                    default: c = s[i]; break;
                    }
                    buf_putc(t, c);
                } else if (s[i] == '"') {
                    /* a closing quote must be followed by a space or the end */
                    if (i + 1 < n && !isspace((unsigned char)s[i + 1])) return false;
                    done = true;
                } else {
                    buf_putc(t, s[i]);
                }
            } else if (insq) {
                if (i >= n) return false;
                if (s[i] == '\\' && i + 1 < n && s[i + 1] == '\'') {
                    i++;
                    buf_putc(t, '\'');
                } else if (s[i] == '\'') {
                    if (i + 1 < n && !isspace((unsigned char)s[i + 1])) return false;
                    done = true;
                } else {
                    buf_putc(t, s[i]);
                }
            } else {
                if (i >= n) {
                    done = true;
                    break;
                }
                switch (s[i]) {
                case ' ':
                case '\n':
                case '\r':
                case '\t':
                case '\0': done = true; break;
                case '"': inq = true; break;
                case '\'': insq = true; break;
                default: buf_putc(t, s[i]); break;
                }
            }
            if (i < n) i++;
        }
        push_arg(p, start, t->len - start);
    }
}

static int parse_inline(struct resp_parser *p, const struct buf *q, const char **err)
{
    const char *start = q->ptr + p->pos;
    size_t avail = q->len - p->pos;
    const char *nl = memchr(start, '\n', avail);
    if (!nl) {
        if (avail > RESP_INLINE_MAX) {
            *err = "ERR Protocol error: too big inline request";
            return RESP_ERROR;
        }
        return RESP_NEED_MORE;
    }
    size_t linelen = (size_t)(nl - start);
    if (linelen > 0 && start[linelen - 1] == '\r') linelen--;
    p->argc = 0;
    if (!resp_split_inline(p, start, linelen)) {
        *err = "ERR Protocol error: unbalanced quotes in request";
        return RESP_ERROR;
    }
    p->pos += (size_t)(nl - start) + 1;
    p->is_inline = true;
    return p->argc == 0 ? RESP_EMPTY : RESP_COMMAND;
}

/* Reads a "<prefix><integer>\r\n" line at p->pos. Returns 1 with *v set,
 * 0 when incomplete, -1 when the line is too long (no CRLF in 64 KiB) and
 * -2 when it does not hold an integer. */
static int read_count(const struct buf *q, size_t pos, long long *v, size_t *after)
{
    const char *s = q->ptr + pos;
    size_t avail = q->len - pos;
    const char *cr = memchr(s, '\r', avail);
    if (!cr) return avail > RESP_INLINE_MAX ? -1 : 0;
    if ((size_t)(cr - s) + 1 >= avail) return 0; /* need the \n */
    if ((size_t)(cr - s) > RESP_INLINE_MAX) return -1;
    if (!util_str2ll(s + 1, (size_t)(cr - s) - 1, v)) return -2;
    *after = pos + (size_t)(cr - s) + 2;
    return 1;
}

int resp_parse(struct resp_parser *p, const struct buf *q, const struct resp_limits *lim,
               const char **err)
{
    if (p->want == 0) {
        if (p->pos >= q->len) return RESP_NEED_MORE;
        p->cmd_start = p->pos;
        p->argc = 0;
        p->is_inline = false;
        if (q->ptr[p->pos] != '*') return parse_inline(p, q, err);
        long long n;
        size_t after;
        int rc = read_count(q, p->pos, &n, &after);
        if (rc == 0) return RESP_NEED_MORE;
        if (rc == -1) {
            *err = "ERR Protocol error: too big mbulk count string";
            return RESP_ERROR;
        }
        if (rc == -2 || n > INT_MAX) {
            *err = "ERR Protocol error: invalid multibulk length";
            return RESP_ERROR;
        }
        if (!lim->authenticated && n > UNAUTH_MAX_MULTIBULK) {
            *err = "ERR Protocol error: unauthenticated multibulk length";
            return RESP_ERROR;
        }
        p->pos = after;
        if (n <= 0) return RESP_EMPTY;
        p->want = n;
        p->bulk = -1;
    }
    while (p->want > 0) {
        if (p->bulk < 0) {
            if (p->pos >= q->len) return RESP_NEED_MORE;
            if (q->ptr[p->pos] != '$') {
                static char msg[64];
                memcpy(msg, "ERR Protocol error: expected '$', got ' '", 42);
                msg[39] = q->ptr[p->pos];
                *err = msg;
                return RESP_ERROR;
            }
            long long n;
            size_t after;
            int rc = read_count(q, p->pos, &n, &after);
            if (rc == 0) return RESP_NEED_MORE;
            if (rc == -1) {
                *err = "ERR Protocol error: too big bulk count string";
                return RESP_ERROR;
            }
            if (rc == -2 || n < 0 || n > lim->max_bulk) {
                *err = "ERR Protocol error: invalid bulk length";
                return RESP_ERROR;
            }
            if (!lim->authenticated && n > UNAUTH_MAX_BULK) {
                *err = "ERR Protocol error: unauthenticated bulk length";
                return RESP_ERROR;
            }
            p->pos = after;
            p->bulk = n;
        }
        if (q->len - p->pos < (size_t)p->bulk + 2) return RESP_NEED_MORE;
        /* Redis does not check the CRLF after the bulk; neither do we */
        push_arg(p, p->pos, (size_t)p->bulk);
        p->pos += (size_t)p->bulk + 2;
        p->bulk = -1;
        p->want--;
    }
    return RESP_COMMAND;
}

int resp_args(const struct resp_parser *p, const struct buf *q, struct slice *argv)
{
    const char *base = p->is_inline ? p->inline_tmp.ptr : q->ptr;
    for (int i = 0; i < p->argc; i++) {
        argv[i].ptr = base + p->args[i].off;
        argv[i].len = p->args[i].len;
    }
    return p->argc;
}

void resp_next(struct resp_parser *p)
{
    p->argc = 0;
    p->want = 0;
    p->bulk = -1;
    p->cmd_start = p->pos;
}

void resp_compact(struct resp_parser *p, struct buf *q)
{
    /* cmd_start: the first byte of a command not yet run (or == pos between
     * commands), so a parsed command waiting to run keeps its bytes */
    size_t drop = p->cmd_start;
    if (drop == 0) return;
    buf_consume(q, drop);
    for (int i = 0; i < p->argc && !p->is_inline; i++) p->args[i].off -= drop;
    p->pos -= drop;
    p->cmd_start -= drop;
}
