#!/usr/bin/env bash
# Throughput through the rcluster proxy against twemproxy, measured with redis-benchmark in
# alternating rounds on the same machine, in the same run:
#   (a) rcluster proxy (release build) -> three rcluster partition servers (--routing-file)
#   (b) nutcracker (twemproxy)          -> three redis-server
#   (c) one rcluster partition server, directly
#
#   bash bench/proxy.sh                # 3 rounds
#   ROUNDS=5 REQUESTS=300000 bash bench/proxy.sh
#   TABLE_OUT=/tmp/t.md bash bench/proxy.sh   # also write the table there
#
# Nothing is pinned: the proxy is multi-threaded and shares the machine's cores with its
# backends and redis-benchmark, as twemproxy does with its own.
# Each row: median ops/s over the rounds for a, b and c, and the ratios a/b and a/c.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-200000}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
TESTS=${TESTS:-set,get,mset}
BASE=${BASE:-18000}
PROXY_PORT=$BASE; PART_PORTS=($((BASE + 1)) $((BASE + 2)) $((BASE + 3)))
TW_PORT=$((BASE + 10)); REDIS_PORTS=($((BASE + 11)) $((BASE + 12)) $((BASE + 13)))
DIRECT_PORT=$((BASE + 20))
OUT=$(mktemp -d)

for tool in redis-server redis-benchmark redis-cli nutcracker; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install redis-server redis-tools nutcracker)"; exit 1; }
done

if [ -z "${SKIP_BUILD:-}" ]; then cargo build --release -q --bin rcluster; fi
BIN=${BIN:-target/release/rcluster}

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT

wait_port() {
  for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "port $1 did not answer" >&2; exit 1
}

# (a) three partitions behind the proxy, slots split evenly.
for port in "${PART_PORTS[@]}"; do
  "$BIN" partition --port "$port" --save '' --appendonly no --loglevel warning >"$OUT/part-$port.log" 2>&1 &
  PIDS+=($!)
done
python3 - "$OUT/routing.json" "${PART_PORTS[@]}" <<'PY'
import json, sys
path, ports = sys.argv[1], sys.argv[2:]
n, total = len(ports), 16384
shards, start = [], 0
for i, port in enumerate(ports):
    size = total // n + (1 if i < total % n else 0)
    shards.append({"id": i, "master": f"127.0.0.1:{port}", "slots": [{"start": start, "end": start + size - 1}]})
    start += size
json.dump({"epoch": 1, "shards": shards}, open(path, "w"))
PY
for port in "${PART_PORTS[@]}"; do wait_port "$port"; done
"$BIN" proxy --port "$PROXY_PORT" --routing-file "$OUT/routing.json" >"$OUT/proxy.log" 2>&1 &
PIDS+=($!)

# (b) three redis-server behind nutcracker.
for port in "${REDIS_PORTS[@]}"; do
  redis-server --port "$port" --save '' --appendonly no --bind 127.0.0.1 --loglevel warning >"$OUT/redis-$port.log" 2>&1 &
  PIDS+=($!)
done
cat >"$OUT/nutcracker.yml" <<YML
bench:
  listen: 127.0.0.1:$TW_PORT
  hash: fnv1a_64
  distribution: ketama
  redis: true
  preconnect: true
  servers:
$(for port in "${REDIS_PORTS[@]}"; do echo "   - 127.0.0.1:$port:1"; done)
YML
for port in "${REDIS_PORTS[@]}"; do wait_port "$port"; done
nutcracker -c "$OUT/nutcracker.yml" -s $((BASE + 19)) -o "$OUT/nutcracker.log" &
PIDS+=($!)

# (c) one partition, directly.
"$BIN" partition --port "$DIRECT_PORT" --save '' --appendonly no --loglevel warning >"$OUT/direct.log" 2>&1 &
PIDS+=($!)
for port in "$PROXY_PORT" "$TW_PORT" "$DIRECT_PORT"; do wait_port "$port"; done

run() { # who port pipeline round
  redis-benchmark -p "$2" -c "$CLIENTS" -n "$REQUESTS" -r "$KEYSPACE" -P "$3" -t "$TESTS" --csv -q 2>/dev/null \
    | tail -n +2 | tr -d '"' | awk -F, -v who="$1" -v p="$3" -v r="$4" '{print who","p","r","$1","$2}' >>"$OUT/raw.csv"
}

for round in $(seq "$ROUNDS"); do
  for pipeline in 1 16; do
    # Rotate which target goes first each round.
    case $((round % 3)) in
      1) order="proxy twemproxy direct" ;;
      2) order="twemproxy direct proxy" ;;
      0) order="direct proxy twemproxy" ;;
    esac
    for who in $order; do
      case $who in
        proxy) port=$PROXY_PORT ;;
        twemproxy) port=$TW_PORT ;;
        direct) port=$DIRECT_PORT ;;
      esac
      run "$who" "$port" "$pipeline" "$round"
    done
  done
  echo "round $round done" >&2
done

python3 - "$OUT/raw.csv" "$ROUNDS" "$REQUESTS" "$CLIENTS" "$KEYSPACE" <<'PY'
import csv, statistics, sys, platform, os, subprocess, datetime
path, rounds, requests, clients, keyspace = sys.argv[1:6]
rows = {}
for who, p, r, test, rps in csv.reader(open(path)):
    rows.setdefault((test, int(p)), {}).setdefault(who, []).append(float(rps))
cpu = "unknown"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip(); break
redis_v = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
tw_v = subprocess.run(["nutcracker", "--version"], capture_output=True, text=True)
tw_v = (tw_v.stdout + tw_v.stderr).strip().splitlines()[0] if (tw_v.stdout + tw_v.stderr).strip() else "nutcracker"
lines = []
lines.append(f"Machine: {os.cpu_count()} cores, {cpu}, Linux {platform.release()}; {redis_v}; {tw_v}; "
             f"{datetime.date.today()}.")
lines.append(f"redis-benchmark -c {clients} -n {requests} -r {keyspace} -P 1|16, median of {rounds} "
             "alternating rounds; nothing pinned. (a) rcluster proxy -> 3 rcluster partitions, "
             "(b) nutcracker -> 3 redis-server, (c) one rcluster partition directly.")
lines.append("")
lines.append("| test | pipeline | (a) proxy ops/s | (b) twemproxy ops/s | (c) direct ops/s | a/b | a/c |")
lines.append("|---|---:|---:|---:|---:|---:|---:|")
for (test, p) in sorted(rows, key=lambda k: (k[1], k[0])):
    d = rows[(test, p)]
    med = {w: statistics.median(v) for w, v in d.items()}
    a, b, c = med.get("proxy", 0), med.get("twemproxy", 0), med.get("direct", 0)
    ab = f"{a / b:.2f}" if b else "-"
    ac = f"{a / c:.2f}" if c else "-"
    lines.append(f"| {test} | {p} | {a:,.0f} | {b:,.0f} | {c:,.0f} | {ab} | {ac} |")
print("\n".join(lines))
open(os.environ.get("TABLE_OUT") or os.devnull, "w").write("\n".join(lines) + "\n")
PY
