"""Shared pytest fixtures: real lode-server and redis-server processes on
free loopback ports, each with its own data directory, stopped after use.

Environment:
  LODE_SERVER   path of the lode-server binary (default build/lode-server)
  LODE_TARGET   "redis" runs the integration suite against redis-server
                instead (tests marked lode_only are skipped), to check that
                the tests themselves encode Redis's behaviour.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest
import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resp_client import RawConn  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LODE_BIN = os.environ.get("LODE_SERVER", os.path.join(ROOT, "build", "lode-server"))
REDIS_BIN = "/usr/bin/redis-server"
SANITIZER_MARKS = (b"ERROR: AddressSanitizer", b"ERROR: LeakSanitizer", b"runtime error:")


def pytest_configure(config):
    config.addinivalue_line("markers", "lode_only: needs Lodestore-specific commands or restarts")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("LODE_TARGET") == "redis":
        skip = pytest.mark.skip(reason="lode_only test (LODE_TARGET=redis)")
        for item in items:
            if "lode_only" in item.keywords:
                item.add_marker(skip)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=10.0, interval=0.01, what="condition"):
    """Polls pred() until it is true; fails the test at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


def background_command(server, *args):
    """Sends one command on a fresh connection to server from a thread.
    Returns (thread, result): result gets "reply", or "error" (the error
    reply's text) or "conn" (the connection error's text)."""
    res = {}

    def go():
        c = server.client()
        try:
            res["reply"] = c.execute_command(*args)
        except redis.ResponseError as e:
            res["error"] = str(e)
        except redis.ConnectionError as e:
            res["conn"] = str(e)
        finally:
            c.close()
    t = threading.Thread(target=go)
    t.start()
    return t, res


def wait_busy(raw):
    """Polls PING on raw until it answers BUSY; returns that reply."""
    def busy():
        rep = raw.call("PING")
        return rep if rep.startswith(b"-BUSY") else None
    return wait_until(busy, timeout=10, what="BUSY reply")


class Server:
    """One server process (lode-server or redis-server)."""

    def __init__(self, kind="lode", args=(), dir=None):
        self.kind = kind
        self.extra = list(args)
        self.tmp = None
        if dir is None:
            self.tmp = tempfile.TemporaryDirectory(prefix="lode-test-")
            dir = self.tmp.name
        self.dir = dir
        self.port = None
        self.proc = None
        self.log_path = os.path.join(self.dir, "server.log")

    def cmdline(self):
        if self.kind == "lode":
            return [LODE_BIN, "--port", str(self.port), "--bind", "127.0.0.1",
                    "--dir", os.path.join(self.dir, "data")] + self.extra
        return [REDIS_BIN, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self.dir, "--save", "", "--appendonly", "no"] + self.extra

    def start(self, timeout=15.0):
        self.port = self.port or free_port()
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.cmdline(), stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("server exited at start:\n" + self.read_log())
            c = redis.Redis(port=self.port, socket_timeout=1)
            try:
                return c.ping()
            except redis.exceptions.AuthenticationError:
                return True
            except redis.exceptions.ResponseError as e:
                return "NOAUTH" in str(e)
            except (redis.exceptions.ConnectionError, OSError):
                return False
            finally:
                c.close()
        wait_until(ready, timeout, what="server to accept connections")
        return self

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def client(self, **kw):
        kw.setdefault("socket_timeout", 10)
        return redis.Redis(port=self.port, **kw)

    def raw(self):
        return RawConn(self.port)

    def check_log_clean(self):
        data = self.read_log().encode()
        for m in SANITIZER_MARKS:
            assert m not in data, "sanitizer report in server log:\n" + data.decode(errors="replace")

    def stop(self, timeout=20.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("server did not stop on SIGTERM")
        code = self.proc.returncode
        self.proc = None
        self.log.close()
        self.check_log_clean()
        assert code == 0, "server exited with %s:\n%s" % (code, self.read_log()[-4000:])

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        self.log.close()

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.tmp:
            self.tmp.cleanup()


def _target_kind():
    return "redis" if os.environ.get("LODE_TARGET") == "redis" else "lode"


@pytest.fixture
def server():
    """A fresh server per test (lode-server, or redis-server with LODE_TARGET=redis)."""
    s = Server(_target_kind()).start()
    yield s
    try:
        s.stop()
    finally:
        s.cleanup()


def _stop_all(made):
    errors = []
    for s in made:
        try:
            s.stop()
        except AssertionError as e:
            errors.append(str(e))
        finally:
            s.cleanup()
    assert not errors, "\n".join(errors)


@pytest.fixture
def make_server(tmp_path):
    """make_server(args) starts a lode-server (durability always unless args
    say otherwise) whose data directory lives under tmp_path, so a test can
    stop and restart it on the same data; all are stopped after the test."""
    made = []

    def make(args=()):
        d = tmp_path / ("s%d" % len(made))
        d.mkdir()
        s = Server("lode", ["--durability", "always"] + list(args), dir=str(d))
        made.append(s)
        return s.start()
    yield make
    _stop_all(made)


@pytest.fixture
def server_factory():
    """Starts servers with custom arguments: server_factory(args=[...])."""
    made = []

    def make(args=(), kind=None, start=True):
        s = Server(kind or _target_kind(), args)
        made.append(s)
        return s.start() if start else s
    yield make
    _stop_all(made)


@pytest.fixture
def r(server):
    """A redis-py client (RESP2, decoded responses off) for the server fixture."""
    c = server.client()
    yield c
    c.close()


@pytest.fixture
def raw(server):
    c = server.raw()
    yield c
    c.close()
