"""Lists through redis-py: the commands' results, OBJECT ENCODING, node
sizes from list-max-listpack-size, large lists (ends in constant time),
and (lode only) checkpoint + restart and WAL-replay round trips compared
with DEBUG DIGEST."""
import time

import pytest


def test_basic_commands(r):
    assert r.rpush("l", "a", "b", "c") == 3
    assert r.lpush("l", "z") == 4
    assert r.lrange("l", 0, -1) == [b"z", b"a", b"b", b"c"]
    assert r.lindex("l", -1) == b"c"
    assert r.linsert("l", "before", "b", "x") == 5
    assert r.lset("l", 0, "Z") is True
    assert r.lrem("l", 0, "x") == 1
    assert r.lpos("l", "b") == 2
    assert r.lpos("l", "q", count=0) == []
    assert r.ltrim("l", 1, -1) is True
    assert r.lrange("l", 0, -1) == [b"a", b"b", b"c"]
    assert r.lmove("l", "m", "RIGHT", "LEFT") == b"c"
    assert r.rpoplpush("m", "l") == b"c"
    assert r.lpop("l", 2) == [b"c", b"a"]
    assert r.rpop("l") == b"b"
    assert r.exists("l", "m") == 0
    assert r.execute_command("LMPOP", 2, "none", "l", "LEFT") is None
    r.rpush("n", 1, 2, 3)
    assert r.execute_command("LMPOP", 2, "none", "n", "RIGHT", "COUNT", 2) == [b"n", [b"3", b"2"]]
    assert r.object("encoding", "n") == b"quicklist"
    assert r.type("n") == b"list"


def test_large_list_and_node_sizes(r):
    n = 200000
    p = r.pipeline(transaction=False)
    for i in range(0, n, 1000):
        p.rpush("big", *range(i, i + 1000))
    p.execute()
    assert r.llen("big") == n
    assert r.lindex("big", 0) == b"0"
    assert r.lindex("big", -1) == str(n - 1).encode()
    assert r.lindex("big", n // 2) == str(n // 2).encode()
    assert r.lrange("big", 99998, 100001) == [b"99998", b"99999", b"100000", b"100001"]
    assert r.lpos("big", "150000") == 150000
    # the ends stay fast: many end accesses take far less than a walk would
    t0 = time.monotonic()
    p = r.pipeline(transaction=False)
    for _ in range(2000):
        p.lindex("big", 0)
        p.lindex("big", -1)
    p.execute()
    assert time.monotonic() - t0 < 5
    for fill in ("1", "3", "-1", "-5"):
        r.config_set("list-max-listpack-size", fill)
        r.delete("s")
        r.rpush("s", *range(50))
        r.linsert("s", "before", "25", "x" * 5000)
        r.lset("s", 10, "y" * 300)
        assert r.llen("s") == 51
        assert r.lindex("s", 25) == b"x" * 5000
        assert r.lindex("s", 10) == b"y" * 300
        assert r.lrem("s", 0, "7") == 1
        r.ltrim("s", 5, -5)
        assert r.llen("s") == 41
    r.config_set("list-max-listpack-size", "-2")


def fill_lists(r):
    p = r.pipeline(transaction=False)
    for i in range(0, 30000, 500):
        p.rpush("big", *("item-%d" % j for j in range(i, i + 500)))
    p.execute()
    r.rpush("small", "a", 1, -2, "3.5", "")
    r.rpush("ttl", "x")
    r.expire("ttl", 1000)
    r.rpush("blob", b"\x00\xff" * 10000, "tail")
    r.lset("big", 100, "changed")
    r.linsert("big", "after", "item-200", "inserted")
    r.lrem("big", 0, "item-300")
    r.ltrim("big", 2, -3)
    r.lmove("big", "moved", "LEFT", "RIGHT")
    r.execute_command("SELECT", 5)
    r.rpush("in5", *range(100))
    r.execute_command("SELECT", 0)


@pytest.mark.lode_only
def test_checkpoint_round_trip(make_server):
    s = make_server()
    r = s.client()
    fill_lists(r)
    want = r.execute_command("DEBUG", "DIGEST")
    r.execute_command("SAVE")
    s.stop()
    s.start()
    r = s.client()
    assert r.execute_command("DEBUG", "DIGEST") == want
    assert r.llen("big") == 29996 - 1
    assert r.lindex("big", 97) == b"changed"
    assert r.object("encoding", "big") == b"quicklist"
    assert r.ttl("ttl") > 900


@pytest.mark.lode_only
def test_wal_replay_round_trip(make_server):
    s = make_server()
    r = s.client()
    fill_lists(r)
    r.lpop("small")
    r.rpop("small", 2)
    r.execute_command("LMPOP", 1, "small", "LEFT", "COUNT", 5)
    r.rpoplpush("moved", "moved2")
    want = r.execute_command("DEBUG", "DIGEST")
    s.kill9()
    s.start()
    r = s.client()
    assert r.execute_command("DEBUG", "DIGEST") == want
    assert r.exists("small") == 0
    assert r.lrange("moved2", 0, -1) == [b"item-2"]
