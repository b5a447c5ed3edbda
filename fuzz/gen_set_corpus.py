#!/usr/bin/python3
"""Writes set seeds for fuzz_ckpt_value to fuzz/corpus/ckpt_value/ (set-*).

Each seed is one checkpoint value (docs/checkpoint-format.md, "Values" and
"Sets"): type u8 (3 = set), encoding u8 (1 = intset, 2 = hashtable),
expiry i64 LE (-1 none), key length u32 LE, key, payload. The valid seeds
cover every intset width and the short and long member forms; the others
are corrupt on purpose (the decoder must refuse them). Run from the
repository root: /usr/bin/python3 fuzz/gen_set_corpus.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "ckpt_value")


def value(enc, payload, key=b"set", expire=-1):
    return struct.pack("<BBqI", 3, enc, expire, len(key)) + key + payload


def intset(width, values):
    fmt = {2: "<h", 4: "<i", 8: "<q"}[width]
    return struct.pack("<BI", width, len(values)) + b"".join(struct.pack(fmt, v) for v in values)


def table(members):
    return struct.pack("<I", len(members)) + b"".join(
        struct.pack("<I", len(m)) + m for m in members)


SEEDS = {
    "set-intset16": value(1, intset(2, [-3, 0, 1, 2, 32767])),
    "set-intset32": value(1, intset(4, [-2147483648, -1, 70000])),
    "set-intset64": value(1, intset(8, [-2 ** 63, 5, 2 ** 63 - 1]), expire=1700000000000),
    "set-intset-wide-small": value(1, intset(8, [1, 2, 3])),
    "set-hashtable": value(2, table([b"a", b"", b"1", b"\x00\xff", b"member:12345"])),
    "set-hashtable-long": value(2, table([b"x" * 300, b"y"])),
    # corrupt: unordered intset, duplicate members, bad width, trailing byte
    "set-bad-unordered": value(1, intset(2, [2, 1])),
    "set-bad-duplicate": value(2, table([b"a", b"a"])),
    "set-bad-width": value(1, struct.pack("<BI", 3, 1) + b"\x01\x00\x00"),
    "set-bad-trailing": value(1, intset(2, [1]) + b"\x00"),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
