/*
 * multi.c - transactions and WATCH (see multi.h).
 *
 * Watched keys: one dict per db index of `struct wkey` (db, key), each
 * holding the list of its watchers; every client keeps the list of its own
 * watchers. A watcher records what its key was when WATCH ran (live,
 * present but expired, or absent), which is all the hooks need to decide
 * whether a change is a change:
 * - on_key_changed: a watcher whose key was live or absent is flagged. One
 *   whose key was already expired is flagged only when the key now holds a
 *   live value; the expired key's own deletion (lazy or active expiry) is
 *   not a change, and the watcher then records the key as absent.
 * - on_db_reset: FLUSHDB/FLUSHALL call it before emptying a db, SWAPDB
 *   after swapping (for both dbs). A watcher not yet flagged has an
 *   unchanged key, so what it recorded is the key's state before the
 *   reset; the db's current content is the state after a swap (and, before
 *   a flush, the same as before). Redis 7.0's rule then decides: a change
 *   in presence or liveness flags the client, an expired key that stays
 *   expired or vanishes does not.
 * Watched dbs are by index: SWAPDB moves contents, not watchers, as in
 * Redis. A flagged client keeps its watchers until EXEC, DISCARD, UNWATCH
 * or RESET; the hooks skip it.
 */
#include "server/multi.h"
#include "engine/lode.h"
#include "engine/util.h"
#include "server/server.h"

#include <string.h>

/* Queued argument bytes a transaction may hold: half the WAL's largest
 * record payload (WAL_MAX_PAYLOAD, 1 GiB, wal/record.h). */
#define MULTI_MAX_BYTES (512ULL * 1024 * 1024)

/* One queued command: argv copies in one allocation (slices, then bytes). */
struct mcmd {
    const struct cmd_def *cmd;
    int argc;
    struct slice *argv; /* owned */
};

struct watch;

struct multi_state {
    bool in_multi;
    bool dirty_exec;   /* a command was refused while queuing */
    bool dirty_cas;    /* a watched key changed */
    struct mcmd *cmds; /* owned: n of cap */
    int n, cap;
    bool writes;         /* a queued command is a write */
    bool may_replicate;  /* ... or may replicate (PUBLISH, EVAL, ...) */
    size_t mem;          /* bytes of queued arguments */
    struct watch *watch; /* this client's watchers, through cnext */
};

struct wkey {
    struct dnode node; /* in watched[db] */
    struct watch *head;
    int db;
    uint32_t klen;
    char key[];
};

struct watch {
    struct wkey *wk;
    struct client *c;
    struct watch *kprev, *knext; /* watchers of the same key */
    struct watch *cnext;         /* the same client's watchers */
    bool live;                   /* the key was live when WATCH ran */
    bool expired;                /* present but expired then (or since) */
};

static struct dict *watched; /* one per db, NULL until multi_init */
static size_t nwatched;      /* wkeys in all dicts */
static engine_key_hook prev_key_hook;
static void (*prev_reset_hook)(struct engine *eng, struct db *db);

static uint64_t wkey_hash(const struct dnode *n)
{
    const struct wkey *k = (const struct wkey *)n;
    return db_hash(k->key, k->klen);
}

static bool wkey_match(const struct dnode *n, const void *key, size_t len)
{
    const struct wkey *k = (const struct wkey *)n;
    return k->klen == len && memcmp(k->key, key, len) == 0;
}

static const struct dict_type wkey_type = {wkey_hash, wkey_match};

static struct client *client_of(struct cmd_ctx *ctx)
{
    return ctx->client;
}

static struct multi_state *state_of(struct client *c)
{
    if (!c->multi) c->multi = lode_calloc(sizeof(*c->multi));
    return c->multi;
}

/* Frees the state once it holds neither a transaction nor watchers. */
static void maybe_free_state(struct client *c)
{
    struct multi_state *m = c->multi;
    if (!m || m->in_multi || m->watch || m->dirty_cas) return;
    lode_free(m->cmds);
    lode_free(m);
    c->multi = NULL;
}

/* ---- the queue ---- */

static void free_queue(struct multi_state *m)
{
    for (int i = 0; i < m->n; i++) lode_free(m->cmds[i].argv);
    lode_free(m->cmds);
    m->cmds = NULL;
    m->n = m->cap = 0;
    m->mem = 0;
    m->writes = false;
    m->may_replicate = false;
}

bool multi_queue(struct client *c, const struct cmd_def *cmd, int argc, const struct slice *argv)
{
    struct multi_state *m = c->multi;
    lode_assert(m && m->in_multi);
    /* an aborted transaction will not run: keep no memory for it */
    if (m->dirty_exec || m->dirty_cas) return true;
    size_t bytes = 0;
    for (int i = 0; i < argc; i++) bytes += argv[i].len;
    /* the transaction's effects must fit one WAL record; they are about the
     * size of the queued arguments (commands are logged as received or in
     * a shorter rewritten form), so the queue is bounded with a margin for
     * the RESP framing and the DELs of expired keys */
    if (m->mem + bytes > MULTI_MAX_BYTES) return false;
    struct slice *copy = lode_malloc(sizeof(*copy) * (size_t)argc + bytes);
    char *p = (char *)(copy + argc);
    for (int i = 0; i < argc; i++) {
        if (argv[i].len) memcpy(p, argv[i].ptr, argv[i].len);
        copy[i] = (struct slice){p, argv[i].len};
        p += argv[i].len;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 4;
        m->cmds = lode_realloc(m->cmds, sizeof(*m->cmds) * (size_t)m->cap);
    }
    m->cmds[m->n++] = (struct mcmd){cmd, argc, copy};
    m->mem += bytes;
    /* a script's declared flags count, as Redis 7.0 keeps each queued
     * call's computed flags */
    uint64_t flags = scripting_command_flags(cmd, argc, argv);
    if (flags & CMDF_WRITE) m->writes = true;
    if (flags & (CMDF_WRITE | CMDF_MAY_REPLICATE)) m->may_replicate = true;
    return true;
}

bool multi_active(const struct client *c)
{
    return c->multi && c->multi->in_multi;
}

bool multi_runs_now(const struct cmd_def *cmd)
{
    switch (cmd->id) {
    case CMD_EXEC:
    case CMD_DISCARD:
    case CMD_MULTI:
    case CMD_WATCH:
    case CMD_QUIT:
    case CMD_RESET: return true;
    default: return false;
    }
}

void multi_flag_error(struct client *c)
{
    if (multi_active(c)) c->multi->dirty_exec = true;
}

bool multi_has_writes(const struct client *c)
{
    return multi_active(c) && c->multi->writes;
}

bool multi_may_replicate(const struct client *c)
{
    return multi_active(c) && c->multi->may_replicate;
}

long long multi_queued(const struct client *c)
{
    return multi_active(c) ? c->multi->n : -1;
}

size_t multi_mem(const struct client *c)
{
    return c->multi ? c->multi->mem : 0;
}

bool multi_dirty(const struct client *c)
{
    return c->multi && c->multi->dirty_cas;
}

/* ---- watchers ---- */

static void unwatch_all(struct client *c)
{
    struct multi_state *m = c->multi;
    if (!m) return;
    for (struct watch *w = m->watch, *next; w; w = next) {
        next = w->cnext;
        struct wkey *k = w->wk;
        if (w->kprev)
            w->kprev->knext = w->knext;
        else
            k->head = w->knext;
        if (w->knext) w->knext->kprev = w->kprev;
        if (!k->head) {
            struct dnode *n =
                dict_unlink(&watched[k->db], k->key, k->klen, db_hash(k->key, k->klen));
            lode_assert(n == &k->node);
            lode_free(k);
            nwatched--;
        }
        lode_free(w);
    }
    m->watch = NULL;
    m->dirty_cas = false;
}

static void watch_key(struct client *c, int dbi, const char *key, size_t klen)
{
    struct multi_state *m = state_of(c);
    for (struct watch *w = m->watch; w; w = w->cnext)
        if (w->wk->db == dbi && w->wk->klen == klen && memcmp(w->wk->key, key, klen) == 0)
            return; /* already watched */
    uint64_t h = db_hash(key, klen);
    struct wkey *k = (struct wkey *)dict_find(&watched[dbi], key, klen, h);
    if (!k) {
        k = lode_malloc(sizeof(*k) + klen);
        k->head = NULL;
        k->db = dbi;
        k->klen = (uint32_t)klen;
        memcpy(k->key, key, klen);
        dict_add(&watched[dbi], &k->node, h);
        nwatched++;
    }
    struct watch *w = lode_calloc(sizeof(*w));
    w->wk = k;
    w->c = c;
    w->knext = k->head;
    if (k->head) k->head->kprev = w;
    k->head = w;
    w->cnext = m->watch;
    m->watch = w;
    /* what the key is now, without deleting it if expired (as Redis) */
    struct db *db = &srv.eng.dbs[dbi];
    struct kv *kv = db_find(db, key, klen);
    w->expired = kv && db_is_expired(&srv.eng, db, kv);
    w->live = kv && !w->expired;
}

static void flag_dirty(struct client *c)
{
    c->multi->dirty_cas = true;
}

static void on_key_changed(struct engine *eng, struct db *db, const char *key, size_t klen)
{
    if (prev_key_hook) prev_key_hook(eng, db, key, klen);
    if (!nwatched) return;
    struct wkey *k = (struct wkey *)dict_find(&watched[db->id], key, klen, db_hash(key, klen));
    if (!k) return;
    /* the hook runs before a deletion and after an insertion: a key that is
     * absent, or present but expired, is on its way out */
    struct kv *kv = db_find(db, key, klen);
    bool live = kv && !db_is_expired(eng, db, kv);
    for (struct watch *w = k->head; w; w = w->knext) {
        if (w->c->multi->dirty_cas) continue;
        if (w->expired && !live) {
            /* an expired key being deleted: logically no change */
            w->expired = false;
            continue;
        }
        flag_dirty(w->c);
    }
}

static void on_db_reset(struct engine *eng, struct db *db)
{
    if (prev_reset_hook) prev_reset_hook(eng, db);
    if (!nwatched || !dict_size(&watched[db->id])) return;
    struct dict_iter it;
    dict_iter_init(&it, &watched[db->id]);
    for (struct dnode *n; (n = dict_iter_next(&it));) {
        struct wkey *k = (struct wkey *)n;
        struct kv *kv = db_find(db, k->key, k->klen);
        bool now_present = kv != NULL;
        bool now_expired = kv && db_is_expired(eng, db, kv);
        for (struct watch *w = k->head; w; w = w->knext) {
            if (w->c->multi->dirty_cas) continue;
            bool was_present = w->live || w->expired;
            if (!was_present && !now_present) continue;
            if (w->expired) {
                if (!now_present) {
                    w->expired = false; /* an expired key went away */
                    continue;
                }
                if (now_expired) continue; /* still an expired key */
            } else if (!was_present && now_expired) {
                /* an expired key took the place of nothing */
                w->expired = true;
                continue;
            }
            flag_dirty(w->c);
        }
    }
    dict_iter_release(&it);
}

/* EXEC: a key live at WATCH that has expired since counts as changed, even
 * if nothing deleted it yet. */
static bool watched_key_expired(struct client *c)
{
    for (struct watch *w = c->multi->watch; w; w = w->cnext) {
        if (w->expired) continue;
        struct db *db = &srv.eng.dbs[w->wk->db];
        struct kv *kv = db_find(db, w->wk->key, w->wk->klen);
        if (kv && db_is_expired(&srv.eng, db, kv)) return true;
    }
    return false;
}

void multi_init(void)
{
    watched = lode_calloc(sizeof(*watched) * (size_t)srv.eng.ndbs);
    for (int i = 0; i < srv.eng.ndbs; i++) dict_init(&watched[i], &wkey_type);
    prev_key_hook = srv.eng.on_key_changed;
    prev_reset_hook = srv.eng.on_db_reset;
    srv.eng.on_key_changed = on_key_changed;
    srv.eng.on_db_reset = on_db_reset;
}

/* ---- the transaction's end ---- */

static void discard(struct client *c)
{
    struct multi_state *m = c->multi;
    if (!m) return;
    free_queue(m);
    m->in_multi = false;
    m->dirty_exec = false;
    unwatch_all(c);
    maybe_free_state(c);
}

void multi_client_reset(struct client *c)
{
    discard(c);
}

void multi_abort_exec(struct client *c, struct reply *r, const char *why)
{
    discard(c);
    reply_errorf(r, "EXECABORT Transaction discarded because of: %s", why);
}

/* ---- commands ---- */

void cmd_multi(struct cmd_ctx *ctx)
{
    struct client *c = client_of(ctx);
    if (multi_active(c)) {
        reply_error(ctx->r, "ERR MULTI calls can not be nested");
        return;
    }
    state_of(c)->in_multi = true;
    reply_ok(ctx->r);
}

void cmd_discard(struct cmd_ctx *ctx)
{
    struct client *c = client_of(ctx);
    if (!multi_active(c)) {
        reply_error(ctx->r, "ERR DISCARD without MULTI");
        return;
    }
    discard(c);
    reply_ok(ctx->r);
}

void cmd_watch(struct cmd_ctx *ctx)
{
    struct client *c = client_of(ctx);
    if (multi_active(c)) {
        reply_error(ctx->r, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    for (int i = 1; i < ctx->argc; i++)
        watch_key(c, ctx->sess->db, ctx->argv[i].ptr, ctx->argv[i].len);
    reply_ok(ctx->r);
}

void cmd_unwatch(struct cmd_ctx *ctx)
{
    struct client *c = client_of(ctx);
    unwatch_all(c);
    if (c->multi) maybe_free_state(c);
    reply_ok(ctx->r);
}

void cmd_exec(struct cmd_ctx *ctx)
{
    struct client *c = client_of(ctx);
    struct multi_state *m = c->multi;
    if (!multi_active(c)) {
        reply_error(ctx->r, "ERR EXEC without MULTI");
        return;
    }
    if (!m->dirty_cas && watched_key_expired(c)) m->dirty_cas = true;
    if (m->dirty_exec) {
        reply_error(ctx->r, "EXECABORT Transaction discarded because of previous errors.");
        discard(c);
        return;
    }
    if (m->dirty_cas) {
        reply_null_array(ctx->r);
        discard(c);
        return;
    }
    /* own the queue: the commands may not see the transaction any more */
    struct mcmd *cmds = m->cmds;
    int n = m->n;
    m->cmds = NULL;
    m->n = m->cap = 0;
    m->mem = 0;
    m->writes = false;
    m->may_replicate = false;
    m->in_multi = false;
    unwatch_all(c); /* before running: our own writes are no change */
    maybe_free_state(c);

    /* blocking commands behave as their non-blocking forms; every effect
     * goes to one record, logged by the dispatcher after EXEC returns */
    bool was_in_exec = c->sess.in_exec;
    c->sess.in_exec = true;
    reply_array(ctx->r, n);
    for (int i = 0; i < n; i++) {
        dispatch_call_queued(c, cmds[i].cmd, cmds[i].argc, cmds[i].argv, ctx->r->out);
        lode_free(cmds[i].argv);
    }
    c->sess.in_exec = was_in_exec;
    lode_free(cmds);
}
