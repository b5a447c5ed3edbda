/*
 * resp.h - incremental RESP request parser (multibulk and inline).
 *
 * Parses one command at a time out of a client's query buffer, remembering
 * its position across calls so that a request arriving in many small reads
 * is scanned once. Arguments are returned as offsets into the buffer (the
 * buffer may move when it grows), turned into pointers by resp_args once a
 * command is complete.
 *
 * Limits and error texts are Redis 7.0's: inline requests up to 64 KiB,
 * count lines up to 64 KiB, multibulk counts up to INT_MAX (10 before
 * authentication), bulk lengths up to proto-max-bulk-len (16 KiB before
 * authentication). Every error is final for the connection: the server
 * replies with it and closes.
 *
 * Thread: main. Allocates only the argument array.
 */
#ifndef LODE_RESP_H
#define LODE_RESP_H

#include "engine/buf.h"
#include "engine/cmd.h"

#include <stdbool.h>
#include <stddef.h>

#define RESP_INLINE_MAX (64 * 1024)

struct resp_arg {
    size_t off; /* offset in the query buffer */
    size_t len;
};

struct resp_parser {
    size_t pos;       /* bytes of the buffer consumed by complete commands + current progress */
    size_t cmd_start; /* where the command being parsed begins */
    long long want;   /* multibulk: arguments still to read; 0 = between commands */
    long long bulk;   /* length of the bulk being read, -1 = expecting a '$' line */
    int argc;
    int argc_cap;
    struct resp_arg *args; /* owned */
    struct buf inline_tmp; /* unescaped inline arguments (owned) */
    bool is_inline;
};

struct resp_limits {
    long long max_bulk; /* proto-max-bulk-len */
    bool authenticated; /* false applies the tighter unauthenticated limits */
};

enum resp_status {
    RESP_NEED_MORE = 0, /* no complete command yet */
    RESP_COMMAND = 1,   /* a command is ready: resp_args */
    RESP_EMPTY = 2,     /* an empty request (blank line, "*0"): nothing to run */
    RESP_ERROR = -1,    /* protocol error: *err holds the reply text */
};

void resp_parser_init(struct resp_parser *p);
void resp_parser_release(struct resp_parser *p);

/* Parses from q at p->pos. On RESP_ERROR, *err is a static string with the
 * full error text (without '-'). */
int resp_parse(struct resp_parser *p, const struct buf *q, const struct resp_limits *lim,
               const char **err);
/* Splits one line the way inline requests and redis.conf lines are split
 * (quotes and escapes as above) into p's inline arguments; read them with
 * resp_args(p, NULL, argv). Returns false on unbalanced quotes. */
bool resp_split_inline(struct resp_parser *p, const char *s, size_t n);
/* After RESP_COMMAND: fills argv (capacity p->argc, caller-provided) with
 * pointers into q, returns argc. Valid until q changes. */
int resp_args(const struct resp_parser *p, const struct buf *q, struct slice *argv);
/* After the command ran: forget it, ready for the next one. */
void resp_next(struct resp_parser *p);
/* Drops the consumed prefix of q (call between reads, never mid-command
 * argument use). */
void resp_compact(struct resp_parser *p, struct buf *q);

#endif
