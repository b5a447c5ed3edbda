"""Every type and every encoding at once, large instances included, through
a checkpoint + restart and through a WAL-only replay after kill -9: DEBUG
DIGEST, OBJECT ENCODING and a few exact reads must come back unchanged.
Lodestore-only (restarts a server on its own data directory)."""
import pytest

from conftest import Server, wait_until

pytestmark = pytest.mark.lode_only

BIG = 60000


def build(c):
    """Keys of every type in both encodings, some with TTLs, in two dbs;
    returns {key: expected OBJECT ENCODING} for db 0."""
    p = c.pipeline(transaction=False)
    # lists: one node and many nodes
    p.rpush("list:small", "a", "1", "-7", "x" * 100)
    for i in range(0, BIG, 1000):
        p.rpush("list:big", *["e%d" % j for j in range(i, i + 1000)])
    p.lpush("list:big", "head")
    # hashes: listpack, and hashtable by size and by a long value
    p.hset("hash:small", mapping={"f1": "v1", "f2": "2", "n": "-3"})
    for i in range(0, BIG, 1000):
        p.hset("hash:big", mapping={"f%d" % j: "v%d" % j for j in range(i, i + 1000)})
    p.hset("hash:long", mapping={"f": "v" * 200})
    # sets: intset, and hashtable by size and by a non-integer
    p.sadd("set:ints", *range(-5, 300))
    for i in range(0, BIG, 1000):
        p.sadd("set:big", *["m%d" % j for j in range(i, i + 1000)])
    p.sadd("set:str", "a", "b", "7")
    # sorted sets: listpack and skiplist, with float and infinite scores
    p.zadd("zset:small", {"a": 1.5, "b": -2, "c": float("inf")})
    for i in range(0, BIG, 1000):
        p.zadd("zset:big", {"m%d" % j: j * 0.5 for j in range(i, i + 1000)})
    p.zadd("zset:big", {"ninf": float("-inf")})
    # strings, a HyperLogLog, TTLs, another db
    p.set("str", "x" * 3000)
    p.pfadd("hll", *["h%d" % i for i in range(500)])
    p.expire("list:small", 100000)
    p.expire("hash:big", 100000)
    p.expire("zset:small", 100000)
    p.execute()
    c.execute_command("SELECT", 5)
    c.rpush("l5", "x", "y")
    c.hset("h5", "f", "v")
    c.sadd("s5", "1", "2")
    c.zadd("z5", {"m": 1})
    c.execute_command("SELECT", 0)
    return {"list:small": b"quicklist", "list:big": b"quicklist", "hash:small": b"listpack",
            "hash:big": b"hashtable", "hash:long": b"hashtable", "set:ints": b"intset",
            "set:big": b"hashtable", "set:str": b"hashtable", "zset:small": b"listpack",
            "zset:big": b"skiplist"}


def state(c):
    out = {"digest": c.execute_command("DEBUG", "DIGEST")}
    for k in ("list:small", "list:big", "hash:small", "hash:big", "hash:long", "set:ints",
              "set:big", "set:str", "zset:small", "zset:big"):
        out[k] = c.object("encoding", k)
    out["lindex"] = (c.lindex("list:big", 0), c.lindex("list:big", -1),
                     c.lindex("list:big", BIG // 2))
    out["hget"] = c.hget("hash:big", "f%d" % (BIG - 1))
    out["zrank"] = (c.zrank("zset:big", "m%d" % (BIG - 1)), c.zscore("zset:big", "ninf"))
    out["pfcount"] = c.pfcount("hll")
    out["ttl"] = c.ttl("hash:big") > 99000
    out["dbsize"] = c.dbsize()
    return out


@pytest.mark.parametrize("how", ["checkpoint", "wal"])
def test_every_type_survives_restart(tmp_path, how):
    s = Server("lode", dir=str(tmp_path)).start()
    try:
        c = s.client()
        encodings = build(c)
        before = state(c)
        for k, enc in encodings.items():
            assert before[k] == enc, k
        assert before["lindex"] == (b"head", b"e%d" % (BIG - 1), b"e%d" % (BIG // 2 - 1))
        if how == "checkpoint":
            assert c.save()
            info = c.info("persistence")
            assert info["lode_checkpoint_status"] == "ok"
            s.stop()
        else:
            s.kill9()
        c.close()
        s.start()
        c = s.client()
        if how == "checkpoint":
            # nothing above the checkpoint: the state comes from LMDB alone
            assert c.info("persistence")["lode_recovery_records"] == 0
        else:
            assert c.info("persistence")["lode_recovery_records"] > 0
        after = state(c)
        assert after == before
        c.close()
    finally:
        s.stop()
        s.cleanup()
