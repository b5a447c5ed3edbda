"""Blocking sorted-set pops (BZPOPMIN, BZPOPMAX, BZMPOP) with several
connections: FIFO service of the clients blocked on a key, serving from the
key that became ready, timeouts (fractional, zero = forever), RESP2 and
RESP3 reply shapes, CLIENT UNBLOCK, wrong types before and while waiting,
wake-ups by every write that creates or grows a sorted set (ZADD, ZINCRBY,
the STORE commands, a MULTI block), and (lode only) a served pop that is
durable across kill -9. Raw connections send the blocking command and read
its reply later; no fixed sleeps: a client is known to be blocked when
INFO blocked_clients says so."""
import time

import pytest

from conftest import wait_until
from resp_client import RawConn, encode


def blocked(r):
    return r.info("clients")["blocked_clients"]


def start_blocked(server, r, *args, resp3=False):
    """Opens a connection (RESP3 when asked), sends a blocking command and
    waits until the server counts one more blocked client."""
    before = blocked(r)
    c = RawConn(server.port)
    if resp3:
        c.call("HELLO", "3")
    c.send_raw(encode(*args))
    wait_until(lambda: blocked(r) == before + 1, what="client to block")
    return c


def need_multi(server):
    """Skips the test while the server lacks MULTI (transactions are being
    built on another branch)."""
    c = RawConn(server.port)
    rep = c.call("MULTI")
    if rep.startswith(b"-ERR unknown command"):
        c.close()
        pytest.skip("MULTI is not implemented yet")
    assert c.call("DISCARD") == b"+OK\r\n"
    c.close()


def bulk(s):
    s = s.encode() if isinstance(s, str) else s
    return b"$%d\r\n%s\r\n" % (len(s), s)


def zpop_reply(key, member, score):
    """RESP2 BZPOPMIN / BZPOPMAX reply: a flat [key, member, score]."""
    return b"*3\r\n" + bulk(key) + bulk(member) + bulk(score)


def zmpop_reply(key, pairs):
    """RESP2 BZMPOP reply: [key, [[member, score], ...]]."""
    out = b"*2\r\n" + bulk(key) + b"*%d\r\n" % len(pairs)
    for m, s in pairs:
        out += b"*2\r\n" + bulk(m) + bulk(s)
    return out


def test_fifo_order(server, r):
    a = start_blocked(server, r, "BZPOPMIN", "z", "0")
    b = start_blocked(server, r, "BZPOPMAX", "z", "0")
    c = start_blocked(server, r, "BZMPOP", "0", "2", "other", "z", "MIN", "COUNT", "5")
    d = start_blocked(server, r, "BZPOPMIN", "z", "0")
    assert r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4}) == 4
    assert a.read_reply() == zpop_reply("z", "a", "1")
    assert b.read_reply() == zpop_reply("z", "d", "4")
    assert c.read_reply() == zmpop_reply("z", [("b", "2"), ("c", "3")])
    # the set is gone: the last waiter keeps waiting
    assert r.exists("z") == 0
    assert blocked(r) == 1
    assert r.zadd("z", {"x": 1.5, "y": 2.5}) == 2
    assert d.read_reply() == zpop_reply("z", "x", "1.5")
    assert r.zrange("z", 0, -1, withscores=True) == [(b"y", 2.5)]
    assert blocked(r) == 0
    for x in (a, b, c, d):
        x.close()


def test_serves_from_the_key_that_became_ready(server, r):
    a = start_blocked(server, r, "BZPOPMAX", "k1", "k2", "k3", "0")
    b = start_blocked(server, r, "BZMPOP", "0", "3", "k1", "k2", "k3", "MAX", "COUNT", "2")
    r.zadd("k3", {"m": 3, "n": 4})
    assert a.read_reply() == zpop_reply("k3", "n", "4")
    assert b.read_reply() == zmpop_reply("k3", [("m", "3")])
    assert r.exists("k3") == 0
    a.close()
    b.close()


def test_timeout_fractional(server, r):
    c = RawConn(server.port)
    t0 = time.monotonic()
    assert c.call("BZPOPMIN", "nokey", "0.2") == b"*-1\r\n"
    took = time.monotonic() - t0
    assert 0.15 <= took < 3
    assert c.call("BZPOPMAX", "a", "b", ".01") == b"*-1\r\n"
    assert c.call("BZMPOP", "0.05", "2", "a", "b", "MAX", "COUNT", "3") == b"*-1\r\n"
    assert c.call("BZMPOP", "0.01", "1", "nokey", "MIN") == b"*-1\r\n"
    assert blocked(r) == 0
    c.close()


def test_resp3_shapes(server, r):
    c = RawConn(server.port)
    c.call("HELLO", "3")
    assert c.call("BZPOPMIN", "nokey", "0.01") == b"_\r\n"
    assert c.call("BZMPOP", "0.01", "1", "nokey", "MIN") == b"_\r\n"
    r.zadd("z", {"a": 1, "b": 2.5, "c": 3})
    assert c.call("BZPOPMIN", "z", "0") == b"*3\r\n$1\r\nz\r\n$1\r\na\r\n,1\r\n"
    assert c.call("BZMPOP", "0", "1", "z", "MAX", "COUNT", "2") == (
        b"*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nc\r\n,3\r\n*2\r\n$1\r\nb\r\n,2.5\r\n")
    # served after blocking: the same shapes
    a = start_blocked(server, r, "BZPOPMAX", "w", "0", resp3=True)
    b = start_blocked(server, r, "BZMPOP", "0", "1", "w", "MIN", resp3=True)
    r.zadd("w", {"lo": "-inf", "hi": "inf", "mid": 0})
    assert a.read_reply() == b"*3\r\n$1\r\nw\r\n$2\r\nhi\r\n,inf\r\n"
    assert b.read_reply() == b"*2\r\n$1\r\nw\r\n*1\r\n*2\r\n$2\r\nlo\r\n,-inf\r\n"
    assert r.zrange("w", 0, -1) == [b"mid"]
    for x in (a, b, c):
        x.close()


def test_infinite_scores_resp2(server, r):
    r.zadd("z", {"lo": "-inf", "hi": "inf"})
    c = RawConn(server.port)
    assert c.call("BZPOPMAX", "z", "0") == zpop_reply("z", "hi", "inf")
    assert c.call("BZPOPMIN", "z", "0") == zpop_reply("z", "lo", "-inf")
    c.close()


def test_zero_is_forever_and_unblock(server, r):
    c = start_blocked(server, r, "BZPOPMIN", "z", "0")
    ids = [int(x["id"]) for x in r.client_list() if x["cmd"] == "bzpopmin"]
    assert len(ids) == 1
    assert r.execute_command("CLIENT", "UNBLOCK", ids[0]) == 1
    assert c.read_reply() == b"*-1\r\n"
    assert r.execute_command("CLIENT", "UNBLOCK", ids[0]) == 0
    assert c.call("PING") == b"+PONG\r\n"
    d = start_blocked(server, r, "BZMPOP", "0", "1", "z", "MAX")
    ids = [int(x["id"]) for x in r.client_list() if x["cmd"] == "bzmpop"]
    assert r.execute_command("CLIENT", "UNBLOCK", ids[0], "ERROR") == 1
    assert d.read_reply() == b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    # nothing was popped by the unblocked clients
    r.zadd("z", {"m": 1})
    assert r.zcard("z") == 1
    c.close()
    d.close()


def test_wrong_type(server, r):
    r.set("s", "x")
    r.rpush("l", "v")
    c = RawConn(server.port)
    wt = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    assert c.call("BZPOPMIN", "s", "0") == wt
    assert c.call("BZPOPMAX", "nokey", "l", "0") == wt
    assert c.call("BZMPOP", "0", "2", "nokey", "s", "MIN") == wt
    # a non-empty sorted set before the wrong-type key serves first
    r.zadd("z", {"a": 1})
    assert c.call("BZPOPMIN", "z", "s", "0") == zpop_reply("z", "a", "1")
    assert blocked(r) == 0
    c.close()


def test_key_of_another_type_does_not_wake(server, r):
    a = start_blocked(server, r, "BZPOPMIN", "k", "0")
    b = start_blocked(server, r, "BLPOP", "k", "0")
    r.set("k", "string")
    r.delete("k")
    r.rpush("k", "v")  # serves the list waiter only
    assert b.read_reply() == b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
    assert blocked(r) == 1
    c = start_blocked(server, r, "BLPOP", "k", "0")
    r.zadd("k", {"m": 7})  # serves the sorted-set waiter only
    assert a.read_reply() == zpop_reply("k", "m", "7")
    assert blocked(r) == 1
    r.rpush("k", "w")
    assert c.read_reply() == b"*2\r\n$1\r\nk\r\n$1\r\nw\r\n"
    for x in (a, b, c):
        x.close()


def test_wakeups_by_every_zset_write(server, r):
    a = start_blocked(server, r, "BZPOPMIN", "inc", "0")
    r.zincrby("inc", 2.5, "m")
    assert a.read_reply() == zpop_reply("inc", "m", "2.5")

    r.zadd("src1", {"a": 1, "b": 2})
    r.zadd("src2", {"b": 10, "c": 3})
    a = start_blocked(server, r, "BZPOPMAX", "u", "0")
    assert r.zunionstore("u", ["src1", "src2"]) == 3
    assert a.read_reply() == zpop_reply("u", "b", "12")

    a = start_blocked(server, r, "BZPOPMIN", "i", "0")
    assert r.zinterstore("i", ["src1", "src2"]) == 1
    assert a.read_reply() == zpop_reply("i", "b", "12")

    a = start_blocked(server, r, "BZMPOP", "0", "1", "d", "MIN", "COUNT", "9")
    assert r.execute_command("ZDIFFSTORE", "d", 2, "src1", "src2") == 1
    assert a.read_reply() == zmpop_reply("d", [("a", "1")])

    a = start_blocked(server, r, "BZPOPMAX", "rs", "0")
    assert r.execute_command("ZRANGESTORE", "rs", "src2", 0, -1) == 2
    assert a.read_reply() == zpop_reply("rs", "b", "10")

    # a STORE that produces an empty set creates nothing and wakes nobody
    a = start_blocked(server, r, "BZPOPMIN", "e", "0")
    assert r.zinterstore("e", ["src1", "nokey"]) == 0
    assert blocked(r) == 1
    r.execute_command("COPY", "src1", "e")
    assert a.read_reply() == zpop_reply("e", "a", "1")
    a.close()


def test_multi_serves_after_exec(server, r):
    need_multi(server)
    a = start_blocked(server, r, "BZPOPMIN", "z", "0")
    p = r.pipeline(transaction=True)
    p.zadd("z", {"a": 1})
    p.zadd("z", {"b": 0})
    p.zadd("z", {"c": 5})
    p.zcard("z")
    assert p.execute() == [1, 1, 1, 3]
    # served once the transaction ended: the minimum of the final set
    assert a.read_reply() == zpop_reply("z", "b", "0")
    assert r.zrange("z", 0, -1) == [b"a", b"c"]
    a.close()


def test_no_blocking_inside_multi(server, r):
    need_multi(server)
    c = RawConn(server.port)
    assert c.call("MULTI") == b"+OK\r\n"
    assert c.call("BZPOPMIN", "nokey", "0") == b"+QUEUED\r\n"
    assert c.call("BZMPOP", "0", "1", "nokey", "MAX") == b"+QUEUED\r\n"
    assert c.call("ZADD", "z", "1", "a") == b"+QUEUED\r\n"
    assert c.call("BZPOPMAX", "z", "0") == b"+QUEUED\r\n"
    assert c.call("EXEC") == (b"*4\r\n*-1\r\n*-1\r\n:1\r\n" + zpop_reply("z", "a", "1"))
    assert blocked(r) == 0
    c.close()


def test_blocking_commands_with_data_do_not_block(server, r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3})
    c = RawConn(server.port)
    assert c.call("BZPOPMIN", "z", "0") == zpop_reply("z", "a", "1")
    assert c.call("BZMPOP", "0", "1", "z", "MAX", "COUNT", "10") == (
        zmpop_reply("z", [("c", "3"), ("b", "2")]))
    assert r.exists("z") == 0
    c.close()


def test_errors(server, r):
    c = RawConn(server.port)
    cases = [
        (("BZPOPMIN", "z", "-1"), b"-ERR timeout is negative\r\n"),
        (("BZPOPMAX", "z", "x"), b"-ERR timeout is not a float or out of range\r\n"),
        (("BZMPOP", "-1", "1", "z", "MIN"), b"-ERR timeout is negative\r\n"),
        (("BZMPOP", "0", "0", "z", "MIN"), b"-ERR numkeys should be greater than 0\r\n"),
        (("BZMPOP", "0", "x", "z", "MIN"), b"-ERR numkeys should be greater than 0\r\n"),
        (("BZMPOP", "0", "3", "z", "MIN"), b"-ERR syntax error\r\n"),
        (("BZMPOP", "0", "1", "z", "LEFT"), b"-ERR syntax error\r\n"),
        (("BZMPOP", "0", "1", "z", "MIN", "COUNT"), b"-ERR syntax error\r\n"),
        (("BZMPOP", "0", "1", "z", "MIN", "COUNT", "0"),
         b"-ERR count should be greater than 0\r\n"),
        (("BZMPOP", "0", "1", "z", "MIN", "COUNT", "1", "COUNT", "2"), b"-ERR syntax error\r\n"),
        # the other arguments are checked before the timeout
        (("BZMPOP", "x", "1", "z", "FOO"), b"-ERR syntax error\r\n"),
        (("BZPOPMIN", "z"), b"-ERR wrong number of arguments for 'bzpopmin' command\r\n"),
        (("BZMPOP", "0", "1", "z"), b"-ERR wrong number of arguments for 'bzmpop' command\r\n"),
    ]
    for args, want in cases:
        assert c.call(*args) == want, args
    assert blocked(r) == 0
    c.close()


def test_disconnect_while_blocked(server, r):
    a = start_blocked(server, r, "BZPOPMIN", "z", "0")
    b = start_blocked(server, r, "BZPOPMIN", "z", "0")
    a.close()
    wait_until(lambda: blocked(r) == 1, what="closed client to be forgotten")
    r.zadd("z", {"m": 1})
    assert b.read_reply() == zpop_reply("z", "m", "1")
    assert r.exists("z") == 0
    b.close()


@pytest.mark.lode_only
def test_served_pop_is_durable(make_server):
    s = make_server()
    r = s.client()
    a = start_blocked(s, r, "BZPOPMIN", "z", "0")
    b = start_blocked(s, r, "BZMPOP", "0", "2", "y", "z", "MAX", "COUNT", "2")
    c = start_blocked(s, r, "BZPOPMAX", "w", "0")
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert a.read_reply() == zpop_reply("z", "a", "1")
    assert b.read_reply() == zmpop_reply("z", [("d", "4"), ("c", "3")])
    r.zadd("w", {"x": 0.1, "y": 0.2})
    assert c.read_reply() == zpop_reply("w", "y", "0.20000000000000001")
    # an immediate blocking pop is logged as what it did too
    r.zadd("v", {"p": 1, "q": 2, "r": 3})
    assert r.execute_command("BZMPOP", "0", "1", "v", "MIN", "COUNT", "2") == [
        b"v", [[b"p", b"1"], [b"q", b"2"]]]
    want = r.execute_command("DEBUG", "DIGEST")
    for x in (a, b, c):
        x.close()
    s.kill9()
    s.start()
    r = s.client()
    assert r.zrange("z", 0, -1, withscores=True) == [(b"b", 2.0)]
    assert r.zrange("w", 0, -1, withscores=True) == [(b"x", 0.1)]
    assert r.zrange("v", 0, -1) == [b"r"]
    assert r.execute_command("DEBUG", "DIGEST") == want
