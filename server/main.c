/*
 * main.c - lode-server: configuration, start-up, the event loop, cron,
 * signals and shutdown.
 *
 * Usage: lode-server [CONFIGFILE] [--name value ...]   (as redis-server)
 */
#include "server/server.h"
#include "server/blocking.h"
#include "server/multi.h"
#include "server/pubsub.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct server srv;

void srv_log(int level, const char *fmt, ...)
{
    if (level < srv.cfg.loglevel) return;
    static const char marks[] = ".-*#";
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    localtime_r(&tv.tv_sec, &tm);
    char ts[64];
    size_t off = strftime(ts, sizeof(ts), "%d %b %Y %H:%M:%S.", &tm);
    snprintf(ts + off, sizeof(ts) - off, "%03d", (int)(tv.tv_usec / 1000));
    const char *lf = srv.cfg.logfile;
    FILE *f = (lf && lf[0]) ? fopen(lf, "a") : stdout;
    if (!f) return;
    fprintf(f, "%d:M %s %c %s\n", (int)getpid(), ts, marks[level], msg);
    if (f == stdout)
        fflush(f);
    else
        fclose(f);
}

void server_request_shutdown(int exit_code)
{
    srv.shutdown_asap = true;
    srv.shutdown_exit_code = exit_code;
    ev_break(srv.loop, EVBREAK_ALL);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    srv_log(LL_WARNING, "Received %s scheduling shutdown...",
            w->signum == SIGINT ? "SIGINT" : "SIGTERM");
    server_request_shutdown(0);
}

static void track_ops_sec(void)
{
    long long now = util_ms_now();
    long long dt = now - srv.ops_sec_last_ms;
    if (dt <= 0) return;
    long long ops = srv.stat_numcommands - srv.ops_sec_last_cmds;
    srv.ops_sec_samples[srv.ops_sec_idx++ % 16] = ops * 1000 / dt;
    srv.ops_sec_last_ms = now;
    srv.ops_sec_last_cmds = srv.stat_numcommands;
}

/* Refreshes the offset that turns the monotonic time dispatch reads anyway
 * into wall-clock time, so a command costs two clock reads, not four. The
 * offset changes only when the wall clock is stepped or slewed; the cron
 * refreshes it every tick, so a step shows in expiry within 1/hz s. */
static void refresh_wall_offset(void)
{
    srv.wall_offset_ms = util_ms_now() - util_mono_us() / 1000;
}

static void on_cron(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    /* a script serving others while it runs (BUSY): no expiry, no
     * checkpoint, nothing that could slip into its effects */
    if (scripting_running()) return;
    srv.cron_loops++;
    refresh_wall_offset();
    srv.eng.now_ms = util_ms_now();
    srv.eng.lru_clock = (uint32_t)(srv.eng.now_ms / 1000);
    /* active expiry may use up to a quarter of each cron period, as Redis */
    if (srv.cfg.active_expire) {
        srv.eng.now_ms = util_ms_now();
        db_active_expire(&srv.eng, 250000 / srv.cfg.hz);
        persist_log_effects(); /* the expired keys' DELs */
    }
    db_cron(&srv.eng, 1000);
    persist_cron();
    clients_cron();
    server_track_memory_peak();
    if (srv.cron_loops % (unsigned)(srv.cfg.hz / 10 ? srv.cfg.hz / 10 : 1) == 0) track_ops_sec();
    double period = 1.0 / (double)srv.cfg.hz;
    if (w->repeat != period) {
        w->repeat = period;
        ev_timer_again(srv.loop, w);
    }
}

/* ---- busy polling (busy-poll-us) ----
 * A loop that sleeps in epoll_wait makes every sender of its next request
 * pay a wake-up: in a VM an inter-processor interrupt and a halted vCPU,
 * several microseconds each, charged to the client's CPU. When requests
 * follow each other within busy-poll-us, the loop polls without sleeping
 * instead. It keeps doing so while input keeps coming; three windows in a
 * row that catch nothing stop it until a sleep again ends within the window
 * (so a quiet or lightly loaded server sleeps as before, and spends at most
 * one window per request). Never while a checkpoint runs: its writer thread
 * or child runs at the lowest priority and gets a CPU the loop shares with
 * it only when the loop sleeps (with the server confined to one CPU, a loop
 * that kept polling would keep the checkpoint from ever finishing). */
#define BUSY_POLL_MAX_MISSES 3

static struct {
    long long poll_start_us, poll_end_us; /* the last poll, blocking or not */
    int misses;                           /* windows in a row that caught nothing */
    ev_check after_poll;
} bp;

static void on_before_sleep(struct ev_loop *loop, ev_prepare *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    if (srv.unpause_pending) {
        /* CLIENT UNPAUSE: held clients run here, not nested in that command */
        srv.unpause_pending = false;
        if (!srv.pause_until_ms) client_unpause_all();
    }
    persist_before_sleep(); /* the writer starts on this turn's records at once */
    client_write_pending();
    if (srv.cfg.busy_poll_us) bp.poll_start_us = util_mono_us();
}

static void on_after_poll(struct ev_loop *loop, ev_check *w, int revents)
{
    (void)loop, (void)w, (void)revents;
    if (srv.cfg.busy_poll_us) bp.poll_end_us = util_mono_us(); /* else nobody reads it */
}

/* Polls without sleeping while input keeps arriving within the window
 * (read again on each turn: CONFIG SET applies at once). */
static void busy_poll(void)
{
    srv.stat_busy_poll_windows++;
    long long deadline = util_mono_us() + srv.cfg.busy_poll_us;
    while (!srv.shutdown_asap && srv.cfg.busy_poll_us && !persist_bgsave_in_progress()) {
        long long seen = srv.stat_net_input_bytes;
        ev_run(srv.loop, EVRUN_NOWAIT);
        long long now = util_mono_us();
        if (srv.stat_net_input_bytes != seen) {
            srv.stat_busy_poll_hits++;
            bp.misses = 0;
            deadline = now + srv.cfg.busy_poll_us;
        } else if (now >= deadline) {
            bp.misses++;
            return;
        }
    }
}

/* In `always` mode the WAL writer holds its group open while the loop's
 * turns append records, and a turn that appends none tells it to sync
 * (wal_loop_busy, from the prepare watcher). A loop that slept with its
 * last report busy would leave the sync waiting for its time limit
 * (nobody sends more while every reply waits for it), so before sleeping
 * the loop polls without sleeping until a poll finds nothing and nothing
 * was appended since the last report, and then reports the quiet turn at
 * once. Busy polling mostly ends that way already; this covers the turns
 * it does not run (busy-poll-us 0, after its misses, while a checkpoint
 * runs) and records appended by timers. Costs one more epoll_wait per
 * turn that appended records, in `always` mode only. */
static void poll_until_dry(void)
{
    while (!srv.shutdown_asap && !persist_may_sleep()) {
        long long seen = srv.stat_net_input_bytes;
        ev_run(srv.loop, EVRUN_NOWAIT);
        if (srv.stat_net_input_bytes == seen) persist_found_nothing();
    }
}

static void serve(void)
{
    ev_check_init(&bp.after_poll, on_after_poll);
    ev_check_start(srv.loop, &bp.after_poll);
    while (!srv.shutdown_asap) {
        long long seen = srv.stat_net_input_bytes;
        ev_run(srv.loop, EVRUN_ONCE);
        long long window = srv.cfg.busy_poll_us;
        if (srv.stat_net_input_bytes != seen && window && !persist_bgsave_in_progress()) {
            /* input that came within the window of the sleep's start: a
             * window would have caught it */
            if (bp.poll_end_us - bp.poll_start_us <= window) bp.misses = 0;
            if (bp.misses < BUSY_POLL_MAX_MISSES) busy_poll();
        }
        poll_until_dry();
    }
    ev_check_stop(srv.loop, &bp.after_poll);
}

static void gen_run_id(void)
{
    unsigned char rnd[20];
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd < 0 || read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd)) {
        for (size_t i = 0; i < sizeof(rnd); i++) rnd[i] = (unsigned char)(util_us_now() >> (i % 8));
    }
    if (fd >= 0) close(fd);
    for (size_t i = 0; i < sizeof(rnd); i++) snprintf(srv.run_id + 2 * i, 3, "%02x", rnd[i]);
    util_hash_seed(rnd);
}

static int mkdir_p(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "Usage: ./lode-server [/path/to/lode.conf] [options] [-]\n"
                    "       ./lode-server - (read config from stdin)\n"
                    "       ./lode-server -v or --version\n"
                    "       ./lode-server -h or --help\n\n"
                    "Examples:\n"
                    "       ./lode-server (run the server with default config)\n"
                    "       ./lode-server /etc/lodestore/6379.conf\n"
                    "       ./lode-server --port 7777\n"
                    "       ./lode-server /etc/mylode.conf --loglevel verbose\n");
    exit(1);
}

/* Builds "name value value\n" lines from --name value ... arguments, as
 * redis-server does, and loads them after the file. */
static int load_args(int argc, char **argv, int start, struct buf *err)
{
    struct buf text = BUF_INIT;
    for (int i = start; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] == '-' && a[2]) {
            if (text.len) buf_putc(&text, '\n');
            buf_append(&text, a + 2, strlen(a + 2));
        } else {
            buf_putc(&text, ' ');
            /* quote so that values with spaces survive the line split */
            buf_putc(&text, '"');
            for (const char *p = a; *p; p++) {
                if (*p == '"' || *p == '\\') buf_putc(&text, '\\');
                buf_putc(&text, *p);
            }
            buf_putc(&text, '"');
        }
    }
    int rc = text.len ? config_load_string(&srv.cfg, text.ptr, err) : 0;
    buf_release(&text);
    return rc;
}

int main(int argc, char **argv)
{
    config_init(&srv.cfg);
    int first = 1;
    if (argc >= 2) {
        if (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version")) {
            printf("Lodestore server v=%s (redis-compatible %s) malloc=%s bits=%d\n", LODE_VERSION,
                   LODE_REDIS_COMPAT_VERSION, lode_allocator_name(), (int)sizeof(long) * 8);
            return 0;
        }
        if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) usage();
    }
    struct buf err = BUF_INIT;
    if (argc >= 2 && argv[1][0] != '-') {
        if (config_load_file(&srv.cfg, argv[1], &err) != 0) {
            fprintf(stderr, "%s\n", err.ptr);
            return 1;
        }
        first = 2;
    } else if (argc >= 2 && !strcmp(argv[1], "-")) {
        if (config_load_file(&srv.cfg, "-", &err) != 0) {
            fprintf(stderr, "%s\n", err.ptr);
            return 1;
        }
        first = 2;
    }
    if (load_args(argc, argv, first, &err) != 0) {
        fprintf(stderr, "%s\n", err.ptr);
        return 1;
    }
    buf_release(&err);

    if (srv.cfg.daemonize) {
        if (daemon(1, 0) != 0) {
            perror("daemon");
            return 1;
        }
    }
    if (mkdir_p(srv.cfg.dir) != 0 || chdir(srv.cfg.dir) != 0) {
        fprintf(stderr, "Can't chdir to '%s': %s\n", srv.cfg.dir, strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    gen_run_id();
    srv.start_ms = util_ms_now();
    srv.ops_sec_last_ms = srv.start_ms;

    engine_init(&srv.eng, (int)srv.cfg.databases);
    apply_runtime_config();
    srv.eng.lru_clock = (uint32_t)(srv.start_ms / 1000);
    dispatch_init();
    blocking_init();
    srv.used_memory_startup = lode_used_memory();
    srv.stat_peak_memory = srv.used_memory_startup;

    srv.loop = ev_default_loop(EVFLAG_AUTO);
    /* recover before serving: no client sees a half-loaded dataset */
    if (persist_open() != 0) return 1;
    multi_init();  /* WATCH hooks: after recovery, which needs none */
    pubsub_init(); /* keyspace notifications: after recovery, which emits none */
    if (net_listen_all() != 0) return 1;
    if (srv.cfg.pidfile) {
        FILE *pf = fopen(srv.cfg.pidfile, "w");
        if (pf) {
            fprintf(pf, "%d\n", (int)getpid());
            fclose(pf);
        }
    }
    ev_timer_init(&srv.cron, on_cron, 1.0 / (double)srv.cfg.hz, 1.0 / (double)srv.cfg.hz);
    ev_timer_start(srv.loop, &srv.cron);
    ev_prepare_init(&srv.before_sleep, on_before_sleep);
    ev_prepare_start(srv.loop, &srv.before_sleep);
    refresh_wall_offset();
    ev_signal_init(&srv.sigterm, on_signal, SIGTERM);
    ev_signal_start(srv.loop, &srv.sigterm);
    ev_signal_init(&srv.sigint, on_signal, SIGINT);
    ev_signal_start(srv.loop, &srv.sigint);

    srv_log(LL_NOTICE, "Lodestore %s (redis-compatible %s) starting, pid %d, port %lld, dir %s",
            LODE_VERSION, LODE_REDIS_COMPAT_VERSION, (int)getpid(), srv.cfg.port, srv.cfg.dir);
    srv_log(LL_NOTICE, "Ready to accept connections");
    serve();

    srv_log(LL_WARNING, "Lodestore is now ready to exit, bye bye...");
    if (srv.shutdown_checkpoint) persist_final_checkpoint(); /* SHUTDOWN, not signals */
    persist_close(); /* everything logged is now written and synced */
    client_write_pending();
    net_close_listeners();
    while (srv.clients) client_free(srv.clients);
    if (srv.cfg.pidfile) unlink(srv.cfg.pidfile);
    slowlog_reset();
    for (int i = 0; i < CMD__COUNT; i++) latency_free(&srv.cmd_stats[i].lat);
    engine_release(&srv.eng);
    lode_free(srv.errstats);
    ev_loop_destroy(srv.loop);
    config_release(&srv.cfg);
    return srv.shutdown_exit_code;
}
