#!/usr/bin/env python3
"""Views benchmark (issue 13): privatelink-dns with [[view]]s beside Knot DNS
answering the same names per client subnet (its geoip module in subnet
mode, Knot's form of BIND's views), alternately, on loopback.

The 1,000-name workload of bench.py, plus two views (127.0.0.51/32 and
127.0.0.52/32) that give every one of those names other addresses. dnsperf
asks from 127.0.0.51 (`-a`), so every answer is a view's; a second
comparison asks from 127.0.0.1, a client in no view, to show what views
cost the others. Each server's answers are checked for the view's address
before it is measured.

Usage: bench/run.sh installs dnsperf and Knot; this needs the geoip module
too (apt-get install knot-module-geoip). Then python3 bench/views.py
[--rounds N] [--seconds S]. Writes bench/results/views.{md,json}.
"""

import argparse
import json
import shutil
import socket
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

import bench

PORT_PDNS_VIEWS = 5311
PORT_KNOT_GEO = 5312
VIEWS = [("hub", "127.0.0.51", 200), ("branch", "127.0.0.52", 201)]


def view_address(first_octet, index):
    return f"{first_octet // 256 + 10}.{first_octet % 256}.{(index >> 8) & 255}.{index & 255}"


def names_of(work):
    """(fqdn, top-level address) of every mapped name, from the zone files."""
    names = []
    for zone_file in sorted(work.glob("privatelink.*.zone")):
        origin = None
        for line in zone_file.read_text().splitlines():
            if line.startswith("$ORIGIN "):
                origin = line.split()[1].rstrip(".")
            parts = line.split()
            if len(parts) == 5 and parts[3] == "A":
                names.append((f"{parts[0]}.{origin}", parts[4]))
    return names


def prepare(work):
    info = bench.workload(1000, work)
    names = names_of(work)
    pdns = (work / "pdns.toml").read_text()
    blocks = []
    geo = {}
    for view, client, octet in VIEWS:
        blocks += ["", "[[view]]", f'name = "{view}"', f'clients = ["{client}/32"]', "[view.records]"]
        for index, (name, _) in enumerate(names):
            address = view_address(octet, index + 1)
            blocks.append(f'"{name}" = "{address}"')
            geo.setdefault(name, []).append((client, address))
    (work / "pdns-views.toml").write_text(pdns + "\n".join(blocks) + "\n")
    # Knot: the same zones, with the geoip module tailoring every name per subnet.
    lines = []
    for name, nets in geo.items():
        lines.append(f"{name}:")
        for client, address in nets:
            lines += [f"  - net: {client}/32", f"    A: {address}"]
    (work / "geo.conf").write_text("\n".join(lines) + "\n")
    knot = (work / "knot.conf").read_text().replace(f"127.0.0.1@{bench.PORT_KNOT}", f"127.0.0.1@{PORT_KNOT_GEO}")
    head, zones = knot.split("zone:\n", 1)
    module = (f"mod-geoip:\n  - id: views\n    config-file: {work}/geo.conf\n    mode: subnet\n    ttl: 10\n")
    zones = zones.replace(".zone\n", ".zone\n    module: mod-geoip/views\n")
    if not zones.endswith("module: mod-geoip/views\n"):
        zones = zones.rstrip("\n") + "\n    module: mod-geoip/views\n"
    (work / "knot-geo.conf").write_text(head + module + "zone:\n" + zones)
    probe_name, _ = names[0]
    return info, names, probe_name


def ask_from(source, port, name):
    """The first A address answered to `name` asked from `source`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    sock.settimeout(1)
    query = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    query += b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    query += struct.pack(">HH", 1, 1)
    sock.sendto(query, ("127.0.0.1", port))
    try:
        reply, _ = sock.recvfrom(4096)
    except socket.timeout:
        return None
    finally:
        sock.close()
    # The last 4 bytes of a one-A answer are its address.
    return socket.inet_ntoa(reply[-4:]) if len(reply) > 4 and struct.unpack(">H", reply[6:8])[0] == 1 else None


def compare(label, source, ours, peer, queries, rounds, seconds):
    rows = []
    for r in range(1, rounds + 1):
        a = bench.measured(ours, queries, seconds, False, extra=("-a", source))
        b = bench.measured(peer, queries, seconds, False, extra=("-a", source))
        ratio = a["qps"] / b["qps"] if a["qps"] and b["qps"] else None
        print(f"  {label} round {r}: privatelink-dns {a['qps']:.0f} qps ({a.get('cpu_us_per_query', 0):.1f} µs CPU/query), "
              f"Knot DNS {b['qps']:.0f} qps ({b.get('cpu_us_per_query', 0):.1f} µs), ratio {ratio:.2f}", flush=True)
        rows.append({"round": r, "ours": a, "peer": b, "ratio": ratio})
    return {"label": label, "source": source, "rounds": rows,
            "median_ratio": statistics.median(r["ratio"] for r in rows)}


def cpu_ratio(row):
    ours, peer = row["ours"].get("cpu_us_per_query"), row["peer"].get("cpu_us_per_query")
    return ours / peer if ours and peer else 0.0


def report(results, meta):
    lines = [f"# Views benchmark ({meta['date']})", "",
             "privatelink-dns with two `[[view]]`s remapping all 1,000 names, beside Knot DNS answering the same "
             "names per client subnet (mod-geoip, subnet mode), alternately, on loopback "
             f"({meta['rounds']} rounds of {meta['seconds']} s, dnsperf -a SOURCE).", "",
             "| clients | round | privatelink-dns qps | µs CPU/query | Knot DNS qps | µs CPU/query | qps ratio | CPU ratio |",
             "|---|---|---|---|---|---|---|---|"]
    for result in results:
        for row in result["rounds"]:
            a, b = row["ours"], row["peer"]
            lines.append(f"| {result['label']} | {row['round']} | {a['qps']:,.0f} | {a.get('cpu_us_per_query', 0):.1f} | "
                         f"{b['qps']:,.0f} | {b.get('cpu_us_per_query', 0):.1f} | {row['ratio']:.2f} | {cpu_ratio(row):.2f} |")
        median_cpu = statistics.median(cpu_ratio(row) for row in result["rounds"])
        lines.append(f"| {result['label']} | **median** | | | | | **{result['median_ratio']:.2f}** | **{median_cpu:.2f}** |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if not list(Path("/usr/lib").glob("*/knot/*/geoip.so")) and not list(Path("/usr/lib").glob("knot/*/geoip.so")):
        print("Knot's geoip module is missing: apt-get install knot-module-geoip", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="pdns-views-"))
    info, names, probe = prepare(work)
    public = bench.Server("public", ["knotd", "-c", str(work / "public.conf")], bench.PORT_PUBLIC, "host1.example.com")
    pdns = bench.Server("privatelink-dns (views)", [str(bench.BINARY), "serve", "--config", str(work / "pdns-views.toml"),
                                                    "--listen", f"127.0.0.1:{PORT_PDNS_VIEWS}"], PORT_PDNS_VIEWS, probe)
    knot = bench.Server("Knot DNS (mod-geoip)", ["knotd", "-c", str(work / "knot-geo.conf")], PORT_KNOT_GEO, probe)
    servers = [public, pdns, knot]
    results = []
    try:
        for server in servers:
            server.start(timeout=300)
        # Both answer each view's client with the view's address, the rest with the top level's.
        for server in (pdns, knot):
            for index in (0, len(names) // 2, len(names) - 1):
                name, top = names[index]
                for view, source, octet in VIEWS:
                    want = view_address(octet, index + 1)
                    got = ask_from(source, server.port, name)
                    if got != want:
                        raise RuntimeError(f"{server.name}: {name} from {source} is {got}, not {want}")
                got = ask_from("127.0.0.1", server.port, name)
                if got != top:
                    raise RuntimeError(f"{server.name}: {name} from 127.0.0.1 is {got}, not {top}")
        queries = work / "mapped.txt"
        results.append(compare("a view's client (127.0.0.51)", "127.0.0.51", pdns, knot, queries, args.rounds, args.seconds))
        results.append(compare("no view's client (127.0.0.1)", "127.0.0.1", pdns, knot, queries, args.rounds, args.seconds))
        rss = {s.name: s.peak_rss_mb() for s in (pdns, knot)}
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rounds": args.rounds, "seconds": args.seconds,
            "versions": bench.versions(), "peak_rss_mb": rss}
    text = report(results, meta)
    text += "\n\nPeak RSS: " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in rss.items() if mb) + "\n"
    bench.RESULTS.mkdir(parents=True, exist_ok=True)
    (bench.RESULTS / "views.md").write_text(text)
    (bench.RESULTS / "views.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=str) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
