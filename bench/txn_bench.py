#!/usr/bin/python3
"""EVALSHA of a small read-modify-write script and MULTI/EXEC of 5
commands, lode-server and redis-server side by side in one run (run with
/usr/bin/python3).

  bench/txn_bench.py [--lode PATH] [--redis PATH] [-R ROUNDS] [-n N]
                     [--durability no|always]

EVALSHA: redis-benchmark -c 50 -n N -r 100000 EVALSHA <sha> 1 key:__rand_int__
of a script that GETs a counter, adds one and SETs it.

MULTI/EXEC: redis-benchmark cannot group commands, so build/txn-load
(bench/txn_load.c, built when missing) drives it: 50 connections, each
sending MULTI, INCR a:<r>, INCR b:<r>, SET c:<r> <16 bytes>, GET a:<r>,
INCR d:<r>, EXEC (r random below 100000) and waiting for the 7 replies
before its next transaction; the figure is transactions per second over
n / 2 transactions.

Rounds alternate lode / redis; medians are reported. Without persistence by
default (lode-server --durability no, Redis without RDB/AOF); --durability
always compares with Redis's appendfsync always.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

import benchlib
from benchlib import CLIENT_CPU, cli, pin

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = ("local v = tonumber(redis.call('GET', KEYS[1]) or '0') "
          "redis.call('SET', KEYS[1], v + 1) return v + 1")


def start(kind, binary, work, durability):
    """(process, port) of a server; durability always compares with Redis's
    appendfsync always, anything else with Redis without persistence."""
    srv = benchlib.Srv(kind, binary, work, durability=durability,
                       redis_mode="always" if durability == "always" else "off")
    return srv.proc, srv.port


def bench_evalsha(port, sha, n):
    r = subprocess.run(pin(CLIENT_CPU) + ["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(n),
                                 "-r", "100000", "--csv", "EVALSHA", sha, "1",
                                 "key:__rand_int__"], capture_output=True, text=True)
    for line in r.stdout.splitlines():
        f = [x.strip('"') for x in line.split(",")]
        if len(f) > 1 and re.match(r"^[\d.]+$", f[1]):
            return float(f[1])
    sys.exit("redis-benchmark failed: %s" % r.stderr[-300:])


def txn_load_binary():
    """build/txn-load (bench/txn_load.c), built when missing."""
    path = os.path.join(ROOT, "build", "txn-load")
    if not os.path.exists(path):
        subprocess.run(["cmake", "-S", ROOT, "-B", os.path.join(ROOT, "build")], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", os.path.join(ROOT, "build"), "--target", "txn-load"],
                       check=True, stdout=subprocess.DEVNULL)
    return path


def bench_txn(port, ntx):
    r = subprocess.run(pin(CLIENT_CPU) + [txn_load_binary(), str(port), "50", str(ntx)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("txn-load failed: %s" % r.stderr.strip())
    return float(r.stdout.strip())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lode", default=os.path.join(ROOT, "build", "lode-server"))
    ap.add_argument("--redis", default="/usr/bin/redis-server")
    ap.add_argument("-R", type=int, default=3)
    ap.add_argument("-n", type=int, default=200000)
    ap.add_argument("--durability", default="no", choices=["no", "always"])
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="lode-txn.")
    servers = {k: start(k, b, work, a.durability) for k, b in (("lode", a.lode),
                                                                ("redis", a.redis))}
    res = {(k, t): [] for k in servers for t in ("EVALSHA", "MULTI/EXEC")}
    try:
        shas = {k: cli(port, "SCRIPT", "LOAD", SCRIPT) for k, (_, port) in servers.items()}
        for rnd in range(a.R):
            for k, (_, port) in servers.items():
                res[(k, "EVALSHA")].append(bench_evalsha(port, shas[k], a.n))
                res[(k, "MULTI/EXEC")].append(bench_txn(port, a.n // 2))
            print("round %d: %s" % (rnd + 1, {"%s %s" % kt: "%.0f" % v[-1]
                                              for kt, v in res.items()}), flush=True)
    finally:
        for proc, port in servers.values():
            cli(port, "SHUTDOWN", "NOSAVE")
            proc.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    print("| test | lode ops/s | redis ops/s | ratio |\n| --- | ---: | ---: | ---: |")
    for t in ("EVALSHA", "MULTI/EXEC"):
        lv, rv = statistics.median(res[("lode", t)]), statistics.median(res[("redis", t)])
        print("| %s | %.0f | %.0f | %.2f |" % (t, lv, rv, lv / rv))


if __name__ == "__main__":
    main()
