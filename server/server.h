/*
 * server.h - the server process: global state, clients, the event loop.
 *
 * One main thread runs the libev loop and executes every command alone, so
 * the data needs no locks and each command is atomic. Replies are built
 * into each client's output buffer and written before the loop sleeps (an
 * ev_prepare watcher), so a pipeline of commands read together leaves in
 * one write.
 *
 * Globals live only in server/ (STYLE.md section 3): `srv` is the one.
 * Thread: main.
 */
#ifndef LODE_SERVER_H
#define LODE_SERVER_H

#include "engine/buf.h"
#include "engine/cmd.h"
#include "engine/db.h"
#include "engine/reply.h"
#include "server/config.h"
#include "server/latency.h"
#include "server/persist.h"
#include "server/resp.h"

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#define LODE_VERSION "0.1.0"
/* The Redis version whose behaviour we match; clients read it from INFO
 * and HELLO to decide which commands they may use. */
#define LODE_REDIS_COMPAT_VERSION "7.0.15"

enum client_flags {
    CL_CLOSE_AFTER_REPLY = 1 << 0, /* QUIT, protocol error: flush then close */
    CL_CLOSE_ASAP = 1 << 1,        /* kill: close without flushing */
    CL_MONITOR = 1 << 2,
    CL_UNIX = 1 << 3,
    CL_AUTHENTICATED = 1 << 4,
    CL_REPLY_OFF = 1 << 5,       /* CLIENT REPLY OFF */
    CL_REPLY_SKIP_NEXT = 1 << 6, /* CLIENT REPLY SKIP: applies to the next command */
    CL_REPLY_SKIP = 1 << 7,      /* the current command's reply is dropped */
    CL_PENDING_WRITE = 1 << 8,   /* in srv.pending_writes */
    CL_PAUSED = 1 << 9,          /* waiting for CLIENT UNPAUSE */
    CL_NO_EVICT = 1 << 10,
    CL_IN_CALL = 1 << 11, /* a command is running for this client */
    CL_BLOCKED = 1 << 12, /* waiting in a blocking command (server/blocking.h) */
};

struct bstate;
struct pubsub_state;

struct client {
    uint64_t id;
    int fd;
    ev_io rio, wio;
    unsigned flags;
    struct session sess;
    struct buf q; /* query buffer */
    struct resp_parser parser;
    struct slice *argv; /* owned array, capacity argv_cap */
    int argc, argv_cap;
    struct buf out;            /* pending reply bytes */
    size_t sent;               /* bytes of out already written */
    long long obuf_soft_since; /* ms when the soft limit was first exceeded, 0 = under */
    char *name;                /* owned, NULL = none */
    char addr[64], laddr[64];
    long long ctime;            /* ms, connection time */
    long long last_interaction; /* ms */
    const struct cmd_def *last_cmd;
    const struct cmd_def *cur_cmd;
    struct client *prev, *next;         /* all clients */
    struct client *pw_next;             /* pending-write list */
    struct client *mon_prev, *mon_next; /* monitors */
    struct client *paused_next;         /* paused list */
    size_t out_peak;                    /* bytes, largest pending output (CLIENT LIST rbp) */
    /* replies held until the WAL is durable (server/persist.c) */
    struct hold_mark *marks; /* owned: nmarks of capmarks */
    int nmarks, capmarks;
    size_t held_from; /* first byte of out that is held */
    struct client *held_next;
    bool held_listed;
    struct bstate *blk;        /* owned by blocking.c: the blocking command's wait, NULL = none */
    struct multi_state *multi; /* owned (server/multi.c): NULL = no MULTI, no WATCH */
    struct pubsub_state *ps;   /* owned (server/pubsub.c): NULL = never subscribed */
};

struct cmd_stats {
    long long calls, usec, rejected, failed;
    struct latency_hist *lat; /* owned, NULL until the first call */
};

struct slowlog_entry;

struct server {
    struct ev_loop *loop;
    struct config cfg;
    struct engine eng;
    int listen_fds[CFG_MAX_BIND + 1];
    ev_io listen_io[CFG_MAX_BIND + 1];
    int nlisten;
    ev_timer cron;
    ev_prepare before_sleep;
    long long wall_offset_ms; /* wall-clock ms minus monotonic ms, refreshed by cron */
    ev_signal sigterm, sigint;
    struct client *clients; /* list head */
    long long nclients;
    uint64_t next_client_id;
    struct client *pending_writes;
    struct client *monitors;
    struct client *paused;    /* clients held by CLIENT PAUSE */
    long long pause_until_ms; /* 0 = not paused */
    bool pause_writes_only;
    bool unpause_pending;   /* CLIENT UNPAUSE: resume srv.paused before sleeping */
    struct client *current; /* client whose command is running */
    bool shutdown_asap;
    bool shutdown_checkpoint; /* SHUTDOWN without NOSAVE: write a final checkpoint */
    int shutdown_exit_code;
    long long start_ms;
    uint64_t cron_loops;
    char run_id[41];
    /* stats */
    long long stat_numconnections, stat_rejected_conn, stat_numcommands;
    long long stat_net_input_bytes, stat_net_output_bytes;
    long long stat_total_error_replies, stat_unexpected_error_replies;
    long long stat_client_qbuf_limit_disconnections, stat_client_outbuf_limit_disconnections;
    long long stat_evictedclients;
    long long stat_fork_us, stat_total_forks;              /* the latest fork's duration; forks */
    long long stat_busy_poll_windows, stat_busy_poll_hits; /* busy-poll-us: windows, catches */
    long long ops_sec_samples[16];
    int ops_sec_idx;
    long long ops_sec_last_cmds, ops_sec_last_ms;
    size_t stat_peak_memory;    /* bytes, highest lode_used_memory() seen (cron, INFO) */
    size_t used_memory_startup; /* bytes, lode_used_memory() once start-up was done */
    struct cmd_stats cmd_stats[CMD__COUNT];
    struct errstat *errstats; /* error code counts (INFO errorstats) */
    int nerrstats;
    /* slowlog */
    struct slowlog_entry *slowlog; /* ring, newest first (linked) */
    long long slowlog_len;
    long long slowlog_next_id;
};

struct errstat {
    char code[32];
    long long count;
};

extern struct server srv;

/* The loop's cached wall-clock time in ms (one clock read per loop turn):
 * for idle/age bookkeeping, never for expiry decisions. */
static inline long long server_loop_ms(void)
{
    return (long long)(ev_now(srv.loop) * 1000.0);
}

/* ---- logging ---- */
void srv_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- clients (client.c) ---- */
struct client *client_new(int fd, bool is_unix);
/* Frees at once (not from inside the client's own command). */
void client_free(struct client *c);
/* Closes when safe: after the current command returns. */
void client_close_async(struct client *c);
/* Takes the client out of MONITOR mode (no-op when it is not in it). */
void client_monitor_stop(struct client *c);
/* Applies client-output-buffer-limit (the pubsub class to subscribed
 * clients, else normal) to c's pending output. Returns false when c was
 * marked for closing (its output is dropped). */
bool client_check_output_limits(struct client *c);
/* Queues the client's output to be written before the loop sleeps. */
void client_schedule_write(struct client *c);
/* Reads and runs whatever is complete in the query buffer. */
void client_process_input(struct client *c);
void client_unpause_all(void);
/* The client list line used by CLIENT LIST / INFO. */
void client_info_line(struct client *c, struct buf *out);
void client_write_pending(void);
/* Cron work: idle timeouts, buffer housekeeping. */
void clients_cron(void);

/* ---- dispatch (dispatch.c) ---- */
/* Runs one parsed command for c; the reply goes to c->out. */
void dispatch_command(struct client *c);
/* Re-runs c's blocked command cmd (still in the query buffer) because key
 * became ready, with ctx->serve_key = key: logs its effects as one WAL
 * record and holds its reply like any command's. Returns true when the
 * command asked to block again (nothing was served). */
bool dispatch_serve(struct client *c, const struct cmd_def *cmd, const struct slice *key);
/* EXEC: runs one queued command of c, its reply appended to out. Its
 * effects stay in the engine's buffer for the caller to log. */
void dispatch_call_queued(struct client *c, const struct cmd_def *cmd, int argc,
                          const struct slice *argv, struct buf *out);
/* Binds server-layer handlers into the command table. */
void dispatch_init(void);
void stats_count_error(const char *code);

/* ---- network (net.c) ---- */
int net_listen_all(void);
void net_close_listeners(void);

/* ---- misc ---- */
void client_set_name(struct client *c, const char *p, size_t n);
void server_reset_stats(void);
/* Pushes configuration values to the engine (start-up and CONFIG SET). */
void apply_runtime_config(void);
/* Resident set size of the process, bytes (0 when unknown). */
size_t server_rss_bytes(void);
/* Raises srv.stat_peak_memory to the current used memory (cron, INFO). */
void server_track_memory_peak(void);
/* Replies with a HELP array: title, lines (NULL-terminated), then HELP. */
void reply_help(struct reply *r, const char *title, const char *const *lines);
void server_request_shutdown(int exit_code);
void slowlog_push(struct client *c, int argc, const struct slice *argv, long long duration_us);
void slowlog_reset(void);
void slowlog_reply(struct reply *r, long long count);
void monitor_feed(struct client *c, int argc, const struct slice *argv);

/* ---- scripting (scripting.c) ---- */
/* Whether a script has run past busy-reply-threshold: commands without the
 * allow_busy flag then answer BUSY. */
bool scripting_busy(void);
/* Whether a script is running (cron and data housekeeping wait). */
bool scripting_running(void);
/* cmd's flags for a call with argv, as Redis 7.0 computes them: for
 * EVAL*, EVALSHA* and FCALL* whose script declares flags (an EVAL shebang,
 * any function), write and may-replicate come from the declaration (write
 * unless no-writes); otherwise cmd->flags. CLIENT PAUSE WRITE, MULTI and
 * MISCONF decide by these. */
uint64_t scripting_command_flags(const struct cmd_def *cmd, int argc, const struct slice *argv);
/* Serves other clients once while a script runs (from the Lua hook). */
void scripting_serve_while_busy(void);
/* Bytes the Lua state uses; cached EVAL scripts. */
size_t scripting_memory(void);
long long scripting_cached(void);
/* The BUSY error other clients get while a script or function runs long. */
const char *scripting_busy_reply(void);
/* The FUNCTION libraries as a DUMP payload (engine/fdump.h), appended to out
 * (the checkpoint child writes it). */
void scripting_dump_functions(struct buf *out);
/* Start-up: replaces the libraries with those of a DUMP payload. 0, or -1
 * with the reason in err. */
int scripting_load_functions(const char *p, size_t n, struct buf *err);
/* WAL replay of a logged server-layer write (FUNCTION LOAD / DELETE /
 * FLUSH / RESTORE): runs it, its reply to r. -1 when cmd is not one. */
int scripting_replay_command(const struct cmd_def *cmd, int argc, const struct slice *argv,
                             struct reply *r);

#endif
