#!/usr/bin/env bash
# Side-by-side benchmark: lode-server against Debian's redis-server.
#
# Starts both servers on free loopback ports, pinned to the same CPU, runs
# redis-benchmark against them alternately (lode, redis, lode, redis, ...)
# for R rounds and reports the median per row, then measures memory per key
# after loading the same keys into fresh instances of each. Prints the tables
# and writes them as Markdown to bench/results/compare-<timestamp>.md.
#
# Environment (defaults in brackets):
#   R            rounds per row [3]
#   N_P1         requests per run with -P 1 [200000]
#   N_P16        requests per run with any -P > 1 [2000000]
#   MSET_DIV     MSET writes 10 keys per request: its -n is N / MSET_DIV [4]
#   CLIENTS      redis-benchmark -c [50]
#   KEYSPACE     redis-benchmark -r [100000]
#   TESTS        redis-benchmark -t names, space-separated
#                ["set get incr mset ping_mbulk"]
#   PIPELINES    -P values, space-separated ["1 16"]
#   MEM_KEYS     keys loaded by the memory run [1000000]; 0 skips it
#   THROUGHPUT   0 skips the throughput runs [1]
#   SERVER_CPU / CLIENT_CPU   CPUs for the servers / redis-benchmark [1 / 0]
#   LODE_SERVER  lode-server binary [build/lode-server, built if needed]
#   REDIS_SERVER redis-server binary [/usr/bin/redis-server]
#   LODE_DURABILITY  lode-server --durability [no]: always | everysec | no
#   LODE_ARGS    more lode-server arguments, space-separated [none], e.g.
#                "--checkpoint-wal-bytes 100gb" (no automatic checkpoints)
#   REDIS_FSYNC      redis-server persistence to compare with: [off] (no RDB, no
#                    AOF), always or everysec (appendonly yes + appendfsync)
#   RUN_TIMEOUT  seconds before one redis-benchmark run is abandoned [600]
#   WARMUP       SETs (-c 50 -P 16) each server gets before the rounds, to
#                measure servers that have run a while [0]: past
#                checkpoint-wal-bytes lode-server has checkpointed and keeps
#                trimmed WAL segments for reuse, Redis has rewritten its AOF;
#                the rounds start when both have finished that
#   QUICK=1      tiny smoke run: R=2, N_P1=2000, N_P16=20000, MEM_KEYS=20000
#                (its figures mean nothing)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
HELPER="$ROOT/bench/lodebench.py"

if [[ "${QUICK:-0}" == 1 ]]; then
    : "${R:=2}" "${N_P1:=2000}" "${N_P16:=20000}" "${MEM_KEYS:=20000}"
fi
R=${R:-3}
N_P1=${N_P1:-200000}
N_P16=${N_P16:-2000000}
MSET_DIV=${MSET_DIV:-4}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
TESTS=${TESTS:-"set get incr mset ping_mbulk"}
PIPELINES=${PIPELINES:-"1 16"}
MEM_KEYS=${MEM_KEYS:-1000000}
THROUGHPUT=${THROUGHPUT:-1}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
REDIS_SERVER=${REDIS_SERVER:-/usr/bin/redis-server}
LODE_DURABILITY=${LODE_DURABILITY:-no}
read -r -a LODE_EXTRA <<<"${LODE_ARGS:-}"
REDIS_FSYNC=${REDIS_FSYNC:-off}
if [ "$REDIS_FSYNC" = off ]; then
    REDIS_PERSIST=(--appendonly no)
    REDIS_PERSIST_TEXT='--save "" --appendonly no'
else
    REDIS_PERSIST=(--appendonly yes --appendfsync "$REDIS_FSYNC")
    REDIS_PERSIST_TEXT="--save \"\" --appendonly yes --appendfsync $REDIS_FSYNC"
fi
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
WARMUP=${WARMUP:-0}

log() { printf '[compare] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

for tool in redis-benchmark redis-cli taskset timeout; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install redis-tools util-linux coreutils)"
done
[[ -x "$REDIS_SERVER" ]] || die "$REDIS_SERVER not found (apt-get install redis-server)"
[[ -x "$PY" ]] || die "$PY not found"

# --- build -------------------------------------------------------------------
if [[ -z "${LODE_SERVER:-}" ]]; then
    LODE_SERVER="$ROOT/build/lode-server"
    build_type=""
    if [[ -f "$ROOT/build/CMakeCache.txt" ]]; then
        build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$ROOT/build/CMakeCache.txt")
    fi
    if [[ "$build_type" != RelWithDebInfo ]]; then
        log "configuring build/ (RelWithDebInfo)"
        cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    fi
    log "building lode-server (incremental)"
    cmake --build "$ROOT/build" --target lode-server -j"$(nproc)" >/dev/null
fi
[[ -x "$LODE_SERVER" ]] || die "lode-server not found at $LODE_SERVER"

# --- CPU pinning ---------------------------------------------------------------
ncpu=$(nproc)
if ((SERVER_CPU >= ncpu || CLIENT_CPU >= ncpu)); then
    log "warning: only $ncpu CPU(s); pinning everything to CPU 0"
    SERVER_CPU=0 CLIENT_CPU=0
fi
pin_server=(taskset -c "$SERVER_CPU")
pin_client=(taskset -c "$CLIENT_CPU")

# --- servers -----------------------------------------------------------------
WORK=$(mktemp -d /tmp/lode-compare.XXXXXX)
RAW="$WORK/raw"
mkdir -p "$RAW"
declare -A PID PORT

cleanup() {
    local rc=$?
    stop_servers
    rm -rf "$WORK"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stop_server() { # name
    local name=$1 pid=${PID[$1]:-}
    [[ -n "$pid" ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + 10))
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.05; done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name (pid $pid) ignored SIGTERM; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
    PID[$name]=""
}

stop_servers() {
    stop_server lode
    stop_server redis
}

start_server() { # name
    local name=$1 dir="$WORK/$1.$RANDOM" port
    mkdir -p "$dir/data"
    port=$("$PY" "$HELPER" free-port)
    if [[ $name == lode ]]; then
        "${pin_server[@]}" "$LODE_SERVER" --port "$port" --bind 127.0.0.1 \
            --dir "$dir/data" --durability "$LODE_DURABILITY" ${LODE_EXTRA[@]+"${LODE_EXTRA[@]}"} \
            >"$dir/server.log" 2>&1 &
    else
        "${pin_server[@]}" "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 \
            --dir "$dir/data" --save "" "${REDIS_PERSIST[@]}" >"$dir/server.log" 2>&1 &
    fi
    PID[$name]=$! PORT[$name]=$port
    local deadline=$((SECONDS + 15))
    until [[ "$(redis-cli -p "$port" ping 2>/dev/null)" == PONG ]]; do
        if ! kill -0 "${PID[$name]}" 2>/dev/null || ((SECONDS >= deadline)); then
            tail -n 20 "$dir/server.log" >&2 || true
            die "$name did not start on port $port"
        fi
        sleep 0.05
    done
    log "$name: pid ${PID[$name]}, port $port, CPU $SERVER_CPU, dir $dir"
}

start_servers() {
    start_server lode
    start_server redis
}

# --- run header ----------------------------------------------------------------
STAMP=$(date +%Y%m%d-%H%M%S)
RESULTS="$ROOT/bench/results"
mkdir -p "$RESULTS"
MD="$RESULTS/compare-$STAMP.md"
META="$WORK/meta"
lode_version=$("$LODE_SERVER" --version 2>&1 | head -n1 || true)
redis_version=$("$REDIS_SERVER" --version 2>&1 | head -n1 || true)
git_rev=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
{
    echo "date=$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "git=$git_rev"
    echo "lode-server=$lode_version"
    echo "redis-server=$redis_version"
    echo "host=$(uname -srm), $ncpu CPU(s), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "pinning=servers on CPU $SERVER_CPU, redis-benchmark on CPU $CLIENT_CPU"
    echo "durability=lode-server --durability $LODE_DURABILITY ${LODE_ARGS:-}; redis-server $REDIS_PERSIST_TEXT"
    ((WARMUP > 0)) && echo "warmup=$WARMUP SETs (-c 50 -P 16) into each server before the rounds"
    echo "benchmark=redis-benchmark -c $CLIENTS -r $KEYSPACE, -n $N_P1 at -P 1, $N_P16 at -P >1 (MSET: n / $MSET_DIV), $R round(s), alternating lode/redis per row"
    if [[ "${QUICK:-0}" == 1 ]]; then
        echo "warning=QUICK=1 smoke run: these figures mean nothing"
    fi
} >"$META"
log "durability: lode-server --durability $LODE_DURABILITY vs redis-server $REDIS_PERSIST_TEXT"

# --- throughput ----------------------------------------------------------------
run_bench() { # server pipeline test round
    local server=$1 p=$2 t=$3 round=$4 n
    if ((p > 1)); then n=$N_P16; else n=$N_P1; fi
    [[ $t == mset ]] && n=$((n / MSET_DIV))
    ((n > 0)) || n=1
    local base="${server}_P${p}_${t}_r${round}"
    local rc=0
    timeout "$RUN_TIMEOUT" "${pin_client[@]}" redis-benchmark -h 127.0.0.1 -p "${PORT[$server]}" \
        -c "$CLIENTS" -P "$p" -n "$n" -r "$KEYSPACE" -t "$t" --csv \
        >"$RAW/$base.csv" 2>"$RAW/$base.err" || rc=$?
    printf '%s\t%s\t%s\t%s\t%s\n' "$server" "$p" "$t" "$round" "$base.csv" >>"$RAW/index.tsv"
    if ((rc != 0)); then
        log "  $server $t -P $p round $round: redis-benchmark exit $rc: $(grep -v '^WARNING' "$RAW/$base.err" | head -n1 | cut -c1-100)"
    fi
    # A crashed server ends the comparison rather than producing error rows.
    kill -0 "${PID[$server]}" 2>/dev/null || die "$server exited during $t -P $p"
}

# the background work a warm-up started (lode: checkpoint; Redis: AOF rewrite)
background_busy() { # server
    redis-cli -p "${PORT[$1]}" info persistence 2>/dev/null | tr -d '\r' |
        grep -qE '^(rdb_bgsave_in_progress|aof_rewrite_in_progress):1'
}

warm_up() {
    local server deadline
    for server in lode redis; do
        log "warm-up: $WARMUP SETs into $server"
        "${pin_client[@]}" redis-benchmark -h 127.0.0.1 -p "${PORT[$server]}" -c 50 -P 16 \
            -n "$WARMUP" -r "$KEYSPACE" -t set -q >/dev/null 2>&1 || true
    done
    for server in lode redis; do
        deadline=$((SECONDS + 300))
        while background_busy "$server" && ((SECONDS < deadline)); do sleep 0.2; done
    done
    log "warm-up: lode-server $(redis-cli -p "${PORT[lode]}" info persistence | tr -d '\r' |
        grep -E '^lode_(checkpoints_ok|wal_spare_segments):' | tr '\n' ' ')"
}

if [[ "$THROUGHPUT" != 0 ]]; then
    start_servers
    ((WARMUP > 0)) && warm_up
    for ((round = 1; round <= R; round++)); do
        for p in $PIPELINES; do
            log "round $round/$R, -P $p"
            for t in $TESTS; do
                run_bench lode "$p" "$t" "$round"
                run_bench redis "$p" "$t" "$round"
            done
        done
    done
    stop_servers
fi

# --- memory --------------------------------------------------------------------
rss_bytes() { # pid
    awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$1/status"
}

used_memory() { # port; prints n/a when INFO memory lacks used_memory
    local v
    v=$(redis-cli -p "$1" info memory 2>/dev/null | tr -d '\r' | sed -n 's/^used_memory://p')
    if [[ "$v" =~ ^[0-9]+$ ]]; then echo "$v"; else echo n/a; fi
}

MEM="$WORK/mem.tsv"
if ((MEM_KEYS > 0)); then
    log "memory run: generating $MEM_KEYS SET commands"
    "$PY" "$HELPER" gen-resp "$MEM_KEYS" "$WORK/load.resp"
    for server in lode redis; do
        start_server "$server"
        pid=${PID[$server]} port=${PORT[$server]}
        rss0=$(rss_bytes "$pid") used0=$(used_memory "$port")
        log "memory run: loading $MEM_KEYS keys into $server"
        "${pin_client[@]}" redis-cli -p "$port" --pipe <"$WORK/load.resp" >"$WORK/pipe-$server.out" 2>&1 || true
        status=$("$PY" "$HELPER" pipe-summary "$WORK/pipe-$server.out" "$MEM_KEYS")
        last=$(redis-cli -p "$port" get "$(printf 'key:%012d' $((MEM_KEYS - 1)))" 2>&1 || true)
        if [[ "$last" != "$(printf 'val:%012d' $((MEM_KEYS - 1)))" ]]; then
            status="$status; last key reads back as '$last'"
        fi
        rss1=$(rss_bytes "$pid") used1=$(used_memory "$port")
        [[ $used0 == n/a ]] && used1=n/a
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$MEM_KEYS" "$rss0" "$rss1" "$used0" "$used1" "$status" >>"$MEM"
        [[ $status == ok ]] || log "memory run on $server: $status"
        stop_server "$server"
    done
fi

# --- report --------------------------------------------------------------------
echo
"$PY" "$HELPER" report --raw "$RAW" --meta "$META" --mem "$MEM" --md "$MD"
echo
log "wrote $MD"
