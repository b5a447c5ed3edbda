"""What the kill -9 rounds of the crash suite share (test_crash.py,
test_crash_multi.py, test_crash_scripts.py)."""
import threading
import time

from conftest import wait_until
from resp_client import RawConn


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


class BatchWriter(threading.Thread):
    """Sends st's units (a transaction, a script call) depth at a time on
    one connection until stop is set or the server dies: st.request()
    gives the bytes of unit st.sent + 1 (counted as sent before it leaves:
    it may be applied), st.read_ack(conn, n) reads and checks the replies
    of unit n; st.acked counts the units whose replies came. An assertion
    failure is kept in .error; a closed connection (the kill) ends it."""

    def __init__(self, st, port, stop, depth):
        super().__init__(daemon=True)
        self.st, self.port, self.stop, self.depth = st, port, stop, depth
        self.error = None

    def run(self):
        try:
            conn = RawConn(self.port, timeout=30)
        except OSError as e:
            self.error = "connect: %r" % e
            return
        try:
            while not self.stop.is_set():
                batch = []
                for _ in range(self.depth):
                    batch.append(self.st.request())
                    self.st.sent += 1
                try:
                    conn.send_raw(b"".join(batch))
                    for _ in batch:
                        n = self.st.acked + 1
                        self.st.read_ack(conn, n)
                        self.st.acked = n
                except (ConnectionError, OSError):
                    return  # the kill
        except AssertionError as e:
            self.error = str(e)
        finally:
            conn.close()
