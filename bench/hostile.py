#!/usr/bin/env python3
"""The hostile measurements of issue 18, repeated the way the issue made
them, against the release binary on loopback:

  tcp    1,024 TCP clients (the default tcp_max_connections) each pipeline
         5,000 questions for a 200-address name and never read: the
         server's RSS while they hang on, how long until the server has
         closed them all, the RSS after, and how long a well-behaved TCP
         client waits meanwhile.
  cache  unique-name floods from a fast upstream (a wildcard zone in Knot):
         RSS above the baseline as a multiple of cache_mb, and what the
         server's own memory gauge says.

Usage: python3 bench/hostile.py tcp|cache [--binary PATH] (see --help).
Prints one Markdown table per measurement; bench/results/hostile.md keeps
the figures quoted in the README. Every load is bounded in count and time.
"""

import argparse
import resource
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import bench

ROOT = Path(__file__).resolve().parent.parent
PORT = 5320
HTTP = 5321
BIG = "big.privatelink.blob.core.windows.net"
PROBE = "probe.privatelink.blob.core.windows.net"


def config(work, server_extra="", forward="upstreams = []"):
    many = ", ".join(f'"10.20.{i // 200}.{i % 200 + 1}"' for i in range(200))
    path = work / "pdns.toml"
    path.write_text(
        f'[server]\nlisten = ["127.0.0.1:{PORT}"]\nhttp = "127.0.0.1:{HTTP}"\nwatch = false\n{server_extra}\n'
        f"[forward]\n{forward}\n\n"
        f'[records]\n"{BIG}" = [{many}]\n"{PROBE}" = ["10.20.9.9"]\n')
    return path


def query(name, qid=0x4242, rtype=1):
    qname = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", rtype, 1)


def established(port):
    out = subprocess.run(["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
                         capture_output=True, text=True).stdout
    return len([line for line in out.splitlines() if line.strip()])


def tcp_answer_seconds(port, limit=60.0):
    """Seconds until a fresh TCP client gets its answer (or `limit`)."""
    started = time.monotonic()
    wire = query(PROBE)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=limit) as s:
            s.settimeout(limit)
            s.sendall(struct.pack(">H", len(wire)) + wire)
            length = struct.unpack(">H", s.recv(2))[0]
            s.recv(length)
    except OSError:
        return limit
    return time.monotonic() - started


def start(binary, path):
    server = bench.Server("privatelink-dns", [binary, "serve", "--config", str(path)], PORT, PROBE)
    server.start()
    return server


def tcp(binary, clients=1024, questions=5000, window=40.0, rounds=2, max_connections=None):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, clients + 256)), hard))
    with tempfile.TemporaryDirectory() as tmp:
        extra = f"tcp_max_connections = {max_connections}" if max_connections else ""
        server = start(binary, config(Path(tmp), server_extra=extra))
        baseline = server.rss_mb()
        rows = [tcp_round(server, clients, questions, window) for _ in range(rounds)]
        hwm = server.peak_rss_mb()
        server.stop()
    print("| tcp: non-reading clients | " + " | ".join(f"round {i + 1}" for i in range(rounds)) + " |")
    print("|---|" + "---|" * rounds)
    print(f"| clients × questions | {clients} × {questions} |" + " |" * (rounds - 1))
    print(f"| tcp_max_connections | {max_connections or 'default (1024)'} |" + " |" * (rounds - 1))
    print(f"| RSS before | {baseline:.1f} MB |" + " |" * (rounds - 1))
    for label, key, unit in [("MB sent by the clients", "sent", "MB"),
                             ("RSS while they hang on", "peak", "MB"),
                             ("a well-behaved TCP client answered after", "other", "s"),
                             ("every stuck connection closed, after the clients stopped sending", "closed", "s"),
                             ("RSS 2 s after they were closed", "after", "MB")]:
        print(f"| {label} | " + " | ".join(f"{row[key]:.1f} {unit}" if row[key] is not None else "not all"
                                           for row in rows) + " |")
    print(f"| peak RSS (VmHWM) | {hwm:.1f} MB |" + " |" * (rounds - 1))


def tcp_round(server, clients, questions, window):
    """One wave of non-reading clients against a running server."""
    wire = query(BIG)
    burst = (struct.pack(">H", len(wire)) + wire) * questions
    stuck = []
    opened = time.monotonic()
    for _ in range(clients):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", PORT))
        except BlockingIOError:
            pass
        stuck.append(s)
    sent = [0] * clients
    # Push each client's questions for up to 10 s, as far as the kernel takes them.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(n < len(burst) for n in sent):
        for i, s in enumerate(stuck):
            if sent[i] < len(burst):
                try:
                    sent[i] += s.send(burst[sent[i]:sent[i] + 65536])
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    sent[i] = len(burst)
    pushed = time.monotonic()
    peak = server.rss_mb()
    other = tcp_answer_seconds(PORT)
    closed_after = None
    while time.monotonic() - opened < window:
        peak = max(peak, server.rss_mb())
        if established(PORT) == 0:
            closed_after = time.monotonic() - pushed
            break
        time.sleep(0.5)
    # The tasks of closed connections end within moments; give the
    # allocator 2 s to return their pages (a measured interval).
    time.sleep(2)
    after = server.rss_mb()
    for s in stuck:
        s.close()
    return {"sent": sum(sent) / 1e6, "peak": peak, "other": other, "closed": closed_after, "after": after}


def metric(name):
    """One unlabelled series from the server's /metrics."""
    import urllib.request
    page = urllib.request.urlopen(f"http://127.0.0.1:{HTTP}/metrics", timeout=5).read().decode()
    for line in page.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def cache(binary, cache_mb=32, seconds=60, rate=20000, repeat=1):
    """Unique names at `rate` per second for `seconds` from a fast upstream
    (Knot with a wildcard), RSS sampled each second."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bench.workload(1000, work)
        zone = work / "example.com.zone"
        zone.write_text(zone.read_text() + "*.flood 300 IN A 192.0.2.201\n")
        public = bench.Server("public", ["knotd", "-c", str(work / "public.conf")], bench.PORT_PUBLIC,
                              "host1.example.com")
        public.start()
        path = config(work, server_extra="",
                      forward=f'upstreams = ["127.0.0.1:{bench.PORT_PUBLIC}"]\ncache_mb = {cache_mb}\n'
                              "upstream_max_qps = 1000000\nupstream_max_pending = 100000")
        server = start(binary, path)
        baseline = server.rss_mb()
        queries = work / "flood.txt"
        # Each name `repeat` times in a row: from the second time on it is
        # answered from the cache, and the response memo keeps it.
        queries.write_text("".join(f"u{i // repeat}.flood.example.com A\n" for i in range(rate * seconds)))
        perf = subprocess.Popen(["dnsperf", "-s", "127.0.0.1", "-p", str(PORT), "-d", str(queries), "-n", "1",
                                 "-l", str(seconds), "-Q", str(rate), "-c", "4", "-q", "500"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        samples = []
        while perf.poll() is None:
            time.sleep(1)
            samples.append(server.rss_mb())
        out = perf.stdout.read()
        answered = next((line.split()[2] for line in out.splitlines() if "Queries completed" in line), "?")
        gauges = {name: metric(f"privatelink_dns_{name}") for name in
                  ["cache_entries", "cache_bytes", "memo_bytes", "memory_accounted_bytes"]}
        hwm = server.peak_rss_mb()
        server.stop()
        public.stop()
    tail = samples[-10:]
    print(f"| cache: unique names, cache_mb = {cache_mb} | figure |\n|---|---|")
    print(f"| flood | {rate:,} names/s, each asked {repeat}×, for {seconds} s, {answered} answered |")
    print(f"| RSS before | {baseline:.1f} MB |")
    print(f"| RSS over the last 10 s | {min(tail):.1f}–{max(tail):.1f} MB |")
    print(f"| peak RSS (VmHWM) | {hwm:.1f} MB |")
    print(f"| peak above baseline ÷ cache_mb | {(hwm - baseline) / cache_mb:.2f} |")
    for name, value in gauges.items():
        if value is not None:
            print(f"| {name} at the end | {value / (1 << 20) if 'bytes' in name else value:,.1f}"
                  f"{' MB' if 'bytes' in name else ''} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["tcp", "cache"])
    parser.add_argument("--cache-mb", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--binary", default=str(ROOT / "target/release/privatelink-dns"))
    parser.add_argument("--clients", type=int, default=1024)
    parser.add_argument("--max-connections", type=int)
    args = parser.parse_args()
    if args.what == "tcp":
        tcp(args.binary, clients=args.clients, max_connections=args.max_connections)
    else:
        cache(args.binary, cache_mb=args.cache_mb, seconds=args.seconds, repeat=args.repeat)


if __name__ == "__main__":
    main()
