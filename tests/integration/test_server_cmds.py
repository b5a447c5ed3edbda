"""Server and admin commands: CLIENT, COMMAND, INFO, TIME, SLOWLOG,
MONITOR, MEMORY and DEBUG, through redis-py and raw RESP.

Everything except DEBUG DIGEST (whose value is ours) also runs against
redis-server with LODE_TARGET=redis, which proves the expectations are
Redis 7.0's behaviour.
"""
import os
import re

import pytest
import redis

from conftest import wait_until
from resp_client import encode

IS_REDIS = os.environ.get("LODE_TARGET") == "redis"


@pytest.fixture
def dbg(server_factory):
    """A server that accepts DEBUG (redis-server needs it enabled)."""
    args = ["--enable-debug-command", "yes"] if IS_REDIS else []
    s = server_factory(args=args)
    c = s.client()
    yield s, c
    c.close()


def bulks(reply):
    """The bulk strings of a flat array reply (command names: no CR/LF)."""
    return re.findall(rb"\$\d+\r\n([^\r]*)\r\n", reply)


def client_id(conn):
    return conn.client_id() if hasattr(conn, "client_id") else int(conn.call("CLIENT", "ID")[1:-2])


# ---- CLIENT ----

def test_client_id_setname_getname(r, raw):
    assert isinstance(r.client_id(), int)
    assert r.client_id() != client_id(raw)
    assert r.client_getname() is None
    assert r.client_setname("worker-1") is True
    assert r.client_getname() == "worker-1"  # redis-py decodes it
    assert raw.call("CLIENT", "SETNAME", "a b") == \
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    assert raw.call("CLIENT", "SETNAME", "x") == b"+OK\r\n"
    assert raw.call("CLIENT", "SETNAME", "") == b"+OK\r\n"
    assert raw.call("CLIENT", "GETNAME") == b"$-1\r\n"
    assert raw.call("CLIENT", "NOSUCH") == b"-ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP.\r\n"
    assert raw.call("CLIENT") == b"-ERR wrong number of arguments for 'client' command\r\n"


def test_client_list_parsed_by_redis_py(server, r):
    other = server.client()
    other.client_setname("other")
    other_id = other.client_id()
    r.client_setname("me")
    me = r.client_id()
    clients = r.client_list()
    by_id = {int(c["id"]): c for c in clients}
    assert {me, other_id} <= set(by_id)
    mine = by_id[me]
    assert mine["name"] == "me" and by_id[other_id]["name"] == "other"
    assert mine["cmd"] == "client|list"
    assert mine["flags"] == "N" and mine["db"] == "0" and mine["user"] == "default"
    assert mine["laddr"].endswith(":%d" % server.port)
    for field in ("addr", "fd", "age", "idle", "sub", "psub", "multi", "qbuf", "qbuf-free",
                  "argv-mem", "obl", "oll", "omem", "tot-mem", "events", "resp"):
        assert field in mine
    # connection order: the older connection first
    ids = [int(c["id"]) for c in clients]
    assert ids == sorted(ids)
    assert [int(c["id"]) for c in r.client_list(_type="normal")] == ids
    assert r.client_list(client_id=[str(other_id)])[0]["name"] == "other"
    info = r.client_info()
    assert int(info["id"]) == me and info["cmd"] == "client|info"
    other.close()


def test_client_list_errors(raw):
    assert raw.call("CLIENT", "LIST", "TYPE", "bad") == b"-ERR Unknown client type 'bad'\r\n"
    assert raw.call("CLIENT", "LIST", "TYPE") == b"-ERR syntax error\r\n"
    assert raw.call("CLIENT", "LIST", "ID", "1", "x") == b"-ERR Invalid client ID\r\n"
    assert raw.call("CLIENT", "LIST", "ID", "99999") == b"$0\r\n\r\n"
    assert raw.call("CLIENT", "LIST", "TYPE", "master") == b"$0\r\n\r\n"
    assert raw.call("CLIENT", "LIST", "foo") == b"-ERR syntax error\r\n"
    line = raw.call("CLIENT", "INFO")
    assert line.startswith(b"$") and line.endswith(b"\n\r\n") and b"cmd=client|info" in line


def test_client_kill(server, r):
    victim = server.raw()
    vid = client_id(victim)
    addr = [c["addr"] for c in r.client_list() if int(c["id"]) == vid][0]
    raw = server.raw()
    assert raw.call("CLIENT", "KILL", addr) == b"+OK\r\n"
    assert victim.closed_by_peer()
    assert raw.call("CLIENT", "KILL", addr) == b"-ERR No such client\r\n"
    victim.close()

    v2 = server.raw()
    assert raw.call("CLIENT", "KILL", "ID", str(client_id(v2))) == b":1\r\n"
    assert v2.closed_by_peer()
    v2.close()
    assert raw.call("CLIENT", "KILL", "ID", "999999") == b":0\r\n"
    # filters combine; SKIPME yes (the default) spares the caller
    v3 = server.raw()
    assert raw.call("CLIENT", "KILL", "USER", "default", "ID", str(client_id(v3)),
                    "ADDR", "1.2.3.4:5") == b":0\r\n"
    wait_until(lambda: len(r.client_list()) == 3, what="three clients")
    assert raw.call("CLIENT", "KILL", "TYPE", "normal", "USER", "default") == b":2\r\n"
    assert v3.closed_by_peer()
    v3.close()
    assert raw.call("PING") == b"+PONG\r\n"
    # killing oneself: the reply arrives, then the connection closes
    me = str(client_id(raw))
    assert raw.call("CLIENT", "KILL", "ID", me, "SKIPME", "no") == b":1\r\n"
    assert raw.closed_by_peer()
    raw.close()


def test_client_kill_errors(raw):
    assert raw.call("CLIENT", "KILL", "ID", "x") == b"-ERR client-id should be greater than 0\r\n"
    assert raw.call("CLIENT", "KILL", "ID", "0") == b"-ERR client-id should be greater than 0\r\n"
    assert raw.call("CLIENT", "KILL", "ADDR", "1.2.3.4:5") == b":0\r\n"
    assert raw.call("CLIENT", "KILL", "SKIPME", "maybe") == b"-ERR syntax error\r\n"
    assert raw.call("CLIENT", "KILL", "TYPE", "bad") == b"-ERR Unknown client type 'bad'\r\n"
    assert raw.call("CLIENT", "KILL", "TYPE", "master") == b":0\r\n"
    assert raw.call("CLIENT", "KILL", "USER", "nouser") == b"-ERR No such user 'nouser'\r\n"
    assert raw.call("CLIENT", "KILL", "foo", "bar") == b"-ERR syntax error\r\n"
    assert raw.call("CLIENT", "KILL", "ID") == b"-ERR No such client\r\n"
    assert raw.call("CLIENT", "KILL", "a", "b", "c") == b"-ERR syntax error\r\n"


def test_client_reply_off_skip_on(raw):
    # OFF: nothing is sent until ON, whose +OK is the next reply we read
    raw.send_raw(encode("CLIENT", "REPLY", "OFF") + encode("SET", "k", "1") +
                 encode("GET", "k") + encode("SET", "k", "2") + encode("CLIENT", "REPLY", "ON"))
    assert raw.read_reply() == b"+OK\r\n"
    assert raw.call("GET", "k") == b"$1\r\n2\r\n"
    # SKIP drops exactly the next reply
    raw.send_raw(encode("CLIENT", "REPLY", "SKIP") + encode("SET", "k", "3") + encode("GET", "k"))
    assert raw.read_reply() == b"$1\r\n3\r\n"
    assert raw.call("CLIENT", "REPLY", "bad") == b"-ERR syntax error\r\n"
    assert raw.call("CLIENT", "REPLY", "ON") == b"+OK\r\n"


def test_client_pause_holds_writes_until_unpause(server, r):
    writer = server.raw()
    wid = client_id(writer)
    assert r.client_pause(100000, all=False) is True
    writer.send_raw(encode("SET", "paused", "v"))

    def held():
        line = r.client_list(client_id=[str(wid)])[0]
        return "b" in line["flags"] and line["cmd"] == "set"
    wait_until(held, what="the write to be held")
    assert r.info("clients")["blocked_clients"] == 1
    assert r.get("paused") is None  # reads still run during PAUSE WRITE
    assert r.client_unpause() in (True, b"OK")
    assert writer.read_reply() == b"+OK\r\n"
    assert r.get("paused") == b"v"
    writer.close()


def test_client_pause_errors_and_expiry(server, raw):
    assert raw.call("CLIENT", "PAUSE", "x") == \
        b"-ERR timeout is not an integer or out of range\r\n"
    assert raw.call("CLIENT", "PAUSE", "-1") == b"-ERR timeout is negative\r\n"
    assert raw.call("CLIENT", "PAUSE", "10", "bad") == \
        b"-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n"
    assert raw.call("CLIENT", "PAUSE", "10", "WRITE", "x") == \
        b"-ERR unknown subcommand or wrong number of arguments for 'PAUSE'. Try CLIENT HELP.\r\n"
    # a short pause of everything ends by itself
    assert raw.call("CLIENT", "PAUSE", "50", "ALL") == b"+OK\r\n"
    other = server.raw()
    assert other.call("SET", "a", "b") == b"+OK\r\n"
    other.close()


def test_client_no_evict_and_help(raw):
    assert raw.call("CLIENT", "NO-EVICT", "on") == b"+OK\r\n"
    assert b"flags=e " in raw.call("CLIENT", "INFO")
    assert raw.call("CLIENT", "NO-EVICT", "off") == b"+OK\r\n"
    assert raw.call("CLIENT", "NO-EVICT", "x") == b"-ERR syntax error\r\n"
    help_ = raw.call("CLIENT", "HELP")
    assert help_.startswith(b"*") and b"+HELP\r\n+    Prints this help.\r\n" in help_


# ---- MONITOR ----

def test_monitor_sees_other_clients(server, r):
    mon = server.raw()
    assert mon.call("MONITOR") == b"+OK\r\n"
    r.set("foo", "bar baz")
    line = mon.read_reply()
    assert re.match(rb'^\+\d+\.\d{6} \[0 127\.0\.0\.1:\d+\] "SET" "foo" "bar baz"\r\n$', line), line
    r.execute_command("SELECT", 3)
    r.execute_command("GET", "x\ny")
    assert mon.read_reply().endswith(b'"SELECT" "3"\r\n')
    line = mon.read_reply()
    assert b'[3 ' in line and line.endswith(b'"GET" "x\\ny"\r\n')
    assert [c["flags"] for c in r.client_list() if c["cmd"] == "monitor"] == ["O"]
    mon.close()


# ---- SLOWLOG ----

def test_slowlog(r, raw):
    port = r.client_info()["addr"]
    r.config_set("slowlog-log-slower-than", 0)
    assert r.slowlog_reset() is True
    r.set("slow", "v")
    r.client_setname("slowpoke")
    r.get("slow")
    # the newest entry is GET slow, by the client named slowpoke
    newest = raw.call("SLOWLOG", "GET", "1")
    assert re.match(rb"^\*1\r\n\*6\r\n:\d+\r\n:\d+\r\n:\d+\r\n\*2\r\n\$3\r\nget\r\n"
                    rb"\$4\r\nslow\r\n\$\d+\r\n127\.0\.0\.1:\d+\r\n\$8\r\nslowpoke\r\n$",
                    newest, re.I), newest
    assert port.encode() in newest
    entries = r.slowlog_get()
    assert [e["command"] for e in entries[1:4]] == \
        [b"GET slow", b"CLIENT SETNAME slowpoke", b"SET slow v"]
    assert entries[0]["command"] == b"SLOWLOG GET 1" and entries[0]["duration"] >= 0
    assert entries[0]["id"] > entries[1]["id"]
    assert len(r.slowlog_get(1)) == 1
    assert r.slowlog_len() >= 5
    assert raw.call("SLOWLOG", "GET", "x") == \
        b"-ERR count should be greater than or equal to -1\r\n"
    assert raw.call("SLOWLOG", "GET", "-2") == \
        b"-ERR count should be greater than or equal to -1\r\n"
    assert raw.call("SLOWLOG", "GET", "1", "2") == \
        b"-ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.\r\n"
    r.config_set("slowlog-log-slower-than", -1)
    r.slowlog_reset()
    r.set("fast", "v")
    assert r.slowlog_len() == 0
    assert raw.call("SLOWLOG", "HELP").startswith(b"*12\r\n+SLOWLOG <subcommand>")


# ---- INFO ----

def test_info_sections_parse(r):
    r.set("k1", "v")
    r.set("k2", "v", ex=1000)
    r.config_get("maxmemory")
    try:
        r.execute_command("NOSUCHCMD")
    except redis.ResponseError:
        pass
    info = r.info()
    assert info["redis_version"] == "7.0.15"
    assert info["role"] == "master" and info["connected_slaves"] == 0
    assert info["connected_clients"] >= 1
    assert info["used_memory"] > 0 and info["used_memory_rss"] > 0
    assert info["used_memory_peak"] >= info["used_memory"]
    assert isinstance(info["used_cpu_user"], float)
    assert info["db0"]["keys"] == 2 and info["db0"]["expires"] == 1
    assert info["total_commands_processed"] >= 3
    assert info["loading"] == 0
    assert "cmdstat_set" not in info  # commandstats is not a default section
    cs = r.info("commandstats")
    assert cs["cmdstat_set"]["calls"] == 2
    assert cs["cmdstat_config|get"]["calls"] == 1
    assert set(cs["cmdstat_set"]) == {"calls", "usec", "usec_per_call", "rejected_calls",
                                      "failed_calls"}
    # "count=N" has no comma, so redis-py leaves it a string
    assert re.fullmatch(r"count=[1-9]\d*", r.info("errorstats")["errorstat_ERR"])
    ks = r.info("keyspace")
    assert list(ks) == ["db0"] and ks["db0"]["keys"] == 2 and ks["db0"]["expires"] == 1
    assert set(r.info("everything")) >= set(info) | set(cs)


def test_info_raw_format(raw):
    reply = raw.call("INFO", "cpu", "CPU", "nosuch", "cluster")
    body = reply.split(b"\r\n", 1)[1][:-2]
    sections = body.split(b"\r\n\r\n")
    assert sections[0].startswith(b"# CPU\r\nused_cpu_sys:")
    assert sections[1] == b"# Cluster\r\ncluster_enabled:0\r\n"
    assert raw.call("INFO", "nosuch") == b"$0\r\n\r\n"
    assert raw.call("INFO", "modules") == b"$11\r\n# Modules\r\n\r\n"
    titles = [l for l in raw.call("INFO", "default").split(b"\r\n") if l.startswith(b"# ")]
    assert titles[:7] == [b"# Server", b"# Clients", b"# Memory", b"# Persistence", b"# Stats",
                          b"# Replication", b"# CPU"]
    assert titles[-1] == b"# Keyspace" and b"# Commandstats" not in titles


# ---- COMMAND ----

def test_command_count_info_docs(r, raw):
    cmds = r.command()
    assert r.command_count() == len(cmds)
    assert cmds["get"]["arity"] == 2 and cmds["get"]["first_key_pos"] == 1
    assert "config" in cmds and "client" in cmds and "command" in cmds
    assert raw.call("COMMAND", "INFO", "get") == (
        b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
        b"*3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n"
        b"+access\r\n$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n"
        b"*2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n"
        b"$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n"
        b"*0\r\n")
    assert raw.call("COMMAND", "INFO", "nosuch") == b"*1\r\n$-1\r\n"
    assert raw.call("COMMAND", "INFO", "config|get").startswith(
        b"*1\r\n*10\r\n$10\r\nconfig|get\r\n:-3\r\n*4\r\n+admin\r\n+noscript\r\n")
    sub = raw.call("COMMAND", "INFO", "client")
    assert b"$9\r\nclient|id\r\n" in sub and b"$11\r\nclient|kill\r\n" in sub
    docs = raw.call("COMMAND", "DOCS", "get")
    assert docs.startswith(b"*2\r\n$3\r\nget\r\n*") and b"$22\r\nGet the value of a key\r\n" in docs
    assert raw.call("COMMAND", "DOCS", "nosuch") == b"*0\r\n"
    assert raw.call("COMMAND", "COUNT", "x") == \
        b"-ERR wrong number of arguments for 'command|count' command\r\n"


def test_command_getkeys_and_list(r, raw):
    assert r.command_getkeys("SET", "a", "b") == ["a"]
    assert raw.call("COMMAND", "GETKEYS", "del", "a", "b") == b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    assert raw.call("COMMAND", "GETKEYS", "nosuch", "a") == b"-ERR Invalid command specified\r\n"
    assert raw.call("COMMAND", "GETKEYS", "get", "a", "b") == \
        b"-ERR Invalid number of arguments specified for command\r\n"
    assert raw.call("COMMAND", "GETKEYS", "config", "get", "x") == \
        b"-ERR The command has no key arguments\r\n"
    assert raw.call("COMMAND", "GETKEYS", "get") == \
        b"-ERR wrong number of arguments for 'command|getkeys' command\r\n"
    assert raw.call("COMMAND", "GETKEYSANDFLAGS", "get", "a") == \
        b"*1\r\n*2\r\n$1\r\na\r\n*2\r\n+RO\r\n+access\r\n"
    names = set(bulks(raw.call("COMMAND", "LIST")))
    assert {b"get", b"config", b"config|get", b"client|list"} <= names
    assert sorted(bulks(raw.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "CONFIG*"))) == \
        [b"config", b"config|get", b"config|help", b"config|resetstat", b"config|rewrite",
         b"config|set"]
    conn = set(bulks(raw.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "CONNECTION")))
    assert {b"ping", b"client|id", b"command"} <= conn and b"client" not in conn
    assert raw.call("COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch") == b"*0\r\n"
    assert raw.call("COMMAND", "LIST", "FILTERBY", "MODULE", "x") == b"*0\r\n"
    assert raw.call("COMMAND", "LIST", "FILTERBY") == b"-ERR syntax error\r\n"
    assert raw.call("COMMAND", "LIST", "FILTERBY", "X", "y") == b"-ERR syntax error\r\n"
    assert raw.call("COMMAND", "HELP").startswith(
        b"*21\r\n+COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n")


def test_command_resp3(server):
    c = server.raw()
    c.call("HELLO", "3")
    got = c.call("COMMAND", "INFO", "get")
    assert got.startswith(b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n")
    assert b"~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~2\r\n+RO\r\n" in got and got.endswith(b"~0\r\n")
    assert c.call("CLIENT", "INFO").startswith(b"=")
    c.close()


# ---- TIME, MEMORY ----

def test_time(r, raw):
    secs, usecs = r.time()
    assert secs > 1600000000 and 0 <= usecs < 1000000
    assert raw.call("TIME", "x") == b"-ERR wrong number of arguments for 'time' command\r\n"


def test_memory_usage(r, raw):
    assert r.memory_usage("nokey") is None
    r.set("short", "v")
    r.set("long", "x" * 1000)
    small, big = r.memory_usage("short"), r.memory_usage("long")
    assert 0 < small < big and big >= 1000
    assert r.memory_usage("long", samples=0) == big
    assert raw.call("MEMORY", "USAGE", "short", "SAMPLES") == b"-ERR syntax error\r\n"
    assert raw.call("MEMORY", "USAGE", "short", "SAMPLES", "x") == \
        b"-ERR value is not an integer or out of range\r\n"
    assert raw.call("MEMORY", "USAGE", "short", "SAMPLES", "-1") == b"-ERR syntax error\r\n"
    assert raw.call("MEMORY", "USAGE", "short", "FOO", "1") == b"-ERR syntax error\r\n"
    assert raw.call("MEMORY", "HELP").startswith(b"*")


# ---- DEBUG ----

def test_debug_object_sleep_active_expire(dbg):
    s, r = dbg
    raw = s.raw()
    r.set("e", "v")
    r.set("n", "123")
    r.set("r", "x" * 60)
    assert re.match(rb"^\+Value at:0x[0-9a-f]+ refcount:\d+ encoding:embstr serializedlength:2 "
                    rb"lru:\d+ lru_seconds_idle:\d+\r\n$", raw.call("DEBUG", "OBJECT", "e"))
    assert b" encoding:int serializedlength:2 " in raw.call("DEBUG", "OBJECT", "n")
    assert b" encoding:raw " in raw.call("DEBUG", "OBJECT", "r")
    assert raw.call("DEBUG", "OBJECT", "nokey") == b"-ERR no such key\r\n"
    assert raw.call("DEBUG", "SLEEP", "0.01") == b"+OK\r\n"
    assert raw.call("DEBUG", "SLEEP", "0") == b"+OK\r\n"
    assert raw.call("DEBUG", "SET-ACTIVE-EXPIRE", "0") == b"+OK\r\n"
    assert raw.call("DEBUG", "SET-ACTIVE-EXPIRE", "1") == b"+OK\r\n"
    for bad in (("DEBUG", "SLEEP"), ("DEBUG", "OBJECT"), ("DEBUG", "DIGEST", "x"),
                ("DEBUG", "NOSUCH")):
        assert raw.call(*bad) == (b"-ERR unknown subcommand or wrong number of arguments for '%s'."
                                  b" Try DEBUG HELP.\r\n" % bad[1].encode())
    assert raw.call("DEBUG", "DIGEST-VALUE") == b"*0\r\n"
    got = raw.call("DEBUG", "DIGEST-VALUE", "e", "nokey")
    assert re.match(rb"^\*2\r\n\+[0-9a-f]{40}\r\n\+0{40}\r\n$", got)
    assert raw.call("DEBUG", "HELP").startswith(b"*")
    raw.close()


def load(r, items, order):
    p = r.pipeline(transaction=False)
    for i in order:
        db, key, val, ttl = items[i]
        p.execute_command("SELECT", db)
        if ttl:
            p.execute_command("SET", key, val, "PXAT", ttl)
        else:
            p.execute_command("SET", key, val)
    p.execute_command("SELECT", 0)
    p.execute_command("DEBUG", "DIGEST")
    return p.execute()[-1]


@pytest.mark.lode_only
def test_debug_digest_order_independent(server_factory):
    a, b = server_factory(), server_factory()
    ra, rb = a.client(), b.client()
    zero = b"0" * 40
    assert ra.execute_command("DEBUG", "DIGEST") == zero
    far = 4102444800000  # 2100-01-01 in ms
    items = [(i % 3, "key:%d" % i, str(i) if i % 4 == 0 else "v%d" % i,
              far + i if i % 5 == 0 else None) for i in range(300)]
    da = load(ra, items, range(len(items)))
    db = load(rb, items, reversed(range(len(items))))
    assert re.fullmatch(rb"[0-9a-f]{40}", da) and da != zero
    assert da == db
    # DIGEST-VALUE ignores the key name and the db, only the value counts
    assert ra.execute_command("DEBUG", "DIGEST-VALUE", "key:1") == \
        rb.execute_command("DEBUG", "DIGEST-VALUE", "key:1")
    # any change moves it: value, TTL, a key in another db, a deletion
    rb.execute_command("SELECT", 1)
    rb.set("key:1", "changed")
    assert rb.execute_command("DEBUG", "DIGEST") != da
    rb.set("key:1", "v1")
    assert rb.execute_command("DEBUG", "DIGEST") == da
    rb.set("key:1", "v1", pxat=far)
    with_ttl = rb.execute_command("DEBUG", "DIGEST")
    assert with_ttl != da
    rb.set("key:1", "v1", pxat=far + 1)
    assert rb.execute_command("DEBUG", "DIGEST") not in (da, with_ttl)
    rb.set("key:1", "v1")
    assert rb.execute_command("DEBUG", "DIGEST") == da
    rb.execute_command("SELECT", 5)
    rb.set("extra", "x")
    assert rb.execute_command("DEBUG", "DIGEST") != da
    rb.delete("extra")
    assert rb.execute_command("DEBUG", "DIGEST") == da
    ra.close()
    rb.close()
