"""What the kill -9 rounds of the crash suite share (test_crash.py,
test_crash_multi.py, test_crash_scripts.py)."""
import time

from conftest import wait_until


def kill_under_load(srv, writers, stop, acked, target, where, what, timeout=120):
    """Starts the writer threads (which end once stop is set), waits until
    acked() reaches target (or a writer fails or ends), kills srv with
    SIGKILL while they write, sets stop and joins them. Asserts that the
    server was still up and that no writer failed or hangs; where ("seed S
    round R") and what ("acknowledged writes") go into the messages. Returns
    the monotonic time taken just before the kill."""
    for w in writers:
        w.start()
    wait_until(lambda: acked() >= target or any(w.error or not w.is_alive() for w in writers),
               timeout=timeout, what="%d %s" % (target, what))
    assert srv.proc.poll() is None, "server died under load:\n" + srv.read_log()[-4000:]
    kill_mono = time.monotonic()
    srv.kill9()
    stop.set()
    for w in writers:
        w.join(30)
        assert not w.is_alive(), "%s: a writer hangs after the kill" % where
    errors = [w.error for w in writers if w.error]
    assert not errors, "%s: %s" % (where, errors)
    return kill_mono
