/*
 * fuzz_lua_reply.c - libFuzzer target for the RESP -> Lua reply converter
 * of scripts (lua/script_conv.h, what redis.call returns), and the Lua ->
 * reply direction over what it produced.
 *
 * Asserts: no crash or out-of-bounds access (ASan); script_conv_push
 * either refuses the input leaving the stack as it was, or pushes exactly
 * one value and consumes at most the input; converting that value back
 * with script_conv_reply (RESP2 and RESP3) never raises and writes a
 * non-empty reply.
 */
#include "engine/buf.h"
#include "engine/reply.h"
#include "lua/script_conv.h"

#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lua_State *L;
    if (!L) L = luaL_newstate();
    lua_settop(L, 0);
    size_t used = 0;
    int rc = script_conv_push(L, (const char *)data, size, &used);
    if (rc != 0) {
        if (lua_gettop(L) != 0) abort();
        return 0;
    }
    if (lua_gettop(L) != 1 || used == 0 || used > size) abort();
    struct buf out = BUF_INIT;
    for (int resp = 2; resp <= 3; resp++) {
        out.len = 0;
        struct reply r;
        reply_init(&r, &out, resp);
        script_conv_reply(L, 1, resp, &r);
        if (out.len == 0 || lua_gettop(L) != 1) abort();
    }
    buf_release(&out);
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
