"""Seed-driven random command sequences for the sorted-set commands over a
small keyspace: z0..z3 (any scores), l0 l1 (every score 0, the only sorted
sets the lex commands read: with mixed scores Redis's lex ranges depend on
the skiplist's random levels), a string key for WRONGTYPE (str, which the
STORE commands, ZADD and ZINCRBY may turn into a sorted set with any
scores, so the lex commands use lstr, set once at the start and never
written again), and a missing key.

Each sequence may lower zset-max-listpack-entries / -value first so both
encodings and the conversions between them are exercised in a short run.
"""
import random

ZKEYS = [b"z0", b"z1", b"z2", b"z3"]
LKEYS = [b"l0", b"l1"]
OTHER = [b"str", b"none"]
LOTHER = [b"lstr", b"none"]
MEMBERS = [b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"h", b"1", b"-2", b"12345678", b"",
           b"\x00\xff", b"x" * 70, b"foo bar", b"0"]
SCORES = [b"0", b"1", b"-1", b"2", b"3", b"1.5", b"-0.25", b"0.1", b"1e3", b"inf", b"-inf",
          b"+inf", b"-0", b"12345678", b"-1234567", b"1e16", b"2.5e-5"]
BAD_SCORES = [b"nan", b"x", b"", b"1 ", b"(1"]
BOUNDS = [b"-inf", b"+inf", b"0", b"1", b"(1", b"2", b"(2", b"1.5", b"(0", b"3", b"-1", b"inf",
          b"(inf", b"x", b"nan"]
LEX = [b"-", b"+", b"[a", b"(a", b"[c", b"(c", b"[e", b"(foo", b"[", b"(", b"a", b"[1"]
RANKS = [b"0", b"1", b"-1", b"2", b"-2", b"5", b"-100", b"100", b"x"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def zkey(self):
        r = self.r
        c = r.random()
        if c < 0.8:
            return r.choice(ZKEYS)
        if c < 0.9:
            return r.choice(LKEYS)
        return r.choice(OTHER)

    def lkey(self):
        return self.r.choice(LKEYS if self.r.random() < 0.9 else LOTHER)

    def dkey(self):
        """A destination: never an l key (it must keep all scores 0)."""
        return self.r.choice(ZKEYS + [b"str"])

    def member(self):
        return self.r.choice(MEMBERS)

    def score(self):
        r = self.r
        if r.random() < 0.05:
            return r.choice(BAD_SCORES)
        if r.random() < 0.3:
            return b"%d" % r.randint(-5, 5)
        return r.choice(SCORES)

    def pairs(self, lex=False):
        out = []
        for _ in range(self.r.randint(1, 4)):
            out += [b"0" if lex else self.score(), self.member()]
        return out

    def rangeopts(self, kind):
        r = self.r
        opts = []
        if r.random() < 0.3:
            opts += [b"LIMIT", r.choice([b"0", b"1", b"2", b"-1", b"10"]),
                     r.choice([b"1", b"2", b"-1", b"0", b"5"])]
        if kind != "lex" and r.random() < 0.4:
            opts.append(b"WITHSCORES")
        r.shuffle(opts) if r.random() < 0.1 else None
        return opts

    def keys(self, n=None, lex=False):
        n = n or self.r.randint(1, 3)
        pick = (lambda: self.r.choice(LKEYS)) if lex else self.zkey
        return [b"%d" % n] + [pick() for _ in range(n)]

    def setop_opts(self, nkeys, store):
        r = self.r
        opts = []
        if r.random() < 0.4:
            opts += [b"WEIGHTS"] + [r.choice([b"1", b"2", b"0", b"-1", b"0.5", b"inf", b"x"])
                                    for _ in range(nkeys)]
        if r.random() < 0.4:
            opts += [b"AGGREGATE", r.choice([b"SUM", b"MIN", b"MAX", b"avg"])]
        if not store and r.random() < 0.5:
            opts.append(b"WITHSCORES")
        return opts

    def command(self):
        r = self.r
        c = r.randrange(40)
        if c < 6:
            flags = r.choice([[], [], [b"NX"], [b"XX"], [b"CH"], [b"GT"], [b"LT"], [b"GT", b"CH"],
                              [b"INCR"], [b"XX", b"INCR"], [b"NX", b"XX"], [b"LT", b"GT"]])
            if r.random() < 0.3:
                k = r.choice(LKEYS)
                flags = [f for f in flags if f != b"INCR"]
                return [b"ZADD", k] + flags + self.pairs(lex=True)
            if b"INCR" in flags:
                return [b"ZADD", self.dkey()] + flags + [self.score(), self.member()]
            return [b"ZADD", r.choice(ZKEYS + [b"str"])] + flags + self.pairs()
        if c == 6:
            return [b"ZINCRBY", r.choice(ZKEYS + [b"str"]), self.score(), self.member()]
        if c == 7:
            return [b"ZSCORE", self.zkey(), self.member()]
        if c == 8:
            return [b"ZMSCORE", self.zkey()] + [self.member() for _ in range(r.randint(1, 3))]
        if c == 9:
            return [b"ZCARD", self.zkey()]
        if c == 10:
            return [b"ZCOUNT", self.zkey(), r.choice(BOUNDS), r.choice(BOUNDS)]
        if c == 11:
            return [b"ZLEXCOUNT", self.lkey(), r.choice(LEX), r.choice(LEX)]
        if c == 12:
            opts = [b"WITHSCORES"] if r.random() < 0.5 else []
            if r.random() < 0.3:
                opts.append(b"REV")
            return [b"ZRANGE", self.zkey(), r.choice(RANKS), r.choice(RANKS)] + opts
        if c == 13:
            by = r.choice([b"BYSCORE", b"BYLEX"])
            rev = [b"REV"] if r.random() < 0.4 else []
            if by == b"BYLEX":
                return [b"ZRANGE", self.lkey(), r.choice(LEX), r.choice(LEX), by] + rev + \
                    self.rangeopts("lex")
            return [b"ZRANGE", self.zkey(), r.choice(BOUNDS), r.choice(BOUNDS), by] + rev + \
                self.rangeopts("score")
        if c == 14:
            cmd = r.choice([b"ZRANGEBYSCORE", b"ZREVRANGEBYSCORE"])
            return [cmd, self.zkey(), r.choice(BOUNDS), r.choice(BOUNDS)] + self.rangeopts("score")
        if c == 15:
            cmd = r.choice([b"ZRANGEBYLEX", b"ZREVRANGEBYLEX"])
            return [cmd, self.lkey(), r.choice(LEX), r.choice(LEX)] + self.rangeopts("lex")
        if c == 16:
            opts = [b"WITHSCORES"] if r.random() < 0.5 else []
            return [b"ZREVRANGE", self.zkey(), r.choice(RANKS), r.choice(RANKS)] + opts
        if c == 17:
            kind = r.choice(["rank", "score", "lex"])
            if kind == "rank":
                return [b"ZRANGESTORE", self.dkey(), self.zkey(), r.choice(RANKS),
                        r.choice(RANKS)] + ([b"REV"] if r.random() < 0.3 else [])
            if kind == "score":
                return [b"ZRANGESTORE", self.dkey(), self.zkey(), r.choice(BOUNDS),
                        r.choice(BOUNDS), b"BYSCORE"] + self.rangeopts("lex")
            return [b"ZRANGESTORE", self.dkey(), self.lkey(), r.choice(LEX), r.choice(LEX),
                    b"BYLEX"] + self.rangeopts("lex")
        if c == 18:
            return [r.choice([b"ZRANK", b"ZREVRANK"]), self.zkey(), self.member()]
        if c == 19:
            return [b"ZREM", self.zkey()] + [self.member() for _ in range(r.randint(1, 4))]
        if c == 20:
            return [b"ZREMRANGEBYSCORE", self.dkey(), r.choice(BOUNDS), r.choice(BOUNDS)]
        if c == 21:
            return [b"ZREMRANGEBYRANK", self.zkey(), r.choice(RANKS), r.choice(RANKS)]
        if c == 22:
            return [b"ZREMRANGEBYLEX", self.lkey(), r.choice(LEX), r.choice(LEX)]
        if c in (23, 24):
            if r.random() < 0.2:
                # the blocking forms pop at once or time out after 10 ms
                # (the connection never waits longer: no client serves it)
                tmo = r.choice([b"0.01", b".01", b"-1", b"x"])
                if r.random() < 0.5:
                    return [r.choice([b"BZPOPMIN", b"BZPOPMAX"])] + \
                        [self.zkey() for _ in range(r.randint(1, 3))] + [tmo]
                cnt = [] if r.random() < 0.5 else [b"COUNT", r.choice([b"1", b"3", b"0"])]
                return [b"BZMPOP", tmo] + self.keys() + [r.choice([b"MIN", b"MAX"])] + cnt
            cmd = r.choice([b"ZPOPMIN", b"ZPOPMAX"])
            cnt = [] if r.random() < 0.4 else [r.choice([b"0", b"1", b"2", b"10", b"-1", b"x"])]
            return [cmd, self.zkey()] + cnt
        if c == 25:
            ks = self.keys()
            where = [r.choice([b"MIN", b"MAX", b"min", b"LEFT"])]
            cnt = [] if r.random() < 0.5 else [b"COUNT", r.choice([b"1", b"3", b"0", b"x"])]
            return [b"ZMPOP"] + ks + where + cnt
        if c == 26:
            return [b"ZRANDMEMBER", self.zkey()] + r.choice(
                [[], [b"1"], [b"5"], [b"100"], [b"-3"], [b"0"], [b"3", b"WITHSCORES"],
                 [b"-5", b"WITHSCORES"], [b"100", b"WITHSCORES"], [b"x"]])
        if c in (27, 28, 29):
            cmd = r.choice([b"ZUNION", b"ZINTER", b"ZDIFF"])
            n = r.randint(1, 3)
            return [cmd] + self.keys(n) + self.setop_opts(n, False)
        if c in (30, 31):
            cmd = r.choice([b"ZUNIONSTORE", b"ZINTERSTORE", b"ZDIFFSTORE"])
            n = r.randint(1, 3)
            return [cmd, self.dkey()] + self.keys(n) + self.setop_opts(n, True)
        if c == 32:
            lim = [] if r.random() < 0.5 else [b"LIMIT", r.choice([b"0", b"1", b"2", b"-1"])]
            return [b"ZINTERCARD"] + self.keys() + lim
        if c == 33:
            # a whole iteration in one call (COUNT above any set's size):
            # compared as a set of pairs by normalize's ZSCAN rule
            opts = [b"COUNT", b"1000"]
            if r.random() < 0.3:
                opts += [b"MATCH", r.choice([b"*", b"a*", b"[a-d]", b"*o*"])]
            return [b"ZSCAN", self.zkey(), b"0"] + opts
        if c == 34:
            return [b"OBJECT", b"ENCODING", self.zkey()]
        if c == 35:
            return [r.choice([b"DEL", b"EXISTS", b"TYPE"]), self.zkey()]
        if c == 36:
            return [b"SET", b"str", b"v"]
        if c == 37:
            return [b"RENAME", r.choice(ZKEYS), r.choice(ZKEYS)]
        if c == 38:
            return [b"COPY", r.choice(ZKEYS), r.choice(ZKEYS), b"REPLACE"]
        return [b"ZADD", r.choice(ZKEYS)] + sum(
            ([b"%d" % r.randint(-20, 20), b"m%d" % r.randint(0, 40)] for _ in range(10)), [])

    def sequence(self, n):
        r = self.r
        out = [[b"SET", b"lstr", b"v"]]
        if r.random() < 0.5:
            out.append([b"CONFIG", b"SET", b"zset-max-listpack-entries",
                        r.choice([b"0", b"2", b"4", b"8"])])
        if r.random() < 0.3:
            out.append([b"CONFIG", b"SET", b"zset-max-listpack-value", r.choice([b"0", b"2"])])
        out += [self.command() for _ in range(n)]
        return out
