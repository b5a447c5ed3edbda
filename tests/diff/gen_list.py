"""Seed-driven random command sequences for the list commands over a small
keyspace (5 list keys, one string key for WRONGTYPE paths), with node sizes
changed on the way (list-max-listpack-size) so node boundaries move.

Blocking commands appear in their immediate forms (some key holds data) or
with a 0.01 s timeout on empty keys (both servers answer the null array);
every reply is deterministic, so nothing needs normalising.
"""
import random

KEYS = [b"l0", b"l1", b"l2", b"l3", b"l\x00\xff"]
STR = b"str"
VALS = [b"a", b"b", b"c", b"", b"0", b"1", b"-1", b"12", b"9223372036854775807",
        b"-9223372036854775808", b"9223372036854775808", b"1.5", b"x" * 130, b"\x00\r\n"]
FILLS = [b"-2", b"-1", b"1", b"2", b"3", b"-5"]


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def key(self):
        r = self.r
        return STR if r.random() < 0.06 else r.choice(KEYS)

    def val(self):
        r = self.r
        if r.random() < 0.8:
            return r.choice(VALS[:8])
        return r.choice(VALS)

    def idx(self):
        r = self.r
        if r.random() < 0.05:
            return r.choice([b"x", b"9223372036854775807", b"-9223372036854775808"])
        return b"%d" % r.randint(-12, 12)

    def where(self):
        r = self.r
        return r.choice([b"LEFT", b"RIGHT", b"left", b"right"] + ([b"UP"] if r.random() < 0.05
                                                                    else []))

    def command(self):
        r = self.r
        c = r.randint(0, 29)
        k = self.key()
        if c <= 4:
            return [r.choice([b"LPUSH", b"RPUSH"]), k] + [self.val() for _ in range(r.randint(1, 6))]
        if c == 5:
            return [r.choice([b"LPUSHX", b"RPUSHX"]), k, self.val()]
        if c == 6:
            cmd = [r.choice([b"LPOP", b"RPOP"]), k]
            if r.random() < 0.5:
                cmd.append(r.choice([b"0", b"1", b"2", b"5", b"-1", b"x"]))
            return cmd
        if c == 7:
            return [b"LLEN", k]
        if c in (8, 9):
            return [b"LRANGE", k, self.idx(), self.idx()]
        if c == 10:
            return [b"LINDEX", k, self.idx()]
        if c == 11:
            return [b"LSET", k, self.idx(), self.val()]
        if c == 12:
            return [b"LINSERT", k, r.choice([b"BEFORE", b"AFTER", b"after", b"x"]), self.val(),
                    self.val()]
        if c == 13:
            return [b"LREM", k, r.choice([b"0", b"1", b"-1", b"2", b"-2", b"x"]), self.val()]
        if c == 14:
            return [b"LTRIM", k, self.idx(), self.idx()]
        if c == 15:
            cmd = [b"LPOS", k, self.val()]
            for opt in (b"RANK", b"COUNT", b"MAXLEN"):
                if r.random() < 0.4:
                    cmd += [opt, r.choice([b"1", b"2", b"-1", b"-2", b"0", b"3", b"x"])]
            return cmd
        if c == 16:
            return [b"LMOVE", k, self.key(), self.where(), self.where()]
        if c == 17:
            return [b"RPOPLPUSH", k, self.key()]
        if c == 18:
            n = r.randint(1, 3)
            cmd = [b"LMPOP", b"%d" % n] + [self.key() for _ in range(n)] + [self.where()]
            if r.random() < 0.5:
                cmd += [b"COUNT", r.choice([b"1", b"2", b"10", b"0", b"x"])]
            return cmd
        if c == 19:
            keys = [self.key() for _ in range(r.randint(1, 3))]
            return [r.choice([b"BLPOP", b"BRPOP"])] + keys + [r.choice([b"0.01", b"0.01", b"-1"])]
        if c == 20:
            return [b"BLMOVE", k, self.key(), self.where(), self.where(), b"0.01"]
        if c == 21:
            return [b"BRPOPLPUSH", k, self.key(), b"0.01"]
        if c == 22:
            n = r.randint(1, 2)
            cmd = [b"BLMPOP", b"0.01", b"%d" % n] + [self.key() for _ in range(n)] + [self.where()]
            if r.random() < 0.5:
                cmd += [b"COUNT", r.choice([b"1", b"3"])]
            return cmd
        if c == 23:
            return [b"DEL", k]
        if c == 24:
            return [b"SET", STR, b"v"]
        if c == 25:
            return [b"CONFIG", b"SET", b"list-max-listpack-size", r.choice(FILLS)]
        if c == 26:
            return [b"RENAME", k, self.key()]
        if c == 27:
            return [b"TYPE", k]
        if c == 28:
            return [b"EXISTS", k]
        return [b"RPUSH", k] + [self.val() for _ in range(r.randint(5, 30))]

    def sequence(self, n):
        return [self.command() for _ in range(n)]
