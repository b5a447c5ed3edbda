"""Every rule the differential suite uses to compare a Lodestore reply with
Redis's reply. One place, one reason per rule.

compare(args, lode_bytes, redis_bytes) -> None when the replies agree, or a
string explaining the difference. The default is exact byte equality; the
rules below only relax it where Redis itself is non-deterministic or where
a value is a property of the process (ids, addresses, timings, allocator
statistics) rather than of the data. A relaxed rule always checks the shape
of the reply (type, length, field names) so nothing is skipped silently.
"""
import re

# ---------------------------------------------------------------- RESP parser


class Reply:
    """A parsed RESP2/RESP3 reply: kind is the type byte ('+', '-', ':', '$',
    '*', '%', '~', '_', ',', '#', '(', '=', '|', '>'); val is bytes, int,
    None, or a list of Reply (maps: flat list k1, v1, k2, v2...)."""
    __slots__ = ("kind", "val")

    def __init__(self, kind, val):
        self.kind, self.val = kind, val

    def __repr__(self):
        return "Reply(%r, %r)" % (self.kind, self.val)

    def __eq__(self, other):
        return isinstance(other, Reply) and self.kind == other.kind and self.val == other.val

    def is_agg(self):
        return self.kind in "*%~|>" and self.val is not None

    def items(self):
        """Elements of an array/set, or the flat k, v list of a map."""
        return self.val if self.is_agg() else []

    def as_pairs(self):
        """A map reply (RESP3 %) or flat RESP2 array as [(key bytes, Reply)]."""
        v = self.items()
        return [(v[i].val, v[i + 1]) for i in range(0, len(v) - 1, 2)]


def parse(data):
    r, end = _parse(data, 0)
    if end != len(data):
        raise ValueError("trailing bytes after reply: %r" % data[end:end + 40])
    return r


def _parse(data, pos):
    t = chr(data[pos])
    eol = data.index(b"\r\n", pos)
    head = data[pos + 1:eol]
    nxt = eol + 2
    if t in "+-,(#":
        return Reply(t, head), nxt
    if t == ":":
        return Reply(t, int(head)), nxt
    if t == "_":
        return Reply(t, None), nxt
    if t in "$=!":
        n = int(head)
        if n < 0:
            return Reply(t, None), nxt
        return Reply(t, data[nxt:nxt + n]), nxt + n + 2
    if t in "*~%|>":
        n = int(head)
        if n < 0:
            return Reply(t, None), nxt
        if t in "%|":
            n *= 2
        out = []
        for _ in range(n):
            e, nxt = _parse(data, nxt)
            out.append(e)
        return Reply(t, out), nxt
    raise ValueError("unknown RESP type %r" % t)


# ---------------------------------------------------------------- helpers


def _u(a):
    return (a.decode("latin-1") if isinstance(a, bytes) else str(a)).upper()


def _ints_close(a, b, tol, what):
    """Both integers; negative values (-1 no expiry, -2 no key) must be
    equal, non-negative ones within tol of each other."""
    if a.kind != ":" or b.kind != ":":
        return None if a == b else "%s: different reply types" % what
    if a.val < 0 or b.val < 0:
        return None if a.val == b.val else "%s: %d vs %d" % (what, a.val, b.val)
    if abs(a.val - b.val) > tol:
        return "%s: %d vs %d differ by more than %d" % (what, a.val, b.val, tol)
    return None


def _same_kind(a, b, what):
    """Shape check for replies whose content is process-specific: the same
    type; errors must still be byte-identical."""
    if a.kind != b.kind:
        return "%s: reply types differ (%s vs %s)" % (what, a.kind, b.kind)
    if a.kind == "-" and a.val != b.val:
        return "%s: errors differ" % what
    if (a.val is None) != (b.val is None):
        return "%s: one reply is null" % what
    return None


def _sorted_agg(a, b, what):
    """Arrays whose element order is unspecified: compare as sorted lists."""
    if a.kind != b.kind or not a.is_agg() or not b.is_agg():
        return None if a == b else "%s: differ" % what
    ka = sorted(e.val for e in a.items())
    kb = sorted(e.val for e in b.items())
    return None if ka == kb else "%s (sorted): %r vs %r" % (what, ka, kb)


# TTL-like replies: the two servers set the expiry a few milliseconds apart
# and read it back at different instants (and an ASan build is slower), so
# remaining times are compared with a tolerance; absolute times too, because
# "now" differs by those milliseconds.
TOLERANCE = {
    "TTL": 1,
    "PTTL": 1500,
    "EXPIRETIME": 1,
    "PEXPIRETIME": 1500,
}
# OBJECT IDLETIME: seconds since last access, measured by each server's own
# LRU clock (resolution: Redis updates it every 1/hz s).
IDLE_TOLERANCE = 2

# Values that differ only because the servers are different processes.
# Lodestore's own parameters (not in Redis): may appear in CONFIG GET <glob>.
LODE_ONLY_PARAMS = {b"durability", b"wal-segment-size", b"checkpoint-wal-bytes",
                    b"checkpoint-interval", b"checkpoint-method", b"checkpoint-nice",
                    b"checkpoint-key-delay", b"wal-archive", b"busy-poll-us",
                    b"wal-spare-segments", b"wal-prefill"}
CONFIG_PROCESS_PARAMS = {b"dir", b"port", b"pidfile", b"logfile", b"unixsocket", b"bind"}
# Redis's persistence parameters: the reference runs without persistence,
# Lodestore always logs (appendonly yes, appendfsync = its durability).
CONFIG_PERSISTENCE_PARAMS = {b"appendonly", b"appendfsync", b"save"}

# CLIENT LIST / CLIENT INFO fields whose values are per-connection or
# timing facts (ids, socket addresses, ages, buffer sizes and memory).
CLIENT_VOLATILE = {b"id", b"addr", b"laddr", b"fd", b"age", b"idle", b"qbuf", b"qbuf-free",
                   b"argv-mem", b"multi-mem", b"obl", b"oll", b"omem", b"tot-mem", b"events",
                   b"rbs", b"rbp", b"ssub", b"lib-name", b"lib-ver", b"resp"}

# INFO fields both servers must report (the rest of INFO is server-specific:
# versions, pids, allocator statistics, uptime...).
INFO_REQUIRED = {
    b"server": [b"redis_version", b"redis_mode", b"tcp_port", b"uptime_in_seconds", b"hz"],
    b"clients": [b"connected_clients", b"blocked_clients", b"maxclients"],
    b"memory": [b"used_memory", b"used_memory_human", b"maxmemory", b"maxmemory_policy"],
    b"stats": [b"total_connections_received", b"total_commands_processed", b"keyspace_hits",
               b"keyspace_misses", b"expired_keys", b"evicted_keys", b"rejected_connections"],
}

# ---------------------------------------------------------------- per-command rules


def _keys(args, a, b):
    # KEYS walks the hash table: element order depends on the table layout.
    return _sorted_agg(a, b, "KEYS")


def _scan(args, a, b):
    # One SCAN step: cursors are positions in each server's own hash table,
    # so a single step is only compared by shape; complete iterations are
    # compared as sets by the !scan directive (see harness.scan_all).
    err = _same_kind(a, b, "SCAN")
    if err or a.kind == "-":
        return err
    for r in (a, b):
        v = r.items()
        if len(v) != 2 or v[0].kind != "$" or not v[0].val.isdigit() or not v[1].is_agg():
            return "SCAN: malformed reply %r" % r
    # a whole iteration in one step (started at 0, returned 0) must have
    # returned every key; other start cursors are implementation-specific
    if args[1:2] == [b"0"] and a.val[0].val == b"0" and b.val[0].val == b"0":
        return _sorted_agg(a.val[1], b.val[1], "SCAN keys (both iterations done)")
    return None


def _ttl(args, a, b):
    cmd = _u(args[0])
    return _ints_close(a, b, TOLERANCE[cmd], cmd)


def _object(args, a, b):
    sub = _u(args[1]) if len(args) > 1 else ""
    if sub == "IDLETIME" and a.kind == ":" and b.kind == ":":
        return _ints_close(a, b, IDLE_TOLERANCE, "OBJECT IDLETIME")
    return None if a == b else "OBJECT %s differs" % sub


def _time(args, a, b):
    # TIME: the wall clock of each process; both must be [seconds, micros]
    # and within 2 s of each other.
    err = _same_kind(a, b, "TIME")
    if err or a.kind == "-":
        return err
    try:
        sa, ua = (int(e.val) for e in a.items())
        sb, ub = (int(e.val) for e in b.items())
    except (TypeError, ValueError):
        return "TIME: malformed %r / %r" % (a, b)
    if not (0 <= ua < 1000000 and 0 <= ub < 1000000) or abs(sa - sb) > 2:
        return "TIME: %r vs %r" % ((sa, ua), (sb, ub))
    return None


def _hello(args, a, b):
    # HELLO: the connection id is per process, and the server field names
    # the product (docs/compatibility.md: "lodestore" vs "redis"); everything
    # else (version, proto, mode, role, modules) must be identical.
    err = _same_kind(a, b, "HELLO")
    if err or a.kind == "-":
        return err
    pa, pb = a.as_pairs(), b.as_pairs()
    if [k for k, _ in pa] != [k for k, _ in pb]:
        return "HELLO: field names differ"
    for (k, va), (_, vb) in zip(pa, pb):
        if k == b"id":
            if va.kind != ":" or vb.kind != ":":
                return "HELLO: id is not an integer"
        elif k == b"server":
            if va.kind != "$" or vb.kind != "$":
                return "HELLO: server is not a string"
        elif va != vb:
            return "HELLO: field %r differs: %r vs %r" % (k, va, vb)
    return None


def _info_sections(text):
    sections, cur = {}, None
    for line in text.split(b"\r\n"):
        if not line:
            continue
        if line.startswith(b"# "):
            cur = line[2:].strip().lower()
            sections[cur] = {}
        elif b":" in line and cur is not None:
            k, v = line.split(b":", 1)
            sections[cur][k] = v
        else:
            return None, "INFO: malformed line %r" % line
    return sections, None


def _info(args, a, b):
    # INFO: a server report. Compared structurally: both bulk strings made
    # of "# Section" headers and key:value lines, the same section names,
    # the INFO_REQUIRED fields present, and the keyspace section identical
    # except avg_ttl (an estimate sampled by the active-expiry cycle).
    err = _same_kind(a, b, "INFO")
    if err or a.kind == "-":
        return err
    if a.kind not in "$=":
        return "INFO: not a bulk string"
    sa, e1 = _info_sections(a.val)
    sb, e2 = _info_sections(b.val)
    if e1 or e2:
        return e1 or e2
    if sorted(sa) != sorted(sb):
        return "INFO: sections differ: %r vs %r" % (sorted(sa), sorted(sb))
    for sec, fields in INFO_REQUIRED.items():
        if sec in sa:
            for s in (sa, sb):
                missing = [f for f in fields if f not in s[sec]]
                if missing:
                    return "INFO %s: missing fields %r" % (sec.decode(), missing)
    if b"keyspace" in sa:
        def ks(s):
            return {k: re.sub(rb",avg_ttl=\d+", b"", v) for k, v in s[b"keyspace"].items()}
        if ks(sa) != ks(sb):
            return "INFO keyspace: %r vs %r" % (ks(sa), ks(sb))
    return None


def _client_line(line):
    fields = []
    for part in line.split(b" "):
        if b"=" not in part:
            return None
        k, v = part.split(b"=", 1)
        fields.append((k, b"*" if k in CLIENT_VOLATILE else v))
    return fields


def _help_subset(a, b, what):
    # HELP of a container whose subcommands Lodestore implements only in
    # part (docs/compatibility.md): the title line must match and every
    # line Lodestore prints must be one of Redis's, in Redis's order.
    if a.kind != b.kind or a.kind != "*":
        return None if a == b else "%s HELP differs" % what
    la, lb = [x.val for x in a.items()], [x.val for x in b.items()]
    if not la or la[0] != lb[0]:
        return "%s HELP: title differs" % what
    it = iter(lb)
    if not all(line in it for line in la):
        return "%s HELP: lines not a subsequence of Redis's" % what
    return None


def _verbatim_text(r):
    # RESP3 verbatim strings carry a "txt:" format prefix
    v = r.val
    return v[4:] if r.kind == "=" and v.startswith(b"txt:") else v


def _client(args, a, b):
    sub = _u(args[1]) if len(args) > 1 else ""
    if sub == "HELP":
        return _help_subset(a, b, "CLIENT")
    if sub == "ID":
        # per-process connection counter
        err = _same_kind(a, b, "CLIENT ID")
        return err or (None if a.kind in ":-" else "CLIENT ID: not an integer")
    if sub in ("LIST", "INFO") and a.kind in "$=" and b.kind in "$=" and a.val and b.val:
        # one line per client, key=value fields; per-connection facts masked
        la = [_client_line(x) for x in _verbatim_text(a).strip(b"\n").split(b"\n")]
        lb = [_client_line(x) for x in _verbatim_text(b).strip(b"\n").split(b"\n")]
        if None in la or None in lb:
            return "CLIENT %s: malformed line" % sub
        if sorted(la) != sorted(lb):
            return "CLIENT %s (volatile fields masked): %r vs %r" % (sub, la, lb)
        return None
    return None if a == b else "CLIENT %s differs" % sub


def _command(args, a, b):
    sub = _u(args[1]) if len(args) > 1 else ""
    if sub in ("GETKEYS", "GETKEYSANDFLAGS", "HELP") or a.kind == "-" or b.kind == "-":
        return None if a == b else "COMMAND %s differs" % sub
    if sub == "INFO" and len(args) > 2:
        # per command: name, arity, flags, first/last key, step and ACL
        # categories must match exactly; tips, key specs and subcommand
        # details are documentation and only checked for shape.
        if a.kind != b.kind or len(a.items()) != len(b.items()):
            return "COMMAND INFO: different number of entries"
        for ea, eb in zip(a.items(), b.items()):
            if (ea.val is None) != (eb.val is None):
                return "COMMAND INFO: one side has no entry: %r vs %r" % (ea, eb)
            if ea.val is None:
                continue
            if ea.val[:7] != eb.val[:7] or len(ea.val) != len(eb.val):
                return "COMMAND INFO %r: %r vs %r" % (eb.val[0].val, ea.val[:7], eb.val[:7])
        return None
    if sub == "LIST" and len(args) > 2:
        # filtered lists: the set of names is deterministic, not the order
        return _sorted_agg(a, b, "COMMAND LIST FILTERBY")
    if sub == "COUNT":
        # number of implemented commands: differs until every command exists
        return None if (a.kind == b.kind == ":") else "COMMAND COUNT: not integers"
    # COMMAND, COMMAND INFO, COMMAND LIST, COMMAND DOCS without names: the
    # whole table, in dictionary order, and Lodestore has other commands
    # than Redis (and not all of Redis's): shape only
    return _same_kind(a, b, "COMMAND " + sub)


def _debug(args, a, b):
    # DEBUG: a developer tool with process-specific output (addresses,
    # digests, serialized lengths). Same reply type; for DEBUG OBJECT the
    # refcount and encoding fields must agree.
    err = _same_kind(a, b, "DEBUG")
    if err or a.kind == "-":
        return err
    sub = _u(args[1]) if len(args) > 1 else ""
    if sub == "OBJECT":
        def fields(r):
            return dict(re.findall(rb"(refcount|encoding):(\S+)", r.val))
        if fields(a) != fields(b):
            return "DEBUG OBJECT: %r vs %r" % (fields(a), fields(b))
    if sub in ("SLEEP", "SET-ACTIVE-EXPIRE") and a != b:
        return "DEBUG %s differs" % sub
    return None


def _memory(args, a, b):
    sub = _u(args[1]) if len(args) > 1 else ""
    if sub in ("HELP", "PURGE") or a.kind == "-" or b.kind == "-":
        return None if a == b else "MEMORY %s differs" % sub
    # USAGE / STATS / DOCTOR / MALLOC-STATS report allocator facts
    return _same_kind(a, b, "MEMORY " + sub)


def _slowlog_entry(e):
    # [id, timestamp, duration, argv, client addr, client name]: id counts
    # every entry since start, timestamp and duration are timings, the
    # address is a socket fact; argv and client name must match.
    v = e.items()
    if len(v) != 6:
        return None
    return (v[3], v[5])


def _slowlog(args, a, b):
    sub = _u(args[1]) if len(args) > 1 else ""
    if sub == "GET" and a.is_agg() and b.is_agg():
        ea = [_slowlog_entry(e) for e in a.items()]
        eb = [_slowlog_entry(e) for e in b.items()]
        if None in ea or None in eb or ea != eb:
            return "SLOWLOG GET (ids, times, addresses masked): %r vs %r" % (ea, eb)
        return None
    return None if a == b else "SLOWLOG %s differs" % sub


def _config(args, a, b):
    sub = _u(args[1]) if len(args) > 1 else ""
    if sub != "GET" or not a.is_agg() or not b.is_agg():
        return None if a == b else "CONFIG %s differs" % sub
    # CONFIG GET: pairs come in table order (not specified); glob patterns
    # may match parameters Lodestore does not have, so for patterns only
    # Lodestore's parameters are compared and each must exist in Redis;
    # values describing the process (dir, port...) only need to exist.
    da, db = dict(a.as_pairs()), dict(b.as_pairs())
    globbed = any(any(c in x for c in b"*?[") for x in args[2:])
    if not globbed and sorted(da) != sorted(db):
        return "CONFIG GET: names %r vs %r" % (sorted(da), sorted(db))
    for k, v in da.items():
        if k in LODE_ONLY_PARAMS and globbed:
            continue
        if k not in db:
            return "CONFIG GET: %r unknown to Redis" % k
        if k not in CONFIG_PROCESS_PARAMS | CONFIG_PERSISTENCE_PARAMS and v != db[k]:
            return "CONFIG GET %r: %r vs %r" % (k, v, db[k])
    return None


def _zscan(args, a, b):
    # ZSCAN of a skiplist walks each server's own hash table: element order
    # and cursors differ. A listpack is returned whole (cursor 0) in set
    # order, which the byte comparison already covered. A call from cursor
    # 0 that finished on both sides (cursor 0) must return the same
    # member/score pairs; otherwise only the shape is compared.
    err = _same_kind(a, b, "ZSCAN")
    if err or a.kind == "-":
        return err
    for r in (a, b):
        v = r.items()
        if len(v) != 2 or v[0].kind != "$" or not v[0].val.isdigit() or not v[1].is_agg() \
                or len(v[1].val) % 2:
            return "ZSCAN: malformed reply %r" % r
    if args[2:3] == [b"0"] and a.val[0].val == b"0" and b.val[0].val == b"0":
        pa = sorted(zip(*[iter(e.val for e in a.val[1].items())] * 2))
        pb = sorted(zip(*[iter(e.val for e in b.val[1].items())] * 2))
        return None if pa == pb else "ZSCAN pairs (sorted): %r vs %r" % (pa, pb)
    return None


def _zrandmember(args, a, b):
    # ZRANDMEMBER picks at random: the reply's shape and length must agree;
    # with a positive count at least the set's size the reply is the whole
    # set in both (compared sorted); errors are byte-identical.
    err = _same_kind(a, b, "ZRANDMEMBER")
    if err or not a.is_agg():
        return err
    if len(a.val) != len(b.val):
        return "ZRANDMEMBER: %d vs %d elements" % (len(a.val), len(b.val))
    try:
        count = int(args[2])
    except (IndexError, ValueError):
        return None
    withscores = len(args) > 3
    per = 2 if withscores and a.kind == "*" and (not a.val or a.val[0].kind != "*") else 1
    if count > 0 and len(a.val) // per < count:
        def norm(r):
            return sorted(repr(e) for e in r.items())
        return None if norm(a) == norm(b) else "ZRANDMEMBER whole set: differs"
    return None


def _set_members(args, a, b):
    # SMEMBERS, SINTER, SUNION, SDIFF of a hash-table set come out in each
    # server's own table order (an intset's are sorted in both, which the
    # byte comparison already covered): compared as sorted lists.
    return _sorted_agg(a, b, _u(args[0]))


def _sscan(args, a, b):
    # SSCAN of a hash-table set walks each server's own table: element order
    # and cursors differ. An intset is returned whole (cursor 0), sorted, so
    # the byte comparison already covered it. A call from cursor 0 that
    # finished on both sides (cursor 0) must return the same members;
    # otherwise only the shape is compared.
    err = _same_kind(a, b, "SSCAN")
    if err or a.kind == "-":
        return err
    for r in (a, b):
        v = r.items()
        if len(v) != 2 or v[0].kind != "$" or not v[0].val.isdigit() or not v[1].is_agg():
            return "SSCAN: malformed reply %r" % r
    if args[2:3] == [b"0"] and a.val[0].val == b"0" and b.val[0].val == b"0":
        return _sorted_agg(a.val[1], b.val[1], "SSCAN members (both iterations done)")
    return None


def _set_random(args, a, b):
    # SPOP and SRANDMEMBER pick members at random (Redis's choice is not
    # reproducible): the reply's type and length must agree, a positive
    # count must give distinct members, and a positive count above the
    # set's size (fewer members returned than asked) gives the whole set in
    # both, compared sorted. That every member returned was in the set is
    # checked by the harness (Pair.check_random_members), which also makes
    # the two servers' sets equal again after an SPOP.
    what = _u(args[0])
    err = _same_kind(a, b, what)
    if err or a.kind == "-" or not a.is_agg():
        return err
    if len(a.val) != len(b.val):
        return "%s: %d vs %d members" % (what, len(a.val), len(b.val))
    try:
        count = int(args[2])
    except (IndexError, ValueError):
        return None
    if count > 0:
        for r in (a, b):
            if len({e.val for e in r.items()}) != len(r.val):
                return "%s: repeated members in %r" % (what, r)
        if len(a.val) < count:
            return _sorted_agg(a, b, "%s (whole set)" % what)
    return None


def _elem_key(e):
    # an element of an unordered array: a bulk string, or (RESP3
    # HRANDFIELD WITHVALUES) a nested [field, value] array
    return tuple(x.val for x in e.items()) if e.is_agg() else (e.val,)


def _sorted_pairs(a, b, what):
    """Flat field/value arrays or maps whose pair order is unspecified:
    compare as sorted lists of pairs."""
    if a.kind != b.kind or not a.is_agg() or not b.is_agg():
        return None if a == b else "%s: differ" % what
    pa = sorted((k, v.val) for k, v in a.as_pairs())
    pb = sorted((k, v.val) for k, v in b.as_pairs())
    return None if pa == pb else "%s (sorted pairs): %r vs %r" % (what, pa, pb)


def _hash_all(args, a, b):
    # HGETALL / HKEYS / HVALS: a hashtable-encoded hash replies in its
    # table's order, which Redis leaves unspecified (COMMAND INFO tip
    # nondeterministic_output_order); the listpack order (insertion) is the
    # same on both servers but compared the same way for simplicity.
    cmd = _u(args[0])
    if cmd == "HGETALL":
        return _sorted_pairs(a, b, cmd)
    return _sorted_agg(a, b, cmd)


def _hscan(args, a, b):
    # One HSCAN step: a hashtable's cursor is a position in each server's
    # own table, so steps are compared by shape (full iterations by the
    # !hscan directive); a step that started at 0 and ended at 0 on both
    # (a listpack hash, or a small table) must hold the same pairs.
    err = _same_kind(a, b, "HSCAN")
    if err or a.kind == "-":
        return err
    for r in (a, b):
        v = r.items()
        if len(v) != 2 or v[0].kind != "$" or not v[0].val.isdigit() or not v[1].is_agg() \
                or len(v[1].items()) % 2:
            return "HSCAN: malformed reply %r" % r
    if args[2:3] == [b"0"] and a.val[0].val == b"0" and b.val[0].val == b"0":
        return _sorted_pairs(a.val[1], b.val[1], "HSCAN (both iterations done)")
    return None


def _hrandfield(args, a, b):
    # HRANDFIELD picks at random (Redis's own choice is random too): the
    # replies must have the same type and length, and errors must match.
    # Without a count the field is checked to exist by the harness
    # (RANDOM_FIELD_COMMANDS). With a positive count the picks are
    # distinct; a reply shorter than the count is the whole hash, and is
    # compared as a set.
    err = _same_kind(a, b, "HRANDFIELD")
    if err or a.kind == "-" or not a.is_agg():
        return err
    if len(a.items()) != len(b.items()):
        return "HRANDFIELD: %d vs %d elements" % (len(a.items()), len(b.items()))
    try:
        count = int(args[2])
    except (IndexError, ValueError):
        return None
    withvalues = len(args) > 3
    flat = withvalues and a.items() and not a.items()[0].is_agg()
    per = 2 if flat else 1

    def picks(r):
        v = r.items()
        if flat:
            return [(v[i].val, v[i + 1].val) for i in range(0, len(v), 2)]
        return [_elem_key(e) for e in v]
    pa, pb = picks(a), picks(b)
    if count > 0:
        if len(set(pa)) != len(pa) or len(set(pb)) != len(pb):
            return "HRANDFIELD: repeated picks with a positive count"
        if len(a.items()) < count * per and sorted(pa) != sorted(pb):
            return "HRANDFIELD (whole hash, sorted): %r vs %r" % (sorted(pa), sorted(pb))
    return None


RULES = {
    "HGETALL": _hash_all,
    "HKEYS": _hash_all,
    "HVALS": _hash_all,
    "HSCAN": _hscan,
    "HRANDFIELD": _hrandfield,
    "SMEMBERS": _set_members,
    "SINTER": _set_members,
    "SUNION": _set_members,
    "SDIFF": _set_members,
    "SSCAN": _sscan,
    "SPOP": _set_random,
    "SRANDMEMBER": _set_random,
    "ZSCAN": _zscan,
    "ZRANDMEMBER": _zrandmember,
    "KEYS": _keys,
    "SCAN": _scan,
    "TTL": _ttl,
    "PTTL": _ttl,
    "EXPIRETIME": _ttl,
    "PEXPIRETIME": _ttl,
    "OBJECT": _object,
    "TIME": _time,
    "HELLO": _hello,
    "INFO": _info,
    "CLIENT": _client,
    "COMMAND": _command,
    "DEBUG": _debug,
    "MEMORY": _memory,
    "SLOWLOG": _slowlog,
    "CONFIG": _config,
}

# Commands whose successful reply is a key chosen at random: compared by
# membership (harness.check_member asks both servers EXISTS <key>).
RANDOM_KEY_COMMANDS = {"RANDOMKEY"}
# Commands whose reply holds members of the set at argv[1] chosen at random:
# the harness checks each was a member (Pair.check_random_members); for the
# ones in RANDOM_POP_COMMANDS it then makes Lodestore's set equal to Redis's.
RANDOM_MEMBER_COMMANDS = {"SPOP", "SRANDMEMBER"}
RANDOM_POP_COMMANDS = {"SPOP"}


def compare(args, lode, redis):
    """None if equivalent, else a reason. lode/redis are raw reply bytes
    (or the marker b"<closed>" when the server closed the connection)."""
    if lode == redis:
        return None
    if lode == b"<closed>" or redis == b"<closed>":
        return "only one server closed the connection"
    rule = RULES.get(_u(args[0]))
    if rule is None:
        if _u(args[0]) in RANDOM_KEY_COMMANDS:
            return _same_kind(parse(lode), parse(redis), "RANDOMKEY")
        return "replies differ"
    try:
        a, b = parse(lode), parse(redis)
    except (ValueError, IndexError) as e:
        return "unparseable reply: %s" % e
    return rule(args, a, b)


# MONITOR lines: "+<unix time>.<micros> [<db> <client addr>] "cmd" "arg"...":
# the time and the client's address are process facts; the db and the
# quoted command (with Redis's escaping of binary bytes) must be identical.
MONITOR_LINE = re.compile(rb"^\+(\d+)\.(\d{6}) \[(\d+) (\S+)\] (.*)\r\n$", re.S)


def monitor_line(line):
    m = MONITOR_LINE.match(line)
    if not m:
        return None
    return (m.group(3), m.group(5))

