#!/usr/bin/env python3
"""privatelink-dns benchmark: dnsperf against the release binary and, in the
same run, against Knot DNS (mapped names) and Unbound (the mixed workload,
and cached forwarded names alone), alternately (A B A B ...), on loopback.

Usage: bench/run.sh [--rounds N] [--seconds S] [--sizes 1000,100000]
(run.sh installs dnsperf, knot, unbound and gnuplot, builds the release
binary, then runs this script).

Everything listens on 127.0.0.1; the forwarded names are answered by a local
Knot instance playing the public DNS. Nothing leaves the machine.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY = ROOT / "target" / "release" / "privatelink-dns"
RESULTS = ROOT / "bench" / "results"

PORT_PDNS = 5301
PORT_KNOT = 5302
PORT_UNBOUND = 5303
PORT_PUBLIC = 5304
PORT_PROD = 5305  # privatelink-dns with the query log on and rate limiting on

GEOS = ["we", "ne", "eus", "eus2", "uks", "sea", "cus", "wus2"]
SERVICES = ["fab1", "rec2", "prot1", "ecs1", "tel1", "wbcm1", "fc1", "id1"]
FORWARDED = 200  # distinct forwarded names (answered by the public Knot, then cached)


# ---------------------------------------------------------------- workload

def workload(size, work):
    """Writes every config and query file for `size` mapped names into `work`."""
    vaults = size // 10  # 8 Backup names + ecs blob + ecs queue per vault
    names = []  # (zone, relative, ip)
    ip = 0

    def next_ip():
        nonlocal ip
        ip += 1
        return f"10.{(ip >> 16) & 255}.{(ip >> 8) & 255}.{ip & 255}"

    pdns = ["[server]", "watch = true", "[forward]", f'upstreams = ["127.0.0.1:{PORT_PUBLIC}"]', ""]
    for v in range(vaults):
        geo = GEOS[v % len(GEOS)]
        vault_id = str(1000000000000000000 + v * 7919)
        zone = f"privatelink.{geo}.backup.windowsazure.com"
        pdns += ["[[vault]]", f'name = "rsv-{v}"', f'id = "{vault_id}"', f'geo = "{geo}"', "[vault.backup]"]
        for svc in SERVICES:
            addr = next_ip()
            pdns.append(f'{svc} = "{addr}"')
            names.append((zone, f"{vault_id}-ab-pod01-{svc}", addr))
        account = f"acct{v}pod01ecs1"
        blob, queue = next_ip(), next_ip()
        pdns += ["[[vault.storage]]", f'account = "{account}"', 'role = "ecs"', f'blob = "{blob}"', f'queue = "{queue}"', ""]
        names.append(("privatelink.blob.core.windows.net", account, blob))
        names.append(("privatelink.queue.core.windows.net", account, queue))
    (work / "pdns.toml").write_text("\n".join(pdns) + "\n")
    # What production turns on: the query log (JSON, to a file) and RRL. The
    # limit is far above what one loopback client sends, so that every query
    # pays for the bucket check and none is limited.
    prod = pdns[:2] + ["query_log = true", "", "[rate_limit]", "responses_per_second = 1000000", "slip = 2", ""] + pdns[2:]
    (work / "pdns-prod.toml").write_text("\n".join(prod) + "\n")

    zones = sorted({zone for zone, _, _ in names})
    soa = "azureprivatedns.net. azureprivatedns-host.microsoft.com. 1 3600 300 2419200 10"
    by_zone = {zone: [] for zone in zones}
    for zone, rel, addr in names:
        by_zone[zone].append(f"{rel} 10 IN A {addr}")
    for zone in zones:
        body = [f"$ORIGIN {zone}.", "$TTL 10", f"@ 3600 IN SOA {soa}", "@ 3600 IN NS ns1.privatelink-dns.internal."]
        (work / f"{zone}.zone").write_text("\n".join(body + by_zone[zone]) + "\n")

    knot = [
        "server:",
        f"    listen: 127.0.0.1@{PORT_KNOT}",
        f"    rundir: {work}/knot",
        "    user: root:root",
        "database:",
        f"    storage: {work}/knot",
        "log:",
        "  - target: stderr",
        "    any: warning",
        "template:",
        "  - id: default",
        f"    storage: {work}",
        "    zonefile-sync: -1",
        "    zonefile-load: whole",
        "    journal-content: none",
        "zone:",
    ] + [f"  - domain: {zone}\n    file: {zone}.zone" for zone in zones]
    (work / "knot").mkdir(exist_ok=True)
    (work / "knot.conf").write_text("\n".join(knot) + "\n")

    # The "public DNS": forwarded names, answered authoritatively by Knot.
    public_zone = ["$ORIGIN example.com.", "$TTL 300", "@ 3600 IN SOA ns.example.com. h.example.com. 1 3600 300 2419200 300",
                   "@ 3600 IN NS ns.example.com."] + [f"host{i} 300 IN A 192.0.2.{i % 250 + 1}" for i in range(FORWARDED)]
    (work / "example.com.zone").write_text("\n".join(public_zone) + "\n")
    (work / "public").mkdir(exist_ok=True)
    public = [
        "server:",
        f"    listen: 127.0.0.1@{PORT_PUBLIC}",
        f"    rundir: {work}/public",
        "    user: root:root",
        "database:",
        f"    storage: {work}/public",
        "log:",
        "  - target: stderr",
        "    any: warning",
        "zone:",
        "  - domain: example.com",
        f"    file: {work}/example.com.zone",
        "    journal-content: none",
    ]
    (work / "public.conf").write_text("\n".join(public) + "\n")

    unbound = [
        "server:",
        f"    interface: 127.0.0.1@{PORT_UNBOUND}",
        "    num-threads: 2",
        "    so-reuseport: yes",
        "    access-control: 127.0.0.0/8 allow",
        "    do-not-query-localhost: no",
        "    username: \"\"",
        "    chroot: \"\"",
        "    directory: \"" + str(work) + "\"",
        "    pidfile: \"\"",
        "    use-syslog: no",
        "    logfile: \"\"",
        "    verbosity: 0",
        "    module-config: \"iterator\"",
        "    msg-cache-size: 64m",
        "    rrset-cache-size: 128m",
        "    outgoing-range: 1024",
        "    num-queries-per-thread: 1024",
        "    local-zone: \"example.com.\" transparent",
    ]
    for zone in zones:
        unbound.append(f'    local-zone: "{zone}." static')
        unbound.append(f'    local-data: "{zone}. 3600 IN SOA {soa}"')
    for zone, rel, addr in names:
        unbound.append(f'    local-data: "{rel}.{zone}. 10 IN A {addr}"')
    unbound += ["forward-zone:", '    name: "."', f"    forward-addr: 127.0.0.1@{PORT_PUBLIC}"]
    (work / "unbound.conf").write_text("\n".join(unbound) + "\n")

    rng = random.Random(size)
    mapped = [f"{rel}.{zone}" for zone, rel, _ in names]
    rng.shuffle(mapped)
    (work / "mapped.txt").write_text("".join(f"{n} A\n" for n in mapped))
    mixed = []
    for i in range(20000):
        roll = rng.random()
        if roll < 0.4:
            mixed.append(f"{rng.choice(mapped)} A")
        elif roll < 0.8:
            mixed.append(f"{rng.choice(mapped)} AAAA")
        elif roll < 0.9:
            zone = rng.choice(zones)
            mixed.append(f"nosuch{i}.{zone} A")
        else:
            mixed.append(f"host{rng.randrange(FORWARDED)}.example.com A")
    (work / "mixed.txt").write_text("\n".join(mixed) + "\n")
    forwarded = [f"host{i}.example.com A" for i in range(FORWARDED)]
    rng.shuffle(forwarded)
    (work / "forwarded.txt").write_text("\n".join(forwarded) + "\n")
    probe = names[0]
    return {"probe": f"{probe[1]}.{probe[0]}", "names": len(names), "zones": len(zones)}


# ---------------------------------------------------------------- servers

def dns_query(port, name, rtype=1, timeout=0.2):
    """One UDP query; the rcode and the first A address, or None on timeout."""
    qname = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", rtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(packet, ("127.0.0.1", port))
            data = s.recv(4096)
        except OSError:
            return None
    rcode = data[3] & 0x0F
    if len(data) >= 4 and data[-6:-4] == b"\x00\x04":
        return rcode, ".".join(str(b) for b in data[-4:])
    return rcode, None


class Server:
    def __init__(self, name, argv, port, probe, log=None):
        self.name, self.argv, self.port, self.probe, self.log = name, argv, port, probe, log
        self.proc = None
        self.started = None

    def start(self, timeout=60):
        self.started = time.monotonic()
        # O_APPEND, so that the log can be truncated between runs.
        stderr = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited while starting: {self.argv}")
            if dns_query(self.port, self.probe) is not None:
                return time.monotonic() - self.started
        raise RuntimeError(f"{self.name} did not answer within {timeout} s")

    def cpu_s(self):
        """User + system CPU time of the process (all threads) so far."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_bytes(self):
        return self.log.stat().st_size if self.log and self.log.exists() else 0

    def truncate_log(self):
        if self.log:
            os.truncate(self.log, 0)

    def peak_rss_mb(self):
        return self._status_mb("VmHWM")

    def rss_mb(self):
        return self._status_mb("VmRSS")

    def _status_mb(self, field):
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        match = re.search(field + r":\s+(\d+) kB", status)
        return int(match.group(1)) / 1024 if match else None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def dnsperf(port, queries, seconds, rate=None, verbose=False, tcp=False, extra=()):
    argv = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(queries), "-l", str(seconds),
            "-c", "4", "-T", "1", "-q", "200", "-t", "2", *extra]
    if tcp:
        # Four connections, each carrying many queries (pipelined).
        argv += ["-m", "tcp"]
    if rate:
        argv += ["-Q", str(rate)]
    if verbose:
        argv.append("-v")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60).stdout
    result = {}
    for key, pattern in [
        ("sent", r"Queries sent:\s+(\d+)"),
        ("completed", r"Queries completed:\s+(\d+)"),
        ("lost", r"Queries lost:\s+(\d+)"),
        ("qps", r"Queries per second:\s+([\d.]+)"),
        ("avg_ms", r"Average Latency \(s\):\s+([\d.]+)"),
        ("max_ms", r"Average Latency \(s\):\s+[\d.]+ \(min [\d.]+, max ([\d.]+)\)"),
    ]:
        match = re.search(pattern, out)
        result[key] = float(match.group(1)) if match else None
    for key in ("avg_ms", "max_ms"):
        if result[key] is not None:
            result[key] *= 1000
    codes = re.search(r"Response codes:\s+(.*)", out)
    result["rcodes"] = codes.group(1).strip() if codes else ""
    if verbose:
        latencies = sorted(float(line.split()[-1]) for line in out.splitlines() if line.startswith("> "))
        result["latencies"] = latencies
    return result


def percentile(values, p):
    if not values:
        return None
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


# ---------------------------------------------------------------- measurements

def measured(server, queries, seconds, tcp, extra=()):
    """One dnsperf run, with the server's CPU time per answered query (and,
    for a server that logs, the log bytes it wrote)."""
    server.truncate_log()
    cpu_before = server.cpu_s()
    result = dnsperf(server.port, queries, seconds, tcp=tcp, extra=extra)
    cpu_after = server.cpu_s()
    if cpu_before is not None and cpu_after is not None and result["completed"]:
        result["cpu_us_per_query"] = (cpu_after - cpu_before) / result["completed"] * 1e6
    if server.log:
        result["log_bytes"] = server.log_bytes()
        server.truncate_log()
    return result


def compare(label, ours, peer, queries, rounds, seconds, tcp=False):
    """Alternates dnsperf runs: ours, peer, ours, peer ..."""
    rows = []
    for r in range(1, rounds + 1):
        a = measured(ours, queries, seconds, tcp)
        b = measured(peer, queries, seconds, tcp)
        ratio = a["qps"] / b["qps"] if a["qps"] and b["qps"] else None
        print(f"  {label} round {r}: privatelink-dns {a['qps']:.0f} qps ({a.get('cpu_us_per_query', 0):.1f} µs CPU/query), "
              f"{peer.name} {b['qps']:.0f} qps ({b.get('cpu_us_per_query', 0):.1f} µs), ratio {ratio:.2f}"
              + (f", query log {a['log_bytes'] / 1e6:.0f} MB" if "log_bytes" in a else ""), flush=True)
        rows.append({"round": r, "ours": a, "peer": b, "ratio": ratio})
    # Latency at a fixed, moderate rate, from per-query samples.
    lat = {}
    for server in (ours, peer):
        sample = dnsperf(server.port, queries, 3, rate=20000, verbose=True, tcp=tcp)
        server.truncate_log()
        lat[server.name] = {"p50_ms": percentile(sample["latencies"], 0.50), "p99_ms": percentile(sample["latencies"], 0.99),
                            "p999_ms": percentile(sample["latencies"], 0.999)}
    return {"label": label, "peer": peer.name, "rounds": rows, "median_ratio": statistics.median(r["ratio"] for r in rows),
            "latency_20k": lat, "ours_name": ours.name}


def reload_figures(work, pdns, probe_name):
    """Edit → answer and SIGHUP → answer times, then 100 reloads under load."""
    config = work / "pdns.toml"
    original = config.read_text()
    probe_ip = dns_query(PORT_PDNS, probe_name)[1]
    figures = {}

    def swap(text):
        staged = work / "pdns.toml.new"
        staged.write_text(text)
        os.replace(staged, config)

    def wait_for(ip, started, limit=10):
        while time.monotonic() - started < limit:
            answer = dns_query(PORT_PDNS, probe_name)
            if answer and answer[1] == ip:
                return time.monotonic() - started
        return None

    changed = original.replace(f'"{probe_ip}"', '"10.255.255.1"', 1)
    started = time.monotonic()
    swap(changed)
    figures["file_change_to_answer_s"] = wait_for("10.255.255.1", started)
    # SIGHUP: restore the original content and signal at once.
    started = time.monotonic()
    config.write_text(original)
    pdns.proc.send_signal(signal.SIGHUP)
    figures["sighup_to_answer_s"] = wait_for(probe_ip, started)

    # 100 reloads while dnsperf sends the mapped workload at a fixed rate. The
    # load runs until the last reload is served (bounded at 300 s), then is
    # interrupted: dnsperf counts the queries still within their timeout as
    # "interrupted", not lost.
    load = subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(PORT_PDNS), "-d", str(work / "mapped.txt"),
                             "-l", "300", "-Q", "20000", "-c", "4", "-t", "2"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(1)
    texts = [changed, original]
    reloads = 0
    storm_started = time.monotonic()
    for i in range(100):
        swap(texts[i % 2])
        pdns.proc.send_signal(signal.SIGHUP)
        expected = "10.255.255.1" if i % 2 == 0 else probe_ip
        if wait_for(expected, time.monotonic(), limit=20) is not None:
            reloads += 1
    storm_seconds = time.monotonic() - storm_started
    time.sleep(1)
    load.send_signal(signal.SIGINT)
    out = load.communicate(timeout=60)[0]
    lost = re.search(r"Queries lost:\s+(\d+)", out)
    sent = re.search(r"Queries sent:\s+(\d+)", out)
    completed = re.search(r"Queries completed:\s+(\d+)", out)
    codes = re.search(r"Response codes:\s+(.*)", out)
    config.write_text(original)
    figures.update({"rss_after_storm_mb": pdns.rss_mb(), "peak_rss_after_storm_mb": pdns.peak_rss_mb(),
                    "storm_reloads": reloads, "storm_seconds": storm_seconds,
                    "storm_queries": int(sent.group(1)) if sent else None,
                    "storm_completed": int(completed.group(1)) if completed else None,
                    "storm_lost": int(lost.group(1)) if lost else None,
                    "storm_rcodes": codes.group(1).strip() if codes else ""})
    return figures


def versions():
    def first_line(argv):
        try:
            out = subprocess.run(argv, capture_output=True, text=True)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "not found"
    return {
        "privatelink-dns": first_line([str(BINARY), "--version"]),
        "knot": first_line(["knotd", "--version"]),
        "unbound": next((l for l in subprocess.run(["unbound", "-V"], capture_output=True, text=True).stdout.splitlines() if l.startswith("Version")), "?"),
        "dnsperf": "dnsperf " + next((l.split()[-1] for l in subprocess.run(["dnsperf", "-H"], capture_output=True, text=True).stdout.splitlines() if l.startswith("Version")), "?"),
        "cpu": next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), "?"),
        "cores": os.cpu_count(),
        "kernel": os.uname().release,
    }


# ---------------------------------------------------------------- report

def report(results, meta):
    lines = [f"# Benchmark results, {meta['date']}", "",
             f"Machine: {meta['versions']['cpu']}, {meta['versions']['cores']} cores, Linux {meta['versions']['kernel']}; "
             f"server and dnsperf share the cores. {meta['versions']['privatelink-dns']}, {meta['versions']['knot']}, "
             f"Unbound {meta['versions']['unbound'].replace('Version', '').strip()}, {meta['versions']['dnsperf']}. "
             f"dnsperf: 4 clients, up to 200 outstanding, {meta['seconds']} s per run, runs alternating, "
             f"{meta['rounds']} rounds.", "",
             "| names | workload | server | qps (median) | CPU µs/query | avg latency ms | p99 ms @20k qps | peak RSS MB | privatelink-dns / peer (per round) | median ratio |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for size, size_results in results.items():
        rss = size_results["rss_mb"]
        for comparison in size_results["comparisons"]:
            rows = comparison["rounds"]
            ratios = ", ".join(f"{r['ratio']:.2f}" for r in rows)
            for side, name in (("ours", comparison.get("ours_name", "privatelink-dns")), ("peer", comparison["peer"])):
                qps = statistics.median(r[side]["qps"] for r in rows)
                cpu = [r[side]["cpu_us_per_query"] for r in rows if r[side].get("cpu_us_per_query")]
                cpu_cell = f"{statistics.median(cpu):.1f}" if cpu else "–"
                avg = statistics.median(r[side]["avg_ms"] for r in rows)
                p99 = comparison["latency_20k"][name]["p99_ms"]
                ratio_cells = f"{ratios} | **{comparison['median_ratio']:.2f}**" if side == "ours" else " | "
                lines.append(f"| {size:,} | {comparison['label']} | {name} | {qps:,.0f} | {cpu_cell} | {avg:.2f} | {p99:.2f} | "
                             f"{rss.get(name) or 0:.0f} | {ratio_cells} |")
    lines.append("")
    for size, size_results in results.items():
        if "reload" in size_results:
            f = size_results["reload"]
            lines += [f"Reload with {size:,} names: start to first answer {size_results['start_s']:.2f} s; "
                      f"file change to new answer {f['file_change_to_answer_s']:.2f} s; SIGHUP to new answer {f['sighup_to_answer_s']:.2f} s; "
                      f"{f['storm_reloads']} reloads in {f['storm_seconds']:.1f} s under a 20,000 qps load: {f['storm_queries']:,} queries sent, "
                      f"{f['storm_completed']:,} answered, {f['storm_lost']} lost (the rest were in flight when the load stopped), "
                      f"response codes {f['storm_rcodes']}. Memory after the storm: RSS {f['rss_after_storm_mb']:.0f} MB, "
                      f"peak {f['peak_rss_after_storm_mb']:.0f} MB (old and new mappings coexist during a reload).", ""]
    return "\n".join(lines)


def chart(results, path):
    """A grouped bar chart of median qps per workload and server (gnuplot, SVG)."""
    if not shutil.which("gnuplot"):
        return False
    data = path.with_suffix(".dat")
    rows = []
    for size, size_results in results.items():
        for comparison in size_results["comparisons"]:
            ours = statistics.median(r["ours"]["qps"] for r in comparison["rounds"])
            peer = statistics.median(r["peer"]["qps"] for r in comparison["rounds"])
            rows.append(f'"{comparison["label"]}\\n{size:,} names\\nvs {comparison["peer"]}" {ours:.0f} {peer:.0f} '
                        f'{comparison["median_ratio"]:.2f}')
    data.write_text("\n".join(rows) + "\n")
    script = f"""
set terminal svg size 1000,500 font 'sans,12' background '#ffffff'
set output '{path}'
set bmargin 6
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set ylabel 'queries per second (median of rounds)'
set yrange [0:*]
# Headroom above the tallest bar for the ratio labels; the key below the plot, clear of the bars.
set offsets 0, 0, graph 0.12, 0
set grid ytics
set key below horizontal
set title 'privatelink-dns and its peers, dnsperf on loopback, 2 cores shared'
plot '{data}' using 2:xtic(1) title 'privatelink-dns' linecolor rgb '#1f6feb', \\
     '' using 3 title 'peer (Knot DNS / Unbound)' linecolor rgb '#9a9a9a', \\
     '' using ($0):($2 > $3 ? $2 : $3):(sprintf("×%s", stringcolumn(4))) with labels offset 0,1 notitle
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    data.unlink()
    return True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--only", help="run only the workloads whose label contains this text (no reload figures)")
    parser.add_argument("--chart-only", action="store_true", help="redraw the chart from results/latest.json")
    args = parser.parse_args()
    if args.chart_only:
        saved = json.loads((RESULTS / "latest.json").read_text())["results"]
        return 0 if chart({int(size): entry for size, entry in saved.items()}, RESULTS / "latest.svg") else 1
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = {}
    for size in (int(s) for s in args.sizes.split(",")):
        work = Path(tempfile.mkdtemp(prefix=f"pdns-bench-{size}-"))
        # Not beside the config: the server watches that directory, and every
        # write to a file in it would be a file event.
        logs = Path(tempfile.mkdtemp(prefix=f"pdns-bench-log-{size}-"))
        info = workload(size, work)
        print(f"{size:,} names in {info['zones']} zones ({work})", flush=True)
        public = Server("public", ["knotd", "-c", str(work / "public.conf")], PORT_PUBLIC, "host1.example.com")
        pdns = Server("privatelink-dns", [str(BINARY), "serve", "--config", str(work / "pdns.toml"),
                                          "--listen", f"127.0.0.1:{PORT_PDNS}"], PORT_PDNS, info["probe"])
        knot = Server("Knot DNS", ["knotd", "-c", str(work / "knot.conf")], PORT_KNOT, info["probe"])
        unbound = Server("Unbound", ["unbound", "-d", "-c", str(work / "unbound.conf")], PORT_UNBOUND, info["probe"])
        prod = Server("privatelink-dns (query log, RRL)",
                      [str(BINARY), "--log-format", "json", "serve", "--config", str(work / "pdns-prod.toml"),
                       "--listen", f"127.0.0.1:{PORT_PROD}"], PORT_PROD, info["probe"], log=logs / "query.log")
        servers = [public, pdns, knot, unbound, prod]
        try:
            public.start()
            start_s = pdns.start()
            prod.start()
            knot.start(timeout=300)
            unbound.start(timeout=300)
            # Warm both caches with the forwarded names.
            for i in range(FORWARDED):
                dns_query(PORT_PDNS, f"host{i}.example.com", timeout=1)
                dns_query(PORT_UNBOUND, f"host{i}.example.com", timeout=1)
            plan = [
                ("mapped A", pdns, knot, "mapped.txt", False),
                ("mixed", pdns, unbound, "mixed.txt", False),
                ("cached forwards", pdns, unbound, "forwarded.txt", False),
                ("mapped A, query log + RRL", prod, knot, "mapped.txt", False),
                ("mapped A over TCP", pdns, knot, "mapped.txt", True),
                ("mapped A over TCP, query log", prod, knot, "mapped.txt", True),
            ]
            comparisons = [compare(label, ours, peer, work / queries, args.rounds, args.seconds, tcp=tcp)
                           for label, ours, peer, queries, tcp in plan
                           if not args.only or args.only in label]
            entry = {"comparisons": comparisons, "start_s": start_s,
                     "rss_mb": {s.name: s.peak_rss_mb() for s in (pdns, knot, unbound, prod)}}
            if size >= 100000 and not args.only:
                entry["reload"] = reload_figures(work, pdns, info["probe"])
            results[size] = entry
        finally:
            for server in servers:
                server.stop()
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(logs, ignore_errors=True)
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rounds": args.rounds, "seconds": args.seconds,
            "versions": versions()}
    text = report(results, meta)
    (RESULTS / "latest.md").write_text(text + "\n")
    (RESULTS / "latest.json").write_text(json.dumps({"meta": meta, "results": results}, indent=1, default=str) + "\n")
    if chart(results, RESULTS / "latest.svg"):
        print(f"chart: {RESULTS / 'latest.svg'}")
    print(text)


if __name__ == "__main__":
    sys.exit(main())
