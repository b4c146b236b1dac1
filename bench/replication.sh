#!/usr/bin/env bash
# SET throughput of a master with a replica: rcluster without a replica, with an async
# replica, with a sync (in-sync set) replica, against redis-server with a replica; measured
# with redis-benchmark in alternating rounds on the same machine, in the same run.
#
#   bash bench/replication.sh                 # 5 rounds
#   ROUNDS=3 REQUESTS=200000 bash bench/replication.sh
#   PIN=0 bash bench/replication.sh           # don't pin processes to cores
#
# With PIN=1 (default, 2+ cores) masters run on core 0, replicas and redis-benchmark on core 1,
# the same for both servers. Targets (issue 4): sync >= 0.7 x async at pipeline 16; ours
# async + replica >= redis-server + replica. Each row: median ops/s over the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
REQUESTS=${REQUESTS:-300000}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
BASE=${BASE_PORT:-18000}
OUT=$(mktemp -d)
PIN=${PIN:-1}
MASTER_CPU=(); REPLICA_CPU=(); CLIENT_CPU=()
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  MASTER_CPU=(taskset -c 0); REPLICA_CPU=(taskset -c 1); CLIENT_CPU=(taskset -c 1)
fi
for tool in redis-server redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install redis-server redis-tools)"; exit 1; }
done
if [ -z "${SKIP_BUILD:-}" ]; then cargo build --release -q; fi
BIN=${BIN:-target/release/rcluster}

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$OUT"
}
trap cleanup EXIT

wait_port() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done; echo "port $1 did not come up" >&2; exit 1; }
# Waits until the replica on $1 reports its link up.
wait_link() { for _ in $(seq 200); do redis-cli -p "$1" info replication | grep -q 'master_link_status:up' && return; sleep 0.1; done; echo "replica $1 never synced" >&2; exit 1; }

common=(--save '' --appendonly no --bind 127.0.0.1 --loglevel warning)
# name → master port; replicas on port+1.
declare -A PORT=([ours-solo]=$BASE [ours-async]=$((BASE + 10)) [ours-sync]=$((BASE + 20)) [redis]=$((BASE + 30)))

start_ours() { # port dir extra...
  local port=$1 dir=$2; shift 2
  mkdir -p "$dir"
  "${MASTER_CPU[@]}" "$BIN" partition --port "$port" --dir "$dir" "${common[@]}" "$@" >"$dir.log" 2>&1 &
  PIDS+=($!)
}
start_ours_replica() { # port dir master_port
  mkdir -p "$2"
  "${REPLICA_CPU[@]}" "$BIN" partition --port "$1" --dir "$2" "${common[@]}" --replicaof 127.0.0.1 "$3" >"$2.log" 2>&1 &
  PIDS+=($!)
}

start_ours "${PORT[ours-solo]}" "$OUT/solo"
start_ours "${PORT[ours-async]}" "$OUT/async" --replication async
start_ours_replica $((PORT[ours-async] + 1)) "$OUT/async-r" "${PORT[ours-async]}"
start_ours "${PORT[ours-sync]}" "$OUT/sync" --replication sync --rcluster-secret bench
start_ours_replica $((PORT[ours-sync] + 1)) "$OUT/sync-r" "${PORT[ours-sync]}"
"${MASTER_CPU[@]}" redis-server --port "${PORT[redis]}" --dir "$OUT" "${common[@]}" >"$OUT/redis.log" 2>&1 &
PIDS+=($!)
"${REPLICA_CPU[@]}" redis-server --port $((PORT[redis] + 1)) --dir "$OUT" "${common[@]}" --dbfilename r.rdb \
  --replicaof 127.0.0.1 "${PORT[redis]}" >"$OUT/redis-r.log" 2>&1 &
PIDS+=($!)
for p in "${PORT[@]}"; do wait_port "$p"; done
for name in ours-async ours-sync redis; do wait_link $((PORT[$name] + 1)); done
# The sync master: fenced by hand, with its replica as the in-sync set and an hour's lease.
redis-cli -p "${PORT[ours-sync]}" <<EOF >/dev/null
RCLUSTER AUTH bench
RCLUSTER ROLE MASTER 0 1 LEASE 3600000 SLOTS 0-16383 ISR 127.0.0.1:$((PORT[ours-sync] + 1))
EOF
redis-cli -p "${PORT[ours-sync]}" info replication | grep -q "rcluster_in_sync:127.0.0.1" \
  || { echo "the sync master has no in-sync set" >&2; exit 1; }

run() { # name pipeline round
  "${CLIENT_CPU[@]}" redis-benchmark -p "${PORT[$1]}" -c "$CLIENTS" -n "$REQUESTS" -r "$KEYSPACE" -P "$2" -t set --csv -q 2>/dev/null \
    | tail -n +2 | tr -d '"' | awk -F, -v who="$1" -v p="$2" -v r="$3" '{print who","p","r","$2}' >>"$OUT/raw.csv"
}

NAMES=(redis ours-solo ours-async ours-sync)
for round in $(seq "$ROUNDS"); do
  for pipeline in 1 16; do
    # Rotate the order every round so no configuration always runs first.
    for i in 0 1 2 3; do
      run "${NAMES[$(( (i + round) % 4 ))]}" "$pipeline" "$round"
    done
  done
  echo "round $round done" >&2
done

# Everything each master acknowledged reached its replica.
for name in ours-async ours-sync redis; do
  for _ in $(seq 100); do
    m=$(redis-cli -p "${PORT[$name]}" info replication | awk -F: '/^master_repl_offset/ {print $2}' | tr -d '\r')
    r=$(redis-cli -p $((PORT[$name] + 1)) info replication | awk -F: '/^master_repl_offset/ {print $2}' | tr -d '\r')
    [ "$m" = "$r" ] && break; sleep 0.1
  done
  [ "$(redis-cli -p "${PORT[$name]}" dbsize)" = "$(redis-cli -p $((PORT[$name] + 1)) dbsize)" ] \
    || { echo "$name: the replica does not hold the master's keys" >&2; exit 1; }
done

PINNED=$([ ${#MASTER_CPU[@]} -gt 0 ] && echo 1 || echo 0) python3 - "$OUT/raw.csv" "$ROUNDS" "$REQUESTS" "$CLIENTS" "$KEYSPACE" <<'PY'
import csv, statistics, sys, platform, os, subprocess, datetime
path, rounds, requests, clients, keyspace = sys.argv[1:6]
rows = {}
for who, p, r, rps in csv.reader(open(path)):
    rows.setdefault((who, int(p)), []).append(float(rps))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
redis_v = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
med = {k: statistics.median(v) for k, v in rows.items()}
pinned = "masters on core 0, replicas and redis-benchmark on core 1" if os.environ.get("PINNED") == "1" else "not pinned"
print(f"Machine: {os.cpu_count()} cores, {cpu}, Linux {platform.release()}; {redis_v}; {datetime.date.today()}.")
print(f"redis-benchmark -t set -c {clients} -n {requests} -r {keyspace} -P 1|16, median of {rounds} rotating rounds; {pinned}.")
print()
print("| configuration | P1 ops/s | P16 ops/s | P1 / redis+replica | P16 / redis+replica |")
print("|---|---:|---:|---:|---:|")
labels = {"redis": "redis-server + replica", "ours-solo": "rcluster, no replica",
          "ours-async": "rcluster async + replica", "ours-sync": "rcluster sync + replica (in-sync set)"}
for who in ["redis", "ours-solo", "ours-async", "ours-sync"]:
    p1, p16 = med[(who, 1)], med[(who, 16)]
    print(f"| {labels[who]} | {p1:,.0f} | {p16:,.0f} | {p1 / med[('redis', 1)]:.2f} | {p16 / med[('redis', 16)]:.2f} |")
print()
for p in (1, 16):
    print(f"P{p}: sync / async = {med[('ours-sync', p)] / med[('ours-async', p)]:.2f}; "
          f"ours async / redis = {med[('ours-async', p)] / med[('redis', p)]:.2f}")
PY
