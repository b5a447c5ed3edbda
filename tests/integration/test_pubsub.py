"""Pub/sub through redis-py PubSub objects and raw RESP (exact bytes):
SUBSCRIBE / PSUBSCRIBE / SSUBSCRIBE and their UNSUBSCRIBE forms, PUBLISH
and SPUBLISH, message / pmessage / smessage formats, RESP2 subscribed mode
(only (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING, QUIT and RESET; PING answers
["pong", arg]), RESP3 pushes, RESET leaving subscribed mode, PUBSUB
introspection, PUBLISH inside MULTI, and a fan-out where a subscriber that
never reads is cut off by client-output-buffer-limit pubsub while another
keeps receiving. Every test also passes against redis-server
(LODE_TARGET=redis)."""
import socket

import pytest
import redis

from conftest import wait_until
from resp_client import RawConn, encode

REFUSED = (b"-ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
           b"RESET are allowed in this context\r\n")


def sub_reply(kind, name, count, push=b"*"):
    n = b"$-1\r\n" if name is None else b"$%d\r\n%s\r\n" % (len(name), name)
    if name is None and push == b">":
        n = b"_\r\n"
    return b"%s3\r\n$%d\r\n%s\r\n%s:%d\r\n" % (push, len(kind), kind, n, count)


def msg(kind, *parts, push=b"*"):
    out = b"%s%d\r\n$%d\r\n%s\r\n" % (push, len(parts) + 1, len(kind), kind)
    for p in parts:
        out += b"$%d\r\n%s\r\n" % (len(p), p)
    return out


@pytest.fixture
def pub(server):
    c = server.raw()
    yield c
    c.close()


def test_subscribe_replies_and_messages_resp2(raw, pub):
    raw.sock.sendall(encode("SUBSCRIBE", "a", "b", "a"))
    assert raw.read_reply() == sub_reply(b"subscribe", b"a", 1)
    assert raw.read_reply() == sub_reply(b"subscribe", b"b", 2)
    assert raw.read_reply() == sub_reply(b"subscribe", b"a", 2)  # already: count unchanged
    raw.sock.sendall(encode("PSUBSCRIBE", "h*llo"))
    assert raw.read_reply() == sub_reply(b"psubscribe", b"h*llo", 3)
    # shard channels are counted apart
    raw.sock.sendall(encode("SSUBSCRIBE", "s1"))
    assert raw.read_reply() == sub_reply(b"ssubscribe", b"s1", 1)

    assert pub.call("PUBLISH", "a", "m1") == b":1\r\n"
    assert raw.read_reply() == msg(b"message", b"a", b"m1")
    assert pub.call("PUBLISH", "hello", "m2") == b":1\r\n"
    assert raw.read_reply() == msg(b"pmessage", b"h*llo", b"hello", b"m2")
    assert pub.call("SPUBLISH", "s1", "m3") == b":1\r\n"
    assert raw.read_reply() == msg(b"smessage", b"s1", b"m3")
    # a channel matched by a pattern and subscribed directly: two deliveries
    raw.sock.sendall(encode("SUBSCRIBE", "hallo"))
    assert raw.read_reply() == sub_reply(b"subscribe", b"hallo", 4)
    assert pub.call("PUBLISH", "hallo", "m4") == b":2\r\n"
    got = [raw.read_reply(), raw.read_reply()]
    assert sorted(got) == sorted([msg(b"message", b"hallo", b"m4"),
                                  msg(b"pmessage", b"h*llo", b"hallo", b"m4")])
    assert pub.call("PUBLISH", "nobody", "x") == b":0\r\n"
    # binary-safe channel and payload
    raw.sock.sendall(encode("SUBSCRIBE", "bin\x00\r\n"))
    assert raw.read_reply() == sub_reply(b"subscribe", b"bin\x00\r\n", 5)
    assert pub.call("PUBLISH", "bin\x00\r\n", "\x00\xff") == b":1\r\n"
    assert raw.read_reply() == msg(b"message", b"bin\x00\r\n", "\x00\xff".encode())


def test_subscribed_mode_refuses_other_commands(raw):
    raw.sock.sendall(encode("SUBSCRIBE", "c"))
    raw.read_reply()
    assert raw.call("GET", "x") == REFUSED % b"get"
    assert raw.call("PUBLISH", "c", "m") == REFUSED % b"publish"
    assert raw.call("CLIENT", "INFO") == REFUSED % b"client|info"
    assert raw.call("MULTI") == REFUSED % b"multi"
    # unknown commands and arity errors come first
    assert raw.call("GET") == b"-ERR wrong number of arguments for 'get' command\r\n"
    assert raw.call("NOSUCH").startswith(b"-ERR unknown command 'NOSUCH'")
    assert raw.call("PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    assert raw.call("PING", "hi") == b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n"
    assert raw.call("PING", "a", "b") == b"-ERR wrong number of arguments for 'ping' command\r\n"
    assert raw.call("QUIT") == b"+OK\r\n"
    assert raw.closed_by_peer()


def test_shard_subscription_alone_is_subscribed_mode(raw):
    assert raw.call("SSUBSCRIBE", "s") == sub_reply(b"ssubscribe", b"s", 1)
    assert raw.call("GET", "x") == REFUSED % b"get"
    assert raw.call("SUNSUBSCRIBE") == sub_reply(b"sunsubscribe", b"s", 0)
    assert raw.call("GET", "x") == b"$-1\r\n"


def test_unsubscribe_without_arguments(raw):
    # subscribed to nothing: one reply with a null name
    assert raw.call("UNSUBSCRIBE") == sub_reply(b"unsubscribe", None, 0)
    assert raw.call("PUNSUBSCRIBE") == sub_reply(b"punsubscribe", None, 0)
    assert raw.call("SUNSUBSCRIBE") == sub_reply(b"sunsubscribe", None, 0)
    raw.sock.sendall(encode("SUBSCRIBE", "c1", "c2"))
    raw.read_reply(), raw.read_reply()
    raw.sock.sendall(encode("PSUBSCRIBE", "p*"))
    raw.read_reply()
    raw.sock.sendall(encode("UNSUBSCRIBE"))
    got = [raw.read_reply(), raw.read_reply()]
    # the order is the server's; the counts go down, patterns still count
    names = sorted(g.split(b"\r\n")[4] for g in got)
    assert names == [b"c1", b"c2"]
    assert got[0].endswith(b":2\r\n") and got[1].endswith(b":1\r\n")
    # still subscribed to the pattern
    assert raw.call("GET", "x") == REFUSED % b"get"
    assert raw.call("PUNSUBSCRIBE") == sub_reply(b"punsubscribe", b"p*", 0)
    assert raw.call("GET", "x") == b"$-1\r\n"


def test_unsubscribe_names_not_subscribed(raw):
    raw.sock.sendall(encode("PSUBSCRIBE", "a*", "b*"))
    assert raw.read_reply() == sub_reply(b"psubscribe", b"a*", 1)
    assert raw.read_reply() == sub_reply(b"psubscribe", b"b*", 2)
    raw.sock.sendall(encode("PUNSUBSCRIBE", "a*", "zz"))
    assert raw.read_reply() == sub_reply(b"punsubscribe", b"a*", 1)
    assert raw.read_reply() == sub_reply(b"punsubscribe", b"zz", 1)
    raw.sock.sendall(encode("SSUBSCRIBE", "x", "y"))
    raw.read_reply(), raw.read_reply()
    raw.sock.sendall(encode("SUNSUBSCRIBE", "x", "q"))
    assert raw.read_reply() == sub_reply(b"sunsubscribe", b"x", 1)
    assert raw.read_reply() == sub_reply(b"sunsubscribe", b"q", 1)


def test_subscribe_needs_a_channel(raw):
    for c in ("SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE"):
        assert raw.call(c) == b"-ERR wrong number of arguments for '%s' command\r\n" % c.lower().encode()


def test_reset_leaves_subscribed_mode(raw, pub):
    raw.sock.sendall(encode("SUBSCRIBE", "a", "b"))
    raw.read_reply(), raw.read_reply()
    raw.sock.sendall(encode("PSUBSCRIBE", "x*"))
    raw.read_reply()
    assert raw.call("RESET") == b"+RESET\r\n"
    assert raw.call("GET", "x") == b"$-1\r\n"
    assert pub.call("PUBLISH", "a", "m") == b":0\r\n"
    assert pub.call("PUBLISH", "xy", "m") == b":0\r\n"
    assert pub.call("PUBSUB", "NUMPAT") == b":0\r\n"


def test_resp3_pushes_and_normal_commands(raw, pub):
    raw.call("HELLO", "3")
    assert raw.call("SUBSCRIBE", "c") == sub_reply(b"subscribe", b"c", 1, push=b">")
    # RESP3: any command runs, PING is a plain PONG
    assert raw.call("GET", "x") == b"_\r\n"
    assert raw.call("PING") == b"+PONG\r\n"
    assert pub.call("PUBLISH", "c", "m4") == b":1\r\n"
    assert raw.read_reply() == msg(b"message", b"c", b"m4", push=b">")
    raw.call("PSUBSCRIBE", "c*")
    assert pub.call("PUBLISH", "cc", "m5") == b":1\r\n"
    assert raw.read_reply() == msg(b"pmessage", b"c*", b"cc", b"m5", push=b">")
    raw.call("SSUBSCRIBE", "s")
    assert pub.call("SPUBLISH", "s", "m6") == b":1\r\n"
    assert raw.read_reply() == msg(b"smessage", b"s", b"m6", push=b">")
    assert raw.call("UNSUBSCRIBE") == sub_reply(b"unsubscribe", b"c", 1, push=b">")
    assert raw.call("UNSUBSCRIBE") == sub_reply(b"unsubscribe", None, 1, push=b">")
    # a RESP3 client receives its own message as a push before the reply
    raw.call("SUBSCRIBE", "self")
    raw.sock.sendall(encode("PUBLISH", "self", "me"))
    assert raw.read_reply() == msg(b"message", b"self", b"me", push=b">")
    assert raw.read_reply() == b":1\r\n"


def test_publish_inside_multi(raw, pub):
    raw.sock.sendall(encode("SUBSCRIBE", "t"))
    raw.read_reply()
    assert pub.call("MULTI") == b"+OK\r\n"
    assert pub.call("PUBLISH", "t", "one") == b"+QUEUED\r\n"
    assert pub.call("PUBLISH", "t", "two") == b"+QUEUED\r\n"
    assert pub.call("EXEC") == b"*2\r\n:1\r\n:1\r\n"
    assert raw.read_reply() == msg(b"message", b"t", b"one")
    assert raw.read_reply() == msg(b"message", b"t", b"two")


def test_subscribe_inside_multi_enters_subscribed_mode(raw):
    assert raw.call("MULTI") == b"+OK\r\n"
    assert raw.call("SUBSCRIBE", "q") == b"+QUEUED\r\n"
    assert raw.call("PUBLISH", "q", "z") == b"+QUEUED\r\n"
    # as in Redis 7.0, the message to itself lands inside EXEC's array,
    # which then ends one element early: PUBLISH's reply trails it
    assert raw.call("EXEC") == (b"*2\r\n" + sub_reply(b"subscribe", b"q", 1) +
                                msg(b"message", b"q", b"z"))
    assert raw.read_reply() == b":1\r\n"
    assert raw.call("GET", "x") == REFUSED % b"get"


def test_pubsub_introspection(server, r):
    s1 = server.client()
    p1 = s1.pubsub()
    p1.subscribe("news.a", "news.b", "other")
    p1.psubscribe("news.*", "x?")
    p2 = server.client().pubsub()
    p2.subscribe("news.a")
    p2.psubscribe("news.*")
    # this redis-py has no ssubscribe: a raw connection holds the shard ones
    sh = server.raw()
    sh.sock.sendall(encode("SSUBSCRIBE", "shard1", "shard2"))
    sh.read_reply(), sh.read_reply()
    for p, n in ((p1, 5), (p2, 2)):
        for _ in range(n):
            assert p.get_message(timeout=5)["type"] in ("subscribe", "psubscribe", "ssubscribe")
    assert sorted(r.pubsub_channels()) == [b"news.a", b"news.b", b"other"]
    assert sorted(r.pubsub_channels("news.*")) == [b"news.a", b"news.b"]
    assert r.pubsub_numsub("news.a", "other", "none") == [(b"news.a", 2), (b"other", 1),
                                                            (b"none", 0)]
    assert r.pubsub_numsub() == []
    assert r.pubsub_numpat() == 2  # distinct patterns
    assert sorted(r.execute_command("PUBSUB", "SHARDCHANNELS")) == [b"shard1", b"shard2"]
    assert r.execute_command("PUBSUB", "SHARDCHANNELS", "*2") == [b"shard2"]
    assert r.execute_command("PUBSUB", "SHARDNUMSUB", "shard1", "nope") == [b"shard1", 1,
                                                                          b"nope", 0]
    p1.close()
    wait_until(lambda: r.pubsub_numsub("news.a") == [(b"news.a", 1)], what="unsubscribe on close")
    assert r.pubsub_numpat() == 1
    assert sorted(r.pubsub_channels()) == [b"news.a"]
    sh.close()
    wait_until(lambda: r.execute_command("PUBSUB", "SHARDCHANNELS") == [], what="shard gone")


def test_pubsub_introspection_raw(raw):
    assert raw.call("PUBSUB", "NUMSUB", "a", "zz") == b"*4\r\n$1\r\na\r\n:0\r\n$2\r\nzz\r\n:0\r\n"
    assert raw.call("PUBSUB", "CHANNELS") == b"*0\r\n"
    assert raw.call("PUBSUB", "NUMPAT") == b":0\r\n"
    assert raw.call("PUBSUB", "CHANNELS", "a", "b") == (
        b"-ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB "
        b"HELP.\r\n")
    assert raw.call("PUBSUB", "NUMPAT", "x") == (
        b"-ERR wrong number of arguments for 'pubsub|numpat' command\r\n")
    assert raw.call("PUBSUB", "FOO") == b"-ERR unknown subcommand 'FOO'. Try PUBSUB HELP.\r\n"
    assert raw.call("PUBSUB") == b"-ERR wrong number of arguments for 'pubsub' command\r\n"
    help_ = raw.call("PUBSUB", "HELP")
    assert help_.startswith(b"*14\r\n+PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands")
    assert b"+SHARDNUMSUB [<shardchannel> ...]\r\n" in help_
    # RESP3: NUMSUB stays a flat array
    raw.call("HELLO", "3")
    assert raw.call("PUBSUB", "NUMSUB", "a") == b"*2\r\n$1\r\na\r\n:0\r\n"


def test_redis_py_pubsub_objects(server, r):
    p = server.client().pubsub(ignore_subscribe_messages=True)
    p.subscribe("chan")
    p.psubscribe("pat.*")
    wait_until(lambda: r.pubsub_numpat() == 1 and r.pubsub_numsub("chan")[0][1] == 1,
               what="subscriptions")
    assert r.publish("chan", "hello") == 1
    assert r.publish("pat.1", "world") == 1

    def next_msg():
        return wait_until(lambda: p.get_message(timeout=0.1), what="a message")
    m = next_msg()
    assert (m["type"], m["channel"], m["data"]) == ("message", b"chan", b"hello")
    m = next_msg()
    assert (m["type"], m["pattern"], m["channel"], m["data"]) == (
        "pmessage", b"pat.*", b"pat.1", b"world")
    p.unsubscribe("chan")
    p.punsubscribe()
    wait_until(lambda: r.pubsub_numpat() == 0 and r.pubsub_numsub("chan")[0][1] == 0,
               what="unsubscriptions")
    assert r.publish("chan", "x") == 0
    p.close()


def test_client_list_shows_subscriptions(server, r):
    c = server.raw()
    c.sock.sendall(encode("SUBSCRIBE", "a", "b"))
    c.read_reply(), c.read_reply()
    c.sock.sendall(encode("PSUBSCRIBE", "p*"))
    c.read_reply()
    c.sock.sendall(encode("SSUBSCRIBE", "s"))
    c.read_reply()
    lines = [l for l in r.client_list() if l["sub"] != "0"]
    assert len(lines) == 1
    assert (lines[0]["sub"], lines[0]["psub"], lines[0]["ssub"]) == ("2", "1", "1")
    assert "P" in lines[0]["flags"]
    c.close()


def test_slow_subscriber_cut_off_fast_one_keeps_receiving(server, r):
    """A subscriber that never reads overflows the pubsub output limit and
    is disconnected; another subscriber of the same channel keeps getting
    every message, and the publisher is not slowed or refused."""
    r.config_set("client-output-buffer-limit", "pubsub 262144 0 0")
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", server.port))
    slow.sendall(encode("SUBSCRIBE", "fan"))
    fast = server.raw()
    fast.sock.sendall(encode("SUBSCRIBE", "fan"))
    assert fast.read_reply() == sub_reply(b"subscribe", b"fan", 1)
    wait_until(lambda: r.pubsub_numsub("fan")[0][1] == 2, what="two subscribers")
    before = r.info("stats").get("client_output_buffer_limit_disconnections")
    payload = b"x" * 65536
    pub = server.raw()
    sent = 0
    # far more than the socket buffers of the slow client can absorb
    for i in range(400):
        n = int(pub.call("PUBLISH", "fan", payload)[1:-2])
        assert n in (1, 2)
        sent += 1
        assert fast.read_reply() == msg(b"message", b"fan", payload)
        if n == 1:
            break
    wait_until(lambda: r.pubsub_numsub("fan")[0][1] == 1, what="the slow subscriber to go")
    # the fast subscriber still receives
    assert pub.call("PUBLISH", "fan", "after") == b":1\r\n"
    assert fast.read_reply() == msg(b"message", b"fan", b"after")
    if before is not None:
        assert int(r.info("stats")["client_output_buffer_limit_disconnections"]) == before + 1
    slow.close()
    fast.close()
    pub.close()


def test_pubsub_limit_does_not_apply_to_normal_clients(server, r):
    """The pubsub class only applies to subscribed clients: a normal client
    with a large reply stays connected."""
    r.config_set("client-output-buffer-limit", "pubsub 1024 0 0")
    r.set("big", "v" * 100000)
    c = server.raw()
    assert c.call("GET", "big") == b"$100000\r\n" + b"v" * 100000 + b"\r\n"
    c.close()


def test_info_and_client_type_pubsub(server, r):
    c = server.raw()
    c.sock.sendall(encode("SUBSCRIBE", "a", "b"))
    c.read_reply(), c.read_reply()
    c.sock.sendall(encode("PSUBSCRIBE", "p*"))
    c.read_reply()
    st = r.info("stats")
    assert (st["pubsub_channels"], st["pubsub_patterns"], st["pubsubshard_channels"]) == (2, 1, 0)
    subs = r.client_list(_type="pubsub")
    assert len(subs) == 1 and subs[0]["sub"] == "2"
    assert all(l["sub"] == "0" for l in r.client_list(_type="normal"))
    c.close()
