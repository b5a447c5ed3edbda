#!/usr/bin/env python3
"""Measures this machine's fdatasync latency for the three ways a WAL can
place its writes: appending to a growing file, overwriting blocks that were
written before (zero-filled here; a reused WAL segment is the same case),
and writing into space reserved with posix_fallocate (unwritten extents,
which the file system converts, with a journal commit, when data reaches
them). Each sync follows one write of CHUNK bytes (default: 100, 4096 and
32768: one record, a small group and a large group of an `always` commit).
Prints the median and p99 in ms and the syncs per second one writer could
do, and the CPU time each write + sync costs: the writing thread's own, and,
when the probe is pinned to one CPU (taskset -c N), that CPU's whole busy
time (interrupts and the hypervisor's share included), which is what a
server sharing that CPU loses per group commit.
Usage: [taskset -c N] bench/fsync_probe.py [DIR] [N] [CHUNK ...]"""
import os
import statistics
import sys
import tempfile
import time

def cpu_busy_ticks():
    """(busy, total) jiffies of the one CPU this process is pinned to, or
    None when it may run on several."""
    cpus = os.sched_getaffinity(0)
    if len(cpus) != 1:
        return None
    name = "cpu%d " % next(iter(cpus))
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(name):
                v = [int(x) for x in line.split()[1:9]]
                return sum(v) - v[3] - v[4], sum(v)
    return None


def probe(path, mode, n, chunk):
    fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
    size = (chunk + 4096) * (n + 16)
    if mode == "zero-filled":
        os.write(fd, b"\0" * size)
        os.fsync(fd)
    elif mode == "fallocated":
        os.posix_fallocate(fd, 0, size)
        os.fsync(fd)
    rec = b"x" * chunk
    lat = []
    off = 0
    cpu0, busy0 = time.thread_time(), cpu_busy_ticks()
    for _ in range(n):
        os.pwrite(fd, rec, off)
        t0 = time.perf_counter()
        os.fdatasync(fd)
        lat.append((time.perf_counter() - t0) * 1000)
        off += len(rec)
    cpu_us = (time.thread_time() - cpu0) / n * 1e6
    busy1 = cpu_busy_ticks()
    pinned_us = None
    if busy0 and busy1:
        pinned_us = (busy1[0] - busy0[0]) / os.sysconf("SC_CLK_TCK") / n * 1e6
    os.close(fd)
    os.unlink(path)
    lat.sort()
    return statistics.median(lat), lat[int(len(lat) * 0.99) - 1], cpu_us, pinned_us

def main():
    d = sys.argv[1] if len(sys.argv) > 1 else tempfile.gettempdir()
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    chunks = [int(a) for a in sys.argv[3:]] or [100, 4096, 32768]
    for chunk in chunks:
        print("fdatasync after a %d-byte write, %d samples each, in %s" % (chunk, n, d))
        for mode in ("append", "zero-filled", "fallocated"):
            med, p99, cpu_us, pinned_us = probe(os.path.join(d, "fsync-probe.tmp"), mode, n,
                                                chunk)
            print("%-12s median %.3f ms  p99 %.3f ms  (~%d syncs/s)  cpu/sync: thread %.0f us%s"
                  % (mode, med, p99, 1000 / med, cpu_us,
                     ", pinned CPU %.0f us" % pinned_us if pinned_us is not None else ""))

if __name__ == "__main__":
    main()
