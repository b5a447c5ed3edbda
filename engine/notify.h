/*
 * notify.h - keyspace and keyevent notifications (notify-keyspace-events):
 * the event classes with Redis's flag letters, and the call that type
 * modules make where Redis notifies.
 *
 * The engine knows nothing of pub/sub: notify_keyspace_event filters the
 * event by the engine's class mask (eng->notify_flags) and hands it to the
 * owner's eng->on_notify hook, which publishes it. The server installs the
 * hook only after WAL recovery, so replay emits nothing, and notifications
 * never reach the effects buffer (they are not written to the WAL).
 *
 * Flag letters (Redis 7.0): K keyspace, E keyevent, g generic, $ string,
 * l list, s set, h hash, z zset, x expired, e evicted, t stream, m key
 * miss, d module, n new key, A = "g$lshzxetd". An event is published only
 * when its class is enabled and K or E is.
 *
 * Thread: main. Never allocates, never blocks.
 */
#ifndef LODE_NOTIFY_H
#define LODE_NOTIFY_H

#include "engine/buf.h"

#include <stddef.h>

struct engine;
struct db;

enum notify_class {
    NOTIFY_KEYSPACE = 1 << 0,  /* K */
    NOTIFY_KEYEVENT = 1 << 1,  /* E */
    NOTIFY_GENERIC = 1 << 2,   /* g */
    NOTIFY_STRING = 1 << 3,    /* $ */
    NOTIFY_LIST = 1 << 4,      /* l */
    NOTIFY_SET = 1 << 5,       /* s */
    NOTIFY_HASH = 1 << 6,      /* h */
    NOTIFY_ZSET = 1 << 7,      /* z */
    NOTIFY_EXPIRED = 1 << 8,   /* x */
    NOTIFY_EVICTED = 1 << 9,   /* e */
    NOTIFY_STREAM = 1 << 10,   /* t */
    NOTIFY_KEY_MISS = 1 << 11, /* m (not in A) */
    NOTIFY_LOADED = 1 << 12,   /* module-only, no letter */
    NOTIFY_MODULE = 1 << 13,   /* d */
    NOTIFY_NEW = 1 << 14,      /* n (not in A) */
    NOTIFY_ALL = NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH |
                 NOTIFY_ZSET | NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE,
};

/* Parses a notify-keyspace-events value. Returns the class mask, or -1
 * when a character is not a flag letter (Redis's error text is
 * NOTIFY_ERR_CHARS). "" is valid (0). */
int notify_parse_flags(const char *s, size_t n);
#define NOTIFY_ERR_CHARS "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
/* Renders a mask as CONFIG GET shows it, in Redis's canonical order
 * ("A" when every class of A is set, then K, E, m; 'n' is shown only
 * without A, as Redis 7.0 does). Appends to out. */
void notify_render_flags(int flags, struct buf *out);

/* Reports event (a static lowercase name such as "lpush") of class type
 * (one NOTIFY_* class) on key in db. No-op unless the class and K or E are
 * enabled and the engine has an on_notify hook. key is borrowed. */
void notify_keyspace_event(struct engine *eng, int type, const char *event, struct db *db,
                           const char *key, size_t klen);
/* The same for argv[i] of a running command (struct cmd_ctx *ctx), in the
 * command's db. */
#define NOTIFY_ARG(ctx, type, event, i)                                                            \
    notify_keyspace_event((ctx)->eng, (type), (event), (ctx)->db, (ctx)->argv[i].ptr,              \
                          (ctx)->argv[i].len)

#endif
