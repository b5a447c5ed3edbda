"""Bitmap commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD,
BITFIELD_RO): exact reply bytes and error texts, and randomized
cross-checks against a Python model of Redis 7.0's semantics. Every test
also passes against redis-server (LODE_TARGET=redis), which proves that the
model and the expected bytes are Redis's own behaviour."""
import random

import pytest
import redis


# ---- a Python model of the commands ----

def bit_of(buf, pos):
    return (buf[pos >> 3] >> (7 - (pos & 7))) & 1 if (pos >> 3) < len(buf) else 0


def set_bit(buf, pos, v):
    need = (pos >> 3) + 1
    if len(buf) < need:
        buf.extend(b"\0" * (need - len(buf)))
    old = bit_of(buf, pos)
    if v:
        buf[pos >> 3] |= 0x80 >> (pos & 7)
    else:
        buf[pos >> 3] &= ~(0x80 >> (pos & 7)) & 0xFF
    return old


def clip(start, end, isbit, n):
    total = n * 8 if isbit else n
    if start < 0:
        start += total
    if end < 0:
        end += total
    start = max(start, 0)
    end = max(end, 0)
    end = min(end, total - 1)
    if start > end:
        return None
    return (start, end) if isbit else (start * 8, end * 8 + 7)


def model_bitcount(buf, start=None, end=None, unit="byte"):
    if buf is None:
        return 0
    if start is None:
        return sum(bin(b).count("1") for b in buf)
    if start < 0 and end < 0 and start > end:
        return 0
    r = clip(start, end, unit.lower() == "bit", len(buf))
    if r is None:
        return 0
    return sum(bit_of(buf, i) for i in range(r[0], r[1] + 1))


def model_bitpos(buf, bit, start=None, end=None, unit="byte"):
    if buf is None:
        return -1 if bit else 0
    s = 0 if start is None else start
    e = len(buf) - 1 if end is None else end
    r = clip(s, e, unit.lower() == "bit", len(buf))
    if r is None:
        return -1
    for i in range(r[0], r[1] + 1):
        if bit_of(buf, i) == bit:
            return i
    # no explicit end: the string continues with zeros to the right
    return r[1] + 1 if bit == 0 and end is None else -1


def model_bitop(op, srcs):
    maxlen = max((len(s) for s in srcs if s is not None), default=0)
    if maxlen == 0:
        return None
    pad = [bytes(s or b"").ljust(maxlen, b"\0") for s in srcs]
    out = bytearray(pad[0])
    if op == "not":
        return bytes(~b & 0xFF for b in out)
    for p in pad[1:]:
        for i in range(maxlen):
            out[i] = {"and": out[i] & p[i], "or": out[i] | p[i], "xor": out[i] ^ p[i]}[op]
    return bytes(out)


def bf_get(buf, off, signed, bits):
    v = 0
    for i in range(bits):
        v = (v << 1) | bit_of(buf, off + i)
    if signed and v >> (bits - 1):
        v -= 1 << bits
    return v


def bf_set(buf, off, bits, v):
    for i in range(bits):
        set_bit(buf, off + i, (v >> (bits - 1 - i)) & 1)


def model_bitfield(buf, ops):
    """ops: list of (op, signed, bits, offset, arg, overflow); returns the
    reply list. buf (a bytearray) is updated in place."""
    out = []
    writes = [o for o in ops if o[0] != "get"]
    if writes:
        need = max(o[3] + o[2] - 1 for o in writes) // 8 + 1
        if len(buf) < need:
            buf.extend(b"\0" * (need - len(buf)))
    for op, signed, bits, off, arg, ow in ops:
        old = bf_get(buf, off, signed, bits)
        if op == "get":
            out.append(old)
            continue
        lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
        if op == "incrby":
            want = old + arg
        else:
            want = arg if signed else arg % (1 << 64)  # unsigned SET: a 64-bit pattern
        if lo <= want <= hi:
            new = want
        elif ow == "fail":
            out.append(None)
            continue
        elif ow == "sat":
            new = lo if want < lo else hi
            # Redis computes hi - value in 64 bits; a signed SET so far below
            # the range that this overflows is taken for a positive overflow
            if signed and op == "set" and bits < 64 and hi - want > 2 ** 63 - 1:
                new = hi
        else:
            new = want % (1 << bits)
            if signed and new > hi:
                new -= 1 << bits
        bf_set(buf, off, bits, new % (1 << bits))
        out.append(new if op == "incrby" else old)
    return out


# ---- exact replies ----

def test_setbit_getbit_bytes(raw):
    assert raw.call("SETBIT", "k", 7, 1) == b":0\r\n"
    assert raw.call("SETBIT", "k", 7, 1) == b":1\r\n"
    assert raw.call("GETBIT", "k", 7) == b":1\r\n"
    assert raw.call("GETBIT", "k", 100) == b":0\r\n"
    assert raw.call("GETBIT", "nokey", 0) == b":0\r\n"
    assert raw.call("SETBIT", "k", 23, 1) == b":0\r\n"
    assert raw.call("GET", "k") == b"$3\r\n\x01\x00\x01\r\n"
    # an integer-encoded value is read and written as its digits
    assert raw.call("SET", "n", "12") == b"+OK\r\n"
    assert raw.call("GETBIT", "n", 2) == b":1\r\n"
    assert raw.call("SETBIT", "n", 0, 1) == b":0\r\n"
    assert raw.call("GET", "n") == b"$2\r\n\xb12\r\n"


def test_errors_bytes(raw):
    off = b"-ERR bit offset is not an integer or out of range\r\n"
    bit = b"-ERR bit is not an integer or out of range\r\n"
    notint = b"-ERR value is not an integer or out of range\r\n"
    syntax = b"-ERR syntax error\r\n"
    bftype = (b"-ERR Invalid bitfield type. Use something like i16 u8. "
              b"Note that u64 is not supported but i64 is.\r\n")
    assert raw.call("SETBIT", "k", -1, 1) == off
    assert raw.call("SETBIT", "k", 4294967296, 1) == off
    assert raw.call("SETBIT", "k", "x", "x") == off
    assert raw.call("SETBIT", "k", 1, 2) == bit
    assert raw.call("SETBIT", "k", 1, "on") == bit
    assert raw.call("GETBIT", "k", "1.5") == off
    assert raw.call("SETBIT", "k", 1) == b"-ERR wrong number of arguments for 'setbit' command\r\n"
    raw.call("SET", "s", "foobar")
    assert raw.call("BITCOUNT", "s", 0) == syntax
    assert raw.call("BITCOUNT", "s", 0, 1, "bits") == syntax
    assert raw.call("BITCOUNT", "s", "a", 1, "bits") == notint
    assert raw.call("BITCOUNT", "nokey", "a", "b") == b":0\r\n"
    assert raw.call("BITPOS", "s", 2) == b"-ERR The bit argument must be 1 or 0.\r\n"
    assert raw.call("BITPOS", "s", "x") == notint
    assert raw.call("BITPOS", "s", 1, 0, "a", "bad") == syntax
    assert raw.call("BITPOS", "s", 1, 0, "a", "bit") == notint
    assert raw.call("BITPOS", "s", 1, 0, 1, "bit", "x") == syntax
    assert raw.call("BITPOS", "nokey", 0, "a") == b":0\r\n"
    assert raw.call("BITOP", "nand", "d", "s") == syntax
    assert raw.call("BITOP", "not", "d", "s", "s") == \
        b"-ERR BITOP NOT must be called with a single source key.\r\n"
    assert raw.call("BITFIELD", "k", "get", "u64", 0) == bftype
    assert raw.call("BITFIELD", "k", "get", "i65", 0) == bftype
    assert raw.call("BITFIELD", "k", "get", "u0", 0) == bftype
    assert raw.call("BITFIELD", "k", "get", "u8", "#-1") == off
    assert raw.call("BITFIELD", "k", "get", "u8", "#536870912") == off
    assert raw.call("BITFIELD", "k", "overflow", "nope") == \
        b"-ERR Invalid OVERFLOW type specified\r\n"
    assert raw.call("BITFIELD", "k", "get", "u8") == syntax
    assert raw.call("BITFIELD", "k", "incrby", "u8", 0, "x") == notint
    assert raw.call("BITFIELD_RO", "k", "set", "u8", 0, 1) == \
        b"-ERR BITFIELD_RO only supports the GET subcommand\r\n"
    assert raw.call("BITFIELD_RO", "k", "set", "u8", 0) == syntax
    assert raw.call("GET", "k") == b"$-1\r\n"


def test_offset_limit_follows_proto_max_bulk_len(raw):
    assert raw.call("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"+OK\r\n"
    assert raw.call("SETBIT", "k", 8388607, 1) == b":0\r\n"
    assert raw.call("SETBIT", "k", 8388608, 1) == \
        b"-ERR bit offset is not an integer or out of range\r\n"
    assert raw.call("BITFIELD", "k", "get", "u8", "#1048575") == b"*1\r\n:1\r\n"
    assert raw.call("BITFIELD", "k", "get", "u8", "#1048576") == \
        b"-ERR bit offset is not an integer or out of range\r\n"
    assert raw.call("BITCOUNT", "k") == b":1\r\n"
    assert raw.call("BITPOS", "k", 1) == b":8388607\r\n"


def test_bitcount_bitpos_bytes(raw):
    raw.call("SET", "s", "foobar")
    assert raw.call("BITCOUNT", "s") == b":26\r\n"
    assert raw.call("BITCOUNT", "s", 1, 1) == b":6\r\n"
    assert raw.call("BITCOUNT", "s", 5, 30, "BIT") == b":17\r\n"
    assert raw.call("BITCOUNT", "s", -50, -100) == b":0\r\n"
    raw.call("SET", "k", b"\xff\xf0\x00")
    assert raw.call("BITPOS", "k", 0) == b":12\r\n"
    assert raw.call("BITPOS", "k", 1, 2) == b":-1\r\n"
    assert raw.call("BITPOS", "k", 1, 5, 8, "bit") == b":5\r\n"
    raw.call("SET", "ones", b"\xff\xff")
    assert raw.call("BITPOS", "ones", 0) == b":16\r\n"
    assert raw.call("BITPOS", "ones", 0, 0, -1) == b":-1\r\n"
    assert raw.call("BITPOS", "nokey", 0) == b":0\r\n"
    assert raw.call("BITPOS", "nokey", 1) == b":-1\r\n"


def test_bitop_bytes(raw):
    raw.call("SET", "a", "abc")
    raw.call("SET", "b", "x1234")
    assert raw.call("BITOP", "AND", "d", "a", "b") == b":5\r\n"
    assert raw.call("GET", "d") == b"$5\r\n` \"\x00\x00\r\n"
    assert raw.call("BITOP", "NOT", "d", "a") == b":3\r\n"
    assert raw.call("GET", "d") == b"$3\r\n\x9e\x9d\x9c\r\n"
    # an empty result deletes the destination
    assert raw.call("BITOP", "OR", "d", "nokey1", "nokey2") == b":0\r\n"
    assert raw.call("GET", "d") == b"$-1\r\n"


def test_bitfield_bytes(raw):
    assert raw.call("BITFIELD", "k", "overflow", "fail", "set", "u8", 0, 300,
                    "incrby", "u8", 0, 1, "get", "u8", 0) == b"*3\r\n$-1\r\n:1\r\n:1\r\n"
    assert raw.call("BITFIELD", "k", "set", "i8", 0, 200, "overflow", "sat",
                    "incrby", "i8", 0, -100, "incrby", "i8", 0, -100) == \
        b"*3\r\n:1\r\n:-128\r\n:-128\r\n"
    assert raw.call("BITFIELD", "k", "set", "u8", "#1", 171, "get", "i8", 8) == \
        b"*2\r\n:0\r\n:-85\r\n"
    assert raw.call("BITFIELD", "nokey") == b"*0\r\n"
    assert raw.call("BITFIELD", "nokey", "overflow", "sat") == b"*0\r\n"
    assert raw.call("GET", "nokey") == b"$-1\r\n"
    assert raw.call("BITFIELD_RO", "k", "get", "u16", 0, "get", "u4", 100) == \
        b"*2\r\n:32939\r\n:0\r\n"
    # RESP3 nil for a refused write
    assert raw.call("HELLO", 3).startswith(b"%")
    assert raw.call("BITFIELD", "k", "overflow", "fail", "incrby", "u2", 0, 9) == b"*1\r\n_\r\n"


# ---- randomized cross-checks against the model ----

def test_random_setbit_bitcount_bitpos(r):
    rnd = random.Random(7001)
    models = {}
    for round_ in range(6):
        key = "bm%d" % round_
        buf = bytearray()
        p = r.pipeline(transaction=False)
        want = []
        width = rnd.choice([8, 64, 300, 2000])
        dense = rnd.random()
        for _ in range(rnd.randrange(1, 200)):
            pos = rnd.randrange(width)
            v = 1 if rnd.random() < dense else 0
            want.append(set_bit(buf, pos, v))
            p.setbit(key, pos, v)
        assert p.execute() == want
        assert r.get(key) == bytes(buf)
        models[key] = bytes(buf)
        n = len(buf)
        p = r.pipeline(transaction=False)
        want = []
        for _ in range(300):
            s = rnd.randrange(-n * 8 - 10, n * 8 + 10)
            e = rnd.randrange(-n * 8 - 10, n * 8 + 10)
            unit = rnd.choice(["BIT", "byte", None])
            if unit is None:
                s, e = s // 8, e // 8
                want.append(model_bitcount(buf, s, e))
                p.execute_command("BITCOUNT", key, s, e)
            else:
                want.append(model_bitcount(buf, s, e, unit))
                p.execute_command("BITCOUNT", key, s, e, unit)
            b = rnd.randrange(2)
            form = rnd.randrange(4)
            if form == 0:
                want.append(model_bitpos(buf, b))
                p.execute_command("BITPOS", key, b)
            elif form == 1:
                want.append(model_bitpos(buf, b, s // 8))
                p.execute_command("BITPOS", key, b, s // 8)
            elif form == 2:
                want.append(model_bitpos(buf, b, s // 8, e // 8))
                p.execute_command("BITPOS", key, b, s // 8, e // 8)
            else:
                u = rnd.choice(["bit", "BYTE"])
                want.append(model_bitpos(buf, b, s, e, u))
                p.execute_command("BITPOS", key, b, s, e, u)
        want.append(model_bitcount(buf))
        p.execute_command("BITCOUNT", key)
        assert p.execute() == want
    # whole runs of 0x00 / 0xff bytes (the word-skipping paths)
    for fill, bit in ((0x00, 1), (0xFF, 0)):
        for n in (1, 7, 8, 9, 64, 100):
            for pos in (0, n * 8 // 2, n * 8 - 1):
                buf = bytearray([fill] * n)
                set_bit(buf, pos, bit)
                r.set("run", bytes(buf))
                assert r.bitpos("run", bit) == model_bitpos(buf, bit) == pos
                assert r.execute_command("BITPOS", "run", bit, 1, -1, "BIT") == \
                    model_bitpos(buf, bit, 1, -1, "BIT")
                assert r.bitcount("run") == model_bitcount(buf)


def test_random_bitop(r):
    rnd = random.Random(7002)
    for _ in range(60):
        keys = ["s0", "s1", "s2", "s3"]
        vals = {}
        for k in keys:
            if rnd.random() < 0.2:
                r.delete(k)
                vals[k] = None
            else:
                v = bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 1, 3, 8, 17, 40])))
                r.set(k, v)
                vals[k] = v
        op = rnd.choice(["and", "or", "xor", "not"])
        srcs = [rnd.choice(keys)] if op == "not" else \
            [rnd.choice(keys) for _ in range(rnd.randrange(1, 5))]
        want = model_bitop(op, [vals[k] for k in srcs])
        assert r.bitop(op, "dest", *srcs) == (len(want) if want else 0)
        assert r.get("dest") == want
    # the destination may also be a source
    r.set("d2", b"\x0f\xf0")
    r.set("m", b"\xff")
    assert r.bitop("and", "d2", "d2", "m") == 2
    assert r.get("d2") == b"\x0f\x00"


def random_bitfield_ops(rnd, width):
    ops, args, ow = [], [], "wrap"
    for _ in range(rnd.randrange(1, 6)):
        if rnd.random() < 0.3:
            ow = rnd.choice(["wrap", "sat", "fail"])
            args += ["OVERFLOW", ow]
        signed = rnd.random() < 0.5
        bits = rnd.randrange(1, 65 if signed else 64)
        typ = ("i" if signed else "u") + str(bits)
        kind = rnd.choice(["get", "set", "incrby"])
        if rnd.random() < 0.2:
            idx = rnd.randrange(width // bits + 2)
            off, offarg = idx * bits, "#%d" % idx
        else:
            off = rnd.randrange(width)
            offarg = off
        if kind == "get":
            ops.append(("get", signed, bits, off, 0, ow))
            args += ["GET", typ, offarg]
            continue
        arg = rnd.choice([rnd.randrange(-2 ** 63, 2 ** 63), rnd.randrange(-300, 300),
                          rnd.randrange(-(1 << min(bits, 63)), 1 << min(bits, 63))])
        ops.append((kind, signed, bits, off, arg, ow))
        args += [kind.upper(), typ, offarg, arg]
    return ops, args


def test_random_bitfield(r):
    rnd = random.Random(7003)
    buf = bytearray()
    for i in range(400):
        if i % 50 == 0:
            r.delete("bf")
            buf = bytearray()
        ops, args = random_bitfield_ops(rnd, 200)
        want = model_bitfield(buf, ops)
        assert r.execute_command("BITFIELD", "bf", *args) == want, args
        if i % 10 == 0:
            assert (r.get("bf") or b"") == bytes(buf)
            gets = [("get", s, b, o, 0, "wrap") for (_, s, b, o, _, _) in ops]
            ro_args = []
            for (_, s, b, o, _, _) in gets:
                ro_args += ["GET", ("i" if s else "u") + str(b), o]
            assert r.execute_command("BITFIELD_RO", "bf", *ro_args) == \
                model_bitfield(buf, gets)


def test_bitfield_ro_missing_key(r):
    assert r.execute_command("BITFIELD_RO", "nokey", "GET", "i64", 0, "GET", "u1", 5) == [0, 0]
    assert r.get("nokey") is None
    with pytest.raises(redis.ResponseError, match="only supports the GET subcommand"):
        r.execute_command("BITFIELD_RO", "nokey", "INCRBY", "u8", 0, 1)


def test_bitfield_sat_signed_set_far_below_range(r):
    """Redis 7.0 saturates a signed SET to the maximum when max - value
    overflows 64 bits (a quirk of its overflow check), else to the minimum."""
    cases = [(8, -9223372036854775681, 127), (8, -9223372036854775680, -128),
             (63, -9223372036854775808, 4611686018427387903),
             (62, -6917529027641081856, -2305843009213693952),
             (62, -6917529027641081857, 2305843009213693951),
             (64, -9223372036854775808, -9223372036854775808)]
    for bits, value, stored in cases:
        buf = bytearray()
        ops = [("set", True, bits, 3, value, "sat"), ("get", True, bits, 3, 0, "sat")]
        assert model_bitfield(buf, ops) == [0, stored]
        r.delete("q")
        assert r.execute_command("BITFIELD", "q", "OVERFLOW", "SAT", "SET", "i%d" % bits, 3,
                                 value, "GET", "i%d" % bits, 3) == [0, stored]
        assert r.get("q") == bytes(buf)
    rnd = random.Random(7004)
    buf = bytearray()
    r.delete("q")
    for _ in range(200):
        bits = rnd.randrange(1, 65)
        value = rnd.randrange(-2 ** 63, 0)
        ops = [("set", True, bits, rnd.randrange(64), value, rnd.choice(["sat", "wrap", "fail"]))]
        args = ["OVERFLOW", ops[0][5], "SET", "i%d" % bits, ops[0][3], value]
        assert r.execute_command("BITFIELD", "q", *args) == model_bitfield(buf, ops)
    assert r.get("q") == bytes(buf)
