#!/usr/bin/env bash
# Builds the runtime image with buildah, offline: a release build, then a
# FROM scratch image holding the binary and exactly the libraries `ldd`
# lists for it (docker/Containerfile).
#
#   docker/build-image.sh [TAG]          # default privatelink-dns:latest
#   buildah push privatelink-dns:latest docker://myregistry.azurecr.io/privatelink-dns:0.1.0
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-privatelink-dns:latest}

cargo build --quiet --release --locked --bin privatelink-dns
binary=${CARGO_TARGET_DIR:-target}/release/privatelink-dns
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
root=$context/rootfs
mkdir -p "$root/usr/local/bin" "$root/etc/privatelink-dns" "$root/tmp"
chmod 1777 "$root/tmp"
install -m 0755 -s "$binary" "$root/usr/local/bin/privatelink-dns"
# The loader and every library the binary links, at the paths it asks for.
for lib in $(ldd "$binary" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
install -m 0644 config/privatelink-dns.toml "$root/etc/privatelink-dns/privatelink-dns.toml"
printf 'root:x:0:0:root:/:/sbin/nologin\nprivatelink-dns:x:10053:10053::/:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nprivatelink-dns:x:10053:\n' > "$root/etc/group"
cp docker/Containerfile "$context/Containerfile"

buildah build --quiet --layers=false --format oci --tag "$tag" "$context" >/dev/null
echo "$tag"
