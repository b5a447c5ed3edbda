"""Differential checks that need several connections or streamed replies:
MONITOR output, commands seen by other clients, CLIENT LIST with several
clients, SCAN while keys are added."""
import normalize


def _both(diff, conn, *args):
    return diff.command([a if isinstance(a, bytes) else str(a).encode() for a in args], conn)


def test_monitor_stream(diff):
    diff.begin("special::monitor")
    try:
        la, lb = _both(diff, 1, "MONITOR")
        cmds = [["SET", "k", "v"], ["GET", "k"], ["SELECT", "2"], ["SET", b"\x00\xff\"q\n", "a b"],
                ["ECHO", "x"], ["DEL", "k"], ["NOSUCH", "arg"]]
        for c in cmds:
            _both(diff, 0, *c)
        for s in diff.sides:
            s.lines = []
            conn = s.conn(1)
            for _ in range(6):  # NOSUCH is not shown: unknown commands are not fed to monitors
                s.lines.append(conn.read_reply())
        got = [[normalize.monitor_line(x) for x in s.lines] for s in diff.sides]
        assert None not in got[0] and None not in got[1], "malformed MONITOR line: %r" % (
            [s.lines for s in diff.sides],)
        assert got[0] == got[1], "MONITOR streams differ:\n%r\n%r" % tuple(got)
        # a monitor connection still answers some commands (RESET ends monitoring)
        la, lb = _both(diff, 1, "RESET")
    finally:
        diff.end()


def test_client_list_several(diff):
    diff.begin("special::client-list")
    try:
        _both(diff, 1, "CLIENT", "SETNAME", "one")
        _both(diff, 2, "SELECT", "5")
        _both(diff, 0, "CLIENT", "LIST")
        _both(diff, 0, "CLIENT", "KILL", "ID", "999999")
        _both(diff, 1, "QUIT")
        _both(diff, 0, "CLIENT", "LIST")
    finally:
        diff.end()


def test_visibility_across_clients(diff):
    diff.begin("special::visibility")
    try:
        _both(diff, 0, "SET", "k", "v", "EX", "1000")
        _both(diff, 1, "GET", "k")
        _both(diff, 1, "SELECT", "1")
        _both(diff, 0, "SWAPDB", "0", "1")
        _both(diff, 1, "GET", "k")
        _both(diff, 1, "TTL", "k")
        _both(diff, 0, "FLUSHALL")
        _both(diff, 1, "GET", "k")
    finally:
        diff.end()


def test_scan_with_concurrent_writes(diff):
    """Keys present for the whole iteration must be returned; new ones may
    or may not be (SCAN's guarantee), so only the stable keys are compared."""
    diff.begin("special::scan-writes")
    try:
        _both(diff, 0, "MSET", *sum([["s%d" % i, "v"] for i in range(200)], []))
        for s in diff.sides:
            cursor, seen, n = b"0", set(), 0
            while True:
                r = normalize.parse(s.call(0, [b"SCAN", cursor, b"COUNT", b"7"]))
                cursor = r.val[0].val
                seen.update(e.val for e in r.val[1].items())
                s.call(0, [b"SET", b"new%d" % n, b"v"])
                n += 1
                if cursor == b"0":
                    break
            stable = {b"s%d" % i for i in range(200)}
            assert stable <= seen, "%s: SCAN missed %r" % (s.label, sorted(stable - seen)[:10])
    finally:
        diff.end()
