/*
 * lode_inspect.c - lode-inspect: reads a data directory without a server
 * and never changes a byte of it. Safe while a server runs on the same
 * directory (it takes no lock and opens every file read-only).
 *
 *   lode-inspect DIR info
 *   lode-inspect DIR keys [PATTERN] [--db N] [--type T]
 *   lode-inspect DIR get KEY [--db N]
 *   lode-inspect DIR dump [--format json|resp] [--db N]
 *   lode-inspect DIR wal [--from LSN] [--to LSN]
 *   lode-inspect DIR functions [--code]
 *   lode-inspect DIR verify
 *
 * The state is rebuilt as the server does at start-up: the checkpoint,
 * then the WAL records above it replayed into an in-memory engine. The
 * FUNCTION libraries (the checkpoint's "functions" record, then the WAL's
 * FUNCTION LOAD / DELETE / FLUSH / RESTORE) are kept as name and code;
 * their functions and flags are not listed, since only running the code
 * (lua/, which tools/ do not use) tells them.
 */
#include "engine/cmd.h"
#include "engine/lode.h"
#include "engine/util.h"
#include "engine/fdump.h"
#include "tools/common.h"
#include "wal/ckpt.h"
#include "wal/reader.h"

#include <errno.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DBS 16

static void usage(void)
{
    fprintf(stderr,
            "Usage: lode-inspect DIR COMMAND [options]\n"
            "  info                               formats, WAL range, keys per db and type\n"
            "  keys [PATTERN] [--db N] [--type T] list keys\n"
            "  get KEY [--db N]                   show one key's type, TTL and value\n"
            "  dump [--format json|resp] [--db N] every key (resp output replays with "
            "redis-cli --pipe)\n"
            "  wal [--from LSN] [--to LSN]        WAL records as commands, with LSN and time\n"
            "  functions [--code]                 FUNCTION libraries: name, engine (and "
            "code)\n"
            "  verify                             check every record; exit 0 clean, 1 torn "
            "tail, 2 corrupt\n");
    exit(2);
}

struct opts {
    int db; /* -1: all */
    const char *type, *pattern, *format;
    unsigned long long from, to;
};

static void parse_opts(int argc, char **argv, int i, struct opts *o)
{
    o->db = -1;
    o->type = o->pattern = NULL;
    o->format = "json";
    o->from = 0;
    o->to = 0;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--db") && i + 1 < argc)
            o->db = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--type") && i + 1 < argc)
            o->type = argv[++i];
        else if (!strcmp(argv[i], "--format") && i + 1 < argc)
            o->format = argv[++i];
        else if (!strcmp(argv[i], "--from") && i + 1 < argc)
            o->from = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--to") && i + 1 < argc)
            o->to = strtoull(argv[++i], NULL, 10);
        else if (argv[i][0] != '-' && !o->pattern)
            o->pattern = argv[i];
        else
            usage();
    }
}

/* Calls fn for every live key of every selected db. */
struct walk {
    struct engine *eng;
    struct db *db;
    void (*fn)(struct walk *w, struct kv *kv);
    const struct opts *o;
    long long count;
    struct buf out;
};

static void visit(struct kv *kv, void *priv)
{
    struct walk *w = priv;
    if (db_is_expired(w->eng, w->db, kv)) return;
    if (w->o->type && strcmp(obj_type_name(kv->type), w->o->type) != 0) return;
    if (w->o->pattern &&
        !util_glob_match(w->o->pattern, strlen(w->o->pattern), kv->data, kv->klen, false))
        return;
    w->fn(w, kv);
}

static void walk_all(struct walk *w)
{
    for (int i = 0; i < w->eng->ndbs; i++) {
        if (w->o->db >= 0 && i != w->o->db) continue;
        w->db = &w->eng->dbs[i];
        uint64_t cur = 0;
        do {
            cur = db_scan(w->db, cur, visit, w);
        } while (cur);
    }
}

static void print_key(struct walk *w, struct kv *kv)
{
    w->out.len = 0;
    tool_repr(&w->out, kv->data, kv->klen);
    printf("%d %s %s\n", w->db->id, obj_type_name(kv->type), w->out.ptr);
    w->count++;
}

static void json_str(struct buf *b, const char *s, size_t n)
{
    buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            buf_printf(b, "\\%c", c);
        else if (c >= 32 && c < 127)
            buf_putc(b, (char)c);
        else
            buf_printf(b, "\\u%04x", c); /* bytes map to U+0000..U+00FF */
    }
    buf_putc(b, '"');
}

static void resp_arg(struct buf *b, const char *s, size_t n)
{
    buf_printf(b, "$%zu\r\n", n);
    buf_append(b, s, n);
    buf_append(b, "\r\n", 2);
}

static int cur_resp_db = -1;

/* Collects a collection's elements for dump (obj_ops.each callback). */
struct elems {
    struct walk *w;
    const struct kv *kv;
    bool resp;
    struct buf args; /* RESP: the pending arguments; JSON: the value so far */
    int nargs;       /* RESP: pending element groups */
    long long n;     /* JSON: elements written */
};

#define RESP_CHUNK 128

static const char *const fill_cmd[OBJ_NTYPES] = {
    [OBJ_LIST] = "RPUSH", [OBJ_SET] = "SADD", [OBJ_HASH] = "HSET", [OBJ_ZSET] = "ZADD"};

static void resp_flush(struct elems *x)
{
    if (!x->nargs) return;
    struct buf *b = &x->w->out;
    int per = x->kv->type == OBJ_HASH || x->kv->type == OBJ_ZSET ? 2 : 1;
    const char *cmd = fill_cmd[x->kv->type];
    buf_printf(b, "*%d\r\n", 2 + per * x->nargs);
    resp_arg(b, cmd, strlen(cmd));
    resp_arg(b, x->kv->data, x->kv->klen);
    buf_append(b, x->args.ptr, x->args.len);
    x->args.len = 0;
    x->nargs = 0;
}

static int elem_cb(void *priv, const char *a, size_t alen, const char *v, size_t vlen)
{
    struct elems *x = priv;
    if (x->resp) {
        if (x->kv->type == OBJ_ZSET) { /* ZADD takes the score first */
            resp_arg(&x->args, v, vlen);
            resp_arg(&x->args, a, alen);
        } else {
            resp_arg(&x->args, a, alen);
            if (v) resp_arg(&x->args, v, vlen);
        }
        if (++x->nargs == RESP_CHUNK) resp_flush(x);
        return 0;
    }
    if (x->n++) buf_putc(&x->args, ',');
    if (x->kv->type == OBJ_HASH) {
        json_str(&x->args, a, alen);
        buf_putc(&x->args, ':');
        json_str(&x->args, v, vlen);
    } else if (x->kv->type == OBJ_ZSET) {
        buf_putc(&x->args, '[');
        json_str(&x->args, a, alen);
        buf_putc(&x->args, ',');
        json_str(&x->args, v, vlen);
        buf_putc(&x->args, ']');
    } else {
        json_str(&x->args, a, alen);
    }
    return 0;
}

static void dump_key(struct walk *w, struct kv *kv)
{
    struct buf *b = &w->out;
    b->len = 0;
    char tmp[UTIL_LLSTR_SIZE];
    long long exp = db_expire_of(w->db, kv);
    const struct obj_ops *ops = obj_get_ops(kv->type);
    if (kv->type != OBJ_STRING && (!ops || !ops->each || !fill_cmd[kv->type])) {
        fprintf(stderr, "skipping key of type %s: not supported by dump yet\n",
                obj_type_name(kv->type));
        return;
    }
    bool resp = !strcmp(w->o->format, "resp");
    if (resp && cur_resp_db != w->db->id) {
        char n[UTIL_LLSTR_SIZE];
        int nl = util_ll2str(n, w->db->id);
        buf_append(b, "*2\r\n", 4);
        resp_arg(b, "SELECT", 6);
        resp_arg(b, n, (size_t)nl);
        cur_resp_db = w->db->id;
    }
    if (kv->type != OBJ_STRING) {
        struct elems x = {.w = w, .kv = kv, .resp = resp};
        buf_init(&x.args);
        if (resp) {
            ops->each(kv->v.ptr, kv->enc, elem_cb, &x);
            resp_flush(&x);
            if (exp >= 0) {
                char n[UTIL_LLSTR_SIZE];
                int nl = util_ll2str(n, exp);
                buf_append(b, "*3\r\n", 4);
                resp_arg(b, "PEXPIREAT", 9);
                resp_arg(b, kv->data, kv->klen);
                resp_arg(b, n, (size_t)nl);
            }
        } else {
            bool obj = kv->type == OBJ_HASH;
            buf_printf(b, "{\"db\":%d,\"key\":", w->db->id);
            json_str(b, kv->data, kv->klen);
            buf_printf(b, ",\"type\":\"%s\",\"value\":%c", obj_type_name(kv->type),
                       obj ? '{' : '[');
            ops->each(kv->v.ptr, kv->enc, elem_cb, &x);
            buf_append(b, x.args.ptr ? x.args.ptr : "", x.args.len);
            buf_putc(b, obj ? '}' : ']');
            if (exp >= 0) buf_printf(b, ",\"expire_ms\":%lld", exp);
            buf_append(b, "}\n", 2);
        }
        buf_release(&x.args);
        fwrite(b->ptr, 1, b->len, stdout);
        w->count++;
        return;
    }
    size_t vlen;
    const char *v = kv_str(kv, tmp, &vlen);
    if (resp) {
        buf_append(b, exp >= 0 ? "*5\r\n" : "*3\r\n", 4);
        resp_arg(b, "SET", 3);
        resp_arg(b, kv->data, kv->klen);
        resp_arg(b, v, vlen);
        if (exp >= 0) {
            char n[UTIL_LLSTR_SIZE];
            int nl = util_ll2str(n, exp);
            resp_arg(b, "PXAT", 4);
            resp_arg(b, n, (size_t)nl);
        }
    } else {
        buf_printf(b, "{\"db\":%d,\"key\":", w->db->id);
        json_str(b, kv->data, kv->klen);
        buf_printf(b, ",\"type\":\"string\",\"value\":");
        json_str(b, v, vlen);
        if (exp >= 0) buf_printf(b, ",\"expire_ms\":%lld", exp);
        buf_append(b, "}\n", 2);
    }
    fwrite(b->ptr, 1, b->len, stdout);
    w->count++;
}

/* Prints one element of a collection for `get`. */
static int print_elem(void *priv, const char *a, size_t alen, const char *v, size_t vlen)
{
    struct buf *b = priv;
    b->len = 0;
    buf_append(b, "  ", 2);
    tool_repr(b, a, alen);
    if (v) {
        buf_append(b, " => ", 4);
        tool_repr(b, v, vlen);
    }
    printf("%s\n", b->ptr);
    return 0;
}

/* Prints one key as `get` shows it (kv is freed); 1 when absent. */
static int print_one(int db, struct kv *kv, long long exp)
{
    if (!kv || (exp >= 0 && exp <= util_ms_now())) {
        fprintf(stderr, "no such key in db %d\n", db);
        kv_free(kv);
        return 1;
    }
    struct buf b = BUF_INIT;
    printf("type: %s\nencoding: %s\n", obj_type_name(kv->type), kv_encoding_name(kv));
    if (exp >= 0) {
        char when[64];
        tool_fmt_time(exp, when, sizeof(when));
        printf("expires: %s (%lld ms)\n", when, exp);
    }
    if (kv->type == OBJ_STRING) {
        char tmp[UTIL_LLSTR_SIZE];
        size_t n;
        const char *v = kv_str(kv, tmp, &n);
        tool_repr(&b, v, n);
        printf("value: %s\n", b.ptr);
    } else {
        const struct obj_ops *ops = obj_get_ops(kv->type);
        if (ops && ops->each) {
            printf("elements:\n");
            ops->each(kv->v.ptr, kv->enc, print_elem, &b);
        }
    }
    buf_release(&b);
    kv_free(kv);
    return 0;
}

/* ---- FUNCTION libraries ---- */

/* The libraries as stored: each one's name and code (the checkpoint's
 * "functions" payload, engine/fdump.h, then the WAL's FUNCTION LOAD /
 * DELETE / FLUSH / RESTORE applied in order). Which functions a library
 * registers, and their flags, only running its code tells (lua/), which
 * this tool does not link: tools/ use engine/ and wal/ only. */
struct flib {
    char *name;
    char *code;
    size_t code_len;
};
static struct flib *flibs;
static int nflibs, cap_flibs;

static void flib_clear(void)
{
    for (int i = 0; i < nflibs; i++) {
        lode_free(flibs[i].name);
        lode_free(flibs[i].code);
    }
    nflibs = 0;
}

static void flib_free_all(void)
{
    flib_clear();
    lode_free(flibs);
    flibs = NULL;
    cap_flibs = 0;
}

static int flib_find(const char *name, size_t len)
{
    for (int i = 0; i < nflibs; i++)
        if (strlen(flibs[i].name) == len && memcmp(flibs[i].name, name, len) == 0) return i;
    return -1;
}

static void flib_delete(int i)
{
    lode_free(flibs[i].name);
    lode_free(flibs[i].code);
    memmove(&flibs[i], &flibs[i + 1], sizeof(*flibs) * (size_t)(nflibs - i - 1));
    nflibs--;
}

/* Adds the library at the end, dropping one of the same name first (the
 * server's order after a LOAD REPLACE or a RESTORE REPLACE). */
static void flib_put(const char *name, size_t nlen, const char *code, size_t clen)
{
    int i = flib_find(name, nlen);
    if (i >= 0) flib_delete(i);
    if (nflibs == cap_flibs) {
        cap_flibs = cap_flibs ? 2 * cap_flibs : 8;
        flibs = lode_realloc(flibs, sizeof(*flibs) * (size_t)cap_flibs);
    }
    struct flib *l = &flibs[nflibs++];
    l->name = lode_malloc(nlen + 1);
    memcpy(l->name, name, nlen);
    l->name[nlen] = 0;
    l->code = lode_malloc(clen ? clen : 1);
    memcpy(l->code, code, clen);
    l->code_len = clen;
}

/* The name= of the shebang line "#!lua name=<name> ..." that starts a
 * library's code (the server checked it before logging the load). */
static bool shebang_name(const char *code, size_t len, const char **name, size_t *nlen)
{
    const char *end = memchr(code, '\n', len);
    if (!end) end = code + len;
    if (end - code < 2 || code[0] != '#' || code[1] != '!') return false;
    for (const char *p = code + 2; p < end;) {
        while (p < end && *p == ' ') p++;
        const char *t = p;
        while (p < end && *p != ' ') p++;
        if (p - t > 5 && memcmp(t, "name=", 5) == 0) {
            *name = t + 5;
            *nlen = (size_t)(p - t - 5);
            return true;
        }
    }
    return false;
}

/* A FUNCTION RESTORE payload: flush first, or add its libraries (APPEND,
 * the default: the server refused clashes before logging), or replace
 * those of the same names. */
static int flib_restore(const char *p, size_t n, bool flush, struct buf *err)
{
    struct fdump_lib *libs;
    int nlibs;
    if (fdump_decode(p, n, &libs, &nlibs) != 0) {
        buf_printf(err, "the functions payload does not decode");
        return -1;
    }
    if (flush) flib_clear();
    for (int i = 0; i < nlibs; i++)
        flib_put(libs[i].name, libs[i].name_len, libs[i].code, libs[i].code_len);
    lode_free(libs);
    return 0;
}

static int functions_load(const char *p, size_t n, struct buf *err)
{
    return flib_restore(p, n, true, err);
}

static bool arg_eq(const struct slice *a, const char *s)
{
    return a->len == strlen(s) && strncasecmp(a->ptr, s, a->len) == 0;
}

/* A logged FUNCTION command. The server logged it because it succeeded,
 * so its options are valid: LOAD [REPLACE] code, DELETE name, FLUSH
 * [ASYNC|SYNC], RESTORE payload [FLUSH|APPEND|REPLACE]. */
static int functions_replay(const struct cmd_def *cmd, int argc, const struct slice *argv,
                            struct reply *r)
{
    struct buf err = BUF_INIT;
    int rc = 0;
    const struct slice *last = &argv[argc - 1];
    const char *name;
    size_t nlen;
    switch (cmd->id) {
    case CMD_FUNCTION_LOAD:
        if (shebang_name(last->ptr, last->len, &name, &nlen)) {
            flib_put(name, nlen, last->ptr, last->len);
        } else {
            buf_printf(&err, "ERR a logged library without a name in its shebang");
            rc = -1;
        }
        break;
    case CMD_FUNCTION_DELETE:
        rc = flib_find(argv[2].ptr, argv[2].len);
        if (rc >= 0) {
            flib_delete(rc);
            rc = 0;
        } else {
            buf_printf(&err, "ERR Library not found");
        }
        break;
    case CMD_FUNCTION_FLUSH: flib_clear(); break;
    case CMD_FUNCTION_RESTORE:
        rc = flib_restore(argv[2].ptr, argv[2].len, argc > 3 && arg_eq(&argv[3], "flush"), &err);
        break;
    default: buf_printf(&err, "ERR not a FUNCTION write"); rc = -1;
    }
    if (rc != 0)
        reply_error(r, err.ptr);
    else
        reply_ok(r);
    buf_release(&err);
    return 0;
}

static const struct tool_functions with_functions = {functions_load, functions_replay};

static int cmd_functions(const char *dir, bool code)
{
    struct engine eng;
    engine_init(&eng, MAX_DBS);
    int end = tool_load_with(dir, &eng, 0, true, NULL, &with_functions);
    engine_release(&eng);
    if (end < 0) {
        flib_free_all();
        return 2;
    }
    struct buf b = BUF_INIT;
    for (int i = 0; i < nflibs; i++) {
        b.len = 0;
        tool_repr(&b, flibs[i].name, strlen(flibs[i].name));
        printf("library %s engine LUA\n", b.ptr);
        if (code) {
            /* the code as loaded, between two marker lines */
            printf("  code:\n");
            fwrite(flibs[i].code, 1, flibs[i].code_len, stdout);
            if (!flibs[i].code_len || flibs[i].code[flibs[i].code_len - 1] != '\n') putchar('\n');
            printf("  end of code\n");
        }
    }
    fprintf(stderr, "%d libraries\n", nflibs);
    buf_release(&b);
    flib_free_all();
    return 0;
}

static int cmd_info(const char *dir)
{
    struct engine eng;
    engine_init(&eng, MAX_DBS);
    struct wal_reader_status st;
    int end = tool_load_with(dir, &eng, 0, false, &st, &with_functions);
    if (end < 0) return 2;
    printf("data directory: %s\n", dir);
    printf("wal format: 1\n");
    char ckdir[4096];
    snprintf(ckdir, sizeof(ckdir), "%s/checkpoint", dir);
    struct ckpt *ck = NULL;
    struct buf err = BUF_INIT;
    struct ckpt_meta m = {0};
    int rc = ckpt_open(&ck, ckdir, true, &err);
    if (rc == -ENOENT) {
        printf("checkpoint: none (the state comes from the WAL alone)\n");
    } else if (rc != 0) {
        printf("checkpoint: unreadable: %s\n", err.ptr ? err.ptr : "?");
    } else if (ckpt_read_meta(ck, &m) != 0 || m.lsn == 0) {
        printf("checkpoint format: %u\ncheckpoint: none committed yet\n", m.version);
    } else {
        char when[64];
        tool_fmt_time((long long)m.time_ms, when, sizeof(when));
        printf("checkpoint format: %u\ncheckpoint LSN: %llu\ncheckpoint time: %s\n", m.version,
               (unsigned long long)m.lsn, when);
    }
    ckpt_close(ck);
    buf_release(&err);
    printf("wal segments: %llu\n", (unsigned long long)st.segments);
    printf("wal records: %llu (LSN %llu..%llu), %llu bytes\n", (unsigned long long)st.records,
           (unsigned long long)st.first_lsn, (unsigned long long)st.last_lsn,
           (unsigned long long)st.bytes);
    printf("wal end: %s\n", end == WAL_END_CLEAN  ? "clean"
                            : end == WAL_END_TORN ? "torn tail (lode-recover repair cuts it)"
                                                  : "CORRUPT (run lode-recover check)");
    for (int i = 0; i < eng.ndbs; i++) {
        struct db *db = &eng.dbs[i];
        if (!db_size(db)) continue;
        long long per_type[OBJ_NTYPES] = {0};
        struct dict_iter it;
        dict_iter_init(&it, &db->keys);
        struct dnode *n;
        long long live = 0;
        while ((n = dict_iter_next(&it))) {
            struct kv *kv = (struct kv *)n;
            if (db_is_expired(&eng, db, kv)) continue;
            per_type[kv->type]++;
            live++;
        }
        dict_iter_release(&it);
        printf("db%d: keys=%lld expires=%zu", i, live, db_expires_count(db));
        for (int t = 0; t < OBJ_NTYPES; t++)
            if (per_type[t]) printf(" %s=%lld", obj_type_name(t), per_type[t]);
        printf("\n");
    }
    printf("function libraries: %d\n", nflibs);
    flib_free_all();
    engine_release(&eng);
    return 0;
}

static int cmd_wal(const char *dir, const struct opts *o)
{
    struct wal_reader *r;
    struct buf line = BUF_INIT;
    if (tool_open_wal(dir, &r) != 0) return 2;
    struct wal_record rec;
    const char *argv[1024];
    size_t lens[1024];
    while (wal_reader_next(r, &rec) == 1) {
        if (rec.lsn < o->from) continue;
        if (o->to && rec.lsn > o->to) break;
        char when[64];
        tool_fmt_time((long long)rec.time_ms, when, sizeof(when));
        printf("LSN %llu  %s  db %u  (%u command%s)\n", (unsigned long long)rec.lsn, when, rec.db,
               rec.ncmds, rec.ncmds == 1 ? "" : "s");
        size_t off = 0;
        int argc;
        while ((argc = wal_next_command(&rec, &off, argv, lens, 1024)) > 0) {
            line.len = 0;
            buf_append(&line, "    ", 4);
            for (int i = 0; i < argc; i++) {
                if (i) buf_putc(&line, ' ');
                tool_repr(&line, argv[i], lens[i]);
            }
            printf("%s\n", line.ptr);
        }
        if (argc < 0) printf("    (a command with more than 1024 arguments)\n");
    }
    const struct wal_reader_status *st = wal_reader_status(r);
    int end = st->end;
    if (end != WAL_END_CLEAN)
        fprintf(stderr, "the log ends %s at %s offset %llu: %s\n",
                end == WAL_END_TORN ? "in a torn record" : "in corruption", st->segment,
                (unsigned long long)st->offset, st->why ? st->why : "");
    wal_reader_close(r);
    buf_release(&line);
    return 0;
}

static int cmd_verify(const char *dir)
{
    struct engine eng;
    engine_init(&eng, MAX_DBS);
    struct wal_reader_status st;
    int end = tool_load(dir, &eng, 0, true, &st);
    engine_release(&eng);
    if (end < 0) return 2;
    printf("%llu records in %llu segments, LSN %llu..%llu: %s\n", (unsigned long long)st.records,
           (unsigned long long)st.segments, (unsigned long long)st.first_lsn,
           (unsigned long long)st.last_lsn,
           end == WAL_END_CLEAN  ? "ok"
           : end == WAL_END_TORN ? "torn tail"
                                 : "CORRUPT");
    return end;
}

int main(int argc, char **argv)
{
    if (argc < 3) usage();
    const char *dir = argv[1], *cmd = argv[2];
    struct opts o;
    if (!strcmp(cmd, "info")) return cmd_info(dir);
    if (!strcmp(cmd, "verify")) return cmd_verify(dir);
    if (!strcmp(cmd, "functions")) {
        if (argc > 4 || (argc == 4 && strcmp(argv[3], "--code") != 0)) usage();
        return cmd_functions(dir, argc == 4);
    }
    if (!strcmp(cmd, "wal")) {
        parse_opts(argc, argv, 3, &o);
        return cmd_wal(dir, &o);
    }
    bool get = !strcmp(cmd, "get");
    if (!get && strcmp(cmd, "keys") != 0 && strcmp(cmd, "dump") != 0) usage();
    parse_opts(argc, argv, 3, &o);
    if (get && !o.pattern) usage();
    if (!strcmp(cmd, "dump") && strcmp(o.format, "json") != 0 && strcmp(o.format, "resp") != 0)
        usage();
    if (get) {
        /* a point lookup reads one key from the checkpoint when it can */
        int db = o.db < 0 ? 0 : o.db;
        struct kv *kv = NULL;
        long long exp = -1;
        int found = tool_point_get(dir, db, o.pattern, strlen(o.pattern), &kv, &exp);
        if (found >= 0) return print_one(db, found ? kv : NULL, exp);
    }
    struct engine eng;
    engine_init(&eng, MAX_DBS);
    if (tool_load(dir, &eng, 0, true, NULL) < 0) return 2;
    eng.now_ms = util_ms_now();
    struct walk w = {.eng = &eng, .o = &o};
    buf_init(&w.out);
    int rc = 0;
    if (get) {
        int db = o.db < 0 ? 0 : o.db;
        struct kv *kv = db_find(&eng.dbs[db], o.pattern, strlen(o.pattern));
        long long exp = kv ? db_expire_of(&eng.dbs[db], kv) : -1;
        rc = print_one(db, kv ? kv_dup(kv, kv->data, kv->klen) : NULL, exp);
    } else {
        w.fn = !strcmp(cmd, "keys") ? print_key : dump_key;
        walk_all(&w);
        if (w.fn == print_key) fprintf(stderr, "%lld keys\n", w.count);
    }
    buf_release(&w.out);
    engine_release(&eng);
    return rc;
}
