/*
 * pubsub.c - SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their UNSUBSCRIBE
 * forms, PUBLISH, SPUBLISH, PUBSUB introspection, and the delivery of
 * keyspace notifications (see pubsub.h for the design).
 */
#include "server/pubsub.h"
#include "server/server.h"
#include "engine/dict.h"
#include "engine/lode.h"
#include "engine/notify.h"
#include "engine/util.h"

#include <stdio.h>
#include <string.h>

/* Subscription kinds: the three name spaces. */
enum { K_CHAN = 0, K_PAT, K_SHARD, K_N };

struct sub;

/* One channel, pattern or shard channel with at least one subscriber. */
struct chan {
    struct dnode node; /* in tables[kind] */
    uint64_t hash;
    struct sub **subs; /* owned array: nsubs of cap */
    int nsubs, cap;
    int kind;
    int pat_pos; /* K_PAT: index in patterns[] */
    size_t len;
    char name[]; /* len bytes, NUL-terminated */
};

/* One client's subscription to one chan. */
struct sub {
    struct client *c;
    struct chan *ch;
    int cpos; /* index in ch->subs */
    int lpos; /* index in the client's list */
};

/* A client's subscriptions, per kind (owned by this module). */
struct pubsub_state {
    struct sub **list[K_N];
    int n[K_N], cap[K_N];
};

static const char *const sub_names[K_N] = {"subscribe", "psubscribe", "ssubscribe"};
static const char *const unsub_names[K_N] = {"unsubscribe", "punsubscribe", "sunsubscribe"};

static struct dict tables[K_N];
static struct chan **patterns; /* every pattern with subscribers, for PUBLISH */
static int npatterns, cappatterns;

static uint64_t chan_hash_node(const struct dnode *n)
{
    return ((const struct chan *)n)->hash;
}

static bool chan_match(const struct dnode *n, const void *key, size_t len)
{
    const struct chan *ch = (const struct chan *)n;
    return ch->len == len && memcmp(ch->name, key, len) == 0;
}

static const struct dict_type chan_type = {chan_hash_node, chan_match};

static void grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap) return;
    int ncap = *cap ? *cap * 2 : 4;
    while (ncap < need) ncap *= 2;
    *arr = lode_realloc(*arr, elem * (size_t)ncap);
    *cap = ncap;
}

/* ---- engine hook: keyspace notifications ---- */

static void on_notify(struct engine *eng, int type, const char *event, struct db *db,
                      const char *key, size_t klen)
{
    (void)type;
    if (!dict_size(&tables[K_CHAN]) && !npatterns) return; /* nobody can hear it */
    struct buf ch = BUF_INIT;
    size_t elen = strlen(event);
    if (eng->notify_flags & NOTIFY_KEYSPACE) {
        buf_printf(&ch, "__keyspace@%d__:", db->id);
        buf_append(&ch, key, klen);
        pubsub_publish(ch.ptr, ch.len, event, elen);
    }
    if (eng->notify_flags & NOTIFY_KEYEVENT) {
        ch.len = 0;
        buf_printf(&ch, "__keyevent@%d__:%s", db->id, event);
        pubsub_publish(ch.ptr, ch.len, key, klen);
    }
    buf_release(&ch);
}

void pubsub_init(void)
{
    for (int k = 0; k < K_N; k++) dict_init(&tables[k], &chan_type);
    srv.eng.on_notify = on_notify;
}

/* ---- subscription bookkeeping ---- */

static struct pubsub_state *state_of(struct client *c)
{
    if (!c->ps) c->ps = lode_calloc(sizeof(*c->ps));
    return c->ps;
}

bool pubsub_subscribed(const struct client *c)
{
    const struct pubsub_state *ps = c->ps;
    return ps && (ps->n[K_CHAN] || ps->n[K_PAT] || ps->n[K_SHARD]);
}

void pubsub_counts(const struct client *c, long long *sub, long long *psub, long long *ssub)
{
    const struct pubsub_state *ps = c->ps;
    *sub = ps ? ps->n[K_CHAN] : 0;
    *psub = ps ? ps->n[K_PAT] : 0;
    *ssub = ps ? ps->n[K_SHARD] : 0;
}

void pubsub_stats(long long *channels, long long *patterns, long long *shard_channels)
{
    *channels = (long long)dict_size(&tables[K_CHAN]);
    *patterns = (long long)dict_size(&tables[K_PAT]);
    *shard_channels = (long long)dict_size(&tables[K_SHARD]);
}

/* The count a (un)subscribe reply shows: channels and patterns together,
 * shard channels on their own (as Redis 7.0). */
static long long reply_count(const struct client *c, int kind)
{
    const struct pubsub_state *ps = c->ps;
    if (!ps) return 0;
    return kind == K_SHARD ? ps->n[K_SHARD] : ps->n[K_CHAN] + ps->n[K_PAT];
}

static struct chan *chan_find(int kind, const char *name, size_t len)
{
    return (struct chan *)dict_find(&tables[kind], name, len, util_hash(name, len));
}

/* The subscription of c to ch, NULL when none: walks the shorter list. */
static struct sub *sub_find(struct client *c, struct chan *ch)
{
    struct pubsub_state *ps = c->ps;
    if (!ps) return NULL;
    if (ps->n[ch->kind] < ch->nsubs) {
        for (int i = 0; i < ps->n[ch->kind]; i++)
            if (ps->list[ch->kind][i]->ch == ch) return ps->list[ch->kind][i];
    } else {
        for (int i = 0; i < ch->nsubs; i++)
            if (ch->subs[i]->c == c) return ch->subs[i];
    }
    return NULL;
}

/* Subscribes c; returns false when it already was. */
static bool subscribe(struct client *c, int kind, const char *name, size_t len)
{
    uint64_t h = util_hash(name, len);
    struct chan *ch = (struct chan *)dict_find(&tables[kind], name, len, h);
    if (ch && sub_find(c, ch)) return false;
    if (!ch) {
        ch = lode_calloc(sizeof(*ch) + len + 1);
        ch->hash = h;
        ch->kind = kind;
        ch->len = len;
        memcpy(ch->name, name, len);
        dict_add(&tables[kind], &ch->node, h);
        if (kind == K_PAT) {
            grow((void **)&patterns, &cappatterns, npatterns + 1, sizeof(*patterns));
            ch->pat_pos = npatterns;
            patterns[npatterns++] = ch;
        }
    }
    struct pubsub_state *ps = state_of(c);
    struct sub *s = lode_malloc(sizeof(*s));
    s->c = c;
    s->ch = ch;
    grow((void **)&ch->subs, &ch->cap, ch->nsubs + 1, sizeof(*ch->subs));
    s->cpos = ch->nsubs;
    ch->subs[ch->nsubs++] = s;
    grow((void **)&ps->list[kind], &ps->cap[kind], ps->n[kind] + 1, sizeof(*ps->list[kind]));
    s->lpos = ps->n[kind];
    ps->list[kind][ps->n[kind]++] = s;
    return true;
}

/* Removes subscription s from both lists and frees it; a chan left
 * without subscribers goes too. */
static void sub_remove(struct sub *s)
{
    struct chan *ch = s->ch;
    struct pubsub_state *ps = s->c->ps;
    int kind = ch->kind;
    /* swap-remove: delivery order within a channel is not defined */
    struct sub *last = ch->subs[--ch->nsubs];
    ch->subs[s->cpos] = last;
    last->cpos = s->cpos;
    last = ps->list[kind][--ps->n[kind]];
    ps->list[kind][s->lpos] = last;
    last->lpos = s->lpos;
    lode_free(s);
    if (ch->nsubs) return;
    dict_unlink(&tables[kind], ch->name, ch->len, ch->hash);
    if (kind == K_PAT) {
        struct chan *lastp = patterns[--npatterns];
        patterns[ch->pat_pos] = lastp;
        lastp->pat_pos = ch->pat_pos;
    }
    lode_free(ch->subs);
    lode_free(ch);
}

static void reply_sub_event(struct reply *r, const char *what, const char *name, size_t len,
                            long long count)
{
    reply_push(r, 3);
    reply_cstr(r, what);
    if (name)
        reply_bulk(r, name, len);
    else
        reply_null(r);
    reply_int(r, count);
}

void pubsub_client_reset(struct client *c)
{
    struct pubsub_state *ps = c->ps;
    if (!ps) return;
    for (int k = 0; k < K_N; k++) {
        while (ps->n[k]) sub_remove(ps->list[k][ps->n[k] - 1]);
        lode_free(ps->list[k]);
    }
    lode_free(ps);
    c->ps = NULL;
}

/* ---- subscribed mode ---- */

bool pubsub_refuses(const struct client *c, const struct cmd_def *cmd, char *msg, size_t n)
{
    if (c->sess.resp != 2 || !pubsub_subscribed(c)) return false;
    switch (cmd->id) {
    case CMD_PING:
    case CMD_SUBSCRIBE:
    case CMD_SSUBSCRIBE:
    case CMD_UNSUBSCRIBE:
    case CMD_SUNSUBSCRIBE:
    case CMD_PSUBSCRIBE:
    case CMD_PUNSUBSCRIBE:
    case CMD_QUIT:
    case CMD_RESET: return false;
    default: break;
    }
    snprintf(msg, n,
             "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
             "RESET are allowed in this context",
             cmd->fullname);
    return true;
}

/* ---- publishing ---- */

static void put_bulk(struct buf *b, const char *p, size_t n)
{
    buf_printf(b, "$%zu\r\n", n);
    buf_append(b, p, n);
    buf_append(b, "\r\n", 2);
}

/* Appends the encoded message m (RESP2 form) to c's output. */
static void deliver(struct client *c, const struct buf *m)
{
    if (c->flags & CL_CLOSE_ASAP) return; /* being cut off: its output is gone */
    size_t at = c->out.len;
    buf_append(&c->out, m->ptr, m->len);
    if (c->sess.resp == 3) c->out.ptr[at] = '>'; /* the same message as a push */
    client_schedule_write(c);
    client_check_output_limits(c);
}

static long long publish_kind(int kind, const char *ch, size_t chlen, const char *msg, size_t mlen)
{
    long long receivers = 0;
    struct buf m = BUF_INIT;
    struct chan *c = chan_find(kind, ch, chlen);
    if (c) {
        buf_append(&m, kind == K_SHARD ? "*3\r\n$8\r\nsmessage\r\n" : "*3\r\n$7\r\nmessage\r\n",
                   kind == K_SHARD ? 18 : 17);
        put_bulk(&m, ch, chlen);
        put_bulk(&m, msg, mlen);
        /* a subscriber cut off on the way stays in the list until freed */
        for (int i = 0; i < c->nsubs; i++) deliver(c->subs[i]->c, &m);
        receivers += c->nsubs;
    }
    if (kind == K_CHAN) {
        for (int p = 0; p < npatterns; p++) {
            struct chan *pat = patterns[p];
            if (!util_glob_match(pat->name, pat->len, ch, chlen, false)) continue;
            m.len = 0;
            buf_append(&m, "*4\r\n$8\r\npmessage\r\n", 18);
            put_bulk(&m, pat->name, pat->len);
            put_bulk(&m, ch, chlen);
            put_bulk(&m, msg, mlen);
            for (int i = 0; i < pat->nsubs; i++) deliver(pat->subs[i]->c, &m);
            receivers += pat->nsubs;
        }
    }
    buf_release(&m);
    return receivers;
}

long long pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t mlen)
{
    return publish_kind(K_CHAN, ch, chlen, msg, mlen);
}

/* ---- commands ---- */

static void subscribe_cmd(struct cmd_ctx *ctx, int kind)
{
    struct client *c = ctx->client;
    for (int j = 1; j < ctx->argc; j++) {
        subscribe(c, kind, ctx->argv[j].ptr, ctx->argv[j].len);
        reply_sub_event(ctx->r, sub_names[kind], ctx->argv[j].ptr, ctx->argv[j].len,
                        reply_count(c, kind));
    }
}

static void unsubscribe_cmd(struct cmd_ctx *ctx, int kind)
{
    struct client *c = ctx->client;
    struct reply *r = ctx->r;
    if (ctx->argc == 1) {
        struct pubsub_state *ps = c->ps;
        if (!ps || !ps->n[kind]) {
            reply_sub_event(r, unsub_names[kind], NULL, 0, reply_count(c, kind));
            return;
        }
        /* newest first */
        while (ps->n[kind]) {
            struct sub *s = ps->list[kind][ps->n[kind] - 1];
            struct chan *ch = s->ch;
            /* the reply needs the name, which dies with the last subscriber */
            reply_push(r, 3);
            reply_cstr(r, unsub_names[kind]);
            reply_bulk(r, ch->name, ch->len);
            sub_remove(s);
            reply_int(r, reply_count(c, kind));
        }
        return;
    }
    for (int j = 1; j < ctx->argc; j++) {
        struct chan *ch = chan_find(kind, ctx->argv[j].ptr, ctx->argv[j].len);
        struct sub *s = ch ? sub_find(c, ch) : NULL;
        if (s) sub_remove(s);
        reply_sub_event(r, unsub_names[kind], ctx->argv[j].ptr, ctx->argv[j].len,
                        reply_count(c, kind));
    }
}

void cmd_subscribe(struct cmd_ctx *ctx)
{
    subscribe_cmd(ctx, K_CHAN);
}

void cmd_psubscribe(struct cmd_ctx *ctx)
{
    subscribe_cmd(ctx, K_PAT);
}

void cmd_ssubscribe(struct cmd_ctx *ctx)
{
    subscribe_cmd(ctx, K_SHARD);
}

void cmd_unsubscribe(struct cmd_ctx *ctx)
{
    unsubscribe_cmd(ctx, K_CHAN);
}

void cmd_punsubscribe(struct cmd_ctx *ctx)
{
    unsubscribe_cmd(ctx, K_PAT);
}

void cmd_sunsubscribe(struct cmd_ctx *ctx)
{
    unsubscribe_cmd(ctx, K_SHARD);
}

void cmd_publish(struct cmd_ctx *ctx)
{
    reply_int(ctx->r, publish_kind(K_CHAN, ctx->argv[1].ptr, ctx->argv[1].len, ctx->argv[2].ptr,
                                   ctx->argv[2].len));
}

void cmd_spublish(struct cmd_ctx *ctx)
{
    reply_int(ctx->r, publish_kind(K_SHARD, ctx->argv[1].ptr, ctx->argv[1].len, ctx->argv[2].ptr,
                                   ctx->argv[2].len));
}

/* PUBSUB CHANNELS / SHARDCHANNELS [pattern] */
static void channels_cmd(struct cmd_ctx *ctx, int kind)
{
    if (ctx->argc > 3) {
        reply_errorf(ctx->r,
                     "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try PUBSUB "
                     "HELP.",
                     (int)ctx->argv[1].len, ctx->argv[1].ptr);
        return;
    }
    const struct slice *pat = ctx->argc == 3 ? &ctx->argv[2] : NULL;
    size_t tok = reply_defer(ctx->r);
    long long n = 0;
    struct dict_iter it;
    dict_iter_init(&it, &tables[kind]);
    for (struct dnode *d; (d = dict_iter_next(&it));) {
        struct chan *ch = (struct chan *)d;
        if (pat && !util_glob_match(pat->ptr, pat->len, ch->name, ch->len, false)) continue;
        reply_bulk(ctx->r, ch->name, ch->len);
        n++;
    }
    dict_iter_release(&it);
    reply_defer_array(ctx->r, tok, n);
}

/* PUBSUB NUMSUB / SHARDNUMSUB [channel ...]: a flat array in both
 * protocols, as Redis 7.0 replies. */
static void numsub_cmd(struct cmd_ctx *ctx, int kind)
{
    reply_array(ctx->r, (long long)(ctx->argc - 2) * 2);
    for (int j = 2; j < ctx->argc; j++) {
        struct chan *ch = chan_find(kind, ctx->argv[j].ptr, ctx->argv[j].len);
        reply_bulk(ctx->r, ctx->argv[j].ptr, ctx->argv[j].len);
        reply_int(ctx->r, ch ? ch->nsubs : 0);
    }
}

void cmd_pubsub_channels(struct cmd_ctx *ctx)
{
    channels_cmd(ctx, K_CHAN);
}

void cmd_pubsub_shardchannels(struct cmd_ctx *ctx)
{
    channels_cmd(ctx, K_SHARD);
}

void cmd_pubsub_numsub(struct cmd_ctx *ctx)
{
    numsub_cmd(ctx, K_CHAN);
}

void cmd_pubsub_shardnumsub(struct cmd_ctx *ctx)
{
    numsub_cmd(ctx, K_SHARD);
}

void cmd_pubsub_numpat(struct cmd_ctx *ctx)
{
    reply_int(ctx->r, (long long)dict_size(&tables[K_PAT]));
}

void cmd_pubsub_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: "
        "'*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        NULL,
    };
    reply_help(ctx->r, "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}
