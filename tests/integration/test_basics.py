"""Smoke tests of the server process: connect, PING, strings, errors,
pipelining, inline commands, clean shutdown."""
import socket



def test_ping_echo(r):
    assert r.ping() is True
    assert r.echo("hello") == b"hello"


def test_set_get_del(r):
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"
    assert r.delete("k", "nokey") == 1
    assert r.get("k") is None


def test_binary_values(r):
    v = bytes(range(256)) * 10
    r.set(b"\x00bin\xff", v)
    assert r.get(b"\x00bin\xff") == v


def test_unknown_command_error(raw):
    assert raw.call("NOSUCH", "a", "b") == \
        b"-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n"


def test_wrong_arity(raw):
    assert raw.call("GET") == b"-ERR wrong number of arguments for 'get' command\r\n"


def test_pipeline(r):
    p = r.pipeline(transaction=False)
    for i in range(1000):
        p.set("k%d" % i, i)
    for i in range(1000):
        p.get("k%d" % i)
    res = p.execute()
    assert res[:1000] == [True] * 1000
    assert res[1000:] == [str(i).encode() for i in range(1000)]


def test_inline_commands(server):
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b'PING\r\nSET a "b c"\r\nGET a\r\n')
        want = b"+PONG\r\n+OK\r\n$3\r\nb c\r\n"
        got = b""
        while len(got) < len(want):
            got += s.recv(100)
        assert got == want


def test_shutdown_command(server):
    c = server.client()
    c.shutdown()  # redis-py swallows the closed connection that signals success
    server.proc.wait(10)
    assert server.proc.returncode == 0
