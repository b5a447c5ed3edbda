#!/usr/bin/python3
"""Writes the seed corpus of fuzz_wal_segment to fuzz/corpus/wal_segment/.

Each seed is a fuzz input: one selector byte (bit 0 clear: the target
prefixes a valid segment header, set: the rest is the whole file; bit 1:
the target recomputes the record checksums), then file bytes.
Records follow docs/wal-format.md; the segment header follows wal/wal.c.
CRC-32C is computed here (reflected polynomial 0x82F63B78). Run from the
repository root: /usr/bin/python3 fuzz/gen_wal_segment_corpus.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "wal_segment")


def _table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


TABLE = _table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283


def command(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def lz4_literals(data):
    """An LZ4 block holding data as literals only (valid, if not small)."""
    n = len(data)
    out = bytearray()
    if n < 15:
        out.append(n << 4)
    else:
        out.append(0xF0)
        rest = n - 15
        while rest >= 255:
            out.append(255)
            rest -= 255
        out.append(rest)
    return bytes(out) + data


def lz4_run(prefix, byte, count, suffix):
    """An LZ4 block for prefix + byte*count + suffix: the prefix and one
    byte as literals, a match at offset 1 for the run, the suffix (>= 5
    bytes, as the format wants) as the final literals."""
    assert len(suffix) >= 5 and count >= 5
    lits = prefix + bytes([byte])
    match = count - 1  # bytes the match copies
    out = bytearray()

    def length_bytes(v):
        b = bytearray()
        while v >= 255:
            b.append(255)
            v -= 255
        b.append(v)
        return b

    ll, ml = len(lits), match - 4
    out.append((min(ll, 15) << 4) | min(ml, 15))
    if ll >= 15:
        out += length_bytes(ll - 15)
    out += lits
    out += struct.pack("<H", 1)
    if ml >= 15:
        out += length_bytes(ml - 15)
    sl = len(suffix)
    out.append(min(sl, 15) << 4)
    if sl >= 15:
        out += length_bytes(sl - 15)
    out += suffix
    return bytes(out)


def record(lsn, db, cmds, time_ms=1700000000000, stored=None, flags=0):
    """One record; cmds is a list of encoded commands. stored replaces the
    payload with a compressed form (flags must then say LZ4)."""
    raw = struct.pack("<II", db, len(cmds)) + b"".join(cmds)
    body = raw if stored is None else stored
    total = 32 + len(body)
    rest = struct.pack("<QQHHI", lsn, time_ms, flags, 0, len(raw)) + body
    return struct.pack("<II", total, crc32c(rest)) + rest


def header(first, version=1, time_ms=1700000000000):
    h = b"LODEWAL\0" + struct.pack("<IIQQ", version, 64, first, time_ms) + bytes(28)
    return h + struct.pack("<I", crc32c(h))


def seeds():
    set_k = command(b"SET", b"k", b"v")
    r1 = record(1, 0, [set_k])
    r2 = record(2, 3, [command(b"INCR", b"counter")], 1700000000100)
    r3 = record(3, 0, [command(b"DEL", b"k"), command(b"LPUSH", b"l", b"a", b"b")])
    yield "three_records", b"\0" + r1 + r2 + r3
    yield "empty", b"\0"
    yield "preallocated", b"\0" + r1 + bytes(4096)
    yield "raw_segment", b"\1" + header(1) + r1 + r2 + bytes(256)
    yield "torn_tail", b"\0" + r1 + r2 + r3[: len(r3) // 2]
    yield "corrupt_tail", b"\0" + r1 + r2[:40] + b"\xff" + r2[41:]
    # a hole: the second record never reached the disk, the third did
    yield "hole", b"\0" + r1 + bytes(len(r2)) + r3
    big = b"x" * 3000
    cmd = command(b"SET", b"big", big)
    raw = struct.pack("<II", 0, 1) + cmd
    yield "lz4_literals", b"\0" + r1 + record(2, 0, [cmd], stored=lz4_literals(raw), flags=1)
    i = raw.index(big)
    # the last 3 bytes of the run go with "\r\n" as the final literals
    stored = lz4_run(raw[:i], ord("x"), len(big) - 3, raw[i + len(big) - 3 :])
    yield "lz4_run", b"\0" + r1 + record(2, 0, [cmd], stored=stored, flags=1)
    yield "transaction", b"\0" + record(1, 7, [command(b"SET", b"a", b"1")] * 3) + r2
    yield "version2", b"\1" + header(1, version=2) + r1
    yield "first_lsn_mismatch", b"\1" + header(5) + record(5, 0, [set_k])
    yield "lsn_gap", b"\0" + r1 + r3
    yield "unfinished_header", b"\1" + header(1)[:20] + bytes(200)
    # checksums left zero: the target fills them in (selector bit 1)
    def no_crc(r):
        return r[:4] + bytes(4) + r[8:]

    yield "fixcrc_records", b"\2" + no_crc(r1) + no_crc(r2) + no_crc(r3)
    yield "fixcrc_lz4_run", b"\2" + no_crc(record(1, 0, [cmd], stored=stored, flags=1))
    yield "fixcrc_raw_segment", b"\3" + header(1) + no_crc(r1) + no_crc(r2)
    yield "reserved_flags", b"\0" + r1 + record(2, 0, [set_k], flags=4)


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
