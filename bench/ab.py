#!/usr/bin/env python3
"""Two privatelink-dns binaries side by side, default settings, alternating
(A B A B ...): what a change did to the UDP fast path. Uses bench.py's
workload (1,000 names) and its public Knot for the cached forwards.

Usage: bench/ab.py OLD_BINARY NEW_BINARY [--rounds N] [--seconds S] [--reload]

--reload times, instead, start to first answer and SIGHUP to new answer with
100,000 names, alternately, for each binary.
"""

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402


def reloads(args):
    """Start to first answer and SIGHUP to new answer, 100,000 names."""
    work = Path(tempfile.mkdtemp(prefix="pdns-ab-reload-"))
    info = bench.workload(100000, work)
    config = work / "pdns.toml"
    original = config.read_text()
    figures = {"old": {"start": [], "sighup": []}, "new": {"start": [], "sighup": []}}
    for round_ in range(args.rounds):
        for label, binary in (("old", args.old), ("new", args.new)):
            config.write_text(original)
            server = bench.Server(label, [binary, "serve", "--config", str(config), "--listen", "127.0.0.1:5313"],
                                  5313, info["probe"])
            try:
                figures[label]["start"].append(server.start())
                probe_ip = bench.dns_query(5313, info["probe"])[1]
                config.write_text(original.replace(f'"{probe_ip}"', '"10.255.255.1"', 1))
                started = time.monotonic()
                server.proc.send_signal(signal.SIGHUP)
                while time.monotonic() - started < 20:
                    answer = bench.dns_query(5313, info["probe"])
                    if answer and answer[1] == "10.255.255.1":
                        figures[label]["sighup"].append(time.monotonic() - started)
                        break
            finally:
                server.stop()
            print(f"round {round_ + 1} {label}: start {figures[label]['start'][-1]:.2f} s, "
                  f"SIGHUP {figures[label]['sighup'][-1] if figures[label]['sighup'] else float('nan'):.2f} s", flush=True)
    for label, values in figures.items():
        print(f"{label}: median start {statistics.median(values['start']):.2f} s, "
              f"SIGHUP {statistics.median(values['sighup']):.2f} s", flush=True)
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--reload", action="store_true")
    args = parser.parse_args()
    if args.reload:
        return reloads(args)
    work = Path(tempfile.mkdtemp(prefix="pdns-ab-"))
    info = bench.workload(1000, work)
    public = bench.Server("public", ["knotd", "-c", str(work / "public.conf")], bench.PORT_PUBLIC, "host1.example.com")
    servers = {}
    for label, binary, port in (("old", args.old, 5311), ("new", args.new, 5312)):
        servers[label] = bench.Server(label, [binary, "serve", "--config", str(work / "pdns.toml"), "--listen",
                                              f"127.0.0.1:{port}"], port, info["probe"])
    try:
        public.start()
        for server in servers.values():
            server.start()
            for i in range(bench.FORWARDED):
                bench.dns_query(server.port, f"host{i}.example.com", timeout=1)
        for workload in ("mapped.txt", "forwarded.txt"):
            ratios, cpu = [], {"old": [], "new": []}
            for round_ in range(args.rounds):
                runs = {label: bench.measured(server, work / workload, args.seconds, False)
                        for label, server in servers.items()}
                ratio = runs["new"]["qps"] / runs["old"]["qps"]
                ratios.append(ratio)
                for label in cpu:
                    cpu[label].append(runs[label].get("cpu_us_per_query") or 0)
                print(f"{workload} round {round_ + 1}: old {runs['old']['qps']:.0f} qps "
                      f"({cpu['old'][-1]:.1f} µs/query), new {runs['new']['qps']:.0f} qps "
                      f"({cpu['new'][-1]:.1f} µs/query), new/old {ratio:.2f}", flush=True)
            print(f"{workload}: median new/old {statistics.median(ratios):.2f}, CPU µs/query old "
                  f"{statistics.median(cpu['old']):.1f}, new {statistics.median(cpu['new']):.1f}", flush=True)
    finally:
        for server in [public, *servers.values()]:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
