#!/usr/bin/env python3
"""Transfer benchmark (issue 17): the IXFR a secondary makes after a
one-name change in a 100,000-name zone, against the AXFR it replaces.

The release binary serves one zone (privatelink.blob.core.windows.net)
of N names on loopback; `dig` transfers it whole (AXFR) several times,
then one name moves, the server reloads (SIGHUP) and `dig ixfr=SERIAL`
asks for the change from the serial before. dig's own figures are kept
(records, messages, bytes, its query time) with the wall time around it
and the server's CPU time per transfer.

Usage: cargo build --release --bin privatelink-dns; python3
bench/transfer.py [--names N] [--rounds R]. Needs dig (bind9-dnsutils).
Writes bench/results/transfer.{md,json}.
"""

import argparse
import json
import re
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import bench

PORT = 5331
ZONE = "privatelink.blob.core.windows.net"
ROOT = Path(__file__).resolve().parent.parent


def config(names, moved=False):
    lines = ["[server]", 'allow_transfer = ["127.0.0.1"]', "watch = false", "",
             "[forward]", "upstreams = []", "", "[records]"]
    for i in range(names):
        last = 9 if (moved and i == 0) else (i & 255)
        lines.append(f'"h{i:06}.{ZONE}" = "10.{(i >> 16) & 255}.{(i >> 8) & 255}.{last}"')
    return "\n".join(lines) + "\n"


def serial():
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(PORT), ZONE, "SOA", "+short"],
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[2])


def transfer(kind, server):
    """One transfer by dig; its figures, wall time and the server's CPU."""
    cpu = server.cpu_s()
    started = time.monotonic()
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(PORT), ZONE, kind, "+noall", "+stats"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    wall = time.monotonic() - started
    cpu = server.cpu_s() - cpu
    size = re.search(r"XFR size: (\d+) records \(messages (\d+), bytes (\d+)\)", out)
    query = re.search(r"Query time: (\d+) msec", out)
    if not size:
        raise RuntimeError(f"dig {kind}: no transfer in\n{out}")
    return {
        "records": int(size.group(1)), "messages": int(size.group(2)),
        "bytes": int(size.group(3)), "dig_ms": int(query.group(1)) if query else None,
        "wall_ms": wall * 1000, "server_cpu_ms": cpu * 1000,
    }


def median_of(runs):
    keys = runs[0].keys()
    return {k: statistics.median(r[k] for r in runs if r[k] is not None) for k in keys}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--names", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--binary", type=Path, default=ROOT / "target" / "release" / "privatelink-dns")
    parser.add_argument("--out", default="transfer", help="results file name (bench/results/OUT.{md,json})")
    args = parser.parse_args()
    binary = args.binary
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "pdns.toml"
        path.write_text(config(args.names))
        server = bench.Server("privatelink-dns", [str(binary), "serve", "--config", str(path),
                                                  "--listen", f"127.0.0.1:{PORT}"],
                              PORT, f"h000001.{ZONE}", log=Path(work) / "log")
        server.start()
        try:
            axfr = [transfer("AXFR", server) for _ in range(args.rounds)]
            before = serial()
            path.write_text(config(args.names, moved=True))
            server.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 30
            while serial() == before:
                if time.monotonic() > deadline:
                    raise RuntimeError("the reload did not change the serial")
                time.sleep(0.05)
            ixfr = [transfer(f"IXFR={before}", server) for _ in range(args.rounds)]
            # (A binary without IXFR answers it in AXFR form: the table shows it.)
            peak = server.peak_rss_mb()
            # The reload that recorded the change (journal included).
            reloaded = re.findall(r"mapping reloaded .*elapsed_ms=(\d+)", (Path(work) / "log").read_text())
            reload_ms = int(reloaded[-1]) if reloaded else None
        finally:
            server.stop()
    results = {"names": args.names, "rounds": args.rounds, "axfr": median_of(axfr),
               "ixfr": median_of(ixfr), "peak_rss_mb": peak, "reload_ms": reload_ms,
               "versions": bench.versions() if hasattr(bench, "versions") else None}
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"{args.out}.json").write_text(json.dumps(results, indent=2) + "\n")
    rows = ["| transfer | records | messages | bytes | dig query time (ms) | wall (ms) | server CPU (ms) |",
            "|---|---:|---:|---:|---:|---:|---:|"]
    for kind in ("axfr", "ixfr"):
        r = results[kind]
        rows.append(f"| {kind.upper()} | {r['records']:,.0f} | {r['messages']:,.0f} | {r['bytes']:,.0f} | "
                    f"{r['dig_ms']:.0f} | {r['wall_ms']:.1f} | {r['server_cpu_ms']:.1f} |")
    text = (f"One-name change in a {args.names:,}-name zone, medians of {args.rounds} "
            f"transfers by dig on loopback; peak RSS {peak:.0f} MB; the reload that recorded the change "
            f"took {reload_ms} ms.\n\n" + "\n".join(rows) + "\n")
    (out / f"{args.out}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
