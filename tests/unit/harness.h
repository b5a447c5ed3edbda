/*
 * harness.h - runs engine commands in unit tests without a server: an
 * engine, a session and a reply buffer. th_run takes the arguments as
 * C strings and returns the raw RESP reply, so tests assert exact bytes.
 * Only engine-layer commands can run here (server handlers are unbound).
 * Each command's effects collect in t->eng.eff as the server would log
 * them (rewritten forms, verbatim ones, expiry DELs); tests that inspect
 * them call effects_reset first.
 */
#ifndef LODE_TEST_HARNESS_H
#define LODE_TEST_HARNESS_H

#include "engine/cmd.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <stdarg.h>
#include <string.h>

struct th {
    struct engine eng;
    struct session sess;
    struct buf out;
    int missing_rewrites; /* `rewrite` commands that changed data without emitting */
};

static inline void th_init(struct th *t)
{
    static bool table_ready;
    if (!table_ready) {
        cmd_table_init();
        table_ready = true;
    }
    engine_init(&t->eng, 16);
    t->sess.db = 0;
    t->sess.resp = 2;
    t->sess.in_exec = false;
    t->missing_rewrites = 0;
    buf_init(&t->out);
}

static inline void th_release(struct th *t)
{
    engine_release(&t->eng);
    buf_release(&t->out);
}

/* cmocka group fixtures: a fresh harness per test in *state. */
static inline int th_setup(void **state)
{
    struct th *t = lode_malloc(sizeof(*t));
    th_init(t);
    *state = t;
    return 0;
}

static inline int th_teardown(void **state)
{
    struct th *t = *state;
    th_release(t);
    lode_free(t);
    return 0;
}

/* Runs argv (argc strings, binary-safe lengths given by lens or strlen when
 * lens is NULL) and returns the reply (valid until the next call). */
static inline const char *th_runv(struct th *t, int argc, const char **argv, const size_t *lens)
{
    struct slice a[64];
    for (int i = 0; i < argc && i < 64; i++) {
        a[i].ptr = argv[i];
        a[i].len = lens ? lens[i] : strlen(argv[i]);
    }
    t->out.len = 0;
    buf_reserve(&t->out, 1);
    t->out.ptr[0] = '\0';
    struct reply r;
    reply_init(&r, &t->out, t->sess.resp);
    if (t->eng.now_ms == 0) t->eng.now_ms = util_ms_now();
    const struct cmd_def *c = cmd_resolve(argc, a, &r);
    if (c) {
        if (!c->fn) return "(server command)";
        struct cmd_ctx ctx = {.eng = &t->eng,
                              .sess = &t->sess,
                              .db = &t->eng.dbs[t->sess.db],
                              .argc = argc,
                              .argv = a,
                              .r = &r,
                              .cmd = c};
        int db0 = t->sess.db;
        c->fn(&ctx);
        /* what the server logs: verbatim forms are added as dispatch does */
        if (ctx_log_effects(&ctx, db0)) t->missing_rewrites++;
    }
    return t->out.ptr;
}

/* th_run(t, "SET", "k", "v", NULL) */
static inline const char *th_run(struct th *t, ...)
{
    const char *argv[64];
    int argc = 0;
    va_list ap;
    va_start(ap, t);
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL && argc < 64) argv[argc++] = s;
    va_end(ap);
    return th_runv(t, argc, argv, NULL);
}

#endif
