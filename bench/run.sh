#!/usr/bin/env bash
# The benchmark, from a fresh machine: installs dnsperf, Knot DNS, Unbound and
# gnuplot, builds the release binary, runs bench/bench.py (privatelink-dns
# against Knot DNS and Unbound, alternately, on loopback) and writes
# bench/results/latest.{md,json,svg}. Arguments go to bench.py
# (--rounds N, --seconds S, --sizes 1000,100000).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in dnsperf knotd unbound gnuplot; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dnsperf knot knot-module-geoip unbound gnuplot-nox >/dev/null
fi
# Debian starts the packages' own services; they would sit on port 53 and
# take CPU from the measurement.
systemctl stop unbound knot 2>/dev/null || true

cargo build --release --locked --bin privatelink-dns
exec python3 bench/bench.py "$@"
