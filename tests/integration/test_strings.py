"""String commands (Redis 7.0 semantics): exact reply bytes through RawConn,
behaviour through redis-py. Every test also runs against redis-server
(LODE_TARGET=redis), which is how the expected bytes were established."""
import random

import pytest
import redis

from conftest import wait_until

NOTINT = b"-ERR value is not an integer or out of range\r\n"
NOTFLOAT = b"-ERR value is not a valid float\r\n"
OVERFLOW = b"-ERR increment or decrement would overflow\r\n"
TOOBIG = b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n"


def bulk(v):
    if isinstance(v, str):
        v = v.encode()
    return b"$%d\r\n%s\r\n" % (len(v), v)


def test_setnx_setex_psetex(raw):
    assert raw.call("SETNX", "a", "1") == b":1\r\n"
    assert raw.call("SETNX", "a", "2") == b":0\r\n"
    assert raw.call("GET", "a") == bulk("1")
    assert raw.call("SETEX", "b", "100", "v") == b"+OK\r\n"
    assert raw.call("PSETEX", "b", "100000", "w") == b"+OK\r\n"
    assert raw.call("GET", "b") == bulk("w")
    assert raw.call("SETEX", "b", "0", "v") == b"-ERR invalid expire time in 'setex' command\r\n"
    assert raw.call("PSETEX", "b", "-1", "v") == \
        b"-ERR invalid expire time in 'psetex' command\r\n"
    assert raw.call("SETEX", "b", "9223372036854775807", "v") == \
        b"-ERR invalid expire time in 'setex' command\r\n"
    assert raw.call("PSETEX", "b", "9223372036854775807", "v") == \
        b"-ERR invalid expire time in 'psetex' command\r\n"
    assert raw.call("SETEX", "b", "x", "v") == NOTINT
    assert raw.call("SETEX", "b", "1") == b"-ERR wrong number of arguments for 'setex' command\r\n"
    assert raw.call("SETNX", "a") == b"-ERR wrong number of arguments for 'setnx' command\r\n"


def test_setex_expires(r):
    r.psetex("k", 30, "v")
    r.setex("long", 1000, "v")
    wait_until(lambda: r.get("k") is None, what="PSETEX key to expire")
    assert r.setnx("k", "again") is True
    assert r.get("long") == b"v"


def test_mget_mset_msetnx(raw, r):
    assert raw.call("MSET", "a", "1", "b", "hello", "a", "2") == b"+OK\r\n"
    assert raw.call("MGET", "a", "b", "nokey") == b"*3\r\n$1\r\n2\r\n$5\r\nhello\r\n$-1\r\n"
    assert raw.call("MSET", "a", "1", "b") == b"-ERR wrong number of arguments for 'mset' command\r\n"
    assert raw.call("MSET", "a") == b"-ERR wrong number of arguments for 'mset' command\r\n"
    assert raw.call("MSETNX", "a", "1", "b") == \
        b"-ERR wrong number of arguments for 'msetnx' command\r\n"
    assert raw.call("MGET") == b"-ERR wrong number of arguments for 'mget' command\r\n"
    assert raw.call("MSETNX", "x", "1", "b", "2") == b":0\r\n"
    assert r.get("x") is None
    assert raw.call("MSETNX", "x", "1", "y", "2", "x", "3") == b":1\r\n"
    assert r.mget("x", "y") == [b"3", b"2"]
    keys = {"k%d" % i: "v%d" % i for i in range(500)}
    assert r.mset(keys) is True
    assert r.mget(list(keys)) == [v.encode() for v in keys.values()]


def test_getset_getdel(raw, r):
    assert raw.call("GETSET", "a", "1") == b"$-1\r\n"
    assert raw.call("GETSET", "a", "two") == bulk("1")
    assert raw.call("GET", "a") == bulk("two")
    assert raw.call("GETDEL", "a") == bulk("two")
    assert raw.call("GETDEL", "a") == b"$-1\r\n"
    assert r.get("a") is None
    # GETSET drops the TTL
    r.psetex("t", 50, "v")
    r.psetex("sentinel", 50, "v")
    assert r.getset("t", "w") == b"v"
    wait_until(lambda: r.get("sentinel") is None, what="sentinel to expire")
    assert r.get("t") == b"w"


def test_getex(raw, r):
    r.set("k", "v")
    assert raw.call("GETEX", "k") == bulk("v")
    assert raw.call("GETEX", "nokey") == b"$-1\r\n"
    assert raw.call("GETEX", "nokey", "EX", "-1") == b"$-1\r\n"
    assert raw.call("GETEX", "k", "EX", "0") == b"-ERR invalid expire time in 'getex' command\r\n"
    assert raw.call("GETEX", "k", "PX", "x") == NOTINT
    assert raw.call("GETEX", "k", "EX") == b"-ERR syntax error\r\n"
    assert raw.call("GETEX", "k", "PERSIST", "EX", "1") == b"-ERR syntax error\r\n"
    assert raw.call("GETEX", "k", "EX", "1", "PXAT", "1") == b"-ERR syntax error\r\n"
    assert raw.call("GETEX", "k", "KEEPTTL") == b"-ERR syntax error\r\n"
    assert raw.call("GETEX", "nokey", "XX") == b"-ERR syntax error\r\n"
    # absolute time in the past: replies, then the key is gone
    assert raw.call("GETEX", "k", "EXAT", "1") == bulk("v")
    assert raw.call("GET", "k") == b"$-1\r\n"
    r.set("k", "v")
    assert raw.call("GETEX", "k", "PXAT", "1") == bulk("v")
    assert r.get("k") is None
    # relative expiry, then PERSIST keeps it past a sentinel's expiry
    r.set("p", "v")
    r.set("e", "v")
    assert raw.call("GETEX", "p", "PX", "40") == bulk("v")
    assert raw.call("GETEX", "e", "px", "40") == bulk("v")
    assert raw.call("GETEX", "p", "persist") == bulk("v")
    wait_until(lambda: r.get("e") is None, what="GETEX PX key to expire")
    assert r.get("p") == b"v"
    assert r.getex("p", exat=2 ** 40) == b"v"


def test_incr_family(raw, r):
    assert raw.call("INCR", "n") == b":1\r\n"
    assert raw.call("DECR", "n") == b":0\r\n"
    assert raw.call("DECR", "n") == b":-1\r\n"
    assert raw.call("INCRBY", "n", "10") == b":9\r\n"
    assert raw.call("DECRBY", "n", "100") == b":-91\r\n"
    assert raw.call("INCRBY", "n", "1.5") == NOTINT
    assert raw.call("INCRBY", "n", "") == NOTINT
    assert raw.call("INCRBY", "n", "9223372036854775808") == NOTINT
    assert raw.call("DECRBY", "n", "-9223372036854775808") == b"-ERR decrement would overflow\r\n"
    r.set("max", 2 ** 63 - 1)
    assert raw.call("INCR", "max") == OVERFLOW
    assert raw.call("INCRBY", "max", "1") == OVERFLOW
    assert raw.call("GET", "max") == bulk(str(2 ** 63 - 1))
    r.set("min", -2 ** 63)
    assert raw.call("DECR", "min") == OVERFLOW
    assert raw.call("DECRBY", "min", "1") == OVERFLOW
    assert raw.call("INCRBY", "min", "-1") == OVERFLOW
    assert raw.call("INCRBY", "min", "9223372036854775807") == b":-1\r\n"
    for bad in ["hello", " 1", "1 ", "01", "+1", "1.0", "", "-0", "99999999999999999999"]:
        r.set("s", bad)
        assert raw.call("INCR", "s") == NOTINT, bad
        assert raw.call("DECRBY", "s", "1") == NOTINT, bad
    # a numeric string built by APPEND counts as an integer
    r.append("ap", "1")
    r.append("ap", "2")
    assert raw.call("INCR", "ap") == b":13\r\n"
    p = r.pipeline(transaction=False)
    for _ in range(1000):
        p.incr("cnt")
    assert p.execute()[-1] == 1000


def test_incr_keeps_ttl(r):
    r.psetex("n", 40, 5)
    r.psetex("sentinel", 40, "x")
    assert r.incr("n") == 6
    assert r.incrbyfloat("n", 0.5) == 6.5
    wait_until(lambda: r.get("n") is None, what="INCR key to keep its TTL and expire")


def test_incrbyfloat(raw, r):
    assert raw.call("INCRBYFLOAT", "f", "1.5") == bulk("1.5")
    assert raw.call("INCRBYFLOAT", "f", "1.5") == bulk("3")
    assert raw.call("INCRBYFLOAT", "f", "0.1") == bulk("3.1")
    assert raw.call("INCRBYFLOAT", "f", "-3.1") == bulk("0")
    assert raw.call("INCRBYFLOAT", "f", "1e-3") == bulk("0.001")
    assert raw.call("INCRBYFLOAT", "z", "-0.0") == bulk("0")
    r.set("i", 3)
    assert raw.call("INCRBYFLOAT", "i", "1.25e2") == bulk("128")
    assert raw.call("INCRBYFLOAT", "i", "0x10") == bulk("144")
    for bad in ["abc", " 1", "1 ", "", "nan", "1e5000", "1,5"]:
        assert raw.call("INCRBYFLOAT", "i", bad) == NOTFLOAT, bad
    for bad in ["inf", "-inf", "+inf"]:
        assert raw.call("INCRBYFLOAT", "i", bad) == \
            b"-ERR increment would produce NaN or Infinity\r\n"
    assert r.get("i") == b"144"
    r.set("s", "hello")
    assert raw.call("INCRBYFLOAT", "s", "1") == NOTFLOAT
    r.set("s", "1.5abc")
    assert raw.call("INCRBYFLOAT", "s", "1") == NOTFLOAT
    r.set("s", " 2")
    assert raw.call("INCRBYFLOAT", "s", "1") == NOTFLOAT
    r.set("s", "2.5e1")
    assert raw.call("INCRBYFLOAT", "s", "0.5") == bulk("25.5")
    big = raw.call("INCRBYFLOAT", "big", "1e300")
    assert big.startswith(b"$301\r\n1000000000000000000008997324079559193870523944")
    huge = raw.call("INCRBYFLOAT", "huge", "1.1e4932")
    assert huge.startswith(b"$4933\r\n10999999999999999999743731075")
    assert raw.call("INCRBYFLOAT", "huge", "1.1e4932") == \
        b"-ERR increment would produce NaN or Infinity\r\n"


def test_append_strlen(raw, r):
    assert raw.call("APPEND", "e", "") == b":0\r\n"
    assert r.get("e") == b""  # created, empty
    assert raw.call("APPEND", "a", "12") == b":2\r\n"
    assert raw.call("APPEND", "a", "abc") == b":5\r\n"
    assert raw.call("APPEND", "a", "") == b":5\r\n"
    assert raw.call("GET", "a") == bulk("12abc")
    assert raw.call("STRLEN", "a") == b":5\r\n"
    assert raw.call("STRLEN", "nokey") == b":0\r\n"
    r.set("num", -1234)
    assert raw.call("STRLEN", "num") == b":5\r\n"
    assert raw.call("APPEND", "num", "5") == b":6\r\n"
    assert r.get("num") == b"-12345"
    binv = b"\x00\r\n\xff"
    assert r.append("bin", binv) == 4
    assert r.append("bin", binv) == 8
    assert r.get("bin") == binv * 2


def test_append_big_sequence(r):
    p = r.pipeline(transaction=False)
    for i in range(20000):
        p.append("long", "%05d" % i)
    res = p.execute()
    assert res[-1] == 100000
    assert res[:3] == [5, 10, 15]
    v = r.get("long")
    assert v == b"".join(b"%05d" % i for i in range(20000))
    chunk = b"x" * 100000
    for i in range(1, 21):
        assert r.append("big", chunk) == 100000 * i
    assert r.strlen("big") == 2000000
    assert r.getrange("big", -3, -1) == b"xxx"


def test_string_size_limit(r, raw):
    r.config_set("proto-max-bulk-len", 1024 * 1024)
    try:
        r.set("m", b"a" * (1024 * 1024 - 1))
        assert r.append("m", "b") == 1024 * 1024
        assert raw.call("APPEND", "m", "c") == TOOBIG
        assert r.strlen("m") == 1024 * 1024
        assert raw.call("SETRANGE", "m", "1048575", "ab") == TOOBIG
        assert raw.call("SETRANGE", "new", "1048575", "ab") == TOOBIG
        assert r.get("new") is None
        assert raw.call("SETRANGE", "new", "1048575", "a") == b":1048576\r\n"
        assert raw.call("SETRANGE", "new", "9223372036854775807", "a") == TOOBIG
        assert raw.call("SETRANGE", "new", "9223372036854775807", "") == b":1048576\r\n"
    finally:
        r.config_set("proto-max-bulk-len", 512 * 1024 * 1024)


def test_getrange_substr(raw, r):
    r.set("i", 12345)
    cases = [
        ("0", "-1", "12345"), ("1", "2", "23"), ("-2", "-1", "45"), ("-1", "-2", ""),
        ("5", "10", ""), ("4", "10", "5"), ("-100", "-50", "1"), ("-100", "100", "12345"),
        ("2", "1", ""), ("9223372036854775807", "-9223372036854775808", ""),
        ("-9223372036854775808", "9223372036854775807", "12345"), ("0", "0", "1"),
        ("-5", "-5", "1"), ("-6", "-6", "1"),
    ]
    for start, end, want in cases:
        assert raw.call("GETRANGE", "i", start, end) == bulk(want), (start, end)
        assert raw.call("SUBSTR", "i", start, end) == bulk(want), (start, end)
    r.set("s", "This is a string")
    assert raw.call("GETRANGE", "s", "-3", "-1") == bulk("ing")
    assert raw.call("GETRANGE", "s", "10", "100") == bulk("string")
    assert raw.call("GETRANGE", "nokey", "0", "-1") == b"$0\r\n\r\n"
    r.set("e", "")
    assert raw.call("GETRANGE", "e", "0", "-1") == b"$0\r\n\r\n"
    assert raw.call("GETRANGE", "e", "-1", "0") == b"$0\r\n\r\n"
    assert raw.call("GETRANGE", "s", "a", "1") == NOTINT
    assert raw.call("GETRANGE", "nokey", "0", "1.5") == NOTINT
    assert raw.call("GETRANGE", "s", "0") == \
        b"-ERR wrong number of arguments for 'getrange' command\r\n"
    v = bytes(range(256))
    r.set("bin", v)
    assert r.getrange("bin", 250, -1) == v[250:]
    assert r.getrange("bin", -256, 3) == v[:4]


def test_setrange(raw, r):
    assert raw.call("SETRANGE", "k", "0", "") == b":0\r\n"
    assert raw.call("SETRANGE", "k", "100000000000", "") == b":0\r\n"
    assert r.get("k") is None
    assert raw.call("SETRANGE", "k", "-1", "a") == b"-ERR offset is out of range\r\n"
    assert raw.call("SETRANGE", "k", "x", "a") == NOTINT
    assert raw.call("SETRANGE", "k", "5", "abc") == b":8\r\n"
    assert r.get("k") == b"\x00" * 5 + b"abc"
    assert raw.call("SETRANGE", "k", "0", "XY") == b":8\r\n"
    assert raw.call("SETRANGE", "k", "10", "Z") == b":11\r\n"
    assert r.get("k") == b"XY\x00\x00\x00abc\x00\x00Z"
    assert raw.call("SETRANGE", "k", "100", "") == b":11\r\n"
    r.set("i", 12345)
    assert raw.call("SETRANGE", "i", "1", "9") == b":5\r\n"
    assert r.get("i") == b"19345"
    assert r.incr("i") == 19346
    r.set("h", "Hello World")
    assert r.setrange("h", 6, "Redis") == 11
    assert r.get("h") == b"Hello Redis"
    assert r.setrange("h", 6, b"\x00\xff") == 11
    assert r.get("h") == b"Hello \x00\xffdis"


def test_expired_keys_are_absent(r, raw):
    keys = ["k%d" % i for i in range(1, 8)]
    for k in keys:
        r.psetex(k, 1, "old")
    # polling GET expires lazily too: wait on the last key only, then every
    # other key has passed its deadline but is still in the table
    wait_until(lambda: r.get("k7") is None, what="keys to expire")
    assert raw.call("STRLEN", "k1") == b":0\r\n"
    assert raw.call("INCR", "k2") == b":1\r\n"
    assert raw.call("APPEND", "k3", "z") == b":1\r\n"
    assert raw.call("SETRANGE", "k4", "1", "z") == b":2\r\n"
    assert raw.call("GETRANGE", "k5", "0", "-1") == b"$0\r\n\r\n"
    assert raw.call("GETSET", "k6", "n") == b"$-1\r\n"
    assert raw.call("MSETNX", "k1", "1", "k7", "2") == b":1\r\n"
    assert raw.call("LCS", "nokey", "k5") == b"$0\r\n\r\n"


def lcs_reference(a, b):
    """Plain LCS length, to check the server's LEN on random inputs."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def test_lcs_resp2(raw, r):
    r.mset({"a": "ohmytext", "b": "mynewtext"})
    assert raw.call("LCS", "a", "b") == bulk("mytext")
    assert raw.call("LCS", "a", "b", "LEN") == b":6\r\n"
    assert raw.call("LCS", "a", "b", "IDX") == (
        b"*4\r\n$7\r\nmatches\r\n*2\r\n"
        b"*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n"
        b"*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n"
        b"$3\r\nlen\r\n:6\r\n")
    assert raw.call("LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN") == (
        b"*4\r\n$7\r\nmatches\r\n*1\r\n"
        b"*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n"
        b"$3\r\nlen\r\n:6\r\n")
    assert raw.call("LCS", "a", "nokey") == b"$0\r\n\r\n"
    assert raw.call("LCS", "x", "y", "len") == b":0\r\n"
    assert raw.call("LCS", "x", "y", "idx") == b"*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n"
    assert raw.call("LCS", "a", "b", "foo") == b"-ERR syntax error\r\n"
    assert raw.call("LCS", "a", "b", "MINMATCHLEN") == b"-ERR syntax error\r\n"
    assert raw.call("LCS", "a", "b", "MINMATCHLEN", "x") == NOTINT
    assert raw.call("LCS", "a", "b", "IDX", "LEN") == \
        b"-ERR If you want both the length and indexes, please just use IDX.\r\n"
    assert raw.call("LCS", "a") == b"-ERR wrong number of arguments for 'lcs' command\r\n"
    r.mset({"n1": 12345, "n2": "2345x1"})
    assert raw.call("LCS", "n1", "n2") == bulk("2345")
    rnd = random.Random(7)
    for _ in range(50):
        a = "".join(rnd.choice("acgt") for _ in range(rnd.randint(0, 60)))
        b = "".join(rnd.choice("acgt") for _ in range(rnd.randint(0, 60)))
        r.mset({"a": a, "b": b})
        assert r.execute_command("LCS", "a", "b", "LEN") == lcs_reference(a, b)
        assert len(r.execute_command("LCS", "a", "b")) == lcs_reference(a, b)


def test_lcs_resp3(server):
    from resp_client import RawConn
    c = RawConn(server.port)
    try:
        assert c.call("HELLO", "3").startswith(b"%")
        c.call("MSET", "a", "ohmytext", "b", "mynewtext")
        assert c.call("LCS", "a", "b", "IDX", "WITHMATCHLEN", "MINMATCHLEN", "-3") == (
            b"%2\r\n$7\r\nmatches\r\n*2\r\n"
            b"*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n"
            b"*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n"
            b"$3\r\nlen\r\n:6\r\n")
        assert c.call("LCS", "a", "b") == bulk("mytext")
        assert c.call("LCS", "a", "b", "LEN") == b":6\r\n"
        assert c.call("MGET", "a", "nokey") == b"*2\r\n$8\r\nohmytext\r\n_\r\n"
        assert c.call("GETDEL", "nokey") == b"_\r\n"
        assert c.call("GETEX", "nokey") == b"_\r\n"
        assert c.call("GETSET", "nokey", "v") == b"_\r\n"
    finally:
        c.close()


def test_redis_py_api(r):
    """The same commands through redis-py's typed API."""
    assert r.setnx("a", 1) is True
    assert r.setnx("a", 2) is False
    assert r.setex("b", 100, "x") is True
    assert r.psetex("c", 100000, "y") is True
    assert r.mset({"d": 1, "e": 2}) is True
    assert r.msetnx({"d": 1, "f": 2}) is False
    assert r.mget("a", "b", "c", "zz") == [b"1", b"x", b"y", None]
    assert r.getset("a", 5) == b"1"
    assert r.incr("a") == 6
    assert r.decr("a", 2) == 4
    assert r.incrby("a", 10) == 14
    assert r.decrby("a", 4) == 10
    assert r.incrbyfloat("a", 0.5) == 10.5
    assert r.append("a", "x") == 5
    assert r.strlen("a") == 5
    assert r.getrange("a", 0, 1) == b"10"
    assert r.substr("a", -1) == b"x"
    assert r.setrange("a", 0, "20") == 5
    assert r.getdel("a") == b"20.5x"
    assert r.getex("b", persist=True) == b"x"
    assert r.lcs("b", "c") == b""
    with pytest.raises(redis.ResponseError, match="overflow"):
        r.set("m", 2 ** 63 - 1)
        r.incr("m")
