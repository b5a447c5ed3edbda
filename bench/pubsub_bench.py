#!/usr/bin/python3
"""PUBLISH throughput, lode-server and redis-server side by side in one run
(run with /usr/bin/python3).

  bench/pubsub_bench.py [--lode PATH] [--redis PATH] [--subs 1,100]
                        [-n REQUESTS] [-c CLIENTS] [--size BYTES]

(-n applies to one subscriber; with more, -n / 10 requests are sent, since
every one is delivered to each subscriber.) Subscribers are never cut off
(client-output-buffer-limit pubsub 0 0 0 on both servers).

For each subscriber count, one helper process opens that many connections,
SUBSCRIBEs each to one channel and then reads as fast as it can (non-blocking
sockets in one select loop; the bytes are counted and dropped). Once every
subscriber is registered (PUBSUB NUMSUB), redis-benchmark sends PUBLISH
<channel> <payload> with -c clients and -n requests; its requests per second
is the figure. The helper then checks it received every message (by bytes).

Both servers run without persistence (lode-server --durability no,
redis-server --save "" --appendonly no), pinned to CPU 1 when taskset is
available, with redis-benchmark and the subscribers on CPU 0. On a shared
machine the figures move from run to run: compare the two columns of one
run, not runs with each other.
"""
import argparse
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import CLIENT_CPU, pin

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CHANNEL = "bench-ch"


class Srv(benchlib.Srv):
    def __init__(self, kind, binary, work):
        super().__init__(kind, binary, work)
        # the subscribers are fast but in Python: never cut them off
        self.cli("CONFIG", "SET", "client-output-buffer-limit", "pubsub 0 0 0")

    def numsub(self):
        out = self.cli("PUBSUB", "NUMSUB", CHANNEL).split("\n")
        return int(out[1]) if len(out) > 1 else 0


def subscriber_main(port, nsubs, expect_bytes):
    """Helper process: nsubs subscribers draining their sockets until each
    has received expect_bytes after its SUBSCRIBE confirmation; prints the
    bytes received in total."""
    sel = selectors.DefaultSelector()
    confirm = b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(CHANNEL), CHANNEL.encode())
    need = {}
    for _ in range(nsubs):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(CHANNEL), CHANNEL.encode()))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        need[s] = len(confirm) + expect_bytes
    print("ready", flush=True)
    total = 0
    deadline = time.monotonic() + 600
    while need and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            s = key.fileobj
            try:
                data = s.recv(1 << 20)
            except BlockingIOError:
                continue
            if not data:
                sel.unregister(s)
                del need[s]
                continue
            total += len(data)
            need[s] -= len(data)
            if need[s] <= 0:
                sel.unregister(s)
                del need[s]
    print("received", total, "short", len(need), flush=True)


def message_bytes(size):
    payload = b"$%d\r\n" % size
    return len(b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n" % (len(CHANNEL), CHANNEL.encode())) + \
        len(payload) + size + 2


def run_one(srv, nsubs, n, clients, size):
    expect = n * message_bytes(size)
    helper = subprocess.Popen(pin(CLIENT_CPU) + [sys.executable, os.path.abspath(__file__), "--subscriber",
                                        str(srv.port), str(nsubs), str(expect)],
                              stdout=subprocess.PIPE, text=True)
    assert helper.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 60
    while srv.numsub() != nsubs:
        if time.monotonic() > deadline:
            sys.exit("subscribers did not register")
        time.sleep(0.02)
    bench = subprocess.run(pin(CLIENT_CPU) + ["redis-benchmark", "-p", str(srv.port), "-c", str(clients),
                                     "-n", str(n), "-q", "PUBLISH", CHANNEL, "x" * size],
                           capture_output=True, text=True)
    m = re.findall(r"([\d.]+) requests per second", bench.stdout.replace("\r", "\n"))
    rps = float(m[-1]) if m else 0.0
    out, _ = helper.communicate(timeout=600)
    ok = "short 0" in out
    return rps, ok


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--subscriber":
        subscriber_main(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--lode", default=os.path.join(ROOT, "build", "lode-server"))
    ap.add_argument("--redis", default=shutil.which("redis-server") or "/usr/bin/redis-server")
    ap.add_argument("--subs", default="1,100")
    ap.add_argument("-n", type=int, default=200000)
    ap.add_argument("-c", type=int, default=50)
    ap.add_argument("--size", type=int, default=64)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="pubsub-bench-")
    servers = [Srv("lode", a.lode, work), Srv("redis", a.redis, work)]
    try:
        print("PUBLISH, %d requests, %d clients, %d-byte payload" % (a.n, a.c, a.size))
        print("(with more than one subscriber: -n / 10 requests)")
        print("%-12s %14s %14s %8s" % ("subscribers", "lode req/s", "redis req/s", "ratio"))
        for nsubs in [int(x) for x in a.subs.split(",")]:
            res = {}
            # every message is delivered nsubs times: fewer requests for many
            n = a.n if nsubs == 1 else max(a.n // 10, 1000)
            for s in servers:
                res[s.kind] = run_one(s, nsubs, n, a.c, a.size)
            lr, rr = res["lode"][0], res["redis"][0]
            flag = "" if res["lode"][1] and res["redis"][1] else "  (messages missing!)"
            print("%-12d %14.0f %14.0f %7.2fx%s" % (nsubs, lr, rr, lr / rr if rr else 0, flag))
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
