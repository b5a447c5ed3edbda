#!/usr/bin/env bash
# A/B of two lode-server configurations, each on a fresh data directory per
# round, alternating A, B, A, B, ... (this machine is shared and noisy: read
# the pairs, not one figure). Per round and side: redis-benchmark SET -c 50
# at -P 1 (N_P1 requests) then -P 16 (N_P16), and INFO persistence's fsync
# average and prefilled bytes afterwards.
#
# Environment (defaults in brackets):
#   A_ARGS / B_ARGS  lode-server arguments of each side
#                    ["--wal-prefill yes" / "--wal-prefill no"]
#   A_SERVER / B_SERVER  the binary of each side [LODE_SERVER]: an A/B of
#                    two builds (e.g. a worktree of the previous commit)
#   DURABILITY       --durability for both [always]
#   R                rounds [4]
#   N_P1 / N_P16     requests per run [100000 / 1000000]
#   SERVER_CPU / CLIENT_CPU   [1 / 0]
#   LODE_SERVER      [build/lode-server]
#   DATA_PARENT      where the fresh data directories go [build/] (the disk
#                    being measured: not tmpfs)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
A_ARGS=${A_ARGS:-"--wal-prefill yes"}
B_ARGS=${B_ARGS:-"--wal-prefill no"}
DURABILITY=${DURABILITY:-always}
R=${R:-4}
N_P1=${N_P1:-100000}
N_P16=${N_P16:-1000000}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
LODE_SERVER=${LODE_SERVER:-$ROOT/build/lode-server}
DATA_PARENT=${DATA_PARENT:-$ROOT/build}
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DIR=$(mktemp -d "$DATA_PARENT/ab-lode.XXXXXX")
pid=
cleanup() {
    if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$DIR"
}
trap cleanup EXIT

ops() { # -P value, requests -> ops/s
    taskset -c "$CLIENT_CPU" redis-benchmark -p "$PORT" -c 50 -P "$1" -n "$2" -r 100000 -t set -q \
        2>/dev/null | tr '\r' '\n' | awk '/requests per second/ {v=$2} END {print v}'
}
field() { redis-cli -p "$PORT" info persistence | tr -d '\r' | awk -F: -v k="$1" '$1 == k {print $2}'; }

echo "A: ${A_SERVER:-$LODE_SERVER} $A_ARGS | B: ${B_SERVER:-$LODE_SERVER} $B_ARGS | durability $DURABILITY | SET -c 50 -r 100000, -n $N_P1 at -P 1, $N_P16 at -P 16"
for r in $(seq 1 "$R"); do
    for side in A B; do
        args=$A_ARGS
        server=${A_SERVER:-$LODE_SERVER}
        if [[ $side == B ]]; then
            args=$B_ARGS
            server=${B_SERVER:-$LODE_SERVER}
        fi
        rm -rf "$DIR/data" && mkdir "$DIR/data"
        # shellcheck disable=SC2086
        taskset -c "$SERVER_CPU" "$server" --port "$PORT" --dir "$DIR/data" \
            --durability "$DURABILITY" $args >"$DIR/log" 2>&1 &
        pid=$!
        for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
        p1=$(ops 1 "$N_P1")
        f1=$(field lode_wal_fsync_avg_us)
        p16=$(ops 16 "$N_P16")
        printf "round %d %s: -P 1 %10s SET/s (fsync avg %s us)  -P 16 %10s SET/s  (fsync avg %s us, prefilled %s bytes, %s records per sync)\n" \
            "$r" "$side" "$p1" "$f1" "$p16" "$(field lode_wal_fsync_avg_us)" "$(field lode_wal_prefilled_bytes)" \
            "$(field lode_wal_records_per_batch)"
        kill "$pid"; wait "$pid" || true
        pid=
    done
done
