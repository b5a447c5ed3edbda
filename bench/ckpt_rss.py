#!/usr/bin/python3
"""Memory during a background snapshot under write load: lode-server's
checkpoint (BGSAVE: a writer thread, or a forked child, writing LMDB) and redis-server's BGSAVE
(a forked child writing an RDB), one after the other in one run (run with
/usr/bin/python3).

  bench/ckpt_rss.py [--lode PATH] [--redis PATH] [--keys N] [--size B]
                    [--clients C] [--incremental] [--servers lode,redis]
                    [--lode-args ARGS] [--md OUT]

For each server: load N keys with B-byte values (every key the write load
uses: redis-benchmark's key:%012d, through redis-cli --pipe), note the
steady RSS, start redis-benchmark overwriting random keys of them (-r N)
with C clients (so the dataset does not grow meanwhile; --clients 0: no
load), run BGSAVE, and sample every 50 ms the
parent's RSS (/proc/PID/status VmRSS) plus the child's private pages
(/proc/CHILD/smaps_rollup Private_Clean + Private_Dirty) until the snapshot
ends. With --incremental a first snapshot is taken (and waited for) before
the write load starts, so the measured one writes only what changed since
(lode-server's incremental checkpoint; Redis always writes everything).
Pages the two processes still share are counted once (in the
parent's RSS); every page copied on write, and whatever the child allocates
itself, is counted on top. Reports the snapshot's duration, the peak (and which of the
parent's file mappings held the most pages at that moment) and
peak / steady, and the same without file pages (the parent's RssAnon +
RssShmem plus the child's private anonymous pages, over the steady
RssAnon + RssShmem): the LMDB map's pages are page cache the kernel writes
back and can drop, in the child (checkpoint-method fork) or in the server
itself (checkpoint-method thread, the default).

lode-server runs with --durability no and --checkpoint-wal-bytes 100gb (no
automatic checkpoint), redis-server with --save "" --appendonly no.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from benchlib import Srv, add_server_args, cli, info


def kb_field(path, names):
    total = 0
    try:
        with open(path) as f:
            for line in f:
                k = line.split(":", 1)[0]
                if k in names:
                    total += int(line.split()[1])
    except OSError:
        return None
    return total * 1024


def private_pages(pid):
    """(all private bytes, private bytes of anonymous mappings) of pid, from
    /proc/PID/smaps: a file's pages (an LMDB map) are page cache the kernel
    can write back and drop; anonymous ones (heap, copies on write) are not."""
    total = anon = 0
    is_anon = False
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                first = line.split(None, 1)[0]
                if "-" in first and not first.endswith(":"):
                    parts = line.split()
                    path = parts[5] if len(parts) > 5 else ""
                    is_anon = path == "" or path.startswith("[")
                elif first in ("Private_Clean:", "Private_Dirty:"):
                    kb = int(line.split()[1]) * 1024
                    total += kb
                    if is_anon:
                        anon += kb
    except (OSError, ValueError):
        return 0, 0
    return total, anon


def file_mappings(pid, top=3):
    """The parent's file-backed mappings holding the most resident pages:
    [(path, KiB)], largest first (where a peak's file pages are)."""
    per = {}
    path = None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                    parts = line.split()
                    path = parts[5] if len(parts) >= 6 and parts[5].startswith("/") else None
                elif path and line.startswith("Rss:"):
                    per[path] = per.get(path, 0) + int(line.split()[1])
    except OSError:
        return []
    return sorted(per.items(), key=lambda kv: -kv[1])[:top]


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def wait_snapshot(port):
    deadline = time.monotonic() + 600
    while info(port, "persistence").get("rdb_bgsave_in_progress") != "0":
        if time.monotonic() > deadline:
            sys.exit("the first snapshot did not end")
        time.sleep(0.05)


def load_all(port, work, keys, size):
    """SETs every key the write load will use (redis-benchmark's
    key:%012d for 0 <= i < keys) with a size-byte value, through redis-cli
    --pipe: the load then only overwrites, and the dataset keeps its size
    while the snapshot runs."""
    path = os.path.join(work, "load.resp")
    val = b"x" * size
    with open(path, "wb") as f:
        for i in range(keys):
            k = b"key:%012d" % i
            f.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, size, val))
    with open(path, "rb") as f:
        out = subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=f,
                             capture_output=True, text=True)
    os.unlink(path)
    if "errors: 0" not in out.stdout:
        sys.exit("loading failed: " + out.stdout + out.stderr)


def run_one(kind, binary, work, keys, size, clients, incremental, lode_args):
    # not pinned: the parent, its child and the load share the machine
    srv = Srv(kind, binary, work, lode_args=["--checkpoint-wal-bytes", "100gb"] + lode_args,
              cpu=None)
    port, pid = srv.port, srv.pid
    try:
        load_all(port, work, keys, size)
        nkeys = int(re.search(r"keys=(\d+)", cli(port, "INFO", "keyspace")).group(1))
        if incremental:
            cli(port, "BGSAVE")
            wait_snapshot(port)
        steady = kb_field("/proc/%d/status" % pid, ("VmRSS",))
        steady_anon = kb_field("/proc/%d/status" % pid, ("RssAnon", "RssShmem"))
        load = None
        if clients:
            load = subprocess.Popen(["redis-benchmark", "-p", str(port), "-t", "set", "-d",
                                     str(size), "-r", str(keys), "-n", "100000000", "-c",
                                     str(clients), "-q"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(1.0)  # the write load is running before the snapshot starts
        cli(port, "BGSAVE")
        t0 = time.monotonic()
        peak, peak_anon, samples, peak_files = 0, 0, 0, []
        while True:
            parent = kb_field("/proc/%d/status" % pid, ("VmRSS",)) or 0
            # the parent's own file pages: with checkpoint-method thread the
            # LMDB map is mapped here (page cache, as the child's are)
            parent_anon = kb_field("/proc/%d/status" % pid, ("RssAnon", "RssShmem")) or 0
            child = child_anon = 0
            for c in children(pid):
                t, a = private_pages(c)
                child += t
                child_anon += a
            if parent + child > peak:
                peak_files = file_mappings(pid)
            peak = max(peak, parent + child)
            peak_anon = max(peak_anon, parent_anon + child_anon)
            samples += 1
            if info(port, "persistence").get("rdb_bgsave_in_progress") == "0" and samples > 2:
                break
            time.sleep(0.05)
        dur = time.monotonic() - t0
        if load:
            load.terminate()
            load.wait()
        status = info(port, "persistence")
        ok = status.get("rdb_last_bgsave_status", status.get("lode_checkpoint_status"))
        return {"keys": nkeys, "steady": steady, "peak": peak, "peak_anon": peak_anon, "dur": dur,
                "status": ok, "steady_anon": steady_anon, "peak_files": peak_files}
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    add_server_args(ap)
    ap.add_argument("--keys", type=int, default=2000000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--incremental", action="store_true")
    ap.add_argument("--servers", default="lode,redis")
    ap.add_argument("--lode-args", default="", help="more lode-server arguments, e.g. "
                    "'--checkpoint-method fork'")
    ap.add_argument("--md")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="lode-ckrss.")
    rows = []
    try:
        for kind, binary in (("lode", a.lode), ("redis", a.redis)):
            if kind not in a.servers.split(","):
                continue
            r = run_one(kind, binary, work, a.keys, a.size, a.clients, a.incremental,
                        a.lode_args.split())
            rows.append((kind, r))
            print("%-5s keys %d, steady RSS %.0f MB, snapshot %.1f s, peak %.0f MB, "
                  "peak/steady %.2f; without file pages %.0f MB, %.2f of steady without; status %s"
                  % (kind, r["keys"], r["steady"] / 1e6, r["dur"], r["peak"] / 1e6,
                     r["peak"] / r["steady"], r["peak_anon"] / 1e6,
                     r["peak_anon"] / r["steady_anon"], r["status"]), flush=True)
            print("      the parent's file pages at the peak: " +
                  (", ".join("%s %.0f MB" % (os.path.basename(p), kb / 1024)
                             for p, kb in r["peak_files"]) or "none"), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if a.md:
        with open(a.md, "w") as f:
            f.write("| server | keys | steady RSS | snapshot | peak (parent RSS + child "
                    "private) | peak / steady | peak without file pages | "
                    "/ steady without file pages |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
            for kind, r in rows:
                f.write("| %s | %d | %.0f MB | %.1f s | %.0f MB | %.2f | %.0f MB | %.2f |\n" %
                        (kind, r["keys"], r["steady"] / 1e6, r["dur"], r["peak"] / 1e6,
                         r["peak"] / r["steady"], r["peak_anon"] / 1e6,
                         r["peak_anon"] / r["steady_anon"]))


if __name__ == "__main__":
    main()
