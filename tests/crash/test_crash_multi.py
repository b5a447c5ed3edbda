"""Crash suite for transactions: a MULTI/EXEC is one WAL record, so a crash
keeps all of it or none of it.

test_kill9_transactions
    Writers (each its own connection and keys) run a stream of MULTI/EXEC
    transactions: INCR of N counters in db 0, SELECT 1, INCR of a counter
    and a 2 KB value tagged with the transaction number (the record is
    then LZ4-compressed and segments roll, with 64 KiB segments), a SET
    with EX (logged as PXAT), SELECT 0. One writer pipelines up to 20
    transactions. The server gets SIGKILL once enough transactions were
    acknowledged; after the restart every counter of a writer holds the
    same number n, with acknowledged <= n <= sent, the tagged value and
    the TTL key say n too, and no other key exists.
    LODE_CRASH_ROUNDS, LODE_CRASH_CLIENTS and LODE_CRASH_SEED tune it.
test_torn_transaction_record
    The last record, a transaction of many commands, cut at sampled byte
    offsets (zeros or garbage from the cut): recovery drops all of it, the
    state before it stays (DEBUG DIGEST), and none of its keys exists.
"""
import os
import random
import shutil
import struct
import threading

import pytest

from conftest import Server
from crash.rounds import BatchWriter, kill_under_load
from resp_client import encode

pytestmark = pytest.mark.lode_only

SEG = ["--wal-segment-size", "65536"]
NCOUNTERS = 5
BIG = 2000
TTL_S = 1000000
SEG_HEADER = 64


def info(c):
    return c.info("persistence")


class TxState:
    """One writer's keys and what it knows across rounds."""

    def __init__(self, cid):
        self.cid = cid
        self.acked = 0  # transactions acknowledged (EXEC replied)
        self.sent = 0   # transactions whose EXEC was sent

    def counters(self):
        return ["w%d:c%d" % (self.cid, j) for j in range(NCOUNTERS)]

    def big(self, n):
        tag = b"w%d:tx%d:" % (self.cid, n)
        return tag + b"x" * (BIG - len(tag))

    def request(self):
        """The bytes of the next transaction (number sent + 1)."""
        n = self.sent + 1
        cmds = [("MULTI",)]
        cmds += [("INCR", k) for k in self.counters()]
        cmds += [("SELECT", "1"), ("INCR", "w%d:d1" % self.cid),
                 ("SET", "w%d:big" % self.cid, self.big(n)),
                 ("SET", "w%d:ttl" % self.cid, str(n), "EX", str(TTL_S)),
                 ("SELECT", "0"), ("EXEC",)]
        self.ncmds = len(cmds)
        return b"".join(encode(*c) for c in cmds)

    def read_ack(self, conn, n):
        """MULTI's +OK and the +QUEUED of each command, then EXEC's array."""
        for _ in range(self.ncmds - 1):
            r = conn.read_reply()
            assert r == b"+OK\r\n" or r == b"+QUEUED\r\n", r
        reply = conn.read_reply()
        want = b"*%d\r\n" % (NCOUNTERS + 5) + b"".join(
            b":%d\r\n" % n for _ in range(NCOUNTERS))
        assert reply.startswith(want), (self.cid, n, reply[:80])


def verify(c, c1, states):
    keys = 0
    for st in states:
        vals = c.mget(st.counters())
        if vals[0] is None:
            n = 0
            assert all(v is None for v in vals), (st.cid, vals)
        else:
            n = int(vals[0])
            assert all(v == vals[0] for v in vals), ("half a transaction", st.cid, vals)
            keys += NCOUNTERS
        assert st.acked <= n <= st.sent, ("acked %d <= %d <= sent %d" % (st.acked, n, st.sent),
                                          st.cid)
        d1 = c1.get("w%d:d1" % st.cid)
        big = c1.get("w%d:big" % st.cid)
        ttl = c1.get("w%d:ttl" % st.cid)
        if n == 0:
            assert d1 is None and big is None and ttl is None, st.cid
        else:
            assert int(d1) == n, ("half a transaction (db 1)", st.cid, n, d1)
            assert big == st.big(n), ("half a transaction (big)", st.cid, n, big[:20])
            assert int(ttl) == n, st.cid
            assert 0 < c1.ttl("w%d:ttl" % st.cid) <= TTL_S
        st.acked = st.sent = n
    assert c.dbsize() == keys
    assert c1.dbsize() == 3 * sum(1 for st in states if st.acked)


@pytest.mark.parametrize("mode", ["always", "everysec"])
def test_kill9_transactions(tmp_path, capsys, mode):
    rounds = int(os.environ.get("LODE_CRASH_ROUNDS", "4" if mode == "always" else "2"))
    nclients = int(os.environ.get("LODE_CRASH_CLIENTS", "3"))
    seed = int(os.environ.get("LODE_CRASH_SEED", str(random.randrange(1 << 30))))
    rng = random.Random(seed)
    srv = Server("lode", ["--durability", mode] + SEG, dir=str(tmp_path))
    states = [TxState(i) for i in range(nclients)]
    report = []
    try:
        srv.start()
        for rnd in range(rounds):
            stop = threading.Event()
            writers = [BatchWriter(st, srv.port, stop, 20 if st.cid == 0 else 1) for st in states]
            base = sum(st.acked for st in states)
            target = base + rng.randint(50 * nclients, 200 * nclients)
            kill_under_load(srv, writers, stop, lambda: sum(st.acked for st in states), target,
                            "seed %d round %d" % (seed, rnd), "acknowledged transactions")
            acked = sum(st.acked for st in states)
            sent = sum(st.sent for st in states)
            srv.start()
            c, c1 = srv.client(), srv.client(db=1)
            try:
                verify(c, c1, states)
            except AssertionError as e:
                raise AssertionError("seed %d round %d: %s" % (seed, rnd, e)) from None
            # one record per transaction (no checkpoint ran: every record is replayed)
            assert int(info(c)["lode_recovery_records"]) == sum(st.acked for st in states)
            report.append("round %d: %d transactions acknowledged, %d sent, %d kept, "
                          "%s records replayed" % (rnd + 1, acked, sent,
                                                   sum(st.acked for st in states),
                                                   info(c)["lode_recovery_records"]))
            c.close()
            c1.close()
        srv.stop()
    finally:
        srv.cleanup()
        with capsys.disabled():
            print("\n[%s seed %d] " % (mode, seed) + "; ".join(report))


def last_record(server):
    d = os.path.join(server.dir, "data", "wal")
    seg = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".log"))[-1]
    with open(seg, "rb") as f:
        data = f.read()
    off, last = SEG_HEADER, None
    while off + 4 <= len(data):
        (n,) = struct.unpack_from("<I", data, off)
        if n == 0:
            break
        last = (off, n)
        off += n
    return seg, last


@pytest.mark.parametrize("value_len", [8, 3000])
def test_torn_transaction_record(tmp_path, value_len):
    """value_len 3000: the record is LZ4-compressed."""
    base = Server("lode", ["--durability", "always"], dir=str(tmp_path / "base"))
    os.makedirs(base.dir)
    try:
        base.start()
        c = base.client()
        c.set("before", "1")
        c.incrby("n", 41)
        digest = c.execute_command("DEBUG", "DIGEST")
        lsn = int(info(c)["lode_wal_last_lsn"])
        with c.pipeline(transaction=True) as p:
            for i in range(30):
                p.set("tx:%d" % i, ("%d" % i) * value_len if value_len > 8 else i)
            p.incr("n").delete("before").execute_command("SELECT", 2).set("tx:db2", 1)
            p.execute()
        assert int(info(c)["lode_wal_last_lsn"]) == lsn + 1
        c.close()
        base.stop()
        seg, (off, n) = last_record(base)
        seg_rel = os.path.relpath(seg, base.dir)
        rng = random.Random(11)
        cuts = sorted({0, 1, 4, 8, 31, 32, 33, n // 2, n - 2, n - 1}
                      | {rng.randrange(n) for _ in range(6)})
        for mode in ("zeros", "garbage"):
            for cut in cuts:
                d = str(tmp_path / ("%s%d" % (mode, cut)))
                os.makedirs(d)
                shutil.copytree(os.path.join(base.dir, "data"), os.path.join(d, "data"))
                with open(os.path.join(d, seg_rel), "r+b") as f:
                    f.seek(off + cut)
                    if mode == "zeros":
                        f.write(bytes(n - cut))
                    else:
                        f.write(bytes(rng.randrange(1, 256) for _ in range(n - cut + 16)))
                s = Server("lode", ["--durability", "always"], dir=d)
                try:
                    s.start()
                    c = s.client()
                    what = "%s from byte %d of %d" % (mode, cut, n)
                    assert c.execute_command("DEBUG", "DIGEST") == digest, what
                    assert c.get("before") == b"1" and c.get("n") == b"41", what
                    assert c.exists("tx:0", "tx:29") == 0, what
                    assert s.client(db=2).exists("tx:db2") == 0, what
                    c.close()
                    s.kill9()
                finally:
                    s.cleanup()
                    shutil.rmtree(d)
        # and the intact record replays whole
        s = Server("lode", ["--durability", "always"], dir=base.dir)
        s.start()
        c = s.client()
        assert c.get("n") == b"42" and c.exists("before") == 0
        assert c.exists(*["tx:%d" % i for i in range(30)]) == 30
        assert s.client(db=2).get("tx:db2") == b"1"
        c.close()
        s.stop()
    finally:
        base.cleanup()
