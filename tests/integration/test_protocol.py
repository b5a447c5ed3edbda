"""Bad and unusual input on the wire, against a real server. Every expected
byte string is Redis 7.0's: run with LODE_TARGET=redis to check that.

Covers: protocol errors (and that the connection is closed after one),
protocol size limits, unauthenticated limits, query and output buffer
limits, clients vanishing mid-command, binary data, pipelining, inline
commands, maxclients, requirepass with AUTH / HELLO AUTH.
"""
import re
import socket
import time

import pytest

from conftest import wait_until
from resp_client import RawConn, encode

PROTO_ERRORS = [
    # (bytes sent, exact error reply)
    (b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1x\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*2147483648\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$-1\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$536870913\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\nx\r\n", b"-ERR Protocol error: expected '$', got 'x'\r\n"),
    (b"*2\r\n$4\r\nPING\r\n:1\r\n", b"-ERR Protocol error: expected '$', got ':'\r\n"),
    (b"*" + b"1" * 70000, b"-ERR Protocol error: too big mbulk count string\r\n"),
    (b"*1\r\n$" + b"1" * 70000, b"-ERR Protocol error: too big bulk count string\r\n"),
    (b"x" * 70000, b"-ERR Protocol error: too big inline request\r\n"),
    (b'SET k "unbalanced\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    (b"SET k 'unbalanced\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    (b'SET "a"b c\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
]


def read_until_closed(sock, timeout=10.0):
    """Everything the server sends until it closes the connection."""
    sock.settimeout(0.2)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(1 << 20)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return out, True
        if not chunk:
            return out, True
        out += chunk
    return out, False


def exchange_closed(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        return read_until_closed(s)


def assert_alive(server):
    c = RawConn(server.port)
    try:
        assert c.call("PING") == b"+PONG\r\n"
    finally:
        c.close()


@pytest.mark.parametrize("data,err", PROTO_ERRORS,
                         ids=[e[1][26:].strip().decode() + "-%d" % i
                              for i, e in enumerate(PROTO_ERRORS)])
def test_protocol_error_replies_and_closes(server, data, err):
    got, closed = exchange_closed(server.port, data)
    assert got == err
    assert closed, "connection must be closed after a protocol error"
    assert_alive(server)


def test_commands_before_error_run_after_do_not(server):
    data = b"PING\r\n" + encode("SET", "before", "1") + b"*x\r\n" + encode("SET", "after", "1")
    got, closed = exchange_closed(server.port, data)
    assert got == b"+PONG\r\n+OK\r\n-ERR Protocol error: invalid multibulk length\r\n"
    assert closed
    c = RawConn(server.port)
    assert c.call("GET", "before") == b"$1\r\n1\r\n"
    assert c.call("GET", "after") == b"$-1\r\n"
    c.close()


def test_empty_and_zero_multibulk_ignored(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"*0\r\n*-1\r\n\r\n\n   \r\nPING\r\n")
        got = b""
        while len(got) < 7:
            got += s.recv(100)
        assert got == b"+PONG\r\n"


def test_bulk_without_trailing_crlf_check(server):
    # Redis does not check the two bytes after a bulk payload
    c = RawConn(server.port)
    c.send_raw(b"*2\r\n$4\r\nECHO\r\n$2\r\nhiXY*1\r\n$4\r\nPING\r\n")
    assert c.read_reply() == b"$2\r\nhi\r\n"
    assert c.read_reply() == b"+PONG\r\n"
    c.close()


def test_split_writes_byte_by_byte(server):
    c = RawConn(server.port)
    data = encode("SET", "k", "v" * 10) + encode("GET", "k")
    for i in range(len(data)):
        c.send_raw(data[i:i + 1])
    assert c.read_reply() == b"+OK\r\n"
    assert c.read_reply() == b"$10\r\n" + b"v" * 10 + b"\r\n"
    c.close()


# ---------------------------------------------------------------- limits


def test_unauthenticated_limits(server_factory):
    s = server_factory(args=["--requirepass", "pw"])
    got, closed = exchange_closed(s.port, b"*11\r\n")
    assert got == b"-ERR Protocol error: unauthenticated multibulk length\r\n" and closed
    got, closed = exchange_closed(s.port, b"*1\r\n$16385\r\n")
    assert got == b"-ERR Protocol error: unauthenticated bulk length\r\n" and closed
    # at the limits exactly: accepted, and the command is refused by NOAUTH
    c = RawConn(s.port)
    assert c.call(*(["DEL"] + ["a"] * 9)) == b"-NOAUTH Authentication required.\r\n"
    assert c.call("ECHO", "x" * 16384) == b"-NOAUTH Authentication required.\r\n"
    # after AUTH the limits are gone
    assert c.call("AUTH", "pw") == b"+OK\r\n"
    assert c.call("ECHO", "x" * 20000) == b"$20000\r\n" + b"x" * 20000 + b"\r\n"
    assert c.call("DEL", *["k%d" % i for i in range(20)]) == b":0\r\n"
    c.close()


def test_proto_max_bulk_len(server):
    c = RawConn(server.port)
    assert c.call("CONFIG", "SET", "proto-max-bulk-len", "1mb") == b"+OK\r\n"
    assert c.call("SET", "k", "x" * (1 << 20)) == b"+OK\r\n"
    got, closed = exchange_closed(server.port, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n")
    assert got == b"-ERR Protocol error: invalid bulk length\r\n" and closed
    assert c.call("CONFIG", "SET", "proto-max-bulk-len", "1") == \
        b"-ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - " \
        b"argument must be between 1048576 and 9223372036854775807 inclusive\r\n"
    c.close()


def test_query_buffer_limit_closes_client(server):
    admin = RawConn(server.port)
    assert admin.call("CONFIG", "SET", "client-query-buffer-limit", "1mb") == b"+OK\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        # a command that never completes: its argument is 3 MB, we send 2 MB
        s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n")
        try:
            for _ in range(32):
                s.sendall(b"x" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass
        got, closed = read_until_closed(s)
        assert closed and got == b""
    # a big command under the limit still works (the limit is on pending input)
    assert admin.call("SET", "k", "y" * 500000) == b"+OK\r\n"
    assert admin.call("GET", "k") == b"$500000\r\n" + b"y" * 500000 + b"\r\n"
    admin.close()


def test_huge_declared_lengths_are_not_preallocated(server):
    # 512 MB declared, a few bytes sent, then the client goes away
    for data in (b"*1\r\n$536870912\r\nabc", b"*1048576\r\n$1\r\na\r\n",
                 b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n" + b"z" * 100000):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(data)
    assert_alive(server)
    c = RawConn(server.port)
    assert c.call("GET", "k") == b"$-1\r\n"
    c.close()


def test_client_disconnects_mid_command(server):
    other = RawConn(server.port)
    for part in (b"*3\r\n$3\r\nSET\r\n$1\r\nk", b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nab",
                 b"SET k v", b"*2\r\n$4\r\nEC"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(part)
    # the half-sent commands never ran; other clients did not notice
    assert other.call("GET", "k") == b"$-1\r\n"
    assert other.call("PING") == b"+PONG\r\n"
    # a client that closes with replies pending
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(encode("SET", "big", "x" * 100000) + encode("GET", "big") * 50)
    assert other.call("GET", "big") in (b"$100000\r\n" + b"x" * 100000 + b"\r\n", b"$-1\r\n")
    assert other.call("PING") == b"+PONG\r\n"
    other.close()


def _used_memory(conn):
    info = conn.call("INFO", "memory")
    for line in info.split(b"\r\n"):
        if line.startswith(b"used_memory:"):
            return int(line.split(b":")[1])
    raise AssertionError("no used_memory in INFO memory: %r" % info[:200])


def test_slow_reader_output_buffer_limit(server):
    admin = RawConn(server.port)
    assert admin.call("CONFIG", "SET", "client-output-buffer-limit",
                      "normal 1mb 512kb 0") == b"+OK\r\n"
    assert admin.call("SET", "big", "x" * 100000) == b"+OK\r\n"
    before = _used_memory(admin)
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(encode("GET", "big") * 500)  # 50 MB of replies, never read
    # the server drops it; meanwhile other clients are served
    wait_until(lambda: admin.call("PING") == b"+PONG\r\n" and _used_memory(admin) < before
               + (4 << 20), 20, what="output buffer to be released")
    got, closed = read_until_closed(s, 20)
    s.close()
    assert closed
    assert len(got) < 500 * 100010, "the slow client received every reply"
    assert admin.call("GET", "big") == b"$100000\r\n" + b"x" * 100000 + b"\r\n"
    admin.close()


# ---------------------------------------------------------------- data


def test_binary_keys_and_values(server):
    c = RawConn(server.port)
    key = bytes(range(256))
    val = bytes(range(255, -1, -1)) * 40 + b"\r\n$3\r\n*1\r\n"
    assert c.call("SET", key, val) == b"+OK\r\n"
    assert c.call("GET", key) == b"$%d\r\n%s\r\n" % (len(val), val)
    assert c.call("SET", b"", b"") == b"+OK\r\n"
    assert c.call("GET", b"") == b"$0\r\n\r\n"
    assert c.call("ECHO", b"\x00") == b"$1\r\n\x00\r\n"
    assert c.call("DEL", key, b"") == b":2\r\n"
    c.close()


def test_pipeline_thousands_in_one_write(server):
    c = RawConn(server.port)
    n = 5000
    data = b"".join(encode("SET", "p%d" % i, "v%d" % i) for i in range(n))
    data += b"".join(encode("GET", "p%d" % i) for i in range(n))
    data += b"PING\r\n" * 1000
    c.send_raw(data)
    for i in range(n):
        assert c.read_reply() == b"+OK\r\n"
    for i in range(n):
        v = b"v%d" % i
        assert c.read_reply() == b"$%d\r\n%s\r\n" % (len(v), v)
    for i in range(1000):
        assert c.read_reply() == b"+PONG\r\n"
    c.close()


def test_inline_commands(server):
    c = RawConn(server.port)
    c.send_raw(b"PING\r\n")
    assert c.read_reply() == b"+PONG\r\n"
    c.send_raw(b"SET k \"a\\x41\\n b\"\r\n")
    assert c.read_reply() == b"+OK\r\n"
    c.send_raw(b"GET k\n")  # bare \n ends a line too
    assert c.read_reply() == b"$5\r\naA\n b\r\n"
    c.send_raw(b"  ECHO   'it'  \r\n")  # leading and trailing blanks
    assert c.read_reply() == b"$2\r\nit\r\n"
    c.close()
    c = RawConn(server.port)
    c.send_raw(b"ECHO 'x\\'y'\r\nECHO \"\"\r\nDEL k\r\nGET k\r\n")
    assert c.read_reply() == b"$3\r\nx'y\r\n"
    assert c.read_reply() == b"$0\r\n\r\n"
    assert c.read_reply() == b":1\r\n"
    assert c.read_reply() == b"$-1\r\n"
    c.send_raw(b"nosuch a\r\n")
    assert c.read_reply() == b"-ERR unknown command 'nosuch', with args beginning with: 'a' \r\n"
    c.send_raw(b"\r\n\r\nPING\r\n")  # empty lines are ignored
    assert c.read_reply() == b"+PONG\r\n"
    c.close()


# ---------------------------------------------------------------- clients


def test_maxclients(server_factory):
    s = server_factory(args=["--maxclients", "3"])

    def connect():
        # the start-up probe's connection may not be reaped yet: retry
        c = RawConn(s.port)
        if c.call("PING") == b"+PONG\r\n":
            return c
        c.close()
        return None
    conns = [wait_until(connect, what="a client slot") for _ in range(3)]
    got, closed = exchange_closed(s.port, b"PING\r\n")
    assert got == b"-ERR max number of clients reached\r\n" and closed
    conns.pop().close()
    wait_until(lambda: exchange_closed(s.port, b"PING\r\nQUIT\r\n")[0] == b"+PONG\r\n+OK\r\n",
               what="a slot to free up")
    assert conns[0].call("CONFIG", "SET", "maxclients", "10") == b"+OK\r\n"
    more = [RawConn(s.port) for _ in range(5)]
    for c in more + conns:
        assert c.call("PING") == b"+PONG\r\n"
        c.close()


NOAUTH = b"-NOAUTH Authentication required.\r\n"
WRONGPASS = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"


def test_requirepass_auth_flows(server_factory):
    s = server_factory(args=["--requirepass", "secret"])
    c = RawConn(s.port)
    assert c.call("PING") == NOAUTH
    assert c.call("GET", "k") == NOAUTH
    assert c.call("NOSUCH") == b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n"
    assert c.call("SELECT", "1") == NOAUTH
    assert c.call("AUTH") == b"-ERR wrong number of arguments for 'auth' command\r\n"
    assert c.call("AUTH", "wrong") == WRONGPASS
    assert c.call("AUTH", "default", "wrong") == WRONGPASS
    assert c.call("AUTH", "nosuch", "secret") == WRONGPASS
    assert c.call("PING") == NOAUTH
    assert c.call("AUTH", "secret") == b"+OK\r\n"
    assert c.call("PING") == b"+PONG\r\n"
    assert c.call("AUTH", "default", "secret") == b"+OK\r\n"
    # a failed AUTH does not log out an authenticated connection
    assert c.call("AUTH", "bad") == WRONGPASS
    assert c.call("PING") == b"+PONG\r\n"
    # RESET logs out
    assert c.call("RESET") == b"+RESET\r\n"
    assert c.call("PING") == NOAUTH
    c.close()


def test_hello_auth_flows(server_factory):
    s = server_factory(args=["--requirepass", "secret"])
    c = RawConn(s.port)
    r = c.call("HELLO", "3")
    assert r.startswith(b"-NOAUTH HELLO must be called with the client already authenticated")
    assert c.call("HELLO", "3", "AUTH", "default", "bad") == WRONGPASS
    assert c.call("HELLO", "2", "AUTH", "default") == \
        b"-ERR Syntax error in HELLO option 'AUTH'\r\n"
    r = c.call("HELLO", "3", "AUTH", "default", "secret", "SETNAME", "me")
    # the server field names the product (docs/compatibility.md)
    assert re.match(rb"%7\r\n\$6\r\nserver\r\n\$(5\r\nredis|9\r\nlodestore)\r\n\$7\r\nversion", r)
    assert c.call("PING") == b"+PONG\r\n"
    assert c.call("CLIENT", "GETNAME") == b"$2\r\nme\r\n"
    c.close()
    c = RawConn(s.port)
    assert c.call("HELLO", "AUTH", "default", "secret") == \
        b"-ERR Protocol version is not an integer or out of range\r\n"
    r = c.call("HELLO", "2", "AUTH", "default", "secret")
    assert r.startswith(b"*14\r\n$6\r\nserver\r\n"), r
    assert c.call("GET", "x") == b"$-1\r\n"
    # QUIT needs no authentication
    c2 = RawConn(s.port)
    assert c2.call("QUIT") == b"+OK\r\n"
    assert c2.closed_by_peer()
    c.close()


def test_requirepass_set_at_runtime(server):
    c = RawConn(server.port)
    assert c.call("CONFIG", "SET", "requirepass", "pw") == b"+OK\r\n"
    # connections authenticated before keep working
    assert c.call("PING") == b"+PONG\r\n"
    d = RawConn(server.port)
    assert d.call("PING") == NOAUTH
    assert d.call("AUTH", "pw") == b"+OK\r\n"
    assert c.call("CONFIG", "SET", "requirepass", "") == b"+OK\r\n"
    e = RawConn(server.port)
    assert e.call("PING") == b"+PONG\r\n"
    assert e.call("AUTH", "x") == \
        b"-ERR AUTH <password> called without any password configured for the default user. " \
        b"Are you sure your configuration is correct?\r\n"
    for x in (c, d, e):
        x.close()
