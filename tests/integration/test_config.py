"""The server process and its configuration: config files in redis.conf
syntax, command-line overrides, CONFIG GET/SET/REWRITE/RESETSTAT, unix
sockets, pidfile, logfile, daemonize, signals."""
import os
import signal
import subprocess

import pytest
import redis

from conftest import LODE_BIN, Server, free_port, wait_until


def test_config_get_set(r):
    assert r.config_get("maxclients") == {"maxclients": "10000"}
    assert r.config_set("maxclients", "100") is True
    assert r.config_get("maxclients") == {"maxclients": "100"}
    got = r.config_get("*max*len")
    assert got["proto-max-bulk-len"] == "536870912"
    assert "slowlog-max-len" in got


def test_collection_encoding_settings_and_aliases(r):
    """The *-max-listpack-* settings with Redis's defaults, and their older
    *-ziplist-* names, which read and write the same setting."""
    got = r.config_get("*-max-*")
    want = {"hash-max-listpack-entries": "512", "hash-max-listpack-value": "64",
            "hash-max-ziplist-entries": "512", "hash-max-ziplist-value": "64",
            "zset-max-listpack-entries": "128", "zset-max-listpack-value": "64",
            "zset-max-ziplist-entries": "128", "zset-max-ziplist-value": "64",
            "list-max-listpack-size": "-2", "list-max-ziplist-size": "-2",
            "set-max-intset-entries": "512"}
    for k, v in want.items():
        assert got.get(k) == v, k
    assert r.config_get("list-compress-depth") == {"list-compress-depth": "0"}
    assert r.config_set("hash-max-ziplist-entries", "7") is True
    assert r.config_get("hash-max-listpack-entries") == {"hash-max-listpack-entries": "7"}
    assert r.config_set("zset-max-listpack-value", "9") is True
    assert r.config_get("zset-max-ziplist-value") == {"zset-max-ziplist-value": "9"}
    r.config_set("hash-max-listpack-entries", "512")
    r.config_set("zset-max-listpack-value", "64")


def test_config_set_errors(raw):
    assert raw.call("CONFIG", "SET", "nosuch", "1") == \
        b"-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n"
    assert raw.call("CONFIG", "SET", "maxclients", "abc") == \
        b"-ERR CONFIG SET failed (possibly related to argument 'maxclients') - " \
        b"argument couldn't be parsed into an integer\r\n"
    assert raw.call("CONFIG", "SET", "maxclients", "10", "timeout") == b"-ERR syntax error\r\n"
    assert raw.call("CONFIG", "SET", "maxclients") == \
        b"-ERR wrong number of arguments for 'config|set' command\r\n"
    assert raw.call("CONFIG", "SET", "daemonize", "yes") == \
        b"-ERR CONFIG SET failed (possibly related to argument 'daemonize') - " \
        b"can't set immutable config\r\n"
    assert raw.call("CONFIG", "GET") == \
        b"-ERR wrong number of arguments for 'config|get' command\r\n"
    assert raw.call("CONFIG", "NOPE") == \
        b"-ERR unknown subcommand 'NOPE'. Try CONFIG HELP.\r\n"


def test_config_set_is_all_or_nothing(r):
    with pytest.raises(redis.ResponseError):
        r.execute_command("CONFIG", "SET", "timeout", "7", "maxclients", "bad")
    assert r.config_get("timeout") == {"timeout": "0"}
    r.execute_command("CONFIG", "SET", "timeout", "7", "maxclients", "50")
    assert r.config_get("timeout") == {"timeout": "7"}
    assert r.config_get("maxclients") == {"maxclients": "50"}


def test_config_get_resp3_map(server):
    c = server.raw()
    c.call("HELLO", "3")
    assert c.call("CONFIG", "GET", "timeout") == b"%1\r\n$7\r\ntimeout\r\n$1\r\n0\r\n"
    c.close()


@pytest.mark.lode_only
def test_config_file_and_rewrite(tmp_path):
    port = free_port()
    conf = tmp_path / "lode.conf"
    conf.write_text("# my settings\nport %d\nbind 127.0.0.1\ntimeout 30\n"
                    "dir %s\n" % (port, tmp_path / "data"))
    proc = subprocess.Popen([LODE_BIN, str(conf), "--loglevel", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        c = redis.Redis(port=port)
        wait_until(lambda: _pings(c), what="server start")
        assert c.config_get("timeout") == {"timeout": "30"}
        assert c.config_get("loglevel") == {"loglevel": "warning"}
        c.config_set("timeout", "45")
        c.config_set("requirepass", "p w")
        assert c.execute_command("AUTH", "p w") is True
        assert c.config_rewrite() == b"OK"
        text = conf.read_text()
        assert text.startswith("# my settings\n")
        assert "timeout 45\n" in text
        assert 'requirepass "p w"\n' in text
        c.shutdown()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _pings(c):
    try:
        return c.ping()
    except redis.exceptions.ConnectionError:
        return False


@pytest.mark.lode_only
def test_bad_config_file_refuses_to_start(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("port 1234\nfrobnicate yes\n")
    res = subprocess.run([LODE_BIN, str(conf)], capture_output=True, timeout=10)
    assert res.returncode != 0
    assert b"FATAL CONFIG FILE ERROR" in res.stderr
    assert b"at line 2" in res.stderr
    assert b"frobnicate yes" in res.stderr


@pytest.mark.lode_only
def test_unixsocket_pidfile_logfile(tmp_path):
    sock = str(tmp_path / "lode.sock")
    pidfile = str(tmp_path / "lode.pid")
    logfile = str(tmp_path / "lode.log")
    s = Server("lode", ["--unixsocket", sock, "--unixsocketperm", "700", "--pidfile", pidfile,
                        "--logfile", logfile])
    try:
        s.start()
        c = redis.Redis(unix_socket_path=sock)
        assert c.ping() is True
        assert c.set("k", "v") and c.get("k") == b"v"
        assert oct(os.stat(sock).st_mode & 0o777) == "0o700"
        with open(pidfile) as f:
            assert int(f.read()) == s.proc.pid
        wait_until(lambda: "Ready to accept connections" in open(logfile).read(),
                   what="log line")
        c.close()
        s.stop()
        assert not os.path.exists(pidfile)
        assert not os.path.exists(sock)
    finally:
        s.cleanup()


@pytest.mark.lode_only
def test_daemonize(tmp_path):
    port = free_port()
    pidfile = str(tmp_path / "d.pid")
    res = subprocess.run([LODE_BIN, "--port", str(port), "--daemonize", "yes", "--pidfile",
                          pidfile, "--dir", str(tmp_path / "data"),
                          "--logfile", str(tmp_path / "d.log")], timeout=10)
    assert res.returncode == 0
    c = redis.Redis(port=port)
    wait_until(lambda: _pings(c), what="daemon start")
    pid = int(wait_until(lambda: open(pidfile).read().strip() if os.path.exists(pidfile)
                         else None, what="pidfile"))
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not os.path.exists(pidfile), what="daemon exit")


@pytest.mark.lode_only
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_shut_down_cleanly(server, sig):
    server.client().set("a", "1")
    server.proc.send_signal(sig)
    assert server.proc.wait(10) == 0
    server.proc = None
    server.log.close()
    server.check_log_clean()


def test_requirepass_and_auth(server_factory):
    s = server_factory(args=["--requirepass", "sekret"])
    raw = s.raw()
    assert raw.call("GET", "x") == b"-NOAUTH Authentication required.\r\n"
    assert raw.call("AUTH", "wrong") == \
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    assert raw.call("AUTH", "sekret") == b"+OK\r\n"
    assert raw.call("GET", "x") == b"$-1\r\n"
    raw.close()
    c = s.client(password="sekret")
    assert c.ping() is True
    c.close()


def test_auth_without_password(raw):
    assert raw.call("AUTH", "x") == (
        b"-ERR AUTH <password> called without any password configured for the default user. "
        b"Are you sure your configuration is correct?\r\n")
    assert raw.call("AUTH", "default", "anything") == b"+OK\r\n"


def test_maxclients(server_factory):
    s = server_factory(args=["--maxclients", "2"])

    def connected():
        # the start-up probe's connection may not be reaped yet: retry
        x = s.raw()
        if x.call("PING") == b"+PONG\r\n":
            return x
        x.close()
        return None
    a = wait_until(connected, what="first client slot")
    b = wait_until(connected, what="second client slot")
    c = s.raw()
    assert c.read_reply() == b"-ERR max number of clients reached\r\n"
    assert c.closed_by_peer()
    for x in (a, b, c):
        x.close()


@pytest.mark.lode_only
def test_redis_persistence_parameters_read_as_what_lodestore_does(r):
    """Tools written for Redis read these (redis-benchmark prints them, and
    warns when they are missing): appendonly is always yes, save is empty
    (no RDB snapshots), appendfsync is another name for durability."""
    assert r.config_get("appendonly") == {"appendonly": "yes"}
    assert r.config_get("save") == {"save": ""}
    assert r.config_get("appendfsync") == {"appendfsync": "always"}
    assert r.config_set("appendfsync", "everysec") is True
    assert r.config_get("durability") == {"durability": "everysec"}
    assert r.config_set("durability", "no") is True
    assert r.config_get("appendfsync") == {"appendfsync": "no"}
    # setting what Lodestore already does is accepted; anything else says why
    assert r.config_set("appendonly", "yes") is True
    assert r.config_set("save", "") is True
    with pytest.raises(redis.ResponseError, match="always logs every write"):
        r.config_set("appendonly", "no")
    with pytest.raises(redis.ResponseError, match="no RDB snapshots"):
        r.config_set("save", "900 1")
    assert r.config_get("appendonly") == {"appendonly": "yes"}


def test_redis_benchmark_reads_the_configuration(server):
    """redis-benchmark fetches CONFIG GET save / appendonly at start and warns
    when it cannot."""
    out = subprocess.run(["redis-benchmark", "-p", str(server.port), "-n", "100", "-t", "ping"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert "Could not fetch server CONFIG" not in out.stdout + out.stderr
    assert 'host configuration "appendonly"' in out.stdout
