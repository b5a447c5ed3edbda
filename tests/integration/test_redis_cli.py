"""redis-cli against the server: plain (raw) output when not on a tty,
formatted output (--no-raw) whose look depends on the reply types, RESP3
(-3) formatting of maps and nulls, and --pipe mass insertion. Expected
outputs are redis-cli's against redis-server 7.0 (LODE_TARGET=redis)."""
import re
import shutil
import subprocess

import pytest

from resp_client import encode

pytestmark = pytest.mark.skipif(shutil.which("redis-cli") is None, reason="no redis-cli")


def cli(server, *args, stdin=None, rc=0):
    p = subprocess.run(["redis-cli", "-p", str(server.port)] + list(args), input=stdin,
                       capture_output=True, timeout=60)
    assert p.returncode == rc, p.stderr
    return p.stdout if rc == 0 else (p.stdout, p.stderr)


def test_set_get_raw(server):
    assert cli(server, "set", "k", "v") == b"OK\n"
    assert cli(server, "get", "k") == b"v\n"
    assert cli(server, "get", "missing") == b"\n"
    assert cli(server, "del", "k", "missing") == b"1\n"
    assert cli(server, "ping") == b"PONG\n"
    assert cli(server, "config", "get", "maxclients") == b"maxclients\n10000\n"
    assert cli(server, "nosuch") == b"ERR unknown command 'nosuch', with args beginning with: \n\n"


def test_formatted_output_by_reply_type(server):
    cli(server, "set", "k", "v")
    assert cli(server, "--no-raw", "get", "k") == b'"v"\n'            # bulk string
    assert cli(server, "--no-raw", "get", "missing") == b"(nil)\n"     # null bulk
    assert cli(server, "--no-raw", "del", "nokey") == b"(integer) 0\n"  # integer
    assert cli(server, "--no-raw", "ping") == b"PONG\n"               # status
    assert cli(server, "--no-raw", "nosuch", "x") == \
        b"(error) ERR unknown command 'nosuch', with args beginning with: 'x' \n"
    assert cli(server, "--no-raw", "config", "get", "maxclients") == \
        b'1) "maxclients"\n2) "10000"\n'                               # array
    assert cli(server, "--no-raw", "config", "get", "nosuchparam") == b"(empty array)\n"
    assert cli(server, "--no-raw", "echo", "a\\x00b") == b'"a\\\\x00b"\n'  # escaping


def test_formatted_mget_and_float(server):
    cli(server, "set", "a", "1")
    assert cli(server, "--no-raw", "mget", "a", "missing") == b'1) "1"\n2) (nil)\n'
    assert cli(server, "--no-raw", "incrbyfloat", "f", "1.5") == b'"1.5"\n'


def test_resp3_output(server):
    assert cli(server, "-3", "--no-raw", "config", "get", "maxclients") == \
        b'1# "maxclients" => "10000"\n'                                # map
    assert cli(server, "-3", "config", "get", "maxclients") == b"maxclients 10000\n"
    assert cli(server, "-3", "--no-raw", "get", "missing") == b"(nil)\n"  # RESP3 null
    out = cli(server, "-3", "--no-raw", "hello", "3")
    out = re.sub(rb'"id" => \(integer\) \d+', b'"id" => (integer) N', out)
    # the server field names the product (docs/compatibility.md)
    out = re.sub(rb'"server" => "(redis|lodestore)"', b'"server" => "S"', out)
    assert out == (b'1# "server" => "S"\n2# "version" => "7.0.15"\n'
                   b'3# "proto" => (integer) 3\n4# "id" => (integer) N\n'
                   b'5# "mode" => "standalone"\n6# "role" => "master"\n'
                   b'7# "modules" => (empty array)\n')
    assert cli(server, "-3", "set", "k", "v") == b"OK\n"
    assert cli(server, "-3", "--no-raw", "get", "k") == b'"v"\n'


def test_pipe_mass_insertion(server):
    n = 20000
    data = b"".join(encode("SET", "key:%d" % i, "value:%d" % i) for i in range(n))
    out = cli(server, "--pipe", stdin=data)
    assert out.endswith(b"errors: 0, replies: %d\n" % n), out
    assert b"All data transferred" in out
    # an error reply is printed on stderr and makes the exit status 1
    out, err = cli(server, "--pipe", stdin=encode("NOSUCH") + encode("SET", "x", "1"), rc=1)
    assert out.endswith(b"errors: 1, replies: 2\n"), out
    assert err == b"ERR unknown command 'NOSUCH', with args beginning with: \n"
    assert cli(server, "get", "key:0") == b"value:0\n"
    assert cli(server, "get", "key:%d" % (n - 1)) == b"value:%d\n" % (n - 1)


def test_stdin_last_argument(server):
    assert cli(server, "-x", "set", "fromstdin", stdin=b"hello\nworld") == b"OK\n"
    assert cli(server, "--no-raw", "get", "fromstdin") == b'"hello\\nworld"\n'
