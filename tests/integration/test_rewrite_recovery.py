"""Rewritten WAL forms survive a crash: writes whose verbatim replay would
depend on the clock or on float arithmetic (SET EX/PX/EXAT, SETEX, PSETEX,
GETEX, INCRBYFLOAT, the EXPIRE family) are logged in their deterministic
form, so after kill -9 and recovery every key, value and absolute expiry is
the same (DEBUG DIGEST, PEXPIRETIME), and no replayed command failed or was
logged verbatim by the fallback. Lodestore only: needs restarts and DEBUG."""
import pytest

from conftest import Server


def _writes(c):
    c.set("plain", "v")
    c.set("ex", "v", ex=1000)
    c.set("px", "v", px=500000)
    c.execute_command("SET", "exat", "v", "EXAT", "4102444800")
    c.execute_command("SET", "getnx", "v", "NX", "GET", "PX", "700000")
    c.setex("setex", 900, "v")
    c.psetex("psetex", 800000, "v")
    c.set("kept", "v", ex=600)
    c.execute_command("SET", "kept", "w", "KEEPTTL")
    c.set("gx", "v")
    c.execute_command("GETEX", "gx", "EX", "300")
    c.set("gp", "v", ex=300)
    c.execute_command("GETEX", "gp", "PERSIST")
    c.set("gdel", "v")
    c.execute_command("GETEX", "gdel", "PXAT", "1")
    c.execute_command("INCRBYFLOAT", "f", "0.1")
    c.execute_command("INCRBYFLOAT", "f", "1e-3")
    c.expire("f", 400)
    c.execute_command("INCRBYFLOAT", "f", "2.5")
    c.set("e1", "v")
    c.expire("e1", 250)
    c.set("e2", "v")
    c.pexpire("e2", 250000)
    c.set("e3", "v")
    c.expireat("e3", 4102444800)
    c.set("e4", "v")
    c.execute_command("PEXPIREAT", "e4", "4102444800123", "NX")
    c.set("gone", "v")
    c.expire("gone", -1)
    c.set("gone2", "v")
    c.execute_command("PEXPIREAT", "gone2", "1")
    c.set("m", "v")
    c.execute_command("COPY", "m", "m", "DB", "3")
    c.execute_command("MOVE", "plain", "2")


def _state(c):
    keys = sorted(c.keys("*"))
    c.select(2)
    keys2 = sorted(c.keys("*"))
    c.select(3)
    keys3 = sorted(c.keys("*"))
    c.select(0)
    times = {k: c.pexpiretime(k) for k in keys}
    return (c.execute_command("DEBUG", "DIGEST"), keys, keys2, keys3, times,
            c.get("f"), c.get("kept"))


@pytest.mark.lode_only
def test_rewritten_forms_recover_exactly():
    s = Server("lode", ["--durability", "always"]).start()
    try:
        c = s.client()
        _writes(c)
        before = _state(c)
        assert before[5] == b"2.601"
        assert b"gone" not in before[1] and b"gdel" not in before[1]
        assert before[4][b"e4"] == 4102444800123
        assert before[4][b"kept"] > 0 and before[4][b"gp"] == -1
        c.close()
        s.kill9()
        s.start()
        c = s.client()
        after = _state(c)
        c.close()
        assert after == before
        log = s.read_log()
        assert "replaying LSN" not in log
        assert "changed data without emitting" not in log
        s.stop()
    finally:
        s.cleanup()
