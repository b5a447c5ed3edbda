"""Sorted sets through redis-py: both encodings, scores, ranges, pops, set
operations (with SET-typed inputs when the server has SADD), RESP3 doubles,
and (lode only) a checkpoint + restart and a WAL-replay round trip, each
compared with DEBUG DIGEST. The tests without the lode_only mark also pass
against redis-server (LODE_TARGET=redis)."""
import random

import pytest
import redis

from conftest import wait_until


def enc(c, k):
    return c.object("encoding", k)


def test_zadd_and_scores(r):
    assert r.zadd("z", {"a": 1, "b": 2.5, "c": -3}) == 3
    assert r.zadd("z", {"a": 1}) == 0
    assert r.zadd("z", {"a": 5}, ch=True) == 1
    assert r.zscore("z", "b") == 2.5
    assert r.zscore("z", "nope") is None
    assert r.zmscore("z", ["a", "nope", "c"]) == [5.0, None, -3.0]
    assert r.zcard("z") == 3
    assert r.zadd("z", {"a": 1}, nx=True) == 0
    assert r.zadd("z", {"n": 1}, xx=True) == 0
    assert r.zadd("z", {"a": 10}, gt=True, ch=True) == 1
    assert r.zadd("z", {"a": 9}, gt=True, ch=True) == 0
    assert r.zadd("z", {"a": 1}, incr=True) == 11.0
    assert r.zincrby("z", 0.5, "a") == 11.5
    r.zadd("f", {"x": 0.1})
    with pytest.raises(redis.ResponseError, match="not a valid float"):
        r.execute_command("ZADD", "z", "nan", "a")
    r.zadd("i", {"m": float("inf")})
    with pytest.raises(redis.ResponseError, match="NaN"):
        r.zincrby("i", float("-inf"), "m")
    r.set("s", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.zadd("s", {"a": 1})


def test_encodings_and_conversion(r):
    for i in range(128):
        r.zadd("z", {"m%d" % i: i})
    assert enc(r, "z") == b"listpack"
    r.zadd("z", {"m128": 128})
    assert enc(r, "z") == b"skiplist"
    r.zremrangebyrank("z", 0, -2)
    assert enc(r, "z") == b"skiplist"
    r.zadd("y", {"a": 1})
    r.zadd("y", {"x" * 65: 2})
    assert enc(r, "y") == b"skiplist"
    assert r.zunionstore("u", ["z"]) == 1
    assert enc(r, "u") == b"listpack"
    r.config_set("zset-max-listpack-entries", 2)
    try:
        r.zadd("w", {"a": 1, "b": 2, "c": 3})
        assert enc(r, "w") == b"skiplist"
    finally:
        r.config_set("zset-max-listpack-entries", 128)


@pytest.mark.parametrize("n", [50, 1000])
def test_ranges_against_model(r, n):
    rnd = random.Random(n)
    model = {}
    for i in range(n):
        m = "m%d" % rnd.randrange(n * 2)
        s = rnd.randrange(-50, 50) / 4
        model[m] = s
        r.zadd("z", {m: s})
    order = sorted(model.items(), key=lambda kv: (kv[1], kv[0].encode()))
    assert r.zrange("z", 0, -1, withscores=True) == [(m.encode(), s) for m, s in order]
    assert r.zrevrange("z", 0, 9) == [m.encode() for m, _ in order[::-1][:10]]
    for m, _ in order[:: max(1, len(order) // 20)]:
        assert r.zrank("z", m) == [x for x, _ in order].index(m)
        assert r.zrevrank("z", m) == len(order) - 1 - [x for x, _ in order].index(m)
    inr = [m.encode() for m, s in order if -2 < s <= 3]
    assert r.zrangebyscore("z", "(-2", 3) == inr
    assert r.zcount("z", "(-2", 3) == len(inr)
    assert r.zrangebyscore("z", "(-2", 3, start=2, num=5) == inr[2:7]
    assert r.zrevrangebyscore("z", 3, "(-2") == inr[::-1]
    assert r.zremrangebyscore("z", "(-2", 3) == len(inr)
    assert r.zcard("z") == len(order) - len(inr)


def test_lex(r):
    r.zadd("z", {m: 0 for m in ["a", "b", "c", "d", "e", "foo", "zz"]})
    assert r.zrangebylex("z", "[b", "(e") == [b"b", b"c", b"d"]
    assert r.zrevrangebylex("z", "+", "(d") == [b"zz", b"foo", b"e"]
    assert r.zlexcount("z", "-", "+") == 7
    assert r.zremrangebylex("z", "[a", "[c") == 3
    assert r.zrange("z", 0, -1) == [b"d", b"e", b"foo", b"zz"]
    with pytest.raises(redis.ResponseError, match="not valid string range"):
        r.zrangebylex("z", "a", "b")


def test_pops(r):
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert r.zpopmin("z") == [(b"a", 1.0)]
    assert r.zpopmax("z", 2) == [(b"d", 4.0), (b"c", 3.0)]
    assert r.execute_command("ZMPOP", 2, "nope", "z", "MIN", "COUNT", 5) == [
        b"z", [[b"b", b"2"]]]
    assert r.exists("z") == 0
    assert r.execute_command("ZMPOP", 1, "z", "MIN") is None


def test_set_operations(r):
    r.zadd("a", {"x": 1, "y": 2, "z": 3})
    r.zadd("b", {"y": 10, "z": 20, "w": 30})
    assert r.zunion(["a", "b"], withscores=True) == [
        (b"x", 1.0), (b"y", 12.0), (b"z", 23.0), (b"w", 30.0)]
    assert r.zinter({"a": 2, "b": 1}, aggregate="MAX", withscores=True) == [
        (b"y", 10.0), (b"z", 20.0)]
    assert r.zdiff(["a", "b"]) == [b"x"]
    assert r.zinterstore("d", ["a", "b"]) == 2
    assert r.zrange("d", 0, -1, withscores=True) == [(b"y", 12.0), (b"z", 23.0)]
    assert r.zdiffstore("d", ["b", "a"]) == 1
    assert r.zintercard(2, ["a", "b"]) == 2
    assert r.zintercard(2, ["a", "b"], limit=1) == 1
    assert r.zinterstore("d", ["a", "nope"]) == 0
    assert r.exists("d") == 0


def test_set_inputs(r):
    r.sadd("s", "x", "q")
    r.zadd("a", {"x": 5, "y": 2})
    assert r.zunion(["a", "s"], withscores=True) == [(b"q", 1.0), (b"y", 2.0), (b"x", 6.0)]
    assert r.zinter(["a", "s"], withscores=True) == [(b"x", 6.0)]
    assert r.zdiff(["a", "s"]) == [b"y"]


def test_zrandmember_and_zscan(r):
    members = {"m%d" % i: i for i in range(300)}
    r.zadd("big", members)
    r.zadd("small", {"a": 1, "b": 2})
    assert r.zrandmember("big").decode() in members
    got = r.zrandmember("big", 50)
    assert len(got) == 50 and len(set(got)) == 50
    assert len(r.zrandmember("small", -10)) == 10
    assert sorted(r.zrandmember("small", 10)) == [b"a", b"b"]
    seen = {}
    cursor = 0
    while True:
        cursor, items = r.zscan("big", cursor, count=20)
        seen.update(items)
        if cursor == 0:
            break
    assert seen == {k.encode(): float(v) for k, v in members.items()}
    assert r.zscan("small", 0, match="a*") == (0, [(b"a", 1.0)])


def test_reply_formats(raw):
    """Scores as Redis 7.0 formats them (%.17g), RESP2 bulk strings and
    RESP3 doubles."""
    raw.call("ZADD", "z", "0.1", "a", "1.5", "b", "-0", "c")
    assert raw.call("ZSCORE", "z", "a") == b"$19\r\n0.10000000000000001\r\n"
    assert raw.call("ZSCORE", "z", "c") == b"$1\r\n0\r\n"
    assert raw.call("ZINCRBY", "z", "inf", "b") == b"$3\r\ninf\r\n"
    raw.call("HELLO", "3")
    assert raw.call("ZSCORE", "z", "a") == b",0.10000000000000001\r\n"
    assert raw.call("ZRANGE", "z", "0", "0", "WITHSCORES") == b"*1\r\n*2\r\n$1\r\nc\r\n,0\r\n"
    assert raw.call("ZPOPMAX", "z") == b"*2\r\n$1\r\nb\r\n,inf\r\n"
    assert raw.call("ZPOPMAX", "z", "1") == b"*1\r\n*2\r\n$1\r\na\r\n,0.10000000000000001\r\n"


# ------------------------------------------------------------ durability


def fill_zsets(c):
    rnd = random.Random(4)
    c.zadd("small", {"a": 1, "b": -0.5, "12345678": 12345678, "c": float("inf")})
    p = c.pipeline(transaction=False)
    for i in range(20000):
        p.zadd("large", {"member:%d" % i: rnd.randrange(10**6) / 7})
    p.execute()
    c.zincrby("small", 0.1, "a")
    c.zadd("small", {"a": 0.2}, incr=True)
    c.zpopmin("large", 3)
    c.zunionstore("u", {"small": 2, "large": 0.5})
    c.zrangestore("r", "large", 10, 5000)
    c.zremrangebyscore("large", 100, 200)


def digest(c):
    return c.execute_command("DEBUG", "DIGEST")


@pytest.mark.lode_only
def test_checkpoint_restart_round_trip(make_server):
    s = make_server()
    c = s.client()
    fill_zsets(c)
    assert enc(c, "small") == b"listpack" and enc(c, "large") == b"skiplist"
    d = digest(c)
    c.execute_command("SAVE")
    s.stop()
    s.start()
    c = s.client()
    assert digest(c) == d
    assert enc(c, "small") == b"listpack" and enc(c, "large") == b"skiplist"
    assert c.zscore("small", "a") == pytest.approx(1.3)


@pytest.mark.lode_only
def test_wal_replay_round_trip(make_server):
    s = make_server()
    c = s.client()
    fill_zsets(c)
    d = digest(c)
    s.kill9()
    s.start()
    c = s.client()
    wait_until(lambda: c.ping(), what="server up")
    assert digest(c) == d


# -0 scores: a skiplist keeps -0, a listpack stores it as 0. The paths that
# leave a -0 in a skiplist (ZADD / ZINCRBY on a skiplist, ZRANGESTORE of a
# rank range over the threshold, a STORE result that is not packed) must
# reply the same after a restart from the WAL and from a checkpoint.
NEGZERO_KEYS = ["s", "r1", "r2", "r3", "u1", "u2", "u3", "p", "small"]


def fill_negzero(c):
    c.zadd("s", {"a": 1, "b": 1, "c": 5, "d": 9})
    c.zadd("s", {"b": "-0"})
    c.zincrby("s", "-0", "e")
    c.execute_command("ZADD", "s", "INCR", "-0", "b")
    c.execute_command("ZRANGESTORE", "r1", "s", "0", "2")
    c.execute_command("ZRANGESTORE", "r2", "s", "0", "1")
    c.execute_command("ZRANGESTORE", "r3", "s", "+inf", "-inf", "BYSCORE", "REV")
    c.execute_command("ZUNIONSTORE", "u1", "1", "s")
    c.execute_command("ZINTERSTORE", "u2", "1", "s", "WEIGHTS", "-0")
    c.execute_command("ZDIFFSTORE", "u3", "1", "s")
    c.zincrby("p", "-0", "m")
    # a skiplist that is small again keeps its -0
    c.execute_command("ZRANGESTORE", "small", "s", "0", "2")
    c.execute_command("ZREMRANGEBYRANK", "small", "1", "-1")


def negzero_view(port):
    from resp_client import RawConn
    c = RawConn(port)
    try:
        c.call("HELLO", "3")
        return [(c.call("OBJECT", "ENCODING", k), c.call("ZRANGE", k, "0", "-1", "WITHSCORES"))
                for k in NEGZERO_KEYS]
    finally:
        c.close()


@pytest.mark.lode_only
@pytest.mark.parametrize("how", ["wal", "checkpoint", "checkpoint+wal"])
def test_negative_zero_survives_restart(make_server, how):
    s = make_server(["--zset-max-listpack-entries", "2"])
    c = s.client()
    if how == "checkpoint+wal":
        c.zadd("s", {"z": 0})
        c.execute_command("SAVE")
    fill_negzero(c)
    before = negzero_view(s.port)
    assert before[0][1].count(b",-0\r\n") == 2 and b",-0\r\n" in before[NEGZERO_KEYS.index("small")][1]
    if how == "checkpoint":
        c.execute_command("SAVE")
    s.kill9()
    s.start()
    wait_until(lambda: s.client().ping(), what="server up")
    assert negzero_view(s.port) == before
