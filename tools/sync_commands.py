#!/usr/bin/env python3
"""Checks (and with --write updates) engine/commands/*.json against the
COMMAND INFO of a running redis-server 7.0, the reference whose behaviour
Lodestore matches: arity, flags, first/last/step, ACL categories, tips and
key specifications. Lodestore-only fields (wal, layer, handler, summary)
are never touched.

Usage: tools/sync_commands.py PORT [--write]
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from resp_client import RawConn  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "engine", "commands")


def parse(buf, pos=0):
    """Minimal RESP2 parser: returns (value, next position)."""
    t = buf[pos:pos + 1]
    eol = buf.index(b"\r\n", pos)
    head = buf[pos + 1:eol]
    nxt = eol + 2
    if t in (b"+", b"-"):
        return head.decode(), nxt
    if t == b":":
        return int(head), nxt
    if t == b"$":
        n = int(head)
        if n < 0:
            return None, nxt
        return buf[nxt:nxt + n].decode(), nxt + n + 2
    if t == b"*":
        n = int(head)
        out = []
        for _ in range(max(n, 0)):
            v, nxt = parse(buf, nxt)
            out.append(v)
        return out, nxt
    raise ValueError("unexpected %r" % t)


def pairs(lst):
    return {lst[i]: lst[i + 1] for i in range(0, len(lst), 2)}


def keyspec(raw):
    d = pairs(raw)
    bs, fk = pairs(d["begin_search"]), pairs(d["find_keys"])
    out = {"flags": d["flags"]}
    bspec = pairs(bs["spec"]) if bs["spec"] else {}
    if bs["type"] == "index":
        out["begin_search"] = {"index": bspec["index"]}
    elif bs["type"] == "keyword":
        out["begin_search"] = {"keyword": bspec["keyword"], "startfrom": bspec["startfrom"]}
    else:
        out["begin_search"] = {"unknown": True}
    fspec = pairs(fk["spec"]) if fk["spec"] else {}
    if fk["type"] == "range":
        out["find_keys"] = {"range": [fspec["lastkey"], fspec["keystep"], fspec["limit"]]}
    elif fk["type"] == "keynum":
        out["find_keys"] = {"keynum": [fspec["keynumidx"], fspec["firstkey"], fspec["keystep"]]}
    else:
        out["find_keys"] = {"unknown": True}
    return out


def main():
    port = int(sys.argv[1])
    write = "--write" in sys.argv
    conn = RawConn(port)
    changed = 0
    for fn in sorted(os.listdir(SRC)):
        if not fn.endswith(".json"):
            continue
        path = os.path.join(SRC, fn)
        with open(path) as f:
            c = json.load(f)
        full = c["name"] if "container" not in c else "%s|%s" % (c["container"], c["name"])
        info, _ = parse(conn.call("COMMAND", "INFO", full))
        if not info or info[0] is None:
            print("%s: unknown to redis-server (Lodestore-only)" % full)
            continue
        e = info[0]
        want = dict(c)
        want["arity"] = e[1]
        want["flags"] = [f for f in e[2] if f != "movablekeys"]
        if "may_replicate" in c["flags"]:  # Redis 7.0's COMMAND INFO hides it
            want["flags"].append("may_replicate")
        if "movablekeys" in e[2]:
            want["flags"].append("movablekeys")
        want["acl"] = [a.lstrip("@") for a in e[6]]
        if e[3]:
            want["keys"] = [e[3], e[4], e[5]]
        else:
            want.pop("keys", None)
        if e[7]:
            want["tips"] = e[7]
        else:
            want.pop("tips", None)
        if e[8]:
            want["key_specs"] = [keyspec(k) for k in e[8]]
        else:
            want.pop("key_specs", None)
        if want != c:
            diffs = [k for k in set(want) | set(c) if want.get(k) != c.get(k)]
            print("%s: differs in %s" % (full, ", ".join(sorted(diffs))))
            changed += 1
            if write:
                with open(path, "w") as f:
                    json.dump(want, f, indent=2)
                    f.write("\n")
    conn.close()
    print("%d file(s) %s" % (changed, "updated" if write else "differ"))
    return 1 if changed and not write else 0


if __name__ == "__main__":
    sys.exit(main())
