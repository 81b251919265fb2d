#!/usr/bin/env python3
"""Two privatelink-dns binaries side by side, default settings, alternating
(A B A B ...): what a change did to the UDP fast path. Uses bench.py's
workload (1,000 names) and its public Knot for the cached forwards.

Usage: bench/ab.py OLD_BINARY NEW_BINARY [--rounds N] [--seconds S]
"""

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
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
