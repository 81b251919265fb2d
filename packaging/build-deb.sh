#!/usr/bin/env bash
# Builds the Debian package: the release binary, its manual page and shell
# completions (rendered by the binary itself, so they match its --help),
# then `cargo deb --no-build`. Prints the path of the .deb.
#
#   cargo install cargo-deb --locked    # once
#   packaging/build-deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --quiet --release --locked --bin privatelink-dns
binary=${CARGO_TARGET_DIR:-target}/release/privatelink-dns
assets=target/deb-assets
rm -rf "$assets"
mkdir -p "$assets"
"$binary" man | gzip -9n > "$assets/privatelink-dns.1.gz"
"$binary" completions bash > "$assets/privatelink-dns.bash"
"$binary" completions zsh > "$assets/_privatelink-dns"
"$binary" completions fish > "$assets/privatelink-dns.fish"

# cargo-deb prints the path of the package it wrote; a failure stops here.
cargo deb -p privatelink-dns --no-build --strip --output target/debian/
