"""Seed-driven random set command sequences over a small keyspace: six
keys, members drawn so that sets cross the intset/hashtable boundary
(canonical integers of every width, non-canonical integers, strings,
binary bytes) under a low set-max-intset-entries (set per sequence), every
set command, and string keys mixed in for the WRONGTYPE paths. SPOP and
SRANDMEMBER replies are checked for membership and SPOP's state is
re-aligned by the harness (harness.check_random_members)."""
import random

KEYS = [b"s0", b"s1", b"s2", b"s3", b"s4", b"str"]
INTS = [b"0", b"1", b"-1", b"7", b"42", b"-100", b"32767", b"32768", b"-32769", b"70000",
        b"2147483648", b"-2147483649", b"9223372036854775807", b"-9223372036854775808"]
ODD = [b"01", b"-0", b"+1", b" 1", b"1.5", b"9223372036854775808", b"", b"a", b"b", b"c",
       b"member", b"\x00\xff", b"a b"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)
        # small limits make conversions frequent; 512 is Redis's default
        self.limit = self.r.choice([2, 4, 8, 16, 512])

    def key(self):
        return self.r.choice(KEYS) if self.r.random() < 0.9 else b"missing"

    def member(self):
        r = self.r
        c = r.random()
        if c < 0.5:
            return b"%d" % r.randint(0, 20)
        if c < 0.75:
            return r.choice(INTS)
        return r.choice(ODD)

    def members(self, lo=1, hi=6):
        return [self.member() for _ in range(self.r.randint(lo, hi))]

    def keys(self, lo=1, hi=3):
        return [self.key() for _ in range(self.r.randint(lo, hi))]

    def count(self):
        r = self.r
        return r.choice([b"%d" % r.randint(0, 8), b"%d" % r.randint(-8, -1), b"100", b"x",
                         b"-9223372036854775808", b"1"])

    def command(self):
        r, k = self.r, self.key
        c = r.randrange(40)
        if c < 8:
            return [b"SADD", k()] + self.members()
        if c < 11:
            return [b"SREM", k()] + self.members()
        if c == 11:
            return [b"SMEMBERS", k()]
        if c == 12:
            return [b"SISMEMBER", k(), self.member()]
        if c == 13:
            return [b"SMISMEMBER", k()] + self.members()
        if c == 14:
            return [b"SCARD", k()]
        if c in (15, 16):
            return [b"SPOP", k()] + ([] if r.random() < 0.4 else [self.count()])
        if c in (17, 18):
            return [b"SRANDMEMBER", k()] + ([] if r.random() < 0.3 else [self.count()])
        if c == 19:
            return [b"SMOVE", k(), k(), self.member()]
        if c == 20:
            return [b"SINTER"] + self.keys()
        if c == 21:
            ks = self.keys()
            opt = r.choice([[], [], [b"LIMIT", b"%d" % r.randint(0, 3)], [b"LIMIT", b"-1"]])
            n = r.choice([b"%d" % len(ks), b"%d" % len(ks), b"0", b"%d" % (len(ks) + 1)])
            return [b"SINTERCARD", n] + ks + opt
        if c == 22:
            return [b"SINTERSTORE", k()] + self.keys()
        if c == 23:
            return [b"SUNION"] + self.keys()
        if c == 24:
            return [b"SUNIONSTORE", k()] + self.keys()
        if c == 25:
            return [b"SDIFF"] + self.keys()
        if c == 26:
            return [b"SDIFFSTORE", k()] + self.keys()
        if c == 27:
            opt = r.choice([[], [b"COUNT", b"100"], [b"MATCH", b"*1*", b"COUNT", b"100"],
                            [b"COUNT", b"0"], [b"COUNT", b"2"]])
            return [b"SSCAN", k(), r.choice([b"0", b"0", b"5", b"x"])] + opt
        if c == 28:
            return [b"OBJECT", b"ENCODING", k()]
        if c == 29:
            return [r.choice([b"SET", b"APPEND"]), k(), b"v"]
        if c == 30:
            return [b"DEL", k()]
        if c == 31:
            return [b"EXPIRE", k(), r.choice([b"1000", b"0", b"-1"])]
        if c == 32:
            return [b"TTL", k()]
        if c == 33:
            return [b"RENAME", k(), k()]
        if c == 34:
            return [b"COPY", k(), k()] + r.choice([[], [b"REPLACE"]])
        if c == 35:
            return [b"TYPE", k()]
        if c == 36:
            return [b"!dump"]
        return [b"SADD", k()] + self.members(3, 10)

    def sequence(self, n):
        return [[b"CONFIG", b"SET", b"set-max-intset-entries", b"%d" % self.limit]] + \
            [self.command() for _ in range(n)]
