"""Seed-driven random command sequences for the hash commands over a small
key space: five hash keys, one string key (WRONGTYPE paths) and a key that
is sometimes a string, sometimes a hash. Fields come from a small pool
(with binary and long ones) so updates, deletes and conversions happen
often; the thresholds are lowered or raised now and then (CONFIG SET, which
the harness restores after the sequence) so both encodings and the
conversion between them are exercised. TTLs are far in the future only.
"""
import random

KEYS = [b"h0", b"h1", b"h2", b"h3", b"h\x00\xff", b"s", b"x"]
FIELDS = [b"f0", b"f1", b"f2", b"f3", b"f4", b"f5", b"", b"\x00", b"a b", b"\r\n", b"10",
          b"-3", b"fld" * 10, b"L" * 70]
NUMS = [b"0", b"1", b"-1", b"7", b"42", b"-100", b"9223372036854775807",
        b"-9223372036854775808", b"1.5", b"-0.25", b"3e2", b"", b" 1", b"010", b"abc"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def key(self):
        r = self.r
        return r.choice(KEYS[:5]) if r.random() < 0.85 else r.choice(KEYS)

    def field(self):
        return self.r.choice(FIELDS)

    def value(self):
        r = self.r
        c = r.random()
        if c < 0.4:
            return r.choice(NUMS)
        if c < 0.5:
            return b"%d" % r.randint(-1000, 1000)
        if c < 0.55:
            return b"v" * r.choice([63, 64, 65, 100])
        n = r.randint(0, 10)
        return bytes(r.choice(b"ab\x00\xff\r\n01") for _ in range(n))

    def pairs(self, lo=1, hi=4):
        out = []
        for _ in range(self.r.randint(lo, hi)):
            out += [self.field(), self.value()]
        return out

    def fields(self, lo=1, hi=3):
        return [self.field() for _ in range(self.r.randint(lo, hi))]

    def command(self):
        r, k = self.r, self.key
        c = r.randrange(40)
        if c < 5:
            return [b"HSET", k()] + self.pairs()
        if c == 5:
            return [b"HMSET", k()] + self.pairs()
        if c == 6:
            return [b"HSETNX", k(), self.field(), self.value()]
        if c < 9:
            return [b"HGET", k(), self.field()]
        if c == 9:
            return [b"HMGET", k()] + self.fields()
        if c < 12:
            return [b"HDEL", k()] + self.fields()
        if c == 12:
            return [b"HLEN", k()]
        if c == 13:
            return [b"HEXISTS", k(), self.field()]
        if c == 14:
            return [r.choice([b"HGETALL", b"HKEYS", b"HVALS"]), k()]
        if c < 17:
            return [b"HINCRBY", k(), self.field(),
                    r.choice([b"1", b"-5", b"100", b"x", b"9223372036854775807", b"1.5",
                              b"12345678901234"])]
        if c == 17:
            return [b"HINCRBYFLOAT", k(), self.field(),
                    r.choice([b"1.5", b"-0.25", b"10", b"1e2", b"abc", b"0.1", b"inf",
                              b"1e-5", b"123456789012345678901234567890"])]
        if c == 18:
            return [b"HSTRLEN", k(), self.field()]
        if c == 19:
            opt = r.choice([[], [b"%d" % r.randint(-6, 8)],
                            [b"%d" % r.randint(-6, 8), b"WITHVALUES"], [b"x"],
                            [b"2", b"WITHVALS"]])
            return [b"HRANDFIELD", k()] + opt
        if c == 20:
            opt = r.choice([[], [b"COUNT", b"2"], [b"MATCH", b"f*"], [b"MATCH", b"f[0-2]",
                                                                      b"COUNT", b"100"],
                            [b"COUNT", b"0"]])
            return [b"HSCAN", k(), b"0"] + opt
        if c == 21:
            return [b"!hscan", r.choice(KEYS[:5])] + r.choice([[], [b"COUNT", b"1"],
                                                                [b"MATCH", b"*f*"]])
        if c == 22:
            return [b"OBJECT", b"ENCODING", k()]
        if c == 23:
            return [r.choice([b"DEL", b"EXISTS", b"TYPE"]), k()]
        if c == 24:
            return [b"SET", r.choice([b"s", b"x"]), self.value()]
        if c == 25:
            return [b"GET", k()]
        if c == 26:
            if r.random() < 0.5:
                return [b"RENAME", k(), k()]
            return [b"COPY", k(), k()] + r.choice([[], [b"REPLACE"]])
        if c == 27:
            return [b"EXPIRE", k(), b"%d" % r.randint(1000, 100000)]
        if c == 28:
            opt = r.choice([(b"hash-max-listpack-entries", [b"0", b"2", b"4", b"512"]),
                            (b"hash-max-listpack-value", [b"0", b"3", b"8", b"64"])])
            return [b"CONFIG", b"SET", opt[0], r.choice(opt[1])]
        if c == 29:
            return [b"PERSIST", k()]
        # keep hashes populated
        if c < 36:
            return [b"HSET", k()] + self.pairs(1, 2)
        return [b"HGET", k(), self.field()]

    def sequence(self, n):
        return [self.command() for _ in range(n)]
