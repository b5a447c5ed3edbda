"""Interactions between features that landed side by side: blocking pops
served by pushes inside transactions and scripts, WATCH against keys
changed by other features, timeouts of blocked clients while a script is
busy, keyspace notifications from inside MULTI and scripts, and (lode
only) the WAL order and restart digest of all that. No fixed sleeps:
blocked clients are counted through INFO, busy scripts seen through BUSY."""
import threading

import pytest
import redis

from conftest import wait_until
from resp_client import RawConn, encode


def blocked(r):
    return r.info("clients")["blocked_clients"]


def start_blocked(server, r, *args):
    before = blocked(r)
    c = RawConn(server.port)
    c.send_raw(encode(*args))
    wait_until(lambda: blocked(r) == before + 1, what="client to block")
    return c


def run_in_thread(server, fn):
    res = {}

    def go():
        c = server.client()
        try:
            res["reply"] = fn(c)
        except redis.ResponseError as e:
            res["error"] = str(e)
        finally:
            c.close()
    t = threading.Thread(target=go)
    t.start()
    return t, res


def wait_busy(server):
    raw = server.raw()

    def busy():
        return raw.call("PING").startswith(b"-BUSY")
    wait_until(busy, what="BUSY reply")
    raw.close()


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
    t, res = run_in_thread(server, lambda c: c.eval(body, 0))
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
    t, res = run_in_thread(server, lambda c: c.eval(body, 0))
    wait_busy(server)
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
    t, res = run_in_thread(server, lambda c: c.eval(body, 0))
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
