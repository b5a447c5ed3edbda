"""Crash suite: with `durability always` (and, for a crash of the process,
`everysec`) an acknowledged write survives kill -9, and recovery copes with
what a crash leaves on disk.

test_kill9_rounds
    Rounds on one data directory: concurrent writers (each its own
    connection, one command at a time) run SET, INCR, APPEND, SETEX,
    EXPIRE, MSET and DEL on string keys of their own, and RPUSH, LPUSH,
    LPOP, HSET, HDEL, SADD, SREM, ZADD, ZINCRBY and ZREM on a few lists, a
    hash, a set and a sorted set of their own (acknowledged pushes, adds and
    removes must all survive); each writer records which
    commands were acknowledged and which one was sent without a reply.
    Once enough writes were acknowledged the server gets SIGKILL, is
    restarted on the same directory, and each writer's keys must equal
    the state its acknowledged commands made, or that state plus its one
    unacknowledged command: counters lie between acked and sent INCRs,
    the APPEND log is a prefix of what was sent holding every acked
    token, acked SETs have their value (unacked ones are absent or have
    the sent value), acked DELs stay deleted, TTLs are where they were set,
    and no key appears that no writer sent.
    LODE_CRASH_ROUNDS (default 5), LODE_CRASH_CLIENTS (default 4),
    LODE_CRASH_SEED and LODE_CRASH_SEGMENT_SIZE (e.g. 65536: segments roll
    during the rounds; the default 64mb never rolls in a test run) tune it.
test_torn_tail_every_offset
    The last record of the last segment cut at every byte (zeros from the
    cut, or garbage) is dropped with a log line; everything before it stays.
test_torn_big_record
    The same for a record larger than a segment, and for a compressed one.
test_corrupt_record_in_older_segment_refuses_start
    A flipped byte in a record or header of a segment that is not the last,
    or a missing segment: the server refuses to start and names lode-recover.
test_second_server_on_same_dir_refused
    The data directory's LOCK keeps a second server out.
test_segment_filled_to_its_last_bytes_recovers,
test_crash_while_creating_a_segment_recovers
    Segment boundaries.

One writer in test_kill9_rounds pipelines: up to 40 of its commands are in
flight at the kill, and recovery must keep a prefix of them (in order) that
holds every acknowledged one.
"""
import os
import random
import re
import shutil
import struct
import subprocess
import threading
import time

import pytest
import redis

from conftest import LODE_BIN, Server, free_port, wait_until
from crash.rounds import kill_under_load
from resp_client import RawConn, encode

pytestmark = pytest.mark.lode_only

TTL_S = 1000000          # long TTLs: nothing expires during a test
SLACK_MS = 1000          # allowed distance of an expiry from the client's clock window
SMALL_SEG = ["--durability", "always", "--wal-segment-size", "65536"]
SEG_HEADER = 64


def now_ms():
    return int(time.time() * 1000)


def lode_info(c):
    return c.info("persistence")


def raw_client(port, **kw):
    """A redis-py connection that returns replies as the server sent them
    (no response callbacks) and never retries a command."""
    c = redis.Redis(port=port, socket_timeout=30, single_connection_client=True,
                    retry_on_timeout=False, **kw)
    c.response_callbacks.clear()
    return c


# ---------------------------------------------------------------------------
# kill -9 under concurrent load

class Op:
    """One command a writer sends, what its reply must be, and how it
    changes the writer's model (key -> (value, expiry window or None))."""

    def __init__(self, kind, args, expect, changes):
        self.kind = kind
        self.args = args
        self.expect = expect      # the reply the model predicts
        self.changes = changes    # [(key, value or None for deleted, ttl?)]
        self.t0 = self.t1 = None  # client wall clock around the command, ms
        self.sent_mono = None

    def apply(self, model, t_hi):
        for key, value, ttl in self.changes:
            if value is None:
                model.pop(key, None)
            elif ttl == "keep":
                model[key] = (value, model[key][1] if key in model else None)
            elif ttl:
                model[key] = (value, (self.t0 + TTL_S * 1000 - SLACK_MS,
                                      t_hi + TTL_S * 1000 + SLACK_MS))
            else:
                model[key] = (value, None)

    def __repr__(self):
        return "%s%r" % (self.kind, tuple(self.args))


class ClientState:
    """What one writer owns across rounds: its keys' model and counters."""

    def __init__(self, cid):
        self.cid = cid
        self.prefix = "c%d:" % cid
        self.model = {}
        self.next_i = 0
        self.log_n = 0
        self.deletable = []   # keys DEL/EXPIRE may pick (stale entries are skipped)

    def rebuild(self):
        self.deletable = [k for k in self.model if k.split(":")[1] in ("k", "t", "m")]
        log = self.model.get(self.key("log"))
        self.log_n = log[0].count(b";") if log else 0  # an unapplied APPEND is not a gap

    def key(self, *parts):
        return self.prefix + ":".join(str(p) for p in parts)

    def pick(self, rng, kinds, m):
        while self.deletable:
            j = rng.randrange(len(self.deletable))
            k = self.deletable[j]
            if k in m and k.split(":")[1] in kinds:
                return k
            if k not in m:
                self.deletable[j] = self.deletable[-1]
                self.deletable.pop()
            elif rng.random() < 0.2:
                return None
        return None

    def next_op(self, rng, rnd, m=None):
        """The next command, generated against model m (the acknowledged
        state, or with a pipeline the state its unacknowledged ops lead to)."""
        if m is None:
            m = self.model
        kind = rng.choices(["set", "incr", "append", "setex", "expire", "mset", "del",
                            "coll"], [30, 18, 14, 10, 8, 8, 12, 40])[0]
        if kind == "coll":
            return self.coll_op(rng, rnd, m)
        i = self.next_i
        tag = "r%d-%d-%08x" % (rnd, i, rng.getrandbits(32))
        if kind == "expire":
            k = self.pick(rng, ("k",), m)
            if k is not None:
                return Op(kind, ["EXPIRE", k, TTL_S], 1, [(k, m[k][0], True)])
            kind = "set"
        if kind == "del":
            k = self.pick(rng, ("k", "t", "m"), m)
            if k is not None:
                return Op(kind, ["DEL", k], 1, [(k, None, None)])
            kind = "set"
        if kind == "set":
            self.next_i += 1
            k = self.key("k", i)
            self.deletable.append(k)
            return Op(kind, ["SET", k, tag], b"OK", [(k, tag.encode(), False)])
        if kind == "setex":
            self.next_i += 1
            k = self.key("t", i)
            self.deletable.append(k)
            return Op(kind, ["SETEX", k, TTL_S, tag], b"OK", [(k, tag.encode(), True)])
        if kind == "mset":
            self.next_i += 1
            ka, kb = self.key("m", i, "a"), self.key("m", i, "b")
            self.deletable += [ka, kb]
            return Op(kind, ["MSET", ka, tag + "a", kb, tag + "b"], b"OK",
                      [(ka, (tag + "a").encode(), False), (kb, (tag + "b").encode(), False)])
        if kind == "incr":
            k = self.key("ctr")
            n = int(m[k][0]) + 1 if k in m else 1
            return Op(kind, ["INCR", k], n, [(k, str(n).encode(), "keep")])
        k = self.key("log")
        token = "%d;" % self.log_n
        self.log_n += 1
        old = m[k][0] if k in m else b""
        return Op("append", ["APPEND", k, token], len(old) + len(token),
                  [(k, old + token.encode(), "keep")])


    # Collections: a few lists, one hash, one set and one sorted set per
    # client. Model values are ("list", tuple), ("hash", frozenset of
    # (field, value)), ("set", frozenset), ("zset", frozenset of (member,
    # integer score)); a collection that becomes empty is deleted.
    def coll_op(self, rng, rnd, m):
        kind = rng.choice(["rpush", "lpush", "lpop", "hset", "hdel", "sadd", "srem", "zadd",
                           "zincrby", "zrem"])
        tag = ("r%d-%08x" % (rnd, rng.getrandbits(32))).encode()
        if kind in ("rpush", "lpush", "lpop"):
            k = self.key("L", rng.randrange(3))
            cur = m[k][0][1] if k in m else ()
            if kind == "lpop":
                if not cur:
                    kind = "rpush"
                else:
                    rest = cur[1:]
                    return Op(kind, ["LPOP", k], cur[0],
                              [(k, ("list", rest) if rest else None, False)])
            new = cur + (tag,) if kind == "rpush" else (tag,) + cur
            return Op(kind, [kind.upper(), k, tag], len(new), [(k, ("list", new), False)])
        if kind in ("hset", "hdel"):
            k = self.key("H")
            cur = dict(m[k][0][1]) if k in m else {}
            f = b"f%d" % rng.randrange(12)
            if kind == "hdel":
                had = f in cur
                cur.pop(f, None)
                return Op(kind, ["HDEL", k, f], int(had),
                          [(k, ("hash", frozenset(cur.items())) if cur else None, False)])
            had = f in cur
            cur[f] = tag
            return Op(kind, ["HSET", k, f, tag], int(not had),
                      [(k, ("hash", frozenset(cur.items())), False)])
        if kind in ("sadd", "srem"):
            k = self.key("S")
            cur = set(m[k][0][1]) if k in m else set()
            # small integers and strings: both set encodings
            mem = (b"%d" % rng.randrange(20)) if rng.random() < 0.5 else b"m%d" % rng.randrange(20)
            had = mem in cur
            if kind == "srem":
                cur.discard(mem)
                return Op(kind, ["SREM", k, mem], int(had),
                          [(k, ("set", frozenset(cur)) if cur else None, False)])
            cur.add(mem)
            return Op(kind, ["SADD", k, mem], int(not had), [(k, ("set", frozenset(cur)), False)])
        k = self.key("Z")
        cur = dict(m[k][0][1]) if k in m else {}
        mem = b"z%d" % rng.randrange(16)
        had = mem in cur
        if kind == "zrem":
            cur.pop(mem, None)
            return Op(kind, ["ZREM", k, mem], int(had),
                      [(k, ("zset", frozenset(cur.items())) if cur else None, False)])
        if kind == "zincrby":
            cur[mem] = cur.get(mem, 0) + 3
            return Op(kind, ["ZINCRBY", k, 3, mem], b"%d" % cur[mem],
                      [(k, ("zset", frozenset(cur.items())), False)])
        score = rng.randrange(-50, 50)
        cur[mem] = score
        return Op(kind, ["ZADD", k, score, mem], int(not had),
                  [(k, ("zset", frozenset(cur.items())), False)])


def parse_reply(raw):
    """A simple RESP2 reply as the raw redis-py client returns it: int,
    bytes, or None."""
    if raw.startswith(b":"):
        return int(raw[1:-2])
    if raw.startswith(b"$"):
        if raw.startswith(b"$-1"):
            return None
        return raw[raw.index(b"\r\n") + 2:-2]
    return raw[1:-2]


class Writer(threading.Thread):
    """One client connection writing until the server goes away. With
    pipeline=False it sends one command at a time (redis-py); with
    pipeline=True it sends batches of commands at once (raw RESP) and reads
    their replies in order, so several commands are in flight."""

    def __init__(self, state, rnd, port, stop, seed, pipeline=False):
        super().__init__(daemon=True)
        self.state = state
        self.rnd = rnd
        self.port = port
        self.stop = stop
        self.pipeline = pipeline
        self.rng = random.Random(seed)
        self.acked = []       # acknowledged ops, in order
        self.pending = []     # ops sent (or being sent) whose replies never came, in order
        self.nacked = 0
        self.nsent = 0
        self.error = None     # a wrong reply or an unexpected exception

    def ack(self, op, reply):
        op.t1 = now_ms()
        if reply != op.expect:
            self.error = "%r answered %r, the model expects %r" % (op, reply, op.expect)
            return False
        self.pending.pop(0)
        op.apply(self.state.model, op.t1)
        self.acked.append(op)
        self.nacked += 1
        return True

    def run(self):
        try:
            if self.pipeline:
                self.run_pipeline()
            else:
                self.run_single()
        except Exception as e:  # noqa: BLE001
            self.error = "unexpected %r" % e

    def run_single(self):
        c = raw_client(self.port)
        try:
            while not self.stop.is_set():
                op = self.state.next_op(self.rng, self.rnd)
                op.t0 = now_ms()
                op.sent_mono = time.monotonic()
                self.pending.append(op)
                self.nsent += 1
                try:
                    reply = c.execute_command(*op.args)
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                        OSError):
                    return  # the op stays pending: it may or may not have been applied
                except redis.exceptions.ResponseError as e:
                    self.error = "%r answered an error: %s" % (op, e)
                    return
                if not self.ack(op, reply):
                    return
        finally:
            c.close()

    def run_pipeline(self):
        c = RawConn(self.port, timeout=30)
        try:
            while not self.stop.is_set():
                shadow = dict(self.state.model)
                batch = []
                t0 = now_ms()
                for _ in range(self.rng.randint(2, 40)):
                    op = self.state.next_op(self.rng, self.rnd, shadow)
                    op.t0 = t0
                    op.apply(shadow, t0)
                    batch.append(op)
                wire = b"".join(encode(*op.args) for op in batch)
                mono = time.monotonic()
                for op in batch:
                    op.sent_mono = mono
                self.pending.extend(batch)
                self.nsent += len(batch)
                try:
                    c.send_raw(wire)
                    for op in batch:
                        raw = c.read_reply()
                        if raw.startswith(b"-"):
                            self.error = "%r answered %r" % (op, raw)
                            return
                        if not self.ack(op, parse_reply(raw)):
                            return
                except (ConnectionError, OSError):
                    return  # the unanswered ops stay pending, in order
        finally:
            c.close()


def read_client_keys(c, prefix):
    """{key: (value, PEXPIRETIME)} for every key under prefix, values in the
    model's form (bytes for strings, tagged frozen collections)."""
    keys = sorted(k.decode() for k in c.scan_iter(match=prefix + "*", count=1000))
    p = c.pipeline(transaction=False)
    for k in keys:
        p.type(k)
    types = [t.decode() if isinstance(t, bytes) else t for t in p.execute()]
    p = c.pipeline(transaction=False)
    for k, t in zip(keys, types):
        if t == "list":
            p.lrange(k, 0, -1)
        elif t == "hash":
            p.hgetall(k)
        elif t == "set":
            p.smembers(k)
        elif t == "zset":
            p.zrange(k, 0, -1, withscores=True)
        else:
            p.get(k)
        p.execute_command("PEXPIRETIME", k)
    out = p.execute()
    res = {}
    for j, (k, t) in enumerate(zip(keys, types)):
        v = out[2 * j]
        if t == "list":
            v = ("list", tuple(v))
        elif t == "hash":
            v = ("hash", frozenset(dict(v).items()))
        elif t == "set":
            v = ("set", frozenset(v))
        elif t == "zset":
            v = ("zset", frozenset((m, int(float(sc))) for m, sc in v))
        res[k] = (v, out[2 * j + 1])
    return res


def model_diff(model, actual, limit=8):
    """Why actual differs from model, as lines (empty when it matches)."""
    lines = []
    for k in sorted(set(model) | set(actual)):
        if k not in actual:
            lines.append("%s: missing, expected %r" % (k, model[k]))
        elif k not in model:
            lines.append("%s: present (%r), expected absent (deleted or never written)"
                         % (k, actual[k]))
        else:
            (mv, win), (av, pet) = model[k], actual[k]
            if mv != av:
                lines.append("%s: value %r, expected %r" % (k, av, mv))
            elif win is None and pet != -1:
                lines.append("%s: has expiry %r, expected none" % (k, pet))
            elif win is not None and not (win[0] <= pet <= win[1]):
                lines.append("%s: expiry %r outside %r" % (k, pet, win))
        if len(lines) >= limit:
            lines.append("...")
            break
    return lines


def check_prefix_log(state, actual):
    """The APPEND log holds a prefix of the tokens sent, with every acked one
    (redundant with the model check; gives a precise message)."""
    k = state.key("log")
    if k not in actual:
        return
    got = actual[k][0].decode()
    tokens = [t for t in got.split(";") if t != ""]
    assert got.endswith(";"), "%s is not a sequence of whole tokens: %r" % (k, got[-40:])
    assert tokens == [str(j) for j in range(len(tokens))], \
        "%s is not prefix-consistent: ...%r" % (k, got[-80:])


def verify(c, states, writers, t_hi):
    """Each client's keys equal its acked state plus some prefix (maybe
    empty) of the ops it had in flight, in order; returns how many in-flight
    ops turned out applied."""
    applied = 0
    seen = 0
    for st in states:
        w = writers.get(st.cid) if writers else None
        actual = read_client_keys(c, st.prefix)
        seen += len(actual)
        check_prefix_log(st, actual)
        pending = w.pending if w is not None else []
        model = st.model
        diffs = []
        for n in range(len(pending) + 1):
            if n:
                model = dict(model)
                pending[n - 1].apply(model, t_hi)
            d = model_diff(model, actual)
            if not d:
                st.model = model
                applied += n
                break
            diffs.append(d)
        else:
            raise AssertionError(
                "client %d after recovery matches neither its acknowledged writes nor those "
                "plus a prefix of its %d commands in flight %r.\nvs acknowledged:\n  %s\n"
                "vs acknowledged + all in flight:\n  %s\nlast acknowledged: %r" % (
                    st.cid, len(pending), pending[:5], "\n  ".join(diffs[0]),
                    "\n  ".join(diffs[-1]), w.acked[-3:] if w else None))
    total = c.dbsize()
    assert total == seen, "%d keys in the database, %d belong to the writers: %r" % (
        total, seen, [k for k in c.scan_iter(count=1000)
                      if not any(k.decode().startswith(s.prefix) for s in states)][:10])
    for st in states:
        st.rebuild()
    return applied


# Checkpoints every 64 KiB of WAL. Rounds last a fraction of a second, so
# the cron that starts checkpoints runs 100 times a second, the writer
# thread or child runs at normal priority (at nice 19, SCHED_IDLE, it can
# starve while the ASan server and the clients keep both CPUs busy), and
# these variants get at least 6 rounds: else a run may see no checkpoint
# finish (seen in CI: lode_checkpoint_lsn 0 after all five restarts).
CHECKPOINTS = ["--checkpoint-wal-bytes", "64kb", "--checkpoint-nice", "0", "--hz", "100"]
# 64 KiB segments trimmed by those checkpoints come back as spares: most
# records then go into reused segments (an earlier segment's bytes after
# the end of the log).
REUSED = CHECKPOINTS + ["--wal-segment-size", "65536", "--wal-spare-segments", "4"]
# small fresh segments, each prefilled (wal-prefill) from 64 KiB on: kills
# land while the filler writes zeros ahead of the records and at rollovers
PREFILLED = ["--wal-segment-size", "256kb", "--wal-prefill", "yes"]


def prefilled_after_restart(c, timeout=2.0):
    """lode_wal_prefilled_bytes once the filler has started on the
    recovered segment (0 if it did not within timeout: no room left)."""
    deadline = time.monotonic() + timeout
    while True:
        v = int(lode_info(c)["lode_wal_prefilled_bytes"])
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(0.01)


@pytest.mark.parametrize("mode,ckargs", [
    ("always", []), ("everysec", []),
    # checkpoints every 64 KiB of WAL, so kills land during them and
    # restarts replay the WAL on top of them: a checkpoint that held a
    # value newer than its LSN would apply a write twice
    ("always", CHECKPOINTS + ["--checkpoint-method", "thread"]),
    ("always", CHECKPOINTS + ["--checkpoint-method", "fork"]),
    ("always", REUSED), ("everysec", REUSED), ("always", PREFILLED)],
    ids=["always", "everysec", "always-thread-checkpoints", "always-fork-checkpoints",
         "always-reused-segments", "everysec-reused-segments", "always-prefilled-segments"])
def test_kill9_rounds(tmp_path, capsys, mode, ckargs):
    """`always`: an acknowledged write survives any crash. `everysec`: it
    survives a crash of the process (kill -9), as with Redis's appendfsync
    everysec: each reply leaves only after its records were handed to the
    kernel; only an OS crash or power loss may take the last second."""
    rounds = int(os.environ.get("LODE_CRASH_ROUNDS", "5" if mode == "always" else "3"))
    if ckargs:
        rounds = max(rounds, 6)
    nclients = int(os.environ.get("LODE_CRASH_CLIENTS", "4"))
    seed = int(os.environ.get("LODE_CRASH_SEED", str(random.randrange(1 << 30))))
    rng = random.Random(seed)
    seg = os.environ.get("LODE_CRASH_SEGMENT_SIZE")
    # e.g. LODE_CRASH_SERVER_ARGS="--checkpoint-wal-bytes 1mb" to crash around checkpoints
    extra = ckargs + os.environ.get("LODE_CRASH_SERVER_ARGS", "").split()
    srv = Server("lode", ["--durability", mode] + (["--wal-segment-size", seg] if seg else [])
                 + extra, dir=str(tmp_path))
    states = [ClientState(i) for i in range(nclients)]
    report = []
    ck_lsns = []
    reused = 0  # live segments found reused at the restarts
    prefilled = 0  # restarts whose recovered segment the filler went on filling
    try:
        srv.start()
        assert lode_info(srv.client())["lode_durability"] == mode
        for rnd in range(rounds):
            stop = threading.Event()
            # the last client pipelines: many of its commands are in flight at once
            writers = {st.cid: Writer(st, rnd, srv.port, stop, rng.randrange(1 << 30),
                                      pipeline=st.cid == nclients - 1 and nclients > 1)
                       for st in states}
            target = rng.randint(200 * nclients, 800 * nclients)
            kill_mono = kill_under_load(srv, list(writers.values()), stop,
                                        lambda: sum(w.nacked for w in writers.values()), target,
                                        "seed %d round %d" % (seed, rnd), "acknowledged writes",
                                        timeout=60)
            acked = sum(w.nacked for w in writers.values())
            in_flight = sum(1 for w in writers.values() for op in w.pending
                            if op.sent_mono < kill_mono)
            reused += sum(1 for f in os.listdir(wal_dir(srv)) if f.endswith(".log") and
                          segment_flags(os.path.join(wal_dir(srv), f)) & 1)
            t0 = time.monotonic()
            srv.start()
            restart_s = time.monotonic() - t0
            c = srv.client()
            info = lode_info(c)
            ck_lsns.append(int(info["lode_checkpoint_lsn"]))
            if ckargs is PREFILLED:
                prefilled += prefilled_after_restart(c) > 0
            try:
                applied = verify(c, states, writers, now_ms())
            except AssertionError as e:
                raise AssertionError("seed %d round %d: %s" % (seed, rnd, e)) from None
            c.close()
            report.append("crash round %d/%d: %d writes acknowledged, %d in flight at the kill "
                          "(%d of them applied), restart %.2f s, lode_recovery_ms %s "
                          "(%s records replayed)" % (rnd + 1, rounds, acked, in_flight, applied,
                                                     restart_s, info["lode_recovery_ms"],
                                                     info["lode_recovery_records"]))
        if ckargs and ckargs is not PREFILLED:  # restarts began from checkpoints taken under the load
            assert max(ck_lsns) > 0, ck_lsns
        if ckargs is REUSED:  # the kills found records in reused segments
            assert reused > 0
        if ckargs is PREFILLED:
            assert prefilled > 0
        # a clean restart at the end keeps the same state
        srv.stop()
        srv.start()
        c = srv.client()
        verify(c, states, None, now_ms())
        c.close()
        srv.stop()
    finally:
        srv.cleanup()
        with capsys.disabled():
            print("\n[%s seed %d] " % (mode, seed) + "\n".join(report))


# ---------------------------------------------------------------------------
# WAL files

def wal_dir(server):
    return os.path.join(server.dir, "data", "wal")


def segment_flags(path):
    """The header flags of a WAL segment (bit 0: a reused file)."""
    with open(path, "rb") as f:
        head = f.read(64)
    return struct.unpack_from("<I", head, 32)[0] if len(head) == 64 else 0


def segment_paths(server):
    d = wal_dir(server)
    return [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".log")]


def records(path):
    """[(offset, total length, LSN)] of the records in a segment file."""
    with open(path, "rb") as f:
        data = f.read()
    out = []
    off = SEG_HEADER
    while off + 4 <= len(data):
        (n,) = struct.unpack_from("<I", data, off)
        if n == 0:
            break
        (lsn,) = struct.unpack_from("<Q", data, off + 8)
        out.append((off, n, lsn))
        off += n
    return out


def clone(base, dest):
    """A copy of base's data directory under dest (a new Server's dir)."""
    os.makedirs(dest)
    shutil.copytree(os.path.join(base.dir, "data"), os.path.join(dest, "data"))
    return dest


def start_expect_failure(server, timeout=20):
    """Runs the server and expects it to exit by itself; returns its code.
    Fails as soon as the server answers PING instead."""
    server.port = free_port()

    def answers():
        try:
            with redis.Redis(port=server.port, socket_timeout=1) as c:
                return c.ping()
        except (redis.exceptions.ConnectionError, OSError):
            return False
    with open(server.log_path, "ab") as log:
        p = subprocess.Popen(server.cmdline(), stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        try:
            wait_until(lambda: p.poll() is not None or answers(), timeout,
                       what="the server to exit")
            if p.poll() is None:
                raise AssertionError("the server started: " + server.read_log()[-2000:])
            return p.returncode
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            server.check_log_clean()  # the refusal path is sanitizer-clean too


def write_known_data(c, c3):
    c.set("s", "hello")
    c.incrby("n", 41)
    c.setbit("bits", 77, 1)
    c.setex("ttl", TTL_S, "x")
    c.mset({"a": "1", "b": "2"})
    c.append("s", " world")
    c.delete("a")
    c3.set("other", "db3")


def test_torn_tail_every_offset(tmp_path):
    base = Server("lode", SMALL_SEG, dir=clone_dir(tmp_path / "base"))
    try:
        base.start()
        c = base.client()
        write_known_data(c, base.client(db=3))
        digest = c.execute_command("DEBUG", "DIGEST")
        last = lode_info(c)["lode_wal_last_lsn"]
        assert c.set("z", "1")
        assert lode_info(c)["lode_wal_last_lsn"] == last + 1
        c.close()
        base.stop()
        seg = segment_paths(base)[-1]
        off, n, lsn = records(seg)[-1]
        assert lsn == last + 1 and n < 80, (lsn, n)
        seg_rel = os.path.relpath(seg, base.dir)
        rng = random.Random(7)
        cases = [(mode, cut) for mode in ("zeros", "garbage") for cut in range(n)]
        for j, (mode, cut) in enumerate(cases):
            d = clone(base, str(tmp_path / ("%s%d" % (mode, cut))))
            with open(os.path.join(d, seg_rel), "r+b") as f:
                f.seek(off + cut)
                if mode == "zeros":
                    f.write(bytes(n - cut))
                else:  # a cut write with junk after it (past the record's end too)
                    f.write(bytes(rng.randrange(1, 256) for _ in range(n - cut + 24)))
            s = Server("lode", SMALL_SEG, dir=d)
            try:
                s.start()
                c = s.client()
                what = "%s from byte %d of %d" % (mode, cut, n)
                assert c.execute_command("DEBUG", "DIGEST") == digest, what
                assert c.exists("z") == 0, what
                assert c.get("s") == b"hello world" and c.get("n") == b"41", what
                assert lode_info(c)["lode_wal_last_lsn"] == last, what
                if mode == "garbage" or cut > 0:
                    assert re.search(r"torn tail\b.* at LSN %d\b" % (last + 1), s.read_log()), what
                if j == len(cases) // 2 or j == len(cases) - 1:
                    # the cut tail is gone for good: new writes land after it
                    assert c.set("y", "2")
                    assert lode_info(c)["lode_wal_last_lsn"] == last + 1
                    c.close()
                    s.stop()
                    s.start()
                    c = s.client()
                    assert c.get("y") == b"2" and c.exists("z") == 0, what
                    assert lode_info(c)["lode_wal_last_lsn"] == last + 1, what
                    c.close()
                    s.stop()
                else:
                    c.close()
                    s.kill9()
            finally:
                s.cleanup()
                shutil.rmtree(d)
    finally:
        base.cleanup()


def test_torn_big_record(tmp_path):
    """A record larger than a segment (a segment of its own, longer than the
    preallocated size) cut short is dropped; a compressed one too."""
    base = Server("lode", SMALL_SEG, dir=clone_dir(tmp_path / "base"))
    try:
        base.start()
        c = base.client()
        write_known_data(c, base.client(db=3))
        digest = c.execute_command("DEBUG", "DIGEST")
        last = lode_info(c)["lode_wal_last_lsn"]
        variants = {"random": os.urandom(60000).hex(), "zip": "z" * 500000}
        for name, value in variants.items():
            assert c.set("big", value)
            base.stop()
            seg = segment_paths(base)[-1]
            off, n, lsn = records(seg)[-1]
            assert lsn == last + 1
            seg_rel = os.path.relpath(seg, base.dir)
            rng = random.Random(n)
            for cut in (0, 3, 8, 40, n // 2, n - 1):
                for mode in ("zeros", "garbage"):
                    d = clone(base, str(tmp_path / ("%s-%s%d" % (name, mode, cut))))
                    with open(os.path.join(d, seg_rel), "r+b") as f:
                        f.seek(off + cut)
                        if mode == "zeros":
                            f.write(bytes(n - cut))
                        else:
                            f.write(bytes(rng.randrange(1, 256) for _ in range(n - cut)))
                    s = Server("lode", SMALL_SEG, dir=d)
                    try:
                        s.start()
                        sc = s.client()
                        what = "%s record of %d bytes, %s from byte %d" % (name, n, mode, cut)
                        assert sc.execute_command("DEBUG", "DIGEST") == digest, what
                        assert sc.exists("big") == 0, what
                        assert lode_info(sc)["lode_wal_last_lsn"] == last, what
                        if mode == "garbage" or cut > 0:
                            assert re.search(r"torn tail\b.* at LSN %d\b" % (last + 1), s.read_log()), what
                        sc.close()
                        s.kill9()
                    finally:
                        s.cleanup()
                        shutil.rmtree(d)
            base.start()
            c = base.client()
            assert c.delete("big") == 1
            assert c.execute_command("DEBUG", "DIGEST") == digest
            last = lode_info(c)["lode_wal_last_lsn"]
        c.close()
        base.stop()
    finally:
        base.cleanup()


def clone_dir(p):
    os.makedirs(p)
    return str(p)


@pytest.mark.parametrize("damage,victim", [
    ("record", 0), ("record", 1), ("header", 1), ("missing", 1),
    ("missing", 0),
])
def test_corrupt_record_in_older_segment_refuses_start(tmp_path, damage, victim):
    """A flipped byte in a record or a segment header, or a missing segment,
    anywhere but in the last segment: the server refuses to start."""
    base = Server("lode", SMALL_SEG, dir=clone_dir(tmp_path / "base"))
    try:
        base.start()
        c = base.client()
        p = c.pipeline(transaction=False)
        for i in range(260):
            p.set("key:%d" % i, os.urandom(420).hex())
        p.execute()
        c.close()
        base.stop()
        segs = segment_paths(base)
        assert len(segs) >= 3, segs
        recs = records(segs[victim])
        assert len(recs) > 3
        off, n, lsn = recs[len(recs) // 2]
        d = clone(base, str(tmp_path / "bad"))
        path = os.path.join(d, os.path.relpath(segs[victim], base.dir))
        if damage == "missing":
            os.unlink(path)
        else:
            at = off + n // 2 if damage == "record" else 20
            with open(path, "r+b") as f:
                f.seek(at)
                b = f.read(1)
                f.seek(at)
                f.write(bytes([b[0] ^ 0x5A]))
        bad = Server("lode", SMALL_SEG, dir=d)
        code = start_expect_failure(bad)
        log = bad.read_log()
        assert code != 0, log
        assert "lode-recover" in log, log
        expect = {"record": "LSN %d" % lsn, "header": "has no valid header",
                  "missing": "expected %d" % recs[0][2]}[damage]
        if victim > 0:
            assert expect in log, log
        # the original directory is untouched and still starts
        base.start()
        assert base.client().dbsize() == 260
        base.stop()
    finally:
        base.cleanup()


def test_second_server_on_same_dir_refused(tmp_path):
    first = Server("lode", ["--durability", "always"], dir=clone_dir(tmp_path / "first"))
    try:
        first.start()
        c = first.client()
        assert c.set("k", "v1")
        # a second server, its own port and log, the first one's data directory
        second = Server("lode", ["--durability", "always"], dir=clone_dir(tmp_path / "second"))
        second.cmdline = lambda: [LODE_BIN, "--port", str(second.port), "--bind", "127.0.0.1",
                                  "--dir", os.path.join(first.dir, "data"), "--durability",
                                  "always"]
        code = start_expect_failure(second)
        log = second.read_log()
        assert code != 0, log
        assert "LOCK" in log, log
        # the first keeps serving, reads and durable writes
        assert c.get("k") == b"v1"
        assert c.set("k", "v2")
        assert c.incr("n") == 1
        info = lode_info(c)
        assert info["lode_wal_durable_lsn"] == info["lode_wal_last_lsn"]
        assert info["lode_wal_status"] == "ok"
        c.close()
        first.kill9()
        first.start()
        c = first.client()
        assert c.get("k") == b"v2" and c.get("n") == b"1"
        c.close()
        first.stop()
    finally:
        first.cleanup()


# ---------------------------------------------------------------------------
# segment boundaries

def set_record_size(value_len, key=b"k"):
    """Total length of the record `SET <key> <value>` logs verbatim."""
    resp = b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n" % (len(key), key, value_len)
    return 32 + 8 + len(resp) + value_len + 2


def value_len_for(total):
    for n in range(max(0, total - 80), total):
        if set_record_size(n) == total:
            return n
    raise AssertionError("no SET record of %d bytes" % total)


def fill_segment_leaving(s, c, left):
    """Writes SET records until the current segment has exactly `left` bytes
    after its last record; returns (the segment path, the next value index)."""
    size = 65536
    i = 0
    while True:
        seg = segment_paths(s)[-1]
        recs = records(seg)
        end = recs[-1][0] + recs[-1][1] if recs else SEG_HEADER
        room = size - end - left
        if room == 0:
            return seg, i
        assert room >= set_record_size(0), "overshot: %d bytes of room" % room
        # records below 1024 payload bytes are never compressed
        total = room if room <= 900 else min(800, room - 200)
        n = value_len_for(total)
        assert c.set("k", ("%d-" % i).ljust(n, "x")[:n])
        i += 1
        got = records(segment_paths(s)[-1])[-1]
        assert got[1] == total, "SET record is %d bytes, expected %d" % (got[1], total)


@pytest.mark.parametrize("left", [0, 1, 2, 3, 4])
def test_segment_filled_to_its_last_bytes_recovers(tmp_path, left):
    s = Server("lode", SMALL_SEG, dir=clone_dir(tmp_path / "s"))
    try:
        s.start()
        c = s.client()
        assert c.set("first", "1")
        seg, i = fill_segment_leaving(s, c, left)
        assert c.set("after", "the roll")  # does not fit: the next segment
        assert len(segment_paths(s)) == 2
        last = lode_info(c)["lode_wal_last_lsn"]
        c.close()
        s.stop()
        s.start()  # the bug: "is corrupt at offset 6553x ...: record cut short"
        c = s.client()
        assert c.get("first") == b"1" and c.get("after") == b"the roll"
        assert c.get("k").startswith(b"%d-" % (i - 1))
        assert lode_info(c)["lode_wal_last_lsn"] == last
        c.close()
        s.stop()
    finally:
        s.cleanup()


@pytest.mark.parametrize("size", [0, 65536])
def test_crash_while_creating_a_segment_recovers(tmp_path, size):
    s = Server("lode", SMALL_SEG, dir=clone_dir(tmp_path / "s"))
    try:
        s.start()
        c = s.client()
        for i in range(50):
            assert c.set("k%d" % i, i)
        last = lode_info(c)["lode_wal_last_lsn"]
        c.close()
        s.stop()
        # what seg_create leaves when it is cut short: the file exists (and
        # may be preallocated) but holds zeros only
        with open(os.path.join(wal_dir(s), "%016x.log" % (last + 1)), "wb") as f:
            f.write(bytes(size))
        s.start()  # the bug: AssertionError "server exited at start"
        c = s.client()
        assert c.dbsize() == 50
        assert c.set("more", "1")
        assert lode_info(c)["lode_wal_last_lsn"] == last + 1
        c.close()
        s.stop()
        s.start()
        assert s.client().get("more") == b"1"
        s.stop()
    finally:
        s.cleanup()
