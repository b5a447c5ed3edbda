/*
 * t_list.c - lists: the value type (a doubly linked chain of packed nodes,
 * "quicklist" as OBJECT ENCODING reports it in Redis 7.0, which uses that
 * name for every list) and the list commands, blocking ones included.
 *
 * Structure: struct list holds the head and tail nodes, the element count
 * and the node count. Each node holds one pack (engine/pack.h) of 1 or more
 * elements; an empty node never stays in the chain. Because every pack
 * knows its own count, reaching index i walks nodes (not elements) from
 * the nearer end, so the ends are O(1) whatever the length, and LINDEX in
 * the middle costs O(nodes + node size).
 *
 * Node size (list-max-listpack-size, eng->lim, read at each write as Redis
 * does): -1..-5 cap a node at 4, 8, 16, 32 or 64 KiB of pack; a positive
 * value caps its element count (and, as in Redis, its size at 8 KiB). A
 * node grows until it would pass its cap; then a new node starts. An
 * element larger than the cap gets a node of its own. Inserts and
 * replacements in the middle that overflow a node split it in two halves.
 * list-compress-depth is accepted but nodes are never compressed
 * (docs/compatibility.md).
 *
 * Logging (effects.h): the pushes, LPOP/RPOP, LSET, LINSERT, LREM, LTRIM,
 * LMOVE and RPOPLPUSH depend only on the state and their arguments and are
 * `verbatim`. LMPOP and the blocking commands are `rewrite`, emitting what
 * they did as Redis 7.0 propagates it: LPOP/RPOP key [count] for
 * (B)LMPOP, BLPOP and BRPOP, LMOVE src dst from to for BLMOVE and
 * BRPOPLPUSH, whether the pop ran at once or when a blocked client was
 * served (the server re-runs the handler, see ctx_block in cmd.h).
 *
 * Checkpoint payload (docs/checkpoint-format.md, "Lists"): encoding 1,
 * quicklist: u32 node count N >= 1, then N times u32 length + a pack
 * (pack.h layout) holding >= 1 element.
 */
#include "engine/notify.h"
#include "engine/cmd.h"
#include "engine/digest.h"
#include "engine/lode.h"
#include "engine/pack.h"
#include "engine/serialize.h"
#include "engine/types.h"
#include "engine/util.h"

#include <limits.h>
#include <string.h>

/* ---- the list structure ---- */

/* In-memory encodings (kv->enc). */
enum { LIST_ENC_QUICKLIST = 0 };
/* On-disk encodings (never renumbered). */
enum { SER_LIST_QUICKLIST = 1 };

enum { LIST_HEAD = 0, LIST_TAIL = 1 };

/* Redis's size cap for count-limited nodes (SIZE_SAFETY_LIMIT). */
#define NODE_SAFETY_BYTES 8192

struct lnode {
    struct lnode *prev, *next;
    uint8_t *pk; /* owned, >= 1 entry while linked */
};

struct list {
    struct lnode *head, *tail;
    long long len;   /* elements */
    long long nodes; /* nodes in the chain */
};

/* A position: an entry in a node. */
struct lpos {
    struct lnode *node;
    uint8_t *e;
};

static struct list *list_new(void)
{
    struct list *l = lode_malloc(sizeof(*l));
    l->head = l->tail = NULL;
    l->len = l->nodes = 0;
    return l;
}

static void list_free(struct list *l)
{
    if (!l) return;
    for (struct lnode *n = l->head, *next; n; n = next) {
        next = n->next;
        pk_free(n->pk);
        lode_free(n);
    }
    lode_free(l);
}

/* Links a new node holding pk after `at` (NULL: as the head). */
static struct lnode *node_link(struct list *l, struct lnode *at, uint8_t *pk)
{
    struct lnode *n = lode_malloc(sizeof(*n));
    n->pk = pk;
    n->prev = at;
    n->next = at ? at->next : l->head;
    if (n->next)
        n->next->prev = n;
    else
        l->tail = n;
    if (at)
        at->next = n;
    else
        l->head = n;
    l->nodes++;
    return n;
}

static void node_unlink(struct list *l, struct lnode *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    l->nodes--;
    pk_free(n->pk);
    lode_free(n);
}

static size_t fill_bytes(long long fill)
{
    if (fill >= 0) return NODE_SAFETY_BYTES;
    if (fill < -5) fill = -5;
    return (size_t)4096 << (-fill - 1);
}

/* Bytes a string of len bytes takes in a pack at most (pack.h: tag, u32
 * length past 127 bytes, the bytes, a 7-bit-per-byte back-length; an
 * integer-looking string takes less). */
static size_t entry_bound(size_t len)
{
    size_t t = 1 + len + (len > 127 ? 4 : 0);
    size_t back = 1;
    for (size_t v = t >> 7; v; v >>= 7) back++;
    return t + back;
}

/* Whether node n may take one more element of len bytes. */
static bool node_accepts(const struct lnode *n, size_t len, long long fill)
{
    uint32_t cnt = pk_count(n->pk);
    if (cnt == 0) return true;
    size_t nb = (size_t)pk_bytes(n->pk) + entry_bound(len);
    if (nb > fill_bytes(fill)) return false;
    return fill < 0 || (long long)cnt < fill;
}

/* Whether node n is over its cap (and holds more than one element). */
static bool node_over(const struct lnode *n, long long fill)
{
    uint32_t cnt = pk_count(n->pk);
    if (cnt <= 1) return false;
    if (pk_bytes(n->pk) > fill_bytes(fill)) return true;
    return fill > 0 && (long long)cnt > fill;
}

/* Splits n in halves until each part is within its cap. */
static void node_fit(struct list *l, struct lnode *n, long long fill)
{
    while (node_over(n, fill)) {
        uint32_t cnt = pk_count(n->pk), mid = cnt / 2;
        uint8_t *right = pk_new();
        char tmp[UTIL_LLSTR_SIZE];
        for (uint8_t *e = pk_at(n->pk, mid); e; e = pk_next(n->pk, e)) {
            size_t len;
            const char *s = pk_str(e, tmp, &len);
            right = pk_append(right, s, len);
        }
        n->pk = pk_delete_range(n->pk, mid, cnt - mid);
        struct lnode *r = node_link(l, n, right);
        node_fit(l, r, fill);
    }
}

static void list_push(struct list *l, int where, const char *s, size_t len, long long fill)
{
    struct lnode *n = where == LIST_HEAD ? l->head : l->tail;
    if (!n || !node_accepts(n, len, fill))
        n = node_link(l, where == LIST_HEAD ? NULL : l->tail, pk_new());
    n->pk = where == LIST_HEAD ? pk_prepend(n->pk, s, len) : pk_append(n->pk, s, len);
    l->len++;
}

/* The element at the head or tail (the list is not empty), borrowed until
 * the list changes; integers are formatted into tmp. */
static const char *list_peek(struct list *l, int where, char *tmp, size_t *len)
{
    struct lnode *n = where == LIST_HEAD ? l->head : l->tail;
    uint8_t *e = where == LIST_HEAD ? pk_first(n->pk) : pk_last(n->pk);
    return pk_str(e, tmp, len);
}

/* Removes count elements from one end (count <= len). */
static void list_drop(struct list *l, int where, long long count)
{
    while (count > 0) {
        struct lnode *n = where == LIST_HEAD ? l->head : l->tail;
        long long c = pk_count(n->pk);
        if (count >= c) {
            node_unlink(l, n);
            l->len -= c;
            count -= c;
        } else {
            n->pk = where == LIST_HEAD ? pk_delete_range(n->pk, 0, (uint32_t)count)
                                       : pk_delete_range(n->pk, -count, (uint32_t)count);
            l->len -= count;
            count = 0;
        }
    }
}

/* Finds index i (negative: from the tail), walking nodes from the nearer
 * end. Returns false when out of range. */
static bool list_at(struct list *l, long long i, struct lpos *p)
{
    if (i < 0) i += l->len;
    if (i < 0 || i >= l->len) return false;
    if (i <= (l->len - 1) / 2) {
        struct lnode *n = l->head;
        while (i >= (long long)pk_count(n->pk)) {
            i -= pk_count(n->pk);
            n = n->next;
        }
        p->node = n;
        p->e = pk_at(n->pk, i);
    } else {
        long long r = l->len - 1 - i;
        struct lnode *n = l->tail;
        while (r >= (long long)pk_count(n->pk)) {
            r -= pk_count(n->pk);
            n = n->prev;
        }
        p->node = n;
        p->e = pk_at(n->pk, -1 - r);
    }
    return true;
}

/* Steps p to the next element toward the tail (dir > 0) or the head. */
static bool lpos_step(struct lpos *p, int dir)
{
    uint8_t *e = dir > 0 ? pk_next(p->node->pk, p->e) : pk_prev(p->node->pk, p->e);
    while (!e) {
        p->node = dir > 0 ? p->node->next : p->node->prev;
        if (!p->node) return false;
        e = dir > 0 ? pk_first(p->node->pk) : pk_last(p->node->pk);
    }
    p->e = e;
    return true;
}

/* Deletes the element at p; p then points at the element that came after
 * it in direction dir. Returns false when there is none. */
static bool lpos_delete(struct list *l, struct lpos *p, int dir)
{
    struct lnode *n = p->node;
    n->pk = pk_delete(n->pk, &p->e, 1);
    l->len--;
    if (pk_count(n->pk) == 0) {
        struct lnode *nx = dir > 0 ? n->next : n->prev;
        node_unlink(l, n);
        if (!nx) return false;
        p->node = nx;
        p->e = dir > 0 ? pk_first(nx->pk) : pk_last(nx->pk);
        return true;
    }
    if (dir > 0) {
        if (p->e) return true;
        if (!n->next) return false;
        p->node = n->next;
        p->e = pk_first(n->next->pk);
        return true;
    }
    /* p->e is the element that followed the deleted one: step back past it */
    p->e = p->e ? pk_prev(n->pk, p->e) : pk_last(n->pk);
    if (p->e) return true;
    if (!n->prev) return false;
    p->node = n->prev;
    p->e = pk_last(n->prev->pk);
    return true;
}

/* Inserts <s, len> before or after the element at p. */
static void lpos_insert(struct list *l, struct lpos *p, bool after, const char *s, size_t len,
                        long long fill)
{
    struct lnode *n = p->node;
    l->len++;
    if (after) {
        uint8_t *nx = pk_next(n->pk, p->e);
        if (!nx && !node_accepts(n, len, fill) && n->next && node_accepts(n->next, len, fill)) {
            n->next->pk = pk_prepend(n->next->pk, s, len);
            return;
        }
        n->pk = pk_insert(n->pk, &nx, s, len);
    } else {
        uint8_t *e = p->e;
        if (e == pk_first(n->pk) && !node_accepts(n, len, fill) && n->prev &&
            node_accepts(n->prev, len, fill)) {
            n->prev->pk = pk_append(n->prev->pk, s, len);
            return;
        }
        n->pk = pk_insert(n->pk, &e, s, len);
    }
    node_fit(l, n, fill);
}

/* ---- obj_ops ---- */

static void ops_free(void *ptr, int enc)
{
    (void)enc;
    list_free(ptr);
}

static void *ops_dup(const void *ptr, int enc)
{
    (void)enc;
    const struct list *l = ptr;
    struct list *d = list_new();
    for (const struct lnode *n = l->head; n; n = n->next) node_link(d, d->tail, pk_dup(n->pk));
    d->len = l->len;
    return d;
}

static size_t ops_mem(const void *ptr, int enc)
{
    (void)enc;
    const struct list *l = ptr;
    if (!l) return 0;
    size_t m = lode_usable(l);
    for (const struct lnode *n = l->head; n; n = n->next) m += lode_usable(n) + pk_mem(n->pk);
    return m;
}

static const char *ops_enc_name(int enc)
{
    (void)enc;
    return "quicklist";
}

static void ops_each(const void *ptr, int enc,
                     int (*fn)(void *priv, const char *a, size_t alen, const char *b, size_t blen),
                     void *priv)
{
    (void)enc;
    const struct list *l = ptr;
    char tmp[UTIL_LLSTR_SIZE];
    for (const struct lnode *n = l->head; n; n = n->next) {
        for (uint8_t *e = pk_first(n->pk); e; e = pk_next(n->pk, e)) {
            size_t len;
            const char *s = pk_str(e, tmp, &len);
            if (fn(priv, s, len, NULL, 0)) return;
        }
    }
}

static int digest_one(void *priv, const char *a, size_t alen, const char *b, size_t blen)
{
    (void)b, (void)blen;
    digest_mix(priv, a, alen);
    return 0;
}

/* Ordered: each element is mixed in turn. */
static void ops_digest(const void *ptr, int enc, uint8_t out[20])
{
    ops_each(ptr, enc, digest_one, out);
}

static int ops_serialize(struct buf *out, const void *ptr, int enc)
{
    (void)enc;
    const struct list *l = ptr;
    ser_put_u32(out, (uint32_t)l->nodes);
    for (const struct lnode *n = l->head; n; n = n->next) ser_put_str(out, n->pk, pk_bytes(n->pk));
    return SER_LIST_QUICKLIST;
}

/* Validates the whole payload first, so a failure allocates nothing. */
static int ops_parse(const uint8_t *p, size_t n, int ser_enc, void **ptr, int *enc)
{
    if (ser_enc != SER_LIST_QUICKLIST) return LODE_EVERSION;
    struct ser_rd r = ser_rd_init(p, n);
    uint32_t nodes;
    if (!ser_get_u32(&r, &nodes) || nodes == 0) return LODE_ECORRUPT;
    /* each node takes at least its length and a pack header */
    if (nodes > (n - r.off) / (4 + PK_HEADER)) return LODE_ECORRUPT;
    size_t start = r.off;
    for (uint32_t i = 0; i < nodes; i++) {
        const char *s;
        size_t len;
        if (!ser_get_str(&r, &s, &len)) return LODE_ECORRUPT;
        if (!pk_validate((const uint8_t *)s, len) || pk_count((const uint8_t *)s) == 0)
            return LODE_ECORRUPT;
    }
    if (!ser_rd_done(&r)) return LODE_ECORRUPT;
    r.off = start;
    struct list *l = list_new();
    for (uint32_t i = 0; i < nodes; i++) {
        const char *s;
        size_t len;
        ser_get_str(&r, &s, &len);
        struct lnode *nd = node_link(l, l->tail, pk_from_bytes((const uint8_t *)s, len));
        l->len += pk_count(nd->pk);
    }
    *ptr = l;
    *enc = LIST_ENC_QUICKLIST;
    return 0;
}

static const struct obj_ops list_ops = {
    .free = ops_free,
    .dup = ops_dup,
    .mem = ops_mem,
    .enc_name = ops_enc_name,
    .digest = ops_digest,
    .ser_type = SER_TYPE_LIST,
    .serialize = ops_serialize,
    .parse = ops_parse,
    .each = ops_each,
};

void list_register(void)
{
    obj_register(OBJ_LIST, &list_ops);
}

/* ---- command helpers ---- */

static long long fill_of(struct cmd_ctx *ctx)
{
    long long f = ctx->eng->lim.list_max_listpack_size;
    return f == 0 ? -2 : f;
}

static struct list *kv_list(struct kv *kv)
{
    return kv->v.ptr;
}

static const struct slice *arg(struct cmd_ctx *ctx, int i)
{
    return &ctx->argv[i];
}

/* Reports an in-place change of the list under argv[i] (WATCH, dirty set). */
static void list_changed(struct cmd_ctx *ctx, int i)
{
    db_key_changed(ctx->eng, ctx->db, arg(ctx, i)->ptr, arg(ctx, i)->len);
}

/* Deletes the key under argv[i] when its list became empty. */
static void delete_if_empty(struct cmd_ctx *ctx, struct kv *kv, int i)
{
    if (kv_list(kv)->len != 0) return;
    db_delete(ctx->eng, ctx->db, arg(ctx, i)->ptr, arg(ctx, i)->len);
    NOTIFY_ARG(ctx, NOTIFY_GENERIC, "del", i);
}

/* The keyspace events of a push and a pop at an end. */
static const char *push_event(int where)
{
    return where == LIST_HEAD ? "lpush" : "rpush";
}

static const char *pop_event(int where)
{
    return where == LIST_HEAD ? "lpop" : "rpop";
}

/* Parses LEFT / RIGHT; replies a syntax error otherwise. */
static bool arg_where(struct cmd_ctx *ctx, int i, int *where)
{
    if (arg_is(ctx, i, "left")) {
        *where = LIST_HEAD;
    } else if (arg_is(ctx, i, "right")) {
        *where = LIST_TAIL;
    } else {
        reply_error(ctx->r, ERR_SYNTAX);
        return false;
    }
    return true;
}

/* Parses a count as Redis's getPositiveLongFromObjectOrReply (msg NULL:
 * its default text for both failures). */
static bool arg_positive(struct cmd_ctx *ctx, int i, long long *out, const char *msg)
{
    return arg_ll_range(ctx, i, 0, LLONG_MAX, out,
                        msg ? msg : "ERR value is out of range, must be positive");
}

static void emit_pop(struct cmd_ctx *ctx, int where, const struct slice *key, long long count)
{
    char num[UTIL_LLSTR_SIZE];
    struct slice a[3] = {{where == LIST_HEAD ? "LPOP" : "RPOP", 4}, *key};
    int argc = 2;
    if (count >= 0) a[argc++] = (struct slice){num, (size_t)util_ll2str(num, count)};
    ctx_emit(ctx, argc, a);
}

static void emit_lmove(struct cmd_ctx *ctx, const struct slice *src, const struct slice *dst,
                       int from, int to)
{
    struct slice a[5] = {{"LMOVE", 5},
                         *src,
                         *dst,
                         {from == LIST_HEAD ? "LEFT" : "RIGHT", from == LIST_HEAD ? 4u : 5u},
                         {to == LIST_HEAD ? "LEFT" : "RIGHT", to == LIST_HEAD ? 4u : 5u}};
    ctx_emit(ctx, 5, a);
}

/* Pops up to count elements from one end, replying each as a bulk string
 * inside an array the caller opened (count already clamped to len). */
static void pop_reply(struct cmd_ctx *ctx, struct list *l, int where, long long count)
{
    char tmp[UTIL_LLSTR_SIZE];
    for (long long i = 0; i < count; i++) {
        size_t len;
        const char *s = list_peek(l, where, tmp, &len);
        reply_bulk(ctx->r, s, len);
        list_drop(l, where, 1);
    }
}

/* ---- pushes ---- */

static void push_generic(struct cmd_ctx *ctx, int where, bool xx)
{
    struct kv *kv = ctx_lookup_write(ctx, 1);
    if (kv && ctx_wrongtype(ctx, kv, OBJ_LIST)) return;
    if (!kv) {
        if (xx) {
            reply_int(ctx->r, 0);
            return;
        }
        kv = kv_new_obj(arg(ctx, 1)->ptr, arg(ctx, 1)->len, OBJ_LIST, LIST_ENC_QUICKLIST,
                        list_new());
        struct list *l = kv_list(kv);
        for (int i = 2; i < ctx->argc; i++)
            list_push(l, where, arg(ctx, i)->ptr, arg(ctx, i)->len, fill_of(ctx));
        db_add(ctx->eng, ctx->db, kv); /* signals blocked clients */
    } else {
        struct list *l = kv_list(kv);
        for (int i = 2; i < ctx->argc; i++)
            list_push(l, where, arg(ctx, i)->ptr, arg(ctx, i)->len, fill_of(ctx));
        list_changed(ctx, 1);
        db_signal_ready(ctx->eng, ctx->db, arg(ctx, 1)->ptr, arg(ctx, 1)->len);
    }
    NOTIFY_ARG(ctx, NOTIFY_LIST, push_event(where), 1);
    ctx_dirty(ctx, ctx->argc - 2);
    reply_int(ctx->r, kv_list(kv)->len);
}

void cmd_lpush(struct cmd_ctx *ctx)
{
    push_generic(ctx, LIST_HEAD, false);
}

void cmd_rpush(struct cmd_ctx *ctx)
{
    push_generic(ctx, LIST_TAIL, false);
}

void cmd_lpushx(struct cmd_ctx *ctx)
{
    push_generic(ctx, LIST_HEAD, true);
}

void cmd_rpushx(struct cmd_ctx *ctx)
{
    push_generic(ctx, LIST_TAIL, true);
}

void cmd_linsert(struct cmd_ctx *ctx)
{
    bool after;
    if (arg_is(ctx, 2, "after")) {
        after = true;
    } else if (arg_is(ctx, 2, "before")) {
        after = false;
    } else {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    struct kv *kv = ctx_lookup_write(ctx, 1);
    if (!kv) {
        reply_int(ctx->r, 0);
        return;
    }
    if (ctx_wrongtype(ctx, kv, OBJ_LIST)) return;
    struct list *l = kv_list(kv);
    struct lpos p;
    const struct slice *pivot = arg(ctx, 3), *val = arg(ctx, 4);
    bool found = false;
    if (list_at(l, 0, &p)) {
        do {
            if (pk_eq(p.e, pivot->ptr, pivot->len)) {
                found = true;
                break;
            }
        } while (lpos_step(&p, 1));
    }
    if (!found) {
        reply_int(ctx->r, -1);
        return;
    }
    lpos_insert(l, &p, after, val->ptr, val->len, fill_of(ctx));
    list_changed(ctx, 1);
    NOTIFY_ARG(ctx, NOTIFY_LIST, "linsert", 1);
    ctx_dirty(ctx, 1);
    reply_int(ctx->r, l->len);
}

/* ---- reads ---- */

void cmd_llen(struct cmd_ctx *ctx)
{
    struct kv *kv = ctx_lookup_read(ctx, 1);
    if (!kv) {
        reply_int(ctx->r, 0);
        return;
    }
    if (ctx_wrongtype(ctx, kv, OBJ_LIST)) return;
    reply_int(ctx->r, kv_list(kv)->len);
}

void cmd_lindex(struct cmd_ctx *ctx)
{
    struct kv *kv = ctx_lookup_read(ctx, 1);
    if (!kv) {
        reply_null(ctx->r);
        return;
    }
    if (ctx_wrongtype(ctx, kv, OBJ_LIST)) return;
    long long idx;
    if (!arg_ll(ctx, 2, &idx, NULL)) return;
    struct lpos p;
    if (!list_at(kv_list(kv), idx, &p)) {
        reply_null(ctx->r);
        return;
    }
    char tmp[UTIL_LLSTR_SIZE];
    size_t len;
    const char *s = pk_str(p.e, tmp, &len);
    reply_bulk(ctx->r, s, len);
}

void cmd_lrange(struct cmd_ctx *ctx)
{
    long long start, end;
    if (!arg_ll(ctx, 2, &start, NULL) || !arg_ll(ctx, 3, &end, NULL)) return;
    struct kv *kv = ctx_lookup_read(ctx, 1);
    if (!kv) {
        reply_empty_array(ctx->r);
        return;
    }
    if (ctx_wrongtype(ctx, kv, OBJ_LIST)) return;
    struct list *l = kv_list(kv);
    long long len = l->len;
    if (start < 0) start += len;
    if (end < 0) end += len;
    if (start < 0) start = 0;
    if (start > end || start >= len) {
        reply_empty_array(ctx->r);
        return;
    }
    if (end >= len) end = len - 1;
    long long n = end - start + 1;
    reply_array(ctx->r, n);
    struct lpos p;
    list_at(l, start, &p);
    char tmp[UTIL_LLSTR_SIZE];
    for (long long i = 0; i < n; i++) {
        size_t slen;
        const char *s = pk_str(p.e, tmp, &slen);
        reply_bulk(ctx->r, s, slen);
        if (i + 1 < n) lpos_step(&p, 1);
    }
}

void cmd_lpos(struct cmd_ctx *ctx)
{
    long long rank = 1, count = -1, maxlen = 0;
    for (int j = 3; j < ctx->argc; j++) {
        bool more = j + 1 < ctx->argc;
        if (more && arg_is(ctx, j, "rank")) {
            j++;
            if (!arg_ll(ctx, j, &rank, NULL)) return;
            if (rank == 0) {
                reply_error(ctx->r, "ERR RANK can't be zero: use 1 to start from the first match, "
                                    "2 from the second ... or use negative to start from the end "
                                    "of the list");
                return;
            }
        } else if (more && arg_is(ctx, j, "count")) {
            j++;
            if (!arg_positive(ctx, j, &count, "ERR COUNT can't be negative")) return;
        } else if (more && arg_is(ctx, j, "maxlen")) {
            j++;
            if (!arg_positive(ctx, j, &maxlen, "ERR MAXLEN can't be negative")) return;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
    }
    int dir = 1;
    bool all_matches = false;
    if (rank == LLONG_MIN) {
        /* Redis 7.0 negates the rank in a long: LLONG_MIN stays negative,
         * so every match from the tail counts and COUNT never stops it */
        rank = 1;
        dir = -1;
        all_matches = true;
    } else if (rank < 0) {
        rank = -rank;
        dir = -1;
    }
    struct kv *kv = ctx_lookup_read(ctx, 1);
    if (!kv) {
        if (count != -1)
            reply_empty_array(ctx->r);
        else
            reply_null(ctx->r);
        return;
    }
    if (ctx_wrongtype(ctx, kv, OBJ_LIST)) return;
    struct list *l = kv_list(kv);
    const struct slice *ele = arg(ctx, 2);
    size_t tok = 0;
    if (count != -1) tok = reply_defer(ctx->r);
    long long index = 0, matches = 0, found = -1, n = 0;
    struct lpos p;
    bool ok = list_at(l, dir > 0 ? 0 : -1, &p);
    while (ok && (maxlen == 0 || index < maxlen)) {
        if (pk_eq(p.e, ele->ptr, ele->len)) {
            matches++;
            long long at = dir > 0 ? index : l->len - index - 1;
            if (matches >= rank) {
                if (count != -1) {
                    n++;
                    reply_int(ctx->r, at);
                    if (count && !all_matches && matches - rank + 1 >= count) break;
                } else {
                    found = at;
                    break;
                }
            }
        }
        index++;
        ok = lpos_step(&p, dir);
    }
    if (count != -1)
        reply_defer_array(ctx->r, tok, n);
    else if (found != -1)
        reply_int(ctx->r, found);
    else
        reply_null(ctx->r);
}

/* ---- in-place writes ---- */

void cmd_lset(struct cmd_ctx *ctx)
{
    struct kv *kv = ctx_lookup_write(ctx, 1);
    if (!kv) {
        reply_error(ctx->r, ERR_NOKEY);
        return;
    }
    if (ctx_wrongtype(ctx, kv, OBJ_LIST)) return;
    long long idx;
    if (!arg_ll(ctx, 2, &idx, NULL)) return;
    struct list *l = kv_list(kv);
    struct lpos p;
    if (!list_at(l, idx, &p)) {
        reply_error(ctx->r, ERR_OUTOFRANGE);
        return;
    }
    const struct slice *v = arg(ctx, 3);
    p.node->pk = pk_replace(p.node->pk, &p.e, v->ptr, v->len);
    node_fit(l, p.node, fill_of(ctx));
    list_changed(ctx, 1);
    NOTIFY_ARG(ctx, NOTIFY_LIST, "lset", 1);
    ctx_dirty(ctx, 1);
    reply_ok(ctx->r);
}

void cmd_ltrim(struct cmd_ctx *ctx)
{
    long long start, end;
    if (!arg_ll(ctx, 2, &start, NULL) || !arg_ll(ctx, 3, &end, NULL)) return;
    struct kv *kv = ctx_lookup_write(ctx, 1);
    if (!kv) {
        reply_ok(ctx->r);
        return;
    }
    if (ctx_wrongtype(ctx, kv, OBJ_LIST)) return;
    struct list *l = kv_list(kv);
    long long len = l->len, ltrim, rtrim;
    if (start < 0) start += len;
    if (end < 0) end += len;
    if (start < 0) start = 0;
    if (start > end || start >= len) {
        ltrim = len;
        rtrim = 0;
    } else {
        if (end >= len) end = len - 1;
        ltrim = start;
        rtrim = len - end - 1;
    }
    list_drop(l, LIST_HEAD, ltrim);
    list_drop(l, LIST_TAIL, rtrim);
    NOTIFY_ARG(ctx, NOTIFY_LIST, "ltrim", 1); /* even when nothing was trimmed, as Redis */
    if (ltrim + rtrim) {
        list_changed(ctx, 1);
        delete_if_empty(ctx, kv, 1);
        ctx_dirty(ctx, ltrim + rtrim);
    }
    reply_ok(ctx->r);
}

void cmd_lrem(struct cmd_ctx *ctx)
{
    long long count;
    if (!arg_ll(ctx, 2, &count, NULL)) return;
    struct kv *kv = ctx_lookup_write(ctx, 1);
    if (!kv) {
        reply_int(ctx->r, 0);
        return;
    }
    if (ctx_wrongtype(ctx, kv, OBJ_LIST)) return;
    struct list *l = kv_list(kv);
    const struct slice *ele = arg(ctx, 3);
    int dir = count < 0 ? -1 : 1;
    long long limit = count < 0 ? (count == LLONG_MIN ? LLONG_MAX : -count) : count;
    long long removed = 0;
    struct lpos p;
    bool ok = list_at(l, dir > 0 ? 0 : -1, &p);
    while (ok) {
        if (pk_eq(p.e, ele->ptr, ele->len)) {
            ok = lpos_delete(l, &p, dir);
            removed++;
            if (limit && removed == limit) break;
        } else {
            ok = lpos_step(&p, dir);
        }
    }
    if (removed) {
        list_changed(ctx, 1);
        NOTIFY_ARG(ctx, NOTIFY_LIST, "lrem", 1);
        delete_if_empty(ctx, kv, 1);
        ctx_dirty(ctx, removed);
    }
    reply_int(ctx->r, removed);
}

/* ---- pops ---- */

static void pop_generic(struct cmd_ctx *ctx, int where)
{
    bool hascount = ctx->argc == 3;
    long long count = 0;
    if (ctx->argc > 3) {
        reply_errorf(ctx->r, "ERR wrong number of arguments for '%s' command", ctx->cmd->fullname);
        return;
    }
    if (hascount && !arg_positive(ctx, 2, &count, NULL)) return;
    struct kv *kv = ctx_lookup_write(ctx, 1);
    if (!kv) {
        if (hascount)
            reply_null_array(ctx->r);
        else
            reply_null(ctx->r);
        return;
    }
    if (ctx_wrongtype(ctx, kv, OBJ_LIST)) return;
    struct list *l = kv_list(kv);
    if (hascount && !count) {
        reply_empty_array(ctx->r);
        return;
    }
    if (!hascount) {
        char tmp[UTIL_LLSTR_SIZE];
        size_t len;
        const char *s = list_peek(l, where, tmp, &len);
        reply_bulk(ctx->r, s, len);
        list_drop(l, where, 1);
        count = 1;
    } else {
        if (count > l->len) count = l->len;
        reply_array(ctx->r, count);
        pop_reply(ctx, l, where, count);
    }
    list_changed(ctx, 1);
    NOTIFY_ARG(ctx, NOTIFY_LIST, pop_event(where), 1);
    delete_if_empty(ctx, kv, 1);
    ctx_dirty(ctx, count);
}

void cmd_lpop(struct cmd_ctx *ctx)
{
    pop_generic(ctx, LIST_HEAD);
}

void cmd_rpop(struct cmd_ctx *ctx)
{
    pop_generic(ctx, LIST_TAIL);
}

/* Moves one element from the list in src (argv[1], present, a list) to
 * dst (argv[2]), after checking dst's type; replies the element. Returns
 * false after a WRONGTYPE reply (nothing moved). */
static bool lmove_do(struct cmd_ctx *ctx, struct kv *src, int from, int to)
{
    struct kv *dst = ctx_lookup_write(ctx, 2);
    if (dst && ctx_wrongtype(ctx, dst, OBJ_LIST)) return false;
    struct list *sl = kv_list(src);
    char tmp[UTIL_LLSTR_SIZE];
    size_t len;
    const char *s = list_peek(sl, from, tmp, &len);
    /* copy: the source pack changes before the push (src may be dst) */
    char *val = lode_malloc(len ? len : 1);
    memcpy(val, s, len);
    list_drop(sl, from, 1);
    list_changed(ctx, 1);
    const struct slice *dk = arg(ctx, 2);
    if (!dst) {
        dst = kv_new_obj(dk->ptr, dk->len, OBJ_LIST, LIST_ENC_QUICKLIST, list_new());
        list_push(kv_list(dst), to, val, len, fill_of(ctx));
        db_add(ctx->eng, ctx->db, dst);
    } else {
        list_push(kv_list(dst), to, val, len, fill_of(ctx));
        list_changed(ctx, 2);
        db_signal_ready(ctx->eng, ctx->db, dk->ptr, dk->len);
    }
    reply_bulk(ctx->r, val, len);
    lode_free(val);
    /* Redis's order: the push, then the pop, then the source's deletion */
    NOTIFY_ARG(ctx, NOTIFY_LIST, push_event(to), 2);
    NOTIFY_ARG(ctx, NOTIFY_LIST, pop_event(from), 1);
    /* src may have been dst: look it up again before deleting */
    struct kv *again = db_find(ctx->db, arg(ctx, 1)->ptr, arg(ctx, 1)->len);
    if (again && kv_list(again)->len == 0) delete_if_empty(ctx, again, 1);
    ctx_dirty(ctx, 1);
    return true;
}

static void lmove_generic(struct cmd_ctx *ctx, int from, int to)
{
    struct kv *src = ctx_lookup_write(ctx, 1);
    if (!src) {
        reply_null(ctx->r);
        return;
    }
    if (ctx_wrongtype(ctx, src, OBJ_LIST)) return;
    lmove_do(ctx, src, from, to);
}

void cmd_lmove(struct cmd_ctx *ctx)
{
    int from, to;
    if (!arg_where(ctx, 3, &from) || !arg_where(ctx, 4, &to)) return;
    lmove_generic(ctx, from, to);
}

void cmd_rpoplpush(struct cmd_ctx *ctx)
{
    lmove_generic(ctx, LIST_TAIL, LIST_HEAD);
}

/* Parsed (B)LMPOP arguments. */
struct mpop_args {
    int first_key, nkeys, where;
    long long count;
};

/* Parses numkeys at argv[idx], the keys, LEFT|RIGHT and COUNT, as Redis. */
static bool mpop_parse(struct cmd_ctx *ctx, int idx, struct mpop_args *a)
{
    long long numkeys;
    if (!arg_ll_range(ctx, idx, 1, LLONG_MAX, &numkeys, "ERR numkeys should be greater than 0"))
        return false;
    if (numkeys > ctx->argc - idx - 2) {
        reply_error(ctx->r, ERR_SYNTAX);
        return false;
    }
    int where_idx = idx + (int)numkeys + 1;
    if (!arg_where(ctx, where_idx, &a->where)) return false;
    a->count = -1;
    for (int j = where_idx + 1; j < ctx->argc; j++) {
        if (a->count == -1 && j + 1 < ctx->argc && arg_is(ctx, j, "count")) {
            j++;
            if (!arg_ll_range(ctx, j, 1, LLONG_MAX, &a->count,
                              "ERR count should be greater than 0"))
                return false;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return false;
        }
    }
    if (a->count == -1) a->count = 1;
    a->first_key = idx + 1;
    a->nkeys = (int)numkeys;
    return true;
}

/* Pops from the first non-empty list among the keys a names (those the
 * call may serve from): replies [key, [elements]] and emits LPOP/RPOP key
 * n. Returns 1 when served, 0 when every key was empty, -1 after an error
 * reply. */
static int mpop_try(struct cmd_ctx *ctx, const struct mpop_args *a)
{
    for (int i = a->first_key; i < a->first_key + a->nkeys; i++) {
        if (!ctx_serves_key(ctx, i)) continue;
        struct kv *kv = ctx_lookup_write(ctx, i);
        if (!kv) continue;
        if (ctx_wrongtype(ctx, kv, OBJ_LIST)) return -1;
        struct list *l = kv_list(kv);
        long long n = a->count > l->len ? l->len : a->count;
        reply_array(ctx->r, 2);
        reply_bulk(ctx->r, arg(ctx, i)->ptr, arg(ctx, i)->len);
        reply_array(ctx->r, n);
        pop_reply(ctx, l, a->where, n);
        emit_pop(ctx, a->where, arg(ctx, i), n);
        list_changed(ctx, i);
        NOTIFY_ARG(ctx, NOTIFY_LIST, pop_event(a->where), i);
        delete_if_empty(ctx, kv, i);
        ctx_dirty(ctx, n);
        return 1;
    }
    return 0;
}

void cmd_lmpop(struct cmd_ctx *ctx)
{
    struct mpop_args a;
    if (!mpop_parse(ctx, 1, &a)) return;
    if (mpop_try(ctx, &a) == 0) reply_null_array(ctx->r);
}

/* ---- blocking commands (see ctx_block in cmd.h) ---- */

/* BLPOP / BRPOP key [key ...] timeout */
static void bpop_generic(struct cmd_ctx *ctx, int where)
{
    long long deadline;
    if (!arg_timeout(ctx, ctx->argc - 1, &deadline)) return;
    for (int i = 1; i < ctx->argc - 1; i++) {
        if (!ctx_serves_key(ctx, i)) continue;
        struct kv *kv = ctx_lookup_write(ctx, i);
        if (!kv) continue;
        if (ctx_wrongtype(ctx, kv, OBJ_LIST)) return;
        struct list *l = kv_list(kv);
        char tmp[UTIL_LLSTR_SIZE];
        size_t len;
        const char *s = list_peek(l, where, tmp, &len);
        reply_array(ctx->r, 2);
        reply_bulk(ctx->r, arg(ctx, i)->ptr, arg(ctx, i)->len);
        reply_bulk(ctx->r, s, len);
        list_drop(l, where, 1);
        emit_pop(ctx, where, arg(ctx, i), -1);
        list_changed(ctx, i);
        NOTIFY_ARG(ctx, NOTIFY_LIST, pop_event(where), i);
        delete_if_empty(ctx, kv, i);
        ctx_dirty(ctx, 1);
        return;
    }
    if (!ctx_may_block(ctx)) {
        reply_null_array(ctx->r);
        return;
    }
    ctx_block(ctx, 1, ctx->argc - 2, OBJ_LIST, deadline);
}

void cmd_blpop(struct cmd_ctx *ctx)
{
    bpop_generic(ctx, LIST_HEAD);
}

void cmd_brpop(struct cmd_ctx *ctx)
{
    bpop_generic(ctx, LIST_TAIL);
}

static void blmove_generic(struct cmd_ctx *ctx, int from, int to, long long deadline)
{
    struct kv *src = ctx_lookup_write(ctx, 1);
    if (src && ctx_wrongtype(ctx, src, OBJ_LIST)) return;
    if (src) {
        if (lmove_do(ctx, src, from, to)) emit_lmove(ctx, arg(ctx, 1), arg(ctx, 2), from, to);
        return;
    }
    if (!ctx_may_block(ctx)) {
        reply_null(ctx->r);
        return;
    }
    ctx_block(ctx, 1, 1, OBJ_LIST, deadline);
}

void cmd_blmove(struct cmd_ctx *ctx)
{
    int from, to;
    long long deadline;
    if (!arg_where(ctx, 3, &from) || !arg_where(ctx, 4, &to)) return;
    if (!arg_timeout(ctx, 5, &deadline)) return;
    blmove_generic(ctx, from, to, deadline);
}

void cmd_brpoplpush(struct cmd_ctx *ctx)
{
    long long deadline;
    if (!arg_timeout(ctx, 3, &deadline)) return;
    blmove_generic(ctx, LIST_TAIL, LIST_HEAD, deadline);
}

void cmd_blmpop(struct cmd_ctx *ctx)
{
    long long deadline;
    struct mpop_args a;
    /* Redis parses the timeout after the other arguments here */
    if (!mpop_parse(ctx, 2, &a)) return;
    if (!arg_timeout(ctx, 1, &deadline)) return;
    int rc = mpop_try(ctx, &a);
    if (rc != 0) return;
    if (!ctx_may_block(ctx)) {
        reply_null_array(ctx->r);
        return;
    }
    ctx_block(ctx, a.first_key, a.nkeys, OBJ_LIST, deadline);
}
