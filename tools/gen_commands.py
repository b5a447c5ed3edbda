#!/usr/bin/env python3
"""Generate engine/commands.def and docs/commands.md from engine/commands/*.json.

The command table is declarative (STYLE.md section 9): one JSON file per
command. This script validates the declarations and writes both generated
files. With --check it writes nothing and exits 1 when either is stale.

JSON fields:
  name        lowercase command (or subcommand) name
  container   parent command name, for subcommands (CONFIG GET -> "config")
  group       command group as Redis names it (string, generic, server, ...)
  since       first Redis version with the command
  summary     one line
  complexity  big-O text
  arity       Redis arity: > 0 exact argc, < 0 minimum argc (name included)
  flags       list of flag names (write, readonly, fast, ...)
  acl         list of ACL categories without '@'
  keys        [first, last, step] or absent when the command takes no keys
  wal         none | verbatim | rewrite   (how a write is logged)
  layer       engine | server             (where the handler lives)
  handler     C function name (cmd_...); absent for pure containers. A container
              with arity -1 (COMMAND) must have one: it runs when no subcommand
              is given.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "engine", "commands")
DEF = os.path.join(ROOT, "engine", "commands.def")
DOC = os.path.join(ROOT, "docs", "commands.md")

FLAGS = ["write", "readonly", "denyoom", "admin", "pubsub", "noscript", "blocking",
         "loading", "stale", "skip_monitor", "skip_slowlog", "fast", "no_auth",
         "may_replicate", "no_mandatory_keys", "no_multi", "allow_busy", "movablekeys"]
ACLS = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
        "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
        "blocking", "dangerous", "connection", "transaction", "scripting"]
REQUIRED = ["name", "group", "since", "summary", "complexity", "arity", "flags", "acl",
            "wal", "layer"]


class Bad(Exception):
    pass


def load():
    cmds = []
    for fn in sorted(os.listdir(SRC)):
        if not fn.endswith(".json"):
            continue
        path = os.path.join(SRC, fn)
        try:
            with open(path) as f:
                c = json.load(f)
        except ValueError as e:
            raise Bad(f"{fn}: invalid JSON: {e}")
        c["_file"] = fn
        cmds.append(c)
    return cmds


def validate(cmds):
    names = {}
    for c in cmds:
        fn = c["_file"]
        for k in REQUIRED:
            if k not in c:
                raise Bad(f"{fn}: missing field '{k}'")
        if c["name"] != c["name"].lower():
            raise Bad(f"{fn}: name must be lowercase")
        full = c["name"] if "container" not in c else f'{c["container"]}|{c["name"]}'
        c["_full"] = full
        expect = full.replace("|", "_") + ".json"
        if fn != expect:
            raise Bad(f"{fn}: file should be named {expect}")
        if full in names:
            raise Bad(f"{fn}: duplicate command {full}")
        names[full] = c
        for f in c["flags"]:
            if f not in FLAGS:
                raise Bad(f"{fn}: unknown flag '{f}'")
        for a in c["acl"]:
            if a not in ACLS:
                raise Bad(f"{fn}: unknown acl category '{a}'")
        if "write" in c["flags"] and "readonly" in c["flags"]:
            raise Bad(f"{fn}: write and readonly contradict")
        if c["wal"] not in ("none", "verbatim", "rewrite"):
            raise Bad(f"{fn}: wal must be none, verbatim or rewrite")
        if "write" in c["flags"] and c["wal"] == "none":
            raise Bad(f"{fn}: a write command must say how it is logged")
        if c["wal"] != "none" and "write" not in c["flags"] and "may_replicate" not in c["flags"]:
            raise Bad(f"{fn}: only writes (or may_replicate) are logged")
        if c["layer"] not in ("engine", "server"):
            raise Bad(f"{fn}: layer must be engine or server")
        h = c.get("handler")
        if h is not None and not h.startswith("cmd_"):
            raise Bad(f"{fn}: handler must be named cmd_<name>")
        ar = c["arity"]
        if not isinstance(ar, int) or ar == 0:
            raise Bad(f"{fn}: arity must be a non-zero integer")
        keys = c.get("keys")
        if keys is not None:
            if len(keys) != 3 or keys[0] < 1 or keys[2] < 1:
                raise Bad(f"{fn}: keys must be [first>=1, last, step>=1]")
            first, last, step = keys
            if ar > 0 and (first >= ar or (last > 0 and last >= ar)):
                raise Bad(f"{fn}: key positions beyond the arity")
            if last > 0 and last < first:
                raise Bad(f"{fn}: last key before first key")
    for c in cmds:
        for t in c.get("tips", []):
            if not isinstance(t, str) or '"' in t:
                raise Bad(f'{c["_file"]}: tips must be plain strings')
        for ks in c.get("key_specs", []):
            bs, fk = ks.get("begin_search", {}), ks.get("find_keys", {})
            if not ks.get("flags") or not all(isinstance(f, str) for f in ks["flags"]):
                raise Bad(f'{c["_file"]}: key spec without flags')
            if not ("index" in bs or "keyword" in bs or bs.get("unknown")):
                raise Bad(f'{c["_file"]}: key spec begin_search must be index, keyword or unknown')
            if not ("range" in fk or "keynum" in fk or fk.get("unknown")):
                raise Bad(f'{c["_file"]}: key spec find_keys must be range, keynum or unknown')
        if "container" in c:
            p = names.get(c["container"])
            if p is None:
                raise Bad(f'{c["_file"]}: container {c["container"]} has no JSON file')
            if "handler" in p and p["arity"] != -1:
                raise Bad(f'{p["_file"]}: a container has subcommands, not a handler '
                          '(unless it also runs without one: arity -1, like COMMAND)')
        elif "handler" not in c and not any(x.get("container") == c["name"] for x in cmds):
            raise Bad(f'{c["_file"]}: no handler and no subcommands')
        elif "handler" not in c and c["arity"] == -1:
            raise Bad(f'{c["_file"]}: a container callable without a subcommand needs a handler')
    return names


def cident(full):
    return "CMD_" + full.upper().replace("|", "_").replace("-", "_")


def cstr(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def gen_def(cmds):
    order = sorted(cmds, key=lambda c: c["_full"])
    out = ["/* GENERATED by tools/gen_commands.py from engine/commands/ (JSON): do not edit. */",
           "/* clang-format off */"]
    eng = sorted({c["handler"] for c in order if c.get("handler") and c["layer"] == "engine"})
    srv = sorted({c["handler"] for c in order if c.get("handler") and c["layer"] == "server"})
    out.append("#if defined(CMD_ENGINE_PROTOTYPES)")
    out += [f"void {h}(struct cmd_ctx *ctx);" for h in eng]
    out.append("#elif defined(CMD_SERVER_PROTOTYPES)")
    out += [f"void {h}(struct cmd_ctx *ctx);" for h in srv]
    out.append("#elif defined(CMD_SERVER_BINDINGS)")
    out += [f'BIND({cident(c["_full"])}, {c["handler"]})' for c in order
            if c.get("handler") and c["layer"] == "server"]
    out.append("#elif defined(CMD_EXTRAS)")
    attach = []
    for c in order:
        cid = cident(c["_full"])
        tips = c.get("tips") or []
        specs = c.get("key_specs") or []
        if tips:
            out.append(f"static const char *const tips_{cid}[] = {{{', '.join(cstr(t) for t in tips)}}};")
            attach.append(f"    cmd_table[{cid}].tips = tips_{cid};")
            attach.append(f"    cmd_table[{cid}].ntips = {len(tips)};")
        if specs:
            rows = []
            for ks in specs:
                bs, fk = ks["begin_search"], ks["find_keys"]
                if "index" in bs:
                    b = f"KS_BS_INDEX, {bs['index']}, NULL, 0"
                elif "keyword" in bs:
                    b = f"KS_BS_KEYWORD, 0, {cstr(bs['keyword'])}, {bs['startfrom']}"
                else:
                    b = "KS_BS_UNKNOWN, 0, NULL, 0"
                if "range" in fk:
                    f = "KS_FK_RANGE, {%d, %d, %d}" % tuple(fk["range"])
                elif "keynum" in fk:
                    f = "KS_FK_KEYNUM, {%d, %d, %d}" % tuple(fk["keynum"])
                else:
                    f = "KS_FK_UNKNOWN, {0, 0, 0}"
                rows.append(f"{{{cstr(' '.join(ks['flags']))}, {b}, {f}}}")
            out.append(f"static const struct cmd_keyspec specs_{cid}[] = {{{', '.join(rows)}}};")
            attach.append(f"    cmd_table[{cid}].specs = specs_{cid};")
            attach.append(f"    cmd_table[{cid}].nspecs = {len(specs)};")
    out.append("static void cmd_attach_extras(void)")
    out.append("{")
    out += attach
    out.append("}")
    out.append("#else")
    for c in order:
        flags = "|".join("CMDF_" + f.upper() for f in c["flags"]) or "0"
        acl = "|".join("ACL_" + a.upper() for a in c["acl"]) or "0"
        first, last, step = c.get("keys") or [0, 0, 0]
        parent = cident(c["container"]) if "container" in c else "CMD_NONE"
        layer = "LAYER_ENGINE" if c["layer"] == "engine" else "LAYER_SERVER"
        if c.get("handler"):
            fn = ("E(" if c["layer"] == "engine" else "S(") + c["handler"] + ")"
        else:
            fn = "N()"
        wal = "WAL_" + c["wal"].upper()
        out.append(f'CMD({cident(c["_full"])}, {cstr(c["name"])}, {cstr(c["_full"])}, {parent}, '
                   f'{layer}, {fn}, {c["arity"]}, {flags}, {acl}, {first}, {last}, {step}, {wal}, '
                   f'{cstr(c["group"])}, {cstr(c["since"])}, {cstr(c["summary"])}, '
                   f'{cstr(c["complexity"])})')
    out.append("#endif")
    out.append("/* clang-format on */")
    return "\n".join(out) + "\n"


def gen_doc(cmds):
    order = sorted(cmds, key=lambda c: (c["group"], c["_full"]))
    out = ["<!-- GENERATED by tools/gen_commands.py from engine/commands/ (JSON): do not edit. -->",
           "# Commands", "",
           "Every command Lodestore serves, from the declarative command table. The WAL column",
           "says how a write is logged: `verbatim` (as received, when it changed something),",
           "`rewrite` (a deterministic form the command emits) or `-` for reads.", ""]
    group = None
    for c in order:
        if c["group"] != group:
            group = c["group"]
            out += ["", f"## {group}", "",
                    "| command | arity | flags | keys | WAL | since | summary |",
                    "| --- | --- | --- | --- | --- | --- | --- |"]
        keys = c.get("keys")
        k = f"{keys[0]}..{keys[1]}/{keys[2]}" if keys else "-"
        wal = c["wal"] if c["wal"] != "none" else "-"
        name = c["_full"].upper().replace("|", " ")
        out.append(f'| {name} | {c["arity"]} | {" ".join(c["flags"])} | {k} | {wal} | '
                   f'{c["since"]} | {c["summary"]} |')
    return "\n".join(out) + "\n"


def main():
    check = "--check" in sys.argv
    try:
        cmds = load()
        validate(cmds)
    except Bad as e:
        print(f"gen_commands: {e}", file=sys.stderr)
        return 2
    outputs = {DEF: gen_def(cmds), DOC: gen_doc(cmds)}
    stale = []
    for path, text in outputs.items():
        old = open(path).read() if os.path.exists(path) else None
        if old != text:
            stale.append(path)
            if not check:
                with open(path, "w") as f:
                    f.write(text)
    if check and stale:
        for p in stale:
            print(f"gen_commands: {os.path.relpath(p, ROOT)} is stale: "
                  "run tools/gen_commands.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
