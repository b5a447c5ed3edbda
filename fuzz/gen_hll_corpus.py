#!/usr/bin/python3
"""Writes the seed corpus of fuzz_hll to fuzz/corpus/hll/.

Each seed is a string value as a HyperLogLog key would hold it, in the
layout of docs/hyperloglog.md: valid sparse and dense values (empty, a few
registers, full, saturated registers) and corrupt or foreign ones (bad
header fields, partial entries, unsorted or repeated indexes, values 0 and
above 51, reserved bits, a short dense body, Redis's own "HYLL" layout).
Run from the repository root: /usr/bin/python3 fuzz/gen_hll_corpus.py
"""
import os
import random

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "hll")
REGS = 16384


def header(enc, version=1, reserved=b"\0\0"):
    return b"LHLL" + bytes([enc, version]) + reserved


def entry(index, value, reserved=0):
    w = (reserved << 20) | (index << 6) | value
    return bytes([(w >> 16) & 0xFF, (w >> 8) & 0xFF, w & 0xFF])


def sparse(regs):
    return header(1) + b"".join(entry(i, v) for i, v in sorted(regs.items()) if v)


def dense(regs):
    bits = 0
    for i, v in regs.items():
        bits |= v << (6 * i)
    return header(2) + bits.to_bytes(REGS * 6 // 8, "little")


def main():
    os.makedirs(OUT, exist_ok=True)
    rnd = random.Random(4)
    few = {0: 1, 1: 3, 100: 51, 16383: 7}
    many = {rnd.randrange(REGS): rnd.randint(1, 51) for _ in range(900)}
    full = {i: rnd.randint(1, 20) for i in range(REGS)}
    seeds = {
        "sparse-empty": sparse({}),
        "sparse-few": sparse(few),
        "sparse-many": sparse(many),
        "dense-empty": dense({}),
        "dense-few": dense(few),
        "dense-full": dense(full),
        "dense-saturated": dense({i: 51 for i in range(REGS)}),
        "bad-magic-redis": b"HYLL\x01\0\0\0\0\0\0\x80" + b"\x7f\xff",
        "bad-version": header(1, version=2) + entry(1, 1),
        "bad-encoding": header(3),
        "bad-reserved-header": header(1, reserved=b"\0\1"),
        "bad-short-header": b"LHLL\x01\x01\0",
        "bad-dense-short": header(2) + b"\0" * 100,
        "corrupt-partial-entry": header(1) + entry(5, 2) + b"\0\0",
        "corrupt-value-zero": header(1) + entry(5, 0),
        "corrupt-value-52": header(1) + entry(5, 52),
        "corrupt-value-63": header(1) + entry(16383, 63),
        "corrupt-unsorted": header(1) + entry(9, 1) + entry(3, 1),
        "corrupt-repeated": header(1) + entry(9, 1) + entry(9, 2),
        "corrupt-reserved-bits": header(1) + entry(9, 1, reserved=8),
        "corrupt-dense-reg63": dense({133: 63}),
        "corrupt-dense-last": dense({16383: 52}),
        "not-hll-text": b"hello",
        "empty": b"",
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
