#!/usr/bin/env bash
# Failover time: a three-shard cluster on loopback (3 config servers, 6 partition servers,
# formed by --init-shards), a writer doing SET through a direct client to a shard's master;
# kill -9 the master, and measure from the kill to the first write acknowledged by the new
# master. 10 trials (rotating over the shards; the killed server is restarted and the cluster
# is healthy again before the next). Prints every trial, the median and the max.
#
#   bash bench/failover.sh
#   TRIALS=20 bash bench/failover.sh
#
# Target (issue 5, default settings): median <= 2 s, max <= 3 s.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import redis' 2>/dev/null || { echo "needs redis-py (pip install redis)"; exit 1; }
if [ -z "${SKIP_BUILD:-}" ]; then cargo build --release -q; fi
export BIN=${BIN:-target/release/rcluster}
exec python3 bench/failover.py
