#!/usr/bin/env bash
# HTTP server figures, printed (not a test): wrk loads `GET /hello` (and a 4 KiB static file)
# on four servers, one after the other, and prints them side by side:
#   - httpd.wasm on Cella: `./qemu.sh --tcplisten ... userland/httpd.wasm --quiet`, over
#     QEMU's user networking (its listen backlog raised by the runner);
#   - the same with passt as the network backend (`CELLA_NETWORK=passt`), if installed;
#   - the same httpd.wasm under hosted wasmi (`wasmi run --tcplisten ...`);
#   - the NodeJS equivalent, boot/bench/httpd.js.
# For each and each number of connections: requests per minute, p50 and p99 latency, wrk's
# errors (socket connect, read, write, timeout; non-2xx answers) and the host CPU of the
# server's processes (QEMU's, and passt's, for Cella) during the load, in % of one core.
# Issue 13's goal: p99 < 12 ms at 50 connections on Cella.
#
#   boot/bench/http.sh [SECONDS] [CONNECTIONS,...]     (defaults: 10 s, 50 connections)
#   e.g. boot/bench/http.sh 10 1,10,50,100
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-10}"
IFS=, read -r -a connection_counts <<<"${2:-50}"
# Four ports, one per server; none of them may be in use.
port_cella=18480
port_passt=18483
port_wasmi=18481
port_node=18482
# How long a server may take to answer its first GET /hello (Cella boots a VM first).
ready_timeout_cella=120
ready_timeout_host=15
# A short load first, so that wasmi has translated the hot code and Node has JIT-compiled it.
warmup_seconds=2
hello_body="Hello, world!"
static_size=4096

command -v wrk >/dev/null || { echo "install wrk: apt-get install wrk"; exit 1; }
for tool in wasmi node curl; do
    command -v "$tool" >/dev/null || { echo "http.sh: $tool is not installed"; exit 1; }
done

./qemu.sh --setup >/dev/null
(cd userland && cargo build -q --release --bin httpd)
httpd=userland/target/wasm32-wasip1/release/httpd.wasm
work=$(mktemp -d)
www="$work/www"
mkdir "$www"
head -c "$static_size" /dev/urandom >"$www/4k.bin"
echo '<h1>Cella</h1>' >"$www/index.html"

server_pids=()
cleanup() {
    local pid
    for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# stop_servers: ends the servers started so far (QEMU, then its runner, etc.).
stop_servers() {
    local pid
    for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${server_pids[@]}"; do
        while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    done
    server_pids=()
}

# wait_ready PORT SECONDS STARTER_PID: waits until GET /hello on PORT answers with the body
# (QEMU's user networking accepts connections before the guest listens, so only an answer
# counts); fails if the server's starter exits or the time runs out.
wait_ready() {
    local port=$1 timeout=$2 starter=$3 started=$SECONDS
    until [ "$(curl -s -m 2 "http://127.0.0.1:$port/hello" 2>/dev/null)" = "$hello_body" ]; do
        kill -0 "$starter" 2>/dev/null || return 1
        [ $((SECONDS - started)) -lt "$timeout" ] || return 1
        sleep 0.2
    done
}

# port_free PORT: nothing answers on PORT yet.
port_free() {
    ! curl -s -m 1 -o /dev/null "http://127.0.0.1:$1/" 2>/dev/null
}

# ms VALUE: wrk's latency (850.00us, 3.26ms, 1.02s, 2.00m) in milliseconds.
ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; unit = v; sub(/^[0-9.]+/, "", unit)
        f = unit == "us" ? 0.001 : unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60000 : 0
        if (f == 0) print "?"; else printf "%.2f", n * f }'
}

# ticks PID...: user + system CPU ticks of the PIDs so far.
ticks() {
    local pid sum=0
    for pid in "$@"; do
        sum=$((sum + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$sum"
}

table_format="%-22s %-8s %5s %10s %9s %9s %-24s %8s\n"
# measure NAME PIDS CONNECTIONS URL: loads URL and prints one row of the table; PIDS (a
# space-separated list) are the processes whose CPU counts.
measure() {
    local name=$1 pids=$2 connections=$3 url=$4
    wrk -t1 -c4 -d"${warmup_seconds}s" "$url" >/dev/null 2>&1 || true
    local t0 s0 t1 s1 out
    # shellcheck disable=SC2086 # a list of pids
    t0=$(ticks $pids)
    s0=$(date +%s.%N)
    out=$(wrk -t"$((connections < 2 ? 1 : 2))" -c"$connections" -d"${seconds}s" --latency "$url" 2>&1) || true
    # shellcheck disable=SC2086
    t1=$(ticks $pids)
    s1=$(date +%s.%N)
    local rps p50 p99 errors cpu
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
    p99=$(ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
    errors=$(awk '
        /Socket errors:/ { gsub(/,/, ""); s = "c" $4 " r" $6 " w" $8 " t" $10 }
        /Non-2xx or 3xx responses:/ { n = $5 }
        END { printf "%s non-2xx %d", s == "" ? "c0 r0 w0 t0" : s, n }' <<<"$out")
    cpu=$(awk -v a="$t0" -v b="$t1" -v s0="$s0" -v s1="$s1" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.0f%%", (b - a) / hz / (s1 - s0) * 100 }')
    if [ -z "$rps" ]; then
        printf "%-22s %-8s %5s wrk failed: %s\n" "$name" "${url##*/}" "$connections" "$(tail -1 <<<"$out")"
        return
    fi
    printf "$table_format" "$name" "/${url#http://*/}" "$connections" \
        "$(awk -v r="$rps" 'BEGIN { printf "%.1f", r * 60 / 1000 }')" "$p50" "$p99" "$errors" "$cpu"
}

# bench NAME PORT PIDS: the /hello and the static-file rows of one server, for each number
# of connections.
bench() {
    local name=$1 port=$2 pids=$3 connections
    for connections in "${connection_counts[@]}"; do
        measure "$name" "$pids" "$connections" "http://127.0.0.1:$port/hello"
        measure "$name" "$pids" "$connections" "http://127.0.0.1:$port/4k.bin"
    done
}

# not_ready NAME LOG: the row of a server that never answered, with its last words.
not_ready() {
    printf "%-22s did not answer GET /hello; its last output:\n" "$1"
    tail -5 "$2" | sed 's/^/    /'
}

# host_server NAME PORT LOG COMMAND...: starts a server on the host, its output in LOG, and
# prints its rows once it answers on PORT; then stops it.
host_server() {
    local name=$1 port=$2 log=$3
    shift 3
    "$@" >"$log" 2>&1 &
    local pid=$!
    server_pids+=("$pid")
    if wait_ready "$port" "$ready_timeout_host" "$pid"; then
        bench "$name" "$port" "$pid"
    else
        not_ready "$name" "$log"
    fi
    stop_servers
}

for port in "$port_cella" "$port_passt" "$port_wasmi" "$port_node"; do
    port_free "$port" || { echo "http.sh: port $port is in use"; exit 1; }
done

# CPU is in % of one core; wrk runs on the same machine and competes for the same cores.
echo "== wrk -t2 -cN -d${seconds}s --latency, one server at a time ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
printf "$table_format" server path conns kReq/min "p50 ms" "p99 ms" "errors (wrk)" CPU

# cella NAME PORT [ENV...]: httpd.wasm on Cella, its rows. The runner is qemu.sh's process
# (it execs); QEMU and passt are the runner's children.
cella() {
    local name=$1 port=$2
    shift 2
    env "$@" ./qemu.sh --tcplisten "127.0.0.1:$port" --dir "$www::/www" \
        userland/httpd.wasm --quiet >"$work/cella.log" 2>&1 &
    local runner=$!
    server_pids+=("$runner")
    local children=
    if wait_ready "$port" "$ready_timeout_cella" "$runner"; then
        children=$(pgrep -P "$runner" | tr '\n' ' ')
    fi
    if [ -n "$children" ]; then
        # shellcheck disable=SC2206 # a list of pids
        server_pids=($children "${server_pids[@]}")
        bench "$name" "$port" "$children"
    else
        not_ready "$name" "$work/cella.log"
    fi
    stop_servers
}

# (a) Cella over QEMU's user networking, then over passt.
cella "Cella (QEMU)" "$port_cella"
if command -v passt >/dev/null; then
    cella "Cella (QEMU, passt)" "$port_passt" CELLA_NETWORK=passt
fi

# (b) the same program under hosted wasmi; its preopen's guest path is the host path.
host_server "wasmi (hosted)" "$port_wasmi" "$work/wasmi.log" \
    wasmi run --tcplisten "127.0.0.1:$port_wasmi" --dir "$www" "$httpd" --quiet

# (c) NodeJS.
host_server "NodeJS $(node --version)" "$port_node" "$work/node.log" \
    node boot/bench/httpd.js "$port_node" "$www"

echo "thesis (hosted, container): NodeJS 603 kReq/min < 12 ms; Wasm 135 kReq/min < 61 ms"
echo "issue 13's goal: Cella's p99 < 12 ms at 50 connections"
