/*
 * common.c - helpers shared by the offline tools (see common.h).
 */
#include "tools/common.h"
#include "engine/cmd.h"
#include "engine/lode.h"
#include "engine/util.h"
#include "wal/ckpt.h"
#include "wal/replay.h"
#include <errno.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

void tool_repr(struct buf *b, const char *s, size_t n)
{
    buf_append_repr(b, s, n);
}

int tool_load(const char *dir, struct engine *eng, uint64_t to_lsn, bool verbose,
              struct wal_reader_status *out)
{
    return tool_load_with(dir, eng, to_lsn, verbose, out, NULL);
}

/* Hands the checkpoint's libraries to fn->load. 0, or -1 (printed). */
static int load_functions(struct ckpt *ck, const struct tool_functions *fn)
{
    struct buf payload = BUF_INIT, err = BUF_INIT;
    int rc = ckpt_get_meta(ck, CKPT_META_FUNCTIONS, &payload);
    if (rc < 0) {
        fprintf(stderr, "checkpoint: functions record unreadable: %s\n", lode_strerror(rc));
    } else if (rc == 1 && fn->load(payload.ptr, payload.len, &err) != 0) {
        fprintf(stderr, "checkpoint: functions: %s\n", err.ptr ? err.ptr : "?");
        rc = -1;
    } else {
        rc = 0;
    }
    buf_release(&payload);
    buf_release(&err);
    return rc;
}

int tool_load_with(const char *dir, struct engine *eng, uint64_t to_lsn, bool verbose,
                   struct wal_reader_status *out, const struct tool_functions *fn)
{
    char waldir[4096], ckdir[4096];
    snprintf(waldir, sizeof(waldir), "%s/wal", dir);
    snprintf(ckdir, sizeof(ckdir), "%s/checkpoint", dir);
    struct buf err = BUF_INIT;
    /* the checkpoint first, then the WAL records above its LSN */
    uint64_t base = 0;
    struct ckpt *ck = NULL;
    int crc = ckpt_open(&ck, ckdir, true, &err);
    if (crc != 0 && crc != -ENOENT) {
        fprintf(stderr, "%s\n", err.ptr);
        buf_release(&err);
        return -1;
    }
    if (crc == 0) {
        struct ckpt_meta m;
        crc = ckpt_read_meta(ck, &m);
        if (crc == 0 && to_lsn && to_lsn < m.lsn) {
            fprintf(stderr,
                    "LSN %llu is before the checkpoint (LSN %llu): the WAL before it is "
                    "gone\n",
                    (unsigned long long)to_lsn, (unsigned long long)m.lsn);
            crc = -1;
        } else if (crc == 0) {
            crc = ckpt_load(ck, eng, NULL);
            if (crc == 0 && fn && fn->load && m.lsn) crc = load_functions(ck, fn);
        }
        if (crc == LODE_ECORRUPT || crc == LODE_EVERSION)
            fprintf(stderr, "checkpoint: %s\n", ckpt_last_error(ck));
        if (crc == 0) base = m.lsn;
        ckpt_close(ck);
        if (crc) {
            buf_release(&err);
            return -1;
        }
        if (verbose && base)
            fprintf(stderr, "note: loaded the checkpoint at LSN %llu\n", (unsigned long long)base);
    }
    buf_release(&err);
    struct wal_reader *r;
    if (wal_reader_open(&r, waldir, &err) != 0) {
        fprintf(stderr, "%s\n", err.ptr);
        buf_release(&err);
        return -1;
    }
    cmd_table_init();
    struct replay_stats st;
    replay_stats_init(&st);
    if (fn) st.server_cmd = fn->replay;
    struct wal_record rec;
    int rc = 0;
    wal_reader_set_base(r, base);
    while (wal_reader_next(r, &rec) == 1) {
        if (rec.lsn <= base) continue;
        if (to_lsn && rec.lsn > to_lsn) break;
        if (wal_replay_record(eng, &rec, &st) != 0) {
            fprintf(stderr, "record LSN %llu holds a command this tool does not know\n",
                    (unsigned long long)rec.lsn);
            rc = -1;
            break;
        }
    }
    const struct wal_reader_status *s = wal_reader_status(r);
    if (verbose && s->end != WAL_END_CLEAN)
        fprintf(stderr, "note: the log ends %s at %s offset %llu (%s)\n",
                s->end == WAL_END_TORN ? "in a torn record" : "in corruption", s->segment,
                (unsigned long long)s->offset, s->why ? s->why : "");
    if (st.failed && verbose)
        fprintf(stderr, "note: %llu replayed commands answered errors; last: %s\n",
                (unsigned long long)st.failed, st.last_error.ptr);
    if (out) *out = *s;
    if (rc == 0) rc = s->end;
    replay_stats_release(&st);
    wal_reader_close(r);
    return rc;
}

uint64_t tool_checkpoint_lsn(const char *ckdir)
{
    uint64_t lsn = 0;
    struct ckpt *ck = NULL;
    struct buf err = BUF_INIT;
    if (ckpt_open(&ck, ckdir, true, &err) == 0) {
        struct ckpt_meta m;
        if (ckpt_read_meta(ck, &m) == 0) lsn = m.lsn;
        ckpt_close(ck);
    }
    buf_release(&err);
    return lsn;
}

int tool_open_wal(const char *dir, struct wal_reader **out)
{
    char waldir[4096], ckdir[4096];
    snprintf(waldir, sizeof(waldir), "%s/wal", dir);
    snprintf(ckdir, sizeof(ckdir), "%s/checkpoint", dir);
    struct buf err = BUF_INIT;
    if (wal_reader_open(out, waldir, &err) != 0) {
        fprintf(stderr, "%s\n", err.ptr);
        buf_release(&err);
        return -1;
    }
    wal_reader_set_base(*out, tool_checkpoint_lsn(ckdir));
    return 0;
}

bool tool_parse_time(const char *s, long long *ms)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s && *end == '\0') {
        *ms = v;
        return true;
    }
    struct tm tm = {0};
    int msec = 0;
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p) return false;
    if (*p == '.') {
        msec = (int)strtol(p + 1, &end, 10);
        p = end;
    }
    if (*p != 'Z' || p[1]) return false;
    *ms = (long long)timegm(&tm) * 1000 + msec;
    return true;
}

void tool_fmt_time(long long ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out + n, cap - n, ".%03lld UTC", ms % 1000);
}

/* Whether any WAL record above base could change (db, key): a command
 * naming the key among its keys, or one that acts on whole dbs. */
static bool tail_touches(const char *dir, uint64_t base, int db, const char *key, size_t klen)
{
    char waldir[4096];
    snprintf(waldir, sizeof(waldir), "%s/wal", dir);
    struct wal_reader *r;
    struct buf err = BUF_INIT;
    if (wal_reader_open(&r, waldir, &err) != 0) {
        buf_release(&err);
        return true; /* unknown: take the safe path */
    }
    wal_reader_set_base(r, base);
    cmd_table_init();
    bool touched = false;
    struct wal_record rec;
    const char *argv[256];
    size_t lens[256];
    struct slice args[256];
    int keys[256];
    while (!touched && wal_reader_next(r, &rec) == 1) {
        if (rec.lsn <= base) continue;
        int cur = (int)rec.db;
        size_t off = 0;
        int argc;
        while (!touched && (argc = wal_next_command(&rec, &off, argv, lens, 256)) != 0) {
            if (argc < 0 || argc > 256) {
                touched = true; /* too big to inspect here: be safe */
                break;
            }
            for (int i = 0; i < argc; i++) args[i] = (struct slice){argv[i], lens[i]};
            const struct cmd_def *c = cmd_lookup(args[0].ptr, args[0].len);
            if (!c) {
                touched = true;
                break;
            }
            if (c->id == CMD_SELECT && argc == 2) {
                cur = atoi(argv[1]);
                continue;
            }
            /* commands that act on whole dbs or move keys between them */
            if (c->id == CMD_FLUSHDB || c->id == CMD_FLUSHALL || c->id == CMD_SWAPDB ||
                c->id == CMD_MOVE || c->id == CMD_COPY) {
                touched = true;
                break;
            }
            if (cur != db) continue;
            int n = cmd_key_positions(c, argc, args, keys, NULL, 256);
            for (int k = 0; k < n; k++)
                if (lens[keys[k]] == klen && memcmp(argv[keys[k]], key, klen) == 0) touched = true;
        }
    }
    wal_reader_close(r);
    return touched;
}

int tool_point_get(const char *dir, int db, const char *key, size_t klen, struct kv **out,
                   long long *expire_ms)
{
    char ckdir[4096];
    snprintf(ckdir, sizeof(ckdir), "%s/checkpoint", dir);
    struct ckpt *ck = NULL;
    struct buf err = BUF_INIT;
    int rc = ckpt_open(&ck, ckdir, true, &err);
    buf_release(&err);
    if (rc != 0) return -1;
    struct ckpt_meta m;
    if (ckpt_read_meta(ck, &m) != 0 || tail_touches(dir, m.lsn, db, key, klen)) {
        ckpt_close(ck);
        return -1;
    }
    rc = ckpt_get(ck, (uint32_t)db, key, klen, out, expire_ms);
    ckpt_close(ck);
    return rc < 0 ? -1 : rc;
}
