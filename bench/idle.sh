#!/usr/bin/env bash
# RSS cost of idle client connections: opens N connections (default 5000) that send nothing to
# redis-server and to our partition server in turn, and prints the RSS growth per connection.
#   bash bench/idle.sh            # N=5000
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5000}
if [ -z "${SKIP_BUILD:-}" ]; then cargo build --release -q; fi
ulimit -n $((N + 1000))

measure() { # name pid port
  python3 - "$1" "$2" "$3" "$N" <<'PY'
import socket, sys, time
name, pid, port, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def rss():
    return int(open(f"/proc/{pid}/statm").read().split()[1]) * 4096
base = rss()
socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
socks[-1].sendall(b"PING\r\n")
assert socks[-1].recv(16) == b"+PONG\r\n"
time.sleep(0.5)
print(f"| {name} | {n} | {(rss() - base) / n:,.0f} B |")
PY
}

echo "| server | idle clients | RSS per client |"
echo "|---|---:|---:|"
redis-server --port 16380 --save '' --appendonly no --maxclients $((N + 100)) --loglevel warning >/dev/null &
R=$!
target/release/rcluster partition --port 17380 --maxclients $((N + 100)) --loglevel warning >/dev/null 2>&1 &
O=$!
trap 'kill $R $O 2>/dev/null || true' EXIT
for p in 16380 17380; do for _ in $(seq 100); do redis-cli -p $p ping >/dev/null 2>&1 && break; sleep 0.1; done; done
measure redis-server $R 16380
measure "rcluster partition" $O 17380
