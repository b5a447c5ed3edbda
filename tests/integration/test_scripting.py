"""Lua scripting through redis-py and raw RESP: EVAL, EVALSHA, EVAL_RO,
EVALSHA_RO, SCRIPT LOAD / EXISTS / FLUSH / KILL / HELP, the redis.* API,
the sandbox, the shims (unpack, bit, cjson), Lua <-> RESP2/RESP3
conversions, the error texts Redis 7.0 gives (with their "script: <sha>,
on @user_script:N." suffix), busy scripts (BUSY, SCRIPT KILL,
UNKILLABLE, SHUTDOWN NOSAVE) and (lode only) that a script's writes are one
WAL record replayed whole. Tests without the lode_only mark also pass
against redis-server (LODE_TARGET=redis)."""
import hashlib

import pytest

from conftest import background_command, wait_busy, wait_until


def sha(body):
    return hashlib.sha1(body.encode()).hexdigest()


def err_suffix(body, line=1):
    return " script: %s, on @user_script:%d." % (sha(body), line)


# ---- basics ----

def test_keys_and_argv(r):
    body = "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}"
    assert r.eval(body, 2, "k1", "k2", "a1", "a2") == [b"k1", b"k2", b"a1", b"a2", 2, 2]


def test_call_writes_and_reads(r):
    body = "redis.call('set', KEYS[1], ARGV[1]) return redis.call('get', KEYS[1])"
    assert r.eval(body, 1, "k", "v") == b"v"
    assert r.get("k") == b"v"


def test_numkeys_errors(raw):
    assert raw.call("EVAL", "return 1", "-1") == b"-ERR Number of keys can't be negative\r\n"
    assert raw.call("EVAL", "return 1", "2", "a") == \
        b"-ERR Number of keys can't be greater than number of args\r\n"
    assert raw.call("EVAL", "return 1", "x") == b"-ERR value is not an integer or out of range\r\n"
    assert raw.call("EVAL", "return 1") == \
        b"-ERR wrong number of arguments for 'eval' command\r\n"


def test_evalsha_and_script_cache(r, raw):
    body = "return 'cached'"
    assert r.script_load(body) == sha(body)
    assert r.evalsha(sha(body), 0) == b"cached"
    # any case
    assert r.evalsha(sha(body).upper(), 0) == b"cached"
    assert r.script_exists(sha(body), "f" * 40) == [True, False]
    assert raw.call("EVALSHA", "abc", "0") == b"-NOSCRIPT No matching script. Please use EVAL.\r\n"
    # EVAL caches too
    r.eval("return 7", 0)
    assert r.script_exists(sha("return 7")) == [True]
    assert r.script_flush() is True
    assert r.script_exists(sha(body), sha("return 7")) == [False, False]
    assert raw.call("SCRIPT", "FLUSH", "bad") == b"-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n"
    assert raw.call("SCRIPT", "FLUSH", "ASYNC") == b"+OK\r\n"
    assert raw.call("SCRIPT", "EXISTS") == \
        b"-ERR wrong number of arguments for 'script|exists' command\r\n"
    assert raw.call("SCRIPT", "LOAD", "return 1 +").startswith(
        b"-ERR Error compiling script (new function): user_script:1: unexpected symbol near ")


def test_script_help(r):
    lines = r.execute_command("SCRIPT", "HELP")
    assert lines[0].startswith(b"SCRIPT <subcommand>")
    assert b"KILL" in lines


def test_script_kill_not_busy(raw):
    assert raw.call("SCRIPT", "KILL") == b"-NOTBUSY No scripts in execution right now.\r\n"


# ---- conversions ----

def test_lua_to_resp2(raw):
    assert raw.call("EVAL", "return {1,2,3.7,'x',true,false,nil,5}", "0") == \
        b"*6\r\n:1\r\n:2\r\n:3\r\n$1\r\nx\r\n:1\r\n$-1\r\n"
    assert raw.call("EVAL", "return 3.99", "0") == b":3\r\n"
    assert raw.call("EVAL", "return -3.99", "0") == b":-3\r\n"
    assert raw.call("EVAL", "return true", "0") == b":1\r\n"
    assert raw.call("EVAL", "return false", "0") == b"$-1\r\n"
    assert raw.call("EVAL", "return nil", "0") == b"$-1\r\n"
    assert raw.call("EVAL", "return {ok='fine'}", "0") == b"+fine\r\n"
    assert raw.call("EVAL", "return {err='My Error'}", "0") == b"-My Error\r\n"
    assert raw.call("EVAL", "return redis.error_reply('xx yy')", "0") == b"-xx yy\r\n"
    assert raw.call("EVAL", "return redis.status_reply('A\\r\\nB')", "0") == b"+A  B\r\n"
    # a status ends at an embedded NUL, as in Redis (and nothing past it is touched)
    assert raw.call("EVAL", "return {ok='a\\0b\\rc'}", "0") == b"+a\r\n"
    assert raw.call("EVAL", "return {double=3.5}", "0") == b"$3\r\n3.5\r\n"


def test_lua_to_resp3(raw):
    raw.call("HELLO", "3")
    assert raw.call("EVAL", "return false", "0") == b"_\r\n"
    assert raw.call("EVAL", "redis.setresp(3) return false", "0") == b"#f\r\n"
    assert raw.call("EVAL", "redis.setresp(3) return true", "0") == b"#t\r\n"
    assert raw.call("EVAL", "return {double=3.5}", "0") == b",3.5\r\n"
    assert raw.call("EVAL", "return {map={a=1}}", "0") == b"%1\r\n$1\r\na\r\n:1\r\n"
    assert raw.call("EVAL", "return {set={a=true}}", "0") == b"~1\r\n$1\r\na\r\n"


def test_resp_to_lua(r, raw):
    r.hset("h", "f", "v")
    assert r.eval("return redis.call('hgetall', 'h')", 0) == [b"f", b"v"]
    assert r.eval("redis.setresp(3) return redis.call('hgetall', 'h').map.f", 0) == b"v"
    assert r.eval("return type(redis.call('get', 'nokey'))", 0) == b"boolean"
    assert r.eval("redis.setresp(3) return type(redis.call('get', 'nokey'))", 0) == b"nil"
    assert r.eval("return redis.call('ping')", 0) == b"PONG"
    assert r.eval("return redis.call('incrbyfloat', 'fl', '1.5')", 0) == b"1.5"
    assert raw.call("EVAL", "redis.setresp(4)", "0") == \
        b"-ERR RESP version must be 2 or 3." + err_suffix("redis.setresp(4)").encode() + b"\r\n"


def test_number_arguments(r):
    assert r.eval("redis.call('set', 'n', 3.0) return redis.call('get', 'n')", 0) == b"3"
    assert r.eval("redis.call('set', 'n', 2.5) return redis.call('get', 'n')", 0) == b"2.5"
    assert r.eval("redis.call('set', 'n', 12) return redis.call('get', 'n')", 0) == b"12"


# ---- errors ----

CALL_ERRORS = [
    ("return redis.call('nosuch')", "ERR Unknown Redis command called from script"),
    ("return redis.call('get')", "ERR Wrong number of args calling Redis command from script"),
    ("return redis.call('eval','return 1', 0)", "ERR This Redis command is not allowed from script"),
    ("return redis.call()", "ERR Please specify at least one argument for this redis lib call"),
    ("return redis.call('get',{})",
     "ERR Lua redis lib command arguments must be strings or integers"),
    ("return b", "ERR user_script:1: Script attempted to access nonexistent global variable 'b'"),
    ("a=1", "ERR user_script:1: Attempt to modify a readonly table"),
    ("string.foo=1", "ERR user_script:1: Attempt to modify a readonly table"),
    ("redis.call=1", "ERR user_script:1: Attempt to modify a readonly table"),
    ("rawset(_G,'x',1) return x", "ERR Attempt to modify a readonly table"),
    ("error('boom')", "ERR user_script:1: boom"),
    ("error({err='X boom'})", "X boom"),
    ("return redis.sha1hex()", "ERR wrong number of arguments"),
    ("return redis.log(99, 'hello')", "ERR Invalid debug level."),
    ("return redis.log(1)", "ERR redis.log() requires two arguments or more."),
]


@pytest.mark.parametrize("body,msg", CALL_ERRORS)
def test_call_errors(raw, body, msg):
    assert raw.call("EVAL", body, "0") == ("-" + msg + err_suffix(body) + "\r\n").encode()


def test_command_error_inside_script(r, raw):
    r.set("s", "x")
    body = "return redis.call('incr','s')"
    assert raw.call("EVAL", body, "0") == \
        ("-ERR value is not an integer or out of range" + err_suffix(body) + "\r\n").encode()
    # pcall returns the error as a value: no suffix
    assert raw.call("EVAL", "return redis.pcall('incr','s')", "0") == \
        b"-ERR value is not an integer or out of range\r\n"
    assert raw.call("EVAL", "return redis.pcall('nosuch')", "0") == \
        b"-ERR Unknown Redis command called from script\r\n"
    # pcall catching redis.call's error sees its message
    assert raw.call("EVAL", "local ok, e = pcall(redis.call, 'incr', 's') return e", "0") == \
        b"$43\r\nERR value is not an integer or out of range\r\n"
    assert raw.call("EVAL", "return redis.status_reply()", "0") == \
        b"-ERR wrong number or type of arguments\r\n"


def test_read_only_scripts(raw):
    body = "return redis.call('set','a','b')"
    assert raw.call("EVAL_RO", body, "0") == \
        ("-ERR Write commands are not allowed from read-only scripts." + err_suffix(body) +
         "\r\n").encode()
    assert raw.call("EVAL_RO", "return redis.call('get','a')", "0") == b"$-1\r\n"
    raw.call("SCRIPT", "LOAD", body)
    assert raw.call("EVALSHA_RO", sha(body), "0").startswith(
        b"-ERR Write commands are not allowed from read-only scripts.")
    nw = "#!lua flags=no-writes\nreturn redis.call('set','a','b')"
    assert raw.call("EVAL", nw, "0") == \
        ("-ERR Write commands are not allowed from read-only scripts." + err_suffix(nw, 2) +
         "\r\n").encode()
    assert raw.call("EVAL", "#!lua flags=bad\nreturn 1", "0") == \
        b"-ERR Unexpected flag in script shebang: bad\r\n"
    assert raw.call("EVAL", "#!luax\nreturn 1", "0") == \
        b"-ERR Unexpected engine in script shebang: #!luax\r\n"
    assert raw.call("EXISTS", "a") == b":0\r\n"


# ---- sandbox and shims ----

def test_sandbox_globals(r):
    names = r.eval("local t={} for k,v in pairs(_G) do t[#t+1]=k end table.sort(t) return t", 0)
    for banned in (b"os", b"io", b"require", b"dofile", b"loadfile", b"print", b"debug",
                   b"package"):
        assert banned not in names
    for wanted in (b"KEYS", b"ARGV", b"redis", b"cjson", b"bit", b"unpack", b"loadstring",
                   b"pcall", b"string", b"table", b"math"):
        assert wanted in names


def test_shims(r):
    assert r.eval("return cjson.encode({a=1})", 0) == b'{"a":1}'
    assert r.eval("return cjson.decode('[1,2,3]')", 0) == [1, 2, 3]
    assert r.eval("return bit.band(0xff, 0x0f)", 0) == 15
    assert r.eval("return bit.bor(1, 2, 4)", 0) == 7
    assert r.eval("return bit.bxor(5, 1)", 0) == 4
    assert r.eval("return bit.lshift(1, 4)", 0) == 16
    assert r.eval("return bit.tohex(65535)", 0) == b"0000ffff"
    assert r.eval("return bit.bnot(0)", 0) == -1
    assert r.eval("return unpack({1,2,3})", 0) == 1
    assert r.eval("return loadstring('return 5')()", 0) == 5
    assert r.eval("return redis.sha1hex('')", 0) == b"da39a3ee5e6b4b0d3255bfef95601890afd80709"


def test_redis_log(r):
    assert r.eval("return redis.log(redis.LOG_WARNING, 'hello', 'x')", 0) is None


def test_select_inside_script_stays_inside(r):
    r.set("k", "db0")
    assert r.eval("redis.call('select', 2) redis.call('set','k','db2') return 1", 0) == 1
    assert r.get("k") == b"db0"
    r.execute_command("SELECT", 2)
    assert r.get("k") == b"db2"


def test_blocking_commands_refused(raw):
    body = "return redis.call('blpop', 'nolist', 0)"
    assert raw.call("EVAL", body, "0") == \
        ("-ERR This Redis command is not allowed from script" + err_suffix(body) + "\r\n").encode()


def test_script_in_transaction(r):
    with r.pipeline(transaction=True) as p:
        p.set("x", 1).eval("return redis.call('incr', 'x')", 0).get("x")
        assert p.execute() == [True, 2, b"2"]


# ---- a corpus of real scripts ----

RATE_LIMIT = """
local current = redis.call('incr', KEYS[1])
if current == 1 then redis.call('pexpire', KEYS[1], ARGV[2]) end
if current > tonumber(ARGV[1]) then return 0 end
return 1
"""

UNLOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
else
  return 0
end
"""


def test_rate_limiter(r):
    got = [r.eval(RATE_LIMIT, 1, "rl", 3, 10000) for _ in range(5)]
    assert got == [1, 1, 1, 0, 0]
    assert 0 < r.pttl("rl") <= 10000


def test_lock_with_token(r):
    assert r.set("lock", "tok1", nx=True, px=10000)
    assert r.eval(UNLOCK, 1, "lock", "tok2") == 0
    assert r.eval(UNLOCK, 1, "lock", "tok1") == 1
    assert r.exists("lock") == 0


# ---- busy scripts ----

def test_busy_script_and_script_kill(server, r):
    r.config_set("busy-reply-threshold", 100)
    assert r.config_get("lua-time-limit") == {"lua-time-limit": "100"}
    t, res = background_command(server, "EVAL", "local i = 0 while true do i = i + 1 end", 0)
    raw = server.raw()
    assert wait_busy(raw) == (b"-BUSY Redis is busy running a script. You can only call "
                               b"SCRIPT KILL or SHUTDOWN NOSAVE.\r\n")
    assert raw.call("GET", "x").startswith(b"-BUSY")
    assert raw.call("SCRIPT", "KILL") == b"+OK\r\n"
    t.join(10)
    assert not t.is_alive()
    assert res["error"].startswith("Script killed by user with SCRIPT KILL...")
    assert raw.call("PING") == b"+PONG\r\n"
    raw.close()


def test_busy_script_ends_by_itself(server, r):
    r.config_set("busy-reply-threshold", 100)
    body = ("local t = redis.call('time') local start = t[1] * 1000 + t[2] / 1000 "
            "local n = 0 while true do n = n + 1 if n % 100000 == 0 then "
            "local u = redis.call('time') "
            "if u[1] * 1000 + u[2] / 1000 - start > 1000 then break end end end return 'done'")
    t, res = background_command(server, "EVAL", body, 0)
    raw = server.raw()
    wait_busy(raw)
    t.join(20)
    assert res.get("reply") == b"done"
    assert raw.call("PING") == b"+PONG\r\n"
    raw.close()


@pytest.mark.lode_only
def test_unkillable_script_and_shutdown_nosave(server, r):
    r.config_set("busy-reply-threshold", 100)
    t, res = background_command(server, "EVAL", "redis.call('set','w','1') while true do end", 0)
    raw = server.raw()
    wait_busy(raw)
    assert raw.call("SCRIPT", "KILL") == (
        b"-UNKILLABLE Sorry the script already executed write commands against the dataset. "
        b"You can either wait the script termination or kill the server in a hard way using "
        b"the SHUTDOWN NOSAVE command.\r\n")
    try:
        raw.call("SHUTDOWN", "NOSAVE")
    except Exception:
        pass
    wait_until(lambda: server.proc.poll() is not None, timeout=10, what="server exit")
    t.join(10)
    assert "conn" in res or "error" in res


# ---- durability (lode only) ----

def last_lsn(c):
    return int(c.info("persistence")["lode_wal_last_lsn"])


@pytest.mark.lode_only
def test_script_is_one_record_and_replays(make_server):
    s = make_server()
    c = s.client()
    before = last_lsn(c)
    body = ("for i = 1, 10 do redis.call('set', 'k' .. i, i) end "
            "redis.call('select', 3) redis.call('incrbyfloat', 'f', '1.5') "
            "redis.call('expire', 'k1', 1000) return 1")
    assert c.eval(body, 0) == 1
    assert last_lsn(c) == before + 1
    # a read-only script logs nothing
    c.eval("return redis.call('get', 'k1')", 0)
    assert last_lsn(c) == before + 1
    digest = c.execute_command("DEBUG", "DIGEST")
    c.close()
    s.kill9()
    s.start()
    c = s.client()
    assert c.execute_command("DEBUG", "DIGEST") == digest
    assert c.get("k10") == b"10"
    c.close()


@pytest.mark.lode_only
def test_script_cache_not_durable(make_server):
    s = make_server()
    c = s.client()
    h = c.script_load("return 1")
    c.close()
    s.kill9()
    s.start()
    c = s.client()
    assert c.script_exists(h) == [False]
    c.close()
