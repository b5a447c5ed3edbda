/*
 * config.h - server configuration: defaults, the redis.conf-syntax file,
 * command-line overrides, and the table behind CONFIG GET/SET/REWRITE.
 *
 * Each parameter is a row in one table (name, type, bounds, where the value
 * lives, whether it can change at run time), so the file parser, the
 * command line, CONFIG GET/SET and REWRITE all share one definition.
 *
 * Thread: main. Allocates strings it owns.
 */
#ifndef LODE_CONFIG_H
#define LODE_CONFIG_H

#include "engine/buf.h"
#include "engine/db.h"

#include <stdbool.h>
#include <stddef.h>

#define CFG_MAX_BIND 16

enum durability_mode { DUR_ALWAYS = 0, DUR_EVERYSEC, DUR_NO };
/* how a checkpoint takes its snapshot (docs/architecture.md) */
enum checkpoint_method { CKM_THREAD = 0, CKM_FORK };
enum loglevel { LL_DEBUG = 0, LL_VERBOSE, LL_NOTICE, LL_WARNING };
enum obuf_class { OBUF_NORMAL = 0, OBUF_REPLICA, OBUF_PUBSUB, OBUF_NCLASSES };

struct obuf_limit {
    long long hard;   /* bytes, 0 = none */
    long long soft;   /* bytes, 0 = none */
    long long soft_s; /* seconds over soft before the client is cut */
};

struct config {
    long long port;
    char *bind[CFG_MAX_BIND]; /* owned */
    int nbind;
    char *unixsocket; /* owned, NULL = none */
    long long unixsocketperm;
    char *dir; /* owned */
    long long databases;
    char *requirepass; /* owned, NULL = none */
    bool protected_mode;
    long long maxclients;
    long long timeout;       /* seconds, 0 = never */
    long long tcp_keepalive; /* seconds */
    long long tcp_backlog;
    int loglevel;
    char *logfile; /* owned, "" = stdout */
    bool daemonize;
    char *pidfile; /* owned, NULL = none */
    int durability;
    long long wal_segment_size;
    long long wal_spare_segments;   /* trimmed segments kept for reuse */
    bool wal_prefill;               /* zeros ahead of the writer in fresh segments */
    long long checkpoint_wal_bytes; /* WAL bytes since the last checkpoint that start one */
    long long checkpoint_interval;  /* seconds between checkpoints when keys changed */
    int checkpoint_method;          /* CKM_THREAD or CKM_FORK */
    long long checkpoint_nice;      /* the checkpoint child's nice value (0-19) */
    long long checkpoint_key_delay; /* tests: microseconds the child sleeps per key */
    bool wal_archive;               /* trimmed segments go to DIR/wal-archive */
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    struct obuf_limit obuf[OBUF_NCLASSES];
    long long hz;
    long long busy_poll_us;            /* poll without sleeping this long after input (0 = never) */
    struct engine_limits lim;          /* collection encoding thresholds */
    long long slowlog_log_slower_than; /* us, < 0 disables */
    long long slowlog_max_len;
    long long maxmemory;
    int maxmemory_policy;
    bool active_expire;             /* DEBUG SET-ACTIVE-EXPIRE */
    long long busy_reply_threshold; /* ms a script runs before others get BUSY, 0 = never */
    int notify_keyspace_events;     /* NOTIFY_* classes (engine/notify.h) */
    char *config_file;              /* owned absolute path, NULL = none */
};

/* Sets every parameter to its default. */
void config_init(struct config *c);
void config_release(struct config *c);

/* Loads a config file (redis.conf syntax). On error returns -1 and writes
 * Redis-style "FATAL CONFIG FILE ERROR" text into err. */
int config_load_file(struct config *c, const char *path, struct buf *err);
/* Applies "--name value ..." style overrides (argv without the dashes
 * already split: name, values...). Returns -1 with text in err. */
int config_load_string(struct config *c, const char *text, struct buf *err);

/* CONFIG GET: appends "name" and value strings for every parameter whose
 * name matches the glob, to out (pairs, deduplicated). Returns pairs. */
struct config_pair {
    const char *name;
    struct buf value;
};
int config_get(struct config *c, const char *pattern, size_t plen, struct config_pair **out,
               int *nout, int *cap);
/* Renders one parameter's value; returns false for an unknown name. */
bool config_render(struct config *c, const char *name, struct buf *out);

/* CONFIG SET of one parameter. Returns 0, or -1 with Redis's error text in
 * err (immutable, unknown, bad value). */
int config_set(struct config *c, const char *name, size_t nlen, const char *val, size_t vlen,
               struct buf *err);
/* Whether name (any case) is a known parameter. */
bool config_known(const char *name, size_t nlen);
/* CONFIG REWRITE: rewrites the config file with the current values. */
int config_rewrite(struct config *c, struct buf *err);

const char *config_durability_name(int mode);

#endif
