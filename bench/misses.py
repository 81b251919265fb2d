#!/usr/bin/env python3
"""The forwarding benchmark of issue 12, privatelink-dns beside Unbound in
one run, both forwarding to the same local Knot DNS (the "public DNS"):

1. cache misses: every query a name never asked before (a fresh file of
   unique names per run, dnsperf -n 1), alternating A B A B; qps and server
   CPU time per answer;
2. goodput under a flood: a steady client (from 127.0.0.2) asks mapped
   names, cached names and new names of another domain while dnsperf (from
   127.0.0.1) floods unique names under one domain at five times the
   upstream budget (5,000 queries per second); the share of the steady
   client's questions answered correctly within 100 ms. privatelink-dns
   runs its defaults (upstream budget 1,000/s and 200 pending); Unbound has
   ratelimit and ip-ratelimit set to the same 1,000 per second.

Usage: bench/run.sh installs the tools; then python3 bench/misses.py
[--rounds N] [--seconds S]. Writes bench/results/misses.{md,json}.
Everything is on loopback.
"""

import argparse
import json
import random
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench

PORT_MISS = 5306  # privatelink-dns with the budget lifted, for the miss path alone
FLOOD_RATE = 5000
BUDGET = 1000


def names_file(path, prefix, count, suffix="miss.example.com"):
    path.write_text("".join(f"{prefix}{i}.{suffix} A\n" for i in range(count)))
    return path


def prepare(work):
    """The 1,000-name workload of bench.py, plus wildcards in the public
    zone and a second public zone, and the configs of this benchmark."""
    info = bench.workload(1000, work)
    zone = work / "example.com.zone"
    zone.write_text(zone.read_text() + "*.miss 300 IN A 192.0.2.200\n*.flood 300 IN A 192.0.2.201\n")
    (work / "contoso.net.zone").write_text(
        "$ORIGIN contoso.net.\n$TTL 300\n@ 3600 IN SOA ns.contoso.net. h.contoso.net. 1 3600 300 2419200 300\n"
        "@ 3600 IN NS ns.contoso.net.\n* 300 IN A 192.0.2.202\n")
    conf = (work / "public.conf").read_text()
    conf += f"  - domain: contoso.net\n    file: {work}/contoso.net.zone\n    journal-content: none\n"
    (work / "public.conf").write_text(conf)
    pdns = (work / "pdns.toml").read_text()
    lifted = pdns.replace("[forward]\n", "[forward]\nupstream_max_qps = 1000000\nupstream_max_pending = 100000\n", 1)
    (work / "pdns-miss.toml").write_text(lifted)
    unbound = (work / "unbound.conf").read_text()
    limited = unbound.replace("server:\n", f"server:\n    ratelimit: {BUDGET}\n    ip-ratelimit: {BUDGET}\n", 1)
    (work / "unbound-limited.conf").write_text(limited)
    return info


def misses(pdns, unbound, work, rounds, seconds):
    rows = []
    for r in range(1, rounds + 1):
        row = {"round": r}
        for tag, server in (("p", pdns), ("u", unbound)):
            queries = names_file(work / f"miss-{tag}{r}.txt", f"r{r}{tag}n", 60000 * seconds)
            result = bench.measured(server, queries, seconds, False, extra=("-n", "1"))
            row["ours" if tag == "p" else "peer"] = result
            queries.unlink()
        row["ratio"] = row["ours"]["qps"] / row["peer"]["qps"] if row["peer"]["qps"] else None
        a, b = row["ours"], row["peer"]
        print(f"  misses round {r}: privatelink-dns {a['qps']:.0f} qps ({a.get('cpu_us_per_query', 0):.1f} µs CPU/answer), "
              f"Unbound {b['qps']:.0f} qps ({b.get('cpu_us_per_query', 0):.1f} µs), ratio {row['ratio']:.2f}", flush=True)
        rows.append(row)
    return rows


def steady_client(port, questions, seconds, rate=200):
    """Asks `questions` (name, expected address) round-robin from 127.0.0.2
    at `rate` per second; counts answers that are right within 100 ms."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.2", 0))
    sock.settimeout(0.1)
    asked = good = 0
    late_or_wrong = []
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        name, expected = questions[asked % len(questions)]
        qid = random.randrange(65536)
        qname = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
        sent_at = time.monotonic()
        sock.sendto(struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", 1, 1),
                    ("127.0.0.1", port))
        asked += 1
        ok = False
        why = "no answer within 100 ms"
        while True:
            left = 0.1 - (time.monotonic() - sent_at)
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                data = sock.recv(4096)
            except OSError:
                break
            if struct.unpack(">H", data[:2])[0] != qid:
                continue  # a late answer to an earlier question
            ok = (data[3] & 0x0F) == 0 and ".".join(str(b) for b in data[-4:]) == expected
            why = f"rcode {data[3] & 0x0F} after {1000 * (time.monotonic() - sent_at):.0f} ms"
            break
        if ok:
            good += 1
        elif len(late_or_wrong) < 10:
            late_or_wrong.append(f"{name}: {why}")
        time.sleep(max(0.0, 1 / rate - (time.monotonic() - sent_at)))
    sock.close()
    return {"asked": asked, "good": good, "share": good / asked if asked else None, "failed_examples": late_or_wrong}


def goodput(server, info, work, seconds, tag):
    # 50 mapped names and their addresses, asked once (slowly: Unbound's
    # ip-ratelimit counts these too).
    mapped = []
    for line in (work / "mapped.txt").read_text().splitlines()[:50]:
        name = line.split()[0]
        answer = bench.dns_query(server.port, name, timeout=1)
        mapped.append((name, answer[1] if answer else None))
        time.sleep(0.005)
    questions = []
    for i in range(seconds * 200):
        roll = i % 3
        if roll == 0:
            questions.append(mapped[i % len(mapped)])
        elif roll == 1:
            host = i % bench.FORWARDED
            questions.append((f"host{host}.example.com", f"192.0.2.{host % 250 + 1}"))
        else:
            questions.append((f"{tag}new{i}.contoso.net", "192.0.2.202"))
    # Popular names cached before the flood, as in production.
    for i in range(bench.FORWARDED):
        bench.dns_query(server.port, f"host{i}.example.com", timeout=1)
        time.sleep(0.005)
    flood_file = names_file(work / f"flood-{tag}.txt", f"{tag}f", FLOOD_RATE * (seconds + 5), "flood.example.com")
    cpu_before = server.cpu_s()
    flood = subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(server.port), "-d", str(flood_file),
                              "-l", str(seconds + 2), "-n", "1", "-Q", str(FLOOD_RATE), "-c", "4", "-q", "20000", "-t", "2"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(1)  # the flood at full rate before the steady client starts
    result = steady_client(server.port, questions, seconds)
    out, _ = flood.communicate(timeout=seconds + 60)
    cpu_after = server.cpu_s()
    flood_file.unlink()
    sent = bench.re.search(r"Queries sent:\s+(\d+)", out)
    result["flood_sent"] = int(sent.group(1)) if sent else None
    codes = bench.re.search(r"Response codes:\s+(.*)", out)
    result["flood_rcodes"] = codes.group(1).strip() if codes else ""
    result["server_cpu_s"] = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
    print(f"  goodput under a flood, {server.name}: {result['good']}/{result['asked']} right within 100 ms "
          f"({100 * result['share']:.2f} %), flood {result['flood_sent']} sent ({result['flood_rcodes']}), "
          f"failed e.g. {result['failed_examples'][:3]}", flush=True)
    return result


def report(miss_rows, flood, meta):
    lines = [f"# Forwarding benchmark ({meta['date']})", "",
             "privatelink-dns and Unbound forward to the same local Knot DNS, alternately, on loopback "
             f"({meta['rounds']} rounds of {meta['seconds']} s).", "",
             "## Cache misses (every query a new name)", "",
             "| round | privatelink-dns qps | µs CPU/answer | Unbound qps | µs CPU/answer | qps ratio | CPU ratio |",
             "|---|---|---|---|---|---|---|"]
    for row in miss_rows:
        a, b = row["ours"], row["peer"]
        cpu_ratio = a.get("cpu_us_per_query", 0) / b["cpu_us_per_query"] if b.get("cpu_us_per_query") else 0
        lines.append(f"| {row['round']} | {a['qps']:,.0f} | {a.get('cpu_us_per_query', 0):.1f} | {b['qps']:,.0f} | "
                     f"{b.get('cpu_us_per_query', 0):.1f} | {row['ratio']:.2f} | {cpu_ratio:.2f} |")
    if miss_rows:
        median = statistics.median
        ours = [row["ours"] for row in miss_rows]
        peer = [row["peer"] for row in miss_rows]
        cpu_ratios = [a.get("cpu_us_per_query", 0) / b["cpu_us_per_query"]
                      for a, b in zip(ours, peer) if b.get("cpu_us_per_query")]
        lines.append(f"| **median** | {median([a['qps'] for a in ours]):,.0f} | "
                     f"{median([a.get('cpu_us_per_query', 0) for a in ours]):.1f} | "
                     f"{median([b['qps'] for b in peer]):,.0f} | {median([b.get('cpu_us_per_query', 0) for b in peer]):.1f} | "
                     f"**{median([row['ratio'] for row in miss_rows]):.2f}** | **{median(cpu_ratios):.2f}** |")
    lines += ["", f"## Goodput under a flood ({FLOOD_RATE:,} unique names/s under one domain, budget {BUDGET:,}/s)", "",
              "| server | steady questions | right within 100 ms | share | flood rcodes |", "|---|---|---|---|---|"]
    for name, result in flood.items():
        lines.append(f"| {name} | {result['asked']:,} | {result['good']:,} | {100 * result['share']:.2f} % | "
                     f"{result['flood_rcodes']} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--only", choices=["misses", "flood"])
    parser.add_argument("--profile", action="store_true",
                        help="record perf samples of privatelink-dns on the miss path instead of measuring (needs perf)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pdns-misses-"))
    info = prepare(work)
    public = bench.Server("public", ["knotd", "-c", str(work / "public.conf")], bench.PORT_PUBLIC, "host1.example.com")
    pdns_miss = bench.Server("privatelink-dns", [str(bench.BINARY), "serve", "--config", str(work / "pdns-miss.toml"),
                                                 "--listen", f"127.0.0.1:{PORT_MISS}"], PORT_MISS, info["probe"])
    pdns = bench.Server("privatelink-dns (defaults)", [str(bench.BINARY), "serve", "--config", str(work / "pdns.toml"),
                                                      "--listen", f"127.0.0.1:{bench.PORT_PDNS}"], bench.PORT_PDNS, info["probe"])
    unbound = bench.Server("Unbound", ["unbound", "-d", "-c", str(work / "unbound.conf")], bench.PORT_UNBOUND, info["probe"])
    servers = [public, pdns_miss, unbound]
    miss_rows, flood = [], {}
    try:
        for server in servers:
            server.start(timeout=300)
        if args.profile:
            import profile as perf_profile
            perf_profile.profile(pdns_miss, "misses", names_file(work / "miss-profile.txt", "pn", 60000 * args.seconds),
                                 args.seconds)
            shutil.copy(work / "misses.perf", bench.RESULTS / "misses.perf")
            print(f"perf data: {bench.RESULTS / 'misses.perf'}")
            return 0
        if args.only != "flood":
            miss_rows = misses(pdns_miss, unbound, work, args.rounds, args.seconds)
        if args.only != "misses":
            unbound.stop()
            limited = bench.Server("Unbound (ratelimit, ip-ratelimit 1000)",
                                   ["unbound", "-d", "-c", str(work / "unbound-limited.conf")],
                                   bench.PORT_UNBOUND, info["probe"])
            servers += [pdns, limited]
            pdns.start()
            limited.start(timeout=300)
            flood[pdns.name] = goodput(pdns, info, work, 2 * args.seconds, "p")
            flood[limited.name] = goodput(limited, info, work, 2 * args.seconds, "u")
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rounds": args.rounds, "seconds": args.seconds,
            "versions": bench.versions()}
    text = report(miss_rows, flood, meta)
    bench.RESULTS.mkdir(parents=True, exist_ok=True)
    (bench.RESULTS / "misses.md").write_text(text + "\n")
    (bench.RESULTS / "misses.json").write_text(json.dumps({"meta": meta, "misses": miss_rows, "flood": flood},
                                                           indent=1, default=str) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
