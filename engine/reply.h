/*
 * reply.h - encodes command replies as RESP2 or RESP3 into a byte buffer.
 *
 * The engine builds replies without knowing where they go: the server hands
 * it a struct reply over the client's output buffer; scripting hands it a
 * scratch buffer and parses the result. Aggregate types degrade as Redis
 * degrades them for RESP2 (map -> flat array, set -> array, double -> bulk,
 * null -> $-1 or *-1, boolean -> integer).
 *
 * Thread: the owner's. Allocates only through the buffer.
 */
#ifndef LODE_REPLY_H
#define LODE_REPLY_H

#include "engine/buf.h"

#include <stdbool.h>
#include <stddef.h>

struct reply {
    struct buf *out;   /* borrowed: where the bytes go */
    int resp;          /* 2 or 3 */
    unsigned errors;   /* error replies written, for stats */
    char err_code[32]; /* first word of the first error written ("ERR", "WRONGTYPE") */
};

void reply_init(struct reply *r, struct buf *out, int resp);

void reply_ok(struct reply *r);
/* "+<s>\r\n"; s must not contain CR or LF. */
void reply_status(struct reply *r, const char *s);
/* msg is the full error text without the leading '-', e.g.
 * "ERR syntax error" or "WRONGTYPE ...". CR/LF in it become spaces. */
void reply_error(struct reply *r, const char *msg);
void reply_errorf(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_int(struct reply *r, long long v);
void reply_bulk(struct reply *r, const char *p, size_t n);
void reply_cstr(struct reply *r, const char *s);
void reply_bulk_ll(struct reply *r, long long v);
/* Null bulk: RESP2 "$-1", RESP3 "_". */
void reply_null(struct reply *r);
/* Null array: RESP2 "*-1", RESP3 "_". */
void reply_null_array(struct reply *r);
void reply_array(struct reply *r, long long n);
/* n key/value pairs: RESP3 "%n", RESP2 an array of 2n. */
void reply_map(struct reply *r, long long n);
/* RESP3 "~n", RESP2 an array. */
void reply_set(struct reply *r, long long n);
/* RESP3 ">n" push; RESP2 an array. */
void reply_push(struct reply *r, long long n);
/* RESP3 ",<d>", RESP2 a bulk string, formatted as Redis 7.0 does (%.17g). */
void reply_double(struct reply *r, double d);
/* RESP3 "#t"/"#f", RESP2 :1/:0. */
void reply_bool(struct reply *r, bool b);
/* RESP3 verbatim "=len\r\ntxt:..." , RESP2 a bulk string. */
void reply_verbatim(struct reply *r, const char *p, size_t n);
/* An empty array (RESP2 and 3: "*0"). */
void reply_empty_array(struct reply *r);

/* Aggregates whose length is known only after the elements: reserve a
 * placeholder, write the elements, then fill it. Returns a token. */
size_t reply_defer(struct reply *r);
void reply_defer_array(struct reply *r, size_t token, long long n);
void reply_defer_map(struct reply *r, size_t token, long long n);
void reply_defer_set(struct reply *r, size_t token, long long n);

/* Common error texts, byte-identical to Redis 7.0. */
#define ERR_WRONGTYPE  "WRONGTYPE Operation against a key holding the wrong kind of value"
#define ERR_SYNTAX     "ERR syntax error"
#define ERR_NOTINT     "ERR value is not an integer or out of range"
#define ERR_NOTFLOAT   "ERR value is not a valid float"
#define ERR_OVERFLOW   "ERR increment or decrement would overflow"
#define ERR_NOKEY      "ERR no such key"
#define ERR_OUTOFRANGE "ERR index out of range"
#define ERR_DBINDEX    "ERR DB index is out of range"

#endif
