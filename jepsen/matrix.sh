#!/usr/bin/env bash
# Runs the Jepsen matrix of jepsen/RESULTS.md: each line of CELLS is one run of TIME seconds
# (default 300) into OUT (default target/jepsen-matrix); `jepsen table OUT` then prints the
# table. Needs the images (bash docker/build.sh) and root.
#
#   bash jepsen/matrix.sh                              # every cell below
#   CELLS="register partition-master master sync" bash jepsen/matrix.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TIME=${TIME:-300}
OUT=${OUT:-target/jepsen-matrix}
DEFAULT_CELLS="
register partition-master master sync
set partition-master master async
set partition-master master sync
register partition-halves master sync
register kill master sync
register pause master sync
append partition-master master sync
register bridge master sync
register partition-config-leader master sync
counter kill master sync
register mix master sync
set mix master sync
append mix master sync
register kill proxy sync
register kill config sync
register kill replica sync
register partition-master master async
append partition-master master async
set partition-halves master sync
set kill master sync
set pause master sync
append bridge master sync
append kill master sync
counter partition-master master sync
counter mix master sync
"
CELLS=${CELLS:-$DEFAULT_CELLS}
cargo build -q --release -p jepsen
mkdir -p "$OUT"
echo "$CELLS" | while read -r workload nemesis target replication; do
  [ -n "$workload" ] || continue
  # One run per cell; a failing run (invalid history, exit 1) does not stop the matrix.
  target/release/jepsen test --workload "$workload" --nemesis "$nemesis" --target "$target" \
    --replication "$replication" --time-limit "$TIME" --out "$OUT" 2>>"$OUT/stderr.log" \
    | tail -1 | tee -a "$OUT/summary.log" || true
done
target/release/jepsen table "$OUT"
