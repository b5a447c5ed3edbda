/*
 * script_conv.h - converts between RESP replies and Lua values the way
 * Redis 7.0 does for scripts.
 *
 * RESP -> Lua (what redis.call returns): integer -> integer, bulk ->
 * string, null bulk / null array -> false, status -> {ok=s}, error ->
 * {err=s}, array -> table. In RESP3 (redis.setresp(3)): null -> nil,
 * boolean -> boolean, double -> {double=n}, big number -> {big_number=s},
 * map -> {map={k=v}}, set -> {set={m=true}}, verbatim ->
 * {verbatim_string={format=f, string=s}}; attributes are skipped, pushes
 * read as arrays.
 *
 * Lua -> reply (a script's result): see script_conv_reply.
 *
 * The parser bounds every length and the nesting depth: malformed input
 * returns an error, never asserts (fuzz/fuzz_script_conv.c).
 *
 * Thread: the Lua state's. Never blocks; allocates only inside Lua.
 */
#ifndef LODE_LUA_SCRIPT_CONV_H
#define LODE_LUA_SCRIPT_CONV_H

#include "engine/reply.h"

#include <lua.h>
#include <stddef.h>

/* Deepest aggregate nesting either direction converts. */
#define SCRIPT_CONV_MAX_DEPTH 1000

/* Pushes one Lua value for the RESP reply at <p, n>. OUT: *used = bytes
 * consumed. Returns 0, or -1 (nothing pushed) when the bytes are not one
 * complete, well-formed reply or nest too deeply. Needs 3 free Lua stack
 * slots per nesting level (checked). */
int script_conv_push(lua_State *L, const char *p, size_t n, size_t *used);

/* Writes the Lua value at stack index idx to r as Redis 7.0 converts a
 * script's result: string -> bulk, number -> integer (floats truncated),
 * boolean -> :1 / null (script_resp 2) or a RESP3 boolean (script_resp 3),
 * nil and other types -> null; a table with a string err -> error, ok ->
 * status, double -> double, big_number, map, set, verbatim_string ->
 * those types, otherwise an array of t[1], t[2], ... up to the first nil.
 * Never raises. */
void script_conv_reply(lua_State *L, int idx, int script_resp, struct reply *r);

#endif
