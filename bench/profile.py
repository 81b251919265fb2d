#!/usr/bin/env python3
"""Where the time goes, per path: perf samples of the release binary under
dnsperf load, one workload at a time, on the benchmark's 1,000-name data.

Usage: bench/profile.py [--seconds S]   (after bench/run.sh has installed the
tools and built the binary; needs perf: apt-get install linux-perf)

Paths profiled:
  mapped     plain A queries for mapped names (UDP fast path)
  cached     forwarded names already in the cache (UDP fast path, kept responses)
  general    the same cached names on a server with response rate limiting on
             (limit far above the load), which sends every UDP query through
             the general path: task hand-off, hickory decode, rate limiter,
             cache lookup, chain check, encode

For each: qps under the profiler, the share of samples per binary (kernel,
privatelink-dns, libc) and the hottest symbols. Raw data stays in the
temporary directory printed.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402



def perf_rows(data, sort, limit):
    out = subprocess.run(["perf", "report", "-i", str(data), "--no-children", "-g", "none", "--sort", sort,
                          "--stdio", "--percent-limit", str(limit)], capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()[:1].isdigit()]


def profile(server, label, queries, seconds):
    """Records the server's samples while dnsperf sends `queries`; prints a summary."""
    data = queries.parent / f"{label}.perf"
    load = subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(server.port), "-d", str(queries),
                             "-l", str(seconds + 2), "-c", "4", "-q", "200", "-t", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(1)
    # PERF_CALL_GRAPH=dwarf gives Rust call stacks (no frame pointers), at a cost.
    call_graph = ["--call-graph", os.environ["PERF_CALL_GRAPH"]] if os.environ.get("PERF_CALL_GRAPH") else ["-g"]
    subprocess.run(["perf", "record", "-F", "999", *call_graph, "-o", str(data), "-p", str(server.proc.pid),
                    "--", "sleep", str(seconds)], capture_output=True)
    out = load.communicate(timeout=seconds + 60)[0]
    qps = next((line.split()[-1] for line in out.splitlines() if "Queries per second" in line), "?")
    print(f"\n== {label}: {float(qps):,.0f} qps under the profiler")
    print("  by binary: " + "; ".join(" ".join(row.split()[:2]) for row in perf_rows(data, "dso", 1)))
    for row in perf_rows(data, "dso,sym", 1.5)[:16]:
        print("  " + row)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pdns-profile-"))
    info = bench.workload(1000, work)
    public = bench.Server("public", ["knotd", "-c", str(work / "public.conf")], bench.PORT_PUBLIC, "host1.example.com")
    pdns = bench.Server("privatelink-dns", [str(bench.BINARY), "serve", "--config", str(work / "pdns.toml"),
                                            "--listen", f"127.0.0.1:{bench.PORT_PDNS}"], bench.PORT_PDNS, info["probe"])
    limited = work / "pdns-limited.toml"
    limited.write_text((work / "pdns.toml").read_text() + "\n[rate_limit]\nresponses_per_second = 1000000\n")
    general = bench.Server("privatelink-dns (rate limiting on)", [str(bench.BINARY), "serve", "--config", str(limited),
                                                                 "--listen", f"127.0.0.1:{bench.PORT_PDNS + 10}"],
                           bench.PORT_PDNS + 10, info["probe"])
    try:
        public.start()
        pdns.start()
        general.start()
        for i in range(bench.FORWARDED):
            for server in (pdns, general):
                bench.dns_query(server.port, f"host{i}.example.com", timeout=1)
        profile(pdns, "mapped", work / "mapped.txt", args.seconds)
        profile(pdns, "cached", work / "forwarded.txt", args.seconds)
        profile(general, "general", work / "forwarded.txt", args.seconds)
    finally:
        for server in (general, pdns, public):
            server.stop()
    print(f"\nraw data: {work}")


if __name__ == "__main__":
    sys.exit(main())
