#!/usr/bin/env bash
# Persistence costs of one rcluster partition server against Debian's redis-server, in
# alternating rounds on the same machine, in the same run:
#
#   1. Client stalls during a background AOF rewrite (BGREWRITEAOF) and a BGSAVE of KEYS
#      string keys (`key:%012d`, 16-byte values, loaded with `redis-cli --pipe`), both servers
#      with `appendonly yes`, `appendfsync everysec`: the longest round trip one client saw
#      while the child ran, the p99, how long the child ran, and the same figures over an
#      equally long window right after it without a child (the baseline noise).
#   2. SET throughput by `appendfsync`: redis-benchmark -t set -c 50 -r 100000 -P 1|16 with
#      `appendonly no`, and `appendonly yes` with `appendfsync no|everysec|always`.
#
#   bash bench/persistence.sh                      # 5 rounds, ~5 minutes on 2 cores
#   ROUNDS=5 REQUESTS=200000 KEYS=2000000 bash bench/persistence.sh
#   PARTS=stall bash bench/persistence.sh          # only part 1 (PARTS=throughput: only 2)
#   PROBE=get bash bench/persistence.sh            # probe with GET instead of SET
#   PIN=0 bash bench/persistence.sh                # don't pin processes to cores
#   RAW_OUT=/tmp/raw bash bench/persistence.sh      # keep every round's figures there
#
# The latency probe is one client (Python, raw socket, TCP_NODELAY, GC off) sending one
# command at a time and timing every round trip with perf_counter_ns, rather than
# redis-benchmark: every sample has a timestamp, so the figures cover exactly the window
# from BGREWRITEAOF to the moment INFO says the rewrite is done (redis-benchmark only reports
# over its whole run, and its -n/-c shape is not a time window), and a closed loop with one
# request in flight turns any stop of the server's event loop into one sample of that length
# (with 10 pipelined clients a stall is counted 10 times and queueing adds to it). Python's
# own overhead (~15 µs a round trip) is in every sample, so compare with the baseline rows,
# not with zero. The probe SETs random existing keys by default: writes are what a rewrite
# makes expensive (copy-on-write faults in the parent, the AOF appended meanwhile), and
# Redis and rcluster both touch a key's LRU clock on a read too. The same connection polls
# INFO persistence every 10 ms without waiting for it (also during the baseline), so the
# rewrite's duration is known to ~10 ms.
#
# Stall table columns: "child s" from sending BGREWRITEAOF/BGSAVE to INFO showing it finished
# (Redis notices its child's exit in serverCron, up to 100 ms later at hz 10; rcluster waits
# for it on a thread); "probe req/s", p50/p99/p99.9 and max of the probe's round trips in the
# window (max: median of the rounds / worst round); "> 1 ms" the share of round trips longer
# than 1 ms (steadier than p99 when, as here, about 1 % of them are stalls of a few ms: p99
# then jumps between ~0.1 and ~3 ms on small changes); "stalled ms" the time the probe spent
# in those (> 1 ms) round trips, per child: what one client loses to it; "max at s" when the
# worst round trip started, counted from the command; "command ms" the round trip of
# BGREWRITEAOF/BGSAVE itself (its synchronous part: a new incremental file and manifest for a
# rewrite, the fork); "fork µs" INFO stats latest_fork_usec ("n/a" where a server reports 0);
# "base MB" aof_base_size after the rewrite.
#
# With PIN=1 (default, 2+ cores) servers run on core 0 and every client on core 1. The
# forked child inherits core 0, so it competes with its parent for that core, the same for
# both servers (Redis's aof_rewrite_cpulist / bgsave_cpulist are left unset); that is the
# 2-core reality, and why a long child can show up as scheduler delays in the parent.
# Automatic rewrites are off on both servers (auto-aof-rewrite-percentage 0) so that only the
# measured rewrite runs; `save ""` on both.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
REQUESTS=${REQUESTS:-200000}
KEYS=${KEYS:-1000000}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
PROBE=${PROBE:-set}
PARTS=${PARTS:-stall,throughput}
FSYNCS=${FSYNCS:-off no everysec always}
OUT=$(mktemp -d)
PIN=${PIN:-1}
SERVER_CPU=(); CLIENT_CPU=()
if [ "$PIN" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  SERVER_CPU=(taskset -c 0); CLIENT_CPU=(taskset -c 1)
fi

for tool in redis-server redis-cli redis-benchmark python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install redis-server redis-tools)"; exit 1; }
done

if [ -z "${SKIP_BUILD:-}" ]; then cargo build --release -q; fi
BIN=${BIN:-target/release/rcluster}
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${RAW_OUT:-}" ]; then mkdir -p "$RAW_OUT"; cp "$OUT"/*.raw "$RAW_OUT"/ 2>/dev/null || true; fi
  rm -rf "$OUT"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done; echo "port $1 not up"; exit 1; }

# start who port dir fsync -> sets STARTED_PID. fsync "off" means appendonly no.
start() {
  local who=$1 port=$2 dir=$3 fsync=$4 aof=yes
  [ "$fsync" = off ] && { aof=no; fsync=everysec; }
  mkdir -p "$dir"
  local args=(--port "$port" --bind 127.0.0.1 --dir "$dir" --appendonly "$aof" --appendfsync "$fsync"
              --save '' --auto-aof-rewrite-percentage 0 --loglevel warning)
  if [ "$who" = redis ]; then
    "${SERVER_CPU[@]}" redis-server "${args[@]}" >"$dir/log" 2>&1 &
  else
    "${SERVER_CPU[@]}" "$BIN" partition "${args[@]}" >"$dir/log" 2>&1 &
  fi
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  wait_port "$port"
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# The latency probe. Usage: probe.py port kind(rewrite|bgsave|baseline) seconds keys command
cat >"$OUT/probe.py" <<'PY'
import gc, json, random, socket, sys, time
port, kind, seconds, keys, command = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
gc.disable()

def resp(*args):
    parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)

def complete(buf):
    """Length of the first complete simple/bulk reply in buf, or 0."""
    end = buf.find(b"\r\n")
    if end < 0:
        return 0
    if buf[:1] != b"$":
        return end + 2
    n = int(buf[1:end])
    total = end + 2 + (n + 2 if n >= 0 else 0)
    return total if len(buf) >= total else 0

def connect():
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

rng = random.Random(42)
if command == "get":
    cmds = [resp("GET", b"key:%012d" % rng.randrange(keys)) for _ in range(100000)]
else:
    cmds = [resp("SET", b"key:%012d" % rng.randrange(keys), b"probe:%010d" % i) for i in range(100000)]
probe, ctl = connect(), connect()

def info(section="persistence"):
    ctl.sendall(resp("INFO", section))
    buf = b""
    while not complete(buf):
        buf += ctl.recv(65536)
    return dict(l.split(":", 1) for l in buf.decode().split("\r\n")[1:] if ":" in l)

before = info()
field, counter = {"rewrite": ("aof_rewrite_in_progress", "aof_rewrites"),
                  "bgsave": ("rdb_bgsave_in_progress", "rdb_saves")}.get(kind, (None, None))
ctl.setblocking(False)
pending = b""      # replies on ctl not yet read
outstanding = 0    # commands on ctl not yet answered
first_reply = None
done_at = None
samples = []       # (start ns, latency ns)
start = time.perf_counter_ns()
if kind != "baseline":
    ctl.sendall(resp("BGREWRITEAOF" if kind == "rewrite" else "BGSAVE"))
    outstanding += 1
next_poll = start
limit = start + int(seconds * 1e9)
i = 0
while True:
    t0 = time.perf_counter_ns()
    probe.sendall(cmds[i % len(cmds)])
    buf = probe.recv(256)
    while not complete(buf):
        buf += probe.recv(256)
    t1 = time.perf_counter_ns()
    samples.append((t0 - start, t1 - t0))
    i += 1
    if buf[:1] == b"-":
        sys.exit(f"probe error: {buf!r}")
    try:
        pending += ctl.recv(65536)
    except BlockingIOError:
        pass
    while outstanding and complete(pending):
        n = complete(pending)
        reply, pending = pending[:n], pending[n:]
        outstanding -= 1
        if reply.startswith(b"-"):
            sys.exit(f"{kind}: {reply!r}")
        if first_reply is None and kind != "baseline":
            first_reply = t1 - start
            continue
        if field is not None and reply.startswith(b"$"):
            f = dict(l.split(":", 1) for l in reply.decode().split("\r\n")[1:] if ":" in l)
            if f[field] == "0" and int(f[counter]) > int(before[counter]):
                done_at = time.perf_counter_ns() - start
    if done_at is not None or t1 > limit:
        break
    if t1 >= next_poll and not outstanding:
        ctl.send(resp("INFO", "persistence"))
        outstanding += 1
        next_poll = t1 + 10_000_000
if kind != "baseline" and done_at is None:
    sys.exit(f"{kind} did not finish in {seconds} s")
ctl.setblocking(True)
while outstanding:
    pending += ctl.recv(65536)
    while outstanding and complete(pending):
        pending = pending[complete(pending):]
        outstanding -= 1
after = info()
after.update(info("stats"))
window = done_at if done_at is not None else samples[-1][0] + samples[-1][1]
lat = sorted(l for _, l in samples)
worst = max(samples, key=lambda s: s[1])
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
status = after.get("aof_last_bgrewrite_status" if kind == "rewrite" else "rdb_last_bgsave_status", "ok")
if kind != "baseline" and status != "ok":
    sys.exit(f"{kind} failed: {status}")
print(json.dumps({
    "seconds": window / 1e9, "requests": len(lat), "p50_us": q(0.50) / 1e3, "p99_us": q(0.99) / 1e3,
    "p999_us": q(0.999) / 1e3, "max_ms": lat[-1] / 1e6, "over_1ms": sum(l > 1_000_000 for l in lat) / len(lat),
    "stalled_ms": sum(l for l in lat if l > 1_000_000) / 1e6, "max_at_s": worst[0] / 1e9,
    "reply_ms": (first_reply or 0) / 1e6, "fork_us": int(after.get("latest_fork_usec", 0)),
    "aof_base_size": int(after.get("aof_base_size", 0)),
}))
PY

if [[ ,$PARTS, == *,stall,* ]]; then
  python3 - "$OUT/load.resp" "$KEYS" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    for i in range(n):
        f.write(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$16\r\nvalue:%010d\r\n" % (i, i))
PY
  REDIS_PORT=$(free_port); start redis "$REDIS_PORT" "$OUT/stall-redis" everysec; REDIS_PID=$STARTED_PID
  OURS_PORT=$(free_port); start ours "$OURS_PORT" "$OUT/stall-ours" everysec; OURS_PID=$STARTED_PID
  for port in "$REDIS_PORT" "$OURS_PORT"; do
    "${CLIENT_CPU[@]}" redis-cli -p "$port" --pipe <"$OUT/load.resp" >/dev/null
    [ "$(redis-cli -p "$port" dbsize)" = "$KEYS" ] || { echo "port $port: wrong key count"; exit 1; }
  done
  rm "$OUT/load.resp"
  sleep 2 # the loaded AOF written and synced (everysec) before the first window
  for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then order="redis ours"; else order="ours redis"; fi
    for who in $order; do
      port=$REDIS_PORT; [ "$who" = ours ] && port=$OURS_PORT
      for kind in rewrite bgsave; do
        json=$("${CLIENT_CPU[@]}" python3 "$OUT/probe.py" "$port" "$kind" 300 "$KEYS" "$PROBE")
        echo "$who,$kind,$round,$json" >>"$OUT/stall.raw"
        secs=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["seconds"])' "$json")
        sleep 1 # let the end of the child settle (old files unlinked, the new ones synced)
        json=$("${CLIENT_CPU[@]}" python3 "$OUT/probe.py" "$port" baseline "$secs" "$KEYS" "$PROBE")
        echo "$who,$kind-baseline,$round,$json" >>"$OUT/stall.raw"
      done
    done
    echo "stall round $round done" >&2
  done
  # RSS after the last round, for context.
  for who in redis ours; do
    pid=$REDIS_PID; [ "$who" = ours ] && pid=$OURS_PID
    echo "$who,$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")" >>"$OUT/rss.raw"
  done
  stop "$REDIS_PID"; stop "$OURS_PID"
fi

if [[ ,$PARTS, == *,throughput,* ]]; then
  # Every setting's pair of servers runs from the start and each round visits every setting,
  # so that a burst of outside load is spread over the rows instead of sinking one of them.
  declare -A TP_PORT
  for fsync in $FSYNCS; do
    for who in redis ours; do
      TP_PORT[$who-$fsync]=$(free_port); start "$who" "${TP_PORT[$who-$fsync]}" "$OUT/tp-$who-$fsync" "$fsync"
    done
  done
  for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then order="redis ours"; else order="ours redis"; fi
    for fsync in $FSYNCS; do
      for pipeline in 1 16; do
        for who in $order; do
          "${CLIENT_CPU[@]}" redis-benchmark -p "${TP_PORT[$who-$fsync]}" -c "$CLIENTS" -n "$REQUESTS" -r "$KEYSPACE" -P "$pipeline" -t set --csv -q 2>/dev/null \
            | tail -n +2 | tr -d '"' | awk -F, -v who="$who" -v f="$fsync" -v p="$pipeline" -v r="$round" '{print who","f","p","r","$2","$7}' >>"$OUT/tp.raw"
        done
      done
    done
    echo "throughput round $round done" >&2
  done
fi

LOAD_START=$LOAD_START PINNED=$([ ${#SERVER_CPU[@]} -gt 0 ] && echo 1 || echo 0) python3 - "$OUT" "$ROUNDS" "$REQUESTS" "$CLIENTS" "$KEYSPACE" "$KEYS" "$PROBE" <<'PY'
import csv, json, os, platform, statistics, subprocess, sys, datetime
out, rounds, requests, clients, keyspace, keys, probe = sys.argv[1:8]
cpu = "unknown"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip(); break
redis_v = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()[2]
pinned = "servers on core 0, clients on core 1" if os.environ.get("PINNED") == "1" else "not pinned"
load = f"load average {os.environ.get('LOAD_START')} at the start, {open('/proc/loadavg').read().split()[0]} at the end"
lines = [f"Machine: {os.cpu_count()} cores, {cpu}, Linux {platform.release()}; {redis_v}; {datetime.date.today()}; "
         f"{pinned}; {rounds} alternating rounds; {load}.", ""]
med = statistics.median
if os.path.exists(f"{out}/stall.raw"):
    runs = {}
    for line in open(f"{out}/stall.raw"):
        who, kind, rnd, js = line.rstrip("\n").split(",", 3)
        runs.setdefault((kind, who), []).append(json.loads(js))
    rss = dict(l.strip().split(",") for l in open(f"{out}/rss.raw"))
    lines.append(f"Stalls during a child of {int(keys):,} string keys (appendonly yes, everysec): one client "
                 f"sending {probe.upper()} to random keys one at a time; median over rounds (max: median / worst "
                 f"round). Lower is better; ours/redis ≤ 1.0 is the target. RSS after loading: "
                 f"redis {int(rss['redis'])/1024:.0f} MB, ours {int(rss['ours'])/1024:.0f} MB.")
    lines.append("")
    lines.append("| window | server | child s | probe req/s | p50 µs | p99 µs | p99.9 µs | > 1 ms | stalled ms | max ms (median / worst) | max at s | command ms | fork µs | base MB |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind in ["rewrite", "rewrite-baseline", "bgsave", "bgsave-baseline"]:
        for who in ["redis", "ours"]:
            rs = runs.get((kind, who))
            if not rs:
                continue
            child = "" if "baseline" in kind else f"{med(r['seconds'] for r in rs):.2f}"
            fork_us = med(r['fork_us'] for r in rs)
            fork = "" if "baseline" in kind else f"{fork_us:,.0f}" if fork_us else "n/a"
            command = "" if "baseline" in kind else f"{med(r['reply_ms'] for r in rs):.2f}"
            base = f"{med(r['aof_base_size'] for r in rs)/1e6:.1f}" if kind == "rewrite" else ""
            name = {"rewrite": "BGREWRITEAOF", "bgsave": "BGSAVE"}.get(kind, f"no child ({kind.split('-')[0]} length)")
            lines.append(f"| {name} | {'redis-server' if who == 'redis' else 'rcluster'} | {child} | "
                         f"{med(r['requests'] / r['seconds'] for r in rs):,.0f} | {med(r['p50_us'] for r in rs):.0f} | "
                         f"{med(r['p99_us'] for r in rs):.0f} | {med(r['p999_us'] for r in rs):.0f} | "
                         f"{100 * med(r['over_1ms'] for r in rs):.2f} % | {med(r['stalled_ms'] for r in rs):.0f} | "
                         f"{med(r['max_ms'] for r in rs):.2f} / {max(r['max_ms'] for r in rs):.2f} | "
                         f"{med(r['max_at_s'] for r in rs):.2f} | {command} | {fork} | {base} |")
    lines.append("")
    lines.append("| ours/redis | child duration | p99 | > 1 ms | stalled ms | max (median) |")
    lines.append("|---|---:|---:|---:|---:|---:|")
    for kind in ["rewrite", "bgsave"]:
        r, o = runs.get((kind, "redis")), runs.get((kind, "ours"))
        if r and o:
            ratio = lambda f: med(x[f] for x in o) / med(x[f] for x in r)
            lines.append(f"| {kind.upper() if kind == 'bgsave' else 'BGREWRITEAOF'} | {ratio('seconds'):.2f} | "
                         f"{ratio('p99_us'):.2f} | {ratio('over_1ms'):.2f} | "
                         f"{ratio('stalled_ms'):.2f} | {ratio('max_ms'):.2f} |")
    lines.append("")
if os.path.exists(f"{out}/tp.raw"):
    rows, per_round = {}, {}
    for who, f, p, r, rps, p99 in csv.reader(open(f"{out}/tp.raw")):
        rows.setdefault((f, int(p)), {}).setdefault(who, []).append((float(rps), float(p99)))
        per_round.setdefault((f, int(p), r), {})[who] = float(rps)
    lines.append(f"SET throughput: redis-benchmark -t set -c {clients} -n {requests} -r {keyspace} -P 1|16, "
                 f"a pair of servers per setting, every setting in every round; median ops/s and p99 ms over the "
                 f"rounds; ours/redis is the ratio of the medians, \"per round\" the range of the rounds' own ratios "
                 f"(each round's pair measured back to back). ours/redis ≥ 1.0 is the target.")
    lines.append("")
    lines.append("| appendonly / appendfsync | pipeline | redis-server ops/s | rcluster ops/s | ours/redis | per round | redis p99 ms | ours p99 ms |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    order = {"off": 0, "no": 1, "everysec": 2, "always": 3}
    for (f, p) in sorted(rows, key=lambda k: (k[1], order.get(k[0], 9))):
        d = rows[(f, p)]
        if "redis" not in d or "ours" not in d:
            continue
        r, o = med(x[0] for x in d["redis"]), med(x[0] for x in d["ours"])
        rp, op = med(x[1] for x in d["redis"]), med(x[1] for x in d["ours"])
        name = "no" if f == "off" else f"yes / {f}"
        ratios = [d2["ours"] / d2["redis"] for (f2, p2, _), d2 in per_round.items()
                  if (f2, p2) == (f, p) and len(d2) == 2]
        lines.append(f"| {name} | {p} | {r:,.0f} | {o:,.0f} | {o/r:.2f} | {min(ratios):.2f}–{max(ratios):.2f} | "
                     f"{rp:.2f} | {op:.2f} |")
print("\n".join(lines))
open(os.environ.get("TABLE_OUT") or os.devnull, "w").write("\n".join(lines) + "\n")
PY
