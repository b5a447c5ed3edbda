"""Seed-driven random HyperLogLog command sequences over a small keyspace
(6 keys, two databases): PFADD, PFCOUNT, PFMERGE, PFDEBUG ENCODING/TODENSE,
with wrong-type keys (a plain string, a string that looks like neither
server's HyperLogLog) and key deletion and expiry mixed in.

Elements come from POOL, whose members fall into distinct registers in
both servers (test_diff_random_hll.py checks this first), so every count
is exact in both and PFADD's 0/1 reply means "new element or not" in both:
Lodestore's hash and register layout differ from Redis's (by design), and
nothing else makes the replies comparable. CONFIG SET hll-sparse-max-bytes
is varied among values where both servers switch at the same moment (0:
every register makes a value dense; large: never) so PFDEBUG ENCODING
agrees as well. GET and PFDEBUG GETREG/DECODE show layout bytes and are not
generated.
"""
import random

KEYS = [b"h%d" % i for i in range(5)] + [b"h\x00\xff"]
POOL = [b"e%d" % i for i in range(40)]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def key(self):
        return self.r.choice(KEYS)

    def keys(self, lo, hi):
        return [self.key() for _ in range(self.r.randint(lo, hi))]

    def elements(self):
        r = self.r
        return [r.choice(POOL) for _ in range(r.choice([0, 1, 1, 2, 3, 5, 8]))]

    def command(self):
        r = self.r
        c = r.random()
        if c < 0.35:
            return [b"PFADD", self.key()] + self.elements()
        if c < 0.55:
            return [b"PFCOUNT"] + self.keys(1, 3)
        if c < 0.68:
            return [b"PFMERGE"] + self.keys(1, 4)
        if c < 0.74:
            return [b"PFDEBUG", r.choice([b"ENCODING", b"TODENSE", b"encoding"]), self.key()]
        if c < 0.78:
            return [b"SET", self.key(), r.choice([b"plain", b"HYLL", b"LHLL", b"12"])]
        if c < 0.83:
            return [b"DEL"] + self.keys(1, 2)
        if c < 0.86:
            return [b"EXPIRE", self.key(), r.choice([b"1000", b"0", b"-1"])]
        if c < 0.89:
            return [b"SELECT", r.choice([b"0", b"1"])]
        if c < 0.91:
            return [b"CONFIG", b"SET", b"hll-sparse-max-bytes", r.choice([b"0", b"3000"])]
        if c < 0.94:
            return [b"TYPE", self.key()]
        if c < 0.97:
            return [b"COPY", self.key(), self.key()]
        return [b"RENAME", self.key(), self.key()]

    def sequence(self, n):
        return [self.command() for _ in range(n)]
