/*
 * t_sort.c - SORT and SORT_RO over lists, sets and sorted sets, with Redis
 * 7.0's options, replies and error texts: BY pattern (a pattern without
 * '*' such as "nosort" skips sorting), GET pattern ("#" is the element,
 * "key*->field" a hash field), LIMIT offset count, ASC/DESC, ALPHA, and
 * STORE destination (SORT only), which writes the result as a list.
 *
 * The source is read only through the generic walker of its type
 * (obj_get_ops(type)->each), so this module knows no encoding. Pattern
 * lookups read strings directly and hash fields through hash_get
 * (engine/t_hash.h).
 *
 * Ordering. Numeric sorting compares the elements (or the BY values) as
 * doubles, ties broken by the element bytes; ALPHA compares bytes (Redis
 * uses strcoll, the same order in the C locales its servers run in; like
 * Redis a reply-only sort compares up to a NUL byte, a STORE compares whole
 * values); a missing BY value sorts as 0 (numeric) or before every value
 * (ALPHA). DESC reverses the comparison. Where Redis leaves the order of
 * ties undefined (ALPHA with BY), lists keep their own order and sets and
 * sorted sets fall back to the element bytes, so our result is always a
 * function of the data. Without sorting, a list or sorted set keeps its
 * order (reversed by DESC); a set is walked in its own order, except that
 * SORT ... STORE of a set sorts it ALPHA, as Redis does for replication.
 *
 * Logging. SORT with STORE is declared `rewrite`: it emits DEL destination
 * (when the key existed) and RPUSH destination <the stored elements>, so
 * replay never depends on set iteration order or on the other keys the
 * patterns read. The list is created by running the table's RPUSH, so this
 * module needs no list API. SORT without STORE and SORT_RO are reads.
 */
#include "engine/notify.h"
#include "engine/cmd.h"
#include "engine/lode.h"
#include "engine/t_hash.h"
#include "engine/util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ERR_SORT_DOUBLE "ERR One or more scores can't be converted into double"

struct sort_item {
    size_t off, len;       /* element bytes in the element arena */
    size_t cmp_off, cmp_n; /* ALPHA BY value in the value arena */
    bool has_cmp;          /* the BY value exists (ALPHA) */
    double score;          /* numeric sort key (0 when the BY value is missing) */
    size_t pos;            /* walk position: ties in lists keep list order */
};

struct sort_spec {
    bool desc, alpha, by, store, ties_by_pos;
    const char *elems, *vals; /* arenas, fixed once collection is done */
};

/* ---- pattern lookups ---- */

/* The value that pattern names for element e, as Redis resolves it: "#" is
 * e itself; otherwise the first '*' is replaced by e, and "->field" after
 * it (with a non-empty field) reads that field of a hash, else the key must
 * hold a string. Patterns are scanned as C strings are (up to a NUL), like
 * Redis does. Returns false when there is no such value. *v is borrowed
 * until the next lookup (tmp holds the digits of an integer). */
static bool pattern_value(struct cmd_ctx *ctx, const struct slice *pat, const char *e, size_t elen,
                          struct buf *key, char *tmp, const char **v, size_t *vlen)
{
    const char *p = pat->ptr, *end = pat->ptr + pat->len;
    if (pat->len >= 1 && p[0] == '#' && (pat->len == 1 || p[1] == '\0')) {
        *v = e;
        *vlen = elen;
        return true;
    }
    const char *star = memchr(p, '*', strnlen(p, pat->len));
    if (!star) return false;
    const char *post = star + 1;
    const char *cstr_end = post + strnlen(post, (size_t)(end - post));
    const char *post_end = end, *field = NULL;
    for (const char *a = post; a + 1 < cstr_end; a++) {
        if (a[0] == '-' && a[1] == '>') {
            if (a + 2 < end && a[2] != '\0') {
                field = a + 2;
                post_end = a;
            }
            break;
        }
    }
    key->len = 0;
    buf_append(key, p, (size_t)(star - p));
    buf_append(key, e, elen);
    buf_append(key, post, (size_t)(post_end - post));
    struct kv *kv = db_lookup(ctx->eng, ctx->db, key->ptr, key->len, 0);
    if (!kv) return false;
    if (field) {
        if (kv->type != OBJ_HASH) return false;
        return hash_get(kv, field, (size_t)(end - field), tmp, v, vlen);
    }
    if (kv->type != OBJ_STRING) return false;
    *v = kv_str(kv, tmp, vlen);
    return true;
}

/* Parses a sort weight as Redis does (strtod over the C string: leading
 * space allowed, "" is 0, nothing may follow, no overflow, not NaN). */
static bool parse_weight(const char *s, size_t n, double *out)
{
    char small[64];
    char *c = n < sizeof(small) ? small : lode_malloc(n + 1);
    memcpy(c, s, n);
    c[n] = '\0';
    char *eptr;
    errno = 0;
    double d = strtod(c, &eptr);
    bool ok = *eptr == '\0' && errno != ERANGE && !isnan(d);
    if (c != small) lode_free(c);
    *out = d;
    return ok;
}

/* ---- comparison ---- */

static const struct sort_spec *cur_spec; /* qsort has no context argument */

/* Byte order of two values; as C strings (up to a NUL) when cstr. */
static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn, bool cstr)
{
    if (cstr) {
        an = strnlen(a, an);
        bn = strnlen(b, bn);
    }
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c) return c;
    return an < bn ? -1 : an > bn;
}

static int item_cmp(const void *x, const void *y)
{
    const struct sort_item *a = x, *b = y;
    const struct sort_spec *s = cur_spec;
    const char *ea = s->elems + a->off, *eb = s->elems + b->off;
    int c;
    if (!s->alpha) {
        if (a->score != b->score)
            c = a->score < b->score ? -1 : 1;
        else
            c = bytes_cmp(ea, a->len, eb, b->len, false);
    } else if (s->by) {
        if (!a->has_cmp || !b->has_cmp)
            c = a->has_cmp == b->has_cmp ? 0 : a->has_cmp ? 1 : -1;
        else
            c = bytes_cmp(s->vals + a->cmp_off, a->cmp_n, s->vals + b->cmp_off, b->cmp_n,
                          !s->store);
    } else {
        c = bytes_cmp(ea, a->len, eb, b->len, !s->store);
    }
    if (s->desc) c = -c;
    if (c) return c;
    /* ties Redis leaves to its sort routine: keep them deterministic */
    if (!s->ties_by_pos) {
        c = bytes_cmp(ea, a->len, eb, b->len, false);
        if (c) return c;
    }
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* ---- collection ---- */

struct collect {
    struct buf *arena;
    struct sort_item *items;
    size_t n, cap;
};

static int collect_one(void *priv, const char *a, size_t alen, const char *b, size_t blen)
{
    (void)b, (void)blen;
    struct collect *c = priv;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->items = lode_realloc(c->items, c->cap * sizeof(*c->items));
    }
    c->items[c->n] = (struct sort_item){.off = c->arena->len, .len = alen, .pos = c->n};
    buf_append(c->arena, a, alen);
    c->n++;
    return 0;
}

/* ---- options ---- */

struct sort_opts {
    bool desc, alpha, dontsort;
    long long limit_start, limit_count;
    int by;    /* argv index of the BY pattern, 0 none */
    int store; /* argv index of the destination, 0 none */
    int *gets; /* argv indexes of the GET patterns */
    int ngets;
};

/* Parses the options from argv[2]; replies and returns false on error. */
static bool parse_opts(struct cmd_ctx *ctx, bool readonly, struct sort_opts *o)
{
    for (int j = 2; j < ctx->argc; j++) {
        int left = ctx->argc - j - 1;
        if (arg_is(ctx, j, "asc")) {
            o->desc = false;
        } else if (arg_is(ctx, j, "desc")) {
            o->desc = true;
        } else if (arg_is(ctx, j, "alpha")) {
            o->alpha = true;
        } else if (arg_is(ctx, j, "limit") && left >= 2) {
            if (!arg_ll(ctx, j + 1, &o->limit_start, NULL) ||
                !arg_ll(ctx, j + 2, &o->limit_count, NULL))
                return false;
            j += 2;
        } else if (!readonly && arg_is(ctx, j, "store") && left >= 1) {
            o->store = ++j;
        } else if (arg_is(ctx, j, "by") && left >= 1) {
            o->by = ++j;
            /* a pattern without '*' (as a C string) means: do not sort */
            const struct slice *p = &ctx->argv[j];
            if (!memchr(p->ptr, '*', strnlen(p->ptr, p->len))) o->dontsort = true;
        } else if (arg_is(ctx, j, "get") && left >= 1) {
            o->gets[o->ngets++] = ++j;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

/* ---- output ---- */

/* The [start, end] window of n sorted items from LIMIT, as Redis computes
 * it (start + count - 1 without overflow: a huge count reaches the end);
 * end < start means none. */
static void limit_window(const struct sort_opts *o, long long n, long long *start, long long *end)
{
    __extension__ typedef __int128 i128;
    long long s = o->limit_start < 0 ? 0 : o->limit_start;
    i128 e = o->limit_count < 0 ? n - 1 : (i128)s + o->limit_count - 1;
    if (e >= n) e = n - 1;
    if (s >= n) {
        s = n - 1;
        e = n - 2;
    }
    *start = s;
    *end = (long long)e;
}

/* SORT ... STORE: replaces the destination by a list of the out values
 * (none: deletes it) and replies the count. */
static void store_result(struct cmd_ctx *ctx, int dst, struct slice *out, long long nout)
{
    const struct slice *key = &ctx->argv[dst];
    const struct cmd_def *push = cmd_lookup("rpush", 5);
    bool existed = ctx_lookup_write(ctx, dst) != NULL;
    if (existed) {
        db_delete(ctx->eng, ctx->db, key->ptr, key->len);
        struct slice del[2] = {{"DEL", 3}, *key};
        ctx_emit(ctx, 2, del);
        ctx_dirty(ctx, 1);
    }
    if (nout > 0) {
        out[0] = (struct slice){"RPUSH", 5};
        out[1] = *key;
        struct buf scratch = BUF_INIT;
        struct reply r;
        reply_init(&r, &scratch, 2);
        struct cmd_ctx sub = {.eng = ctx->eng,
                              .sess = ctx->sess,
                              .db = ctx->db,
                              .argc = (int)nout + 2,
                              .argv = out,
                              .r = &r,
                              .cmd = push,
                              .client = ctx->client};
        /* the nested RPUSH is not an event of its own: SORT notifies
         * "sortstore" */
        int nflags = ctx->eng->notify_flags;
        ctx->eng->notify_flags &= ~NOTIFY_LIST;
        push->fn(&sub);
        ctx->eng->notify_flags = nflags;
        NOTIFY_ARG(ctx, NOTIFY_LIST, "sortstore", dst);
        /* the nested RPUSH is logged as part of this command */
        if (!sub.emitted) ctx_emit(ctx, sub.argc, out);
        ctx->dirty += sub.dirty > 0 ? sub.dirty : 1;
        buf_release(&scratch);
    } else if (existed) {
        NOTIFY_ARG(ctx, NOTIFY_GENERIC, "del", dst);
    }
    reply_int(ctx->r, nout);
}

static void sort_generic(struct cmd_ctx *ctx, bool readonly)
{
    struct sort_opts o = {.limit_count = -1};
    o.gets = lode_malloc(sizeof(int) * (size_t)ctx->argc);
    struct buf elems = BUF_INIT, vals = BUF_INIT, keybuf = BUF_INIT;
    struct collect col = {.arena = &elems};
    struct slice *out = NULL;
    buf_reserve(&elems, 1); /* so that offsets apply to a real pointer */
    buf_reserve(&vals, 1);
    if (!parse_opts(ctx, readonly, &o)) goto done;

    struct kv *kv = ctx_lookup_read(ctx, 1);
    if (kv && kv->type != OBJ_LIST && kv->type != OBJ_SET && kv->type != OBJ_ZSET) {
        reply_error(ctx->r, ERR_WRONGTYPE);
        goto done;
    }
    bool by = o.by != 0;
    if (o.dontsort && kv && kv->type == OBJ_SET && o.store) {
        /* a set has no order of its own: what is stored (and replicated)
         * must not depend on the hash table's layout */
        o.dontsort = false;
        o.alpha = true;
        by = false;
    }
    if (kv) {
        const struct obj_ops *ops = obj_get_ops(kv->type);
        lode_assert(ops && ops->each);
        ops->each(kv->v.ptr, kv->enc, collect_one, &col);
    }
    long long n = (long long)col.n;
    char tmp[UTIL_LLSTR_SIZE];

    if (o.dontsort) {
        /* lists and sorted sets keep their order, reversed by DESC (a set
         * keeps its walk order either way, as in Redis) */
        if (o.desc && kv && kv->type != OBJ_SET)
            for (size_t i = 0, j = col.n; i + 1 < j--; i++) {
                struct sort_item t = col.items[i];
                col.items[i] = col.items[j];
                col.items[j] = t;
            }
    } else {
        for (size_t i = 0; i < col.n; i++) {
            struct sort_item *it = &col.items[i];
            const char *v = elems.ptr + it->off;
            size_t vlen = it->len;
            if (by && !pattern_value(ctx, &ctx->argv[o.by], elems.ptr + it->off, it->len, &keybuf,
                                     tmp, &v, &vlen))
                continue; /* missing: score 0, no ALPHA value */
            if (o.alpha) {
                if (by) {
                    it->has_cmp = true;
                    it->cmp_off = vals.len;
                    it->cmp_n = vlen;
                    buf_append(&vals, v, vlen);
                }
            } else if (!parse_weight(v, vlen, &it->score)) {
                reply_error(ctx->r, ERR_SORT_DOUBLE);
                goto done;
            }
        }
        struct sort_spec spec = {.desc = o.desc,
                                 .alpha = o.alpha,
                                 .by = by,
                                 .store = o.store != 0,
                                 .ties_by_pos = kv && kv->type == OBJ_LIST,
                                 .elems = elems.ptr,
                                 .vals = vals.ptr};
        cur_spec = &spec;
        if (col.n > 1) qsort(col.items, col.n, sizeof(*col.items), item_cmp);
        cur_spec = NULL;
    }

    long long start, end;
    limit_window(&o, n, &start, &end);
    long long rows = end >= start ? end - start + 1 : 0;
    long long nout = o.ngets ? rows * o.ngets : rows;
    if (!o.store) {
        reply_array(ctx->r, nout);
        for (long long j = start; j <= end; j++) {
            const struct sort_item *it = &col.items[j];
            const char *e = elems.ptr + it->off;
            if (!o.ngets) reply_bulk(ctx->r, e, it->len);
            for (int g = 0; g < o.ngets; g++) {
                const char *v;
                size_t vlen;
                if (pattern_value(ctx, &ctx->argv[o.gets[g]], e, it->len, &keybuf, tmp, &v, &vlen))
                    reply_bulk(ctx->r, v, vlen);
                else
                    reply_null(ctx->r);
            }
        }
        goto done;
    }
    /* STORE: copy every value out first (the destination may be the source,
     * or a key a pattern reads) */
    struct buf stored = BUF_INIT;
    buf_reserve(&stored, 1);
    size_t *offs = lode_malloc(sizeof(size_t) * (size_t)(nout + 1) * 2);
    long long k = 0;
    for (long long j = start; j <= end; j++) {
        const struct sort_item *it = &col.items[j];
        const char *e = elems.ptr + it->off;
        for (int g = 0; g < (o.ngets ? o.ngets : 1); g++) {
            const char *v = e;
            size_t vlen = it->len;
            if (o.ngets &&
                !pattern_value(ctx, &ctx->argv[o.gets[g]], e, it->len, &keybuf, tmp, &v, &vlen))
                vlen = 0; /* a missing value is stored as "" */
            offs[2 * k] = stored.len;
            offs[2 * k + 1] = vlen;
            buf_append(&stored, v, vlen);
            k++;
        }
    }
    out = lode_malloc(sizeof(struct slice) * (size_t)(nout + 2));
    for (long long i = 0; i < nout; i++)
        out[i + 2] = (struct slice){stored.ptr + offs[2 * i], offs[2 * i + 1]};
    store_result(ctx, o.store, out, nout);
    lode_free(offs);
    buf_release(&stored);
done:
    lode_free(out);
    lode_free(col.items);
    buf_release(&keybuf);
    buf_release(&vals);
    buf_release(&elems);
    lode_free(o.gets);
}

void cmd_sort(struct cmd_ctx *ctx)
{
    sort_generic(ctx, false);
}

void cmd_sort_ro(struct cmd_ctx *ctx)
{
    sort_generic(ctx, true);
}
