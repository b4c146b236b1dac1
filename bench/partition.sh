#!/usr/bin/env bash
# Throughput of one rcluster partition server against Debian's redis-server, measured with
# redis-benchmark in alternating rounds on the same machine, in the same run.
#
#   bash bench/partition.sh            # 5 rounds, writes bench/RESULTS.md's partition section
#   ROUNDS=3 REQUESTS=200000 bash bench/partition.sh
#   PIN=0 bash bench/partition.sh      # don't pin processes to cores
#
# With PIN=1 (default, 2+ cores) every server runs on core 0 and redis-benchmark on core 1, the
# same for both servers: it keeps the scheduler from putting the client on the server's core
# mid-run, which otherwise dominates the run-to-run noise on a 2-core machine.
# Each row: median ops/s over the rounds for both servers and the ratio ours/redis.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
REQUESTS=${REQUESTS:-300000}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
TESTS=${TESTS:-set,get,incr,mset,lpush,lpop,sadd,hset,zadd}
# Rows redis-benchmark has no built-in test for: run as custom commands ('|'-separated).
# ZRANGE reads 100 members of a 150-member sorted set (skiplist encoding) filled beforehand.
CUSTOM=${CUSTOM:-ZRANGE bench:zset 0 99|PFADD bench:hll __rand_int__}
REDIS_PORT=${REDIS_PORT:-16379}
OURS_PORT=${OURS_PORT:-17000}
OUT=$(mktemp -d)
PIN=${PIN:-1}
SERVER_CPU=(); CLIENT_CPU=()
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  SERVER_CPU=(taskset -c 0); CLIENT_CPU=(taskset -c 1)
fi

for tool in redis-server redis-benchmark; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install redis-server redis-tools)"; exit 1; }
done

if [ -z "${SKIP_BUILD:-}" ]; then cargo build --release -q; fi
BIN=${BIN:-target/release/rcluster}

cleanup() {
  [ -n "${REDIS_PID:-}" ] && kill "$REDIS_PID" 2>/dev/null || true
  [ -n "${OURS_PID:-}" ] && kill "$OURS_PID" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

"${SERVER_CPU[@]}" redis-server --port "$REDIS_PORT" --save '' --appendonly no --bind 127.0.0.1 --loglevel warning >"$OUT/redis.log" 2>&1 &
REDIS_PID=$!
"${SERVER_CPU[@]}" "$BIN" partition --port "$OURS_PORT" --save '' --appendonly no --loglevel warning >"$OUT/ours.log" 2>&1 &
OURS_PID=$!
for port in "$REDIS_PORT" "$OURS_PORT"; do
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
done

for port in "$REDIS_PORT" "$OURS_PORT"; do
  for i in $(seq 150); do echo "ZADD bench:zset $i member:$i"; done | redis-cli -p "$port" >/dev/null
done

run() { # name port pipeline round
  "${CLIENT_CPU[@]}" redis-benchmark -p "$2" -c "$CLIENTS" -n "$REQUESTS" -r "$KEYSPACE" -P "$3" -t "$TESTS" --csv -q 2>/dev/null \
    | tail -n +2 | tr -d '"' | awk -F, -v who="$1" -v p="$3" -v r="$4" '{print who","p","r","$1","$2}' >>"$OUT/raw.csv"
  local IFS='|'
  for custom in $CUSTOM; do
    IFS=' ' read -r -a words <<<"$custom"
    "${CLIENT_CPU[@]}" redis-benchmark -p "$2" -c "$CLIENTS" -n "$REQUESTS" -r "$KEYSPACE" -P "$3" --csv -q "${words[@]}" 2>/dev/null \
      | tail -n +2 | tr -d '"' | awk -F, -v who="$1" -v p="$3" -v r="$4" -v name="${words[0]}" '{print who","p","r","name","$2}' >>"$OUT/raw.csv"
  done
}

for round in $(seq "$ROUNDS"); do
  for pipeline in 1 16; do
    # Alternate which server goes first each round.
    if [ $((round % 2)) -eq 1 ]; then order="redis ours"; else order="ours redis"; fi
    for who in $order; do
      port=$REDIS_PORT; [ "$who" = ours ] && port=$OURS_PORT
      run "$who" "$port" "$pipeline" "$round"
    done
  done
  echo "round $round done" >&2
done

PINNED=$([ ${#SERVER_CPU[@]} -gt 0 ] && echo 1 || echo 0) python3 - "$OUT/raw.csv" "$ROUNDS" "$REQUESTS" "$CLIENTS" "$KEYSPACE" <<'PY'
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
lines = []
lines.append(f"Machine: {os.cpu_count()} cores, {cpu}, Linux {platform.release()}; {redis_v}; "
             f"{datetime.date.today()}.")
pinned = "servers on core 0, redis-benchmark on core 1" if os.environ.get("PINNED") == "1" else "not pinned"
lines.append(f"redis-benchmark -c {clients} -n {requests} -r {keyspace} -P 1|16, median of {rounds} alternating rounds; {pinned}.")
lines.append("")
lines.append("| test | pipeline | redis-server ops/s | rcluster partition ops/s | ours/redis |")
lines.append("|---|---:|---:|---:|---:|")
worst = None
for (test, p) in sorted(rows, key=lambda k: (k[1], k[0])):
    d = rows[(test, p)]
    if "redis" not in d or "ours" not in d:
        continue
    r, o = statistics.median(d["redis"]), statistics.median(d["ours"])
    ratio = o / r
    worst = ratio if worst is None else min(worst, ratio)
    lines.append(f"| {test} | {p} | {r:,.0f} | {o:,.0f} | {ratio:.2f} |")
print("\n".join(lines))
open(os.environ.get("TABLE_OUT") or os.devnull, "w").write("\n".join(lines) + "\n")
PY
