#!/usr/bin/env bash
# Server CPU time per request, lode-server and redis-server side by side.
#
# On a shared machine ops/s moves with whatever else runs; the CPU time a
# server process spends on a fixed number of requests (utime + stime of all
# its threads, from /proc/PID/stat) moves far less, so it shows which server
# does less work per request even when throughput rounds disagree.
#
# Environment (defaults in brackets):
#   TESTS        redis-benchmark -t names ["set get incr lpush rpush lpop rpop
#                sadd hset spop zadd zpopmin lrange_100 lrange_300 lrange_600"]
#   PIPELINES    -P values ["1 16"]
#   N            requests per run [1000000]
#   LODE_SERVER  [build/lode-server]    REDIS_SERVER [/usr/bin/redis-server]
#   LODE_DURABILITY [no]   REDIS_PERSIST ["--appendonly yes --appendfsync no"]
#                (equal work: both append every write to a log, neither syncs)
set -euo pipefail
cd "$(dirname "$0")/.."
TESTS=${TESTS:-"set get incr lpush rpush lpop rpop sadd hset spop zadd zpopmin lrange_100 lrange_300 lrange_600"}
PIPELINES=${PIPELINES:-"1 16"}
N=${N:-1000000}
LODE_SERVER=${LODE_SERVER:-build/lode-server}
REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
LODE_DURABILITY=${LODE_DURABILITY:-no}
REDIS_PERSIST=${REDIS_PERSIST:-"--appendonly yes --appendfsync no"}
WORK=$(mktemp -d /tmp/lode-cpu.XXXXXX)
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
LP=$(port)
RP=$(port)
taskset -c 1 "$LODE_SERVER" --port "$LP" --bind 127.0.0.1 --dir "$WORK/lode" \
    --durability "$LODE_DURABILITY" >"$WORK/lode.log" 2>&1 &
LPID=$!
# shellcheck disable=SC2086
taskset -c 1 "$REDIS_SERVER" --port "$RP" --bind 127.0.0.1 --dir "$WORK" --save "" \
    $REDIS_PERSIST >"$WORK/redis.log" 2>&1 &
RPID=$!
cleanup() {
    redis-cli -p "$LP" shutdown nosave >/dev/null 2>&1 || true
    redis-cli -p "$RP" shutdown nosave >/dev/null 2>&1 || true
    wait "$LPID" "$RPID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
for p in "$LP" "$RP"; do
    for _ in $(seq 100); do
        redis-cli -p "$p" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
done
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
printf '%-12s %4s %14s %14s %8s\n' test P "lode us/req" "redis us/req" "lode/redis"
for pl in $PIPELINES; do
    for t in $TESTS; do
        declare -A us
        for side in lode redis; do
            if [ $side = lode ]; then pid=$LPID p=$LP; else pid=$RPID p=$RP; fi
            a=$(ticks "$pid")
            taskset -c 0 redis-benchmark -p "$p" -c 50 -P "$pl" -n "$N" -r 100000 -t "$t" -q \
                >/dev/null 2>&1
            b=$(ticks "$pid")
            us[$side]=$(awk -v d=$((b - a)) -v hz="$hz" -v n="$N" 'BEGIN{printf "%.3f", d / hz * 1e6 / n}')
        done
        printf '%-12s %4s %14s %14s %8s\n' "$t" "$pl" "${us[lode]}" "${us[redis]}" \
            "$(awk -v a="${us[lode]}" -v b="${us[redis]}" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}')"
    done
done
