"""HyperLogLog (PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST) through
redis-py. The reply tests pass against redis-server too (LODE_TARGET=redis):
register contents differ between the two (each has its own hash and
layout), so they use cardinalities small enough for both to be exact.
Accuracy is checked up to 1,000,000 distinct elements against the error
bound, side by side with redis-server on the same inputs (both within the
bound; the estimates are not expected to be equal). Restart tests (a
checkpoint, and WAL replay alone) compare DEBUG DIGEST."""
import os

import pytest
import redis

from conftest import Server

NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value."
CORRUPT = "INVALIDOBJ Corrupted HLL object detected"
STD_ERR = 1.04 / 128  # 0.81%: 1.04 / sqrt(16384)


def err_of(excinfo):
    return str(excinfo.value)


def test_pfadd_pfcount_replies(r):
    assert r.execute_command("PFADD", "h") == 1
    assert r.execute_command("PFADD", "h") == 0
    assert r.pfadd("h", "a", "b", "c") == 1
    assert r.pfadd("h", "a", "c") == 0
    assert r.pfcount("h") == 3
    assert r.pfcount("missing") == 0
    assert r.pfcount("missing", "h") == 3
    assert r.pfadd("h2", "c", "d", "e") == 1
    assert r.pfcount("h", "h2") == 5
    assert r.type("h") == b"string"
    assert r.object("encoding", "h") == b"raw"
    assert r.execute_command("PFDEBUG", "ENCODING", "h") == b"sparse"
    assert r.execute_command("PFSELFTEST") == b"OK"


def test_pfmerge(r):
    assert r.execute_command("PFMERGE", "empty") is True
    assert r.exists("empty") == 1
    assert r.pfcount("empty") == 0
    r.pfadd("a", *range(10))
    r.pfadd("b", *range(5, 20))
    r.pfadd("d", "x")
    r.expire("d", 1000)
    assert r.pfmerge("d", "a", "b", "missing") is True
    assert r.pfcount("d") == 21
    assert 0 < r.ttl("d") <= 1000
    assert r.pfcount("a", "b") == 20
    assert r.execute_command("PFDEBUG", "ENCODING", "d") == b"sparse"
    assert r.execute_command("PFDEBUG", "TODENSE", "b") == 1
    assert r.execute_command("PFDEBUG", "TODENSE", "b") == 0
    assert r.pfmerge("e", "a", "b") is True
    assert r.execute_command("PFDEBUG", "ENCODING", "e") == b"dense"
    assert r.pfcount("e") == 20


def test_wrong_types(r):
    r.set("s", "foo")
    r.pfadd("h", "x")
    for args in (("PFADD", "s", "a"), ("PFADD", "s"), ("PFCOUNT", "s"), ("PFCOUNT", "h", "s"),
                 ("PFMERGE", "d", "h", "s"), ("PFMERGE", "s", "h"),
                 ("PFDEBUG", "ENCODING", "s")):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*args)
        assert err_of(e) == NOT_HLL, args
    assert r.exists("d") == 0
    try:
        r.rpush("l", "x")
    except redis.ResponseError as e:  # lists not built yet in this tree
        assert "unknown command" in str(e)
    else:
        with pytest.raises(redis.ResponseError) as e:
            r.pfadd("l", "a")
        assert err_of(e) == "WRONGTYPE Operation against a key holding the wrong kind of value"
        with pytest.raises(redis.ResponseError) as e:
            r.pfcount("h", "l")
        assert err_of(e).startswith("WRONGTYPE Operation against")
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("PFDEBUG", "ENCODING", "missing")
    assert err_of(e) == "The specified key does not exist"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("PFDEBUG", "NOPE", "h")
    assert err_of(e) == "Unknown PFDEBUG subcommand 'NOPE'"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("PFDEBUG", "GETREG", "h", "x")
    assert "wrong number of arguments" in err_of(e)


def test_sparse_max_bytes_config(r):
    assert r.config_get("hll-sparse-max-bytes") == {"hll-sparse-max-bytes": "3000"}
    r.config_set("hll-sparse-max-bytes", "1k")
    assert r.config_get("hll-sparse-max-bytes") == {"hll-sparse-max-bytes": "1000"}
    with pytest.raises(redis.ResponseError):
        r.config_set("hll-sparse-max-bytes", "-1")
    r.config_set("hll-sparse-max-bytes", 0)
    r.pfadd("h", "a")
    assert r.execute_command("PFDEBUG", "ENCODING", "h") == b"dense"
    r.config_set("hll-sparse-max-bytes", 3000)
    r.pfadd("s", "a")
    assert r.execute_command("PFDEBUG", "ENCODING", "s") == b"sparse"
    # enough distinct registers end the sparse form in both layouts
    r.pfadd("s", *range(5000))
    assert r.execute_command("PFDEBUG", "ENCODING", "s") == b"dense"
    assert abs(r.pfcount("s") - 5001) < 3 * STD_ERR * 5001


def test_getreg_converts_to_dense(r):
    r.pfadd("h", "a", "b")
    regs = r.execute_command("PFDEBUG", "GETREG", "h")
    assert len(regs) == 16384
    assert sorted(regs)[:-2] == [0] * 16382 and all(v > 0 for v in sorted(regs)[-2:])
    assert r.execute_command("PFDEBUG", "ENCODING", "h") == b"dense"
    assert r.pfcount("h") == 2


@pytest.mark.lode_only
def test_corrupt_values(r):
    r.set("c", b"LHLL\x01\x01\x00\x00\x00\x00\x81\x00\x00\x41")  # unsorted registers
    for args in (("PFCOUNT", "c"), ("PFADD", "c", "x"), ("PFMERGE", "d", "c"),
                 ("PFCOUNT", "c", "missing"), ("PFDEBUG", "GETREG", "c")):
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*args)
        assert err_of(e) == CORRUPT, args
    assert r.get("c") == b"LHLL\x01\x01\x00\x00\x00\x00\x81\x00\x00\x41"
    # Redis's own HyperLogLog bytes are not ours
    r.set("redis", b"HYLL\x01\x00\x00\x00\x00\x00\x00\x80\x7f\xff")
    with pytest.raises(redis.ResponseError) as e:
        r.pfcount("redis")
    assert err_of(e) == NOT_HLL


def fill_to(c, key, start, end, batch=1000):
    p = c.pipeline(transaction=False)
    for i in range(start, end, batch):
        p.pfadd(key, *("el:%d" % j for j in range(i, min(end, i + batch))))
    p.execute()


@pytest.mark.lode_only
def test_accuracy_side_by_side_with_redis(server_factory):
    """1..1,000,000 distinct elements: lode and redis each stay within 3
    standard errors at every checkpoint (exact up to 10), and PFCOUNT of
    several keys (merged on the fly) matches PFMERGE's result."""
    lode = server_factory(kind="lode").client()
    red = server_factory(kind="redis").client()
    marks = [1, 2, 5, 10, 50, 99, 300, 1000, 3000, 10000, 30000, 100000, 300000, 1000000]
    done = 0
    for m in marks:
        for c in (lode, red):
            fill_to(c, "acc", done, m)
        done = m
        for name, c in (("lode", lode), ("redis", red)):
            est = c.pfcount("acc")
            if m <= 10:
                assert est == m, (name, m, est)
            else:
                # below a few hundred, register collisions (a handful)
                # dominate the error
                assert abs(est - m) <= max(3 * STD_ERR * m, 2), (name, m, est)
    # unions: [0, 1e6) and [500000, 1.5e6)
    for c in (lode, red):
        fill_to(c, "other", 500000, 1500000)
        union = c.pfcount("acc", "other")
        assert abs(union - 1500000) <= 3 * STD_ERR * 1500000
        assert c.pfmerge("u", "acc", "other") is True
        assert c.pfcount("u") == union
        assert c.execute_command("PFDEBUG", "ENCODING", "u") == b"dense"


def digest(c):
    return c.execute_command("DEBUG", "DIGEST")


def populate(c):
    c.pfadd("empty")
    c.pfadd("small", "a", "b", "c")
    fill_to(c, "dense", 0, 20000)
    c.pfadd("ttl", "x")
    c.expire("ttl", 10000)
    c.pfmerge("merged", "small", "dense")
    c.execute_command("PFDEBUG", "TODENSE", "small")
    c.pfadd("small", "d")
    return {k: c.pfcount(k) for k in ("empty", "small", "dense", "ttl", "merged")}


@pytest.mark.lode_only
@pytest.mark.parametrize("save", [True, False], ids=["checkpoint", "wal-replay"])
def test_restart_round_trip(make_server, save):
    s = make_server()
    c = s.client()
    counts = populate(c)
    before = digest(c)
    if save:
        c.execute_command("SAVE")
        s.stop()
    else:
        s.kill9()
    s.start()
    c = s.client()
    assert digest(c) == before
    assert {k: c.pfcount(k) for k in counts} == counts
    assert c.execute_command("PFDEBUG", "ENCODING", "merged") == b"dense"
    assert c.ttl("ttl") > 0
    # the values still take writes after the restart
    assert c.pfadd("small", "zz") == 1
