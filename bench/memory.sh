#!/usr/bin/env bash
# Memory per key of one rcluster partition server against Debian's redis-server, for the same
# data loaded the same way (redis-cli --pipe), each data set into fresh servers.
#
#   bash bench/memory.sh                 # prints the table, writes it to $TABLE_OUT if set
#   STRINGS=200000 AGGREGATES=20000 bash bench/memory.sh
#
# Rows:
#   strings  STRINGS keys `key:%012d` with 16-byte values (SET)
#   hash     AGGREGATES hashes of 10 fields (`field:N` -> 8-byte value): listpack encoding
#   set      AGGREGATES sets of 10 members (`member:N`): hashtable encoding in Redis 7.0
#   intset   AGGREGATES sets of 10 integers: intset encoding
#   zset     AGGREGATES sorted sets of 10 members with integer scores: listpack encoding
# Bytes per key = (figure after loading − figure before) / keys, for RSS (VmRSS of the
# process) and for INFO's used_memory. Lower is better; ours/redis ≤ 1.00 is the target.
set -euo pipefail
cd "$(dirname "$0")/.."

STRINGS=${STRINGS:-1000000}
AGGREGATES=${AGGREGATES:-100000}
ROWS=${ROWS:-strings hash set intset zset}
REDIS_PORT=${REDIS_PORT:-16381}
OURS_PORT=${OURS_PORT:-17002}
OUT=$(mktemp -d)

for tool in redis-server redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool"; exit 1; }
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

# Writes the RESP commands of one data set to $OUT/<name>.resp.
python3 - "$OUT" "$STRINGS" "$AGGREGATES" <<'PY'
import sys
out, strings, aggs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def cmd(*args):
    parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
with open(f"{out}/strings.resp", "wb") as f:
    for i in range(strings):
        f.write(cmd("SET", b"key:%012d" % i, b"value:%010d" % i))
with open(f"{out}/hash.resp", "wb") as f:
    for i in range(aggs):
        args = ["HSET", b"hash:%08d" % i]
        for j in range(10):
            args += [b"field:%d" % j, b"v:%06d" % ((i * 7 + j) % 1000000)]
        f.write(cmd(*args))
with open(f"{out}/set.resp", "wb") as f:
    for i in range(aggs):
        f.write(cmd("SADD", b"set:%08d" % i, *[b"member:%d" % ((i + j) % 1000) for j in range(10)]))
with open(f"{out}/intset.resp", "wb") as f:
    for i in range(aggs):
        f.write(cmd("SADD", b"intset:%08d" % i, *[(i + j) % 100000 for j in range(10)]))
with open(f"{out}/zset.resp", "wb") as f:
    for i in range(aggs):
        args = ["ZADD", b"zset:%08d" % i]
        for j in range(10):
            args += [j * 10, b"member:%d" % ((i + j) % 1000)]
        f.write(cmd(*args))
PY

wait_port() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done; echo "port $1 not up"; exit 1; }
rss() { awk '/^VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }
used() { redis-cli -p "$1" info memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r'; }

measure() { # who name keys -> prints "who,name,rss_per_key,used_per_key"
  local who=$1 name=$2 keys=$3 port pid
  if [ "$who" = redis ]; then
    port=$REDIS_PORT
    redis-server --port "$port" --save '' --appendonly no --bind 127.0.0.1 --loglevel warning >/dev/null 2>&1 &
  else
    port=$OURS_PORT
    "$BIN" partition --port "$port" --save '' --appendonly no --loglevel warning >/dev/null 2>&1 &
  fi
  pid=$!
  PIDS+=("$pid")
  wait_port "$port"
  local rss0 used0 rss1 used1
  rss0=$(rss "$pid"); used0=$(used "$port")
  redis-cli -p "$port" --pipe <"$OUT/$name.resp" >/dev/null
  [ "$(redis-cli -p "$port" dbsize)" = "$keys" ] || { echo "$who $name: wrong key count"; exit 1; }
  rss1=$(rss "$pid"); used1=$(used "$port")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$who,$name,$(( (rss1 - rss0) / keys )),$(( (used1 - used0) / keys ))"
}

for name in $ROWS; do
  keys=$AGGREGATES; [ "$name" = strings ] && keys=$STRINGS
  measure redis "$name" "$keys" >>"$OUT/raw.csv"
  measure ours "$name" "$keys" >>"$OUT/raw.csv"
done

python3 - "$OUT/raw.csv" "$STRINGS" "$AGGREGATES" <<'PY'
import csv, sys, os, subprocess, datetime
path, strings, aggs = sys.argv[1:4]
rows = {}
for who, name, rss, used in csv.reader(open(path)):
    rows.setdefault(name, {})[who] = (int(rss), int(used))
redis_v = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
lines = [f"{redis_v}; {strings} string keys, {aggs} keys per aggregate row; {datetime.date.today()}.", "",
         "| data | redis RSS B/key | ours RSS B/key | ours/redis | redis used_memory B/key | ours used_memory B/key | ours/redis |",
         "|---|---:|---:|---:|---:|---:|---:|"]
for name in [n for n in ["strings", "hash", "set", "intset", "zset"] if n in rows]:
    r, o = rows[name]["redis"], rows[name]["ours"]
    lines.append(f"| {name} | {r[0]} | {o[0]} | {o[0]/r[0]:.2f} | {r[1]} | {o[1]} | {o[1]/r[1]:.2f} |")
print("\n".join(lines))
open(os.environ.get("TABLE_OUT") or os.devnull, "w").write("\n".join(lines) + "\n")
PY
