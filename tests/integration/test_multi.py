"""Transactions through redis-py: MULTI/EXEC pipelines, WATCH with another
connection changing the key, its TTL or the db, EXECABORT, run-time errors
inside EXEC, RESP3, CLIENT LIST, and (lode only) the durability side: a
transaction is one WAL record, replayed whole after a restart, and a
read-only transaction logs nothing. Tests without the lode_only mark also
pass against redis-server (LODE_TARGET=redis)."""
import os

import pytest
import redis

from conftest import wait_until
from resp_client import encode


def test_pipeline_transaction(r):
    with r.pipeline(transaction=True) as p:
        p.set("a", 1).incr("a").get("a").get("missing").delete("a")
        assert p.execute() == [True, 2, b"2", None, 1]
    assert r.exists("a") == 0


def test_empty_transaction(raw):
    assert raw.call("MULTI") == b"+OK\r\n"
    assert raw.call("EXEC") == b"*0\r\n"


def test_queued_replies_and_exec_array(raw):
    assert raw.call("MULTI") == b"+OK\r\n"
    assert raw.call("SET", "k", "v") == b"+QUEUED\r\n"
    assert raw.call("GET", "k") == b"+QUEUED\r\n"
    assert raw.call("EXEC") == b"*2\r\n+OK\r\n$1\r\nv\r\n"


def test_runtime_error_does_not_abort(r):
    r.set("s", "text")
    with r.pipeline(transaction=True) as p:
        p.incr("s").set("a", "1").incr("a")
        res = p.execute(raise_on_error=False)
    assert isinstance(res[0], redis.ResponseError)
    assert "not an integer" in str(res[0])
    assert res[1:] == [True, 2]
    assert r.get("a") == b"2"


@pytest.mark.parametrize("bad", [
    ("NOSUCHCOMMAND", "x"),
    ("GET",),
    ("SET", "onlykey"),
    ("SAVE",),
])
def test_queue_error_aborts(raw, bad):
    raw.call("SET", "a", "0")
    assert raw.call("MULTI") == b"+OK\r\n"
    assert raw.call("SET", "a", "1") == b"+QUEUED\r\n"
    assert raw.call(*bad).startswith(b"-ERR ")
    assert raw.call("SET", "b", "1") == b"+QUEUED\r\n"
    assert raw.call("EXEC") == (
        b"-EXECABORT Transaction discarded because of previous errors.\r\n")
    assert raw.call("EXISTS", "b") == b":0\r\n"
    assert raw.call("GET", "a") == b"$1\r\n0\r\n"
    # the transaction is gone
    assert raw.call("EXEC") == b"-ERR EXEC without MULTI\r\n"


def test_no_multi_commands_refused(raw):
    raw.call("MULTI")
    assert raw.call("SAVE") == b"-ERR Command not allowed inside a transaction\r\n"
    assert raw.call("SHUTDOWN", "NOSAVE") == (
        b"-ERR Command not allowed inside a transaction\r\n")
    assert raw.call("PING") == b"+QUEUED\r\n"
    assert raw.call("EXEC").startswith(b"-EXECABORT")


def test_pipeline_queue_error_raises(r):
    with r.pipeline(transaction=True) as p:
        p.set("a", 1)
        p.execute_command("NOSUCHCOMMAND")
        with pytest.raises(redis.ResponseError, match="unknown command"):
            p.execute()
    assert r.exists("a") == 0


def test_nesting_errors(raw):
    assert raw.call("EXEC") == b"-ERR EXEC without MULTI\r\n"
    assert raw.call("DISCARD") == b"-ERR DISCARD without MULTI\r\n"
    raw.call("MULTI")
    assert raw.call("MULTI") == b"-ERR MULTI calls can not be nested\r\n"
    assert raw.call("WATCH", "k") == b"-ERR WATCH inside MULTI is not allowed\r\n"
    assert raw.call("SET", "k", "1") == b"+QUEUED\r\n"
    # neither error flags the transaction
    assert raw.call("EXEC") == b"*1\r\n+OK\r\n"


def test_exec_with_arguments_aborts(raw):
    raw.call("MULTI")
    raw.call("SET", "k", "1")
    assert raw.call("EXEC", "now") == (
        b"-EXECABORT Transaction discarded because of: "
        b"wrong number of arguments for 'exec' command\r\n")
    assert raw.call("EXEC") == b"-ERR EXEC without MULTI\r\n"
    assert raw.call("EXISTS", "k") == b":0\r\n"


def test_discard(r, raw):
    raw.call("MULTI")
    raw.call("SET", "k", "1")
    assert raw.call("DISCARD") == b"+OK\r\n"
    assert r.exists("k") == 0
    assert raw.call("SET", "k", "2") == b"+OK\r\n"


def test_reset_and_quit_clear_state(server, raw):
    raw.call("WATCH", "k")
    raw.call("MULTI")
    raw.call("SET", "k", "1")
    assert raw.call("RESET") == b"+RESET\r\n"
    assert raw.call("EXEC") == b"-ERR EXEC without MULTI\r\n"
    other = server.client()
    other.set("k", "9")
    raw.call("MULTI")
    raw.call("GET", "k")
    assert raw.call("EXEC") == b"*1\r\n$1\r\n9\r\n"  # the watch went with RESET
    raw.call("MULTI")
    assert raw.call("QUIT") == b"+OK\r\n"
    with pytest.raises((ConnectionError, OSError)):
        raw.call("PING")
    other.close()


def _watch_then(server, change, setup=None):
    """WATCH k on one connection, run change(other) on another, then try a
    transaction; returns what EXEC gave (None when it was aborted)."""
    c = server.client()
    o = server.client()
    try:
        if setup:
            setup(o)
        with c.pipeline(transaction=True) as p:
            p.watch("k")
            change(o)
            p.multi()
            p.set("result", "ran")
            try:
                return p.execute()
            except redis.WatchError:
                return None
    finally:
        c.close()
        o.close()


@pytest.mark.parametrize("name,setup,change,aborted", [
    ("set", lambda o: o.set("k", 1), lambda o: o.set("k", 2), True),
    ("same-value", lambda o: o.set("k", 1), lambda o: o.set("k", 1), True),
    ("create", None, lambda o: o.set("k", 1), True),
    ("delete", lambda o: o.set("k", 1), lambda o: o.delete("k"), True),
    ("delete-missing", None, lambda o: o.delete("k"), False),
    ("expire", lambda o: o.set("k", 1), lambda o: o.expire("k", 100), True),
    ("persist", lambda o: o.set("k", 1, ex=100), lambda o: o.persist("k"), True),
    ("persist-no-ttl", lambda o: o.set("k", 1), lambda o: o.persist("k"), False),
    ("read", lambda o: o.set("k", 1), lambda o: o.get("k"), False),
    ("nx-fails", lambda o: o.set("k", 1), lambda o: o.set("k", 2, nx=True), False),
    ("incr", lambda o: o.set("k", 1), lambda o: o.incr("k"), True),
    ("append", lambda o: o.set("k", 1), lambda o: o.append("k", "x"), True),
    ("rename-away", lambda o: o.set("k", 1), lambda o: o.rename("k", "j"), True),
    ("rename-onto", lambda o: o.set("j", 1), lambda o: o.rename("j", "k"), True),
    ("other-key", lambda o: o.set("k", 1), lambda o: o.set("j", 1), False),
    ("flushdb", lambda o: o.set("k", 1), lambda o: o.flushdb(), True),
    ("flushdb-missing", None, lambda o: o.flushdb(), False),
    ("flushall", lambda o: o.set("k", 1), lambda o: o.flushall(), True),
    ("swapdb", lambda o: o.set("k", 1), lambda o: o.swapdb(0, 1), True),
    ("swapdb-other-dbs", lambda o: o.set("k", 1), lambda o: o.swapdb(2, 3), False),
])
def test_watch(server, name, setup, change, aborted):
    got = _watch_then(server, change, setup)
    if aborted:
        assert got is None, name
    else:
        assert got == [True], name


def test_watch_swapdb_brings_key(server):
    def bring(o):
        o.execute_command("SELECT", 1)
        o.set("k", "from1")
        o.swapdb(0, 1)
    assert _watch_then(server, bring) is None


def test_watch_pipeline_sees_other_client(r):
    with r.pipeline(transaction=True) as p:
        p.watch("k")
        r.set("k", 1)  # r's connection is not the pipeline's
        p.multi()
        p.get("k")
        with pytest.raises(redis.WatchError):
            p.execute()


def test_watch_own_write_same_connection(raw):
    raw.call("WATCH", "k")
    raw.call("SET", "k", "1")
    raw.call("MULTI")
    raw.call("PING")
    assert raw.call("EXEC") == b"*-1\r\n"


def test_own_writes_inside_exec_do_not_abort_later(raw):
    raw.call("WATCH", "k")
    raw.call("MULTI")
    raw.call("SET", "k", "1")
    assert raw.call("EXEC") == b"*1\r\n+OK\r\n"
    # EXEC dropped the watch
    raw.call("SET", "k", "2")
    raw.call("MULTI")
    raw.call("PING")
    assert raw.call("EXEC") == b"*1\r\n+PONG\r\n"


def test_unwatch_and_discard_forget(server, raw):
    o = server.client()
    raw.call("WATCH", "k")
    assert raw.call("UNWATCH") == b"+OK\r\n"
    o.set("k", 1)
    raw.call("MULTI")
    raw.call("PING")
    assert raw.call("EXEC") == b"*1\r\n+PONG\r\n"
    raw.call("WATCH", "k")
    o.set("k", 2)
    raw.call("MULTI")
    raw.call("DISCARD")
    raw.call("MULTI")
    raw.call("PING")
    assert raw.call("EXEC") == b"*1\r\n+PONG\r\n"
    o.close()


def test_watch_key_expiring(server, raw):
    o = server.client()
    o.set("k", 1, px=50)
    raw.call("WATCH", "k")
    wait_until(lambda: o.pttl("k") == -2, what="k to expire")
    raw.call("MULTI")
    raw.call("PING")
    assert raw.call("EXEC") == b"*-1\r\n"
    o.close()


def test_watch_key_expiring_unseen(server, raw):
    """A watched key whose TTL passes without anyone touching it still
    aborts EXEC (the check at EXEC, not only the deletion)."""
    o = server.client()
    o.set("k", 1, px=50)
    o.set("clock", 1, px=50)
    raw.call("WATCH", "k")
    # both set with the same TTL, k first: once clock is gone k has expired
    wait_until(lambda: o.exists("clock") == 0, what="clock to expire")
    raw.call("MULTI")
    raw.call("PING")
    assert raw.call("EXEC") in (b"*-1\r\n",)
    o.close()


def test_watch_already_expired_key(server_factory):
    # redis-server refuses DEBUG unless enabled
    args = ["--enable-debug-command", "yes"] if os.environ.get("LODE_TARGET") == "redis" else []
    server = server_factory(args)
    raw = server.raw()
    o = server.client()
    o.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        o.set("k", 1, px=20)
        o.set("clock", 1, px=20)
        wait_until(lambda: o.exists("clock") == 0, what="clock to expire")
        raw.call("WATCH", "k")
        o.get("k")  # deletes the expired key: no logical change
        raw.call("MULTI")
        raw.call("PING")
        assert raw.call("EXEC") == b"*1\r\n+PONG\r\n"
        o.set("k", 1, px=20)
        o.set("clock", 1, px=20)
        wait_until(lambda: o.exists("clock") == 0, what="clock to expire")
        raw.call("WATCH", "k")
        o.set("k", 2)  # it comes back to life: a change
        raw.call("MULTI")
        raw.call("PING")
        assert raw.call("EXEC") == b"*-1\r\n"
    finally:
        o.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        o.close()
        raw.close()


def test_resp3(server):
    c = server.raw()
    c.call("HELLO", "3")
    c.call("SET", "n", "1")
    c.call("MULTI")
    c.call("GET", "missing")
    c.call("INCR", "n")
    c.call("INCRBYFLOAT", "n", "0.5")
    assert c.call("EXEC") == b"*3\r\n_\r\n:2\r\n$3\r\n2.5\r\n"
    c.call("WATCH", "n")
    o = server.client()
    o.set("n", 5)
    c.call("MULTI")
    c.call("PING")
    assert c.call("EXEC") == b"_\r\n"
    o.close()
    c.close()


def test_hello_inside_multi_switches_protocol(raw):
    raw.call("MULTI")
    raw.call("HELLO", "3")
    raw.call("GET", "missing")
    reply = raw.call("EXEC")
    assert reply.startswith(b"*2\r\n%7\r\n")
    assert reply.endswith(b"_\r\n")


def test_select_inside_multi(r, raw):
    raw.call("MULTI")
    raw.call("SELECT", "4")
    raw.call("SET", "k", "in4")
    assert raw.call("EXEC") == b"*2\r\n+OK\r\n+OK\r\n"
    assert raw.call("GET", "k") == b"$3\r\nin4\r\n"
    assert r.get("k") is None


def test_client_list_shows_multi(server, raw):
    o = server.client()
    raw.call("CLIENT", "SETNAME", "tx")
    raw.call("MULTI")
    raw.call("SET", "k", "v")
    raw.call("GET", "k")
    line = [l for l in o.client_list() if l["name"] == "tx"][0]
    assert line["multi"] == "2"
    assert "x" in line["flags"]
    raw.call("EXEC")
    line = [l for l in o.client_list() if l["name"] == "tx"][0]
    assert line["multi"] == "-1"
    o.close()


def test_commandstats_count_inner_commands(r):
    r.config_resetstat()
    with r.pipeline(transaction=True) as p:
        p.set("a", 1).incr("a").incr("a")
        p.execute()
    stats = r.info("commandstats")
    assert stats["cmdstat_incrby"]["calls"] == 2  # redis-py sends INCRBY
    assert stats["cmdstat_exec"]["calls"] == 1
    assert stats["cmdstat_multi"]["calls"] == 1


def test_many_commands(r):
    with r.pipeline(transaction=True) as p:
        for i in range(2000):
            p.incr("n")
        res = p.execute()
    assert res == list(range(1, 2001))


# ---- durability (lode only) ----

def last_lsn(c):
    return int(c.info("persistence")["lode_wal_last_lsn"])


@pytest.mark.lode_only
def test_transaction_is_one_record_and_replays(make_server):
    s = make_server()
    c = s.client()
    before = last_lsn(c)
    with c.pipeline(transaction=True) as p:
        p.set("a", 1).incr("a").execute_command("SELECT", 3)
        p.set("b", "in3", ex=1000).incr("c").get("a")
        p.execute()
    assert last_lsn(c) == before + 1
    # reads only: nothing logged
    with c.pipeline(transaction=True) as p:
        p.get("a").exists("b").ttl("a")
        p.execute()
    assert last_lsn(c) == before + 1
    digest = c.execute_command("DEBUG", "DIGEST")
    c.close()
    s.kill9()
    s.start()
    c = s.client()
    assert c.execute_command("DEBUG", "DIGEST") == digest
    assert c.get("a") == b"2"
    c.execute_command("SELECT", 3)
    assert c.get("b") == b"in3"
    assert 0 < c.ttl("b") <= 1000
    c.close()


@pytest.mark.lode_only
def test_exec_reply_waits_for_the_wal(make_server):
    """durability always: once EXEC answered, a kill -9 keeps everything."""
    s = make_server()
    c = s.client()
    with c.pipeline(transaction=True) as p:
        for i in range(50):
            p.set("k%d" % i, i)
        p.execute()
    s.kill9()
    s.start()
    c = s.client()
    assert c.dbsize() == 50
    c.close()


@pytest.mark.lode_only
def test_transaction_keys_reach_checkpoint(make_server):
    s = make_server()
    c = s.client()
    with c.pipeline(transaction=True) as p:
        p.set("x", 1).set("y", 2).execute_command("SELECT", 2)
        p.set("z", 3)
        p.execute()
    c.save()
    digest = c.execute_command("DEBUG", "DIGEST")
    c.close()
    s.kill9()
    s.start()
    c = s.client()
    assert c.execute_command("DEBUG", "DIGEST") == digest
    # everything came from the checkpoint: no WAL record was left to replay
    assert int(c.info("persistence")["lode_recovery_records"]) == 0
    c.close()


def test_pause_write_holds_exec_with_writes(server):
    o = server.client()
    c = server.raw()
    try:
        c.call("CLIENT", "SETNAME", "tx")
        c.call("MULTI")
        c.call("GET", "a")
        o.execute_command("CLIENT", "PAUSE", "100000", "WRITE")
        # a read-only transaction is not held
        assert c.call("EXEC") == b"*1\r\n$-1\r\n"
        o.execute_command("CLIENT", "UNPAUSE")
        c.call("MULTI")
        c.call("SET", "a", "1")  # (a write is held while queuing too)
        o.execute_command("CLIENT", "PAUSE", "100000", "WRITE")
        c.send_raw(encode("EXEC"))
        wait_until(lambda: any(l["name"] == "tx" and "b" in l["flags"] and l["cmd"] == "exec"
                               for l in o.client_list()), what="EXEC to be held")
        assert o.get("a") is None
        o.execute_command("CLIENT", "UNPAUSE")
        assert c.read_reply() == b"*1\r\n+OK\r\n"
        assert o.get("a") == b"1"
    finally:
        o.execute_command("CLIENT", "UNPAUSE")
        o.close()
        c.close()
