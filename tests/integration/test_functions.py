"""Redis 7.0 functions through redis-py and raw RESP: FUNCTION LOAD [REPLACE]
/ DELETE / LIST / FLUSH / DUMP / RESTORE / STATS / KILL / HELP, FCALL and
FCALL_RO, the library shebang, redis.register_function (positional and
table forms, flags, descriptions), the load sandbox (no redis.call, no
standard library, a 500 ms limit), name clashes and every error text.
FUNCTION LIST's library order is Redis's hash order, so tests compare
sorted. Tests without the lode_only mark also pass against redis-server
(LODE_TARGET=redis); the lode_only ones check durability: libraries
survive a checkpoint restart, a kill -9 (WAL replay) and FUNCTION FLUSH
does too; DUMP payloads are our own format (docs/functions-format.md)."""
import threading

import pytest
import redis

from conftest import background_command, wait_busy

LIB = "#!lua name=mylib\nredis.register_function('myfunc', function(keys, args) return args[1] end)"


def lib(name, body):
    return "#!lua name=%s\n%s" % (name, body)


def load(r, code, replace=False):
    return r.execute_command("FUNCTION", "LOAD", *(["REPLACE"] if replace else []), code)


def err(r, *args):
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command(*args)
    return str(e.value)


def listing(r, *args):
    """FUNCTION LIST as {library: {"functions": {name: (desc, flags)}, ...}}."""
    out = {}
    for entry in r.execute_command("FUNCTION", "LIST", *args):
        d = dict(zip(entry[0::2], entry[1::2]))
        fns = {}
        for f in d[b"functions"]:
            fd = dict(zip(f[0::2], f[1::2]))
            fns[fd[b"name"]] = (fd[b"description"], list(fd[b"flags"]))
        out[d[b"library_name"]] = {"engine": d[b"engine"], "functions": fns,
                                   "code": d.get(b"library_code")}
    return out


# ---- LOAD ----

def test_load_and_fcall(r):
    assert load(r, LIB) == b"mylib"
    assert r.execute_command("FCALL", "myfunc", 0, "hello") == b"hello"
    assert err(r, "FUNCTION", "LOAD", LIB) == "Library 'mylib' already exists"
    assert load(r, LIB, replace=True) == b"mylib"
    assert load(r, "#!LUA name=up\nredis.register_function('upf', function() return 1 end)") == b"up"


@pytest.mark.parametrize("code,msg", [
    ("return 1", "Missing library metadata"),
    ("#!lua\nreturn 1", "Library name was not given"),
    ("#!lua name=x foo=bar\nreturn 1", "Invalid metadata value given: foo=bar"),
    ("#!lua name=x name=y\nreturn 1",
     "Invalid metadata value, name argument was given multiple times"),
    ("#!lua name=x y\nreturn 1", "Invalid metadata value given: y"),
    ("#!luajit name=x\nreturn 1", "Engine 'luajit' not found"),
    ("#!lua name=a-b\nreturn 1", "Library names can only contain letters, numbers, or "
     "underscores(_) and must be at least one character long"),
    ("#!lua name=\nreturn 1", "Library names can only contain letters, numbers, or "
     "underscores(_) and must be at least one character long"),
    ("#!lua name=x\nreturn 1", "No functions registered"),
])
def test_load_metadata_errors(r, code, msg):
    assert err(r, "FUNCTION", "LOAD", code) == msg


def test_load_options(r):
    assert err(r, "FUNCTION", "LOAD", "FOO", LIB) == "Unknown option given: FOO"
    assert err(r, "FUNCTION", "LOAD") == "wrong number of arguments for 'function|load' command"


REG = "Error registering functions: "


@pytest.mark.parametrize("body,msg", [
    ('redis.call("set","a","b")',
     "user_function:2: Script attempted to access nonexistent global variable 'call'"),
    ('local a = redis.pcall("set","a","b")',
     "user_function:2: Script attempted to access nonexistent global variable 'pcall'"),
    ('return redis.setresp(3)',
     "user_function:2: Script attempted to access nonexistent global variable 'setresp'"),
    ('return math.random()',
     "user_function:2: Script attempted to access nonexistent global variable 'math'"),
    ('for k in pairs(redis) do end',
     "user_function:2: Script attempted to access nonexistent global variable 'pairs'"),
    ('local x = string', "user_function:2: Script attempted to access nonexistent global variable 'string'"),
    ('local x = KEYS', "user_function:2: Script attempted to access nonexistent global variable 'KEYS'"),
    ('g = 5', "user_function:2: Attempt to modify a readonly table"),
    ('local x = 1 + nil', "user_function:2: attempt to perform arithmetic on a nil value"),
    ('redis.register_function("f1", function() end)\nredis.register_function("f1", function() end)',
     "Function already exists in the library"),
    ('redis.register_function("f-1", function() end)',
     "Library names can only contain letters, numbers, or underscores(_) and must be at least "
     "one character long"),
    ('redis.register_function("", function() end)',
     "Library names can only contain letters, numbers, or underscores(_) and must be at least "
     "one character long"),
    ('redis.register_function("f1")',
     "calling redis.register_function with a single argument is only applicable to Lua table "
     "(representing named arguments)."),
    ('redis.register_function("f1", 1)',
     "second argument to redis.register_function must be a function"),
    ('redis.register_function(nil, function() end)',
     "first argument to redis.register_function must be a string"),
    ('redis.register_function()', "wrong number of arguments to redis.register_function"),
    ('redis.register_function("a", function() end, 3)',
     "wrong number of arguments to redis.register_function"),
    ('redis.register_function{function_name="f", callback=function() end, flags={"bad"}}',
     "unknown flag given"),
    ('redis.register_function{function_name="f", callback=function() end, flags={1}}',
     "unknown flag given"),
    ('redis.register_function{function_name="f", callback=function() end, flags="no-writes"}',
     "flags argument to redis.register_function must be a table representing function flags"),
    ('redis.register_function{function_name="f", callback=function() end, foo=1}',
     "unknown argument given to redis.register_function"),
    ('redis.register_function{"a", function() end}',
     "unknown argument given to redis.register_function"),
    ('redis.register_function{callback=function() end}',
     "redis.register_function must get a function name argument"),
    ('redis.register_function{}', "redis.register_function must get a function name argument"),
    ('redis.register_function{function_name="f"}',
     "redis.register_function must get a callback argument"),
    ('redis.register_function{function_name="f", callback=1}',
     "callback argument given to redis.register_function must be a function"),
    ('redis.register_function{function_name={}, callback=function() end}',
     "function_name argument given to redis.register_function must be a string"),
    ('redis.register_function{function_name="f", callback=function() end, description={}}',
     "description argument given to redis.register_function must be a string"),
    ('redis.log(1)\nredis.register_function("a", function() end)',
     "redis.log() requires two arguments or more."),
    ('while true do end', "FUNCTION LOAD timeout"),
])
def test_load_sandbox_errors(r, body, msg):
    assert err(r, "FUNCTION", "LOAD", lib("z", body)) == REG + "ERR " + msg
    assert r.execute_command("FUNCTION", "LIST") == []


def test_load_compile_error(r):
    e = err(r, "FUNCTION", "LOAD", lib("q", 'redis.register_function("q1", function() end)\nfoo('))
    assert e.startswith("Error compiling function: user_function:3: unexpected symbol near")


def test_load_sandbox_allows(r):
    body = ('redis.log(redis.LOG_WARNING, "loading", redis.REDIS_VERSION, redis.REDIS_VERSION_NUM)\n'
            'redis.register_function(1, function() return 1 end)\n'
            'redis.register_function{function_name="f2", callback=function() return 2 end, '
            'description=7, flags={"no-writes","no-writes"}}\n'
            'redis.register_function{function_name="f3", callback=function() return 3 end, flags={}}')
    assert load(r, lib("ok", body)) == b"ok"
    fns = listing(r)[b"ok"]["functions"]
    assert fns == {b"1": (None, []), b"f2": (b"7", [b"no-writes"]), b"f3": (None, [])}
    assert r.execute_command("FCALL", "1", 0) == 1


def test_function_name_clash(r):
    load(r, LIB)
    assert err(r, "FUNCTION", "LOAD", lib("other", 'redis.register_function("myfunc", function() end)')) \
        == "Function myfunc already exists"
    # REPLACE may not take another library's function either, and changes nothing
    load(r, lib("l1", 'redis.register_function("f1", function() return 1 end)'))
    assert err(r, "FUNCTION", "LOAD", "REPLACE",
               lib("l1", 'redis.register_function("myfunc", function() end)')) == \
        "Function myfunc already exists"
    assert r.execute_command("FCALL", "f1", 0) == 1
    # REPLACE drops the old library's functions
    load(r, lib("l1", 'redis.register_function("f1b", function() return 2 end)'), replace=True)
    assert err(r, "FCALL", "f1", 0) == "Function not found"
    assert r.execute_command("FCALL", "f1b", 0) == 2


# ---- FCALL ----

RUN = (
    'redis.register_function("pf", function(k,a) return redis.call("set",k[1],a[1]) end)\n'
    'redis.register_function{function_name="pr", callback=function(k,a) return redis.call("set",k[1],a[1]) end, flags={"no-writes"}}\n'
    'redis.register_function{function_name="pg", callback=function(k,a) return redis.call("get",k[1]) end, '
    'flags={"no-writes","allow-oom","allow-stale","no-cluster","allow-cross-slot-keys"}, description="getter"}\n'
    'redis.register_function("perr", function(k,a) return redis.call("nosuch") end)\n'
    'redis.register_function("perr2", function(k,a) error("boom") end)\n'
    'redis.register_function("perr3", function(k,a) return redis.call("incr", k[1]) end)\n'
    'redis.register_function("pglob", function(k,a) gg = 1 end)\n'
    'redis.register_function("pglob2", function(k,a) return gg end)\n'
    'redis.register_function("pkeys", function(k,a) return {#k, #a, KEYS} end)\n'
    'redis.register_function("pargs", function(k,a) return {#k, #a, k[1], a[1], a[2]} end)\n'
    'local rf = redis.register_function\n'
    'redis.register_function("preg", function() return rf("zz", function() end) end)\n'
    'redis.register_function("preg2", function() return redis.register_function == nil end)\n'
    'redis.register_function("ptypes", function() return {type(string), type(math), type(cjson), type(bit), tostring(1.5)} end)\n')


@pytest.fixture
def runlib(r):
    load(r, lib("p", RUN))
    return r


def test_fcall_writes_and_reads(runlib):
    r = runlib
    assert r.execute_command("FCALL", "pf", 1, "k", "v") == b"OK"
    assert r.get("k") == b"v"
    assert r.execute_command("FCALL_RO", "pg", 1, "k") == b"v"
    assert r.execute_command("FCALL", "pg", 1, "k") == b"v"
    assert r.execute_command("FCALL", "pargs", 1, "k", "a1", "a2") == [1, 2, b"k", b"a1", b"a2"]
    assert r.execute_command("FCALL", "ptypes", 0) == [b"table", b"table", b"table", b"table",
                                                        b"1.5"]
    assert r.execute_command("FCALL", "preg2", 0) == 1


@pytest.mark.parametrize("fn,keys,msg", [
    ("pr", ["k", "v"], "Write commands are not allowed from read-only scripts. script: pr, on @user_function:3."),
    ("perr", [], "Unknown Redis command called from script script: perr, on @user_function:5."),
    ("perr2", [], "user_function:6: boom script: perr2, on @user_function:6."),
    ("perr3", ["k"], "value is not an integer or out of range script: perr3, on @user_function:7."),
    ("pglob", [], "user_function:8: Attempt to modify a readonly table script: pglob, on @user_function:8."),
    ("pglob2", [], "user_function:9: Script attempted to access nonexistent global variable 'gg' "
     "script: pglob2, on @user_function:9."),
    ("pkeys", [], "user_function:10: Script attempted to access nonexistent global variable 'KEYS' "
     "script: pkeys, on @user_function:10."),
    ("preg", [], "redis.register_function can only be called on FUNCTION LOAD command script: "
     "preg, on @user_function:13."),
])
def test_fcall_errors(runlib, fn, keys, msg):
    r = runlib
    r.set("k", "notanumber")
    nk = 1 if keys else 0
    assert err(r, "FCALL", fn, nk, *keys) == msg


def test_fcall_ro(runlib):
    r = runlib
    assert err(r, "FCALL_RO", "pf", 1, "k", "v") == \
        "Can not execute a script with write flag using *_ro command."
    assert err(r, "FCALL_RO", "pr", 1, "k", "v") == \
        "Write commands are not allowed from read-only scripts. script: pr, on @user_function:3."
    assert r.exists("k") == 0


def test_fcall_arguments(runlib):
    r = runlib
    assert err(r, "FCALL", "pf", 1) == "Number of keys can't be greater than number of args"
    assert err(r, "FCALL", "pf", -1) == "Number of keys can't be negative"
    assert err(r, "FCALL", "pf", "x") == "Bad number of keys provided"
    assert err(r, "FCALL", "nofunc", 0) == "Function not found"
    assert err(r, "FCALL") == "wrong number of arguments for 'fcall' command"
    assert err(r, "FCALL", "f") == "wrong number of arguments for 'fcall' command"
    assert err(r, "FCALL_RO", "nofunc", 0) == "Function not found"


def test_fcall_in_multi(runlib):
    r = runlib
    p = r.pipeline(transaction=True)
    p.execute_command("FCALL", "pf", 1, "m", "1")
    p.execute_command("FCALL", "pg", 1, "m")
    assert p.execute() == [b"OK", b"1"]


def test_fcall_resp3(server, r):
    load(r, lib("r3", 'redis.register_function("h", function(k) redis.setresp(3) '
                      'return redis.call("hgetall", k[1]) end)'))
    r.hset("h", "a", "1")
    raw = server.raw()
    raw.call("HELLO", "3")
    assert raw.call("FCALL", "h", 1, "h") == b"%1\r\n$1\r\na\r\n$1\r\n1\r\n"
    raw.close()


# ---- LIST ----

def test_list(runlib):
    r = runlib
    load(r, LIB)
    all_ = listing(r)
    assert set(all_) == {b"p", b"mylib"}
    assert all_[b"mylib"] == {"engine": b"LUA", "functions": {b"myfunc": (None, [])}, "code": None}
    assert all_[b"p"]["functions"][b"pg"] == (
        b"getter", [b"no-writes", b"allow-oom", b"allow-stale", b"no-cluster",
                    b"allow-cross-slot-keys"])
    assert all_[b"p"]["functions"][b"pr"] == (None, [b"no-writes"])
    assert listing(r, "WITHCODE")[b"mylib"]["code"] == LIB.encode()
    assert set(listing(r, "LIBRARYNAME", "my*")) == {b"mylib"}
    assert set(listing(r, "LIBRARYNAME", "p", "WITHCODE")) == {b"p"}
    assert listing(r, "WITHCODE", "LIBRARYNAME", "nomatch*") == {}
    assert err(r, "FUNCTION", "LIST", "LIBRARYNAME") == "library name argument was not given"
    assert err(r, "FUNCTION", "LIST", "FOO") == "Unknown argument FOO"
    assert err(r, "FUNCTION", "LIST", "WITHCODE", "WITHCODE") == "Unknown argument WITHCODE"
    assert err(r, "FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "b") == \
        "Unknown argument LIBRARYNAME"


def test_list_resp3(server, r):
    load(r, lib("l3", 'redis.register_function{function_name="f", callback=function() end, '
                      'flags={"no-writes"}}'))
    raw = server.raw()
    raw.call("HELLO", "3")
    assert raw.call("FUNCTION", "LIST") == (
        b"*1\r\n%3\r\n$12\r\nlibrary_name\r\n$2\r\nl3\r\n$6\r\nengine\r\n$3\r\nLUA\r\n"
        b"$9\r\nfunctions\r\n*1\r\n%3\r\n$4\r\nname\r\n$1\r\nf\r\n$11\r\ndescription\r\n"
        b"_\r\n$5\r\nflags\r\n~1\r\n+no-writes\r\n")
    assert raw.call("FUNCTION", "STATS") == (
        b"%2\r\n$14\r\nrunning_script\r\n_\r\n$7\r\nengines\r\n%1\r\n$3\r\nLUA\r\n%2\r\n"
        b"$15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:1\r\n")
    raw.close()


# ---- DELETE / FLUSH / STATS / KILL / HELP ----

def test_delete_and_flush(runlib):
    r = runlib
    load(r, LIB)
    assert err(r, "FUNCTION", "DELETE", "nolib") == "Library not found"
    assert r.execute_command("FUNCTION", "DELETE", "p") == b"OK"
    assert err(r, "FCALL", "pf", 1, "k", "v") == "Function not found"
    assert set(listing(r)) == {b"mylib"}
    # the names of a deleted library may be loaded again
    load(r, lib("p", RUN))
    assert err(r, "FUNCTION", "DELETE") == "wrong number of arguments for 'function|delete' command"
    assert err(r, "FUNCTION", "DELETE", "a", "b") == \
        "wrong number of arguments for 'function|delete' command"
    assert err(r, "FUNCTION", "FLUSH", "FOO") == "FUNCTION FLUSH only supports SYNC|ASYNC option"
    assert err(r, "FUNCTION", "FLUSH", "sync", "x") == \
        "unknown subcommand or wrong number of arguments for 'FLUSH'. Try FUNCTION HELP."
    assert r.execute_command("FUNCTION", "FLUSH", "ASYNC") == b"OK"
    assert r.execute_command("FUNCTION", "LIST") == []
    load(r, LIB)
    assert r.execute_command("FUNCTION", "FLUSH", "sync") == b"OK"
    assert r.execute_command("FUNCTION", "FLUSH") == b"OK"
    assert r.execute_command("FUNCTION", "LIST") == []


def test_stats_kill_help(runlib):
    r = runlib
    assert r.execute_command("FUNCTION", "STATS") == [
        b"running_script", None, b"engines",
        [b"LUA", [b"libraries_count", 1, b"functions_count", 13]]]
    assert err(r, "FUNCTION", "STATS", "x") == \
        "wrong number of arguments for 'function|stats' command"
    assert err(r, "FUNCTION", "KILL") == "NOTBUSY No scripts in execution right now."
    assert err(r, "FUNCTION", "KILL", "x") == "wrong number of arguments for 'function|kill' command"
    help_ = r.execute_command("FUNCTION", "HELP")
    assert help_[0] == b"FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    assert help_[1] == b"LOAD [REPLACE] <FUNCTION CODE>"
    assert help_[-2:] == [b"HELP", b"    Prints this help."]
    assert len(help_) == 40
    assert err(r, "FUNCTION", "FOO") == "unknown subcommand 'FOO'. Try FUNCTION HELP."


SPIN = lib("slow", 'redis.register_function("spin", function() local i = 0 while true do i = i + 1 end end)\n'
                   'redis.register_function("wspin", function(k) redis.call("set", k[1], "1") while true do end end)')


def test_busy_function_and_function_kill(server, r):
    r.config_set("busy-reply-threshold", 100)
    load(r, SPIN)
    t, res = background_command(server, "FCALL", "spin", 0)
    raw = server.raw()
    assert wait_busy(raw) == (b"-BUSY Redis is busy running a script. You can only call "
                               b"FUNCTION KILL or SHUTDOWN NOSAVE.\r\n")
    stats = raw.call("FUNCTION", "STATS")
    assert stats.startswith(b"*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n"
                            b"$7\r\ncommand\r\n*3\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n0\r\n"
                            b"$11\r\nduration_ms\r\n:")
    assert raw.call("SCRIPT", "KILL") == (b"-BUSY Redis is busy running a script. You can only "
                                          b"call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n")
    assert raw.call("FUNCTION", "KILL") == b"+OK\r\n"
    t.join(10)
    assert not t.is_alive()
    assert res["error"] == "Script killed by user with SCRIPT KILL... script: spin, on @user_function:2."
    assert raw.call("PING") == b"+PONG\r\n"
    raw.close()


def test_function_kill_of_eval(server, r):
    r.config_set("busy-reply-threshold", 100)
    res = {}

    def go():
        c = server.client()
        try:
            c.eval("while true do end", 0)
        except redis.ResponseError as e:
            res["error"] = str(e)
        c.close()
    t = threading.Thread(target=go)
    t.start()
    raw = server.raw()
    wait_busy(raw)
    assert raw.call("FUNCTION", "KILL") == (b"-BUSY Redis is busy running a script. You can only "
                                            b"call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n")
    assert raw.call("SCRIPT", "KILL") == b"+OK\r\n"
    t.join(10)
    assert res["error"].startswith("Script killed by user")
    raw.close()


# ---- DUMP / RESTORE ----

def test_dump_restore(runlib):
    r = runlib
    load(r, lib("l2", 'redis.register_function("f2", function() return 2 end)\n'
                      'redis.register_function{function_name="f2b", callback=function() return 2 end, '
                      'flags={"no-writes"}, description="dd"}'))
    before = listing(r, "WITHCODE")
    d = r.execute_command("FUNCTION", "DUMP")
    assert err(r, "FUNCTION", "RESTORE", d) in ("Library p already exists", "Library l2 already exists")
    assert err(r, "FUNCTION", "RESTORE", d, "APPEND") in ("Library p already exists",
                                                         "Library l2 already exists")
    assert r.execute_command("FUNCTION", "RESTORE", d, "REPLACE") == b"OK"
    assert listing(r, "WITHCODE") == before
    assert r.execute_command("FUNCTION", "RESTORE", d, "FLUSH") == b"OK"
    assert listing(r, "WITHCODE") == before
    assert err(r, "FUNCTION", "RESTORE", d, "FOO") == \
        "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
    assert err(r, "FUNCTION", "RESTORE", d, "FLUSH", "x") == \
        "unknown subcommand or wrong number of arguments for 'RESTORE'. Try FUNCTION HELP."
    assert err(r, "FUNCTION", "RESTORE", b"garbage") == "DUMP payload version or checksum are wrong"
    assert err(r, "FUNCTION", "RESTORE", d[:-1] + bytes([d[-1] ^ 1])) == \
        "DUMP payload version or checksum are wrong"
    assert err(r, "FUNCTION", "DUMP", "x") == "wrong number of arguments for 'function|dump' command"
    # a clash with another library's function aborts the whole restore
    r.execute_command("FUNCTION", "DELETE", "p")
    load(r, lib("l3", 'redis.register_function("pf", function() return 3 end)'))
    assert err(r, "FUNCTION", "RESTORE", d, "REPLACE") == "Function pf already exists"
    got = listing(r)
    assert set(got) == {b"l2", b"l3"}
    assert r.execute_command("FCALL", "pf", 0) == 3
    # an empty dump restores nothing; FLUSH with it empties
    r.execute_command("FUNCTION", "FLUSH")
    empty = r.execute_command("FUNCTION", "DUMP")
    r.execute_command("FUNCTION", "RESTORE", d)
    assert set(listing(r)) == {b"p", b"l2"}
    assert r.execute_command("FUNCTION", "RESTORE", empty, "FLUSH") == b"OK"
    assert listing(r) == {}


@pytest.mark.lode_only
def test_dump_format(r):
    load(r, LIB)
    d = r.execute_command("FUNCTION", "DUMP")
    assert d[:8] == b"LODEFUNC"
    assert d[8:16] == b"\x01\x00\x00\x00\x01\x00\x00\x00"
    assert LIB.encode() in d
    # truncated, extended and reserved-bit variants are refused
    for bad in (d[:-5], d + b"x", d[:10] + b"\x01" + d[11:], d[:8] + b"\x02" + d[9:]):
        assert err(r, "FUNCTION", "RESTORE", bad, "FLUSH") == \
            "DUMP payload version or checksum are wrong"
    assert r.execute_command("FCALL", "myfunc", 0, "x") == b"x"


# ---- durability (lode only) ----

def _libs(c):
    return listing(c, "WITHCODE")


@pytest.mark.lode_only
def test_functions_survive_kill9(make_server):
    s = make_server()
    c = s.client()
    load(c, LIB)
    load(c, lib("p", RUN))
    load(c, lib("gone", 'redis.register_function("gf", function() return 1 end)'))
    c.execute_command("FUNCTION", "DELETE", "gone")
    load(c, lib("p", RUN + 'redis.register_function("extra", function() return 9 end)'),
         replace=True)
    c.execute_command("FCALL", "pf", 1, "k", "v")
    before = _libs(c)
    s.kill9()
    s.start()
    c = s.client()
    assert _libs(c) == before
    assert c.execute_command("FCALL", "extra", 0) == 9
    assert c.get("k") == b"v"
    # the script cache is not durable
    sha = c.script_load("return 1")
    s.kill9()
    s.start()
    c = s.client()
    assert c.script_exists(sha) == [False]
    assert _libs(c) == before


@pytest.mark.lode_only
def test_functions_survive_checkpoint(make_server):
    s = make_server()
    c = s.client()
    load(c, LIB)
    load(c, lib("p", RUN))
    c.set("k", "v")
    assert c.execute_command("SAVE") is True
    before = _libs(c)
    # after the checkpoint, the WAL holds the rest
    load(c, lib("late", 'redis.register_function("lf", function() return 5 end)'))
    c.execute_command("FUNCTION", "DELETE", "mylib")
    after = _libs(c)
    assert after != before
    s.stop()
    s.start()
    c = s.client()
    assert _libs(c) == after
    assert c.execute_command("FCALL", "lf", 0) == 5
    assert c.execute_command("SAVE") is True
    s.kill9()
    s.start()
    c = s.client()
    assert _libs(c) == after


@pytest.mark.lode_only
def test_function_flush_and_restore_survive(make_server):
    s = make_server()
    c = s.client()
    load(c, LIB)
    d = c.execute_command("FUNCTION", "DUMP")
    assert c.execute_command("SAVE") is True
    c.execute_command("FUNCTION", "FLUSH")
    s.kill9()
    s.start()
    c = s.client()
    assert listing(c) == {}
    c.execute_command("FUNCTION", "RESTORE", d)
    s.kill9()
    s.start()
    c = s.client()
    assert c.execute_command("FCALL", "myfunc", 0, "back") == b"back"
    c.execute_command("FUNCTION", "FLUSH")
    assert c.execute_command("SAVE") is True
    s.stop()
    s.start()
    c = s.client()
    assert listing(c) == {}


@pytest.mark.lode_only
def test_failed_function_commands_are_not_logged(make_server):
    s = make_server()
    c = s.client()
    load(c, LIB)
    with pytest.raises(redis.ResponseError):
        load(c, LIB)
    with pytest.raises(redis.ResponseError):
        c.execute_command("FUNCTION", "DELETE", "nolib")
    s.kill9()
    s.start()
    assert "replaying" not in s.read_log()
    c = s.client()
    assert set(listing(c)) == {b"mylib"}
