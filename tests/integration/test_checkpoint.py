"""LMDB checkpoints: BGSAVE/SAVE/LASTSAVE, restart from a checkpoint plus the
WAL tail, WAL trimming, a killed checkpoint child, SHUTDOWN's final
checkpoint. Everything restarts a lode-server on its own data directory or
reads lode_* INFO fields, so all tests are lode_only."""
import os
import signal

import pytest

from conftest import Server, wait_until

pytestmark = pytest.mark.lode_only




def pinfo(c):
    return c.info("persistence")


def digest(c):
    return c.execute_command("DEBUG", "DIGEST")


def fill(c, prefix, n, db=0):
    p = c.pipeline(transaction=False)
    p.select(db) if False else None
    for i in range(n):
        p.set("%s:%d" % (prefix, i), "v%d" % i)
    p.execute()


def bgsave_done(c):
    c.execute_command("BGSAVE")
    wait_until(lambda: pinfo(c)["rdb_bgsave_in_progress"] == 0, what="checkpoint to end")
    assert pinfo(c)["lode_checkpoint_status"] == "ok"


def restart(s, kill=False):
    if kill:
        s.kill9()
    else:
        s.stop()
    s.start()
    return s.client()


def populate(c):
    c.set("str", "hello")
    c.append("str", " world")
    c.set("int", 12345)
    c.set("big", "x" * 5000)
    c.set("ttl", "t", ex=1000)
    c.set(b"bin\x00key", b"\xff\x00")
    c.set("k" * 2000, "long key")
    c.set("k" * 1999 + "z", "other long key")
    c2 = c.connection_pool.connection_kwargs
    del c2
    c.execute_command("SELECT", 3)
    c.set("in3", "three")
    c.execute_command("SELECT", 0)


def test_bgsave_then_restart(make_server):
    s = make_server()
    c = s.client()
    populate(c)
    fill(c, "a", 200)
    assert c.execute_command("BGSAVE") is True
    wait_until(lambda: pinfo(c)["rdb_bgsave_in_progress"] == 0, what="checkpoint to end")
    info = pinfo(c)
    assert info["lode_checkpoint_status"] == "ok"
    assert info["lode_checkpoint_lsn"] == info["lode_wal_last_lsn"]
    assert info["lode_checkpoint_keys_written"] >= 208
    assert info["rdb_changes_since_last_save"] == 0
    d = digest(c)
    c = restart(s)
    assert digest(c) == d
    assert c.get("k" * 2000) == b"long key"
    assert c.ttl("ttl") > 900
    # more writes after the checkpoint: checkpoint + WAL tail
    c.delete("str")
    c.incr("int")
    c.set("new", "after")
    c.flushdb() if False else None
    c.execute_command("SELECT", 3)
    c.flushdb()
    c.set("in3b", "again")
    c.execute_command("SELECT", 0)
    d2 = digest(c)
    assert d2 != d
    c = restart(s)
    assert digest(c) == d2
    # and a second checkpoint over the first (deletes, flushed db)
    bgsave_done(c)
    c = restart(s)
    assert digest(c) == d2
    assert c.get("str") is None
    c.execute_command("SELECT", 3)
    assert c.keys("*") == [b"in3b"]


def test_save_and_lastsave(make_server):
    s = make_server()
    c = s.client()
    before = c.lastsave()
    c.set("a", "1")
    wait_until(lambda: c.lastsave() != before or __import__("time").sleep(0.05) or
               int(__import__("time").time()) > before.timestamp() + 1,
               what="a second to pass") if False else None
    import time
    while int(time.time()) == int(before.timestamp()):
        time.sleep(0.05)
    assert c.execute_command("SAVE") is True
    after = c.lastsave()
    assert after > before
    assert pinfo(c)["lode_checkpoint_lsn"] == pinfo(c)["lode_wal_last_lsn"]
    d = digest(c)
    c = restart(s, kill=True)
    assert digest(c) == d
    assert c.lastsave() == after


def test_bgsave_errors(make_server):
    s = make_server()
    c = s.client()
    with pytest.raises(Exception, match="syntax error"):
        c.execute_command("BGSAVE", "FOO")
    assert c.execute_command("BGSAVE", "SCHEDULE") is True
    wait_until(lambda: pinfo(c)["rdb_bgsave_in_progress"] == 0, what="checkpoint to end")


def test_wal_segments_trimmed(make_server):
    s = make_server(["--wal-segment-size", "65536"])
    c = s.client()
    for j in range(10):
        fill(c, "seg%d" % j, 300)
    waldir = os.path.join(s.dir, "data", "wal")

    def files(suffix):
        return sorted(n for n in os.listdir(waldir) if n.endswith(suffix))

    segs = files(".log")
    assert len(segs) > 3
    bgsave_done(c)
    L = pinfo(c)["lode_checkpoint_lsn"]
    left = files(".log")
    assert len(left) < len(segs)
    # up to wal-spare-segments (4) of the trimmed ones are kept for reuse
    spares = files(".spare")
    assert len(spares) == min(4, len(segs) - len(left))
    assert pinfo(c)["lode_wal_spare_segments"] == len(spares)
    assert {n[:16] for n in spares} <= {n[:16] for n in segs}
    firsts = [int(n[:16], 16) for n in left]
    # nothing left lies wholly at or below the checkpoint
    assert firsts[0] <= L + 1
    assert len(firsts) == 1 or firsts[1] > L + 1
    d = digest(c)
    c = restart(s)
    assert digest(c) == d


def test_wal_archive(make_server):
    s = make_server(["--wal-segment-size", "65536", "--wal-archive", "yes"])
    c = s.client()
    for j in range(6):
        fill(c, "seg%d" % j, 300)
    bgsave_done(c)
    arch = os.path.join(s.dir, "data", "wal-archive")
    assert os.listdir(arch)


def test_killed_child_changes_nothing(make_server):
    s = make_server(["--checkpoint-method", "fork"])
    c = s.client()
    fill(c, "a", 100)
    bgsave_done(c)
    L = pinfo(c)["lode_checkpoint_lsn"]
    fill(c, "b", 2000)
    c.config_set("checkpoint-key-delay", 5000)  # ~10 s: it is killed midway
    c.execute_command("BGSAVE")
    pid = pinfo(c)["lode_checkpoint_child_pid"]
    assert pid > 0
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: pinfo(c)["rdb_bgsave_in_progress"] == 0, what="child to end")
    info = pinfo(c)
    assert info["lode_checkpoint_status"] == "err"
    assert info["lode_checkpoints_failed"] == 1
    assert info["lode_checkpoint_lsn"] == L
    assert info["rdb_changes_since_last_save"] >= 2000  # the keys went back to the set
    c.config_set("checkpoint-key-delay", 0)
    bgsave_done(c)
    assert pinfo(c)["lode_checkpoint_lsn"] == pinfo(c)["lode_wal_last_lsn"]
    d = digest(c)
    c = restart(s)
    assert digest(c) == d


def shutdown_and_restart(s, c):
    """SHUTDOWN (which exits 0), then a start on the same directory."""
    try:
        c.shutdown()
    except Exception:
        pass  # the connection closes as the server exits
    s.proc.wait(30)
    assert s.proc.returncode == 0
    s.stop()
    s.start()
    return s.client()


def test_shutdown_final_checkpoint(make_server):
    s = make_server()
    c = s.client()
    fill(c, "a", 50)
    last = pinfo(c)["lode_wal_last_lsn"]
    d = digest(c)
    c = shutdown_and_restart(s, c)
    info = pinfo(c)
    assert info["lode_checkpoint_lsn"] == last
    assert digest(c) == d


def test_kill9_between_checkpoint_and_writes(make_server):
    s = make_server()
    c = s.client()
    populate(c)
    bgsave_done(c)
    fill(c, "after", 100)
    c.delete("str")
    c.set("int", "7")
    d = digest(c)
    c = restart(s, kill=True)
    assert digest(c) == d
    c = restart(s, kill=True)
    assert digest(c) == d


def test_inspect_reads_checkpoint_and_tail(make_server):
    import subprocess
    from conftest import LODE_BIN
    inspect = os.path.join(os.path.dirname(LODE_BIN), "lode-inspect")
    s = make_server(["--wal-segment-size", "65536"])
    c = s.client()
    for j in range(6):
        fill(c, "seg%d" % j, 300)
    c.set("counter", "41")
    bgsave_done(c)
    c.incr("counter")
    data = os.path.join(s.dir, "data")
    r = subprocess.run([inspect, data, "get", "counter"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert b"42" in r.stdout
    r = subprocess.run([inspect, data, "get", "seg0:5"], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert b"v5" in r.stdout


def checkpoint_only(s, c, pad):
    """Fills the WAL past the changes made so far, checkpoints, checks that
    the WAL records of those changes were trimmed (so a restart can find
    them only in the checkpoint), then restarts with kill -9 and checks the
    dataset is what it was."""
    mark = pinfo(c)["lode_wal_last_lsn"]
    fill(c, pad, 3000)
    bgsave_done(c)
    waldir = os.path.join(s.dir, "data", "wal")
    assert min(int(n[:16], 16) for n in os.listdir(waldir) if n.endswith(".log")) > mark
    d = digest(c)
    c = restart(s, kill=True)
    assert digest(c) == d
    return c


def test_checkpoint_holds_keys_changed_again(make_server):
    """A key changed in one checkpoint's interval and again in the next is in
    the next checkpoint however it changed: rewritten in place, rewritten
    many times, moved to another db, renamed, deleted and created again,
    swapped with its db (the server skips the dirty-set search for a key it
    already recorded in the current interval; each of these must not fool
    it)."""
    s = make_server(["--wal-segment-size", "65536"])
    c = s.client()
    for k in ("again", "moved", "renamed", "gone", "twice", "n"):
        c.set(k, "0")
    c.sadd("set", "a")
    c.execute_command("SELECT", 2)
    c.set("in2", "x")
    c.execute_command("SELECT", 0)
    bgsave_done(c)
    for i in range(1, 4):
        c.set("again", "v%d" % i)
    c.incr("n")
    c.incr("n")
    c.set("moved", "m")
    c.move("moved", 1)
    c.set("renamed", "r")
    c.rename("renamed", "renamed2")
    c.set("renamed2", "r2")
    c.set("gone", "g")
    c.delete("gone")
    c.set("gone", "g2")
    c.sadd("set", "b")
    c.execute_command("SWAPDB", 2, 3)
    c = checkpoint_only(s, c, "pad1")
    assert c.get("again") == b"v3"
    assert c.get("n") == b"2"
    assert c.get("moved") is None
    assert c.get("renamed2") == b"r2" and c.get("renamed") is None
    assert c.get("gone") == b"g2"
    assert c.smembers("set") == {b"a", b"b"}
    c.execute_command("SELECT", 1)
    assert c.get("moved") == b"m"
    c.execute_command("SELECT", 3)
    assert c.get("in2") == b"x"
    c.execute_command("SELECT", 0)
    # the next interval after a restart and after a second checkpoint
    c.set("again", "v4")
    c.incr("n")
    c = checkpoint_only(s, c, "pad2")
    c.set("again", "v5")
    c = checkpoint_only(s, c, "pad3")
    assert c.get("again") == b"v5"
    assert c.get("n") == b"3"


def test_checkpoint_epoch_wrap(make_server):
    """The change-tracking epoch is 16 bits: at the wrap every key's recorded
    epoch is reset, so a key last recorded under epoch 1 long ago is not
    taken as recorded in the new epoch 1."""
    s = make_server(["--wal-segment-size", "65536"])
    c = s.client()
    assert c.execute_command("DEBUG", "CHECKPOINT-EPOCH") == 1
    c.set("old", "a")  # recorded under epoch 1
    bgsave_done(c)
    with pytest.raises(Exception, match="can only be raised"):
        c.execute_command("DEBUG", "CHECKPOINT-EPOCH", 1)
    assert c.execute_command("DEBUG", "CHECKPOINT-EPOCH", 65535) == 65535
    c.set("x", "1")
    bgsave_done(c)  # wraps to 1
    assert c.execute_command("DEBUG", "CHECKPOINT-EPOCH") == 1
    c.set("old", "b")
    c = checkpoint_only(s, c, "pad")
    assert c.get("old") == b"b"


def child_nice(pid):
    """The nice value of process pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[16])


def test_checkpoint_child_nice(make_server):
    """The checkpoint child runs at checkpoint-nice (CONFIG SET takes effect
    at the next checkpoint); INFO stats counts the forks."""
    s = make_server(["--checkpoint-method", "fork"])
    c = s.client()
    assert c.config_get("checkpoint-nice") == {"checkpoint-nice": "19"}
    with pytest.raises(Exception, match="argument must be between 0 and 19|out of range|invalid"):
        c.config_set("checkpoint-nice", 20)
    c.config_set("checkpoint-nice", 7)
    p = c.pipeline(transaction=False)
    for i in range(100000):
        p.set("k%d" % i, i)
    p.execute()
    forks = c.info("stats")["total_forks"]
    seen = None
    for _ in range(20):
        c.execute_command("BGSAVE")
        pid = pinfo(c)["lode_checkpoint_child_pid"]
        # the child sets its priority first thing: poll until it has, or ends
        while pid > 0:
            n = child_nice(pid)
            if n is None or n == 7:
                seen = n
                break
        wait_until(lambda: pinfo(c)["rdb_bgsave_in_progress"] == 0, what="checkpoint to end")
        if seen == 7:
            break
        c.set("k0", "again")  # something to write next time
    assert seen == 7
    st = c.info("stats")
    assert st["total_forks"] > forks
    assert st["latest_fork_usec"] > 0


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie until its parent (gone too) is reaped by init
    return child_nice(pid) is None or open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] == "Z"


def test_child_holds_no_sockets_and_stops_with_server(make_server):
    """A checkpoint child (slowed down with checkpoint-key-delay, as Redis's
    rdb-key-save-delay) keeps none of the server's sockets: a client the
    server closes sees EOF at once, and after SIGTERM the child is gone and
    the server restarts on the same port and directory at once."""
    import socket
    s = make_server(["--checkpoint-method", "fork"])
    c = s.client()
    fill(c, "a", 50)
    c.config_set("checkpoint-key-delay", 200000)  # 0.2 s a key: ~10 s
    raw = socket.create_connection(("127.0.0.1", s.port), timeout=5)  # before the fork
    c.execute_command("BGSAVE")
    pid = pinfo(c)["lode_checkpoint_child_pid"]
    assert pid > 0
    def child_sockets():
        socks = []
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:"):
                socks.append(link)
        return socks
    # the child closes them first thing after the fork; the test may look
    # in before that
    wait_until(lambda: child_sockets() == [], timeout=5, what="the child to close the sockets")
    socks = child_sockets()
    assert socks == [], "the child holds sockets: %r" % socks
    # a connection the server closes is closed for the client too
    raw.sendall(b"QUIT\r\n")
    got = b""
    while True:
        chunk = raw.recv(100)  # times out (5 s) if the child kept the socket
        if not chunk:
            break
        got += chunk
    assert got == b"+OK\r\n"
    raw.close()
    assert pinfo(c)["lode_checkpoint_in_progress"] == 1
    s.stop()
    wait_until(lambda: gone(pid), what="checkpoint child to end with the server")
    s.start()
    c = s.client()
    assert c.get("a:7") == b"v7"
    assert pinfo(c)["lode_checkpoint_in_progress"] == 0


def test_reads_leave_access_time_during_checkpoint(make_server):
    """While a checkpoint child shares the pages a read does not write the
    key's access time (a page copy for nothing), as Redis with a saving
    child; after the checkpoint reads update it again."""
    s = make_server(["--checkpoint-method", "fork"])
    c = s.client()
    c.set("k", "v")
    wait_until(lambda: c.object("idletime", "k") >= 1, what="key to idle a second")
    fill(c, "a", 20)
    c.config_set("checkpoint-key-delay", 100000)  # ~2 s
    c.execute_command("BGSAVE")
    assert pinfo(c)["lode_checkpoint_in_progress"] == 1
    c.get("k")
    assert c.object("idletime", "k") >= 1
    pid = pinfo(c)["lode_checkpoint_child_pid"]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: pinfo(c)["rdb_bgsave_in_progress"] == 0, what="child to end")
    c.get("k")
    assert c.object("idletime", "k") == 0


def test_child_dies_with_killed_server(make_server):
    """kill -9 of the server takes a running checkpoint child with it (an
    orphan would keep the directory's lock: the restart would refuse)."""
    s = make_server(["--checkpoint-method", "fork"])
    c = s.client()
    fill(c, "a", 100)
    c.config_set("checkpoint-key-delay", 200000)  # ~20 s
    c.execute_command("BGSAVE")
    pid = pinfo(c)["lode_checkpoint_child_pid"]
    assert pid > 0
    d = digest(c)
    s.kill9()
    wait_until(lambda: gone(pid), what="checkpoint child to die with the server")
    s.start()
    c = s.client()
    assert digest(c) == d
