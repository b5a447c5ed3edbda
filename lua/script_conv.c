/*
 * script_conv.c - RESP <-> Lua conversions for scripts (see script_conv.h).
 *
 * The RESP parser reads what our own reply encoder wrote, but it is written
 * as for hostile input: every length is bounded by the bytes present, the
 * nesting by SCRIPT_CONV_MAX_DEPTH, and the Lua stack is grown (checked)
 * before each push, so the fuzz target can feed it anything.
 */
#include "lua/script_conv.h"
#include "engine/lode.h"

#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cur {
    const char *p, *end;
};

/* Reads up to CRLF; OUT: line (without CRLF). Returns false if none. */
static bool read_line(struct cur *c, const char **line, size_t *len)
{
    const char *s = c->p;
    for (const char *q = s; q + 1 < c->end; q++) {
        if (q[0] == '\r' && q[1] == '\n') {
            *line = s;
            *len = (size_t)(q - s);
            c->p = q + 2;
            return true;
        }
    }
    return false;
}

/* Parses a signed decimal line; false on junk or overflow. */
static bool parse_ll(const char *s, size_t n, long long *out)
{
    if (n == 0 || n > 20) return false;
    bool neg = false;
    size_t i = 0;
    if (s[0] == '-') {
        neg = true;
        i = 1;
        if (n == 1) return false;
    }
    unsigned long long v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        unsigned long long d = (unsigned long long)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) return false;
        *out = (long long)(0 - v);
    } else {
        if (v > (unsigned long long)LLONG_MAX) return false;
        *out = (long long)v;
    }
    return true;
}

static int parse_value(lua_State *L, struct cur *c, int depth);

/* Reads a length-prefixed payload after its header line. */
static bool read_blob(struct cur *c, long long len, const char **s)
{
    if (len < 0 || (size_t)(c->end - c->p) < (size_t)len + 2) return false;
    *s = c->p;
    if (c->p[len] != '\r' || c->p[len + 1] != '\n') return false;
    c->p += len + 2;
    return true;
}

static void set_field_str(lua_State *L, const char *field, const char *s, size_t n)
{
    lua_pushlstring(L, s, n);
    lua_setfield(L, -2, field);
}

/* Aggregates: n elements (2n for maps) pushed into a new table. kind:
 * '*' array, '%' map, '~' set. */
static int parse_aggregate(lua_State *L, struct cur *c, char kind, long long n, int depth)
{
    if (depth >= SCRIPT_CONV_MAX_DEPTH) return -1;
    /* each element needs at least 3 bytes: a cheap bound before allocating */
    if (n < 0 || n > (c->end - c->p) / 3) return -1;
    if (kind == '*') {
        lua_createtable(L, (int)n, 0);
        for (long long i = 0; i < n; i++) {
            if (parse_value(L, c, depth + 1) != 0) goto fail;
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        return 0;
    }
    lua_createtable(L, 0, 1);
    lua_createtable(L, 0, (int)n);
    for (long long i = 0; i < n; i++) {
        if (parse_value(L, c, depth + 1) != 0) goto fail2;
        if (kind == '%') {
            if (parse_value(L, c, depth + 1) != 0) {
                lua_pop(L, 1);
                goto fail2;
            }
        } else {
            lua_pushboolean(L, 1);
        }
        if (lua_isnil(L, -2)) {
            lua_pop(L, 2); /* a nil key cannot be stored: dropped */
            continue;
        }
        lua_rawset(L, -3);
    }
    lua_setfield(L, -2, kind == '%' ? "map" : "set");
    return 0;
fail2:
    lua_pop(L, 1);
fail:
    lua_pop(L, 1);
    return -1;
}

static int parse_value(lua_State *L, struct cur *c, int depth)
{
    if (!lua_checkstack(L, 4)) return -1;
    if (c->p >= c->end) return -1;
    char t = *c->p++;
    const char *line, *s;
    size_t len;
    long long v;
    if (!read_line(c, &line, &len)) return -1;
    switch (t) {
    case ':':
        if (!parse_ll(line, len, &v)) return -1;
        lua_pushinteger(L, (lua_Integer)v);
        return 0;
    case '$':
    case '=':
        if (!parse_ll(line, len, &v)) return -1;
        if (v == -1 && t == '$') {
            lua_pushboolean(L, 0);
            return 0;
        }
        if (!read_blob(c, v, &s)) return -1;
        if (t == '$') {
            lua_pushlstring(L, s, (size_t)v);
            return 0;
        }
        if (v < 4 || s[3] != ':') return -1;
        lua_createtable(L, 0, 1);
        lua_createtable(L, 0, 2);
        set_field_str(L, "format", s, 3);
        set_field_str(L, "string", s + 4, (size_t)v - 4);
        lua_setfield(L, -2, "verbatim_string");
        return 0;
    case '+':
    case '-':
        lua_createtable(L, 0, 1);
        set_field_str(L, t == '+' ? "ok" : "err", line, len);
        return 0;
    case '*':
    case '>':
        if (!parse_ll(line, len, &v)) return -1;
        if (v == -1) {
            lua_pushboolean(L, 0);
            return 0;
        }
        return parse_aggregate(L, c, '*', v, depth);
    case '%':
    case '~':
        if (!parse_ll(line, len, &v)) return -1;
        return parse_aggregate(L, c, t, v, depth);
    case '|': {
        /* an attribute precedes the real reply: skip it */
        if (!parse_ll(line, len, &v)) return -1;
        if (parse_aggregate(L, c, '%', v, depth) != 0) return -1;
        lua_pop(L, 1);
        return parse_value(L, c, depth);
    }
    case '_':
        if (len) return -1;
        lua_pushnil(L);
        return 0;
    case '#':
        if (len != 1 || (line[0] != 't' && line[0] != 'f')) return -1;
        lua_pushboolean(L, line[0] == 't');
        return 0;
    case ',': {
        char tmp[64];
        if (len == 0 || len >= sizeof(tmp)) return -1;
        memcpy(tmp, line, len);
        tmp[len] = '\0';
        char *endp;
        double d = strtod(tmp, &endp);
        if (*endp) return -1;
        lua_createtable(L, 0, 1);
        lua_pushnumber(L, d);
        lua_setfield(L, -2, "double");
        return 0;
    }
    case '(':
        lua_createtable(L, 0, 1);
        set_field_str(L, "big_number", line, len);
        return 0;
    default: return -1;
    }
}

int script_conv_push(lua_State *L, const char *p, size_t n, size_t *used)
{
    struct cur c = {p, p + n};
    int top = lua_gettop(L);
    if (parse_value(L, &c, 0) != 0) {
        lua_settop(L, top);
        return -1;
    }
    *used = (size_t)(c.p - p);
    return 0;
}

/* ---- Lua -> reply ---- */

/* t[field] when it has type want: pushed (returns true); else nothing. */
static bool get_field(lua_State *L, int idx, const char *field, int want)
{
    lua_pushstring(L, field);
    lua_rawget(L, idx);
    if (lua_type(L, -1) == want) return true;
    lua_pop(L, 1);
    return false;
}

static void conv(lua_State *L, int idx, int sresp, struct reply *r, int depth);

/* Converts every entry of the table at stack slot t (depth + 1): its keys
 * and values (a map's) or its keys alone (a set's). Returns how many. */
static long long conv_entries(lua_State *L, int t, int sresp, struct reply *r, int depth,
                              bool values)
{
    long long cnt = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        conv(L, t + 1, sresp, r, depth + 1);
        if (values) conv(L, t + 2, sresp, r, depth + 1);
        lua_pop(L, 1);
        cnt++;
    }
    return cnt;
}

static void conv_table(lua_State *L, int idx, int sresp, struct reply *r, int depth)
{
    size_t n;
    const char *s;
    if (get_field(L, idx, "err", LUA_TSTRING)) {
        s = lua_tolstring(L, -1, &n);
        if (n && s[0] == '-') s++;
        reply_error(r, s);
        lua_pop(L, 1);
        return;
    }
    if (get_field(L, idx, "ok", LUA_TSTRING)) {
        s = lua_tolstring(L, -1, &n);
        /* a status line cannot hold CR or LF: Redis turns them into spaces */
        char *copy = lode_malloc(n + 1);
        memcpy(copy, s, n);
        copy[n] = 0;
        for (size_t i = 0; i < n; i++)
            if (copy[i] == '\r' || copy[i] == '\n') copy[i] = ' ';
        lua_pop(L, 1);
        reply_status(r, copy); /* up to an embedded NUL */
        lode_free(copy);
        return;
    }
    if (get_field(L, idx, "double", LUA_TNUMBER)) {
        reply_double(r, lua_tonumber(L, -1));
        lua_pop(L, 1);
        return;
    }
    if (get_field(L, idx, "big_number", LUA_TSTRING)) {
        s = lua_tolstring(L, -1, &n);
        if (r->resp == 3) {
            buf_putc(r->out, '(');
            for (size_t i = 0; i < n; i++)
                buf_putc(r->out, s[i] == '\r' || s[i] == '\n' ? ' ' : s[i]);
            buf_append(r->out, "\r\n", 2);
        } else {
            reply_bulk(r, s, n);
        }
        lua_pop(L, 1);
        return;
    }
    if (get_field(L, idx, "map", LUA_TTABLE)) {
        size_t tok = reply_defer(r);
        reply_defer_map(r, tok, conv_entries(L, lua_gettop(L), sresp, r, depth, true));
        lua_pop(L, 1);
        return;
    }
    if (get_field(L, idx, "set", LUA_TTABLE)) {
        size_t tok = reply_defer(r);
        reply_defer_set(r, tok, conv_entries(L, lua_gettop(L), sresp, r, depth, false));
        lua_pop(L, 1);
        return;
    }
    if (get_field(L, idx, "verbatim_string", LUA_TTABLE)) {
        int t = lua_gettop(L);
        if (get_field(L, t, "string", LUA_TSTRING)) {
            s = lua_tolstring(L, -1, &n);
            reply_verbatim(r, s, n);
            lua_pop(L, 2);
            return;
        }
        lua_pop(L, 1);
    }
    /* an array: t[1], t[2], ... up to the first nil */
    size_t tok = reply_defer(r);
    long long cnt = 0;
    for (;;) {
        lua_rawgeti(L, idx, (lua_Integer)cnt + 1);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        conv(L, lua_gettop(L), sresp, r, depth + 1);
        lua_pop(L, 1);
        cnt++;
    }
    reply_defer_array(r, tok, cnt);
}

static void conv(lua_State *L, int idx, int sresp, struct reply *r, int depth)
{
    if (depth > SCRIPT_CONV_MAX_DEPTH || !lua_checkstack(L, 4)) {
        reply_error(r, "ERR reached lua stack limit");
        return;
    }
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        reply_bulk(r, s, n);
        return;
    }
    case LUA_TBOOLEAN:
        if (sresp == 2) {
            if (lua_toboolean(L, idx))
                reply_int(r, 1);
            else
                reply_null(r);
        } else {
            reply_bool(r, lua_toboolean(L, idx));
        }
        return;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            reply_int(r, (long long)lua_tointeger(L, idx));
        } else {
            /* Redis truncates toward zero (a C cast); out-of-range and NaN
             * values are undefined there, clamped here */
            double d = lua_tonumber(L, idx);
            long long v;
            if (isnan(d))
                v = LLONG_MIN;
            else if (d >= 9223372036854775807.0)
                v = LLONG_MAX;
            else if (d <= -9223372036854775808.0)
                v = LLONG_MIN;
            else
                v = (long long)d;
            reply_int(r, v);
        }
        return;
    case LUA_TTABLE: conv_table(L, idx, sresp, r, depth); return;
    default: reply_null(r); return;
    }
}

void script_conv_reply(lua_State *L, int idx, int script_resp, struct reply *r)
{
    conv(L, lua_absindex(L, idx), script_resp, r, 0);
}
