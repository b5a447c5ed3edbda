"""SORT and SORT_RO through redis-py, over sorted sets with string BY/GET
patterns, and STORE into a list (passes against redis-server too:
LODE_TARGET=redis)."""
import pytest
import redis


@pytest.fixture
def data(r):
    r.zadd("z", {"c": 3, "a": 1, "b": 2, "x1": 10, "10": 5, "2.5": 7})
    r.mset({"w_c": 1, "w_a": 3, "w_b": 2, "w_x1": -1, "w_10": 100})
    r.mset({"o_a": "A", "o_b": "B", "o_10": "ten"})
    return r


def test_sort_orders(data):
    r = data
    with pytest.raises(redis.ResponseError) as e:
        r.sort("z")
    assert str(e.value) == "One or more scores can't be converted into double"
    assert r.sort("z", alpha=True) == [b"10", b"2.5", b"a", b"b", b"c", b"x1"]
    assert r.sort("z", alpha=True, desc=True) == [b"x1", b"c", b"b", b"a", b"2.5", b"10"]
    assert r.sort("z", by="nosort") == [b"a", b"b", b"c", b"10", b"2.5", b"x1"]
    assert r.sort("z", by="nosort", desc=True, start=1, num=2) == [b"2.5", b"10"]
    assert r.sort("z", by="w_*") == [b"x1", b"2.5", b"c", b"b", b"a", b"10"]
    assert r.sort("z", by="w_*", get=["#", "o_*"], start=3, num=2) == [b"b", b"B", b"a", b"A"]
    assert r.sort_ro("z", by="w_*", alpha=True, desc=True) == \
        [b"a", b"b", b"10", b"c", b"x1", b"2.5"]
    assert r.sort("missing") == []


def test_sort_errors(data):
    r = data
    r.set("s", "x")
    with pytest.raises(redis.ResponseError) as e:
        r.sort("s")
    assert str(e.value).startswith("WRONGTYPE")
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SORT_RO", "z", "STORE", "d")
    assert str(e.value) == "syntax error"
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SORT", "z", "LIMIT", "x", "1")
    assert str(e.value) == "value is not an integer or out of range"


def test_sort_store(data):
    r = data
    r.set("d", "old")
    assert r.sort("z", alpha=True, start=0, num=0, store="d") == 0
    assert r.exists("d") == 0
    r.set("d", "old", ex=100)
    assert r.sort("z", by="w_*", get="o_*", start=2, num=4, store="d") == 4
    assert r.lrange("d", 0, -1) == [b"", b"B", b"A", b"ten"]
    assert r.ttl("d") == -1
    assert r.sort("z", alpha=True, store="z") == 6
    assert r.type("z") == b"list"
