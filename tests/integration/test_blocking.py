"""Blocking list commands with several connections: FIFO service of the
clients blocked on a key, timeouts (fractional, zero = forever), CLIENT
UNBLOCK, keys deleted or of the wrong type while clients wait, wake-ups by
RENAME / MOVE / SWAPDB, pipelined commands after a blocked one, pushes
inside MULTI and scripts serving waiters after them, no blocking inside
MULTI, and (lode only) a served pop that is durable across a restart. Raw connections send
the blocking command and read its reply later; no fixed sleeps: a client
is known to be blocked when INFO blocked_clients says so."""
import time

import pytest

from conftest import wait_until
from resp_client import RawConn, encode


def blocked(r):
    return r.info("clients")["blocked_clients"]


def start_blocked(server, r, *args, expect=None):
    """Opens a connection, sends a blocking command and waits until the
    server counts one more blocked client."""
    before = blocked(r)
    c = RawConn(server.port)
    c.send_raw(encode(*args))
    wait_until(lambda: blocked(r) == (expect if expect is not None else before + 1),
               what="client to block")
    return c


def test_fifo_order(server, r):
    a = start_blocked(server, r, "BLPOP", "q", "0")
    b = start_blocked(server, r, "BLPOP", "q", "0")
    c = start_blocked(server, r, "BRPOP", "other", "q", "0")
    assert r.rpush("q", "x", "y") == 2
    assert a.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n"
    assert b.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\ny\r\n"
    assert blocked(r) == 1
    assert r.exists("q") == 0
    # one push of three elements serves the last waiter and leaves two
    assert r.lpush("q", "1", "2", "3") == 3
    assert c.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\n1\r\n"
    assert r.lrange("q", 0, -1) == [b"3", b"2"]
    for x in (a, b, c):
        x.close()


def test_serves_from_the_key_that_became_ready(server, r):
    a = start_blocked(server, r, "BLPOP", "k1", "k2", "k3", "0")
    r.rpush("k3", "v3")
    assert a.read_reply() == b"*2\r\n$2\r\nk3\r\n$2\r\nv3\r\n"
    a.close()


def test_timeout_fractional(server, r):
    c = RawConn(server.port)
    t0 = time.monotonic()
    assert c.call("BLPOP", "nokey", "0.2") == b"*-1\r\n"
    took = time.monotonic() - t0
    assert 0.15 <= took < 3
    assert c.call("BRPOPLPUSH", "nokey", "dst", "0.05") == b"*-1\r\n"
    assert c.call("BLMOVE", "nokey", "dst", "LEFT", "RIGHT", "0.05") == b"*-1\r\n"
    assert c.call("BLMPOP", "0.05", "1", "nokey", "LEFT") == b"*-1\r\n"
    assert c.call("BRPOP", "a", "b", ".01") == b"*-1\r\n"
    assert blocked(r) == 0
    c.close()


def test_timeout_resp3(server, r):
    c = RawConn(server.port)
    c.call("HELLO", "3")
    assert c.call("BLPOP", "nokey", "0.05") == b"_\r\n"
    c.close()


def test_zero_is_forever_and_unblock(server, r):
    c = start_blocked(server, r, "BLPOP", "q", "0")
    ids = [int(x["id"]) for x in r.client_list() if x["cmd"] == "blpop"]
    assert len(ids) == 1
    assert r.execute_command("CLIENT", "UNBLOCK", ids[0]) == 1
    assert c.read_reply() == b"*-1\r\n"
    assert r.execute_command("CLIENT", "UNBLOCK", ids[0]) == 0
    # the connection works normally afterwards
    assert c.call("PING") == b"+PONG\r\n"
    d = start_blocked(server, r, "BRPOPLPUSH", "q", "x", "0")
    ids = [int(x["id"]) for x in r.client_list() if x["cmd"] == "brpoplpush"]
    assert r.execute_command("CLIENT", "UNBLOCK", ids[0], "ERROR") == 1
    assert d.read_reply() == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    assert r.execute_command("CLIENT", "UNBLOCK", 999999) == 0
    c.close()
    d.close()


def test_pipelined_commands_wait_for_the_blocked_one(server, r):
    c = RawConn(server.port)
    before = blocked(r)
    c.send_raw(encode("BLPOP", "q", "0") + encode("SET", "after", "1") + encode("GET", "after"))
    wait_until(lambda: blocked(r) == before + 1, what="client to block")
    assert r.get("after") is None
    r.rpush("q", "v")
    assert c.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\nv\r\n"
    assert c.read_reply() == b"+OK\r\n"
    assert c.read_reply() == b"$1\r\n1\r\n"
    c.close()


def test_key_deleted_or_wrong_type_while_blocked(server, r):
    c = start_blocked(server, r, "BLPOP", "q", "0")
    r.set("q", "string")  # a string does not wake a list pop
    r.delete("q")
    r.rpush("q", "a")
    r.delete("q")  # pushed and gone again in one MULTI-free step each
    assert c.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\na\r\n"
    d = start_blocked(server, r, "BLPOP", "q", "0")
    r.set("q", "x")
    assert blocked(r) == 1
    r.delete("q")
    r.lpush("q", "z")
    assert d.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\nz\r\n"
    c.close()
    d.close()


def test_blmove_wrong_type_destination(server, r):
    c = start_blocked(server, r, "BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
    r.set("dst", "string")
    r.rpush("src", "v")
    assert c.read_reply().startswith(b"-WRONGTYPE")
    assert r.lrange("src", 0, -1) == [b"v"]
    c.close()


def test_blmove_chain(server, r):
    a = start_blocked(server, r, "BLMOVE", "s1", "s2", "LEFT", "RIGHT", "0")
    b = start_blocked(server, r, "BRPOPLPUSH", "s2", "s3", "0")
    r.rpush("s1", "v")
    assert a.read_reply() == b"$1\r\nv\r\n"
    assert b.read_reply() == b"$1\r\nv\r\n"
    assert r.lrange("s3", 0, -1) == [b"v"]
    assert r.exists("s1", "s2") == 0
    a.close()
    b.close()


def test_blmpop_count(server, r):
    a = start_blocked(server, r, "BLMPOP", "0", "2", "x", "y", "RIGHT", "COUNT", "2")
    r.rpush("y", "1", "2", "3")
    assert a.read_reply() == b"*2\r\n$1\r\ny\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n"
    assert r.lrange("y", 0, -1) == [b"1"]
    a.close()


def test_rename_and_move_wake_clients(server, r):
    a = start_blocked(server, r, "BLPOP", "dst", "0")
    r.rpush("src", "v")
    r.rename("src", "dst")
    assert a.read_reply() == b"*2\r\n$3\r\ndst\r\n$1\r\nv\r\n"
    b = start_blocked(server, r, "BLPOP", "k", "0")
    r.execute_command("SELECT", 1)
    r.rpush("k", "w")
    r.execute_command("MOVE", "k", 0)
    assert b.read_reply() == b"*2\r\n$1\r\nk\r\n$1\r\nw\r\n"
    r.execute_command("SELECT", 0)
    a.close()
    b.close()


def test_swapdb_wakes_clients(server, r):
    a = start_blocked(server, r, "BLPOP", "k", "0")
    r.execute_command("SELECT", 2)
    r.rpush("k", "from2")
    r.execute_command("SWAPDB", 0, 2)
    assert a.read_reply() == b"*2\r\n$1\r\nk\r\n$5\r\nfrom2\r\n"
    r.execute_command("SELECT", 0)
    a.close()


def test_disconnect_while_blocked(server, r):
    a = start_blocked(server, r, "BLPOP", "q", "0")
    b = start_blocked(server, r, "BLPOP", "q", "0")
    a.close()
    wait_until(lambda: blocked(r) == 1, what="closed client to be forgotten")
    r.rpush("q", "v")
    assert b.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\nv\r\n"
    assert r.exists("q") == 0
    b.close()


def test_blocking_commands_with_data_do_not_block(server, r):
    r.rpush("q", "a", "b")
    c = RawConn(server.port)
    assert c.call("BLPOP", "q", "0") == b"*2\r\n$1\r\nq\r\n$1\r\na\r\n"
    assert c.call("BRPOP", "q", "0") == b"*2\r\n$1\r\nq\r\n$1\r\nb\r\n"
    assert c.call("BLPOP", "q", "-1") == b"-ERR timeout is negative\r\n"
    assert c.call("BLPOP", "q", "x") == b"-ERR timeout is not a float or out of range\r\n"
    c.close()


@pytest.mark.lode_only
def test_served_pop_is_durable(make_server):
    s = make_server()
    r = s.client()
    a = start_blocked(s, r, "BLMOVE", "src", "dst", "RIGHT", "LEFT", "0")
    b = start_blocked(s, r, "BLPOP", "q", "0")
    r.rpush("src", "1", "2", "3")
    assert a.read_reply() == b"$1\r\n3\r\n"
    r.rpush("q", "x", "y")
    assert b.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n"
    want = r.execute_command("DEBUG", "DIGEST")
    a.close()
    b.close()
    s.kill9()
    s.start()
    r = s.client()
    assert r.lrange("src", 0, -1) == [b"1", b"2"]
    assert r.lrange("dst", 0, -1) == [b"3"]
    assert r.lrange("q", 0, -1) == [b"y"]
    assert r.execute_command("DEBUG", "DIGEST") == want


def test_push_inside_multi_serves_after_exec(server, r):
    """The waiter is served once the transaction is over, and sees its
    final state: the two pushes, not the first alone."""
    a = start_blocked(server, r, "BLPOP", "q", "0")
    with r.pipeline(transaction=True) as p:
        p.rpush("q", "first").rpush("q", "second").llen("q")
        assert p.execute() == [1, 2, 2]
    assert a.read_reply() == b"*2\r\n$1\r\nq\r\n$5\r\nfirst\r\n"
    assert r.lrange("q", 0, -1) == [b"second"]
    a.close()


def test_push_inside_script_serves_after_it(server, r):
    a = start_blocked(server, r, "BRPOP", "q", "0")
    body = "redis.call('rpush', KEYS[1], 'a', 'b'); return redis.call('llen', KEYS[1])"
    assert r.eval(body, 1, "q") == 2
    assert a.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\nb\r\n"
    assert r.lrange("q", 0, -1) == [b"a"]
    a.close()


def test_no_blocking_inside_multi(r):
    """Inside MULTI a blocking pop on an empty list answers at once, as its
    non-blocking form would (null), and one on a full list pops."""
    r.delete("empty", "full")
    r.rpush("full", "x")
    with r.pipeline(transaction=True) as p:
        p.blpop("empty", 0).brpop("full", 0).blmove("empty", "d", 0, "LEFT", "RIGHT")
        assert p.execute() == [None, (b"full", b"x"), None]
    assert blocked(r) == 0
