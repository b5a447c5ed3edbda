#!/usr/bin/env bash
# Busy polling (busy-poll-us) measured: lode-server with its default,
# lode-server with `--busy-poll-us 0` and redis-server, all three running at
# once, driven in turn by the same redis-benchmark for R rounds.
#
# Reports per server the median ops/s and the client's own CPU time per
# request (utime + stime of redis-benchmark, from /usr/bin/time): with
# 50 connections the client's CPU is what limits these rows, and a server
# that sleeps between requests makes the client pay for waking it.
#
# Environment (defaults in brackets):
#   TESTS      redis-benchmark -t names ["set ping_mbulk"]
#   PIPELINES  -P values ["1 16"]
#   R          rounds [7]
#   N_P1 / N_P16  requests per run [100000 / 1000000]
#   LODE_SERVER [build/lode-server]   LODE_DURABILITY [no]
set -euo pipefail
cd "$(dirname "$0")/.."
TESTS=${TESTS:-"set ping_mbulk"}
PIPELINES=${PIPELINES:-"1 16"}
R=${R:-7}
N_P1=${N_P1:-100000}
N_P16=${N_P16:-1000000}
LODE_SERVER=${LODE_SERVER:-build/lode-server}
LODE_DURABILITY=${LODE_DURABILITY:-no}
WORK=$(mktemp -d /tmp/lode-bp.XXXXXX)
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
P_ON=$(port)
P_OFF=$(port)
P_REDIS=$(port)
taskset -c 1 "$LODE_SERVER" --port "$P_ON" --bind 127.0.0.1 --dir "$WORK/on" \
    --durability "$LODE_DURABILITY" >"$WORK/on.log" 2>&1 &
PIDS=($!)
taskset -c 1 "$LODE_SERVER" --port "$P_OFF" --bind 127.0.0.1 --dir "$WORK/off" \
    --durability "$LODE_DURABILITY" --busy-poll-us 0 >"$WORK/off.log" 2>&1 &
PIDS+=($!)
taskset -c 1 /usr/bin/redis-server --port "$P_REDIS" --bind 127.0.0.1 --dir "$WORK" --save "" \
    --appendonly no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
cleanup() {
    for p in "$P_ON" "$P_OFF" "$P_REDIS"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
    wait "${PIDS[@]}" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
for p in "$P_ON" "$P_OFF" "$P_REDIS"; do
    for _ in $(seq 100); do
        redis-cli -p "$p" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "busy_poll.sh: R=$R, -c 50, servers on CPU 1, redis-benchmark on CPU 0, lode --durability $LODE_DURABILITY"
printf '%-11s %3s | %12s %12s %12s | %9s %9s | %s\n' test P "lode ops/s" "lode bp=0" "redis" "lode/redis" "bp=0/redis" "client us/req lode, bp=0, redis"
for pl in $PIPELINES; do
    n=$N_P1
    [ "$pl" != 1 ] && n=$N_P16
    for t in $TESTS; do
        : >"$WORK/res"
        for _ in $(seq "$R"); do
            for side in on off redis; do
                case $side in on) p=$P_ON ;; off) p=$P_OFF ;; redis) p=$P_REDIS ;; esac
                ops=$( { /usr/bin/time -f "%U %S" -o "$WORK/t" taskset -c 0 redis-benchmark -p "$p" \
                    -c 50 -P "$pl" -n "$n" -r 100000 -t "$t" --csv 2>/dev/null || true; } |
                    tail -1 | cut -d, -f2 | tr -d '"')
                read -r u s <"$WORK/t"
                echo "$side $ops $(echo "($u + $s) * 1000000 / $n" | bc -l)" >>"$WORK/res"
            done
        done
        med() { grep "^$1 " "$WORK/res" | cut -d' ' -f"$2" | median; }
        on=$(med on 2) off=$(med off 2) rd=$(med redis 2)
        printf '%-11s %3s | %12.0f %12.0f %12.0f | %9.2f %9.2f | %.2f, %.2f, %.2f\n' "$t" "$pl" \
            "$on" "$off" "$rd" "$(echo "$on / $rd" | bc -l)" "$(echo "$off / $rd" | bc -l)" \
            "$(med on 3)" "$(med off 3)" "$(med redis 3)"
    done
done
