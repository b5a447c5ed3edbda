/*
 * replay.c - applies WAL records to an engine (see replay.h).
 */
#include "wal/replay.h"
#include "engine/cmd.h"
#include "engine/lode.h"

#include <string.h>

void replay_stats_init(struct replay_stats *st)
{
    memset(st, 0, sizeof(*st));
    buf_init(&st->last_error);
}

void replay_stats_release(struct replay_stats *st)
{
    buf_release(&st->last_error);
}

int wal_replay_record(struct engine *eng, const struct wal_record *rec, struct replay_stats *st)
{
    struct session sess = {.db = (int)rec->db, .resp = 2, .in_exec = true};
    if (rec->db >= (uint32_t)eng->ndbs) return LODE_ECORRUPT;
    /* grown once, reused: a record may hold a command with many arguments */
    static _Thread_local const char **argv;
    static _Thread_local size_t *lens;
    static _Thread_local struct slice *args;
    static _Thread_local int cap;
    struct buf sink = BUF_INIT;
    bool was_enabled = eng->eff.enabled;
    eng->eff.enabled = false;
    int rc = 0;
    size_t off = 0;
    for (;;) {
        int argc = wal_next_command(rec, &off, argv, lens, cap);
        if (argc == 0) break;
        if (argc < 0) {
            rc = LODE_ECORRUPT;
            break;
        }
        if (argc > cap) {
            cap = argc;
            argv = lode_realloc(argv, sizeof(*argv) * (size_t)cap);
            lens = lode_realloc(lens, sizeof(*lens) * (size_t)cap);
            args = lode_realloc(args, sizeof(*args) * (size_t)cap);
            continue;
        }
        for (int i = 0; i < argc; i++) args[i] = (struct slice){argv[i], lens[i]};
        sink.len = 0;
        struct reply r;
        reply_init(&r, &sink, 2);
        eng->now_ms = (long long)rec->time_ms;
        const struct cmd_def *c = cmd_resolve(argc, args, &r);
        /* a server-layer write has no handler outside the server (tools):
         * it goes to st->server_cmd, or is skipped */
        if (!c || (c->layer == LAYER_ENGINE && !c->fn) ||
            (c->layer != LAYER_ENGINE && c->wal == WAL_NONE)) {
            rc = LODE_ECORRUPT;
            break;
        }
        if (c->layer != LAYER_ENGINE) {
            if (st->server_cmd && st->server_cmd(c, argc, args, &r) != 0) {
                rc = LODE_ECORRUPT;
                break;
            }
            st->commands++;
            if (r.errors) {
                st->failed++;
                st->last_error.len = 0;
                buf_printf(&st->last_error, "LSN %llu: %s answered %.*s",
                           (unsigned long long)rec->lsn, c->fullname,
                           (int)(sink.len > 2 ? sink.len - 2 : 0), sink.ptr ? sink.ptr : "");
            }
            continue;
        }
        struct cmd_ctx ctx = {.eng = eng,
                              .sess = &sess,
                              .db = &eng->dbs[sess.db],
                              .argc = argc,
                              .argv = args,
                              .r = &r,
                              .cmd = c};
        c->fn(&ctx);
        st->commands++;
        if (r.errors) {
            st->failed++;
            st->last_error.len = 0;
            buf_printf(&st->last_error, "LSN %llu: %s answered %.*s", (unsigned long long)rec->lsn,
                       c->fullname, (int)(sink.len > 2 ? sink.len - 2 : 0),
                       sink.ptr ? sink.ptr : "");
        }
    }
    eng->eff.enabled = was_enabled;
    buf_release(&sink);
    if (rc == 0) st->records++;
    return rc;
}
