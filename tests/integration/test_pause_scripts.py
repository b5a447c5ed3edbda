"""CLIENT PAUSE WRITE and scripts, as Redis 7.0 decides: a script that
declares its flags (an EVAL "#!lua" shebang, any FUNCTION) has its
command's write / may-replicate flags replaced by them, so a no-writes
script runs at once while one that may write is held, whatever the
command (EVAL_RO of a "#!lua" script is held, then refused). A script
without declared flags (no shebang, a shebang that does not parse, an
unknown sha or function) keeps its command's flags: EVAL / EVALSHA / FCALL
are held, the _RO forms are not. MULTI keeps each queued call's computed
flags. (lode only) the same declared flags decide MISCONF after a WAL
failure. No fixed sleeps: a held client is seen in CLIENT LIST ('b' flag
and its command) and its socket is checked to hold no reply yet."""
import hashlib
import socket

import pytest
import redis

from conftest import wait_until
from resp_client import encode

LIB = ("#!lua name=plib\n"
       "redis.register_function{function_name='nw', callback=function() return 1 end, "
       "flags={'no-writes'}}\n"
       "redis.register_function('w', function() return 2 end)")
NW = "#!lua flags=no-writes\nreturn 7"
DECLARED_W = "#!lua\nreturn 8"
PLAIN = "return 9"
RO_ERR = b"-ERR Can not execute a script with write flag using *_ro command.\r\n"


@pytest.fixture
def paused(server):
    """(o, c): o loaded LIB and the scripts and paused writes; c is a raw
    client named 'ps'. Unpauses at the end."""
    o = server.client()
    o.function_load(LIB, replace=True)
    for body in (NW, DECLARED_W, PLAIN):
        o.script_load(body)
    c = server.raw()
    c.call("CLIENT", "SETNAME", "ps")
    o.execute_command("CLIENT", "PAUSE", "100000", "WRITE")
    yield o, c
    o.execute_command("CLIENT", "UNPAUSE")
    o.close()
    c.close()


def sha1(body):
    return hashlib.sha1(body.encode()).hexdigest()


def no_reply_yet(c):
    """The server has sent nothing to c (non-blocking peek)."""
    timeout = c.sock.gettimeout()
    c.sock.setblocking(False)
    try:
        return c.buf == b"" and c.sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return True
    finally:
        c.sock.settimeout(timeout)


def is_held(o, cmd):
    return any(x["name"] == "ps" and "b" in x["flags"] and x["cmd"] == cmd
               for x in o.client_list())


@pytest.mark.parametrize("args,reply", [
    (("EVAL", NW, "0"), b":7\r\n"),
    (("EVALSHA", sha1(NW), "0"), b":7\r\n"),
    (("EVALSHA", sha1(NW).upper(), "0"), b":7\r\n"),
    (("EVAL_RO", NW, "0"), b":7\r\n"),
    (("EVALSHA_RO", sha1(NW), "0"), b":7\r\n"),
    (("EVAL_RO", PLAIN, "0"), b":9\r\n"),
    (("FCALL", "nw", "0"), b":1\r\n"),
    (("FCALL_RO", "nw", "0"), b":1\r\n"),
    # not held: no declared flags, and the _RO commands do not write
    (("EVALSHA_RO", "a" * 40, "0"), b"-NOSCRIPT No matching script. Please use EVAL.\r\n"),
    (("FCALL_RO", "nosuch", "0"), b"-ERR Function not found\r\n"),
])
def test_pause_write_runs_no_writes_scripts_at_once(paused, args, reply):
    o, c = paused
    assert c.call(*args) == reply
    # still paused: a plain write is held
    c.send_raw(encode("SET", "k", "v"))
    wait_until(lambda: is_held(o, "set"), what="SET to be held")
    assert no_reply_yet(c)
    o.execute_command("CLIENT", "UNPAUSE")
    assert c.read_reply() == b"+OK\r\n"


def test_pause_write_runs_no_writes_scripts_in_multi(paused):
    o, c = paused
    assert c.call("MULTI") == b"+OK\r\n"
    assert c.call("EVAL", NW, "0") == b"+QUEUED\r\n"
    assert c.call("FCALL", "nw", "0") == b"+QUEUED\r\n"
    assert c.call("EXEC") == b"*2\r\n:7\r\n:1\r\n"


@pytest.mark.parametrize("args,cmd,reply", [
    (("EVAL", PLAIN, "0"), "eval", b":9\r\n"),
    (("EVAL", DECLARED_W, "0"), "eval", b":8\r\n"),
    (("EVAL", "#!lua flags=allow-oom\nreturn 5", "0"), "eval", b":5\r\n"),
    (("EVAL", "#!lua flags=bogus\nreturn 5", "0"), "eval",
     b"-ERR Unexpected flag in script shebang: bogus\r\n"),
    (("EVAL_RO", DECLARED_W, "0"), "eval_ro", RO_ERR),
    (("EVALSHA", sha1(DECLARED_W), "0"), "evalsha", b":8\r\n"),
    (("EVALSHA", sha1(PLAIN), "0"), "evalsha", b":9\r\n"),
    (("EVALSHA", "a" * 40, "0"), "evalsha", b"-NOSCRIPT No matching script. Please use EVAL.\r\n"),
    (("EVALSHA", "abc", "0"), "evalsha", b"-NOSCRIPT No matching script. Please use EVAL.\r\n"),
    (("EVALSHA_RO", sha1(DECLARED_W), "0"), "evalsha_ro", RO_ERR),
    (("FCALL", "w", "0"), "fcall", b":2\r\n"),
    (("FCALL", "nosuch", "0"), "fcall", b"-ERR Function not found\r\n"),
    (("FCALL_RO", "w", "0"), "fcall_ro", RO_ERR),
])
def test_pause_write_holds_scripts_that_may_write(paused, args, cmd, reply):
    o, c = paused
    c.send_raw(encode(*args))
    wait_until(lambda: is_held(o, cmd), what=cmd + " to be held")
    assert no_reply_yet(c)
    o.execute_command("CLIENT", "UNPAUSE")
    assert c.read_reply() == reply


@pytest.mark.parametrize("queued,cmd", [
    (("EVAL", PLAIN, "0"), "eval"),
    (("EVAL", DECLARED_W, "0"), "eval"),
    (("FCALL_RO", "w", "0"), "fcall_ro"),
])
def test_pause_write_holds_script_queued_in_multi(paused, queued, cmd):
    o, c = paused
    assert c.call("MULTI") == b"+OK\r\n"
    c.send_raw(encode(*queued))
    wait_until(lambda: is_held(o, cmd), what=cmd + " to be held")
    assert no_reply_yet(c)
    o.execute_command("CLIENT", "UNPAUSE")
    assert c.read_reply() == b"+QUEUED\r\n"
    assert c.call("DISCARD") == b"+OK\r\n"


@pytest.mark.parametrize("queued,held,reply", [
    (("EVAL", NW, "0"), False, b"*1\r\n:7\r\n"),
    (("FCALL", "nw", "0"), False, b"*1\r\n:1\r\n"),
    (("EVAL", PLAIN, "0"), True, b"*1\r\n:9\r\n"),
    (("EVALSHA", "b" * 40, "0"), True,
     b"*1\r\n-NOSCRIPT No matching script. Please use EVAL.\r\n"),
    (("EVAL_RO", DECLARED_W, "0"), True, b"*1\r\n" + RO_ERR),
    (("FCALL", "w", "0"), True, b"*1\r\n:2\r\n"),
])
def test_pause_write_exec_of_queued_scripts(server, queued, held, reply):
    """Queued before the pause: EXEC is held when a queued call's
    computed flags write or may replicate."""
    o = server.client()
    o.function_load(LIB, replace=True)
    c = server.raw()
    try:
        c.call("CLIENT", "SETNAME", "ps")
        assert c.call("MULTI") == b"+OK\r\n"
        assert c.call(*queued) == b"+QUEUED\r\n"
        o.execute_command("CLIENT", "PAUSE", "100000", "WRITE")
        if held:
            c.send_raw(encode("EXEC"))
            wait_until(lambda: is_held(o, "exec"), what="EXEC to be held")
            assert no_reply_yet(c)
            o.execute_command("CLIENT", "UNPAUSE")
            assert c.read_reply() == reply
        else:
            assert c.call("EXEC") == reply
    finally:
        o.execute_command("CLIENT", "UNPAUSE")
        o.close()
        c.close()


def test_eval_ro_refuses_scripts_declaring_writes(r):
    """Not paused: EVAL_RO / EVALSHA_RO of a "#!lua" script without
    no-writes is refused before it runs; without a shebang it runs."""
    for body in (DECLARED_W, "#!lua flags=allow-oom\nreturn 1"):
        with pytest.raises(redis.ResponseError) as e:
            r.eval_ro(body, 0)
        assert str(e.value) == RO_ERR[5:-2].decode()
        with pytest.raises(redis.ResponseError) as e:
            r.evalsha_ro(sha1(body), 0)
        assert str(e.value) == RO_ERR[5:-2].decode()
    assert r.eval_ro(NW, 0) == 7
    assert r.eval_ro(PLAIN, 0) == 9


@pytest.mark.lode_only
def test_wal_failure_refuses_scripts_declaring_writes(make_server):
    """After a WAL failure (DEBUG WAL-FAULT) writes get MISCONF: so does a
    script that declares writes, before it runs, as Redis does under
    stop-writes-on-bgsave-error; a no-writes script and one without
    declared flags (which only fails if it writes) run."""
    s = make_server()
    o = s.client()
    o.function_load(LIB)
    assert o.execute_command("DEBUG", "WAL-FAULT", "EIO") == b"OK"
    w = s.client(socket_timeout=10)
    with pytest.raises(redis.exceptions.ConnectionError):
        w.set("during", "x")  # never acknowledged: the connection is closed
    c = s.raw()
    try:
        misconf = b"-MISCONF Errors writing to the WAL: Input/output error"
        for args in (("EVAL", DECLARED_W, "0"), ("FCALL", "w", "0")):
            assert c.call(*args).startswith(misconf)
        assert c.call("EVAL", NW, "0") == b":7\r\n"
        assert c.call("FCALL", "nw", "0") == b":1\r\n"
        assert c.call("EVAL", PLAIN, "0") == b":9\r\n"
        assert c.call("MULTI") == b"+OK\r\n"
        assert c.call("EVAL", DECLARED_W, "0").startswith(misconf)
        assert c.call("EXEC").startswith(b"-EXECABORT")
        assert c.call("MULTI") == b"+OK\r\n"
        assert c.call("EVAL", NW, "0") == b"+QUEUED\r\n"
        assert c.call("EXEC") == b"*1\r\n:7\r\n"
    finally:
        c.close()
        o.close()
