/*
 * persist.c - start-up recovery, logging of effects, held replies, the
 * data directory lock (see persist.h).
 *
 * Held replies (durability always): a reply is sent only when every LSN
 * that existed when it was produced is durable, so no client is ever shown
 * a write a crash could take back. Each client keeps marks (end offset of
 * a reply in its output buffer, LSN it needs); once a reply is held every
 * later reply of that client is held behind it, which keeps replies in
 * order. When the writer thread reports progress, the loop releases the
 * marks whose LSN is durable.
 */
#include "server/persist.h"
#include "engine/lode.h"
#include "engine/util.h"
#include "server/server.h"
#include "wal/replay.h"
#include "wal/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static struct wal *wal;
static int lock_fd = -1;
static ev_async wal_async;
static struct client *held; /* clients with marks, through held_next */
static char error_reply[256];
static long long recovery_ms;

/* ---- replay ---- */

static struct replay_stats replay;

static int replay_record(void *priv, const struct wal_record *rec)
{
    (void)priv;
    uint64_t failed = replay.failed;
    int rc = wal_replay_record(&srv.eng, rec, &replay);
    /* a logged command failed again: the log and the engine disagree; say
     * so and keep going (the data is what was logged) */
    if (replay.failed > failed && replay.failed <= 10)
        srv_log(LL_WARNING, "replaying %s", replay.last_error.ptr);
    if (replay.records % 1000000 == 0 && replay.records)
        srv_log(LL_NOTICE, "recovery: %llu records replayed (LSN %llu)",
                (unsigned long long)replay.records, (unsigned long long)rec->lsn);
    return rc;
}

/* ---- durability progress ---- */

static void release_held(void)
{
    uint64_t durable = wal_durable_lsn(wal);
    bool failed = wal_failed(wal) != 0;
    for (struct client **pp = &held; *pp;) {
        struct client *c = *pp;
        int k = 0;
        while (k < c->nmarks && c->marks[k].lsn <= durable) k++;
        if (k) {
            c->held_from = c->marks[k - 1].end;
            memmove(c->marks, c->marks + k, sizeof(*c->marks) * (size_t)(c->nmarks - k));
            c->nmarks -= k;
            client_schedule_write(c);
        }
        if (c->nmarks && failed) {
            /* these replies can never be confirmed: the client must not
             * take them as acknowledged, so the connection ends */
            c->nmarks = 0;
            client_close_async(c);
        }
        if (!c->nmarks) {
            *pp = c->held_next;
            c->held_next = NULL;
            c->held_listed = false;
        } else {
            pp = &c->held_next;
        }
    }
}

static void on_wal_progress(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    int err = wal_failed(wal);
    if (err && !error_reply[0]) {
        snprintf(error_reply, sizeof(error_reply),
                 "MISCONF Errors writing to the WAL: %s. Writes are refused to protect the "
                 "acknowledged data; reads go on. Check the disk and restart the server.",
                 lode_strerror(err));
        srv_log(LL_WARNING, "WAL write or fsync failed (%s): refusing writes from now on",
                lode_strerror(err));
    }
    release_held();
}

/* Writer thread: progress was made; wake the loop. */
static void notify(void *priv)
{
    (void)priv;
    ev_async_send(srv.loop, &wal_async);
}

/* ---- open / close ---- */

static int lock_dir(void)
{
    lock_fd = open("LOCK", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (lock_fd < 0) {
        srv_log(LL_WARNING, "Can't open the lock file in '%s': %s", srv.cfg.dir, strerror(errno));
        return -1;
    }
    if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        srv_log(LL_WARNING,
                "Another lode-server is using the data directory '%s' (its LOCK is held): "
                "refusing to start",
                srv.cfg.dir);
        close(lock_fd);
        lock_fd = -1;
        return -1;
    }
    return 0;
}

int persist_open(void)
{
    if (lock_dir() != 0) return -1;
    ev_async_init(&wal_async, on_wal_progress);
    ev_async_start(srv.loop, &wal_async);
    struct wal_options opt = {.dir = "wal",
                              .sync = srv.cfg.durability,
                              .segment_size = (uint64_t)srv.cfg.wal_segment_size,
                              .notify = notify,
                              .priv = NULL};
    struct buf err = BUF_INIT;
    long long t0 = util_mono_us();
    replay_stats_init(&replay);
    int rc = wal_open(&wal, &opt, replay_record, NULL, &err);
    effects_reset(&srv.eng.eff);
    recovery_ms = (util_mono_us() - t0) / 1000;
    if (rc != 0) {
        srv_log(LL_WARNING,
                "Can't start: %s. Inspect and repair the data directory with "
                "'lode-recover %s check' and 'lode-recover %s repair'.",
                err.ptr ? err.ptr : lode_strerror(rc), srv.cfg.dir, srv.cfg.dir);
        buf_release(&err);
        return -1;
    }
    if (err.len) srv_log(LL_WARNING, "WAL recovery: %s", err.ptr);
    buf_release(&err);
    srv_log(LL_NOTICE, "WAL recovered in %lld ms: %llu records replayed, last LSN %llu",
            recovery_ms, (unsigned long long)replay.records, (unsigned long long)wal_last_lsn(wal));
    return 0;
}

void persist_close(void)
{
    if (!wal) return;
    wal_close(wal);
    wal = NULL;
    /* every record is written (and synced unless durability is no): the
     * held replies may go */
    for (struct client *c = held, *next; c; c = next) {
        next = c->held_next;
        c->nmarks = 0;
        c->held_next = NULL;
        c->held_listed = false;
        client_schedule_write(c);
    }
    held = NULL;
    replay_stats_release(&replay);
    if (lock_fd >= 0) {
        close(lock_fd); /* releases the flock */
        lock_fd = -1;
    }
}

/* ---- the write path ---- */

void persist_log_effects(void)
{
    struct effects *e = &srv.eng.eff;
    if (!e->n) return;
    wal_append(wal, (uint32_t)e->start_db, e->n, e->cmds.ptr, e->cmds.len,
               (uint64_t)srv.eng.now_ms);
    effects_reset(e);
}

void persist_before_sleep(void)
{
    if (wal) wal_seal(wal);
}

int persist_failed(void)
{
    return wal ? wal_failed(wal) : 0;
}

const char *persist_error_reply(void)
{
    if (!error_reply[0])
        snprintf(error_reply, sizeof(error_reply),
                 "MISCONF Errors writing to the WAL: %s. Writes are refused to protect the "
                 "acknowledged data; reads go on. Check the disk and restart the server.",
                 lode_strerror(persist_failed()));
    return error_reply;
}

void persist_hold_reply(struct client *c, size_t start)
{
    if (srv.cfg.durability != DUR_ALWAYS || !wal) return;
    uint64_t need = wal_last_lsn(wal);
    if (need <= wal_durable_lsn(wal) && !c->nmarks) return;
    if (c->out.len == start && !c->nmarks) return;
    if (!c->nmarks) c->held_from = start;
    if (c->nmarks && c->marks[c->nmarks - 1].lsn > need) need = c->marks[c->nmarks - 1].lsn;
    if (c->nmarks && c->marks[c->nmarks - 1].lsn == need) {
        c->marks[c->nmarks - 1].end = c->out.len; /* same LSN: extend */
    } else {
        if (c->nmarks == c->capmarks) {
            c->capmarks = c->capmarks ? c->capmarks * 2 : 4;
            c->marks = lode_realloc(c->marks, sizeof(*c->marks) * (size_t)c->capmarks);
        }
        c->marks[c->nmarks].end = c->out.len;
        c->marks[c->nmarks].lsn = need;
        c->nmarks++;
    }
    if (!c->held_listed) {
        c->held_listed = true;
        c->held_next = held;
        held = c;
    }
}

size_t persist_sendable(const struct client *c)
{
    return c->nmarks ? c->held_from : c->out.len;
}

void persist_client_gone(struct client *c)
{
    if (c->held_listed) {
        for (struct client **pp = &held; *pp; pp = &(*pp)->held_next) {
            if (*pp == c) {
                *pp = c->held_next;
                break;
            }
        }
        c->held_listed = false;
    }
    lode_free(c->marks);
    c->marks = NULL;
    c->nmarks = c->capmarks = 0;
}

void persist_set_durability(int mode)
{
    if (wal) wal_set_sync(wal, mode);
    /* leaving `always`: nothing waits for syncs any more */
    if (mode != DUR_ALWAYS) {
        for (struct client *c = held; c; c = c->held_next) {
            c->nmarks = 0;
            client_schedule_write(c);
        }
        for (struct client *c = held, *next; c; c = next) {
            next = c->held_next;
            c->held_next = NULL;
            c->held_listed = false;
        }
        held = NULL;
    }
}

void persist_info(struct buf *b)
{
    struct wal_stats st = {0};
    if (wal) wal_get_stats(wal, &st);
    buf_printf(
        b,
        "lode_durability:%s\r\n"
        "lode_wal_last_lsn:%llu\r\n"
        "lode_wal_written_lsn:%llu\r\n"
        "lode_wal_durable_lsn:%llu\r\n"
        "lode_wal_bytes:%llu\r\n"
        "lode_wal_segments:%llu\r\n"
        "lode_wal_batches:%llu\r\n"
        "lode_wal_records_per_batch:%.2f\r\n"
        "lode_wal_fsyncs:%llu\r\n"
        "lode_wal_fsync_avg_us:%.1f\r\n"
        "lode_wal_fsync_max_us:%llu\r\n"
        "lode_wal_status:%s\r\n"
        "lode_recovery_ms:%lld\r\n"
        "lode_recovery_records:%llu\r\n",
        config_durability_name(srv.cfg.durability), (unsigned long long)st.last_lsn,
        (unsigned long long)st.written_lsn, (unsigned long long)st.durable_lsn,
        (unsigned long long)st.bytes, (unsigned long long)st.segments,
        (unsigned long long)st.batches, st.batches ? (double)st.records / (double)st.batches : 0.0,
        (unsigned long long)st.syncs, st.syncs ? (double)st.sync_us_total / (double)st.syncs : 0.0,
        (unsigned long long)st.sync_us_max, st.error ? lode_strerror(st.error) : "ok", recovery_ms,
        (unsigned long long)replay.records);
}
