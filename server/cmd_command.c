/*
 * cmd_command.c - COMMAND, COMMAND COUNT / INFO / DOCS / LIST / GETKEYS /
 * GETKEYSANDFLAGS / HELP, served from the declarative table (engine/cmd.h).
 *
 * Reply layout is Redis 7.0's, RESP2 and RESP3 alike (RESP3 uses sets for
 * flags, categories, tips and key specs, as Redis does). What the table
 * does not declare is derived or left empty:
 *   - tips and key specs come from the table (tools/sync_commands.py
 *     checks them against redis-server); a command without declared key
 *     specs gets one range spec derived from first/last/step;
 *   - docs: summary, since, group, complexity and subcommands, without
 *     the arguments and history Redis also lists.
 */
#include "server/server.h"
#include "engine/lode.h"
#include "engine/util.h"

#include <stdio.h>
#include <string.h>

/* Number of space-separated words in a key spec's flags. */
static int count_words(const char *s)
{
    int n = 0;
    for (const char *p = s; *p;) {
        while (*p == ' ') p++;
        if (!*p) break;
        n++;
        while (*p && *p != ' ') p++;
    }
    return n;
}

/* Replies with a key spec's flags as a set of status strings. */
static void reply_spec_flags(struct reply *r, const char *flags)
{
    reply_set(r, count_words(flags));
    for (const char *p = flags; *p;) {
        while (*p == ' ') p++;
        if (!*p) break;
        const char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char word[32];
        snprintf(word, sizeof(word), "%.*s", (int)n, p);
        reply_status(r, word);
        p += n;
    }
}

static void reply_one_spec(struct reply *r, const struct cmd_keyspec *ks)
{
    reply_map(r, 3);
    reply_cstr(r, "flags");
    reply_spec_flags(r, ks->flags);
    reply_cstr(r, "begin_search");
    reply_map(r, 2);
    reply_cstr(r, "type");
    if (ks->bs_type == KS_BS_INDEX) {
        reply_cstr(r, "index");
        reply_cstr(r, "spec");
        reply_map(r, 1);
        reply_cstr(r, "index");
        reply_int(r, ks->bs_index);
    } else if (ks->bs_type == KS_BS_KEYWORD) {
        reply_cstr(r, "keyword");
        reply_cstr(r, "spec");
        reply_map(r, 2);
        reply_cstr(r, "keyword");
        reply_cstr(r, ks->bs_keyword);
        reply_cstr(r, "startfrom");
        reply_int(r, ks->bs_startfrom);
    } else {
        reply_cstr(r, "unknown");
        reply_cstr(r, "spec");
        reply_map(r, 0);
    }
    reply_cstr(r, "find_keys");
    reply_map(r, 2);
    reply_cstr(r, "type");
    static const char *const range[] = {"lastkey", "keystep", "limit"};
    static const char *const keynum[] = {"keynumidx", "firstkey", "keystep"};
    const char *const *names = NULL;
    if (ks->fk_type == KS_FK_RANGE) {
        reply_cstr(r, "range");
        names = range;
    } else if (ks->fk_type == KS_FK_KEYNUM) {
        reply_cstr(r, "keynum");
        names = keynum;
    } else {
        reply_cstr(r, "unknown");
    }
    reply_cstr(r, "spec");
    reply_map(r, names ? 3 : 0);
    for (int i = 0; names && i < 3; i++) {
        reply_cstr(r, names[i]);
        reply_int(r, ks->fk[i]);
    }
}

/* The spec a command without declared ones gets: one range over
 * first/last/step, read-write for writes, read-only otherwise. */
static struct cmd_keyspec derived_spec(const struct cmd_def *c)
{
    struct cmd_keyspec ks = {
        c->flags & CMDF_WRITE ? "RW update" : "RO access",
        KS_BS_INDEX,
        c->first_key,
        NULL,
        0,
        KS_FK_RANGE,
        {c->last_key < 0 ? c->last_key : c->last_key - c->first_key, c->key_step, 0}};
    return ks;
}

static void reply_key_specs(struct reply *r, const struct cmd_def *c)
{
    if (c->nspecs) {
        reply_set(r, c->nspecs);
        for (int i = 0; i < c->nspecs; i++) reply_one_spec(r, &c->specs[i]);
        return;
    }
    if (c->first_key <= 0) {
        reply_set(r, 0);
        return;
    }
    struct cmd_keyspec ks = derived_spec(c);
    reply_set(r, 1);
    reply_one_spec(r, &ks);
}

static void reply_command_info(struct reply *r, const struct cmd_def *c)
{
    reply_array(r, 10);
    reply_cstr(r, c->fullname);
    reply_int(r, c->arity);
    /* Redis 7.0 does not show may_replicate */
    uint64_t shown = c->flags & ~(uint64_t)CMDF_MAY_REPLICATE;
    int nflags = 0;
    for (int i = 0; i < CMDF_NFLAGS; i++) nflags += (shown >> i) & 1;
    reply_set(r, nflags);
    for (int i = 0; i < CMDF_NFLAGS; i++)
        if ((shown >> i) & 1) reply_status(r, cmd_flag_names[i]);
    reply_int(r, c->first_key);
    reply_int(r, c->last_key);
    reply_int(r, c->key_step);
    int ncats = 0;
    for (int i = 0; i < ACL_NCATS; i++) ncats += (c->acl >> i) & 1;
    reply_set(r, ncats);
    char cat[40];
    for (int i = 0; i < ACL_NCATS; i++) {
        if (!((c->acl >> i) & 1)) continue;
        snprintf(cat, sizeof(cat), "@%s", cmd_acl_names[i]);
        reply_status(r, cat);
    }
    reply_set(r, c->ntips);
    for (int i = 0; i < c->ntips; i++) reply_status(r, c->tips[i]);
    reply_key_specs(r, c);
    if (c->nsubs) {
        reply_array(r, c->nsubs);
        for (int i = 0; i < c->nsubs; i++) reply_command_info(r, &cmd_table[c->subs[i]]);
    } else {
        reply_set(r, 0);
    }
}

static void reply_command_docs(struct reply *r, const struct cmd_def *c)
{
    bool has_complexity = c->complexity && c->complexity[0];
    reply_map(r, 3 + has_complexity + (c->nsubs > 0));
    reply_cstr(r, "summary");
    reply_cstr(r, c->summary);
    reply_cstr(r, "since");
    reply_cstr(r, c->since);
    reply_cstr(r, "group");
    reply_cstr(r, c->group);
    if (has_complexity) {
        reply_cstr(r, "complexity");
        reply_cstr(r, c->complexity);
    }
    if (c->nsubs) {
        reply_cstr(r, "subcommands");
        reply_map(r, c->nsubs);
        for (int i = 0; i < c->nsubs; i++) {
            const struct cmd_def *s = &cmd_table[c->subs[i]];
            reply_cstr(r, s->fullname);
            reply_command_docs(r, s);
        }
    }
}

/* A command by name or by "container|sub" full name, NULL when unknown. */
static const struct cmd_def *lookup_full(const struct slice *s)
{
    const char *bar = memchr(s->ptr, '|', s->len);
    if (!bar) return cmd_lookup(s->ptr, s->len);
    const struct cmd_def *p = cmd_lookup(s->ptr, (size_t)(bar - s->ptr));
    if (!p || !p->nsubs) return NULL;
    size_t rest = s->len - (size_t)(bar - s->ptr) - 1;
    if (memchr(bar + 1, '|', rest)) return NULL;
    return cmd_lookup_sub(p, bar + 1, rest);
}

static int top_level_count(void)
{
    int n = 0;
    for (int i = 0; i < CMD__COUNT; i++) n += cmd_table[i].parent == CMD_NONE;
    return n;
}

void cmd_command(struct cmd_ctx *ctx)
{
    reply_array(ctx->r, top_level_count());
    for (int i = 0; i < CMD__COUNT; i++)
        if (cmd_table[i].parent == CMD_NONE) reply_command_info(ctx->r, &cmd_table[i]);
}

void cmd_command_count(struct cmd_ctx *ctx)
{
    reply_int(ctx->r, top_level_count());
}

void cmd_command_info(struct cmd_ctx *ctx)
{
    if (ctx->argc == 2) {
        cmd_command(ctx);
        return;
    }
    reply_array(ctx->r, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) {
        const struct cmd_def *c = lookup_full(&ctx->argv[i]);
        if (c)
            reply_command_info(ctx->r, c);
        else
            reply_null(ctx->r);
    }
}

void cmd_command_docs(struct cmd_ctx *ctx)
{
    struct reply *r = ctx->r;
    if (ctx->argc == 2) {
        reply_map(r, top_level_count());
        for (int i = 0; i < CMD__COUNT; i++) {
            const struct cmd_def *c = &cmd_table[i];
            if (c->parent != CMD_NONE) continue;
            reply_cstr(r, c->fullname);
            reply_command_docs(r, c);
        }
        return;
    }
    size_t tok = reply_defer(r);
    long long n = 0;
    for (int i = 2; i < ctx->argc; i++) {
        const struct cmd_def *c = lookup_full(&ctx->argv[i]);
        if (!c) continue;
        reply_cstr(r, c->fullname);
        reply_command_docs(r, c);
        n++;
    }
    reply_defer_map(r, tok, n);
}

enum list_filter { LIST_ALL, LIST_MODULE, LIST_ACLCAT, LIST_PATTERN };

static bool list_match(const struct cmd_def *c, int kind, const struct slice *arg, int cat)
{
    switch (kind) {
    case LIST_MODULE: return false; /* no modules */
    case LIST_ACLCAT: return cat >= 0 && ((c->acl >> cat) & 1);
    case LIST_PATTERN:
        return util_glob_match(arg->ptr, arg->len, c->fullname, strlen(c->fullname), true);
    default: return true;
    }
}

void cmd_command_list(struct cmd_ctx *ctx)
{
    int kind = LIST_ALL, cat = -1;
    const struct slice *arg = NULL;
    if (ctx->argc == 5 && arg_is(ctx, 2, "filterby")) {
        arg = &ctx->argv[4];
        if (arg_is(ctx, 3, "module")) {
            kind = LIST_MODULE;
        } else if (arg_is(ctx, 3, "aclcat")) {
            kind = LIST_ACLCAT;
            for (int i = 0; i < ACL_NCATS; i++)
                if (util_eq_nocase(arg->ptr, arg->len, cmd_acl_names[i])) cat = i;
        } else if (arg_is(ctx, 3, "pattern")) {
            kind = LIST_PATTERN;
        } else {
            reply_error(ctx->r, ERR_SYNTAX);
            return;
        }
    } else if (ctx->argc != 2) {
        reply_error(ctx->r, ERR_SYNTAX);
        return;
    }
    size_t tok = reply_defer(ctx->r);
    long long n = 0;
    for (int i = 0; i < CMD__COUNT; i++) {
        const struct cmd_def *c = &cmd_table[i];
        if (c->parent != CMD_NONE) continue;
        if (list_match(c, kind, arg, cat)) {
            reply_cstr(ctx->r, c->fullname);
            n++;
        }
        for (int k = 0; k < c->nsubs; k++) {
            const struct cmd_def *s = &cmd_table[c->subs[k]];
            if (!list_match(s, kind, arg, cat)) continue;
            reply_cstr(ctx->r, s->fullname);
            n++;
        }
    }
    reply_defer_array(ctx->r, tok, n);
}

/* Resolves argv[2..] as a command call and finds its keys. Replies with
 * Redis's error and returns -1 on failure. */
static int getkeys(struct cmd_ctx *ctx, const struct cmd_def **cmdp, int *keys,
                   const struct cmd_keyspec **specs, int max)
{
    int argc = ctx->argc - 2;
    const struct slice *argv = ctx->argv + 2;
    const struct cmd_def *c = cmd_lookup(argv[0].ptr, argv[0].len);
    if (c && c->nsubs && argc >= 2) c = cmd_lookup_sub(c, argv[1].ptr, argv[1].len);
    if (!c) {
        reply_error(ctx->r, "ERR Invalid command specified");
        return -1;
    }
    if (!cmd_arity_ok(c, argc)) {
        reply_error(ctx->r, "ERR Invalid number of arguments specified for command");
        return -1;
    }
    int n = cmd_key_positions(c, argc, argv, keys, specs, max);
    if (n <= 0) {
        reply_error(ctx->r, "ERR The command has no key arguments");
        return -1;
    }
    *cmdp = c;
    return n;
}

void cmd_command_getkeys(struct cmd_ctx *ctx)
{
    const struct cmd_def *c;
    int max = ctx->argc;
    int *keys = lode_malloc(sizeof(int) * (size_t)max);
    int n = getkeys(ctx, &c, keys, NULL, max);
    if (n > 0) {
        reply_array(ctx->r, n);
        for (int i = 0; i < n; i++) {
            const struct slice *k = &ctx->argv[2 + keys[i]];
            reply_bulk(ctx->r, k->ptr, k->len);
        }
    }
    lode_free(keys);
}

/* Key specs flagged variable_flags depend on the call's arguments, as
 * Redis computes them for SET (GET makes it a read too) and BITFIELD
 * (only GETs make it read-only). */
static const char *call_flags(const struct cmd_def *c, int argc, const struct slice *argv,
                              const char *declared)
{
    if (!strstr(declared, "variable_flags")) return declared;
    bool get = false, write = false;
    for (int i = 2; i < argc; i++) {
        if (util_eq_nocase(argv[i].ptr, argv[i].len, "get")) get = true;
        if (util_eq_nocase(argv[i].ptr, argv[i].len, "set") ||
            util_eq_nocase(argv[i].ptr, argv[i].len, "incrby"))
            write = true;
    }
    if (c->id == CMD_SET) return get ? "RW access update" : "OW update";
    if (c->id == CMD_BITFIELD) return write ? "RW access update" : "RO access";
    return declared;
}

void cmd_command_getkeysandflags(struct cmd_ctx *ctx)
{
    const struct cmd_def *c;
    int max = ctx->argc;
    int *keys = lode_malloc(sizeof(int) * (size_t)max);
    const struct cmd_keyspec **specs = lode_malloc(sizeof(*specs) * (size_t)max);
    int n = getkeys(ctx, &c, keys, specs, max);
    if (n > 0) {
        struct cmd_keyspec fallback = derived_spec(c);
        reply_array(ctx->r, n);
        for (int i = 0; i < n; i++) {
            const struct slice *k = &ctx->argv[2 + keys[i]];
            reply_array(ctx->r, 2);
            reply_bulk(ctx->r, k->ptr, k->len);
            const char *fl = specs[i] ? specs[i]->flags : fallback.flags;
            reply_spec_flags(ctx->r, call_flags(c, ctx->argc - 2, ctx->argv + 2, fl));
        }
    }
    lode_free(specs);
    lode_free(keys);
}

void cmd_command_help(struct cmd_ctx *ctx)
{
    static const char *const lines[] = {
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        NULL,
    };
    reply_help(ctx->r, "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", lines);
}
