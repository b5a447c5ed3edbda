"""Keyspace and keyevent notifications (notify-keyspace-events): the events
of the main commands of every type, expiry (lazy and active), the flag
classes and their CONFIG GET rendering, K-only / E-only, the db number in
the channel, and "new". The expected events were recorded from
redis-server 7.0.15; every test also runs against it (LODE_TARGET=redis).

Events are collected by a subscriber to __key*__:* that also subscribes to
a sentinel channel: after the command under test, PUBLISH sentinel marks
the end of its events (pub/sub preserves order), so no test sleeps."""
import os
import time

import pytest
import redis

from conftest import wait_until

# (name, setup commands, command, [(db, event, key), ...]) from redis-server
CASES = [
    ('set', [], ['SET', 'k', 'v'],
     [(0, 'set', 'k')]),
    ('set_ex', [], ['SET', 'k', 'v', 'EX', '100'],
     [(0, 'set', 'k'), (0, 'expire', 'k')]),
    ('set_nx_fail', [['SET', 'k', 'v']], ['SET', 'k', 'v2', 'NX'],
     []),
    ('set_get', [['SET', 'k', 'v']], ['SET', 'k', 'v2', 'GET'],
     [(0, 'set', 'k')]),
    ('setnx', [], ['SETNX', 'k', 'v'],
     [(0, 'set', 'k')]),
    ('setex', [], ['SETEX', 'k', '100', 'v'],
     [(0, 'set', 'k'), (0, 'expire', 'k')]),
    ('psetex', [], ['PSETEX', 'k', '100000', 'v'],
     [(0, 'set', 'k'), (0, 'expire', 'k')]),
    ('getset', [], ['GETSET', 'k', 'v'],
     [(0, 'set', 'k')]),
    ('getdel', [['SET', 'k', 'v']], ['GETDEL', 'k'],
     [(0, 'del', 'k')]),
    ('getex_ex', [['SET', 'k', 'v']], ['GETEX', 'k', 'EX', '100'],
     [(0, 'expire', 'k')]),
    ('getex_persist', [['SET', 'k', 'v', 'EX', '100']], ['GETEX', 'k', 'PERSIST'],
     [(0, 'persist', 'k')]),
    ('mset', [], ['MSET', 'a', '1', 'b', '2'],
     [(0, 'set', 'a'), (0, 'set', 'b')]),
    ('msetnx', [], ['MSETNX', 'a', '1', 'b', '2'],
     [(0, 'set', 'a'), (0, 'set', 'b')]),
    ('append', [], ['APPEND', 'k', 'xy'],
     [(0, 'append', 'k')]),
    ('setrange', [], ['SETRANGE', 'k', '2', 'xy'],
     [(0, 'setrange', 'k')]),
    ('incr', [], ['INCR', 'n'],
     [(0, 'incrby', 'n')]),
    ('decr', [], ['DECR', 'n'],
     [(0, 'incrby', 'n')]),
    ('incrby', [], ['INCRBY', 'n', '5'],
     [(0, 'incrby', 'n')]),
    ('decrby', [], ['DECRBY', 'n', '5'],
     [(0, 'incrby', 'n')]),
    ('incrbyfloat', [], ['INCRBYFLOAT', 'n', '1.5'],
     [(0, 'incrbyfloat', 'n')]),
    ('setbit', [], ['SETBIT', 'b', '7', '1'],
     [(0, 'setbit', 'b')]),
    ('bitop', [['SET', 'a', 'x']], ['BITOP', 'NOT', 'd', 'a'],
     [(0, 'set', 'd')]),
    ('bitfield', [], ['BITFIELD', 'b', 'SET', 'u8', '0', '255'],
     [(0, 'setbit', 'b')]),
    ('pfadd', [], ['PFADD', 'h', 'a', 'b'],
     [(0, 'pfadd', 'h')]),
    ('pfmerge', [['PFADD', 'h1', 'a']], ['PFMERGE', 'h', 'h1'],
     [(0, 'pfadd', 'h')]),
    ('del', [['SET', 'a', '1'], ['SET', 'b', '2']], ['DEL', 'a', 'b', 'c'],
     [(0, 'del', 'a'), (0, 'del', 'b')]),
    ('unlink', [['SET', 'a', '1']], ['UNLINK', 'a'],
     [(0, 'del', 'a')]),
    ('expire', [['SET', 'k', 'v']], ['EXPIRE', 'k', '100'],
     [(0, 'expire', 'k')]),
    ('expire_past', [['SET', 'k', 'v']], ['EXPIRE', 'k', '-1'],
     [(0, 'del', 'k')]),
    ('pexpireat', [['SET', 'k', 'v']], ['PEXPIREAT', 'k', '99999999999999'],
     [(0, 'expire', 'k')]),
    ('persist', [['SET', 'k', 'v', 'EX', '100']], ['PERSIST', 'k'],
     [(0, 'persist', 'k')]),
    ('rename', [['SET', 'a', '1']], ['RENAME', 'a', 'b'],
     [(0, 'rename_from', 'a'), (0, 'rename_to', 'b')]),
    ('renamenx', [['SET', 'a', '1']], ['RENAMENX', 'a', 'b'],
     [(0, 'rename_from', 'a'), (0, 'rename_to', 'b')]),
    ('rename_over', [['SET', 'a', '1'], ['SET', 'b', '2']], ['RENAME', 'a', 'b'],
     [(0, 'rename_from', 'a'), (0, 'rename_to', 'b')]),
    ('move', [['SET', 'a', '1']], ['MOVE', 'a', '1'],
     [(0, 'move_from', 'a'), (1, 'move_to', 'a')]),
    ('copy', [['SET', 'a', '1']], ['COPY', 'a', 'b'],
     [(0, 'copy_to', 'b')]),
    ('lpush', [], ['LPUSH', 'l', 'a', 'b'],
     [(0, 'lpush', 'l')]),
    ('rpush', [], ['RPUSH', 'l', 'a'],
     [(0, 'rpush', 'l')]),
    ('lpushx', [['RPUSH', 'l', 'a']], ['LPUSHX', 'l', 'b'],
     [(0, 'lpush', 'l')]),
    ('rpushx_miss', [], ['RPUSHX', 'l', 'b'],
     []),
    ('linsert', [['RPUSH', 'l', 'a']], ['LINSERT', 'l', 'BEFORE', 'a', 'z'],
     [(0, 'linsert', 'l')]),
    ('lset', [['RPUSH', 'l', 'a']], ['LSET', 'l', '0', 'z'],
     [(0, 'lset', 'l')]),
    ('lpop', [['RPUSH', 'l', 'a', 'b']], ['LPOP', 'l'],
     [(0, 'lpop', 'l')]),
    ('rpop_last', [['RPUSH', 'l', 'a']], ['RPOP', 'l'],
     [(0, 'rpop', 'l'), (0, 'del', 'l')]),
    ('lpop_count', [['RPUSH', 'l', 'a', 'b']], ['LPOP', 'l', '2'],
     [(0, 'lpop', 'l'), (0, 'del', 'l')]),
    ('ltrim', [['RPUSH', 'l', 'a', 'b', 'c']], ['LTRIM', 'l', '0', '0'],
     [(0, 'ltrim', 'l')]),
    ('ltrim_all', [['RPUSH', 'l', 'a']], ['LTRIM', 'l', '1', '0'],
     [(0, 'ltrim', 'l'), (0, 'del', 'l')]),
    ('lrem', [['RPUSH', 'l', 'a', 'b']], ['LREM', 'l', '0', 'a'],
     [(0, 'lrem', 'l')]),
    ('rpoplpush', [['RPUSH', 'l', 'a']], ['RPOPLPUSH', 'l', 'm'],
     [(0, 'lpush', 'm'), (0, 'rpop', 'l'), (0, 'del', 'l')]),
    ('lmove', [['RPUSH', 'l', 'a', 'b']], ['LMOVE', 'l', 'm', 'LEFT', 'RIGHT'],
     [(0, 'rpush', 'm'), (0, 'lpop', 'l')]),
    ('lmpop', [['RPUSH', 'l', 'a', 'b']], ['LMPOP', '1', 'l', 'LEFT'],
     [(0, 'lpop', 'l')]),
    ('blpop', [['RPUSH', 'l', 'a']], ['BLPOP', 'l', '0'],
     [(0, 'lpop', 'l'), (0, 'del', 'l')]),
    ('hset', [], ['HSET', 'h', 'f', 'v', 'g', 'w'],
     [(0, 'hset', 'h')]),
    ('hsetnx', [], ['HSETNX', 'h', 'f', 'v'],
     [(0, 'hset', 'h')]),
    ('hmset', [], ['HMSET', 'h', 'f', 'v'],
     [(0, 'hset', 'h')]),
    ('hdel', [['HSET', 'h', 'f', 'v', 'g', 'w']], ['HDEL', 'h', 'f'],
     [(0, 'hdel', 'h')]),
    ('hdel_last', [['HSET', 'h', 'f', 'v']], ['HDEL', 'h', 'f'],
     [(0, 'hdel', 'h'), (0, 'del', 'h')]),
    ('hincrby', [], ['HINCRBY', 'h', 'f', '2'],
     [(0, 'hincrby', 'h')]),
    ('hincrbyfloat', [], ['HINCRBYFLOAT', 'h', 'f', '2.5'],
     [(0, 'hincrbyfloat', 'h')]),
    ('sadd', [], ['SADD', 's', 'a', 'b'],
     [(0, 'sadd', 's')]),
    ('sadd_dup', [['SADD', 's', 'a']], ['SADD', 's', 'a'],
     []),
    ('srem', [['SADD', 's', 'a', 'b']], ['SREM', 's', 'a'],
     [(0, 'srem', 's')]),
    ('srem_last', [['SADD', 's', 'a']], ['SREM', 's', 'a'],
     [(0, 'srem', 's'), (0, 'del', 's')]),
    ('spop', [['SADD', 's', 'a', 'b']], ['SPOP', 's'],
     [(0, 'spop', 's')]),
    ('spop_last', [['SADD', 's', 'a']], ['SPOP', 's'],
     [(0, 'spop', 's'), (0, 'del', 's')]),
    ('smove', [['SADD', 's', 'a']], ['SMOVE', 's', 't', 'a'],
     [(0, 'srem', 's'), (0, 'del', 's'), (0, 'sadd', 't')]),
    ('sinterstore', [['SADD', 's', 'a'], ['SADD', 't', 'a']], ['SINTERSTORE', 'd', 's', 't'],
     [(0, 'sinterstore', 'd')]),
    ('sunionstore', [['SADD', 's', 'a']], ['SUNIONSTORE', 'd', 's'],
     [(0, 'sunionstore', 'd')]),
    ('sdiffstore', [['SADD', 's', 'a']], ['SDIFFSTORE', 'd', 's'],
     [(0, 'sdiffstore', 'd')]),
    ('sinterstore_empty', [['SET', 'd', 'x']], ['SINTERSTORE', 'd', 'nos', 'not'],
     [(0, 'del', 'd')]),
    ('zadd', [], ['ZADD', 'z', '1', 'a', '2', 'b'],
     [(0, 'zadd', 'z')]),
    ('zadd_incr', [], ['ZADD', 'z', 'INCR', '1', 'a'],
     [(0, 'zincr', 'z')]),
    ('zincrby', [], ['ZINCRBY', 'z', '1', 'a'],
     [(0, 'zincr', 'z')]),
    ('zrem', [['ZADD', 'z', '1', 'a', '2', 'b']], ['ZREM', 'z', 'a'],
     [(0, 'zrem', 'z')]),
    ('zrem_last', [['ZADD', 'z', '1', 'a']], ['ZREM', 'z', 'a'],
     [(0, 'zrem', 'z'), (0, 'del', 'z')]),
    ('zremrangebyscore', [['ZADD', 'z', '1', 'a', '2', 'b']], ['ZREMRANGEBYSCORE', 'z', '1', '1'],
     [(0, 'zremrangebyscore', 'z')]),
    ('zremrangebyrank', [['ZADD', 'z', '1', 'a', '2', 'b']], ['ZREMRANGEBYRANK', 'z', '0', '0'],
     [(0, 'zremrangebyrank', 'z')]),
    ('zremrangebylex', [['ZADD', 'z', '0', 'a', '0', 'b']], ['ZREMRANGEBYLEX', 'z', '[a', '[a'],
     [(0, 'zremrangebylex', 'z')]),
    ('zpopmin', [['ZADD', 'z', '1', 'a', '2', 'b']], ['ZPOPMIN', 'z'],
     [(0, 'zpopmin', 'z')]),
    ('zpopmax_last', [['ZADD', 'z', '1', 'a']], ['ZPOPMAX', 'z'],
     [(0, 'zpopmax', 'z'), (0, 'del', 'z')]),
    ('bzpopmin', [['ZADD', 'z', '1', 'a', '2', 'b']], ['BZPOPMIN', 'z', '0'],
     [(0, 'zpopmin', 'z')]),
    ('zmpop', [['ZADD', 'z', '1', 'a', '2', 'b']], ['ZMPOP', '1', 'z', 'MIN'],
     [(0, 'zpopmin', 'z')]),
    ('zunionstore', [['ZADD', 'z', '1', 'a']], ['ZUNIONSTORE', 'd', '1', 'z'],
     [(0, 'zunionstore', 'd')]),
    ('zinterstore', [['ZADD', 'z', '1', 'a']], ['ZINTERSTORE', 'd', '1', 'z'],
     [(0, 'zinterstore', 'd')]),
    ('zdiffstore', [['ZADD', 'z', '1', 'a']], ['ZDIFFSTORE', 'd', '1', 'z'],
     [(0, 'zdiffstore', 'd')]),
    ('zrangestore', [['ZADD', 'z', '1', 'a']], ['ZRANGESTORE', 'd', 'z', '0', '-1'],
     [(0, 'zrangestore', 'd')]),
    ('sort_store', [['RPUSH', 'l', '2', '1']], ['SORT', 'l', 'STORE', 'd'],
     [(0, 'sortstore', 'd')]),
    ('sort_store_empty', [['SET', 'd', 'x']], ['SORT', 'nol', 'STORE', 'd'],
     [(0, 'del', 'd')]),
    ('flushdb', [['SET', 'a', '1']], ['FLUSHDB'],
     []),
    ('swapdb', [], ['SWAPDB', '0', '1'],
     []),
    ('get_miss', [], ['GET', 'nokey'],
     []),
]


class Events:
    """A subscriber to every keyspace/keyevent channel plus a sentinel."""

    def __init__(self, server, r):
        self.r = r
        self.p = server.client().pubsub()
        self.p.psubscribe("__key*__:*")
        self.p.subscribe("sentinel")
        for _ in range(2):
            assert self.p.get_message(timeout=5)["type"] in ("psubscribe", "subscribe")

    def drain(self):
        """Every message published before now: [(channel, data), ...]."""
        self.r.publish("sentinel", "end")
        out = []
        while True:
            m = self.p.get_message(timeout=5)
            assert m is not None, "sentinel never arrived"
            if m["channel"] == b"sentinel":
                return out
            out.append((m["channel"].decode(), m["data"].decode()))

    def keyevents(self):
        """drain() as [(db, event, key)], checking each keyevent message is
        preceded by its keyspace twin (when both K and E are on)."""
        msgs = self.drain()
        out = []
        for i, (ch, data) in enumerate(msgs):
            if not ch.startswith("__keyevent@"):
                continue
            db, event = ch[len("__keyevent@"):].split("__:", 1)
            assert msgs[i - 1] == ("__keyspace@%s__:%s" % (db, data), event), msgs
            out.append((int(db), event, data))
        assert len(out) * 2 == len(msgs), msgs
        return out

    def close(self):
        self.p.close()


@pytest.fixture
def events(server, r):
    ev = Events(server, r)
    yield ev
    ev.close()


@pytest.mark.parametrize("name,setup,cmd,expected", CASES, ids=[c[0] for c in CASES])
def test_command_events(r, events, name, setup, cmd, expected):
    for c in setup:
        r.execute_command(*c)
    r.config_set("notify-keyspace-events", "KEA")
    try:
        r.execute_command(*cmd)
    except redis.ResponseError:
        pass
    assert events.keyevents() == expected


def test_nothing_when_disabled(r, events):
    assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": ""}
    r.set("k", "v")
    r.lpush("l", "a")
    assert events.drain() == []


def test_keyspace_only_and_keyevent_only(r, events):
    r.config_set("notify-keyspace-events", "K$")
    r.set("k", "v")
    r.lpush("l", "a")  # list class not enabled
    assert events.drain() == [("__keyspace@0__:k", "set")]
    r.config_set("notify-keyspace-events", "El")
    r.set("k", "v")
    r.rpush("l", "a")
    assert events.drain() == [("__keyevent@0__:rpush", "l")]
    # a class without K or E publishes nothing
    r.config_set("notify-keyspace-events", "g$lshz")
    r.set("k", "v")
    r.delete("k")
    assert events.drain() == []


def test_db_number_in_channel(server, events):
    c = server.client(db=3)
    c.config_set("notify-keyspace-events", "KEA")
    c.set("k", "v")
    assert events.drain() == [("__keyspace@3__:k", "set"), ("__keyevent@3__:set", "k")]
    c.close()


def test_new_key_events(r, events):
    r.config_set("notify-keyspace-events", "KEn$")
    r.set("k", "v")  # new, then set
    r.set("k", "w")  # only set
    assert events.keyevents() == [(0, "new", "k"), (0, "set", "k"), (0, "set", "k")]


def lazy_expiry_server(server_factory):
    """A server and a client with the active expiry cycle off (DEBUG
    SET-ACTIVE-EXPIRE 0, which redis-server allows with
    enable-debug-command), so only lookups expire keys."""
    args = ["--enable-debug-command", "yes"] if os.environ.get("LODE_TARGET") == "redis" else []
    s = server_factory(args=args)
    r = s.client()
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    return s, r


def let_ttl_pass():
    """Waits out a 1 ms TTL set just before."""
    t0 = time.monotonic()
    wait_until(lambda: time.monotonic() - t0 > 0.01, what="the TTL to pass")


def test_expired_lazy(server_factory):
    s, r = lazy_expiry_server(server_factory)
    events = Events(s, r)
    try:
        r.config_set("notify-keyspace-events", "KEx")
        r.set("k", "v", px=1)
        let_ttl_pass()
        assert r.get("k") is None  # the lookup expires it
        assert events.keyevents() == [(0, "expired", "k")]
    finally:
        events.close()
        r.close()


def test_expired_active(r, events):
    r.config_set("notify-keyspace-events", "KEx")
    r.set("k", "v", px=1)
    # nobody reads the key: only the active expiry cycle can remove it
    wait_until(lambda: r.dbsize() == 0, what="active expiry")
    assert events.keyevents() == [(0, "expired", "k")]


def test_expire_events_with_generic_class(r, events):
    r.config_set("notify-keyspace-events", "KEg")
    r.set("k", "v")
    r.expire("k", 100)
    r.persist("k")
    r.rename("k", "k2")
    r.delete("k2")
    assert events.keyevents() == [(0, "expire", "k"), (0, "persist", "k"),
                                  (0, "rename_from", "k"), (0, "rename_to", "k2"),
                                  (0, "del", "k2")]


@pytest.mark.parametrize("value,rendered", [
    ("", ""), ("A", "A"), ("KEA", "AKE"), ("g$lshzxet", "g$lshzxet"), ("g$lshzxetd", "A"),
    ("Kd", "dK"), ("nmKEzg", "gznKEm"), ("K", "K"), ("E", "E"), ("x", "x"),
    ("AKEmn", "AKEm"), ("KAA", "AK"), ("ee", "e"),
])
def test_config_rendering(r, value, rendered):
    r.config_set("notify-keyspace-events", value)
    assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": rendered}


@pytest.mark.parametrize("value", ["Q", "kE", "K E", "1"])
def test_config_invalid(r, value):
    r.config_set("notify-keyspace-events", "KE$")
    with pytest.raises(redis.ResponseError) as e:
        r.config_set("notify-keyspace-events", value)
    assert str(e.value) == ("CONFIG SET failed (possibly related to argument "
                            "'notify-keyspace-events') - Invalid event class character. Use "
                            "'Ag$lshzxeKEtmdn'.")
    assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": "$KE"}


def test_config_at_start(server_factory):
    s = server_factory(args=["--notify-keyspace-events", "KEl"])
    c = s.client()
    assert c.config_get("notify-keyspace-events") == {"notify-keyspace-events": "lKE"}
    c.close()


def test_events_inside_multi(r, events):
    r.config_set("notify-keyspace-events", "KEA")
    with r.pipeline(transaction=True) as p:
        p.set("a", "1").incr("a").delete("a")
        p.execute()
    assert events.keyevents() == [(0, "set", "a"), (0, "incrby", "a"), (0, "del", "a")]


# ---- key misses (class m, not in A) ----

# (command, keys that raise "keymiss", in order), recorded from redis-server
# 7.0.15 on an empty db: every read lookup of a missing key raises it, the
# same lookups that count keyspace_misses; OBJECT counts a miss without the
# event; writes, MEMORY USAGE and key-less commands raise nothing.
KEYMISS = [
    (['GET', 'm'], ['m']),
    (['MGET', 'm', 'n'], ['m', 'n']),
    (['STRLEN', 'm'], ['m']),
    (['GETRANGE', 'm', '0', '1'], ['m']),
    (['GETBIT', 'm', '1'], ['m']),
    (['BITCOUNT', 'm'], ['m']),
    (['BITPOS', 'm', '1'], ['m']),
    (['BITFIELD_RO', 'm', 'GET', 'u8', '0'], ['m']),
    (['BITFIELD', 'm', 'GET', 'u8', '0'], ['m']),
    (['LCS', 'm', 'n'], ['m', 'n']),
    (['EXISTS', 'm', 'n'], ['m', 'n']),
    (['TYPE', 'm'], ['m']),
    (['TTL', 'm'], ['m']),
    (['PEXPIRETIME', 'm'], ['m']),
    (['TOUCH', 'm'], ['m']),
    (['OBJECT', 'ENCODING', 'm'], []),
    (['OBJECT', 'IDLETIME', 'm'], []),
    (['MEMORY', 'USAGE', 'm'], []),
    (['LRANGE', 'm', '0', '-1'], ['m']),
    (['LLEN', 'm'], ['m']),
    (['LPOS', 'm', 'a'], ['m']),
    (['HGET', 'm', 'f'], ['m']),
    (['HGETALL', 'm'], ['m']),
    (['HEXISTS', 'm', 'f'], ['m']),
    (['HRANDFIELD', 'm'], ['m']),
    (['HSCAN', 'm', '0'], ['m']),
    (['SMEMBERS', 'm'], ['m']),
    (['SISMEMBER', 'm', 'a'], ['m']),
    (['SINTERCARD', '2', 'm', 'n'], ['m', 'n']),
    (['SUNION', 'm', 'n'], ['m', 'n']),
    (['SINTERSTORE', 'd', 'm', 'n'], ['m', 'n']),
    (['SUNIONSTORE', 'd', 'm', 'n'], ['m', 'n']),
    (['SDIFFSTORE', 'd', 'm', 'n'], ['m', 'n']),
    (['SMOVE', 'm', 'n', 'a'], []),
    (['ZRANGE', 'm', '0', '-1'], ['m']),
    (['ZSCORE', 'm', 'a'], ['m']),
    (['ZCARD', 'm'], ['m']),
    (['ZRANDMEMBER', 'm'], ['m']),
    (['ZINTER', '2', 'm', 'n'], ['m', 'n']),
    (['ZUNIONSTORE', 'd', '2', 'm', 'n'], ['m', 'n']),
    (['ZINTERSTORE', 'd', '2', 'm', 'n'], ['m', 'n']),
    (['ZDIFFSTORE', 'd', '2', 'm', 'n'], ['m', 'n']),
    (['ZRANGESTORE', 'd', 'm', '0', '-1'], ['m']),
    (['PFCOUNT', 'm', 'n'], ['m', 'n']),
    (['PFMERGE', 'd', 'm'], ['d', 'm']),
    (['SORT', 'm'], ['m']),
    (['SORT_RO', 'm'], ['m']),
    (['GETDEL', 'm'], ['m']),
    (['GETEX', 'm', 'PERSIST'], ['m']),
    (['GETSET', 'm', 'v'], ['m']),
    (['SET', 'm', 'v', 'GET'], ['m']),
    (['COPY', 'm', 'n'], ['m']),
    (['BITOP', 'AND', 'd', 'm', 'n'], ['m', 'n']),
    (['EVAL', "return redis.call('get', KEYS[1])", '1', 'm'], ['m']),
    (['SET', 'm', 'v'], []),
    (['SETNX', 'm', 'v'], []),
    (['APPEND', 'm', 'v'], []),
    (['INCR', 'm'], []),
    (['LPOP', 'm'], []),
    (['RPOPLPUSH', 'm', 'n'], []),
    (['LPUSHX', 'm', 'a'], []),
    (['HDEL', 'm', 'f'], []),
    (['SPOP', 'm'], []),
    (['ZPOPMIN', 'm'], []),
    (['DEL', 'm'], []),
    (['EXPIRE', 'm', '10'], []),
    (['RENAME', 'm', 'n'], []),
    (['MOVE', 'm', '1'], []),
    (['BLPOP', 'm', '0.01'], []),
    (['RANDOMKEY'], []),
    (['KEYS', '*'], []),
]


def misses(r):
    return r.info("stats")["keyspace_misses"]


def run(r, cmd):
    # redis-py's OBJECT reply callback wants the subcommand as infotype
    return r.execute_command(*cmd, **({"infotype": cmd[1]} if cmd[0] == "OBJECT" else {}))


@pytest.mark.parametrize("cmd,keys", KEYMISS, ids=[" ".join(c[0][:2]) for c in KEYMISS])
def test_keymiss_events(r, events, cmd, keys):
    r.config_set("notify-keyspace-events", "KEm")
    m0 = misses(r)
    try:
        run(r, cmd)
    except redis.ResponseError:
        pass
    assert events.keyevents() == [(0, "keymiss", k) for k in keys]
    # the same lookups count keyspace_misses (OBJECT counts one silently)
    assert misses(r) - m0 == len(keys) + (cmd[0] == "OBJECT")


def test_keymiss_classes(server, r, events):
    r.set("x", "1")
    r.config_set("notify-keyspace-events", "KEA")  # m is not in A
    r.get("nokey")
    assert events.drain() == []
    r.config_set("notify-keyspace-events", "m")  # neither K nor E
    r.get("nokey")
    assert events.drain() == []
    r.config_set("notify-keyspace-events", "Km")
    r.get("nokey")
    r.get("x")  # a hit raises nothing
    assert events.drain() == [("__keyspace@0__:nokey", "keymiss")]
    c = server.client(db=5)
    c.config_set("notify-keyspace-events", "Em")
    c.hget("nokey", "f")
    assert events.drain() == [("__keyevent@5__:keymiss", "nokey")]
    c.close()


def test_keymiss_inside_multi(r, events):
    r.config_set("notify-keyspace-events", "KEm")
    with r.pipeline(transaction=True) as p:
        p.get("a").hget("b", "f").set("a", "1").get("a")
        p.execute()
    assert events.keyevents() == [(0, "keymiss", "a"), (0, "keymiss", "b")]


def test_keymiss_after_lazy_expiry(server_factory):
    s, r = lazy_expiry_server(server_factory)
    events = Events(s, r)
    try:
        r.config_set("notify-keyspace-events", "KExm")
        for cmd in (("GET", "k"), ("EXISTS", "k"), ("SCAN", "0", "TYPE", "string")):
            r.set("k", "v", px=1)
            let_ttl_pass()
            r.execute_command(*cmd)  # the read lookup expires it, then misses
            assert events.keyevents() == [(0, "expired", "k"), (0, "keymiss", "k")], cmd
        # a write lookup expires without a miss
        r.set("k", "v", px=1)
        let_ttl_pass()
        r.append("k", "x")
        assert events.keyevents() == [(0, "expired", "k")]
    finally:
        events.close()
        r.close()


@pytest.mark.parametrize("cmd,hits", [
    (["SINTERSTORE", "d", "s1", "s2"], 2),
    (["ZUNIONSTORE", "d", "2", "z1", "z2"], 2),
    (["SET", "k", "v", "GET"], 1),
    (["OBJECT", "ENCODING", "k"], 1),
    (["MEMORY", "USAGE", "k"], 0),
])
def test_keyspace_hits_of_read_lookups(r, cmd, hits):
    """The lookups that raise keymiss count hits on present keys (recorded
    from redis-server 7.0.15)."""
    r.sadd("s1", "a")
    r.sadd("s2", "a")
    r.zadd("z1", {"a": 1})
    r.zadd("z2", {"a": 1})
    r.set("k", "v")
    h0 = r.info("stats")["keyspace_hits"]
    run(r, cmd)
    assert r.info("stats")["keyspace_hits"] - h0 == hits
