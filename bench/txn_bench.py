#!/usr/bin/python3
"""EVALSHA of a small read-modify-write script and MULTI/EXEC of 5
commands, lode-server and redis-server side by side in one run (run with
/usr/bin/python3).

  bench/txn_bench.py [--lode PATH] [--redis PATH] [-R ROUNDS] [-n N]
                     [--durability no|always]

EVALSHA: redis-benchmark -c 50 -n N -r 100000 EVALSHA <sha> 1 key:__rand_int__
of a script that GETs a counter, adds one and SETs it.

MULTI/EXEC: redis-benchmark cannot group commands, so --txn runs its own
driver: 4 processes x 25 connections, each sending MULTI, INCR a, INCR b,
SET c <value>, GET a, INCR d, EXEC and waiting for the 7 replies before the
next transaction; the figure is transactions per second over a fixed
number of transactions. The driver is the same for both servers, but it is
Python: when both servers are faster than it, the ratio tends to 1.

Rounds alternate lode / redis; medians are reported. Without persistence by
default (lode-server --durability no, Redis without RDB/AOF); --durability
always compares with Redis's appendfsync always.
"""
import argparse
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

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


def txn_worker(port, nconn, ntx, out):
    def bulk(b):
        return b"$%d\r\n%s\r\n" % (len(b), b)

    def cmd(*a):
        return b"*%d\r\n" % len(a) + b"".join(bulk(x) for x in a)

    tx = (cmd(b"MULTI") + cmd(b"INCR", b"a") + cmd(b"INCR", b"b") +
          cmd(b"SET", b"c", b"v" * 16) + cmd(b"GET", b"a") + cmd(b"INCR", b"d") + cmd(b"EXEC"))
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(nconn)]
    done = 0
    for s in socks:
        s.sendall(tx)
    pending = {s: b"" for s in socks}
    import selectors
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    while done < ntx:
        for key, _ in sel.select():
            s = key.fileobj
            data = s.recv(65536)
            if not data:
                raise SystemExit("connection closed")
            buf = pending[s] + data
            # a transaction's replies end with EXEC's array: *5 then its items;
            # the last item is INCR d's integer reply, so count the "*5\r\n"
            while True:
                i = buf.find(b"*5\r\n")
                if i < 0:
                    break
                # wait until the 5 items after it are complete: the 5th is ":N\r\n"
                rest = buf[i + 4:]
                parts = rest.split(b"\r\n")
                # items: :N, :N, +OK, $len + data, :N -> 6 CRLF-terminated lines
                if len(parts) < 7:
                    break
                consumed = i + 4 + sum(len(p) + 2 for p in parts[:6])
                buf = buf[consumed:]
                done += 1
                if done + len(socks) <= ntx:
                    s.sendall(tx)
            pending[s] = buf
    out.put(done)
    for s in socks:
        s.close()


def bench_txn(port, ntx):
    q = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=txn_worker, args=(port, 25, ntx // 4, q))
             for _ in range(4)]
    t0 = time.monotonic()
    for p in procs:
        p.start()
    total = sum(q.get() for _ in procs)
    for p in procs:
        p.join()
    return total / (time.monotonic() - t0)


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
                res[(k, "MULTI/EXEC")].append(bench_txn(port, a.n // 10))
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
