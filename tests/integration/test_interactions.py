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
