"""Crash suite for scripts: the writes of one EVAL or FCALL are one WAL
record, so a crash keeps all of them or none; and function libraries
survive the crash (they are WAL records themselves).

test_kill9_scripts
    Writers (each its own connection and keys) run a stream of calls that
    INCR N counters of their own: even-numbered writers use EVALSHA of a
    script (loaded again after each restart: the script cache is not
    durable), odd ones FCALL of a library function loaded once. Each call
    also sets a 2 KB value tagged with the call number (segments roll with
    64 KiB segments). Writer 0 pipelines up to 20 calls. The server gets
    SIGKILL once enough calls were acknowledged; after the restart every
    counter of a writer holds the same number n with acknowledged <= n <=
    sent, the tagged value says n, the library is still loaded, and no
    other key exists. Durability `always`. LODE_CRASH_ROUNDS,
    LODE_CRASH_CLIENTS and LODE_CRASH_SEED tune it.
"""
import os
import random
import threading

import pytest

from conftest import Server
from crash.rounds import BatchWriter, kill_under_load
from resp_client import encode

pytestmark = pytest.mark.lode_only

SEG = ["--wal-segment-size", "65536"]
NCOUNTERS = 5
BIG = 2000

BODY = ("local n for i = 1, #KEYS - 1 do n = redis.call('incr', KEYS[i]) end "
        "redis.call('set', KEYS[#KEYS], ARGV[1]) return n")
LIB = ("#!lua name=crashlib\n"
       "redis.register_function('bump', function(keys, args) " + BODY.replace("KEYS", "keys")
       .replace("ARGV", "args") + " end)")


class ScriptState:
    def __init__(self, cid):
        self.cid = cid
        self.acked = 0
        self.sent = 0
        self.sha = None

    def counters(self):
        return ["w%d:c%d" % (self.cid, j) for j in range(NCOUNTERS)]

    def big(self, n):
        tag = b"w%d:call%d:" % (self.cid, n)
        return tag + b"x" * (BIG - len(tag))

    def request(self):
        """The next call (number sent + 1)."""
        n = self.sent + 1
        keys = self.counters() + ["w%d:big" % self.cid]
        if self.cid % 2 == 0:
            return encode("EVALSHA", self.sha, str(len(keys)), *keys, self.big(n))
        return encode("FCALL", "bump", str(len(keys)), *keys, self.big(n))

    def read_ack(self, conn, n):
        reply = conn.read_reply()
        assert reply == b":%d\r\n" % n, (self.cid, n, reply[:80])


def verify(c, states):
    keys = 0
    for st in states:
        vals = c.mget(st.counters())
        big = c.get("w%d:big" % st.cid)
        if vals[0] is None:
            n = 0
            assert all(v is None for v in vals) and big is None, (st.cid, vals)
        else:
            n = int(vals[0])
            assert all(v == vals[0] for v in vals), ("half a script", st.cid, vals)
            assert big == st.big(n), ("half a script (big)", st.cid, n, big[:20])
            keys += NCOUNTERS + 1
        assert st.acked <= n <= st.sent, ("acked %d <= %d <= sent %d" % (st.acked, n, st.sent),
                                          st.cid)
        st.acked = st.sent = n
    assert c.dbsize() == keys
    libs = c.execute_command("FUNCTION", "LIST", "LIBRARYNAME", "crashlib", "WITHCODE")
    assert len(libs) == 1 and libs[0][-1] == LIB.encode(), libs


def test_kill9_scripts(tmp_path, capsys):
    rounds = int(os.environ.get("LODE_CRASH_ROUNDS", "3"))
    nclients = int(os.environ.get("LODE_CRASH_CLIENTS", "4"))
    seed = int(os.environ.get("LODE_CRASH_SEED", str(random.randrange(1 << 30))))
    rng = random.Random(seed)
    srv = Server("lode", ["--durability", "always"] + SEG, dir=str(tmp_path))
    states = [ScriptState(i) for i in range(nclients)]
    report = []
    try:
        srv.start()
        c = srv.client()
        c.execute_command("FUNCTION", "LOAD", LIB)
        c.close()
        for rnd in range(rounds):
            c = srv.client()
            sha = c.script_load(BODY)  # the cache is empty after each restart
            c.close()
            for st in states:
                st.sha = sha
            stop = threading.Event()
            writers = [BatchWriter(st, srv.port, stop, 20 if st.cid == 0 else 1)
                       for st in states]
            base = sum(st.acked for st in states)
            target = base + rng.randint(50 * nclients, 200 * nclients)
            kill_under_load(srv, writers, stop, lambda: sum(st.acked for st in states), target,
                            "seed %d round %d" % (seed, rnd), "acknowledged calls")
            acked = sum(st.acked for st in states)
            sent = sum(st.sent for st in states)
            srv.start()
            c = srv.client()
            try:
                verify(c, states)
                assert c.script_exists(sha) == [False]
            except AssertionError as e:
                raise AssertionError("seed %d round %d: %s" % (seed, rnd, e)) from None
            report.append("round %d: %d calls acknowledged, %d sent, %d kept"
                          % (rnd + 1, acked, sent, sum(st.acked for st in states)))
            c.close()
        srv.stop()
    finally:
        srv.cleanup()
        with capsys.disabled():
            print("\n[seed %d] " % seed + "; ".join(report))
