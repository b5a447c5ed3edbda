"""What the Python benchmarks in bench/ share: free ports, CPU pinning,
redis-cli calls and starting / stopping lode-server and redis-server side by
side (run the scripts with /usr/bin/python3).

Servers listen on 127.0.0.1 only, each in its own directory under the
caller's work directory, pinned to CPU 1 (the load generators to CPU 0) when
taskset is available.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVER_CPU = 1
CLIENT_CPU = 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def add_server_args(ap):
    """--lode and --redis: the two server binaries (argparse parser ap)."""
    ap.add_argument("--lode", default=os.path.join(ROOT, "build", "lode-server"))
    ap.add_argument("--redis", default="/usr/bin/redis-server")


def pin(cpu):
    """The command prefix that pins a process to cpu (empty without taskset)."""
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") else []


def cli(port, *args):
    r = subprocess.run(["redis-cli", "-p", str(port)] + [str(a) for a in args],
                       capture_output=True, text=True)
    return r.stdout.strip()


def info(port, section):
    out = {}
    for line in cli(port, "INFO", section).splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v.strip()
    return out


def redis_persistence(mode):
    """redis-server arguments for persistence mode: "off" (no RDB, no AOF),
    "always", "everysec" or "no" (AOF with that appendfsync)."""
    if mode == "off":
        return ["--save", "", "--appendonly", "no"]
    return ["--save", "", "--appendonly", "yes", "--appendfsync", mode]


class Srv:
    """One server process: kind "lode" or "redis", binary, a fresh directory
    work/<kind>. lode-server runs with --durability durability plus
    lode_args; redis-server with redis_persistence(redis_mode). Pinned to
    cpu (None: not pinned)."""

    def __init__(self, kind, binary, work, durability="no", redis_mode="off", lode_args=(),
                 cpu=SERVER_CPU, start_timeout=30):
        self.kind, self.port = kind, free_port()
        d = os.path.join(work, kind)
        os.makedirs(d)
        if kind == "lode":
            args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
                    os.path.join(d, "data"), "--durability", durability] + list(lode_args)
        else:
            args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
                    d] + redis_persistence(redis_mode)
        self.log = open(os.path.join(d, "log"), "w")
        self.proc = subprocess.Popen((pin(cpu) if cpu is not None else []) + args, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        deadline = time.monotonic() + start_timeout
        while self.cli("PING") != "PONG":
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                sys.exit("%s did not start (log: %s)" % (kind, self.log.name))
            time.sleep(0.05)

    def cli(self, *args):
        return cli(self.port, *args)

    def info(self, section):
        return info(self.port, section)

    def used_memory(self):
        self.cli("MEMORY", "PURGE")
        return int(re.search(r"used_memory:(\d+)", self.cli("INFO", "memory")).group(1))

    def stop(self):
        if self.proc.poll() is None:
            self.cli("SHUTDOWN", "NOSAVE")
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
