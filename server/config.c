/*
 * config.c - configuration table, file loading, CONFIG GET/SET/REWRITE
 * (see config.h).
 */
#include "server/config.h"
#include "engine/lode.h"
#include "engine/notify.h"
#include "engine/util.h"
#include "server/resp.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* T_FIXED: a Redis parameter that names something Lodestore always does
 * one way; it reads as that value and accepts only it (enums[0]: why) */
enum cfg_type { T_BOOL, T_INT, T_OCTAL, T_MEM, T_STR, T_ENUM, T_BIND, T_OBUF, T_NOTIFY, T_FIXED };
enum { F_IMMUTABLE = 1, F_NULLABLE = 2 };

static const char *const durability_names[] = {"always", "everysec", "no", NULL};
static const char *const checkpoint_method_names[] = {"thread", "fork", NULL};
static const char *const loglevel_names[] = {"debug", "verbose", "notice", "warning", NULL};
/* in Redis's order: its error text lists them so */
static const char *const policy_names[] = {"volatile-lru",   "volatile-lfu", "volatile-random",
                                           "volatile-ttl",   "allkeys-lru",  "allkeys-lfu",
                                           "allkeys-random", "noeviction",   NULL};
static const char *const obuf_names[] = {"normal", "slave", "pubsub"};
static const char *const appendonly_why[] = {
    "Lodestore always logs every write (the durability parameter says when it is synced)", NULL};
static const char *const save_why[] = {
    "Lodestore takes no RDB snapshots (checkpoints follow checkpoint-wal-bytes and "
    "checkpoint-interval)",
    NULL};

struct param {
    const char *name;
    int type;
    size_t off;
    long long min, max;
    int flags;
    const char *const *enums;
    const char *def;
};

#define O(f) offsetof(struct config, f)
static const struct param params[] = {
    {"port", T_INT, O(port), 0, 65535, F_IMMUTABLE, NULL, "6379"},
    {"bind", T_BIND, O(bind), 0, 0, F_IMMUTABLE, NULL, "127.0.0.1"},
    {"unixsocket", T_STR, O(unixsocket), 0, 0, F_IMMUTABLE | F_NULLABLE, NULL, ""},
    {"unixsocketperm", T_OCTAL, O(unixsocketperm), 0, 0777, F_IMMUTABLE, NULL, "0"},
    {"dir", T_STR, O(dir), 0, 0, F_IMMUTABLE, NULL, "./data"},
    {"databases", T_INT, O(databases), 1, INT_MAX, F_IMMUTABLE, NULL, "16"},
    {"requirepass", T_STR, O(requirepass), 0, 0, F_NULLABLE, NULL, ""},
    {"protected-mode", T_BOOL, O(protected_mode), 0, 0, 0, NULL, "yes"},
    {"maxclients", T_INT, O(maxclients), 1, 4294967295LL, 0, NULL, "10000"},
    {"timeout", T_INT, O(timeout), 0, INT_MAX, 0, NULL, "0"},
    {"tcp-keepalive", T_INT, O(tcp_keepalive), 0, INT_MAX, 0, NULL, "300"},
    {"tcp-backlog", T_INT, O(tcp_backlog), 0, INT_MAX, F_IMMUTABLE, NULL, "511"},
    {"loglevel", T_ENUM, O(loglevel), 0, 0, 0, loglevel_names, "notice"},
    {"logfile", T_STR, O(logfile), 0, 0, F_IMMUTABLE, NULL, ""},
    {"daemonize", T_BOOL, O(daemonize), 0, 0, F_IMMUTABLE, NULL, "no"},
    {"pidfile", T_STR, O(pidfile), 0, 0, F_IMMUTABLE | F_NULLABLE, NULL, ""},
    {"durability", T_ENUM, O(durability), 0, 0, 0, durability_names, "always"},
    /* read by tools written for Redis (redis-benchmark prints them) */
    {"appendonly", T_FIXED, 0, 0, 0, 0, appendonly_why, "yes"},
    {"save", T_FIXED, 0, 0, 0, 0, save_why, ""},
    {"wal-segment-size", T_MEM, O(wal_segment_size), 65536, 1LL << 40, F_IMMUTABLE, NULL, "64mb"},
    {"wal-spare-segments", T_INT, O(wal_spare_segments), 0, 1024, 0, NULL, "4"},
    {"wal-prefill", T_BOOL, O(wal_prefill), 0, 0, 0, NULL, "yes"},
    {"checkpoint-wal-bytes", T_MEM, O(checkpoint_wal_bytes), 1, LLONG_MAX, 0, NULL, "256mb"},
    {"checkpoint-interval", T_INT, O(checkpoint_interval), 1, INT_MAX, 0, NULL, "3600"},
    {"checkpoint-method", T_ENUM, O(checkpoint_method), 0, 0, 0, checkpoint_method_names, "thread"},
    {"checkpoint-nice", T_INT, O(checkpoint_nice), 0, 19, 0, NULL, "19"},
    {"checkpoint-key-delay", T_INT, O(checkpoint_key_delay), 0, 10000000, 0, NULL, "0"},
    {"wal-archive", T_BOOL, O(wal_archive), 0, 0, 0, NULL, "no"},
    {"proto-max-bulk-len", T_MEM, O(proto_max_bulk_len), 1024 * 1024, LLONG_MAX, 0, NULL,
     "536870912"},
    {"client-query-buffer-limit", T_MEM, O(client_query_buffer_limit), 1024 * 1024, LLONG_MAX, 0,
     NULL, "1073741824"},
    {"client-output-buffer-limit", T_OBUF, O(obuf), 0, 0, 0, NULL,
     "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"},
    {"hz", T_INT, O(hz), 0, INT_MAX, 0, NULL, "10"},
    {"busy-poll-us", T_INT, O(busy_poll_us), 0, 10000, 0, NULL, "20"},
    {"slowlog-log-slower-than", T_INT, O(slowlog_log_slower_than), -1, LLONG_MAX, 0, NULL, "10000"},
    {"slowlog-max-len", T_INT, O(slowlog_max_len), 0, LONG_MAX, 0, NULL, "128"},
    {"maxmemory", T_MEM, O(maxmemory), 0, LLONG_MAX, 0, NULL, "0"},
    {"hash-max-listpack-entries", T_INT, O(lim.hash_max_listpack_entries), 0, LONG_MAX, 0, NULL,
     "512"},
    {"hash-max-listpack-value", T_INT, O(lim.hash_max_listpack_value), 0, LONG_MAX, 0, NULL, "64"},
    {"set-max-intset-entries", T_INT, O(lim.set_max_intset_entries), 0, LONG_MAX, 0, NULL, "512"},
    {"zset-max-listpack-entries", T_INT, O(lim.zset_max_listpack_entries), 0, LONG_MAX, 0, NULL,
     "128"},
    {"zset-max-listpack-value", T_INT, O(lim.zset_max_listpack_value), 0, LONG_MAX, 0, NULL, "64"},
    {"list-max-listpack-size", T_INT, O(lim.list_max_listpack_size), INT_MIN, INT_MAX, 0, NULL,
     "-2"},
    {"list-compress-depth", T_INT, O(lim.list_compress_depth), 0, INT_MAX, 0, NULL, "0"},
    {"hll-sparse-max-bytes", T_MEM, O(lim.hll_sparse_max_bytes), 0, LONG_MAX, 0, NULL, "3000"},
    {"notify-keyspace-events", T_NOTIFY, O(notify_keyspace_events), 0, 0, 0, NULL, ""},
    {"maxmemory-policy", T_ENUM, O(maxmemory_policy), 0, 0, 0, policy_names, "noeviction"},
    {"busy-reply-threshold", T_INT, O(busy_reply_threshold), 0, LONG_MAX, 0, NULL, "5000"},
};
#undef O
#define NPARAMS (sizeof(params) / sizeof(params[0]))

const char *config_durability_name(int mode)
{
    return mode >= 0 && mode <= DUR_NO ? durability_names[mode] : "unknown";
}

/* Redis 7's older names of renamed parameters: accepted everywhere, listed
 * by CONFIG GET under their own name, rewritten under the current one. */
static const struct {
    const char *alias, *name;
} aliases[] = {
    {"hash-max-ziplist-entries", "hash-max-listpack-entries"},
    {"hash-max-ziplist-value", "hash-max-listpack-value"},
    {"zset-max-ziplist-entries", "zset-max-listpack-entries"},
    {"zset-max-ziplist-value", "zset-max-listpack-value"},
    {"list-max-ziplist-size", "list-max-listpack-size"},
    {"lua-time-limit", "busy-reply-threshold"},
    {"appendfsync", "durability"}, /* the same three values */
};
#define NALIASES (sizeof(aliases) / sizeof(aliases[0]))

static const struct param *find_param(const char *name, size_t n)
{
    for (size_t i = 0; i < NPARAMS; i++)
        if (util_eq_nocase(name, n, params[i].name)) return &params[i];
    for (size_t i = 0; i < NALIASES; i++)
        if (util_eq_nocase(name, n, aliases[i].alias))
            return find_param(aliases[i].name, strlen(aliases[i].name));
    return NULL;
}

bool config_known(const char *name, size_t nlen)
{
    return find_param(name, nlen) != NULL;
}

/* "1gb", "64mb", "100k", "2048": Redis's memtoll units (k = 1000, kb = 1024). */
static bool parse_mem(const char *s, size_t n, long long *out)
{
    size_t d = 0;
    while (d < n && (isdigit((unsigned char)s[d]) || (d == 0 && s[d] == '-'))) d++;
    long long mul = 1;
    const char *u = s + d;
    size_t ul = n - d;
    if (ul == 0)
        mul = 1;
    else if (util_eq_nocase(u, ul, "b"))
        mul = 1;
    else if (util_eq_nocase(u, ul, "k"))
        mul = 1000;
    else if (util_eq_nocase(u, ul, "kb"))
        mul = 1024;
    else if (util_eq_nocase(u, ul, "m"))
        mul = 1000LL * 1000;
    else if (util_eq_nocase(u, ul, "mb"))
        mul = 1024LL * 1024;
    else if (util_eq_nocase(u, ul, "g"))
        mul = 1000LL * 1000 * 1000;
    else if (util_eq_nocase(u, ul, "gb"))
        mul = 1024LL * 1024 * 1024;
    else
        return false;
    long long v;
    if (!util_str2ll(s, d, &v)) return false;
    if (v < 0 || (v > 0 && mul > LLONG_MAX / v)) return false;
    *out = v * mul;
    return true;
}

static void set_str(char **slot, const char *v, size_t n, bool nullable)
{
    free(*slot);
    if (nullable && n == 0) {
        *slot = NULL;
        return;
    }
    *slot = malloc(n + 1);
    if (!*slot) LODE_PANIC("out of memory");
    memcpy(*slot, v, n);
    (*slot)[n] = '\0';
}

/* Applies one value; on failure writes the reason (Redis's wording) to err. */
static int apply(struct config *c, const struct param *p, const char *v, size_t n, struct buf *err)
{
    char *base = (char *)c;
    switch (p->type) {
    case T_BOOL:
        if (util_eq_nocase(v, n, "yes"))
            *(bool *)(base + p->off) = true;
        else if (util_eq_nocase(v, n, "no"))
            *(bool *)(base + p->off) = false;
        else {
            buf_printf(err, "argument must be 'yes' or 'no'");
            return -1;
        }
        return 0;
    case T_INT:
    case T_OCTAL:
    case T_MEM: {
        long long x = 0;
        bool ok;
        if (p->type == T_OCTAL) { /* file modes are octal, as in redis.conf */
            ok = n > 0 && n < 12;
            for (size_t i = 0; ok && i < n; i++) {
                ok = v[i] >= '0' && v[i] <= '7';
                x = x * 8 + (v[i] - '0');
            }
        } else {
            ok = p->type == T_INT ? util_str2ll(v, n, &x) : parse_mem(v, n, &x);
        }
        if (!ok) {
            buf_printf(err, p->type != T_MEM ? "argument couldn't be parsed into an integer"
                                             : "argument must be a memory value");
            return -1;
        }
        if (x < p->min || x > p->max) {
            buf_printf(err, "argument must be between %lld and %lld inclusive", p->min, p->max);
            return -1;
        }
        /* hz is accepted in any range and clamped, as Redis does */
        if (p->off == offsetof(struct config, hz)) x = x < 1 ? 1 : x > 500 ? 500 : x;
        *(long long *)(base + p->off) = x;
        return 0;
    }
    case T_STR: set_str((char **)(base + p->off), v, n, p->flags & F_NULLABLE); return 0;
    case T_ENUM:
        for (int i = 0; p->enums[i]; i++) {
            if (util_eq_nocase(v, n, p->enums[i])) {
                *(int *)(base + p->off) = i;
                return 0;
            }
        }
        buf_printf(err, "argument(s) must be one of the following: ");
        for (int i = 0; p->enums[i]; i++) buf_printf(err, "%s%s", i ? ", " : "", p->enums[i]);
        return -1;
    case T_FIXED:
        if (util_eq_nocase(v, n, p->def)) return 0;
        buf_printf(err, "%s", p->enums[0]);
        return -1;
    case T_NOTIFY: {
        int flags = notify_parse_flags(v, n);
        if (flags < 0) {
            buf_printf(err, "%s", NOTIFY_ERR_CHARS);
            return -1;
        }
        *(int *)(base + p->off) = flags;
        return 0;
    }
    default: break;
    }
    /* list-valued parameters: split the value like a config line */
    struct resp_parser sp;
    resp_parser_init(&sp);
    int rc = 0;
    if (!resp_split_inline(&sp, v, n)) {
        buf_printf(err, "unbalanced quotes");
        rc = -1;
        goto out;
    }
    struct slice a[64];
    int argc = sp.argc < 64 ? resp_args(&sp, NULL, a) : -1;
    if (p->type == T_BIND) {
        if (argc < 1 || argc > CFG_MAX_BIND) {
            buf_printf(err, "Too many bind addresses specified.");
            rc = -1;
            goto out;
        }
        for (int i = 0; i < c->nbind; i++) free(c->bind[i]);
        for (int i = 0; i < argc; i++) {
            c->bind[i] = NULL;
            set_str(&c->bind[i], a[i].ptr, a[i].len, false);
        }
        c->nbind = argc;
    } else { /* T_OBUF: "class hard soft seconds" groups */
        if (argc <= 0 || argc % 4) {
            buf_printf(err, "Wrong number of arguments in buffer limit configuration.");
            rc = -1;
            goto out;
        }
        struct obuf_limit lim[OBUF_NCLASSES];
        memcpy(lim, c->obuf, sizeof(lim));
        for (int i = 0; i < argc; i += 4) {
            int cls = -1;
            if (util_eq_nocase(a[i].ptr, a[i].len, "normal"))
                cls = OBUF_NORMAL;
            else if (util_eq_nocase(a[i].ptr, a[i].len, "slave") ||
                     util_eq_nocase(a[i].ptr, a[i].len, "replica"))
                cls = OBUF_REPLICA;
            else if (util_eq_nocase(a[i].ptr, a[i].len, "pubsub"))
                cls = OBUF_PUBSUB;
            long long h, s, sec;
            if (cls < 0 || !parse_mem(a[i + 1].ptr, a[i + 1].len, &h) ||
                !parse_mem(a[i + 2].ptr, a[i + 2].len, &s) ||
                !util_str2ll(a[i + 3].ptr, a[i + 3].len, &sec) || sec < 0) {
                buf_printf(err, "Invalid client class specified in buffer limit configuration.");
                rc = -1;
                goto out;
            }
            lim[cls].hard = h;
            lim[cls].soft = s;
            lim[cls].soft_s = sec;
        }
        memcpy(c->obuf, lim, sizeof(lim));
    }
out:
    resp_parser_release(&sp);
    return rc;
}

void config_init(struct config *c)
{
    memset(c, 0, sizeof(*c));
    c->active_expire = true;
    struct buf err = BUF_INIT;
    for (size_t i = 0; i < NPARAMS; i++) {
        const struct param *p = &params[i];
        if (apply(c, p, p->def, strlen(p->def), &err) != 0) LODE_PANIC("bad config default");
    }
    buf_release(&err);
}

void config_release(struct config *c)
{
    for (size_t i = 0; i < NPARAMS; i++)
        if (params[i].type == T_STR) free(*(char **)((char *)c + params[i].off));
    for (int i = 0; i < c->nbind; i++) free(c->bind[i]);
    free(c->config_file);
    memset(c, 0, sizeof(*c));
}

bool config_render(struct config *c, const char *name, struct buf *out)
{
    const struct param *p = find_param(name, strlen(name));
    if (!p) return false;
    char *base = (char *)c;
    switch (p->type) {
    case T_BOOL: buf_printf(out, "%s", *(bool *)(base + p->off) ? "yes" : "no"); break;
    case T_INT: buf_printf(out, "%lld", *(long long *)(base + p->off)); break;
    case T_OCTAL: buf_printf(out, "%llo", *(long long *)(base + p->off)); break;
    case T_MEM: buf_printf(out, "%lld", *(long long *)(base + p->off)); break;
    case T_STR: {
        const char *s = *(char **)(base + p->off);
        if (s) buf_append(out, s, strlen(s));
        break;
    }
    case T_ENUM: buf_printf(out, "%s", p->enums[*(int *)(base + p->off)]); break;
    case T_NOTIFY: notify_render_flags(*(int *)(base + p->off), out); break;
    case T_FIXED: buf_printf(out, "%s", p->def); break;
    case T_BIND:
        for (int i = 0; i < c->nbind; i++) buf_printf(out, "%s%s", i ? " " : "", c->bind[i]);
        break;
    case T_OBUF:
        for (int i = 0; i < OBUF_NCLASSES; i++)
            buf_printf(out, "%s%s %lld %lld %lld", i ? " " : "", obuf_names[i], c->obuf[i].hard,
                       c->obuf[i].soft, c->obuf[i].soft_s);
        break;
    }
    return true;
}

int config_get(struct config *c, const char *pattern, size_t plen, struct config_pair **out,
               int *nout, int *cap)
{
    int added = 0;
    for (size_t i = 0; i < NPARAMS + NALIASES; i++) {
        const char *name = i < NPARAMS ? params[i].name : aliases[i - NPARAMS].alias;
        if (!util_glob_match(pattern, plen, name, strlen(name), true)) continue;
        bool dup = false;
        for (int k = 0; k < *nout; k++)
            if ((*out)[k].name == name) dup = true;
        if (dup) continue;
        if (*nout == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *out = lode_realloc(*out, sizeof(**out) * (size_t)*cap);
        }
        struct config_pair *pr = &(*out)[(*nout)++];
        pr->name = name;
        buf_init(&pr->value);
        config_render(c, name, &pr->value);
        added++;
    }
    return added;
}

int config_set(struct config *c, const char *name, size_t nlen, const char *val, size_t vlen,
               struct buf *err)
{
    const struct param *p = find_param(name, nlen);
    if (!p) {
        buf_printf(err, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                   (int)nlen, name);
        return -1;
    }
    if (p->flags & F_IMMUTABLE) {
        buf_printf(err,
                   "ERR CONFIG SET failed (possibly related to argument '%s') - can't set "
                   "immutable config",
                   p->name);
        return -1;
    }
    struct buf why = BUF_INIT;
    int rc = apply(c, p, val, vlen, &why);
    if (rc != 0)
        buf_printf(err, "ERR CONFIG SET failed (possibly related to argument '%s') - %s", p->name,
                   why.ptr ? why.ptr : "invalid argument");
    buf_release(&why);
    return rc;
}

/* Processes one config line (already split). Returns 0 or -1 with err. */
static int load_line(struct config *c, int argc, const struct slice *a, struct buf *err)
{
    if (argc == 0) return 0;
    const struct param *p = find_param(a[0].ptr, a[0].len);
    if (!p || argc < 2) {
        buf_printf(err, "Bad directive or wrong number of arguments");
        return -1;
    }
    /* multi-word values (bind, client-output-buffer-limit) are joined back */
    struct buf v = BUF_INIT;
    for (int i = 1; i < argc; i++) {
        if (i > 1) buf_putc(&v, ' ');
        buf_append(&v, a[i].ptr, a[i].len);
    }
    if (p->type != T_BIND && p->type != T_OBUF && argc != 2) {
        buf_release(&v);
        buf_printf(err, "wrong number of arguments");
        return -1;
    }
    int rc;
    if (p->type == T_OBUF) {
        /* each file line names one class: merge into the current limits */
        rc = apply(c, p, v.ptr, v.len, err);
    } else {
        rc = apply(c, p, v.ptr ? v.ptr : "", v.len, err);
    }
    buf_release(&v);
    return rc;
}

static int load_text(struct config *c, const char *text, struct buf *err, const char *what)
{
    struct resp_parser sp;
    resp_parser_init(&sp);
    int lineno = 0, rc = 0;
    const char *s = text;
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        lineno++;
        size_t k = 0;
        while (k < n && isspace((unsigned char)s[k])) k++;
        if (k < n && s[k] != '#') {
            struct buf why = BUF_INIT;
            struct slice a[128];
            if (!resp_split_inline(&sp, s, n)) {
                buf_printf(&why, "Unbalanced quotes in configuration line");
                rc = -1;
            } else if (sp.argc > 128) {
                buf_printf(&why, "Too many arguments");
                rc = -1;
            } else {
                int argc = resp_args(&sp, NULL, a);
                rc = load_line(c, argc, a, &why);
            }
            if (rc != 0) {
                buf_printf(err,
                           "\n*** FATAL CONFIG FILE ERROR (Lodestore) ***\n"
                           "Reading the configuration %s, at line %d\n>>> '%.*s'\n%s\n",
                           what, lineno, (int)n, s, why.ptr ? why.ptr : "");
                buf_release(&why);
                break;
            }
            buf_release(&why);
        }
        s += n;
        if (*s == '\n') s++;
    }
    resp_parser_release(&sp);
    return rc;
}

int config_load_file(struct config *c, const char *path, struct buf *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        buf_printf(err, "Fatal error, can't open config file '%s': %s", path, strerror(errno));
        return -1;
    }
    struct buf text = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) buf_append(&text, chunk, n);
    if (f != stdin) fclose(f);
    int rc = load_text(c, text.ptr ? text.ptr : "", err, "file");
    buf_release(&text);
    if (rc == 0 && strcmp(path, "-") != 0) {
        char *abs = realpath(path, NULL);
        free(c->config_file);
        c->config_file = abs;
    }
    return rc;
}

int config_load_string(struct config *c, const char *text, struct buf *err)
{
    return load_text(c, text, err, "string");
}

/* "name value" for the config file: empty or spaced single values quoted
 * so that the file loads back to the same settings. */
static void render_line(struct config *c, const struct param *p, struct buf *out)
{
    struct buf v = BUF_INIT;
    config_render(c, p->name, &v);
    buf_printf(out, "%s ", p->name);
    bool list = p->type == T_BIND || p->type == T_OBUF;
    if (v.len == 0 || (!list && memchr(v.ptr, ' ', v.len))) {
        buf_putc(out, '"');
        for (size_t i = 0; i < v.len; i++) {
            if (v.ptr[i] == '"' || v.ptr[i] == '\\') buf_putc(out, '\\');
            buf_putc(out, v.ptr[i]);
        }
        buf_putc(out, '"');
    } else {
        buf_append(out, v.ptr, v.len);
    }
    buf_putc(out, '\n');
    buf_release(&v);
}

int config_rewrite(struct config *c, struct buf *err)
{
    if (!c->config_file) {
        buf_printf(err, "ERR The server is running without a config file");
        return -1;
    }
    /* Keep comments and unknown lines; replace the first line of each known
     * parameter with its current value, drop repeats, append the rest. */
    FILE *f = fopen(c->config_file, "r");
    struct buf in = BUF_INIT, out = BUF_INIT;
    if (f) {
        char chunk[4096];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) buf_append(&in, chunk, n);
        fclose(f);
    }
    bool done[NPARAMS] = {false};
    const char *s = in.ptr ? in.ptr : "";
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        size_t k = 0;
        while (k < n && isspace((unsigned char)s[k])) k++;
        size_t w = k;
        while (w < n && !isspace((unsigned char)s[w])) w++;
        const struct param *p = (k < n && s[k] != '#') ? find_param(s + k, w - k) : NULL;
        if (p) {
            size_t idx = (size_t)(p - params);
            if (!done[idx]) {
                render_line(c, p, &out);
                done[idx] = true;
            }
        } else {
            buf_append(&out, s, n);
            buf_putc(&out, '\n');
        }
        s += n;
        if (*s == '\n') s++;
    }
    for (size_t i = 0; i < NPARAMS; i++) {
        if (done[i]) continue;
        struct buf cur = BUF_INIT, def = BUF_INIT;
        config_render(c, params[i].name, &cur);
        struct config d;
        config_init(&d);
        config_render(&d, params[i].name, &def);
        config_release(&d);
        if (cur.len != def.len || (cur.len && memcmp(cur.ptr, def.ptr, cur.len)))
            render_line(c, &params[i], &out);
        buf_release(&cur);
        buf_release(&def);
    }
    /* write to a temporary file, fsync, rename: never a half-written file */
    struct buf tmp = BUF_INIT;
    buf_printf(&tmp, "%s.tmp-%d", c->config_file, (int)getpid());
    int rc = -1;
    FILE *o = fopen(tmp.ptr, "w");
    if (!o || fwrite(out.ptr ? out.ptr : "", 1, out.len, o) != out.len || fflush(o) != 0 ||
        fsync(fileno(o)) != 0) {
        buf_printf(err, "ERR Rewriting config file: %s", strerror(errno));
        if (o) fclose(o);
        unlink(tmp.ptr);
    } else {
        fclose(o);
        if (rename(tmp.ptr, c->config_file) != 0) {
            buf_printf(err, "ERR Rewriting config file: %s", strerror(errno));
            unlink(tmp.ptr);
        } else {
            rc = 0;
        }
    }
    buf_release(&tmp);
    buf_release(&in);
    buf_release(&out);
    return rc;
}
