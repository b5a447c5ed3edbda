/*
 * cmd_client.c - CLIENT ID / SETNAME / GETNAME / LIST / INFO / KILL /
 * REPLY / PAUSE / UNPAUSE / NO-EVICT / HELP, and MONITOR.
 *
 * Replies and errors are Redis 7.0's, byte for byte. Client types (LIST
 * TYPE, KILL TYPE) follow Redis: a MONITOR client counts as normal; this
 * server has no replicas or masters yet, so those filters match nothing.
 */
#include "server/server.h"
#include "server/blocking.h"
#include "server/pubsub.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum client_type { CTYPE_NORMAL = 0, CTYPE_REPLICA, CTYPE_PUBSUB, CTYPE_MASTER };

/* Redis's getClientTypeByName: -1 for an unknown name. */
static int client_type_by_name(const struct slice *s)
{
    if (util_eq_nocase(s->ptr, s->len, "normal")) return CTYPE_NORMAL;
    if (util_eq_nocase(s->ptr, s->len, "slave") || util_eq_nocase(s->ptr, s->len, "replica"))
        return CTYPE_REPLICA;
    if (util_eq_nocase(s->ptr, s->len, "pubsub")) return CTYPE_PUBSUB;
    if (util_eq_nocase(s->ptr, s->len, "master")) return CTYPE_MASTER;
    return -1;
}

static int client_type_of(const struct client *c)
{
    /* a client with subscriptions is a pubsub client (RESP2 or RESP3) */
    return pubsub_subscribed(c) ? CTYPE_PUBSUB : CTYPE_NORMAL;
}

static struct client *client_by_id(uint64_t id)
{
    for (struct client *c = srv.clients; c; c = c->next)
        if (c->id == id) return c;
    return NULL;
}

static void reply_unknown_type(struct reply *r, const struct slice *s)
{
    reply_errorf(r, "ERR Unknown client type '%.*s'", (int)s->len, s->ptr);
}

/* "unknown subcommand or wrong number of arguments" for a subcommand whose
 * own arity check passed but whose options did not fit. */
static void reply_sub_syntax(struct cmd_ctx *ctx)
{
    reply_errorf(ctx->r,
                 "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try CLIENT "
                 "HELP.",
                 (int)ctx->argv[1].len, ctx->argv[1].ptr);
}

void cmd_client_id(struct cmd_ctx *ctx)
{
    struct client *c = ctx->client;
    reply_int(ctx->r, (long long)c->id);
}

static bool valid_name(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '!' || p[i] > '~') return false;
    return true;
}

void cmd_client_setname(struct cmd_ctx *ctx)
{
    const struct slice *n = &ctx->argv[2];
    if (!valid_name(n->ptr, n->len)) {
        reply_error(ctx->r,
                    "ERR Client names cannot contain spaces, newlines or special characters.");
        return;
    }
    client_set_name(ctx->client, n->ptr, n->len);
    reply_ok(ctx->r);
}

void cmd_client_getname(struct cmd_ctx *ctx)
{
    struct client *c = ctx->client;
    if (c->name)
        reply_cstr(ctx->r, c->name);
    else
        reply_null(ctx->r);
}

void cmd_client_info(struct cmd_ctx *ctx)
{
    struct buf b = BUF_INIT;
    client_info_line(ctx->client, &b);
    buf_putc(&b, '\n');
    reply_verbatim(ctx->r, b.ptr, b.len);
    buf_release(&b);
}

void cmd_client_list(struct cmd_ctx *ctx)
{
    struct buf b = BUF_INIT;
    buf_reserve(&b, 1);
    if (ctx->argc == 4 && arg_is(ctx, 2, "type")) {
        int type = client_type_by_name(&ctx->argv[3]);
        if (type < 0) {
            reply_unknown_type(ctx->r, &ctx->argv[3]);
            goto out;
        }
        /* newest connection last, as Redis lists them */
        struct client *last = srv.clients;
        while (last && last->next) last = last->next;
        for (struct client *c = last; c; c = c->prev) {
            if (client_type_of(c) != type) continue;
            client_info_line(c, &b);
            buf_putc(&b, '\n');
        }
    } else if (ctx->argc > 3 && arg_is(ctx, 2, "id")) {
        for (int j = 3; j < ctx->argc; j++) {
            long long id;
            if (!util_str2ll(ctx->argv[j].ptr, ctx->argv[j].len, &id) || id < 1) {
                reply_error(ctx->r, "ERR Invalid client ID");
                goto out;
            }
            struct client *c = client_by_id((uint64_t)id);
            if (!c) continue;
            client_info_line(c, &b);
            buf_putc(&b, '\n');
        }
    } else if (ctx->argc != 2) {
        reply_error(ctx->r, ERR_SYNTAX);
        goto out;
    } else {
        struct client *last = srv.clients;
        while (last && last->next) last = last->next;
        for (struct client *c = last; c; c = c->prev) {
            client_info_line(c, &b);
            buf_putc(&b, '\n');
        }
    }
    reply_verbatim(ctx->r, b.ptr, b.len);
out:
    buf_release(&b);
}

/* CLIENT KILL filters (new form); unset fields match everything. */
struct kill_filter {
    const struct slice *addr, *laddr, *user;
    long long id; /* 0 = any */
    int type;     /* -1 = any */
    bool skipme;  /* default yes */
};

static bool slice_eq_str(const struct slice *s, const char *str)
{
    return strlen(str) == s->len && memcmp(s->ptr, str, s->len) == 0;
}

static bool kill_matches(const struct kill_filter *f, const struct client *c,
                         const struct client *self)
{
    if (f->addr && !slice_eq_str(f->addr, c->addr)) return false;
    if (f->laddr && !slice_eq_str(f->laddr, c->laddr)) return false;
    if (f->type >= 0 && client_type_of(c) != f->type) return false;
    if (f->id && c->id != (uint64_t)f->id) return false;
    /* every connection runs as "default", the only user (checked below) */
    if (c == self && f->skipme) return false;
    return true;
}

/* Parses the new-style filters. Replies and returns false on error. */
static bool parse_kill_filter(struct cmd_ctx *ctx, struct kill_filter *f)
{
    *f = (struct kill_filter){.type = -1, .skipme = true};
    if ((ctx->argc - 2) % 2 != 0) {
        reply_error(ctx->r, ERR_SYNTAX);
        return false;
    }
    for (int i = 2; i < ctx->argc; i += 2) {
        const struct slice *v = &ctx->argv[i + 1];
        if (arg_is(ctx, i, "id")) {
            long long id;
            if (!util_str2ll(v->ptr, v->len, &id) || id < 1) {
                reply_error(ctx->r, "ERR client-id should be greater than 0");
                return false;
            }
            f->id = id;
        } else if (arg_is(ctx, i, "type")) {
            f->type = client_type_by_name(v);
            if (f->type < 0) {
                reply_unknown_type(ctx->r, v);
                return false;
            }
        } else if (arg_is(ctx, i, "addr")) {
            f->addr = v;
        } else if (arg_is(ctx, i, "laddr")) {
            f->laddr = v;
        } else if (arg_is(ctx, i, "user")) {
            if (!(v->len == 7 && memcmp(v->ptr, "default", 7) == 0)) {
                reply_errorf(ctx->r, "ERR No such user '%.*s'", (int)v->len, v->ptr);
                return false;
            }
            f->user = v;
        } else if (arg_is(ctx, i, "skipme")) {
            if (util_eq_nocase(v->ptr, v->len, "yes")) {
                f->skipme = true;
            } else if (util_eq_nocase(v->ptr, v->len, "no")) {
                f->skipme = false;
            } else {
                reply_error(ctx->r, ERR_SYNTAX);
                return false;
            }
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

void cmd_client_kill(struct cmd_ctx *ctx)
{
    struct client *self = ctx->client;
    struct kill_filter f;
    bool old_form = ctx->argc == 3;
    if (old_form) {
        f = (struct kill_filter){.addr = &ctx->argv[2], .type = -1, .skipme = false};
    } else if (!parse_kill_filter(ctx, &f)) {
        return;
    }
    long long killed = 0;
    bool close_self = false;
    for (struct client *c = srv.clients, *next; c; c = next) {
        next = c->next;
        if (!kill_matches(&f, c, self)) continue;
        killed++;
        if (c == self)
            close_self = true;
        else
            client_free(c);
    }
    if (old_form) {
        if (!killed) {
            reply_error(ctx->r, "ERR No such client");
            return;
        }
        reply_ok(ctx->r);
    } else {
        reply_int(ctx->r, killed);
    }
    /* the reply still goes out: Redis closes the caller after it */
    if (close_self) self->flags |= CL_CLOSE_AFTER_REPLY;
}

void cmd_client_reply(struct cmd_ctx *ctx)
{
    struct client *c = ctx->client;
    if (arg_is(ctx, 2, "on")) {
        c->flags &= ~(CL_REPLY_OFF | CL_REPLY_SKIP | CL_REPLY_SKIP_NEXT);
        /* dispatch decided to drop this reply before we ran: ON's own +OK
         * is sent all the same, as in Redis */
        ctx->r->out = &c->out;
        reply_ok(ctx->r);
    } else if (arg_is(ctx, 2, "off")) {
        c->flags |= CL_REPLY_OFF;
    } else if (arg_is(ctx, 2, "skip")) {
        if (!(c->flags & CL_REPLY_OFF)) c->flags |= CL_REPLY_SKIP;
    } else {
        reply_error(ctx->r, ERR_SYNTAX);
    }
}

void cmd_client_pause(struct cmd_ctx *ctx)
{
    long long timeout;
    if (!util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &timeout)) {
        reply_error(ctx->r, "ERR timeout is not an integer or out of range");
        return;
    }
    if (timeout < 0) {
        reply_error(ctx->r, "ERR timeout is negative");
        return;
    }
    bool writes_only = false;
    if (ctx->argc == 4) {
        if (arg_is(ctx, 3, "write")) {
            writes_only = true;
        } else if (!arg_is(ctx, 3, "all")) {
            reply_error(ctx->r, "ERR CLIENT PAUSE mode must be WRITE or ALL");
            return;
        }
    } else if (ctx->argc > 4) {
        reply_sub_syntax(ctx);
        return;
    }
    long long now = util_ms_now();
    long long until = timeout > LLONG_MAX - now ? LLONG_MAX : now + timeout;
    if (srv.pause_until_ms) {
        /* a pause in force is only ever made longer or stricter */
        if (srv.pause_until_ms > until) until = srv.pause_until_ms;
        writes_only = writes_only && srv.pause_writes_only;
    }
    srv.pause_until_ms = until;
    srv.pause_writes_only = writes_only;
    srv.unpause_pending = false;
    reply_ok(ctx->r);
}

void cmd_client_unpause(struct cmd_ctx *ctx)
{
    /* New commands run at once; clients already held resume before the
     * loop sleeps (main.c), not from inside this command, so their
     * commands never run nested in ours. */
    srv.pause_until_ms = 0;
    if (srv.paused) srv.unpause_pending = true;
    reply_ok(ctx->r);
}

void cmd_client_no_evict(struct cmd_ctx *ctx)
{
    struct client *c = ctx->client;
    if (arg_is(ctx, 2, "on")) {
        c->flags |= CL_NO_EVICT;
    } else if (arg_is(ctx, 2, "off")) {
        c->flags &= ~CL_NO_EVICT;
    } else {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    reply_ok(ctx->r);
}

void cmd_client_help(struct cmd_ctx *ctx)
{
    /* Redis's text for the subcommands this server implements */
    static const char *const lines[] = {
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        NULL,
    };
    reply_help(ctx->r, "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}

void cmd_monitor(struct cmd_ctx *ctx)
{
    struct client *c = ctx->client;
    /* already monitoring: Redis ignores the call without a reply */
    if (c->flags & CL_MONITOR) return;
    c->flags |= CL_MONITOR;
    c->mon_prev = NULL;
    c->mon_next = srv.monitors;
    if (srv.monitors) srv.monitors->mon_prev = c;
    srv.monitors = c;
    reply_ok(ctx->r);
}

/* Client-side caching (CLIENT TRACKING) is not implemented: these report
 * the state of a connection that has tracking off, as Redis does. */
void cmd_client_getredir(struct cmd_ctx *ctx)
{
    reply_int(ctx->r, -1);
}

void cmd_client_trackinginfo(struct cmd_ctx *ctx)
{
    struct reply *r = ctx->r;
    reply_map(r, 3);
    reply_cstr(r, "flags");
    reply_set(r, 1);
    reply_cstr(r, "off");
    reply_cstr(r, "redirect");
    reply_int(r, -1);
    reply_cstr(r, "prefixes");
    reply_empty_array(r);
}

void cmd_client_caching(struct cmd_ctx *ctx)
{
    /* tracking is never on here, so this is always the reply */
    reply_error(ctx->r, "ERR CLIENT CACHING can be called only when the client is in tracking "
                        "mode with OPTIN or OPTOUT mode enabled");
}

void cmd_client_unblock(struct cmd_ctx *ctx)
{
    long long id;
    if (!arg_ll(ctx, 2, &id, NULL)) return;
    if (ctx->argc > 4 ||
        (ctx->argc == 4 && !arg_is(ctx, 3, "timeout") && !arg_is(ctx, 3, "error"))) {
        reply_error(ctx->r, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
        return;
    }
    struct client *target = NULL;
    for (struct client *c = srv.clients; c; c = c->next) {
        if (c->id == (uint64_t)id) {
            target = c;
            break;
        }
    }
    bool as_error = ctx->argc == 4 && arg_is(ctx, 3, "error");
    reply_int(ctx->r, target && blocking_unblock(target, as_error) ? 1 : 0);
}
