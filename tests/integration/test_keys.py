"""Generic keyspace commands: EXISTS, TOUCH, TYPE, UNLINK, RENAME(NX), COPY,
MOVE, SELECT, SWAPDB, FLUSHDB/FLUSHALL, DBSIZE, KEYS, SCAN, RANDOMKEY and
OBJECT. Errors are compared as raw bytes; every test also passes against
redis-server (LODE_TARGET=redis)."""
import pytest
import redis


def test_exists_touch_type_unlink(r, raw):
    r.set("a", "1")
    r.set("b", "x")
    assert r.exists("a", "a", "b", "nokey") == 3
    assert r.touch("a", "b", "nokey") == 2
    assert raw.call("TYPE", "a") == b"+string\r\n"
    assert raw.call("TYPE", "nokey") == b"+none\r\n"
    assert r.unlink("a", "b", "a", "nokey") == 2
    assert r.exists("a", "b") == 0
    assert raw.call("EXISTS") == b"-ERR wrong number of arguments for 'exists' command\r\n"


def test_rename_and_renamenx(r, raw):
    assert raw.call("RENAME", "nokey", "x") == b"-ERR no such key\r\n"
    assert raw.call("RENAME", "nokey", "nokey") == b"-ERR no such key\r\n"
    assert raw.call("RENAMENX", "nokey", "x") == b"-ERR no such key\r\n"
    r.set("a", "va", px=100000)
    assert raw.call("RENAME", "a", "a") == b"+OK\r\n"
    assert raw.call("RENAMENX", "a", "a") == b":0\r\n"
    assert r.rename("a", "b") is True
    assert r.get("b") == b"va" and not r.exists("a")
    assert 99000 < r.pttl("b") <= 100000  # the TTL moves with the key
    r.set("c", "vc")
    assert r.renamenx("b", "c") is False
    assert r.rename("c", "b") is True  # overwrites, TTL of the source (none)
    assert r.get("b") == b"vc" and r.ttl("b") == -1
    assert r.renamenx("b", "d") is True
    assert r.keys("*") == [b"d"]


def test_rename_large_value_and_encoding(r):
    big = b"x" * 100000
    r.set("big", big)
    r.rename("big", "big2")
    assert r.get("big2") == big
    r.set("n", 12345)
    r.rename("n", "n2")
    assert r.object("encoding", "n2") == b"int"
    assert r.get("n2") == b"12345"


def test_copy(r, raw):
    r.set("k", "hello", px=90000)
    assert raw.call("COPY", "k", "k") == b"-ERR source and destination objects are the same\r\n"
    assert raw.call("COPY", "k", "k2", "DB") == b"-ERR syntax error\r\n"
    assert raw.call("COPY", "k", "k2", "foo") == b"-ERR syntax error\r\n"
    assert raw.call("COPY", "k", "k2", "DB", "x") == \
        b"-ERR value is not an integer or out of range\r\n"
    assert raw.call("COPY", "k", "k2", "DB", "16") == b"-ERR DB index is out of range\r\n"
    assert raw.call("COPY", "k", "k2", "DB", "2147483648") == \
        b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
    assert raw.call("COPY", "nokey", "k2") == b":0\r\n"
    assert raw.call("COPY", "k", "k2") == b":1\r\n"
    assert raw.call("COPY", "k", "k2") == b":0\r\n"
    assert 0 < r.pttl("k2") <= 90000
    r.set("k2", "other")
    assert raw.call("COPY", "k", "k2", "REPLACE") == b":1\r\n"
    assert r.get("k2") == b"hello"
    assert raw.call("COPY", "k", "k", "db", "3", "replace") == b":1\r\n"
    r3 = redis.Redis(port=r.connection_pool.connection_kwargs["port"], db=3)
    assert r3.get("k") == b"hello"
    assert 0 < r3.pttl("k") <= 90000
    # the copy is independent of the original
    r3.set("k", "changed")
    assert r.get("k") == b"hello"
    r3.close()


def test_move_and_select(r, raw):
    assert raw.call("SELECT", "x") == b"-ERR value is not an integer or out of range\r\n"
    assert raw.call("SELECT", "16") == b"-ERR DB index is out of range\r\n"
    assert raw.call("SELECT", "2147483648") == \
        b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
    r.set("k", "v", ex=100)
    assert raw.call("MOVE", "k", "abc") == b"-ERR value is not an integer or out of range\r\n"
    assert raw.call("MOVE", "k", "99") == b"-ERR DB index is out of range\r\n"
    assert raw.call("MOVE", "k", "-1") == b"-ERR DB index is out of range\r\n"
    assert raw.call("MOVE", "k", "0") == b"-ERR source and destination objects are the same\r\n"
    assert raw.call("MOVE", "nokey", "1") == b":0\r\n"
    assert raw.call("MOVE", "k", "1") == b":1\r\n"
    assert not r.exists("k")
    r.set("k", "v0")
    assert raw.call("MOVE", "k", "1") == b":0\r\n"  # already in the target
    assert raw.call("SELECT", "1") == b"+OK\r\n"
    assert raw.call("GET", "k") == b"$1\r\nv\r\n"
    assert raw.call("TTL", "k") in (b":100\r\n", b":99\r\n")


def test_swapdb(server, raw):
    a = server.client(db=0)
    b = server.client(db=5)
    a.set("in0", "x")
    b.set("in5", "y")
    b.set("in5b", "y")
    assert raw.call("SWAPDB", "a", "0") == b"-ERR invalid first DB index\r\n"
    assert raw.call("SWAPDB", "0", "b") == b"-ERR invalid second DB index\r\n"
    assert raw.call("SWAPDB", "0", "16") == b"-ERR DB index is out of range\r\n"
    assert raw.call("SWAPDB", "1", "1") == b"+OK\r\n"
    assert raw.call("SWAPDB", "0", "5") == b"+OK\r\n"
    # connections keep their db number and now see the other contents
    assert a.dbsize() == 2 and a.get("in5") == b"y"
    assert b.dbsize() == 1 and b.get("in0") == b"x"
    a.close()
    b.close()


def test_flushdb_flushall_dbsize(server, raw):
    a = server.client(db=0)
    b = server.client(db=7)
    for i in range(100):
        a.set("a%d" % i, i)
    b.set("b", 1)
    assert a.dbsize() == 100
    assert raw.call("FLUSHDB", "foo") == b"-ERR syntax error\r\n"
    assert raw.call("FLUSHDB", "sync", "async") == b"-ERR syntax error\r\n"
    assert raw.call("FLUSHALL", "now") == b"-ERR syntax error\r\n"
    assert raw.call("FLUSHDB", "ASYNC") == b"+OK\r\n"
    assert a.dbsize() == 0 and b.dbsize() == 1
    a.set("x", 1)
    assert raw.call("FLUSHALL", "SYNC") == b"+OK\r\n"
    assert a.dbsize() == 0 and b.dbsize() == 0
    assert raw.call("FLUSHALL") == b"+OK\r\n"
    a.close()
    b.close()


def test_keys_patterns(r):
    assert r.keys("*") == []
    for k in ("one", "two", "three", "hello", "hallo", "hxllo", "h*llo"):
        r.set(k, 1)
    assert sorted(r.keys("*")) == sorted([b"one", b"two", b"three", b"hello", b"hallo",
                                          b"hxllo", b"h*llo"])
    assert sorted(r.keys("t*")) == [b"three", b"two"]
    assert sorted(r.keys("h?llo")) == [b"h*llo", b"hallo", b"hello", b"hxllo"]
    assert sorted(r.keys("h[ae]llo")) == [b"hallo", b"hello"]
    assert sorted(r.keys("h[^e]llo")) == [b"h*llo", b"hallo", b"hxllo"]
    assert r.keys("h\\*llo") == [b"h*llo"]
    assert r.keys("nothing*") == []


def scan_all(r, **kw):
    cursor, seen = 0, []
    while True:
        cursor, keys = r.scan(cursor, **kw)
        seen += keys
        if cursor == 0:
            return seen


def test_scan_full_iteration(r):
    for i in range(1000):
        r.set("key:%d" % i, i)
    seen = scan_all(r, count=17)
    assert len(seen) == 1000 and set(seen) == {b"key:%d" % i for i in range(1000)}
    seen = scan_all(r, match="key:1*")
    want = {b"key:%d" % i for i in range(1000) if str(i).startswith("1")}
    assert set(seen) == want and len(seen) == len(want)
    assert set(scan_all(r, _type="string", count=100)) == {b"key:%d" % i for i in range(1000)}
    assert scan_all(r, _type="list") == []
    cursor, keys = r.scan(0, count=100000)
    assert cursor == 0 and len(keys) == 1000


def test_scan_guarantee_while_growing(r):
    for i in range(500):
        r.set("orig:%d" % i, i)
    cursor, seen, added = 0, set(), 0
    while True:
        cursor, keys = r.scan(cursor, count=10)
        seen.update(keys)
        if added < 5000:
            p = r.pipeline(transaction=False)
            for _ in range(250):
                p.set("new:%d" % added, 1)
                added += 1
            p.execute()
        if cursor == 0:
            break
    assert {b"orig:%d" % i for i in range(500)} <= seen


def test_scan_errors_and_cursor_format(raw):
    assert raw.call("SCAN", "abc") == b"-ERR invalid cursor\r\n"
    assert raw.call("SCAN", " 1") == b"-ERR invalid cursor\r\n"
    assert raw.call("SCAN", "18446744073709551616") == b"-ERR invalid cursor\r\n"
    assert raw.call("SCAN", "0", "COUNT", "0") == b"-ERR syntax error\r\n"
    assert raw.call("SCAN", "0", "COUNT", "-1") == b"-ERR syntax error\r\n"
    assert raw.call("SCAN", "0", "COUNT", "x") == \
        b"-ERR value is not an integer or out of range\r\n"
    assert raw.call("SCAN", "0", "MATCH") == b"-ERR syntax error\r\n"
    assert raw.call("SCAN", "0", "foo", "bar") == b"-ERR syntax error\r\n"
    assert raw.call("SCAN", "0") == b"*2\r\n$1\r\n0\r\n*0\r\n"
    assert raw.call("SCAN", "") == b"*2\r\n$1\r\n0\r\n*0\r\n"
    assert raw.call("SET", "only", "1") == b"+OK\r\n"
    assert raw.call("SCAN", "+0", "TYPE", "STRING") == b"*2\r\n$1\r\n0\r\n*1\r\n$4\r\nonly\r\n"
    assert raw.call("SCAN", "0", "TYPE", "nosuchtype") == b"*2\r\n$1\r\n0\r\n*0\r\n"
    # a cursor past the table is accepted (any 64-bit value)
    got = raw.call("SCAN", "18446744073709551615")
    assert got.startswith(b"*2\r\n$1\r\n0\r\n")


def test_scan_cursor_is_unsigned_64_bit(r):
    for i in range(5000):
        r.set(i, i)
    cursors = set()
    cursor = 0
    while True:
        cursor, _ = r.scan(cursor, count=50)
        cursors.add(cursor)
        if cursor == 0:
            break
    assert all(0 <= c < 2 ** 64 for c in cursors) and len(cursors) > 5


def test_randomkey(r, raw):
    assert raw.call("RANDOMKEY") == b"$-1\r\n"
    r.set("k", "v")
    assert r.randomkey() == b"k"
    for i in range(20):
        r.set("x%d" % i, 1)
    keys = {r.randomkey() for _ in range(300)}
    assert keys <= {b"k"} | {b"x%d" % i for i in range(20)} and len(keys) > 5


def test_object(r, raw):
    r.set("i", "100")
    r.set("big", "10000")
    r.set("e", "hello")
    r.set("r", "x" * 45)
    assert raw.call("OBJECT", "ENCODING", "i") == b"$3\r\nint\r\n"
    assert raw.call("object", "encoding", "e") == b"$6\r\nembstr\r\n"
    assert raw.call("OBJECT", "ENCODING", "r") == b"$3\r\nraw\r\n"
    assert raw.call("OBJECT", "ENCODING", "nokey") == b"$-1\r\n"
    assert raw.call("OBJECT", "REFCOUNT", "i") == b":2147483647\r\n"
    assert raw.call("OBJECT", "REFCOUNT", "big") == b":1\r\n"
    assert raw.call("OBJECT", "REFCOUNT", "e") == b":1\r\n"
    assert raw.call("OBJECT", "REFCOUNT", "nokey") == b"$-1\r\n"
    assert raw.call("OBJECT", "IDLETIME", "nokey") == b"$-1\r\n"
    assert raw.call("OBJECT", "FREQ", "nokey") == b"$-1\r\n"
    assert raw.call("OBJECT", "FREQ", "e") == (
        b"-ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
        b"Please note that when switching between policies at runtime LRU and LFU data "
        b"will take some time to adjust.\r\n")
    assert raw.call("OBJECT", "IDLETIME", "e") in (b":0\r\n", b":1\r\n")
    assert raw.call("OBJECT", "foo") == b"-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n"
    assert raw.call("OBJECT", "ENCODING") == \
        b"-ERR wrong number of arguments for 'object|encoding' command\r\n"
    assert raw.call("OBJECT", "HELP", "x") == \
        b"-ERR wrong number of arguments for 'object|help' command\r\n"
    assert raw.call("OBJECT") == b"-ERR wrong number of arguments for 'object' command\r\n"
    assert raw.call("OBJECT", "HELP") == (
        b"*15\r\n"
        b"+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
        b"+ENCODING <key>\r\n"
        b"+    Return the kind of internal representation used in order to store the value\r\n"
        b"+    associated with a <key>.\r\n"
        b"+FREQ <key>\r\n"
        b"+    Return the access frequency index of the <key>. The returned integer is\r\n"
        b"+    proportional to the logarithm of the recent access frequency of the key.\r\n"
        b"+IDLETIME <key>\r\n"
        b"+    Return the idle time of the <key>, that is the approximated number of\r\n"
        b"+    seconds elapsed since the last access to the key.\r\n"
        b"+REFCOUNT <key>\r\n"
        b"+    Return the number of references of the value associated with the specified\r\n"
        b"+    <key>.\r\n"
        b"+HELP\r\n"
        b"+    Prints this help.\r\n")


def test_resp3_nulls(raw):
    assert raw.call("HELLO", "3").startswith(b"%")
    assert raw.call("RANDOMKEY") == b"_\r\n"
    assert raw.call("OBJECT", "ENCODING", "nokey") == b"_\r\n"


@pytest.mark.parametrize("cmd,arity_args", [
    ("RENAME", ["a"]), ("RENAMENX", ["a"]), ("COPY", ["a"]), ("MOVE", ["a"]),
    ("SWAPDB", ["0"]), ("DBSIZE", ["x"]), ("KEYS", []), ("SCAN", []), ("RANDOMKEY", ["x"]),
    ("TYPE", []), ("TOUCH", []), ("UNLINK", []),
])
def test_arity_errors(raw, cmd, arity_args):
    assert raw.call(cmd, *arity_args) == \
        b"-ERR wrong number of arguments for '%s' command\r\n" % cmd.lower().encode()
