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
