"""Durability: what the WAL keeps across restarts (clean and kill -9), the
INFO persistence fields, CONFIG SET durability, small segments, expiry
replayed at each record's own time.

Every test restarts a server on its data directory or reads lode_* fields,
so all are lode_only."""
import os
import time

import pytest
import redis

from conftest import Server, wait_until

pytestmark = pytest.mark.lode_only




def restart(s, kill=False):
    """Stops the server (SIGTERM, or SIGKILL with kill) and starts it again
    on the same data directory; returns a new client."""
    if kill:
        assert s.proc.poll() is None, "server died:\n" + s.read_log()[-3000:]
        s.kill9()
    else:
        s.stop()
    s.start()
    return s.client()


def pinfo(c):
    return c.info("persistence")


def lsn(c):
    return pinfo(c)["lode_wal_last_lsn"]


def snapshot(s, dbs=16):
    """{db: {key: (value, PEXPIRETIME)}} of every non-empty database, and
    DEBUG DIGEST (string-valued datasets)."""
    out = {}
    for db in range(dbs):
        c = s.client(db=db)
        keys = sorted(c.keys("*"))
        if keys:
            p = c.pipeline(transaction=False)
            for k in keys:
                p.get(k)
                p.pexpiretime(k)
            vals = p.execute()
            out[db] = {k: (vals[2 * j], vals[2 * j + 1]) for j, k in enumerate(keys)}
        c.close()
    c = s.client()
    digest = c.execute_command("DEBUG", "DIGEST")
    c.close()
    return digest, out


def populate(s):
    c = s.client()
    c.set("str", "hello")
    c.append("str", " world")
    c.setrange("str", 20, "tail")
    c.set("int", 12345)
    c.incrby("int", 10)
    c.incr("neg")
    c.decrby("neg", 100)
    c.incrbyfloat("flt", "3.25")
    c.setbit("bits", 7, 1)
    c.setbit("bits", 1000, 1)
    c.setbit("bits", 7, 0)
    c.setex("ttl:ex", 1000, "a")
    c.psetex("ttl:px", 500000, "b")
    c.set("ttl:set", "c", ex=2000)
    c.set("ttl:rel", "d")
    c.expire("ttl:rel", 3000)
    c.set("ttl:abs", "e")
    c.pexpireat("ttl:abs", int(time.time() * 1000) + 7777777)
    c.set("ttl:gone", "f", ex=100)
    c.persist("ttl:gone")
    c.getex("str", px=900000)
    c.mset({"m1": "1", "m2": "2", "m3": "3"})
    c.msetnx({"m4": "4", "m5": "5"})
    c.getdel("m3")
    c.getset("m2", "two")
    c.rename("m1", "renamed")
    c.renamenx("m4", "renamed-nx")
    c.copy("renamed", "copied")
    c.move("m5", 5)
    c.set("ttl:moved", "g", ex=4000)
    c.move("ttl:moved", 5)
    c.set("ttl:renamed-from", "h", px=8000000)
    c.rename("ttl:renamed-from", "ttl:renamed")
    c.set("ttl:keep", "i", ex=6000)
    c.set("ttl:keep", "j", keepttl=True)
    c.set("ttl:exat", "k", exat=int(time.time()) + 9000)
    c.set("ttl:persisted", "l", ex=100)
    c.getex("ttl:persisted", persist=True)
    c.set("ttl:past", "m")
    c.expire("ttl:past", -1)  # deletes the key
    c.set("bits2", "")
    c.setbit("bits2", 100000, 1)
    c.bitop("OR", "bitop", "bits", "bits2")
    c.bitfield("bf").set("u8", 0, 200).incrby("i5", 100, 7).execute()
    for db in (1, 2, 3, 4):
        cd = s.client(db=db)
        cd.set("who", "db%d" % db)
        cd.set("only-in-%d" % db, db)
        cd.expire("only-in-%d" % db, 1000 * db)
        cd.close()
    c.swapdb(1, 2)
    c4 = s.client(db=4)
    c4.flushdb()
    c4.set("after-flush", "x")
    c4.delete("after-flush")
    c3 = s.client(db=3)
    c3.move("who", 6)
    c3.close()
    c4.close()
    c.close()


@pytest.mark.parametrize("kill", [False, True], ids=["clean", "kill9"])
def test_dataset_and_digest_survive_restart(make_server, kill):
    s = make_server()
    populate(s)
    before = snapshot(s)
    assert before[0] != b"0" * 40
    assert set(before[1]) == {0, 1, 2, 3, 5, 6}
    assert before[1][1][b"who"][0] == b"db2" and before[1][2][b"who"][0] == b"db1"
    assert b"ttl:past" not in before[1][0] and before[1][0][b"ttl:keep"][1] > 0
    restart(s, kill)
    assert snapshot(s) == before
    # and once more: replaying a log that was itself recovered changes nothing
    restart(s, not kill)
    assert snapshot(s) == before


@pytest.mark.parametrize("kill", [False, True], ids=["clean", "kill9"])
def test_flushall_replayed(make_server, kill):
    s = make_server()
    for db in (0, 1, 7):
        cd = s.client(db=db)
        cd.mset({"a": db, "b": db})
        cd.close()
    c = s.client()
    assert c.flushall()
    c.set("after", "flushall")
    c1 = s.client(db=1)
    c1.set("x", "1")
    assert c1.flushdb(asynchronous=True)
    c1.set("y", "2")
    c1.close()
    before = snapshot(s)
    restart(s, kill)
    assert snapshot(s) == before
    assert set(before[1]) == {0, 1} and list(before[1][1]) == [b"y"]


def test_kill9_keeps_every_acknowledged_write(make_server):
    s = make_server()
    c = s.client()
    p = c.pipeline(transaction=False)
    for i in range(400):
        p.set("p:%d" % i, "v%d" % i)
        p.incr("ctr")
    replies = p.execute()
    assert replies[-1] == 400
    for i in range(50):
        assert c.append("log", "%d," % i) > 0
    assert c.delete("p:0", "p:1", "missing") == 2
    assert c.setbit("bm", 4242, 1) == 0
    last = lsn(c)
    info = pinfo(c)
    assert info["lode_wal_durable_lsn"] == last
    c = restart(s, kill=True)
    assert c.get("ctr") == b"400"
    assert c.mget(["p:%d" % i for i in range(400)]) == [None, None] + [
        b"v%d" % i for i in range(2, 400)]
    assert c.get("log") == "".join("%d," % i for i in range(50)).encode()
    assert c.getbit("bm", 4242) == 1 and c.bitcount("bm") == 1
    info = pinfo(c)
    assert info["lode_wal_last_lsn"] == last
    assert info["lode_recovery_records"] == last
    assert info["lode_recovery_ms"] >= 0


def test_info_persistence_lsn_per_write(make_server):
    s = make_server()
    c = s.client()
    info = pinfo(c)
    assert info["lode_durability"] == "always"
    assert info["lode_wal_status"] == "ok"
    for f in ("lode_wal_last_lsn", "lode_wal_written_lsn", "lode_wal_durable_lsn",
              "lode_wal_bytes", "lode_wal_segments", "lode_wal_batches",
              "lode_wal_records_per_batch", "lode_wal_fsyncs", "lode_wal_fsync_avg_us",
              "lode_wal_fsync_max_us", "lode_recovery_ms", "lode_recovery_records"):
        assert f in info, f
    assert info["lode_wal_segments"] == 1
    # (command, LSN advance): one record per command that changed something
    steps = [
        (["SET", "a", "1"], 1),
        (["GET", "a"], 0),
        (["DEL", "missing"], 0),
        (["INCR", "a"], 1),
        (["MSET", "b", "1", "c", "2", "d", "3"], 1),
        (["DEL", "b", "c", "missing"], 1),
        (["EXPIRE", "missing", "100"], 0),
        (["PERSIST", "a"], 0),
        (["SETNX", "a", "x"], 0),
        (["MSETNX", "a", "x", "z", "y"], 0),
        (["EXISTS", "a", "d"], 0),
        (["EXPIRE", "d", "100"], 1),
        (["PERSIST", "d"], 1),
        (["RENAME", "d", "e"], 1),
        (["APPEND", "e", "more"], 1),
        (["SETBIT", "bm", "10", "1"], 1),
        (["GETBIT", "bm", "10"], 0),
        (["UNLINK", "missing1", "missing2"], 0),
        (["FLUSHDB"], 1),
    ]
    prev = lsn(c)
    fsyncs = pinfo(c)["lode_wal_fsyncs"]
    for cmd, step in steps:
        c.execute_command(*cmd)
        info = pinfo(c)
        assert info["lode_wal_last_lsn"] == prev + step, cmd
        # a reply in `always` mode leaves only once its record is durable
        assert info["lode_wal_durable_lsn"] == info["lode_wal_last_lsn"], cmd
        assert info["lode_wal_written_lsn"] == info["lode_wal_last_lsn"], cmd
        prev += step
    info = pinfo(c)
    assert info["lode_wal_fsyncs"] > fsyncs
    assert info["lode_wal_bytes"] > 0
    assert info["lode_wal_batches"] >= prev


def test_config_set_durability(make_server):
    s = make_server()
    c = s.client()
    assert c.config_get("durability") == {"durability": "always"}
    with pytest.raises(redis.ResponseError, match="must be one of the following"):
        c.config_set("durability", "sometimes")
    with pytest.raises(redis.ResponseError, match="immutable"):
        c.config_set("wal-segment-size", "1mb")

    # `no`: replies are not held, and nothing is ever synced
    assert c.config_set("durability", "no")
    assert c.config_get("durability") == {"durability": "no"}
    assert pinfo(c)["lode_durability"] == "no"
    for i in range(20):
        assert c.set("n%d" % i, i)
    info = pinfo(c)
    assert info["lode_wal_durable_lsn"] < info["lode_wal_last_lsn"]
    wait_until(lambda: pinfo(c)["lode_wal_written_lsn"] == info["lode_wal_last_lsn"],
               what="`no` mode still writes")

    # `everysec`: the once-a-second sync catches up with what `no` left
    assert c.config_set("durability", "everysec")
    assert c.config_get("durability") == {"durability": "everysec"}
    assert pinfo(c)["lode_durability"] == "everysec"
    wait_until(lambda: pinfo(c)["lode_wal_durable_lsn"] == info["lode_wal_last_lsn"],
               timeout=5, what="everysec sync")
    n = [0]

    def reply_before_sync():
        # a write's reply arrives while its record is not yet synced
        n[0] += 1
        c.set("e%d" % n[0], "v")
        i = pinfo(c)
        return i["lode_wal_durable_lsn"] < i["lode_wal_last_lsn"]
    wait_until(reply_before_sync, timeout=10, what="an everysec reply ahead of its fsync")
    last = lsn(c)
    wait_until(lambda: pinfo(c)["lode_wal_durable_lsn"] == last, timeout=5,
               what="everysec sync")

    # back to `always` once everything is synced (test_switch_to_always_...
    # covers a switch with records still unsynced)
    assert c.config_set("durability", "always")
    assert c.set("a", "1")
    info = pinfo(c)
    assert info["lode_durability"] == "always"
    assert info["lode_wal_durable_lsn"] == info["lode_wal_last_lsn"] == last + 1
    # everything written in each mode is there after a clean restart
    c = restart(s)
    assert c.dbsize() == n[0] + 20 + 1
    assert c.get("n19") == b"19"
    # the setting is the configured one again (CONFIG SET is not persisted)
    assert c.config_get("durability") == {"durability": "always"}


@pytest.mark.parametrize("mode", ["no", "everysec"])
def test_switch_to_always_with_unsynced_records_replies(make_server, mode):
    s = make_server()
    c = s.client(socket_timeout=3)
    assert c.config_set("durability", mode)
    assert c.set("k", "v")
    if mode == "everysec":
        # a sync just happened, so the next write stays unsynced for ~1 s
        wait_until(lambda: pinfo(c)["lode_wal_durable_lsn"] == lsn(c), timeout=5,
                   what="everysec sync")
        assert c.set("k2", "v")
    assert c.config_set("durability", "always")
    other = s.client(socket_timeout=3)
    assert other.get("k") == b"v"
    info = pinfo(c)
    assert info["lode_wal_durable_lsn"] == info["lode_wal_last_lsn"]


def test_durability_configured_at_start(make_server):
    for mode in ("everysec", "no"):
        s = make_server(["--durability", mode])
        c = s.client()
        assert c.config_get("durability") == {"durability": mode}
        assert pinfo(c)["lode_durability"] == mode
        assert c.set("k", mode)
        c = restart(s)
        assert c.get("k") == mode.encode()


def test_small_segments_all_replayed(make_server):
    s = make_server(["--wal-segment-size", "65536"])
    c = s.client()
    assert c.config_get("wal-segment-size") == {"wal-segment-size": "65536"}
    for round_ in range(3):
        p = c.pipeline(transaction=False)
        for i in range(100):
            p.set("k:%d" % (i + 100 * round_), os.urandom(400).hex())
            if i % 10 == 0:
                p.delete("k:%d" % (i // 2))
                p.incr("ctr")
        p.execute()
    # a record larger than a segment gets one of its own; a compressible
    # one is stored LZ4-compressed
    big = os.urandom(100000).hex()
    assert c.set("big", big)
    b0 = pinfo(c)["lode_wal_bytes"]
    assert c.set("zip", "z" * 300000)
    assert pinfo(c)["lode_wal_bytes"] - b0 < 10000  # compressed
    assert c.set("small", "after the big ones")
    info = pinfo(c)
    last = info["lode_wal_last_lsn"]
    wal = os.path.join(s.dir, "data", "wal")
    files = sorted(f for f in os.listdir(wal) if f.endswith(".log"))
    assert len(files) >= 3, files
    assert info["lode_wal_segments"] == len(files)
    assert files[0] == "%016x.log" % 1
    sizes = [os.path.getsize(os.path.join(wal, f)) for f in files]
    assert sizes.count(65536) == len(files) - 1, sizes
    assert max(sizes) > 200000, sizes
    before = snapshot(s, dbs=1)
    c = restart(s)
    info = pinfo(c)
    assert info["lode_recovery_records"] == last
    assert info["lode_wal_last_lsn"] == last
    assert info["lode_wal_segments"] == len(files)
    assert snapshot(s, dbs=1) == before
    assert c.get("big") == big.encode() and c.strlen("zip") == 300000
    # writes go on in the last segment and survive a crash too
    assert c.set("after", "restart")
    c = restart(s, kill=True)
    assert c.get("after") == b"restart"
    assert pinfo(c)["lode_recovery_records"] == last + 1


def fill_segments(c, prefix, mb):
    """Writes about mb MiB of 4 KiB values in pipelines of 64; returns the
    {key: value} written."""
    data = {}
    for b in range(mb * 4):
        p = c.pipeline(transaction=False)
        for i in range(64):
            k = "%s:%d:%d" % (prefix, b, i)
            data[k] = os.urandom(2048).hex()
            p.set(k, data[k])
        p.execute()
    return data


def test_wal_prefill(make_server):
    """wal-prefill (on by default): under `always` zeros are written ahead
    of the writer in each fresh segment; CONFIG SET wal-prefill no stops
    that from the next segment on; everysec never prefills; every write
    replays after kill -9."""
    s = make_server(["--wal-segment-size", "1mb"])
    c = s.client()
    assert c.config_get("wal-prefill") == {"wal-prefill": "yes"}
    # the filler starts on the first segment at once
    wait_until(lambda: pinfo(c)["lode_wal_prefilled_bytes"] > 0, timeout=10)
    data = fill_segments(c, "a", 3)
    info = pinfo(c)
    assert info["lode_wal_segments"] >= 3
    # each fresh segment was prefilled from 64 KiB on, ahead of the records
    assert info["lode_wal_prefilled_bytes"] >= 2 * (1 << 20) - 2 * 65536
    c.config_set("wal-prefill", "no")
    assert c.config_get("wal-prefill") == {"wal-prefill": "no"}
    before = pinfo(c)["lode_wal_prefilled_bytes"]
    data.update(fill_segments(c, "b", 3))
    # only the rest of the segment current at CONFIG SET, at most
    assert pinfo(c)["lode_wal_prefilled_bytes"] - before <= 1 << 20
    c.config_set("wal-prefill", "yes")
    c.config_set("durability", "everysec")
    before = pinfo(c)["lode_wal_prefilled_bytes"]
    data.update(fill_segments(c, "c", 3))
    assert pinfo(c)["lode_wal_prefilled_bytes"] - before <= 1 << 20
    c.config_set("durability", "always")
    data.update(fill_segments(c, "d", 2))
    c = restart(s, kill=True)
    assert c.dbsize() == len(data)
    p = c.pipeline(transaction=False)
    for k in data:
        p.get(k)
    assert p.execute() == [v.encode() for v in data.values()]


def test_everysec_never_prefills(make_server):
    s = make_server(["--wal-segment-size", "1mb", "--durability", "everysec"])
    c = s.client()
    fill_segments(c, "a", 2)
    info = pinfo(c)
    assert info["lode_wal_segments"] >= 2
    assert info["lode_wal_prefilled_bytes"] == 0


@pytest.mark.parametrize("busy_poll", ["0", "20"])
def test_group_hold_released_by_quiet_loop(make_server, busy_poll):
    """`always`: the WAL writer holds a group open while the loop's turns
    append records and syncs as soon as a turn appends none. Clients that
    each wait for their reply send nothing during a hold, so a hold that
    ran to its time limit was a sync waiting for nothing: nearly all holds
    must end by the loop's report, with busy polling (its last poll finds
    nothing) and without it (the loop polls once more before sleeping)."""
    import threading
    s = make_server(["--busy-poll-us", busy_poll])
    errors = []

    def writer(i):
        try:
            c = s.client()
            for n in range(300):
                c.set("k%d:%d" % (i, n), n)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    info = pinfo(s.client())
    assert info["lode_wal_durable_lsn"] == info["lode_wal_last_lsn"]
    holds, timeouts = info["lode_wal_group_holds"], info["lode_wal_group_hold_timeouts"]
    assert holds > 0
    assert timeouts <= holds // 4, (holds, timeouts)


@pytest.mark.parametrize("kill", [False, True], ids=["clean", "kill9"])
def test_lazily_expired_key_stays_deleted(make_server, kill):
    s = make_server()
    c = s.client()
    assert c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")  # only lazy expiry here
    assert c.set("k", "v")
    assert c.set("keep", "v")
    assert c.set("again", "old")
    before = lsn(c)
    assert c.pexpire("k", 1) and c.pexpire("again", 1)
    assert lsn(c) == before + 2
    t = time.time() * 1000
    wait_until(lambda: time.time() * 1000 > t + 5, what="the keys' expiry")
    assert c.get("k") is None
    # the lazy deletion was logged as a record of its own
    assert lsn(c) == before + 3
    assert c.exists("again") == 0
    assert c.set("again", "new")
    last = lsn(c)
    c = restart(s, kill)
    assert c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    assert c.dbsize() == 2
    assert c.get("k") is None
    assert c.get("again") == b"new" and c.pttl("again") == -1
    assert c.get("keep") == b"v"
    assert pinfo(c)["lode_recovery_records"] == last


@pytest.mark.parametrize("kill", [False, True], ids=["clean", "kill9"])
def test_relative_expiry_replays_to_same_absolute_time(make_server, kill):
    s = make_server()
    c = s.client()
    c.set("a", "v", ex=1000)
    c.setex("b", 2000, "v")
    c.psetex("c", 3000000, "v")
    c.set("d", "v")
    c.expire("d", 5000)
    c.set("e", "v")
    c.pexpire("e", 123456789)
    c.set("f", "v")
    c.getex("f", ex=777)
    c.set("g", "v", px=99999)
    c.set("h", "v", ex=50)
    c.expire("h", 100, gt=True)
    c1 = s.client(db=1)
    c1.set("x", "v")
    c1.expire("x", 4444)
    c1.close()
    keys = "abcdefgh"
    before = [c.pexpiretime(k) for k in keys] + [s.client(db=1).pexpiretime("x")]
    assert all(t > 0 for t in before), before
    # the restart happens at least a few ms later than the writes
    t = time.time() * 1000
    wait_until(lambda: time.time() * 1000 > t + 5, what="clock to move")
    c = restart(s, kill)
    after = [c.pexpiretime(k) for k in keys] + [s.client(db=1).pexpiretime("x")]
    assert after == before


@pytest.mark.parametrize("fault", ["ENOSPC", "EIO"])
def test_wal_failure_refuses_writes_and_keeps_reads(make_server, fault):
    """A full disk or a failing fsync (injected with DEBUG WAL-FAULT): the
    write waiting for it is never acknowledged (its connection closes), later
    writes get MISCONF naming the cause, reads go on, and after a restart
    everything acknowledged before the failure is there."""
    s = make_server()
    c = s.client()
    assert c.set("before", "1")
    assert c.execute_command("DEBUG", "WAL-FAULT", fault) == b"OK"
    w = s.client(socket_timeout=10)
    with pytest.raises(redis.exceptions.ConnectionError):
        w.set("during", "x")  # never acknowledged: the connection is closed
    cause = "No space left on device" if fault == "ENOSPC" else "Input/output error"
    r = s.client()
    with pytest.raises(redis.exceptions.ResponseError) as e:
        r.set("after", "y")
    assert str(e.value).startswith("MISCONF Errors writing to the WAL: " + cause)
    assert r.get("before") == b"1"  # reads go on
    info = r.info("persistence")
    assert info["lode_wal_status"] == cause
    c.close()
    r.close()
    s.proc.kill()
    s.proc.wait()
    s.proc = None
    s.log.close()
    s.start()
    c = s.client()
    assert c.get("before") == b"1"
    assert c.get("during") is None  # it never reached the disk
    assert c.get("after") is None
    c.close()
