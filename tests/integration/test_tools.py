"""lode-inspect and lode-recover against real data directories written by a
real lode-server: read-only inspection (also while the server runs), dump
that replays into redis-server, check / repair of a torn tail, and
point-in-time restore."""
import hashlib
import os
import re
import shutil
import subprocess

import pytest
import redis

from conftest import LODE_BIN, Server, wait_until

pytestmark = pytest.mark.lode_only

BIN_DIR = os.path.dirname(LODE_BIN)
INSPECT = os.path.join(BIN_DIR, "lode-inspect")
RECOVER = os.path.join(BIN_DIR, "lode-recover")


def run(*args, input=None):
    return subprocess.run([str(a) for a in args], capture_output=True, timeout=60, input=input)


def tree_digest(path):
    h = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(path)):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            h.update(p.encode())
            with open(p, "rb") as fh:
                h.update(fh.read())
    return h.hexdigest()


@pytest.fixture
def written(tmp_path):
    """A data directory with a few keys in two dbs, server stopped."""
    s = Server("lode", dir=str(tmp_path))
    s.start()
    c = s.client()
    c.set("a", "1")
    c.set(b"bin\x00key", b"v\x01\xff")
    c.set("ttl", "x", ex=1000)
    c.incr("counter")
    c.incr("counter")
    c.execute_command("SELECT", 3)
    c3 = s.client(db=3)
    c3.set("z", "9")
    c.close()
    c3.close()
    s.stop()
    return str(tmp_path / "data"), s


def test_inspect_info_keys_get(written):
    data, _ = written
    r = run(INSPECT, data, "info")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "wal records: 6 (LSN 1..6)" in out
    assert "db0: keys=4 expires=1 string=4" in out
    assert "db3: keys=1 expires=0 string=1" in out
    r = run(INSPECT, data, "keys", "--db", "0")
    keys = sorted(line.split(" ", 2)[2] for line in r.stdout.decode().splitlines())
    assert keys == ['"a"', '"bin\\x00key"', '"counter"', '"ttl"']
    r = run(INSPECT, data, "get", "counter")
    assert "value: \"2\"" in r.stdout.decode()
    r = run(INSPECT, data, "get", "missing")
    assert r.returncode == 1


def test_inspect_wal_and_verify(written):
    data, _ = written
    r = run(INSPECT, data, "wal", "--from", "4", "--to", "5")
    out = r.stdout.decode()
    assert "LSN 4 " in out and "LSN 5 " in out and "LSN 6 " not in out
    assert '"incrby" "counter" "1"' in out.lower()
    assert run(INSPECT, data, "verify").returncode == 0


def test_dump_resp_replays_into_redis(written, server_factory):
    data, _ = written
    dump = run(INSPECT, data, "dump", "--format", "resp")
    assert dump.returncode == 0
    ref = server_factory(kind="redis")
    r = subprocess.run(["redis-cli", "-p", str(ref.port), "--pipe"], input=dump.stdout,
                       capture_output=True, timeout=30)
    assert b"errors: 0" in r.stdout
    c = ref.client()
    assert c.get("a") == b"1"
    assert c.get(b"bin\x00key") == b"v\x01\xff"
    assert c.get("counter") == b"2"
    assert 990 < c.ttl("ttl") <= 1000
    assert redis.Redis(port=ref.port, db=3).get("z") == b"9"


def test_dump_json(written):
    data, _ = written
    import json
    rows = [json.loads(x) for x in run(INSPECT, data, "dump").stdout.decode().splitlines()]
    byk = {(r["db"], r["key"]): r for r in rows}
    assert byk[(0, "a")]["value"] == "1"
    assert byk[(0, "bin\u0000key")]["value"] == "v\u0001\u00ff"
    assert "expire_ms" in byk[(0, "ttl")]
    assert byk[(3, "z")]["value"] == "9"


def test_inspect_while_server_runs_changes_nothing(tmp_path):
    s = Server("lode", dir=str(tmp_path)).start()
    try:
        c = s.client()
        for i in range(100):
            c.set("k%d" % i, i)
        data = str(tmp_path / "data")
        before = tree_digest(os.path.join(data, "wal"))
        for args in (["info"], ["keys"], ["dump"], ["wal"], ["verify"], ["get", "k5"]):
            assert run(INSPECT, data, *args).returncode == 0, args
        assert tree_digest(os.path.join(data, "wal")) == before
        assert c.get("k99") == b"99"
        c.close()
    finally:
        s.stop()
        s.cleanup()


def _segments(data):
    """The WAL's segment files, oldest first (not the spares kept for reuse)."""
    return sorted(n for n in os.listdir(os.path.join(data, "wal")) if n.endswith(".log"))


def _append_garbage(data):
    seg = os.path.join(data, "wal", _segments(data)[-1])
    with open(seg, "rb") as f:
        head = f.read(1 << 20)
    end = len(head.rstrip(b"\0"))
    with open(seg, "r+b") as f:
        f.seek(end)
        f.write(b"\x40\x00\x00\x00torn-record-bytes")
    return seg


def test_recover_check_and_repair(written):
    data, s = written
    assert run(RECOVER, data, "check").returncode == 0
    seg = _append_garbage(data)
    r = run(RECOVER, data, "check")
    assert r.returncode == 1 and b"torn tail" in r.stdout
    r = run(RECOVER, data, "repair")
    assert r.returncode == 0, r.stderr
    side = [f for f in os.listdir(os.path.dirname(seg)) if ".torn-" in f]
    assert len(side) == 1
    with open(os.path.join(os.path.dirname(seg), side[0]), "rb") as f:
        assert f.read() == b"\x40\x00\x00\x00torn-record-bytes"
    assert run(RECOVER, data, "check").returncode == 0
    s.start()
    assert s.client().get("counter") == b"2"
    s.stop()


def test_recover_check_after_trim(tmp_path):
    """After a checkpoint trimmed the WAL's first segments, the log starts
    above LSN 1: lode-recover check / repair and lode-inspect wal take the
    checkpoint's LSN as where it may start (they reported "earlier segments
    are missing" before)."""
    s = Server("lode", args=["--wal-segment-size", "65536"], dir=str(tmp_path))
    s.start()
    data = os.path.join(str(tmp_path), "data")
    try:
        c = s.client()
        for i in range(3000):
            c.set("k%d" % i, "v" * 100)
        c.save()
        # the segments wholly below the checkpoint go when it has finished
        wait_until(lambda: int(_segments(data)[0][:16], 16) > 1,
                   what="WAL trimmed")
        c.set("after", "1")
        c.close()
    finally:
        s.stop()
    r = run(RECOVER, data, "check")
    assert r.returncode == 0 and b"status: clean" in r.stdout, r.stdout + r.stderr
    # lode-inspect wal lists the records left, and the log ends cleanly
    r = run(INSPECT, data, "wal")
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    assert b"'SET' 'after' '1'" in r.stdout or b'"SET" "after" "1"' in r.stdout, r.stdout[-300:]
    _append_garbage(data)
    r = run(RECOVER, data, "check")
    assert r.returncode == 1 and b"torn tail" in r.stdout, r.stdout
    assert run(RECOVER, data, "repair").returncode == 0
    assert run(RECOVER, data, "check").returncode == 0
    # without the checkpoint the same log is missing its start
    shutil.rmtree(os.path.join(data, "checkpoint"))
    r = run(RECOVER, data, "check")
    assert r.returncode != 0 and b"earlier segments are missing" in r.stdout, r.stdout


def test_repair_refuses_while_server_runs(written):
    data, s = written
    s.start()
    try:
        r = run(RECOVER, data, "repair")
        assert r.returncode == 3 and b"LOCK" in r.stderr
    finally:
        s.stop()


def test_restore_to_lsn_and_time(written, tmp_path):
    data, _ = written
    out = tmp_path / "restored"
    r = run(RECOVER, data, "restore", "--to-lsn", "4", "--out", out)
    assert r.returncode == 0, r.stderr
    s = Server("lode", dir=str(tmp_path / "x"))
    s.extra = []
    s.dir = str(tmp_path / "x")
    os.makedirs(s.dir, exist_ok=True)
    shutil.move(str(out), os.path.join(s.dir, "data"))
    s.log_path = os.path.join(s.dir, "server.log")
    s.start()
    try:
        c = s.client()
        assert c.get("counter") == b"1"  # LSN 5 (the second INCR) is not there
        assert redis.Redis(port=s.port, db=3).get("z") is None
        c.close()
    finally:
        s.stop()
    # by time: every record is at or before "now"
    out2 = tmp_path / "restored2"
    import time
    r = run(RECOVER, data, "restore", "--to-time", str(int(time.time() * 1000)), "--out", out2)
    assert r.returncode == 0 and b"restored 6 records" in r.stdout
    r = run(RECOVER, data, "restore", "--to-time", "1970-01-01T00:00:01Z", "--out",
            tmp_path / "restored3")
    assert r.returncode == 0 and b"restored 0 records" in r.stdout


def test_get_point_lookup_with_checkpoint(tmp_path):
    """After a checkpoint, `get` of a key the WAL tail never touches is
    answered from the checkpoint; a key the tail changed comes from the full
    replay. Both must be right."""
    s = Server("lode", dir=str(tmp_path)).start()
    try:
        c = s.client()
        c.set("stable", "from-checkpoint")
        c.set("changed", "old")
        assert c.save()
        c.set("changed", "new")
        c.close()
    finally:
        s.stop()
    data = str(tmp_path / "data")
    r = run(INSPECT, data, "get", "stable")
    assert r.returncode == 0 and b'value: "from-checkpoint"' in r.stdout
    r = run(INSPECT, data, "get", "changed")
    assert r.returncode == 0 and b'value: "new"' in r.stdout
    assert run(INSPECT, data, "get", "absent").returncode == 1
    info = run(INSPECT, data, "info").stdout
    lsn = re.search(rb"checkpoint LSN: (\d+)", info)
    assert lsn and int(lsn.group(1)) >= 2, info
    assert b"checkpoint time: " in info and b"checkpoint format: 2" in info
    s.cleanup()


def _restored_server(path):
    s = Server("lode", ["--wal-segment-size", "65536"], dir=str(path))
    return s.start()


def _dir(p):
    os.makedirs(str(p), exist_ok=True)
    return str(p)


@pytest.mark.parametrize("archive", [True, False])
def test_restore_across_a_checkpoint(tmp_path, archive):
    """Point-in-time restore after a checkpoint trimmed the WAL: a target at
    or after the checkpoint starts from it; one before it needs the archived
    log (wal-archive yes), and is refused with a clear reason without it."""
    args = ["--wal-segment-size", "65536", "--wal-archive", "yes" if archive else "no"]
    s = Server("lode", args, dir=_dir(tmp_path / "src")).start()
    try:
        c = s.client()
        for i in range(1500):  # LSN i+1; several 64 KiB segments
            c.set("k%d" % i, "v" * 60)
        assert c.save()
        ck = c.info("persistence")["lode_checkpoint_lsn"]
        assert ck == 1500
        for i in range(1500, 1600):
            c.set("k%d" % i, "w")
        c.close()
    finally:
        s.stop()
    data = str(tmp_path / "src" / "data")
    assert os.path.isdir(os.path.join(data, "wal-archive")) == archive
    # after the checkpoint: checkpoint + WAL tail up to LSN 1550
    r = run(RECOVER, data, "restore", "--to-lsn", "1550", "--out", _dir(tmp_path / "a") + "/data")
    assert r.returncode == 0, r.stderr
    assert b"on top of the checkpoint" in r.stdout
    t = _restored_server(tmp_path / "a")
    try:
        c = t.client()
        assert c.dbsize() == 1550
        assert c.get("k1549") == b"w" and c.get("k1550") is None
        c.close()
    finally:
        t.stop()
    # before the checkpoint: only with the archived log
    r = run(RECOVER, data, "restore", "--to-lsn", "10", "--out", _dir(tmp_path / "b") + "/data")
    if not archive:
        assert r.returncode == 2 and b"wal-archive yes" in r.stderr
        return
    assert r.returncode == 0, r.stderr
    t = _restored_server(tmp_path / "b")
    try:
        c = t.client()
        assert c.dbsize() == 10
        assert c.get("k9") == b"v" * 60 and c.get("k10") is None
        c.close()
    finally:
        t.stop()


LIB_A = ("#!lua name=liba\n"
         "redis.register_function('plain', function(k, a) return 1 end)\n"
         "redis.register_function{function_name='ro', callback=function() return 2 end, "
         "flags={'no-writes', 'allow-stale'}, description='reads only'}")
LIB_B = "#!lua name=libb\nredis.register_function('fb', function() return 3 end)"
LIB_C = "#!lua name=libc\nredis.register_function('fc', function() return 4 end)"


def listed_libraries(c):
    """FUNCTION LIST as [(library, [(function, sorted flags)])] (RESP2 pairs)."""
    out = []
    for lib in c.function_list():
        lib = dict(zip(lib[::2], lib[1::2]))
        funcs = [dict(zip(f[::2], f[1::2])) for f in lib[b"functions"]]
        out.append((lib[b"library_name"].decode(),
                    [(f[b"name"].decode(), sorted(x.decode() for x in f[b"flags"]))
                     for f in funcs]))
    return out


def test_inspect_functions_from_the_checkpoint(tmp_path):
    """FUNCTION LOAD, SAVE, stop: `functions` lists each library of the
    checkpoint (and its code with --code) in load order, as FUNCTION LIST
    shows them; `info` counts them."""
    s = Server("lode", dir=str(tmp_path)).start()
    try:
        c = s.client()
        assert c.function_load(LIB_A) == b"liba"
        assert c.function_load(LIB_B) == b"libb"
        assert c.save()
        listed = listed_libraries(c)
        c.close()
    finally:
        s.stop()
    data = str(tmp_path / "data")
    r = run(INSPECT, data, "functions")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == 'library "liba" engine LUA\nlibrary "libb" engine LUA\n'
    assert r.stderr.decode().endswith("2 libraries\n")
    assert [lib for lib, _ in listed] == ["liba", "libb"]
    r = run(INSPECT, data, "functions", "--code")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert ("  code:\n" + LIB_A + "\n  end of code\n") in out
    assert out.endswith("  code:\n" + LIB_B + "\n  end of code\n")
    info = run(INSPECT, data, "info")
    assert info.returncode == 0, info.stderr
    assert b"function libraries: 2\n" in info.stdout
    assert run(INSPECT, data, "functions", "--bogus").returncode == 2
    s.cleanup()


def test_inspect_functions_while_server_runs(tmp_path):
    """While the server runs, with FUNCTION writes in the WAL after the
    checkpoint (LOAD, DELETE, RESTORE): `functions` and `info` show the
    libraries the server has, and change nothing on disk. Tools that only
    read keys skip the FUNCTION records."""
    s = Server("lode", dir=str(tmp_path)).start()
    try:
        c = s.client()
        c.function_load(LIB_A)
        c.set("k", "v")
        assert c.save()
        c.function_load(LIB_B)  # WAL only from here on
        payload = c.function_dump()
        c.function_delete("liba")
        c.function_load(LIB_C)
        c.function_restore(payload, "REPLACE")  # brings liba back after libc
        data = str(tmp_path / "data")
        before = tree_digest(os.path.join(data, "wal"))
        r = run(INSPECT, data, "functions")
        assert r.returncode == 0, r.stderr
        libs = re.findall(r'^library "(\w+)"', r.stdout.decode(), re.M)
        assert libs == [lib for lib, _ in listed_libraries(c)]
        assert sorted(libs) == ["liba", "libb", "libc"]
        info = run(INSPECT, data, "info")
        assert info.returncode == 0, info.stderr
        assert b"function libraries: 3\n" in info.stdout
        assert b"db0: keys=1 " in info.stdout
        for args in (["keys"], ["dump"], ["verify"], ["get", "k"]):
            assert run(INSPECT, data, *args).returncode == 0, args
        c.function_flush()
        r = run(INSPECT, data, "functions")
        assert r.returncode == 0 and r.stdout == b""
        assert r.stderr.decode().endswith("0 libraries\n")
        assert tree_digest(os.path.join(data, "wal")) != before  # the FLUSH was logged
        c.close()
    finally:
        s.stop()
        s.cleanup()
