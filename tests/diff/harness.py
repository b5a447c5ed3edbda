"""Differential harness: runs the same command sequences against lode-server
and redis-server and compares every reply (rules in normalize.py).

Environment:
  LODE_SERVER           lode-server binary (see tests/conftest.py)
  LODE_DIFF_BOTH_REDIS  1: start a second redis-server in place of
                        lode-server, to validate the harness and the cases
  LODE_DIFF_SEEDS       number of random sequences (default 24)
  LODE_DIFF_SEED_BASE   first seed (default 1)

Case files (cases/*.txt), one command per line, redis-cli quoting:
  # comment
  === case-name [+resp3] [resp3only]
  SET k "a b\\x00"                 double quotes: \\n \\r \\t \\\\ \\" \\xHH escapes
  SET k 'single quoted'
  SET k %rep:100:ab                %rep:N:TEXT is TEXT repeated N times
  EXPIREAT k {now+100}             {now+N} / {nowms+N}: unix time (s / ms) + N
  CLIENT KILL ID {myid}            {myid}: the connection's CLIENT ID
  !conn 1                          switch to connection 1 (opened on demand)
  !scan [MATCH p] [COUNT n] [TYPE t]   full SCAN iteration, key sets compared
  !dump                            KEYS * sorted, then TYPE, GET/PTTL per key
                                   (PFCOUNT in place of GET for HyperLogLogs;
                                   hashes: HGETALL and OBJECT ENCODING)
  !hscan KEY [MATCH p] [COUNT n]   full HSCAN iteration, field/value sets compared
  !until "<reply>" CMD ARGS...     poll CMD on both servers until each
                                   replies <reply> (escaped), 5 s deadline
A case's keyspace is flushed (FLUSHALL) and the connections RESET after it;
parameters changed by CONFIG SET are restored.
"""
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def _load_shared():
    """tests/conftest.py (Server, wait_until), loaded under its own name:
    the plain name "conftest" is this directory's conftest."""
    import importlib.util
    path = os.path.join(os.path.dirname(HERE), "conftest.py")
    spec = importlib.util.spec_from_file_location("lode_shared_conftest", path)
    mod = sys.modules.get(spec.name)
    if mod is None:
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
    return mod


_shared = _load_shared()
Server, wait_until = _shared.Server, _shared.wait_until
from resp_client import RawConn, encode  # noqa: E402
import normalize  # noqa: E402

CLOSED = b"<closed>"
ADMIN = -1  # connection used by the harness itself (cleanup, CONFIG GET)
BOTH_REDIS = os.environ.get("LODE_DIFF_BOTH_REDIS") == "1"
# redis-server 7.0 refuses DEBUG unless enabled; Lodestore has no such switch.
REDIS_ARGS = ["--enable-debug-command", "yes"]


# ---------------------------------------------------------------- case files

_ESC = {"n": b"\n", "r": b"\r", "t": b"\t", "b": b"\b", "a": b"\a", "\\": b"\\", '"': b'"'}


def split_line(line):
    """Splits like redis-cli: returns a list of bytes tokens."""
    out, i, n = [], 0, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return out
        tok = bytearray()
        if line[i] == '"':
            i += 1
            while True:
                if i >= n:
                    raise ValueError("unbalanced quotes: " + line)
                c = line[i]
                if c == "\\" and i + 1 < n:
                    e = line[i + 1]
                    if e == "x" and i + 3 < n and re.match(r"[0-9a-fA-F]{2}", line[i + 2:i + 4]):
                        tok.append(int(line[i + 2:i + 4], 16))
                        i += 4
                        continue
                    tok += _ESC.get(e, e.encode())
                    i += 2
                elif c == '"':
                    i += 1
                    break
                else:
                    tok += c.encode()
                    i += 1
        elif line[i] == "'":
            i += 1
            while True:
                if i >= n:
                    raise ValueError("unbalanced quotes: " + line)
                c = line[i]
                if c == "\\" and line[i + 1:i + 2] == "'":
                    tok += b"'"
                    i += 2
                elif c == "'":
                    i += 1
                    break
                else:
                    tok += c.encode()
                    i += 1
        else:
            j = i
            while j < n and line[j] not in " \t":
                j += 1
            word = line[i:j]
            i = j
            m = re.fullmatch(r"%rep:(\d+):(.*)", word)
            tok += (m.group(2).encode() * int(m.group(1))) if m else word.encode()
        out.append(bytes(tok))


def random_seeds(env, default):
    """The seeds a random test runs: env (e.g. LODE_DIFF_SET_SEEDS) seeds
    from LODE_DIFF_SEED_BASE (default 1)."""
    n = int(os.environ.get(env, str(default)))
    base = int(os.environ.get("LODE_DIFF_SEED_BASE", "1"))
    return range(base, base + n)


def random_steps(default=250, env="LODE_DIFF_STEPS"):
    return int(os.environ.get(env, str(default)))


def run_random(diff, what, seed, env, commands, dbs=(None,), before=(), after=()):
    """Runs one seed's command sequence on both servers (every third seed in
    RESP3), then !dump in each of dbs (None: the current one). `before`
    lines run first, `after` lines last even on failure (settings the
    sequence needs or changed). A failure names the seed and how to rerun
    it alone."""
    resp3 = seed % 3 == 0
    diff.begin("random %s seed=%d%s (rerun: LODE_DIFF_SEED_BASE=%d %s=1)"
               % (what, seed, " RESP3" if resp3 else "", seed, env), resp3)
    base = diff.label
    for line in before:
        diff.run_line(line)
    try:
        for i, cmd in enumerate(commands):
            diff.label = "%s step %d" % (base, i)
            diff.run_line(cmd)
        diff.label = "%s final state" % base
        for db in dbs:
            if db is not None:
                diff.run_line([b"SELECT", db])
            diff.dump()
    finally:
        for line in after:
            diff.run_line(line)
        diff.end()


class Case:
    def __init__(self, name, path):
        self.name, self.path = name, path
        self.lines = []  # (lineno, [tokens])
        self.resp3 = False
        self.resp2 = True

    def __repr__(self):
        return "%s::%s" % (os.path.basename(self.path), self.name)


def load_cases(pattern=None):
    d = os.path.join(HERE, "cases")
    cases = []
    for fn in sorted(os.listdir(d)):
        if not fn.endswith(".txt"):
            continue
        path = os.path.join(d, fn)
        cur = None
        seen = set()
        with open(path, encoding="utf-8") as f:
            for no, raw in enumerate(f, 1):
                line = raw.rstrip("\n")
                s = line.strip()
                if not s or s.startswith("#"):
                    continue
                if s.startswith("==="):
                    words = s[3:].split()
                    cur = Case(words[0], path)
                    assert cur.name not in seen, "%s:%d duplicate case %s" % (fn, no, cur.name)
                    seen.add(cur.name)
                    cur.resp3 = "+resp3" in words or "resp3only" in words
                    cur.resp2 = "resp3only" not in words
                    cases.append(cur)
                    continue
                assert cur is not None, "%s:%d command before first === header" % (fn, no)
                cur.lines.append((no, split_line(s)))
    return cases


# ---------------------------------------------------------------- the pair


def _subst(tok, myid, now):
    def rep(m):
        what, off = m.group(1).decode(), int(m.group(2) or 0)
        if what == "myid":
            return b"%d" % myid
        if what == "now":
            return b"%d" % (int(now) + off)
        return b"%d" % (int(now * 1000) + off)
    return re.sub(rb"\{(myid|nowms|now)([+-]\d+)?\}", rep, tok)


class Side:
    """One server and its connections (index -> RawConn)."""

    def __init__(self, label, server):
        self.label, self.server = label, server
        self.conns = {}
        self.ids = {}

    def conn(self, i):
        c = self.conns.get(i)
        if c is None:
            c = self.conns[i] = RawConn(self.server.port, timeout=5.0)
            self.ids.pop(i, None)
        return c

    def myid(self, i):
        if i not in self.ids:
            r = self.conn(i).call("CLIENT", "ID")
            self.ids[i] = int(r[1:-2]) if r.startswith(b":") else -1
        return self.ids[i]

    def drop(self, i):
        c = self.conns.pop(i, None)
        self.ids.pop(i, None)
        if c:
            c.close()

    def call(self, i, args, expect_reply=True):
        c = self.conn(i)
        try:
            c.send_raw(encode(*args))
            if not expect_reply:
                return None
            return c.read_reply()
        except (ConnectionError, OSError):
            self.drop(i)
            return CLOSED

    def alive(self):
        return self.server.proc is not None and self.server.proc.poll() is None


class Mismatch(AssertionError):
    pass


def _show(b):
    if b is None:
        return "(no reply)"
    s = repr(b)
    return s if len(s) < 600 else s[:600] + "...(%d bytes)" % len(b)


class Pair:
    """lode-server (or a second redis-server) beside the reference redis."""

    def __init__(self):
        kind = "redis" if BOTH_REDIS else "lode"
        self.lode = Side("lode" if not BOTH_REDIS else "redis#2",
                         Server(kind, REDIS_ARGS if BOTH_REDIS else []))
        self.redis = Side("redis", Server("redis", REDIS_ARGS))
        self.sides = (self.lode, self.redis)

    def start(self):
        for s in self.sides:
            s.server.start()
        return self

    def stop(self):
        errors = []
        for s in self.sides:
            for i in list(s.conns):
                s.drop(i)
            try:
                s.server.stop()
            except AssertionError as e:
                errors.append(str(e))
            finally:
                s.server.cleanup()
        assert not errors, "\n".join(errors)

    def ensure_alive(self):
        """Restarts a server that died (e.g. a crash in an earlier case) so
        later cases still run; returns the dead server's log tail."""
        tail = None
        for s in self.sides:
            if not s.alive():
                tail = s.server.read_log()[-3000:]
                for i in list(s.conns):
                    s.drop(i)
                try:
                    s.server.log.close()
                except Exception:
                    pass
                s.server.proc = None
                s.server.start()
        return tail

    # -------------------------------------------------------- running

    def begin(self, label, resp3=False):
        self.label = label
        self.history = []
        self.config_saved = {}
        self.reply_mode = {}  # conn index -> "on" | "off" | "skip"
        self.case_tokens = set()
        self.cur = 0
        if resp3:
            self.command(["HELLO", "3"])

    def fail(self, args, why, la, lb, extra=""):
        depth = int(os.environ.get("LODE_DIFF_HISTORY", "8"))
        ctx = "\n".join("    %s" % " ".join(repr(x)[1:] if isinstance(x, bytes) else str(x)
                                            for x in h) for h in self.history[-depth:])
        raise Mismatch(
            "differential mismatch in %s\n  command: %s\n  %s: %s\n  %s: %s\n  why: %s%s\n"
            "  last commands:\n%s" % (
                self.label, " ".join(_show(a)[1:] if isinstance(a, bytes) else a for a in args),
                self.lode.label, _show(la), self.redis.label, _show(lb), why, extra, ctx))

    def _save_config(self, args):
        # CONFIG SET p v [p v ...]: remember each parameter's value first
        if len(args) >= 4 and normalize._u(args[0]) == "CONFIG" and normalize._u(args[1]) == "SET":
            for p in args[2::2]:
                key = p.lower()
                if key in self.config_saved:
                    continue
                vals = []
                for s in self.sides:
                    r = s.call(ADMIN, ["CONFIG", "GET", key])
                    try:
                        pairs = normalize.parse(r).as_pairs()
                    except Exception:
                        pairs = []
                    vals.append(pairs[0][1].val if pairs else None)
                self.config_saved[key] = vals

    def _expects(self, i, args):
        """Whether a reply is expected under CLIENT REPLY ON/OFF/SKIP, and
        the mode after this command."""
        mode = self.reply_mode.get(i, "on")
        u = [normalize._u(a) for a in args[:3]]
        if u[:2] == ["CLIENT", "REPLY"] and len(u) == 3 and len(args) == 3:
            if u[2] == "ON":
                self.reply_mode[i] = "on"
                return True
            if u[2] in ("OFF", "SKIP"):
                self.reply_mode[i] = u[2].lower()
                return False
        if mode == "off":
            return False
        if mode == "skip":
            self.reply_mode[i] = "on"
            return False
        return True

    def command(self, args, conn=None):
        i = self.cur if conn is None else conn
        now = time.time()
        self.case_tokens.update(a for a in args if isinstance(a, bytes))
        self._save_config(args)
        per = []
        for s in self.sides:
            a = [_subst(x, s.myid(i) if b"{myid" in x else 0, now)
                 if isinstance(x, bytes) and b"{" in x else x
                 for x in args]
            per.append(a)
        self.history.append(per[1])
        expect = self._expects(i, per[1])
        random_members = expect and len(per[1]) >= 2 and \
            normalize._u(per[1][0]) in normalize.RANDOM_MEMBER_COMMANDS
        before = self._set_members(self.redis, i, per[1][1]) if random_members else None
        la = self.lode.call(i, per[0], expect)
        lb = self.redis.call(i, per[1], expect)
        if not expect:
            return None, None
        why = normalize.compare(per[1], la, lb)
        if why:
            self.fail(per[1], why, la, lb)
        if random_members:
            self.check_random_members(i, per[1], la, lb, before)
        if normalize._u(per[1][0]) in normalize.RANDOM_KEY_COMMANDS:
            # RANDOMKEY deletes the expired keys its random probes land on,
            # and each server probes different ones: the sets of expired
            # keys still present now differ, which DBSIZE would show.
            # EXISTS on every word the case used expires them all on both
            # sides (lazily, as any read does), and must agree.
            words = sorted(t for t in self.case_tokens if isinstance(t, bytes))
            if words:
                ea = self.lode.call(i, ["EXISTS"] + words)
                eb = self.redis.call(i, ["EXISTS"] + words)
                if ea != eb:
                    self.fail(["EXISTS"] + words, "after RANDOMKEY: EXISTS differs", ea, eb)
        if normalize._u(per[1][0]) in normalize.RANDOM_KEY_COMMANDS and lb.startswith(b"$") \
                and not lb.startswith(b"$-1"):
            for s, r in zip(self.sides, (la, lb)):
                key = normalize.parse(r).val
                e = s.call(i, ["EXISTS", key])
                if e != b":1\r\n":
                    self.fail(per[1], "%s returned %r which EXISTS says is missing (%r)"
                              % (s.label, key, e), la, lb)
        if normalize._u(per[1][0]) == "HRANDFIELD" and len(per[1]) == 2 and \
                lb.startswith(b"$") and not lb.startswith(b"$-1"):
            # one random field: it must be a field of the hash on each side
            for s, r in zip(self.sides, (la, lb)):
                f = normalize.parse(r).val
                e = s.call(i, ["HEXISTS", per[1][1], f])
                if e != b":1\r\n":
                    self.fail(per[1], "%s returned field %r which HEXISTS says is missing (%r)"
                              % (s.label, f, e), la, lb)
        return la, lb

    def _set_members(self, side, i, key):
        """SMEMBERS key on one side as a set of bytes (None: not a set).
        Not for use inside MULTI (the harness never queues random picks)."""
        r = normalize.parse(side.call(i, ["SMEMBERS", key]))
        return None if r.kind == "-" else {e.val for e in r.items()}

    def check_random_members(self, i, args, la, lb, before):
        """SPOP / SRANDMEMBER: every member returned by either server must
        have been in the set (before: Redis's members, which equal
        Lodestore's at that point). After an SPOP that popped different
        members, Lodestore's set is made equal to Redis's (SADD back what
        Lodestore popped and Redis did not, SREM the reverse; if the two
        encodings then differ, because each server rebuilt the set from
        different survivors, Lodestore's set is rebuilt from its members
        with its TTL), so later commands meet the same state."""
        pa, pb = normalize.parse(la), normalize.parse(lb)
        if pa.kind == "-" or before is None:
            return

        def members(p):
            if p.is_agg():
                return [e.val for e in p.items()]
            return [] if p.val is None else [p.val]
        ea, eb = members(pa), members(pb)
        for side, got in ((self.lode, ea), (self.redis, eb)):
            if not set(got) <= before:
                self.fail(args, "%s returned members not in the set: %r" % (
                    side.label, sorted(set(got) - before)), la, lb)
        if normalize._u(args[0]) not in normalize.RANDOM_POP_COMMANDS or set(ea) == set(eb):
            return
        key, lode = args[1], self.lode
        extra, missing = sorted(set(eb) - set(ea)), sorted(set(ea) - set(eb))
        # adds first: removing first could empty the set, deleting its TTL
        lode.call(i, ["SADD", key] + missing)
        lode.call(i, ["SREM", key] + extra)
        enc = [s.call(i, ["OBJECT", "ENCODING", key]) for s in self.sides]
        if enc[0] != enc[1]:
            when = lode.call(i, ["PEXPIRETIME", key])
            kept = sorted(self._set_members(lode, i, key))
            lode.call(i, ["DEL", key])
            lode.call(i, ["SADD", key] + kept)
            if not when.startswith(b":-"):
                lode.call(i, ["PEXPIREAT", key, when[1:-2]])
        self.history.append([b"!resync", key])

    def scan_all(self, extra):
        """!scan: iterate SCAN to completion on each server; the sets of
        keys must be equal (duplicates are allowed by SCAN's contract)."""
        sets = []
        for s in self.sides:
            cursor, keys, steps = b"0", set(), 0
            while True:
                r = s.call(self.cur, ["SCAN", cursor] + extra)
                try:
                    p = normalize.parse(r)
                    cursor, batch = p.val[0].val, p.val[1].items()
                except Exception:
                    self.fail(["SCAN", cursor] + extra, "%s: bad SCAN reply" % s.label, r, r)
                keys.update(e.val for e in batch)
                steps += 1
                if cursor == b"0":
                    break
                if steps > 100000:
                    self.fail(["SCAN"] + extra, "%s: SCAN does not terminate" % s.label, r, r)
            sets.append(sorted(keys))
        if sets[0] != sets[1]:
            self.fail(["!scan"] + extra, "SCAN iteration key sets differ", repr(sets[0]).encode(),
                      repr(sets[1]).encode())
        self.history.append([b"!scan"] + extra)

    def hscan_all(self, key, extra):
        """!hscan: iterate HSCAN over one hash to completion on each server;
        the sets of (field, value) pairs must be equal (HSCAN, like SCAN, may
        return an element twice)."""
        sets = []
        for s in self.sides:
            cursor, pairs, steps = b"0", set(), 0
            while True:
                r = s.call(self.cur, ["HSCAN", key, cursor] + extra)
                try:
                    p = normalize.parse(r)
                    if p.kind == "-":
                        pairs = r
                        break
                    cursor, batch = p.val[0].val, p.val[1].items()
                except Exception:
                    self.fail(["HSCAN", key, cursor] + extra, "%s: bad HSCAN reply" % s.label, r, r)
                pairs.update((batch[i].val, batch[i + 1].val) for i in range(0, len(batch), 2))
                steps += 1
                if cursor == b"0":
                    break
                if steps > 100000:
                    self.fail(["HSCAN", key] + extra, "%s: HSCAN does not terminate" % s.label,
                              r, r)
            sets.append(pairs if isinstance(pairs, bytes) else sorted(pairs))
        if sets[0] != sets[1]:
            self.fail([b"!hscan", key] + extra, "HSCAN iteration sets differ",
                      repr(sets[0]).encode(), repr(sets[1]).encode())
        self.history.append([b"!hscan", key] + extra)

    def dump(self):
        """!dump: the whole current database: key names, then per key its
        TYPE and, for strings, GET, for sorted sets ZRANGE WITHSCORES and
        OBJECT ENCODING, for lists LRANGE 0 -1, for sets SMEMBERS and OBJECT
        ENCODING, and PTTL."""
        la, lb = self.command(["KEYS", "*"])
        keys = sorted(e.val for e in normalize.parse(lb).items())
        for k in keys:
            _, t = self.command(["TYPE", k])
            if t == b"+string\r\n":
                # HyperLogLogs: each server has its own layout (and hash),
                # so their bytes differ; compare what they estimate instead
                self.command(["PFCOUNT", k] if self._both_hll(k) else ["GET", k])
            elif t == b"+zset\r\n":
                self.command(["ZRANGE", k, "0", "-1", "WITHSCORES"])
                self.command(["OBJECT", "ENCODING", k])
            elif t == b"+list\r\n":
                self.command(["LRANGE", k, "0", "-1"])
            elif t == b"+set\r\n":
                self.command(["SMEMBERS", k])
                self.command(["OBJECT", "ENCODING", k])
            elif t == b"+hash\r\n":
                self.command(["HGETALL", k])
                self.command(["OBJECT", "ENCODING", k])
            self.command(["PTTL", k])

    def _both_hll(self, key):
        """Whether key holds a HyperLogLog on both sides (Lodestore's
        "LHLL" layout, Redis's "HYLL")."""
        for s in self.sides:
            try:
                v = normalize.parse(s.call(self.cur, ["GET", key])).val
            except Exception:
                return False
            if not isinstance(v, bytes) or v[:4] not in (b"LHLL", b"HYLL"):
                return False
        return True

    def until(self, want, args):
        for s in self.sides:
            def ok():
                return s.call(self.cur, args) == want
            try:
                wait_until(ok, 5.0, what="%s %r" % (s.label, args))
            except AssertionError as e:
                self.fail(args, str(e), s.call(self.cur, args), want)
        self.history.append([b"!until"] + list(args))

    def run_line(self, toks):
        head = toks[0]
        if head == b"!conn":
            self.cur = int(toks[1])
        elif head == b"!scan":
            self.scan_all(toks[1:])
        elif head == b"!dump":
            self.dump()
        elif head == b"!hscan":
            self.hscan_all(toks[1], toks[2:])
        elif head == b"!until":
            self.until(toks[1], toks[2:])
        else:
            self.command(toks)

    def run_case(self, case, resp3=False):
        self.begin("%r%s" % (case, " [RESP3]" if resp3 else ""), resp3)
        try:
            for no, toks in case.lines:
                self.label = "%r%s line %d" % (case, " [RESP3]" if resp3 else "", no)
                self.run_line(toks)
        finally:
            self.end()

    def end(self):
        """Back to a clean state: every case connection is closed (so db,
        protocol, name, CLIENT REPLY, MONITOR are gone with it); on the
        admin connection: CONFIG restored, CLIENT UNPAUSE, FLUSHALL."""
        for s in self.sides:
            for i in list(s.conns):
                if i != ADMIN:
                    s.drop(i)
            if not s.alive():
                continue
            for key, vals in self.config_saved.items():
                v = vals[self.sides.index(s)]
                if v is not None:
                    s.call(ADMIN, ["CONFIG", "SET", key, v])
            if any(t.upper() == b"PAUSE" for t in self.case_tokens):
                s.call(ADMIN, ["CLIENT", "UNPAUSE"])
            r = s.call(ADMIN, ["FLUSHALL"])
            if r != b"+OK\r\n":
                raise AssertionError("%s: FLUSHALL failed: %r" % (s.label, r))
