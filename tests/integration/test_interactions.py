"""Interactions between features that landed side by side: blocking pops
served by pushes inside transactions and scripts, WATCH against keys
changed by other features, timeouts of blocked clients while a script is
busy, keyspace notifications from inside MULTI and scripts, and (lode
only) the WAL order and restart digest of all that. No fixed sleeps:
blocked clients are counted through INFO, busy scripts seen through BUSY."""

import pytest
import redis

from conftest import background_command, wait_busy, wait_until
from resp_client import RawConn, encode


def blocked(r):
    return r.info("clients")["blocked_clients"]


def start_blocked(server, r, *args):
    before = blocked(r)
    c = RawConn(server.port)
    c.send_raw(encode(*args))
    wait_until(lambda: blocked(r) == before + 1, what="client to block")
    return c


# a script that runs for about ms milliseconds of wall time
SPIN = ("local t0 = redis.call('time') local s = t0[1] * 1000 + t0[2] / 1000 "
        "local n = 0 while true do n = n + 1 if n %% 10000 == 0 then "
        "local u = redis.call('time') "
        "if u[1] * 1000 + u[2] / 1000 - s > %d then break end end end ")


def test_timeout_during_busy_script_waits_for_it(server, r):
    """A blocked client whose timeout passes while a script is busy is
    answered after the script (as Redis): nothing is served in the middle
    of the script, so a waiter on a key the script pushed to does not steal
    the element the script pops itself later."""
    r.config_set("busy-reply-threshold", 50)
    a = start_blocked(server, r, "BLPOP", "q", "0")
    b = start_blocked(server, r, "BLPOP", "other", "0.2")
    body = "redis.call('rpush', 'q', 'x') " + (SPIN % 700) + "return redis.call('lpop', 'q')"
    t, res = background_command(server, "EVAL", body, 0)
    t.join(20)
    assert res == {"reply": b"x"}
    assert b.read_reply() == b"*-1\r\n"
    assert blocked(r) == 1  # a still waits: the script took its element back
    r.rpush("q", "y")
    assert a.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\ny\r\n"
    a.close()
    b.close()


def test_other_clients_during_busy_script_serve_nothing(server, r):
    """Commands answered BUSY while a script runs do not serve the clients
    blocked on a key the script pushed to: the script stays atomic."""
    r.config_set("busy-reply-threshold", 50)
    a = start_blocked(server, r, "BLPOP", "q", "0")
    body = "redis.call('rpush', 'q', 'x') " + (SPIN % 500) + "return redis.call('lpop', 'q')"
    t, res = background_command(server, "EVAL", body, 0)
    raw = server.raw()
    wait_busy(raw)
    raw.close()
    t.join(20)
    assert res == {"reply": b"x"}
    assert blocked(r) == 1
    r.rpush("q", "y")
    assert a.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\ny\r\n"
    a.close()


def test_timeout_during_busy_script_served_by_its_push(server, r):
    """A client whose deadline passed during a script is still served by
    what the script pushed (keys are served before timeouts, as Redis)."""
    r.config_set("busy-reply-threshold", 50)
    b = start_blocked(server, r, "BLPOP", "q", "0.2")
    body = (SPIN % 600) + "return redis.call('rpush', 'q', 'x')"
    t, res = background_command(server, "EVAL", body, 0)
    t.join(20)
    assert res == {"reply": 1}
    assert b.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n"
    assert r.exists("q") == 0
    b.close()


# ---- commands that may replicate (PUBLISH, SPUBLISH, PFCOUNT, EVAL, FCALL) ----

RO_ERR = "Write commands are not allowed from read-only scripts"
NO_WRITES_LIB = ("#!lua name=mr\n"
                 "redis.register_function('w', function(k, a) return redis.call('publish', 'c', 'x') end)\n"
                 "redis.register_function{function_name='r', callback=function(k, a) "
                 "return redis.call(a[1], k[1], 'x') end, flags={'no-writes'}}")


@pytest.mark.parametrize("cmd", ["publish", "spublish", "pfcount"])
def test_read_only_scripts_refuse_commands_that_may_replicate(r, cmd):
    r.pfadd("h", "a")
    with pytest.raises(redis.ResponseError) as e:
        r.eval_ro("return redis.call(ARGV[1], KEYS[1], 'x')", 1, "h", cmd)
    assert str(e.value).startswith(RO_ERR)
    with pytest.raises(redis.ResponseError) as e:
        r.eval("#!lua flags=no-writes\nreturn redis.call(ARGV[1], KEYS[1], 'x')", 1, "h", cmd)
    assert str(e.value).startswith(RO_ERR)
    r.function_load(NO_WRITES_LIB, replace=True)
    with pytest.raises(redis.ResponseError) as e:
        r.fcall_ro("r", 1, "h", cmd)
    assert str(e.value).startswith(RO_ERR)
    # a script that may write runs them
    assert r.eval("return redis.call(ARGV[1], KEYS[1], 'x')", 1, "h", cmd) in (0, 1)


def held(o, name, cmd):
    return any(c["name"] == name and "b" in c["flags"] and c["cmd"] == cmd for c in o.client_list())


@pytest.mark.parametrize("args,cmd", [
    (("PUBLISH", "c", "x"), "publish"),
    (("SPUBLISH", "c", "x"), "spublish"),
    (("PFCOUNT", "h"), "pfcount"),
    (("EVAL", "return 1", "0"), "eval"),
    (("FCALL", "w", "0"), "fcall"),
    (("EXEC",), "exec"),
])
def test_pause_write_holds_commands_that_may_replicate(server, args, cmd):
    o = server.client()
    o.function_load(NO_WRITES_LIB, replace=True)
    c = server.raw()
    try:
        c.call("CLIENT", "SETNAME", "mr")
        if cmd == "exec":
            c.call("MULTI")
            c.call("PUBLISH", "c", "x")
        o.execute_command("CLIENT", "PAUSE", "100000", "WRITE")
        # not held: a read-only script, FCALL of a no-writes function
        assert c.call("EVAL_RO", "return 1", "0") == b":1\r\n" if cmd != "exec" else True
        assert c.call("FCALL", "r", "1", "h", "exists") == b":0\r\n" if cmd != "exec" else True
        c.send_raw(encode(*args))
        wait_until(lambda: held(o, "mr", cmd), what=cmd + " to be held")
        o.execute_command("CLIENT", "UNPAUSE")
        assert not c.read_reply().startswith(b"-")
    finally:
        o.execute_command("CLIENT", "UNPAUSE")
        o.close()
        c.close()


# ---- durability (lode only) ----

@pytest.mark.lode_only
def test_pops_served_by_exec_script_and_fcall_replay(make_server):
    """Pops served by pushes inside EXEC, EVAL and FCALL, and a BLMOVE
    chain, are logged after the record that fed them: a kill -9 and a
    restart give the same digest, with functions, TTLs and every type."""
    s = make_server()
    r = s.client()
    r.function_load("#!lua name=lib\nredis.register_function('pushit', "
                    "function(k, a) return redis.call('rpush', k[1], a[1]) end)")
    r.set("ttl", "v", px=100000)
    r.hset("h", "f", "1")
    r.sadd("s", "a")
    r.zadd("z", {"m": 1})
    r.pfadd("hll", "a")
    a = start_blocked(s, r, "BLMOVE", "src", "mid", "RIGHT", "LEFT", "0")
    b = start_blocked(s, r, "BLMOVE", "mid", "dst", "LEFT", "LEFT", "0")
    c = start_blocked(s, r, "BRPOPLPUSH", "dst", "src2", "0")
    with r.pipeline(transaction=True) as p:
        p.rpush("src", "1", "2").incr("n")
        assert p.execute() == [2, 1]
    assert [x.read_reply() for x in (a, b, c)] == [b"$1\r\n2\r\n"] * 3
    d = start_blocked(s, r, "BLPOP", "q", "0")
    body = "redis.call('rpush', KEYS[1], 'x', 'y'); return redis.call('lpop', KEYS[1])"
    assert r.eval(body, 1, "q") == b"x"
    assert d.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\ny\r\n"
    f = start_blocked(s, r, "BLPOP", "fq", "0")
    assert r.fcall("pushit", 1, "fq", "z") == 1
    assert f.read_reply() == b"*2\r\n$2\r\nfq\r\n$1\r\nz\r\n"
    e = start_blocked(s, r, "BZPOPMIN", "zq", "0")
    with r.pipeline(transaction=True) as p:
        p.zadd("zq", {"a": 1, "b": 2}).eval("return redis.call('zadd', KEYS[1], 3, 'c')", 1, "zq")
        p.execute()
    assert e.read_reply() == b"*3\r\n$2\r\nzq\r\n$1\r\na\r\n$1\r\n1\r\n"
    want = r.execute_command("DEBUG", "DIGEST")
    for x in (a, b, c, d, e, f):
        x.close()
    s.kill9()
    s.start()
    r = s.client()
    assert r.execute_command("DEBUG", "DIGEST") == want
    assert r.lrange("src", 0, -1) == [b"1"] and r.lrange("src2", 0, -1) == [b"2"]
    assert r.zrange("zq", 0, -1) == [b"b", b"c"]
    assert r.fcall("pushit", 1, "fq", "w") == 1
    assert r.pttl("ttl") > 0
