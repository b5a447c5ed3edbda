#!/usr/bin/env python3
"""Writes sorted-set seeds for fuzz_ckpt_value (fuzz/corpus/ckpt_value/):
values in both on-disk encodings (docs/checkpoint-format.md, "Sorted
sets"), plus a few near-misses the decoder must refuse."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "ckpt_value")


def value(enc, key, payload, expire=-1):
    return struct.pack("<BBqI", 4, enc, expire, len(key)) + key + payload


def pk_entry(v):
    if isinstance(v, int):
        assert 0 <= v <= 95
        body = bytes([0xA0 + v])
    else:
        assert len(v) < 128
        body = bytes([len(v)]) + v
    assert len(body) < 128
    return body + bytes([len(body)])


def pack(entries):
    body = b"".join(pk_entry(e) for e in entries)
    return struct.pack("<II", 8 + len(body), len(entries)) + body


def dbl(d):
    return struct.pack("<d", d)


def skiplist(elems):
    out = struct.pack("<Q", len(elems))
    for m, s in elems:
        out += struct.pack("<I", len(m)) + m + dbl(s)
    return out


SEEDS = {
    "zset-pack": value(1, b"z", pack([b"a", 1, b"b", 2, b"c", dbl(2.5)])),
    "zset-pack-ttl": value(1, b"zt", pack([b"m", dbl(float("-inf"))]), 1700000000000),
    "zset-skiplist": value(2, b"zs", skiplist([(b"x", -0.0), (b"y", 0.5), (b"z" * 70, 1e300)])),
    "zset-bad-order": value(2, b"zb", skiplist([(b"b", 2.0), (b"a", 1.0)])),
    "zset-pack-odd": value(1, b"zo", pack([b"a", 1, b"b"])),
    "zset-bad-enc": value(9, b"zv", b""),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
