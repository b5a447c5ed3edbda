#!/usr/bin/python3
"""Latency while checkpoints run: lode-server with checkpoint-method thread,
lode-server with checkpoint-method fork, and redis-server without
persistence, alternately in one run (run with /usr/bin/python3).

  bench/ckpt_latency.py [--lode PATH] [--redis PATH] [--rounds R]
                        [--test set|incr] [-n N] [--keys K] [--every BYTES]
                        [--md OUT]

Each round starts every server fresh (pinned to CPU 1, redis-benchmark to
CPU 0), loads K keys and, for lode-server, takes a first checkpoint and
waits for it (so the measured ones are incremental, the usual kind), then
runs redis-benchmark -c 50 -P 16 -r K -t TEST -n N. lode-server runs with
--durability no and --checkpoint-wal-bytes BYTES (default 64mb: several
checkpoints per run, so that their cost shows; the default 256mb makes them
four times rarer); a third lode-server runs without automatic checkpoints
(--checkpoint-wal-bytes 100gb) for the baseline. Reports per server the median over rounds of ops/s, p50,
p99 and max latency, and the checkpoints completed during the run.
"""
import argparse
import re
import shutil
import statistics
import subprocess
import tempfile

from benchlib import CLIENT_CPU, Srv, add_server_args, pin

SUMMARY = re.compile(r"avg\s+min\s+p50\s+p95\s+p99\s+max\s*\n\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)"
                     r"\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)")


def bench(port, test, n, keys):
    r = subprocess.run(pin(CLIENT_CPU) + ["redis-benchmark", "-p", str(port), "-c", "50", "-P",
                                          "16", "-r", str(keys), "-n", str(n), "-t", test],
                       capture_output=True, text=True, timeout=600)
    out = r.stdout.replace("\r", "\n")
    m = SUMMARY.search(out)
    rps = re.search(r"throughput summary: ([\d.]+) requests per second", out)
    if not m or not rps:
        raise SystemExit("redis-benchmark output not understood:\n" + out[-2000:])
    return {"rps": float(rps.group(1)), "p50": float(m.group(3)), "p99": float(m.group(5)),
            "max": float(m.group(6))}


def run_one(kind, binary, method, work, a):
    every = "100gb" if method == "none" else a.every
    args = ["--checkpoint-wal-bytes", every, "--checkpoint-method",
            "fork" if method == "fork" else "thread"]
    srv = Srv(kind, binary, work, lode_args=args)
    try:
        subprocess.run(["redis-benchmark", "-p", str(srv.port), "-c", "50", "-P", "16", "-r",
                        str(a.keys), "-n", str(a.keys), "-t", a.test, "-q"], capture_output=True)
        before = 0
        if kind == "lode":
            srv.cli("SAVE")
            before = int(srv.info("persistence").get("lode_checkpoints_ok", 0))
        r = bench(srv.port, a.test, a.n, a.keys)
        if kind == "lode":
            r["ckpts"] = int(srv.info("persistence").get("lode_checkpoints_ok", 0)) - before
        else:
            r["ckpts"] = 0
        return r
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    add_server_args(ap)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--test", default="set")
    ap.add_argument("-n", type=int, default=5000000)
    ap.add_argument("--keys", type=int, default=100000)
    ap.add_argument("--every", default="64mb")
    ap.add_argument("--md")
    a = ap.parse_args()
    servers = [("lode thread", "lode", a.lode, "thread"), ("lode fork", "lode", a.lode, "fork"),
               ("lode, no checkpoint", "lode", a.lode, "none"),
               ("redis", "redis", a.redis, None)]
    res = {s[0]: [] for s in servers}
    for rnd in range(a.rounds):
        for label, kind, binary, method in servers:
            work = tempfile.mkdtemp(prefix="lode-cklat.")
            try:
                r = run_one(kind, binary, method, work, a)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            res[label].append(r)
            print("round %d %-12s %9.0f ops/s  p50 %.3f  p99 %.3f  max %.3f ms  checkpoints %d"
                  % (rnd + 1, label, r["rps"], r["p50"], r["p99"], r["max"], r["ckpts"]),
                  flush=True)
    lines = ["| server | ops/s | p50 ms | p99 ms | max ms | checkpoints per run |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for label, _, _, _ in servers:
        rs = res[label]
        med = {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p99", "max")}
        lines.append("| %s | %.0f | %.3f | %.3f | %.3f | %s |" % (
            label, med["rps"], med["p50"], med["p99"], med["max"],
            ", ".join(str(r["ckpts"]) for r in rs)))
    print("\n".join(lines))
    if a.md:
        with open(a.md, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
