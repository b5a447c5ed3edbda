/*
 * client.c - connections: reading and parsing requests, running them,
 * buffering and writing replies, output-buffer limits, timeouts.
 */
#include "server/server.h"
#include "server/blocking.h"
#include "server/multi.h"
#include "server/pubsub.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK (16 * 1024)
/* Large bulk arguments are read exactly, not in 16 KiB steps. */
#define BIG_ARG (32 * 1024)
/* Fairness: at most this much is written to one client per loop turn. */
#define MAX_WRITE_PER_EVENT (1024 * 1024)

static void on_readable(struct ev_loop *loop, ev_io *w, int revents);
static void on_writable(struct ev_loop *loop, ev_io *w, int revents);

struct client *client_new(int fd, bool is_unix)
{
    struct client *c = lode_calloc(sizeof(*c));
    c->id = ++srv.next_client_id;
    c->fd = fd;
    c->sess.resp = 2;
    c->sess.db = 0;
    if (is_unix) c->flags |= CL_UNIX;
    if (!srv.cfg.requirepass) c->flags |= CL_AUTHENTICATED;
    resp_parser_init(&c->parser);
    c->ctime = c->last_interaction = util_ms_now();
    if (fd >= 0) {
        ev_io_init(&c->rio, on_readable, fd, EV_READ);
        c->rio.data = c;
        ev_io_init(&c->wio, on_writable, fd, EV_WRITE);
        c->wio.data = c;
        ev_io_start(srv.loop, &c->rio);
    }
    c->next = srv.clients;
    if (srv.clients) srv.clients->prev = c;
    srv.clients = c;
    srv.nclients++;
    return c;
}

static void remove_pending_write(struct client *c)
{
    if (!(c->flags & CL_PENDING_WRITE)) return;
    for (struct client **pp = &srv.pending_writes; *pp; pp = &(*pp)->pw_next) {
        if (*pp == c) {
            *pp = c->pw_next;
            break;
        }
    }
    c->flags &= ~CL_PENDING_WRITE;
}

static void remove_paused(struct client *c)
{
    for (struct client **pp = &srv.paused; *pp; pp = &(*pp)->paused_next) {
        if (*pp == c) {
            *pp = c->paused_next;
            break;
        }
    }
    c->flags &= ~CL_PAUSED;
}

void client_monitor_stop(struct client *c)
{
    if (!(c->flags & CL_MONITOR)) return;
    if (c->mon_prev)
        c->mon_prev->mon_next = c->mon_next;
    else
        srv.monitors = c->mon_next;
    if (c->mon_next) c->mon_next->mon_prev = c->mon_prev;
    c->mon_prev = c->mon_next = NULL;
    c->flags &= ~CL_MONITOR;
}

void client_free(struct client *c)
{
    if (srv.current == c) {
        c->flags |= CL_CLOSE_ASAP;
        return;
    }
    if (c->fd >= 0) {
        ev_io_stop(srv.loop, &c->rio);
        ev_io_stop(srv.loop, &c->wio);
        close(c->fd);
    }
    remove_pending_write(c);
    if (c->flags & CL_PAUSED) remove_paused(c);
    persist_client_gone(c);
    blocking_client_gone(c);
    multi_client_reset(c);
    pubsub_client_reset(c);
    client_monitor_stop(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv.clients = c->next;
    if (c->next) c->next->prev = c->prev;
    srv.nclients--;
    resp_parser_release(&c->parser);
    buf_release(&c->q);
    buf_release(&c->out);
    lode_free(c->argv);
    free(c->name);
    lode_free(c);
}

void client_close_async(struct client *c)
{
    c->flags |= CL_CLOSE_ASAP;
    client_schedule_write(c);
}

void client_schedule_write(struct client *c)
{
    if (c->flags & CL_PENDING_WRITE) return;
    c->flags |= CL_PENDING_WRITE;
    c->pw_next = srv.pending_writes;
    srv.pending_writes = c;
}

static bool has_output(const struct client *c)
{
    return c->out.len > c->sent;
}

/* The client-output-buffer-limit class of c: a client with subscriptions
 * is a pubsub client (in RESP2 and RESP3 alike, as in Redis). */
static const struct obuf_limit *output_limit(const struct client *c)
{
    return &srv.cfg.obuf[pubsub_subscribed(c) ? OBUF_PUBSUB : OBUF_NORMAL];
}

bool client_check_output_limits(struct client *c)
{
    const struct obuf_limit *lim = output_limit(c);
    long long used = (long long)(c->out.len - c->sent);
    bool over_hard = lim->hard && used >= lim->hard;
    bool over_soft = lim->soft && used >= lim->soft;
    if (over_soft && !over_hard) {
        long long now = util_ms_now();
        if (!c->obuf_soft_since)
            c->obuf_soft_since = now;
        else if (now - c->obuf_soft_since >= lim->soft_s * 1000)
            over_hard = true;
    } else if (!over_soft) {
        c->obuf_soft_since = 0;
    }
    if (!over_hard) return true;
    struct buf line = BUF_INIT;
    client_info_line(c, &line);
    srv_log(LL_WARNING,
            "Client %s scheduled to be closed ASAP for overcoming of output buffer "
            "limits.",
            line.ptr);
    buf_release(&line);
    srv.stat_client_outbuf_limit_disconnections++;
    c->flags |= CL_CLOSE_ASAP;
    /* the reply will never be sent: drop it now so memory comes back */
    buf_release(&c->out);
    c->sent = 0;
    client_schedule_write(c);
    return false;
}

/* Writes as much pending output as the socket takes. Returns false when the
 * client was freed. */
static bool write_some(struct client *c)
{
    size_t total = 0;
    size_t limit = persist_sendable(c); /* replies waiting for the WAL stay */
    while (c->sent < limit && total < MAX_WRITE_PER_EVENT) {
        ssize_t n = write(c->fd, c->out.ptr + c->sent, limit - c->sent);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            srv_log(LL_VERBOSE, "Error writing to client: %s", strerror(errno));
            client_free(c);
            return false;
        }
        c->sent += (size_t)n;
        total += (size_t)n;
        srv.stat_net_output_bytes += n;
    }
    if (!has_output(c)) {
        c->out.len = 0;
        c->sent = 0;
        /* keep a small buffer for the next reply; give back big ones */
        if (c->out.cap > 64 * 1024) buf_release(&c->out);
        ev_io_stop(srv.loop, &c->wio);
        if (c->flags & CL_CLOSE_AFTER_REPLY) {
            client_free(c);
            return false;
        }
        return true;
    }
    if (c->sent > c->out.len / 2) {
        /* compact: offsets of held replies move with the bytes */
        size_t drop = c->sent;
        buf_consume(&c->out, drop);
        c->sent = 0;
        limit -= drop;
        if (c->nmarks) {
            c->held_from -= drop;
            for (int i = 0; i < c->nmarks; i++) c->marks[i].end -= drop;
        }
    }
    if (c->sent < limit)
        ev_io_start(srv.loop, &c->wio); /* the socket is full */
    else
        ev_io_stop(srv.loop, &c->wio); /* waiting for the WAL */
    return true;
}

void client_write_pending(void)
{
    while (srv.pending_writes) {
        struct client *c = srv.pending_writes;
        srv.pending_writes = c->pw_next;
        c->flags &= ~CL_PENDING_WRITE;
        if (c->flags & CL_CLOSE_ASAP) {
            client_free(c);
            continue;
        }
        if (c->fd < 0) continue;
        if (has_output(c) || (c->flags & CL_CLOSE_AFTER_REPLY)) write_some(c);
    }
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct client *c = w->data;
    write_some(c);
}

/* Whether the current pause holds this parsed command. */
static bool pause_holds(struct client *c)
{
    if (!srv.pause_until_ms) return false;
    if (util_ms_now() >= srv.pause_until_ms) {
        client_unpause_all();
        return false;
    }
    if (!srv.pause_writes_only) return true;
    const struct cmd_def *cmd = cmd_lookup(c->argv[0].ptr, c->argv[0].len);
    if (!cmd) return false;
    if (cmd->nsubs && c->argc > 1) {
        const struct cmd_def *sub = cmd_lookup_sub(cmd, c->argv[1].ptr, c->argv[1].len);
        if (sub) cmd = sub;
    }
    /* PAUSE WRITE also holds commands that may replicate (EVAL, FCALL,
     * PUBLISH, PFCOUNT), and EXEC of a transaction holding one. A script
     * that declares its flags is held unless they say no-writes, whatever
     * the command (EVAL_RO of a "#!lua" script is held too, as Redis). */
    if (cmd->id == CMD_EXEC && c->argc == 1) return multi_may_replicate(c);
    return (scripting_command_flags(cmd, c->argc, c->argv) & (CMDF_WRITE | CMDF_MAY_REPLICATE)) !=
           0;
}

/* Pipelined commands (client pipelines, redis-benchmark -P): before running
 * the complete commands already in the query buffer, start loading the
 * keyspace slots, then the entries, of their first arguments, so that the
 * cache misses of up to PREFETCH_MAX lookups overlap instead of coming one
 * after another. Only a hint: it reads the buffer without consuming it, and
 * stops at anything but a complete multibulk command. An argument that is
 * not a key (PING's, say) costs one needless load. */
#define PREFETCH_MAX 16

/* A "<type><digits>\r\n" header at p (at most 18 digits); the byte after it,
 * or NULL. */
static const char *scan_header(const char *p, const char *end, char type, long long *out)
{
    if (p >= end || *p != type) return NULL;
    p++;
    long long v = 0;
    int digits = 0;
    while (p < end && *p >= '0' && *p <= '9') {
        if (++digits > 18) return NULL;
        v = v * 10 + (*p++ - '0');
    }
    if (!digits || end - p < 2 || p[0] != '\r' || p[1] != '\n') return NULL;
    *out = v;
    return p + 2;
}

static void prefetch_pipeline(struct client *c)
{
    if (c->parser.want != 0 || c->argc != 0) return;
    const char *p = c->q.ptr + c->parser.pos, *end = c->q.ptr + c->q.len;
    const char *key[PREFETCH_MAX];
    size_t klen[PREFETCH_MAX];
    int n = 0;
    while (n < PREFETCH_MAX && p && p < end) {
        long long argc, len;
        p = scan_header(p, end, '*', &argc);
        if (!p || argc < 2) break;
        for (long long i = 0; i < argc && p; i++) {
            p = scan_header(p, end, '$', &len);
            if (p && len > end - p - 2) p = NULL; /* not all here yet */
            if (!p) break;
            if (i == 1) {
                key[n] = p;
                klen[n] = (size_t)len;
            }
            p += len + 2;
        }
        if (p) n++;
    }
    if (n < 2) return;
    const struct dict *d = &srv.eng.dbs[c->sess.db].keys;
    uint64_t h[PREFETCH_MAX];
    for (int i = 0; i < n; i++) {
        h[i] = db_hash(key[i], klen[i]);
        dict_prefetch_slot(d, h[i]);
    }
    for (int i = 0; i < n; i++) dict_prefetch_node(d, h[i]);
}

void client_process_input(struct client *c)
{
    struct resp_limits lim = {srv.cfg.proto_max_bulk_len, (c->flags & CL_AUTHENTICATED) != 0};
    int ahead = 0; /* commands left of the last prefetch_pipeline */
    while (!(c->flags & (CL_CLOSE_AFTER_REPLY | CL_CLOSE_ASAP | CL_PAUSED | CL_BLOCKED))) {
        if (ahead-- == 0) {
            prefetch_pipeline(c);
            ahead = PREFETCH_MAX - 1;
        }
        const char *err = NULL;
        int rc = c->parser.want == 0 && c->argc > 0 ? RESP_COMMAND
                                                    : resp_parse(&c->parser, &c->q, &lim, &err);
        if (rc == RESP_NEED_MORE) break;
        if (rc == RESP_EMPTY) {
            resp_next(&c->parser);
            continue;
        }
        if (rc == RESP_ERROR) {
            struct reply r;
            reply_init(&r, &c->out, c->sess.resp);
            reply_error(&r, err);
            srv.stat_total_error_replies++;
            stats_count_error("ERR");
            srv_log(LL_VERBOSE, "Protocol error (%s) from client: id=%llu addr=%s", err,
                    (unsigned long long)c->id, c->addr);
            c->flags |= CL_CLOSE_AFTER_REPLY;
            client_schedule_write(c);
            break;
        }
        if (c->parser.argc > c->argv_cap) {
            c->argv_cap = c->parser.argc;
            c->argv = lode_realloc(c->argv, sizeof(*c->argv) * (size_t)c->argv_cap);
        }
        c->argc = resp_args(&c->parser, &c->q, c->argv);
        if (pause_holds(c)) {
            c->flags |= CL_PAUSED;
            c->paused_next = srv.paused;
            srv.paused = c;
            break;
        }
        dispatch_command(c);
        if (c->flags & CL_BLOCKED) break; /* the command stays parsed until served */
        c->argc = 0;
        resp_next(&c->parser);
        lim.authenticated = (c->flags & CL_AUTHENTICATED) != 0;
        if (c->out.len - c->sent > c->out_peak) c->out_peak = c->out.len - c->sent;
        if (has_output(c)) {
            client_schedule_write(c);
            if (!client_check_output_limits(c)) break;
        }
    }
    resp_compact(&c->parser, &c->q);
}

void client_unpause_all(void)
{
    srv.pause_until_ms = 0;
    while (srv.paused) {
        struct client *c = srv.paused;
        srv.paused = c->paused_next;
        c->flags &= ~CL_PAUSED;
        /* run what it had queued; freeing is deferred to the write pass */
        client_process_input(c);
        if (has_output(c)) client_schedule_write(c);
    }
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct client *c = w->data;
    size_t want = READ_CHUNK;
    if (c->parser.want && c->parser.bulk >= BIG_ARG) {
        /* read the rest of a big argument in one go */
        size_t have = c->q.len - c->parser.pos;
        size_t need = (size_t)c->parser.bulk + 2;
        if (need > have) want = need - have;
        /* grow with the data actually sent, not the declared length: a
         * client declaring 512 MB and sending nothing costs nothing */
        if (want > (1u << 20)) want = 1u << 20;
    }
    buf_reserve(&c->q, want);
    ssize_t n = read(c->fd, c->q.ptr + c->q.len, want);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        srv_log(LL_VERBOSE, "Reading from client: %s", strerror(errno));
        client_free(c);
        return;
    }
    if (n == 0) {
        srv_log(LL_VERBOSE, "Client closed connection id=%llu addr=%s", (unsigned long long)c->id,
                c->addr);
        client_free(c);
        return;
    }
    c->q.len += (size_t)n;
    c->q.ptr[c->q.len] = '\0';
    srv.stat_net_input_bytes += n;
    c->last_interaction = server_loop_ms();
    if ((long long)c->q.len > srv.cfg.client_query_buffer_limit) {
        struct buf line = BUF_INIT;
        client_info_line(c, &line);
        srv_log(LL_WARNING, "Closing client that reached max query buffer length: %s", line.ptr);
        buf_release(&line);
        srv.stat_client_qbuf_limit_disconnections++;
        client_free(c);
        return;
    }
    client_process_input(c);
    if (c->flags & CL_CLOSE_ASAP) client_schedule_write(c);
}

static const char *client_flags_str(const struct client *c, char *dst)
{
    char *p = dst;
    if (c->flags & CL_MONITOR) *p++ = 'O';
    if (pubsub_subscribed(c)) *p++ = 'P';
    if (multi_active(c)) *p++ = 'x';
    if (c->flags & (CL_PAUSED | CL_BLOCKED)) *p++ = 'b'; /* Redis shows held clients as blocked */
    if (multi_dirty(c)) *p++ = 'd';
    if (c->flags & CL_CLOSE_AFTER_REPLY) *p++ = 'c';
    if (c->flags & CL_CLOSE_ASAP) *p++ = 'A';
    if (c->flags & CL_UNIX) *p++ = 'U';
    if (c->flags & CL_NO_EVICT) *p++ = 'e';
    if (p == dst) *p++ = 'N';
    *p = '\0';
    return dst;
}

void client_info_line(struct client *c, struct buf *out)
{
    long long now = util_ms_now();
    char flags[16];
    const char *cmd = c->last_cmd ? c->last_cmd->fullname : "NULL";
    if (c->cur_cmd) cmd = c->cur_cmd->fullname;
    if ((c->flags & CL_PAUSED) && c->argc > 0) {
        /* a held client shows the command it waits to run, as in Redis */
        const struct cmd_def *held = cmd_lookup(c->argv[0].ptr, c->argv[0].len);
        if (held && held->nsubs && c->argc > 1) {
            const struct cmd_def *sub = cmd_lookup_sub(held, c->argv[1].ptr, c->argv[1].len);
            if (sub) held = sub;
        }
        if (held) cmd = held->fullname;
    }
    size_t qfree = c->q.cap > c->q.len ? c->q.cap - c->q.len : 0;
    size_t omem = c->out.cap;
    size_t argv_mem = 0;
    for (int i = 0; i < c->argc; i++) argv_mem += c->argv[i].len;
    long long nsub, npsub, nssub;
    pubsub_counts(c, &nsub, &npsub, &nssub);
    buf_printf(
        out,
        "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d sub=%lld "
        "psub=%lld ssub=%lld multi=%lld qbuf=%zu qbuf-free=%zu argv-mem=%zu multi-mem=%zu rbs=%zu "
        "rbp=%zu obl=%zu oll=0 omem=%zu tot-mem=%zu events=r%s cmd=%s user=default "
        "redir=-1 resp=%d",
        (unsigned long long)c->id, c->addr, c->laddr, c->fd, c->name ? c->name : "",
        (now - c->ctime) / 1000, (now - c->last_interaction) / 1000, client_flags_str(c, flags),
        c->sess.db, nsub, npsub, nssub, multi_queued(c), c->q.len, qfree, argv_mem, multi_mem(c),
        c->out.cap, c->out_peak, c->out.len - c->sent, omem,
        sizeof(*c) + c->q.cap + c->out.cap + argv_mem, has_output(c) ? "w" : "", cmd, c->sess.resp);
}

void clients_cron(void)
{
    long long now = util_ms_now();
    if (srv.pause_until_ms && now >= srv.pause_until_ms) client_unpause_all();
    for (struct client *c = srv.clients, *next; c; c = next) {
        next = c->next;
        if (srv.cfg.timeout && !(c->flags & (CL_MONITOR | CL_PAUSED | CL_BLOCKED)) &&
            now - c->last_interaction > srv.cfg.timeout * 1000) {
            srv_log(LL_VERBOSE, "Closing idle client");
            client_free(c);
            continue;
        }
        /* give back big idle query buffers */
        if (c->q.len == 0 && c->q.cap > 32 * 1024 && c->parser.want == 0) buf_release(&c->q);
        if (has_output(c) && output_limit(c)->soft) client_check_output_limits(c);
    }
}
