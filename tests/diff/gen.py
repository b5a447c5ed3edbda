"""Seed-driven random command sequences over a small keyspace (8 keys, two
databases) for the string, bitmap, keyspace and expiry commands.

Only deterministic expiries are generated: far in the future (>= 1000 s)
or already past (<= 0 s, timestamps in the past), so both servers agree on
which keys exist at every step.
"""
import random
import time

KEYS = [b"k%d" % i for i in range(7)] + [b"k\x00\xff"]
INTS = [b"0", b"1", b"-1", b"7", b"42", b"-100", b"255", b"9223372036854775807",
        b"-9223372036854775808", b"9223372036854775808", b"1.5", b"3e2", b"", b" 1", b"010"]
BFTYPES = [b"u1", b"i1", b"u4", b"i4", b"u8", b"i8", b"u16", b"i16", b"u32", b"i32", b"i64",
           b"u63", b"u64", b"i65", b"x8"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.serial = 0

    def uniq(self, lo, hi):
        """A random value in [lo, hi*1000) never produced before in this
        sequence: EXPIRE ... GT/LT on two equal TTLs given a few ms apart
        would depend on timing."""
        self.serial += 1
        return self.r.randint(lo, hi) * 1000 + self.serial

    def key(self):
        return self.r.choice(KEYS)

    def value(self):
        r = self.r
        c = r.random()
        if c < 0.35:
            return r.choice(INTS)
        if c < 0.45:
            return b"%d" % r.randint(-1000, 1000)
        if c < 0.55:
            return b"%.3f" % r.uniform(-100, 100)
        n = r.randint(0, 12)
        return bytes(r.choice(b"ab\x00\xff\r\n01") for _ in range(n))

    def small(self, lo=-20, hi=40):
        r = self.r
        if r.random() < 0.1:
            return r.choice([b"abc", b"9223372036854775807", b"-9223372036854775808", b"1.5"])
        return b"%d" % r.randint(lo, hi)

    def ttl_s(self):
        r = self.r
        return r.choice([b"%d" % self.uniq(1, 100), b"0", b"-5", b"abc",
                         b"%d" % self.uniq(1, 5)])

    def abs_s(self):
        now = int(time.time())
        return self.r.choice([b"%d" % (now + self.uniq(1, 100)), b"1", b"0",
                              b"%d" % (now - 10)])

    def expire_opt(self):
        return self.r.choice([[], [], [b"NX"], [b"XX"], [b"GT"], [b"LT"], [b"NX", b"XX"]])

    def bitfield_ops(self, ro=False):
        r = self.r
        ops = []
        for _ in range(r.randint(1, 3)):
            t = r.choice(BFTYPES) if r.random() < 0.9 else b"u8"
            off = (b"#%d" % r.randint(0, 6)) if r.random() < 0.3 else (b"%d" % r.randint(0, 60))
            c = r.random()
            if ro or c < 0.4:
                ops += [b"GET", t, off]
            elif c < 0.7:
                ops += [b"SET", t, off, self.small(-300, 300)]
            elif c < 0.9:
                ops += [b"INCRBY", t, off, self.small(-300, 300)]
            else:
                ops += [b"OVERFLOW", r.choice([b"WRAP", b"SAT", b"FAIL", b"bad"])]
        return ops

    def command(self):
        r, k = self.r, self.key
        c = r.randrange(64)
        if c == 0:
            return [b"SET", k(), self.value()]
        if c == 1:
            opts = r.choice([[], [b"NX"], [b"XX"], [b"GET"], [b"NX", b"GET"], [b"XX", b"GET"],
                             [b"EX", self.ttl_s()], [b"PX", self.ttl_s() + b"000"],
                             [b"KEEPTTL"], [b"EXAT", self.abs_s()], [b"PXAT", self.abs_s()],
                             [b"EX", b"1000", b"KEEPTTL"]])
            return [b"SET", k(), self.value()] + opts
        if c == 2:
            return [b"GET", k()]
        if c == 3:
            return [b"SETNX", k(), self.value()]
        if c == 4:
            return [b"SETEX", k(), self.ttl_s(), self.value()]
        if c == 5:
            return [b"PSETEX", k(), self.ttl_s() + b"000", self.value()]
        if c == 6:
            return [b"MGET"] + [k() for _ in range(r.randint(1, 4))]
        if c == 7:
            return [b"MSET"] + sum(([k(), self.value()] for _ in range(r.randint(1, 3))), [])
        if c == 8:
            return [b"MSETNX"] + sum(([k(), self.value()] for _ in range(r.randint(1, 3))), [])
        if c == 9:
            return [b"GETSET", k(), self.value()]
        if c == 10:
            return [b"GETDEL", k()]
        if c == 11:
            opt = r.choice([[], [b"PERSIST"], [b"EX", self.ttl_s()], [b"PX", self.ttl_s()],
                            [b"EXAT", self.abs_s()], [b"PXAT", self.abs_s()], [b"EX"]])
            return [b"GETEX", k()] + opt
        if c in (12, 13):
            return [r.choice([b"INCR", b"DECR"]), k()]
        if c == 14:
            return [r.choice([b"INCRBY", b"DECRBY"]), k(), self.small(-1000, 1000)]
        if c == 15:
            return [b"INCRBYFLOAT", k(), r.choice([b"1.5", b"-0.25", b"10", b"1e2", b"abc",
                                                   b"0.1", b"-3"])]
        if c == 16:
            return [b"APPEND", k(), self.value()]
        if c == 17:
            return [b"STRLEN", k()]
        if c == 18:
            return [r.choice([b"GETRANGE", b"SUBSTR"]), k(), self.small(), self.small()]
        if c == 19:
            return [b"SETRANGE", k(), b"%d" % r.randint(0, 40), self.value()]
        if c == 20:
            opt = r.choice([[], [b"LEN"], [b"IDX"], [b"IDX", b"WITHMATCHLEN"],
                            [b"IDX", b"MINMATCHLEN", b"%d" % r.randint(0, 3)], [b"LEN", b"IDX"]])
            return [b"LCS", k(), k()] + opt
        if c in (21, 22):
            return [b"SETBIT", k(), b"%d" % r.randint(0, 100), r.choice([b"0", b"1", b"1", b"2"])]
        if c == 23:
            return [b"GETBIT", k(), b"%d" % r.randint(0, 120)]
        if c == 24:
            rng = r.choice([[], [self.small(), self.small()],
                            [self.small(), self.small(), r.choice([b"BIT", b"BYTE"])]])
            return [b"BITCOUNT", k()] + rng
        if c == 25:
            rng = r.choice([[], [self.small()], [self.small(), self.small()],
                            [self.small(), self.small(), r.choice([b"BIT", b"BYTE"])]])
            return [b"BITPOS", k(), r.choice([b"0", b"1"])] + rng
        if c == 26:
            op = r.choice([b"AND", b"OR", b"XOR", b"NOT"])
            n = 1 if op == b"NOT" else r.randint(1, 3)
            return [b"BITOP", op, k()] + [k() for _ in range(n)]
        if c in (27, 28):
            return [b"BITFIELD", k()] + self.bitfield_ops()
        if c == 29:
            return [b"BITFIELD_RO", k()] + self.bitfield_ops(ro=True)
        if c == 30:
            return [r.choice([b"DEL", b"UNLINK"])] + [k() for _ in range(r.randint(1, 3))]
        if c == 31:
            return [r.choice([b"EXISTS", b"TOUCH"])] + [k() for _ in range(r.randint(1, 3))]
        if c == 32:
            return [b"TYPE", k()]
        if c == 33:
            return [r.choice([b"RENAME", b"RENAMENX"]), k(), k()]
        if c == 34:
            opt = r.choice([[], [b"REPLACE"], [b"DB", b"1"], [b"DB", b"1", b"REPLACE"],
                            [b"DB", b"0"]])
            return [b"COPY", k(), k()] + opt
        if c == 35:
            return [b"MOVE", k(), r.choice([b"0", b"1"])]
        if c == 36:
            return [b"SELECT", r.choice([b"0", b"1"])]
        if c == 37:
            return [b"SWAPDB", b"0", b"1"]
        if c == 38:
            return [b"DBSIZE"]
        if c == 39:
            return [b"KEYS", r.choice([b"*", b"k[0-3]", b"k?", b"*\x00*", b"x*"])]
        if c == 40:
            return [b"RANDOMKEY"]
        if c in (41, 42):
            return [b"EXPIRE", k(), self.ttl_s()] + self.expire_opt()
        if c == 43:
            return [b"PEXPIRE", k(), self.ttl_s() + b"000"] + self.expire_opt()
        if c == 44:
            return [b"EXPIREAT", k(), self.abs_s()] + self.expire_opt()
        if c == 45:
            return [b"PEXPIREAT", k(), self.abs_s() + b"000"] + self.expire_opt()
        if c in (46, 47):
            return [r.choice([b"TTL", b"PTTL", b"EXPIRETIME", b"PEXPIRETIME"]), k()]
        if c == 48:
            return [b"PERSIST", k()]
        if c == 49:
            return [b"OBJECT", b"ENCODING", k()]
        if c == 50:
            return [b"!scan"] + r.choice([[], [b"COUNT", b"2"], [b"MATCH", b"k[1-5]"],
                                           [b"TYPE", b"string"]])
        if c == 51:
            return [b"FLUSHDB"] if r.random() < 0.2 else [b"DBSIZE"]
        # the most common operations again, to keep keys populated
        if c < 56:
            return [b"SET", k(), self.value()]
        if c < 59:
            return [b"GET", k()]
        if c < 61:
            return [b"INCR", k()]
        return [b"SETBIT", k(), b"%d" % r.randint(0, 40), b"1"]

    def sequence(self, n):
        return [self.command() for _ in range(n)]
