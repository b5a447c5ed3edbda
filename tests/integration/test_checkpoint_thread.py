"""The threaded checkpoint (checkpoint-method thread): no fork; the event
loop hands the snapshot at LSN L to a writer thread key by key while it
keeps serving, saving each key it has not reached yet just before anything
changes it. These tests slow the hand-over down (checkpoint-key-delay), make
every kind of change to the keys still owed while it runs, then restart from
the checkpoint alone (WAL removed) and compare with DEBUG DIGEST taken at L.
"""
import glob
import os
import random

import pytest

from conftest import wait_until
from test_checkpoint import bgsave_done, digest, fill, pinfo, shutdown_and_restart

pytestmark = pytest.mark.lode_only


def populate(c, n):
    """Every type and encoding, TTLs, in dbs 0, 1 and 2."""
    p = c.pipeline(transaction=False)
    for db in (0, 1, 2):
        p.execute_command("SELECT", db)
        for i in range(n):
            p.set("s:%d" % i, "v%d" % i)
            p.set("n:%d" % i, i)
        for i in range(n // 10):
            p.rpush("l:%d" % i, *["e%d" % j for j in range(20)])
            p.hset("h:%d" % i, mapping={"f%d" % j: "x%d" % j for j in range(10)})
            p.sadd("set:%d" % i, *range(8))
            p.zadd("z:%d" % i, {"m%d" % j: j for j in range(12)})
            p.pfadd("hll:%d" % i, *["a%d" % j for j in range(30)])
            p.set("t:%d" % i, "ttl", ex=10000)
        p.rpush("biglist", *["b%d" % j for j in range(2000)])
        p.zadd("bigz", {"m%d" % j: j for j in range(500)})
    p.execute_command("SELECT", 0)
    p.execute()


def mutate(c, n):
    """Changes of every kind, to keys the slowed checkpoint has not reached
    (it hands over one key per checkpoint-key-delay)."""
    c.execute_command("SELECT", 0)
    p = c.pipeline(transaction=False)
    for i in range(0, n, 7):
        p.set("s:%d" % i, "changed")
        p.incr("n:%d" % i)
        p.append("s:%d" % (i + 1), "+")
        p.setrange("s:%d" % (i + 2), 1, "R")
        p.delete("s:%d" % (i + 3))
        p.expire("n:%d" % (i + 1), 5000)
        p.set("new:%d" % i, "fresh")
    for i in range(0, n // 10, 3):
        p.lpush("l:%d" % i, "pushed")
        p.rpop("l:%d" % (i + 1))
        p.hset("h:%d" % i, "f0", "changed")
        p.hdel("h:%d" % (i + 1), "f1")
        p.hincrby("h:%d" % (i + 2), "cnt", 3)
        p.sadd("set:%d" % i, "new")
        p.spop("set:%d" % (i + 1))
        p.zadd("z:%d" % i, {"m0": 100})
        p.zpopmin("z:%d" % (i + 1))
        p.zincrby("z:%d" % (i + 2), 2.5, "m3")
        p.pfadd("hll:%d" % i, "zzz", "yyy")
        p.persist("t:%d" % i)
        p.rename("s:%d" % (i + 4), "renamed:%d" % i)
        p.move("n:%d" % (i + 5), 1)
        p.copy("l:%d" % (i + 2), "copied:%d" % i)
        p.lmove("l:%d" % (i + 3), "l:%d" % (i + 4), "LEFT", "RIGHT")
        p.sinterstore("stored:%d" % i, "set:%d" % i, "set:%d" % (i + 1))
    p.linsert("biglist", "BEFORE", "b1000", "inserted")
    p.zrem("bigz", "m250")
    p.execute(raise_on_error=False)  # some keys were deleted by earlier rows
    # a transaction and a script
    m = c.pipeline(transaction=True)
    m.set("s:5", "in-multi")
    m.lpush("l:5", "in-multi")
    m.execute()
    c.eval("redis.call('SET', KEYS[1], 'by-script'); redis.call('DEL', KEYS[2]); "
           "redis.call('HSET', KEYS[3], 'f', 'v')", 3, "s:6", "s:13", "h:7")
    # the changes above overlapped the checkpoint (else this test proves nothing)
    assert pinfo(c)["rdb_bgsave_in_progress"] == 1
    # db-wide changes: a flush and a swap while keys of those dbs are owed
    # (they hand over all that is owed of those dbs first)
    c.execute_command("SELECT", 2)
    c.set("s:0", "db2 change")
    c.flushdb()
    c.set("after-flush", "x")
    c.execute_command("SELECT", 0)
    c.swapdb(0, 1)
    c.set("after-swap", "y")
    c.swapdb(0, 1)


def checkpoint_alone(s):
    """Kills the server, drops the WAL, restarts from the checkpoint only."""
    s.kill9()
    for f in glob.glob(os.path.join(s.dir, "data", "wal", "*")):
        os.unlink(f)
    s.start()
    return s.client()


@pytest.mark.parametrize("mode", ["first", "incremental", "first-large"])
def test_checkpoint_is_the_state_at_its_lsn(make_server, mode):
    incremental = mode == "incremental"
    s = make_server(["--checkpoint-method", "thread", "--checkpoint-wal-bytes", "1gb"])
    c = s.client()
    populate(c, 300)
    if mode == "first-large":
        # dbs written whole are sorted in runs of 4 MiB (CKW_RUN_BYTES):
        # 16 MB of them (incompressible: entries are stored LZ4-compressed)
        # are merged from the sort file, not from memory
        rnd = random.Random(15)
        p = c.pipeline(transaction=False)
        for db in (0, 2):
            p.execute_command("SELECT", db)
            for i in range(400):
                p.set("big:%d" % i, rnd.randbytes(10000).hex())
        p.execute_command("SELECT", 0)
        p.execute()
    if incremental:
        bgsave_done(c)
        # the set to save: a part of the keys of every db
        p = c.pipeline(transaction=False)
        for db in (0, 1, 2):
            p.execute_command("SELECT", db)
            for i in range(0, 300, 2):
                p.set("s:%d" % i, "second%d" % i)
            for i in range(0, 30, 2):
                p.rpush("l:%d" % i, "second")
                p.hset("h:%d" % i, "f9", "second")
            p.delete("n:3")
        p.execute_command("SELECT", 0)
        p.execute()
    c.execute_command("FUNCTION", "LOAD",
                      "#!lua name=before\nredis.register_function('f1', function() return 1 end)")
    d_at_l = digest(c)
    lsn = pinfo(c)["lode_wal_last_lsn"]
    c.config_set("checkpoint-key-delay", 3000)
    c.execute_command("BGSAVE")
    # libraries as at L too: one loaded meanwhile is not in the checkpoint
    c.execute_command("FUNCTION", "LOAD",
                      "#!lua name=after\nredis.register_function('f2', function() return 2 end)")
    mutate(c, 300)
    d_now = digest(c)
    assert d_now != d_at_l
    c.config_set("checkpoint-key-delay", 0)
    wait_until(lambda: pinfo(c)["rdb_bgsave_in_progress"] == 0, timeout=60,
               what="checkpoint to end")
    info = pinfo(c)
    assert info["lode_checkpoint_status"] == "ok"
    assert info["lode_checkpoints_ok"] == (2 if incremental else 1)
    assert info["lode_checkpoints_failed"] == 0
    assert info["lode_checkpoint_lsn"] == lsn
    assert info["lode_checkpoint_method"] == "thread"
    assert digest(c) == d_now  # serving went on unchanged
    c = checkpoint_alone(s)
    assert digest(c) == d_at_l
    libs = {e[1] for e in c.execute_command("FUNCTION", "LIST")}
    assert libs == {b"before"}


def test_killed_midway_changes_nothing(make_server):
    """kill -9 while the writer thread is midway: the store keeps its last
    commit, and the restart (checkpoint + WAL) has every write."""
    s = make_server(["--checkpoint-method", "thread"])
    c = s.client()
    fill(c, "a", 100)
    bgsave_done(c)
    lsn = pinfo(c)["lode_checkpoint_lsn"]
    fill(c, "b", 2000)
    c.config_set("checkpoint-key-delay", 5000)  # ~10 s
    c.execute_command("BGSAVE")
    wait_until(lambda: pinfo(c)["rdb_bgsave_in_progress"] == 1, what="checkpoint to run")
    fill(c, "a", 50)  # changes to keys it has not reached
    d = digest(c)
    s.kill9()
    s.start()
    c = s.client()
    assert pinfo(c)["lode_checkpoint_lsn"] == lsn
    assert digest(c) == d


def test_shutdown_during_checkpoint_writes_final(make_server):
    """SHUTDOWN while a slowed threaded checkpoint runs: it is cancelled and
    the final checkpoint (with everything) is written at once."""
    s = make_server(["--checkpoint-method", "thread"])
    c = s.client()
    fill(c, "a", 2000)
    c.config_set("checkpoint-key-delay", 5000)
    c.execute_command("BGSAVE")
    fill(c, "a", 10)
    d = digest(c)
    last = pinfo(c)["lode_wal_last_lsn"]
    c = shutdown_and_restart(s, c)
    assert pinfo(c)["lode_checkpoint_lsn"] == last
    assert digest(c) == d


def thread_stats(pid):
    """(nice, scheduling policy) of every thread of pid (SCHED_IDLE is 5)."""
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out.append((int(fields[16]), int(fields[38])))
        except OSError:
            pass
    return out


def thread_nices(pid):
    return [n for n, _ in thread_stats(pid)]


def test_writer_thread_runs_at_checkpoint_nice(make_server):
    s = make_server(["--checkpoint-method", "thread"])
    c = s.client()
    c.config_set("checkpoint-nice", 7)
    fill(c, "a", 200)
    c.config_set("checkpoint-key-delay", 20000)  # ~4 s
    c.execute_command("BGSAVE")
    wait_until(lambda: 7 in thread_nices(s.proc.pid), what="writer thread at nice 7")
    assert pinfo(c)["rdb_bgsave_in_progress"] == 1
    assert pinfo(c)["lode_checkpoint_child_pid"] == -1  # no child
    c.config_set("checkpoint-key-delay", 0)
    wait_until(lambda: pinfo(c)["rdb_bgsave_in_progress"] == 0, what="checkpoint to end")
    assert pinfo(c)["lode_checkpoint_status"] == "ok"
    assert 7 not in thread_nices(s.proc.pid)  # the thread ended with it


def test_writer_thread_at_19_is_sched_idle(make_server):
    """At the default checkpoint-nice 19 the writer thread also takes the
    SCHED_IDLE policy: it only runs when the loop leaves the CPU idle."""
    s = make_server(["--checkpoint-method", "thread"])
    c = s.client()
    fill(c, "a", 200)
    c.config_set("checkpoint-key-delay", 20000)
    c.execute_command("BGSAVE")
    wait_until(lambda: (19, 5) in thread_stats(s.proc.pid), what="writer thread SCHED_IDLE")
    assert pinfo(c)["rdb_bgsave_in_progress"] == 1
    assert sum(1 for st in thread_stats(s.proc.pid) if st[1] == 5) == 1  # only the writer
    c.config_set("checkpoint-key-delay", 0)
    wait_until(lambda: pinfo(c)["rdb_bgsave_in_progress"] == 0, what="checkpoint to end")


def test_epoch_not_raised_during_checkpoint(make_server):
    """DEBUG CHECKPOINT-EPOCH may not move the epoch a running threaded
    checkpoint relies on."""
    s = make_server(["--checkpoint-method", "thread"])
    c = s.client()
    fill(c, "a", 200)
    c.config_set("checkpoint-key-delay", 20000)
    c.execute_command("BGSAVE")
    wait_until(lambda: pinfo(c)["rdb_bgsave_in_progress"] == 1, what="checkpoint to run")
    now = c.execute_command("DEBUG", "CHECKPOINT-EPOCH")
    with pytest.raises(Exception, match="epoch can only be raised"):
        c.execute_command("DEBUG", "CHECKPOINT-EPOCH", now + 5)
    c.config_set("checkpoint-key-delay", 0)
    wait_until(lambda: pinfo(c)["rdb_bgsave_in_progress"] == 0, what="checkpoint to end")
    assert c.execute_command("DEBUG", "CHECKPOINT-EPOCH", now + 5) == now + 5


def test_keys_created_in_a_finished_db_reach_the_next_checkpoint(make_server):
    """A key created while a threaded checkpoint runs, in a db it has
    already finished (db 0, empty at L, while db 5 is still being
    scanned), is recorded as changed: the next checkpoint holds it (kill -9
    rounds found it missing once new entries carried the epoch)."""
    s = make_server(["--checkpoint-method", "thread", "--checkpoint-wal-bytes", "1gb"])
    c = s.client()
    c.execute_command("SELECT", 5)
    fill(c, "a", 200)
    c.config_set("checkpoint-key-delay", 20000)
    c.execute_command("BGSAVE")
    # the scan is in db 5 (it saved something): dbs 0-4 are finished
    wait_until(lambda: pinfo(c)["lode_checkpoint_entries_saved"] >= 1, what="scan in db 5")
    c.execute_command("SELECT", 0)
    c.set("created", "during")
    c.execute_command("SELECT", 5)
    c.set("a:500", "new in the db being scanned")
    assert pinfo(c)["rdb_bgsave_in_progress"] == 1
    c.config_set("checkpoint-key-delay", 0)
    wait_until(lambda: pinfo(c)["rdb_bgsave_in_progress"] == 0, what="checkpoint to end")
    bgsave_done(c)  # the next one must write both keys
    assert pinfo(c)["lode_checkpoint_lsn"] == pinfo(c)["lode_wal_last_lsn"]
    d = digest(c)
    c = checkpoint_alone(s)
    assert digest(c) == d
    assert c.get("created") == b"during"
