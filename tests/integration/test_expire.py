"""Expiry: EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT with NX XX GT LT, TTL, PTTL,
EXPIRETIME, PEXPIRETIME, PERSIST; lazy expiry on access, active expiry in
the background, and expired keys hidden from KEYS/SCAN/EXISTS/RANDOMKEY.
No fixed sleeps: time-dependent checks poll with a deadline. Every test also
passes against redis-server (LODE_TARGET=redis)."""
import time

from conftest import wait_until


def now_ms():
    return int(time.time() * 1000)


def wait_past(abs_ms):
    """Polls the (shared) wall clock until abs_ms has passed."""
    wait_until(lambda: now_ms() > abs_ms + 2, timeout=10, what="the expiry time to pass")


def test_expire_errors(r, raw):
    r.set("k", "v")
    assert raw.call("EXPIRE", "k", "10", "foo") == b"-ERR Unsupported option foo\r\n"
    incompatible = b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n"
    assert raw.call("EXPIRE", "k", "10", "nx", "xx") == incompatible
    assert raw.call("EXPIRE", "k", "10", "NX", "GT") == incompatible
    assert raw.call("PEXPIRE", "k", "10", "nx", "lt") == incompatible
    assert raw.call("EXPIRE", "k", "abc", "nx", "xx") == incompatible  # options come first
    assert raw.call("EXPIRE", "k", "10", "gt", "lt") == \
        b"-ERR GT and LT options at the same time are not compatible\r\n"
    assert raw.call("EXPIRE", "k", "abc") == b"-ERR value is not an integer or out of range\r\n"
    assert raw.call("EXPIRE", "k", "9223372036854775807") == \
        b"-ERR invalid expire time in 'expire' command\r\n"
    assert raw.call("EXPIRE", "k", "-9223372036854775808") == \
        b"-ERR invalid expire time in 'expire' command\r\n"
    assert raw.call("PEXPIRE", "k", "9223372036854775807") == \
        b"-ERR invalid expire time in 'pexpire' command\r\n"
    assert raw.call("EXPIREAT", "k", "9223372036854776") == \
        b"-ERR invalid expire time in 'expireat' command\r\n"
    assert raw.call("EXPIRE", "k") == b"-ERR wrong number of arguments for 'expire' command\r\n"
    assert raw.call("TTL", "k") == b":-1\r\n"  # no error changed anything
    assert raw.call("EXPIRE", "nokey", "10") == b":0\r\n"


def test_ttl_family(r, raw):
    assert raw.call("TTL", "nokey") == b":-2\r\n"
    assert raw.call("PTTL", "nokey") == b":-2\r\n"
    assert raw.call("EXPIRETIME", "nokey") == b":-2\r\n"
    assert raw.call("PEXPIRETIME", "nokey") == b":-2\r\n"
    r.set("k", "v")
    assert raw.call("TTL", "k") == b":-1\r\n"
    assert raw.call("PEXPIRETIME", "k") == b":-1\r\n"
    assert raw.call("EXPIRE", "k", "100") == b":1\r\n"
    assert raw.call("TTL", "k") in (b":100\r\n", b":99\r\n")
    assert 99000 < r.pttl("k") <= 100000
    assert raw.call("PEXPIREAT", "k", "1999999999600") == b":1\r\n"
    assert raw.call("PEXPIRETIME", "k") == b":1999999999600\r\n"
    assert raw.call("EXPIRETIME", "k") == b":2000000000\r\n"  # rounded to nearest
    assert raw.call("PEXPIREAT", "k", "1999999999400") == b":1\r\n"
    assert raw.call("EXPIRETIME", "k") == b":1999999999\r\n"
    assert raw.call("EXPIREAT", "k", "1999999999") == b":1\r\n"
    assert raw.call("PEXPIRETIME", "k") == b":1999999999000\r\n"


def test_nx_xx_gt_lt(r, raw):
    r.set("k", "v")
    assert raw.call("EXPIRE", "k", "100", "GT") == b":0\r\n"  # no TTL counts as infinite
    assert raw.call("EXPIRE", "k", "100", "XX") == b":0\r\n"
    assert raw.call("EXPIRE", "k", "100", "LT") == b":1\r\n"
    assert raw.call("EXPIRE", "k", "50", "GT") == b":0\r\n"
    assert raw.call("EXPIRE", "k", "200", "gt") == b":1\r\n"
    assert raw.call("EXPIRE", "k", "300", "NX") == b":0\r\n"
    assert raw.call("EXPIRE", "k", "300", "LT") == b":0\r\n"
    assert raw.call("EXPIRE", "k", "300", "XX", "GT") == b":1\r\n"
    assert 299000 < r.pttl("k") <= 300000
    r.set("n", "v")
    assert raw.call("PEXPIRE", "n", "5000", "NX") == b":1\r\n"
    assert raw.call("PEXPIRE", "n", "9000", "NX") == b":0\r\n"
    assert raw.call("PEXPIRE", "n", "1000", "XX", "LT") == b":1\r\n"
    assert 0 < r.pttl("n") <= 1000


def test_past_time_deletes_and_replies_one(r, raw):
    for cmd, arg in (("EXPIRE", "0"), ("EXPIRE", "-10"), ("PEXPIRE", "-1"),
                     ("EXPIREAT", "1"), ("PEXPIREAT", str(now_ms() - 1000))):
        r.set("k", "v")
        assert raw.call(cmd, "k", arg) == b":1\r\n", cmd
        assert raw.call("EXISTS", "k") == b":0\r\n"
        assert r.dbsize() == 0
    # GT with a past time on a key without TTL: refused, key kept
    r.set("k", "v")
    assert raw.call("EXPIRE", "k", "-1", "GT") == b":0\r\n"
    assert r.get("k") == b"v"


def test_persist(r, raw):
    assert raw.call("PERSIST", "nokey") == b":0\r\n"
    r.set("k", "v")
    assert raw.call("PERSIST", "k") == b":0\r\n"
    r.expire("k", 100)
    assert raw.call("PERSIST", "k") == b":1\r\n"
    assert raw.call("TTL", "k") == b":-1\r\n"
    assert raw.call("EXPIRETIME", "k") == b":-1\r\n"


def test_set_overwrites_ttl_rename_keeps_it(r):
    r.set("k", "v", ex=100)
    r.set("k", "w")
    assert r.ttl("k") == -1
    r.set("a", "v", ex=100)
    r.rename("a", "b")
    assert 0 < r.ttl("b") <= 100


def test_lazy_expiry_on_access(r):
    at = now_ms() + 50
    r.set("k", "v")
    r.execute_command("PEXPIREAT", "k", at)
    r.set("live", "v")
    wait_past(at)
    assert r.get("k") is None
    assert r.exists("k") == 0
    assert r.ttl("k") == -2
    assert r.type("k") == b"none"
    assert r.persist("k") is False
    assert r.expire("k", 100) is False
    assert r.get("live") == b"v"


def test_expired_keys_hidden_from_keys_scan_randomkey(r):
    at = now_ms() + 50
    for i in range(20):
        r.set("gone:%d" % i, "v")
        r.execute_command("PEXPIREAT", "gone:%d" % i, at)
    r.set("live", "v")
    wait_past(at)
    # whether or not active expiry got there first, no command may show them
    assert r.keys("*") == [b"live"]
    assert r.keys("gone:*") == []
    cursor, seen = 0, []
    while True:
        cursor, keys = r.scan(cursor)
        seen += keys
        if cursor == 0:
            break
    assert seen == [b"live"]
    assert r.scan(0, _type="string", count=1000)[1] == [b"live"]
    assert all(r.randomkey() == b"live" for _ in range(20))
    assert r.exists(*["gone:%d" % i for i in range(20)]) == 0
    # SCAN and RANDOMKEY delete what they meet, as Redis does
    assert r.dbsize() == 1


def test_active_expiry_removes_untouched_keys(r):
    p = r.pipeline(transaction=False)
    for i in range(500):
        p.set("vol:%d" % i, "v", px=100)
    for i in range(50):
        p.set("perm:%d" % i, "v")
    p.execute()
    assert r.dbsize() == 550
    # nothing reads the volatile keys: only the background cycle can free them
    wait_until(lambda: r.dbsize() == 50, timeout=15, what="active expiry to remove keys")
    assert sorted(r.keys("*")) == sorted(b"perm:%d" % i for i in range(50))


def test_active_expiry_in_other_dbs(server):
    c = server.client(db=9)
    c.set("x", "v", px=50)
    c.set("y", "v")
    wait_until(lambda: c.dbsize() == 1, timeout=15, what="active expiry in db 9")
    c.close()


def test_expire_moves_with_copy_and_move(server, raw):
    c0 = server.client(db=0)
    c2 = server.client(db=2)
    c0.set("k", "v", px=60000)
    assert c0.copy("k", "k2") is True
    assert 0 < c0.pttl("k2") <= 60000
    assert c0.move("k", 2) is True
    assert 0 < c2.pttl("k") <= 60000
    c0.close()
    c2.close()
