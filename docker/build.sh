#!/usr/bin/env bash
# Builds the two container images from this workspace without any image registry:
#
#   rcluster:local          FROM scratch + a statically linked `rcluster` (every role: config
#                           service, partition, proxy, admin CLI, the `ping` healthcheck)
#   rcluster-haproxy:local  FROM scratch + this machine's HAProxy (Debian's package) and the
#                           libraries it links, the L4 load balancer in front of the proxies
#
# Usage: bash docker/build.sh          (then: docker compose up, or docker-compose up)
# Needs: docker, haproxy (apt-get install haproxy), binutils (strip).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=x86_64-unknown-linux-gnu
command -v docker >/dev/null || { echo "docker is needed"; exit 1; }
HAPROXY=$(command -v haproxy || true)
[ -n "$HAPROXY" ] || { echo "haproxy is needed on this machine (apt-get install haproxy)"; exit 1; }

if [ -z "${SKIP_BUILD:-}" ]; then
  # crt-static: glibc, jemalloc and everything else linked in (a static-pie); an empty root
  # filesystem is enough, and names resolve through /etc/hosts and the DNS server Docker
  # writes into /etc/resolv.conf.
  RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --target "$TARGET" --bin rcluster
fi
BIN=target/$TARGET/release/rcluster
ldd "$BIN" 2>&1 | grep -qE 'statically linked|not a dynamic' || {
  echo "$BIN is not statically linked"; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT

# rcluster:local
mkdir -p "$ctx/rcluster/etc" "$ctx/rcluster/data"
strip -o "$ctx/rcluster/rcluster" "$BIN"
printf 'hosts: files dns\n' > "$ctx/rcluster/etc/nsswitch.conf"
build() { # tag dockerfile context — quiet unless it fails
  docker build -q -t "$1" -f "$2" "$3" >"$ctx/build.log" 2>&1 || { cat "$ctx/build.log"; exit 1; }
}
build rcluster:local docker/Dockerfile "$ctx/rcluster"

# rcluster-haproxy:local: HAProxy's binary and exactly the shared libraries it loads.
root="$ctx/haproxy/rootfs"
mkdir -p "$root/usr/sbin" "$root/etc" "$root/usr/local/etc/haproxy" "$root/run" "$root/tmp"
cp "$HAPROXY" "$root/usr/sbin/haproxy"
ldd "$HAPROXY" | awk '/=> \// { print $3 } /^[ \t]*\/[^ ]*ld-linux/ { print $1 }' | while read -r lib; do
  cp --parents -L "$lib" "$root"
done
cp docker/haproxy/haproxy.cfg "$root/usr/local/etc/haproxy/haproxy.cfg"
printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
# The probe for its healthcheck.
cp "$ctx/rcluster/rcluster" "$root/rcluster"
build rcluster-haproxy:local docker/haproxy/Dockerfile "$ctx/haproxy"

docker images --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E '^rcluster(-haproxy)?:local'
