/*
 * cmd_debug.c - DEBUG: SLEEP, OBJECT, DIGEST, DIGEST-VALUE,
 * SET-ACTIVE-EXPIRE, WAL-FAULT, CHECKPOINT-EPOCH, HELP.
 *
 * DEBUG is one command (arity -2) that parses its own subcommand, as in
 * Redis, so a wrong subcommand or argument count gets Redis's
 * "unknown subcommand or wrong number of arguments" error. Unlike Redis
 * (enable-debug-command no), DEBUG is always enabled: the test suites
 * compare datasets with DEBUG DIGEST.
 */
#include "server/server.h"
#include <unistd.h>
#include <stdatomic.h>
#include <fcntl.h>
#include "wal/wal.h"
#include "engine/digest.h"
#include "engine/lode.h"
#include "engine/object.h"
#include "engine/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- DEBUG WAL-FAULT: fail the WAL's writes and syncs on purpose ---- */

static _Atomic int fault_errno;

static int fault_open(const char *p, int f, mode_t m)
{
    return open(p, f, m);
}

static ssize_t fault_pwrite(int fd, const void *b, size_t n, off_t off)
{
    (void)fd;
    (void)b;
    (void)n;
    (void)off;
    errno = atomic_load(&fault_errno);
    return -1;
}

static int fault_fdatasync(int fd)
{
    (void)fd;
    errno = atomic_load(&fault_errno);
    return -1;
}

static int fault_fallocate(int fd, off_t off, off_t len)
{
    (void)fd;
    (void)off;
    (void)len;
    errno = atomic_load(&fault_errno);
    return -1;
}

static const struct wal_io fault_io = {fault_open,      fault_pwrite, fault_fdatasync, ftruncate,
                                       fault_fallocate, close,        rename};

static void debug_wal_fault(struct cmd_ctx *ctx)
{
    if (arg_is(ctx, 2, "off")) {
        wal_set_io(NULL);
    } else if (arg_is(ctx, 2, "eio") || arg_is(ctx, 2, "enospc")) {
        atomic_store(&fault_errno, arg_is(ctx, 2, "eio") ? EIO : ENOSPC);
        wal_set_io(&fault_io);
    } else {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    reply_ok(ctx->r);
}

static void debug_help(struct cmd_ctx *ctx)
{
    /* Redis's text for the subcommands this server implements */
    static const char *const lines[] = {
        "CHECKPOINT-EPOCH [<n>]",
        "    Show the checkpoint change-tracking epoch, or raise it to <n> (1-65535;",
        "    tests of its wrap-around).",
        "DIGEST",
        "    Output a hex signature representing the current DB content.",
        "DIGEST-VALUE <key> [<key> ...]",
        "    Output a hex signature of the values of all the specified keys.",
        "OBJECT <key>",
        "    Show low level info about `key` and associated value.",
        "SET-ACTIVE-EXPIRE <0|1>",
        "    Setting it to 0 disables expiring keys in background when they are not",
        "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
        "    default.",
        "SLEEP <seconds>",
        "    Stop the server for <seconds>. Decimals allowed.",
        "WAL-FAULT <EIO|ENOSPC|OFF>",
        "    Make every later WAL write and fsync fail with that error (testing the",
        "    durability failure path); OFF restores real I/O.",
        NULL,
    };
    reply_help(ctx->r, "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}

/* Bytes an RDB-style length prefix takes (6-bit, 14-bit, 32-bit, 64-bit). */
static size_t len_prefix_size(size_t n)
{
    if (n < 64) return 1;
    if (n < 16384) return 2;
    if (n <= UINT32_MAX) return 5;
    return 9;
}

/* Serialized size of a string the way Redis's RDB writes it without
 * compression: integers that fit 8/16/32 bits as a tag plus the integer,
 * everything else as a length prefix plus the bytes. */
static size_t serialized_length(const struct kv *kv)
{
    if (kv->type != OBJ_STRING) return kv_mem_usage(kv);
    char tmp[UTIL_LLSTR_SIZE];
    size_t n;
    const char *p = kv_str(kv, tmp, &n);
    long long v;
    if (n <= 11 && util_str2ll(p, n, &v)) {
        if (v >= -128 && v <= 127) return 2;
        if (v >= -32768 && v <= 32767) return 3;
        if (v >= -2147483648LL && v <= 2147483647LL) return 5;
    }
    return len_prefix_size(n) + n;
}

static void debug_object(struct cmd_ctx *ctx)
{
    const struct slice *k = &ctx->argv[2];
    struct kv *kv = db_lookup(ctx->eng, ctx->db, k->ptr, k->len, LOOKUP_NOTOUCH | LOOKUP_NOSTATS);
    if (!kv) {
        reply_error(ctx->r, ERR_NOKEY);
        return;
    }
    /* the access clock is seconds; Redis shows its 24-bit LRU field */
    uint32_t clock = ctx->eng->lru_clock;
    unsigned long long idle = clock > kv->lru ? clock - kv->lru : 0;
    /* Redis shares the integers 0..9999 and shows their refcount as INT_MAX */
    bool shared = kv->type == OBJ_STRING && kv->enc == ENC_INT && kv->v.i >= 0 && kv->v.i < 10000;
    struct buf b = BUF_INIT;
    buf_printf(&b,
               "Value at:%p refcount:%d encoding:%s serializedlength:%zu lru:%u "
               "lru_seconds_idle:%llu",
               (void *)kv, shared ? 2147483647 : 1, kv_encoding_name(kv), serialized_length(kv),
               (unsigned)(kv->lru & 0xffffff), idle);
    reply_status(ctx->r, b.ptr);
    buf_release(&b);
}

static void reply_digest(struct reply *r, const uint8_t d[DIGEST_LEN])
{
    char hex[DIGEST_HEX_SIZE];
    digest_hex(d, hex);
    reply_status(r, hex);
}

static void debug_digest(struct cmd_ctx *ctx)
{
    uint8_t d[DIGEST_LEN];
    int bad = -1;
    if (digest_dataset(ctx->eng, d, &bad) != 0) {
        reply_errorf(ctx->r, "ERR DEBUG DIGEST: values of type '%s' cannot be digested",
                     obj_type_name(bad));
        return;
    }
    reply_digest(ctx->r, d);
}

static void debug_digest_value(struct cmd_ctx *ctx)
{
    /* check every key first so that an error leaves no partial array */
    for (int i = 2; i < ctx->argc; i++) {
        struct kv *kv = db_find(ctx->db, ctx->argv[i].ptr, ctx->argv[i].len);
        uint8_t d[DIGEST_LEN];
        if (kv && digest_value(kv, d) != 0) {
            reply_errorf(ctx->r, "ERR DEBUG DIGEST-VALUE: values of type '%s' cannot be digested",
                         obj_type_name(kv->type));
            return;
        }
    }
    reply_array(ctx->r, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) {
        const struct slice *k = &ctx->argv[i];
        struct kv *kv =
            db_lookup(ctx->eng, ctx->db, k->ptr, k->len, LOOKUP_NOTOUCH | LOOKUP_NOSTATS);
        uint8_t d[DIGEST_LEN] = {0};
        if (kv) digest_value(kv, d);
        reply_digest(ctx->r, d);
    }
}

static void debug_sleep(struct cmd_ctx *ctx)
{
    /* strtod as Redis: junk reads as 0, negative times do not sleep */
    char num[64];
    size_t n = ctx->argv[2].len < sizeof(num) - 1 ? ctx->argv[2].len : sizeof(num) - 1;
    memcpy(num, ctx->argv[2].ptr, n);
    num[n] = '\0';
    double secs = strtod(num, NULL);
    if (secs > 0) {
        long long us = (long long)(secs * 1000000);
        struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
    reply_ok(ctx->r);
}

static void debug_set_active_expire(struct cmd_ctx *ctx)
{
    char num[32];
    size_t n = ctx->argv[2].len < sizeof(num) - 1 ? ctx->argv[2].len : sizeof(num) - 1;
    memcpy(num, ctx->argv[2].ptr, n);
    num[n] = '\0';
    srv.cfg.active_expire = atoi(num) != 0;
    reply_ok(ctx->r);
}

static void debug_checkpoint_epoch(struct cmd_ctx *ctx)
{
    long long set = -1;
    if (ctx->argc == 3 && (!util_str2ll(ctx->argv[2].ptr, ctx->argv[2].len, &set) || set < 1)) {
        reply_error(ctx->r, "ERR the epoch must be an integer from 1 to 65535");
        return;
    }
    long now = persist_debug_epoch(set > UINT16_MAX ? UINT16_MAX + 1L : (long)set);
    if (now < 0) {
        reply_error(ctx->r, "ERR the epoch can only be raised, up to 65535, and not while a "
                            "checkpoint runs");
        return;
    }
    reply_int(ctx->r, now);
}

void cmd_debug(struct cmd_ctx *ctx)
{
    int argc = ctx->argc;
    if (argc == 2 && arg_is(ctx, 1, "help")) {
        debug_help(ctx);
    } else if (argc == 3 && arg_is(ctx, 1, "sleep")) {
        debug_sleep(ctx);
    } else if (argc == 3 && arg_is(ctx, 1, "object")) {
        debug_object(ctx);
    } else if (argc == 2 && arg_is(ctx, 1, "digest")) {
        debug_digest(ctx);
    } else if (argc >= 2 && arg_is(ctx, 1, "digest-value")) {
        debug_digest_value(ctx);
    } else if (argc == 3 && arg_is(ctx, 1, "set-active-expire")) {
        debug_set_active_expire(ctx);
    } else if (argc == 3 && arg_is(ctx, 1, "wal-fault")) {
        debug_wal_fault(ctx);
    } else if ((argc == 2 || argc == 3) && arg_is(ctx, 1, "checkpoint-epoch")) {
        debug_checkpoint_epoch(ctx);
    } else {
        reply_errorf(ctx->r,
                     "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try DEBUG "
                     "HELP.",
                     (int)ctx->argv[1].len, ctx->argv[1].ptr);
    }
}
