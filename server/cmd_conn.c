/*
 * cmd_conn.c - connection commands: PING, ECHO, QUIT, AUTH, HELLO, RESET,
 * SHUTDOWN.
 */
#include "server/server.h"
#include "server/multi.h"
#include "server/pubsub.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <stdlib.h>
#include <string.h>

static struct client *client_of(struct cmd_ctx *ctx)
{
    return ctx->client;
}

void cmd_ping(struct cmd_ctx *ctx)
{
    if (ctx->argc > 2) {
        reply_errorf(ctx->r, "ERR wrong number of arguments for '%s' command", "ping");
        return;
    }
    if (ctx->r->resp == 2 && pubsub_subscribed(client_of(ctx))) {
        /* RESP2 subscribed mode: a pong the client can tell from messages */
        reply_array(ctx->r, 2);
        reply_cstr(ctx->r, "pong");
        if (ctx->argc == 1)
            reply_bulk(ctx->r, "", 0);
        else
            reply_bulk(ctx->r, ctx->argv[1].ptr, ctx->argv[1].len);
    } else if (ctx->argc == 1)
        reply_status(ctx->r, "PONG");
    else
        reply_bulk(ctx->r, ctx->argv[1].ptr, ctx->argv[1].len);
}

void cmd_echo(struct cmd_ctx *ctx)
{
    reply_bulk(ctx->r, ctx->argv[1].ptr, ctx->argv[1].len);
}

void cmd_quit(struct cmd_ctx *ctx)
{
    reply_ok(ctx->r);
    client_of(ctx)->flags |= CL_CLOSE_AFTER_REPLY;
}

/* Constant-time comparison, so a wrong password's timing says nothing. */
static bool pass_eq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < alen; i++) diff |= (unsigned char)(a[i] ^ b[i % (blen ? blen : 1)]);
    return diff == 0;
}

/* Checks user/password for the default user. Returns true when valid. */
static bool check_credentials(const struct slice *user, const struct slice *pass)
{
    if (user && !util_eq_nocase(user->ptr, user->len, "default")) return false;
    if (user && !(user->len == 7 && memcmp(user->ptr, "default", 7) == 0)) return false;
    if (!srv.cfg.requirepass) return true; /* default user is "nopass" */
    return pass_eq(pass->ptr, pass->len, srv.cfg.requirepass);
}

void cmd_auth(struct cmd_ctx *ctx)
{
    struct client *c = client_of(ctx);
    if (ctx->argc > 3) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    if (ctx->argc == 2 && !srv.cfg.requirepass) {
        reply_error(ctx->r, "ERR AUTH <password> called without any password configured for "
                            "the default user. Are you sure your configuration is correct?");
        return;
    }
    const struct slice *user = ctx->argc == 3 ? &ctx->argv[1] : NULL;
    const struct slice *pass = &ctx->argv[ctx->argc - 1];
    if (check_credentials(user, pass)) {
        c->flags |= CL_AUTHENTICATED;
        reply_ok(ctx->r);
    } else {
        reply_error(ctx->r, "WRONGPASS invalid username-password pair or user is disabled.");
    }
}

static bool valid_client_name(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '!' || p[i] > '~') return false;
    return true;
}

void client_set_name(struct client *c, const char *p, size_t n)
{
    free(c->name);
    c->name = NULL;
    if (n == 0) return;
    c->name = malloc(n + 1);
    if (!c->name) LODE_PANIC("out of memory");
    memcpy(c->name, p, n);
    c->name[n] = '\0';
}

void cmd_hello(struct cmd_ctx *ctx)
{
    struct client *c = client_of(ctx);
    long long ver = 0;
    int j = 1;
    if (ctx->argc >= 2) {
        if (!util_str2ll(ctx->argv[1].ptr, ctx->argv[1].len, &ver)) {
            reply_error(ctx->r, "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (ver < 2 || ver > 3) {
            reply_error(ctx->r, "NOPROTO unsupported protocol version");
            return;
        }
        j = 2;
    }
    const struct slice *user = NULL, *pass = NULL, *name = NULL;
    for (; j < ctx->argc; j++) {
        int left = ctx->argc - j - 1;
        if (arg_is(ctx, j, "auth") && left >= 2) {
            user = &ctx->argv[j + 1];
            pass = &ctx->argv[j + 2];
            j += 2;
        } else if (arg_is(ctx, j, "setname") && left >= 1) {
            name = &ctx->argv[j + 1];
            if (!valid_client_name(name->ptr, name->len)) {
                reply_error(ctx->r, "ERR Client names cannot contain spaces, newlines or "
                                    "special characters.");
                return;
            }
            j++;
        } else {
            reply_errorf(ctx->r, "ERR Syntax error in HELLO option '%.*s'", (int)ctx->argv[j].len,
                         ctx->argv[j].ptr);
            return;
        }
    }
    if (user) {
        if (!check_credentials(user, pass)) {
            reply_error(ctx->r, "WRONGPASS invalid username-password pair or user is disabled.");
            return;
        }
        c->flags |= CL_AUTHENTICATED;
    }
    if (!(c->flags & CL_AUTHENTICATED)) {
        reply_error(ctx->r, "NOAUTH HELLO must be called with the client already authenticated, "
                            "otherwise the HELLO AUTH <user> <pass> option can be used "
                            "to authenticate the client and select the RESP protocol version at "
                            "the same time");
        return;
    }
    if (name) client_set_name(c, name->ptr, name->len);
    if (ver) {
        c->sess.resp = (int)ver;
        ctx->r->resp = (int)ver;
    }
    struct reply *r = ctx->r;
    reply_map(r, 7);
    reply_cstr(r, "server");
    reply_cstr(r, "lodestore");
    reply_cstr(r, "version");
    reply_cstr(r, LODE_REDIS_COMPAT_VERSION);
    reply_cstr(r, "proto");
    reply_int(r, c->sess.resp);
    reply_cstr(r, "id");
    reply_int(r, (long long)c->id);
    reply_cstr(r, "mode");
    reply_cstr(r, "standalone");
    reply_cstr(r, "role");
    reply_cstr(r, "master");
    reply_cstr(r, "modules");
    reply_empty_array(r);
}

void cmd_reset(struct cmd_ctx *ctx)
{
    struct client *c = client_of(ctx);
    c->sess.db = 0;
    c->sess.resp = 2;
    ctx->r->resp = 2;
    client_set_name(c, NULL, 0);
    c->flags &= ~(CL_REPLY_OFF | CL_REPLY_SKIP | CL_REPLY_SKIP_NEXT | CL_NO_EVICT);
    client_monitor_stop(c);
    multi_client_reset(c);  /* DISCARD and UNWATCH */
    pubsub_client_reset(c); /* leaves subscribed mode */
    if (srv.cfg.requirepass) c->flags &= ~CL_AUTHENTICATED;
    reply_status(ctx->r, "RESET");
}

void cmd_shutdown(struct cmd_ctx *ctx)
{
    bool nosave = false, save = false, abort_req = false;
    for (int j = 1; j < ctx->argc; j++) {
        if (arg_is(ctx, j, "nosave"))
            nosave = true;
        else if (arg_is(ctx, j, "save"))
            save = true;
        else if (arg_is(ctx, j, "now") || arg_is(ctx, j, "force"))
            continue;
        else if (arg_is(ctx, j, "abort"))
            abort_req = true;
        else {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
    }
    if ((abort_req && ctx->argc != 2) || (nosave && save)) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    if (abort_req) {
        reply_error(ctx->r, "ERR No shutdown in progress.");
        return;
    }
    srv_log(LL_WARNING, "User requested shutdown...");
    srv.shutdown_checkpoint = !nosave;
    /* No reply: the connection closes when the server exits, as in Redis. */
    server_request_shutdown(0);
}
