#!/usr/bin/python3
"""Helpers for bench/compare.sh (run with /usr/bin/python3).

Subcommands:
  free-port                      print a free TCP port on 127.0.0.1
  gen-resp N OUT                 write N "SET key:%012d val:%012d" commands
                                 (16-byte keys and values) as a RESP stream
                                 for `redis-cli --pipe`
  pipe-summary FILE N            check the output of `redis-cli --pipe`:
                                 print "ok" or a short problem description
  report --raw DIR --meta FILE [--mem FILE] [--md OUT]
                                 aggregate the runs in DIR (median per row),
                                 print the tables, write them as Markdown

The raw directory, written by compare.sh, holds index.tsv (one line per run,
in run order: server, pipeline, test, round, csv file name), and per run
  <server>_P<pipeline>_<test>_r<round>.csv   redis-benchmark --csv stdout
  <server>_P<pipeline>_<test>_r<round>.err   its stderr
The memory file holds one tab-separated line per server:
  server keys rss_before rss_after used_before used_after load_status
with "n/a" where a figure is unavailable. The meta file holds key=value lines
that are printed as the run's header.
"""
import csv
import os
import re
import socket
import statistics
import sys

SERVERS = ("lode", "redis")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def gen_resp(n, out):
    def bulk(b):
        return b"$%d\r\n%s\r\n" % (len(b), b)

    head = b"*3\r\n" + bulk(b"SET")
    with open(out, "wb") as f:
        chunk = []
        for i in range(n):
            chunk.append(head + bulk(b"key:%012d" % i) + bulk(b"val:%012d" % i))
            if len(chunk) == 10000:
                f.write(b"".join(chunk))
                chunk = []
        f.write(b"".join(chunk))


def pipe_summary(path, n):
    text = open(path, errors="replace").read()
    m = re.search(r"errors:\s*(\d+),\s*replies:\s*(\d+)", text)
    if not m:
        print("no summary from redis-cli --pipe")
    elif int(m.group(1)) != 0 or int(m.group(2)) != n:
        print("errors=%s replies=%s (expected 0 and %d)" % (m.group(1), m.group(2), n))
    else:
        print("ok")


def read_run(csv_path):
    """Returns (test_label, {column: float}) or (None, error_text). A run's
    CSV may hold a preparation row first (lrange_N fills its list with
    "LPUSH (needed to benchmark LRANGE)"): the measured test is the last."""
    rows = []
    try:
        with open(csv_path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        pass
    if rows:
        row = rows[-1]
        try:
            vals = {k: float(row[k]) for k in row if k != "test"}
            return row["test"], vals
        except (TypeError, ValueError):
            pass
    err = ""
    err_path = csv_path[:-4] + ".err"
    if os.path.exists(err_path):
        for line in open(err_path, errors="replace"):
            line = line.strip()
            if line and not line.startswith("WARNING"):
                err = line if len(line) <= 100 else line[:97] + "..."
                break
    return None, err or "no result"


def fmt_rate(v):
    return "%.0f" % v


def fmt_lat(vals):
    return "%.3f/%.3f" % (vals["p50_latency_ms"], vals["p99_latency_ms"])


def aggregate(raw_dir):
    """Returns ordered rows: (test, pipeline, {server: cell dict or error})."""
    runs = {}  # (pipeline, test) -> server -> list of results
    order = []
    index = os.path.join(raw_dir, "index.tsv")
    if not os.path.exists(index):
        return []
    for line in open(index):
        f = line.rstrip("\n").split("\t")
        if len(f) != 5:
            continue
        server, pipeline, test, _round, name = f
        key = (int(pipeline), test)
        if key not in runs:
            runs[key] = {s: [] for s in SERVERS}
            order.append(key)
        runs[key][server].append(read_run(os.path.join(raw_dir, name)))
    first = {k: i for i, k in enumerate(order)}
    order.sort(key=lambda k: (k[0], first[k]))
    rows = []
    for key in order:
        pipeline, test = key
        label = test.upper()
        cells = {}
        for server in SERVERS:
            results = runs[key][server]
            ok = [vals for name, vals in results if name is not None]
            errors = [vals for name, vals in results if name is None]
            for name, _ in results:
                if name is not None:
                    label = name
            if not ok:
                cells[server] = {"error": errors[0] if errors else "not run"}
                continue
            cols = ok[0].keys()
            med = {c: statistics.median(v[c] for v in ok) for c in cols}
            cells[server] = {"vals": med, "runs": len(ok), "failed": len(errors),
                             "rounds": [v["rps"] for v in ok]}
        rows.append((label, pipeline, cells))
    return rows


def throughput_table(rows):
    header = ["test", "pipeline", "lode ops/s", "redis ops/s", "ratio lode/redis",
              "lode p50/p99 ms", "redis p50/p99 ms"]
    out = []
    notes = []
    for label, pipeline, cells in rows:
        line = [label, str(pipeline)]
        for server in SERVERS:
            c = cells[server]
            if "error" in c:
                line.append("unsupported" if "unknown command" in c["error"] else "error")
                notes.append("%s -P %d on %s: %s" % (label, pipeline, server, c["error"]))
            else:
                line.append(fmt_rate(c["vals"]["rps"]))
                if c["failed"]:
                    notes.append("%s -P %d on %s: %d of %d rounds failed" %
                                 (label, pipeline, server, c["failed"], c["failed"] + c["runs"]))
        lode, redis = cells["lode"], cells["redis"]
        if "vals" in lode and "vals" in redis and redis["vals"]["rps"] > 0:
            line.append("%.2f" % (lode["vals"]["rps"] / redis["vals"]["rps"]))
        else:
            line.append("n/a")
        for server in SERVERS:
            c = cells[server]
            line.append(fmt_lat(c["vals"]) if "vals" in c else "n/a")
        out.append(line)
    return header, out, notes


def rounds_table(rows):
    """Every round's ops/s, to judge the noise behind each median."""
    header = ["test", "pipeline", "lode ops/s per round", "redis ops/s per round"]
    out = []
    for label, pipeline, cells in rows:
        line = [label, str(pipeline)]
        for server in SERVERS:
            c = cells[server]
            line.append(", ".join(fmt_rate(v) for v in c["rounds"]) if "vals" in c else "n/a")
        out.append(line)
    return header, out


def read_mem(path):
    mem = {}
    if not path or not os.path.exists(path):
        return mem
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        if len(f) < 7:
            continue
        mem[f[0]] = {"keys": int(f[1]), "rss_before": f[2], "rss_after": f[3],
                     "used_before": f[4], "used_after": f[5], "status": f[6]}
    return mem


def per_key(before, after, keys):
    try:
        return (int(after) - int(before)) / keys
    except ValueError:
        return None


def memory_table(mem):
    header = ["server", "keys", "used_memory bytes/key", "RSS bytes/key",
              "used_memory after", "RSS before", "RSS after", "load"]
    out = []
    perkey = {}
    for server in SERVERS:
        if server not in mem:
            continue
        m = mem[server]
        used = per_key(m["used_before"], m["used_after"], m["keys"])
        rss = per_key(m["rss_before"], m["rss_after"], m["keys"])
        perkey[server] = (used, rss)
        out.append([server, str(m["keys"]),
                    "%.1f" % used if used is not None else "n/a",
                    "%.1f" % rss if rss is not None else "n/a",
                    m["used_after"], m["rss_before"], m["rss_after"], m["status"]])
    if "lode" in perkey and "redis" in perkey:
        ratio = []
        for i in range(2):
            a, b = perkey["lode"][i], perkey["redis"][i]
            ratio.append("%.2f" % (a / b) if a is not None and b else "n/a")
        out.append(["ratio lode/redis", "", ratio[0], ratio[1], "", "", "", ""])
    return header, out


def text_table(header, rows):
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in [header] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(" --- " if i < 2 else " ---: " for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def report(args):
    opts = {}
    it = iter(args)
    for a in it:
        opts[a.lstrip("-")] = next(it)
    meta = []
    if os.path.exists(opts["meta"]):
        meta = [l.rstrip("\n").split("=", 1) for l in open(opts["meta"]) if "=" in l]
    rows = aggregate(opts["raw"])
    mem = read_mem(opts.get("mem"))

    text, md = [], ["# Lodestore vs Redis: side-by-side run", ""]
    for k, v in meta:
        text.append("%-18s %s" % (k + ":", v))
        md.append("- **%s**: %s" % (k, v))
    text.append("")
    md.append("")
    if rows:
        header, body, notes = throughput_table(rows)
        text += ["Throughput (median of rounds; latency in ms, p50/p99)", text_table(header, body)]
        md += ["## Throughput", "",
               "Median over rounds per row; ratio > 1 means Lodestore is faster; "
               "latencies in milliseconds.", "", md_table(header, body)]
        if notes:
            text += ["", "Notes:"] + ["  - " + n for n in notes]
            md += ["", "Notes:", ""] + ["- " + n for n in notes]
        header, body = rounds_table(rows)
        md += ["", "### Every round", "",
               "Rounds in run order; a wide spread means the machine was noisy.", "",
               md_table(header, body)]
        text.append("")
        md.append("")
    if mem:
        header, body = memory_table(mem)
        text += ["Memory (bytes per key = growth during the load / keys; "
                 "ratio < 1 means Lodestore uses less)", text_table(header, body)]
        md += ["## Memory", "",
               "Bytes per key = (figure after loading - figure before) / keys; "
               "ratio < 1 means Lodestore uses less. Absolute figures in bytes.", "",
               md_table(header, body)]
    print("\n".join(text))
    if opts.get("md"):
        with open(opts["md"], "w") as f:
            f.write("\n".join(md) + "\n")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "free-port":
        free_port()
    elif cmd == "gen-resp":
        gen_resp(int(args[0]), args[1])
    elif cmd == "pipe-summary":
        pipe_summary(args[0], int(args[1]))
    elif cmd == "report":
        report(args)
    else:
        sys.exit("unknown subcommand %r\n%s" % (cmd, __doc__))


if __name__ == "__main__":
    main()
