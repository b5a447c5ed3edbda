#!/usr/bin/python3
"""Collection memory and complexity, lode-server and redis-server side by
side in one run (run with /usr/bin/python3).

  bench/coll_bench.py [--lode PATH] [--redis PATH] [--mem] [--scale]
                       [--scale-max N] [--md OUT]

--mem   bytes per element (INFO used_memory after minus before, divided by
        the elements loaded) for: one hash of 1,000,000 fields, one set and
        one sorted set of 1,000,000 members, one list of 1,000,000 elements,
        and 100,000 hashes of 10 fields each. Data goes in through
        `redis-cli --pipe` in the same RESP stream for both servers.
--scale operations per second of ZADD (new members), ZRANK (random members)
        and LINDEX 0 / LINDEX -1 on collections of 100,000, 1,000,000 and
        10,000,000 elements (--scale-max lowers the top size), measured with
        redis-benchmark -c 50 -n 200,000: a flat rate across sizes shows
        O(log N) and O(1).

Both servers run without persistence (lode-server --durability no,
redis-server --save "" --appendonly no), pinned to CPU 1 when taskset is
available, with redis-cli / redis-benchmark on CPU 0.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import CLIENT_CPU, pin

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class Srv(benchlib.Srv):
    def __init__(self, kind, binary, work):
        super().__init__(kind, binary, work, lode_args=["--checkpoint-wal-bytes", "100gb"])

    def pipe(self, path):
        with open(path, "rb") as f:
            r = subprocess.run(pin(CLIENT_CPU) + ["redis-cli", "-p", str(self.port), "--pipe"],
                               stdin=f, capture_output=True, text=True)
        if "errors: 0" not in r.stdout:
            sys.exit("%s: pipe failed: %s" % (self.kind, r.stdout[-300:]))


def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


def cmd(*args):
    return b"*%d\r\n" % len(args) + b"".join(bulk(a) for a in args)


def write_stream(path, commands):
    with open(path, "wb") as f:
        chunk = []
        for c in commands:
            chunk.append(c)
            if len(chunk) == 10000:
                f.write(b"".join(chunk))
                chunk = []
        f.write(b"".join(chunk))


def batched(key, verb, n, item, per=100):
    """verb key items... in commands of `per` items; item(i) -> [bytes]."""
    for start in range(0, n, per):
        args = [verb, key]
        for i in range(start, min(n, start + per)):
            args += item(i)
        yield cmd(*args)


MEM_ROWS = [
    # name, elements, unit, Redis 7.0.15's figure from the issue, stream
    ("hash, 1,000,000 fields", 1000000, "field", 88,
     lambda: batched(b"h", b"HSET", 1000000, lambda i: [b"field:%d" % i, b"value:%d" % i])),
    ("set, 1,000,000 members", 1000000, "member", 57,
     lambda: batched(b"s", b"SADD", 1000000, lambda i: [b"member:%d" % i])),
    ("sorted set, 1,000,000 members", 1000000, "member", 110,
     lambda: batched(b"z", b"ZADD", 1000000, lambda i: [b"%d" % i, b"member:%d" % i])),
    ("list, 1,000,000 elements", 1000000, "element", 18,
     lambda: batched(b"l", b"RPUSH", 1000000, lambda i: [b"element:%d" % i])),
    ("100,000 hashes of 10 fields", 1000000, "field", None,
     lambda: (cmd(b"HSET", b"small:%d" % k,
                  *[x for f in range(10) for x in (b"f%d" % f, b"v%d:%d" % (f, k))])
              for k in range(100000))),
]


def run_mem(srvs, work):
    rows = []
    for name, n, unit, ref, gen in MEM_ROWS:
        path = os.path.join(work, "load.resp")
        write_stream(path, gen())
        got = {}
        for s in srvs:
            s.cli("FLUSHALL")
            before = s.used_memory()
            s.pipe(path)
            got[s.kind] = (s.used_memory() - before) / n
            s.cli("FLUSHALL")
        rows.append((name, unit, got["lode"], got["redis"], ref))
        print("%-32s lode %7.2f B/%s  redis %7.2f B/%s  ratio %.3f" %
              (name, got["lode"], unit, got["redis"], unit, got["lode"] / got["redis"]),
              flush=True)
    return rows


def bench_rate(port, args, n=200000):
    r = subprocess.run(pin(CLIENT_CPU) + ["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(n),
                                 "-r", "100000000", "--csv"] + args,
                       capture_output=True, text=True)
    for line in r.stdout.splitlines():
        f = [x.strip('"') for x in line.split(",")]
        if len(f) > 1 and re.match(r"^[\d.]+$", f[1]):
            return float(f[1])
    sys.exit("redis-benchmark failed: %s %s" % (r.stdout[-200:], r.stderr[-200:]))


def run_scale(srvs, work, top):
    sizes = [s for s in (100000, 1000000, 10000000) if s <= top]
    rows = []
    for size in sizes:
        zpath, lpath = os.path.join(work, "z.resp"), os.path.join(work, "l.resp")
        write_stream(zpath, batched(b"z", b"ZADD", size,
                                    lambda i: [b"%d" % i, b"member:%d" % i], per=500))
        write_stream(lpath, batched(b"l", b"RPUSH", size, lambda i: [b"e%d" % i], per=500))
        for s in srvs:
            s.cli("FLUSHALL")
            s.pipe(zpath)
            s.pipe(lpath)
            r = {
                "ZADD new": bench_rate(s.port, ["ZADD", "z", "__rand_int__",
                                                "new:__rand_int__"]),
                "ZRANK": bench_rate(s.port, ["ZRANK", "z", "member:__rand_int__"]),
                "LINDEX 0": bench_rate(s.port, ["LINDEX", "l", "0"]),
                "LINDEX -1": bench_rate(s.port, ["LINDEX", "l", "-1"]),
            }
            for op, v in r.items():
                rows.append((size, s.kind, op, v))
                print("%10d %-5s %-10s %10.0f ops/s" % (size, s.kind, op, v), flush=True)
            s.cli("FLUSHALL")
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lode", default=os.path.join(ROOT, "build", "lode-server"))
    ap.add_argument("--redis", default="/usr/bin/redis-server")
    ap.add_argument("--mem", action="store_true")
    ap.add_argument("--scale", action="store_true")
    ap.add_argument("--scale-max", type=int, default=10000000)
    ap.add_argument("--md")
    a = ap.parse_args()
    if not a.mem and not a.scale:
        a.mem = a.scale = True
    work = tempfile.mkdtemp(prefix="lode-coll.")
    srvs = [Srv("lode", a.lode, work), Srv("redis", a.redis, work)]
    md = ["# Collections: lode-server vs redis-server", "",
          "- **date**: %s" % time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
          "- **lode-server**: %s" % srvs[0].cli("INFO", "server").splitlines()[1:2],
          "- **load average at start**: %s" % open("/proc/loadavg").read().strip(), ""]
    try:
        if a.mem:
            rows = run_mem(srvs, work)
            md += ["## Memory (bytes per element, INFO used_memory)", "",
                   "| data | lode | redis | lode/redis | Redis figure in the issue |",
                   "| --- | ---: | ---: | ---: | ---: |"]
            md += ["| %s | %.2f B/%s | %.2f B/%s | %.3f | %s |" %
                   (n, lv, u, rv, u, lv / rv, "%d B" % ref if ref else "-")
                   for n, u, lv, rv, ref in rows]
            md.append("")
        if a.scale:
            rows = run_scale(srvs, work, a.scale_max)
            md += ["## Complexity at scale (ops/s, redis-benchmark -c 50 -n 200000)", "",
                   "| elements | server | op | ops/s |", "| ---: | --- | --- | ---: |"]
            md += ["| %d | %s | %s | %.0f |" % r for r in rows]
            md.append("")
    finally:
        for s in srvs:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)
    if a.md:
        with open(a.md, "w") as f:
            f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
