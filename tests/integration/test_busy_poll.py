"""busy-poll-us: after a turn that read requests the event loop polls
without sleeping while more input keeps arriving within the window, and
goes back to sleeping when it stops. Lodestore-only (INFO lode_busy_poll_*)."""
import os

import pytest
import redis

pytestmark = pytest.mark.lode_only


def stats(r):
    info = r.info("stats")
    return info["lode_busy_poll_windows"], info["lode_busy_poll_hits"]


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_setting_default_and_bounds(r):
    assert r.config_get("busy-poll-us") == {"busy-poll-us": "20"}
    assert r.config_set("busy-poll-us", "0") is True
    assert r.config_set("busy-poll-us", "10000") is True
    with pytest.raises(redis.ResponseError, match="argument must be between 0 and 10000"):
        r.config_set("busy-poll-us", "10001")
    with pytest.raises(redis.ResponseError):
        r.config_set("busy-poll-us", "-1")
    assert r.config_get("busy-poll-us") == {"busy-poll-us": "10000"}


def test_dense_requests_are_caught_without_sleeping(r):
    # a 10 ms window: each request of this loop follows the previous reply
    # far sooner, so the window after the first keeps catching them
    r.config_set("busy-poll-us", "10000")
    r.config_resetstat()
    for i in range(300):
        assert r.ping()
    # (RESETSTAT itself ran inside a window, which the pings kept open)
    windows, hits = stats(r)
    assert hits >= 200, (windows, hits)


def test_off_never_polls(r):
    # turned off in the middle of a window that dense requests keep open:
    # it applies at once
    r.config_set("busy-poll-us", "10000")
    for i in range(50):
        assert r.ping()
    r.config_set("busy-poll-us", "0")
    r.config_resetstat()
    for i in range(100):
        assert r.ping()
    assert stats(r) == (0, 0)


def test_idle_server_sleeps(server):
    """With the largest window, a server that gets no input for a while
    still spends almost no CPU: polling stops when the window runs out."""
    r = server.client()
    r.config_set("busy-poll-us", "10000")
    for i in range(50):
        r.ping()
    before = cpu_seconds(server.proc.pid)
    # the server waits 0.6 s for this BLPOP's timeout with no input at all
    assert r.blpop("nothing-here", 0.6) is None
    used = cpu_seconds(server.proc.pid) - before
    # one window (10 ms) and the timer's turns: far below the 0.6 s a
    # loop that kept polling would burn
    assert used < 0.3, used
    windows, hits = stats(r)
    assert windows >= 1


def test_no_polling_while_a_checkpoint_runs(server):
    """The checkpoint's writer runs at the lowest priority and gets a CPU it
    shares with the loop only while the loop sleeps: no polling meanwhile."""
    from conftest import wait_until
    r = server.client()
    r.config_set("busy-poll-us", "10000")
    for i in range(300):
        r.set("k%d" % i, i)
    r.config_set("checkpoint-key-delay", "5000")  # 300 keys: 1.5 s at least
    r.bgsave()
    wait_until(lambda: r.info("persistence")["lode_checkpoint_in_progress"] == 1,
               what="checkpoint to start")
    r.config_resetstat()
    for i in range(200):
        assert r.ping()
    assert r.info("persistence")["lode_checkpoint_in_progress"] == 1
    assert stats(r) == (0, 0)
    r.config_set("checkpoint-key-delay", "0")
    wait_until(lambda: r.info("persistence")["lode_checkpoint_in_progress"] == 0,
               timeout=30, what="checkpoint to end")
    r.config_resetstat()
    for i in range(200):
        assert r.ping()
    assert stats(r)[1] >= 100
