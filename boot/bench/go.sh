#!/usr/bin/env bash
# The Go net/http server's start-up, printed (not a test): the time from starting
# `./qemu.sh --tcplisten 127.0.0.1:PORT httpserver.wasm` to the first HTTP response on
# /hello, on an already-built checkout, RUNS times; for scale, the same for `httpd.wasm`
# (Rust, 0.2 MB against Go's 11 MB), and for the Go server under hosted wasmi when `wasmi`
# is installed.
#
#   boot/bench/go.sh [RUNS]     (default 5; needs Go: boot/setup.sh --with-go, or GO=...)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-5}"
port=18490
# How long a server may take to answer (Cella boots a VM and loads the module first).
ready_timeout=120

go="${GO:-go}"
command -v "$go" >/dev/null || { echo "go.sh: Go is not installed: run boot/setup.sh --with-go"; exit 1; }
command -v curl >/dev/null || { echo "go.sh: curl is not installed"; exit 1; }

./qemu.sh --setup >/dev/null
(cd userland && cargo build -q --release --bin httpd)
httpd=userland/target/wasm32-wasip1/release/httpd.wasm
work=target/bench-go
mkdir -p "$work"
(cd userland/go/httpserver && GOOS=wasip1 GOARCH=wasm GOTOOLCHAIN=local GOCACHE="$PWD/../../../$work/cache" \
    "$go" build -buildvcs=false -o "../../../$work/httpserver.wasm" .)
server="$work/httpserver.wasm"

starter=
cleanup() { [ -z "$starter" ] || kill "$starter" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT

# first_response BODY COMMAND...: starts COMMAND in the background and sets `seconds` to the
# time until GET /hello on $port answers with BODY; stops it again.
first_response() {
    local body=$1 started
    shift
    started=$(date +%s.%N)
    "$@" >/dev/null 2>&1 &
    starter=$!
    until [ "$(curl -s -m 2 "http://127.0.0.1:$port/hello" 2>/dev/null)" = "$body" ]; do
        kill -0 "$starter" 2>/dev/null || { echo "go.sh: $1 ended before answering" >&2; exit 1; }
        if awk -v s="$started" -v now="$(date +%s.%N)" -v t="$ready_timeout" 'BEGIN { exit !(now - s > t) }'; then
            echo "go.sh: $1 did not answer within $ready_timeout s" >&2
            exit 1
        fi
        sleep 0.05
    done
    seconds=$(awk -v s="$started" -v now="$(date +%s.%N)" 'BEGIN { printf "%.2f", now - s }')
    kill "$starter"
    wait "$starter" 2>/dev/null || true
    starter=
}

# series NAME BODY COMMAND...: RUNS first-response times of COMMAND, and their median.
series() {
    local name=$1 body=$2 times=() i
    shift 2
    for ((i = 0; i < runs; i++)); do
        first_response "$body" "$@"
        times+=("$seconds")
    done
    printf '%-40s %s  median %s s\n' "$name" "${times[*]}" \
        "$(printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')"
}

echo "first response, seconds from start ($runs runs; $(du -k "$server" | cut -f1) KiB Go module):"
series "Go httpserver.wasm on Cella" "Hello from Go on wasip1!" \
    ./qemu.sh --tcplisten "127.0.0.1:$port" "$server"
# The same without the shadow call stack behind trap backtraces (a pass over the module's code).
series "Go ... -D max-backtrace=0" "Hello from Go on wasip1!" \
    ./qemu.sh -D max-backtrace=0 --tcplisten "127.0.0.1:$port" "$server"
series "httpd.wasm on Cella" "Hello, world!" \
    ./qemu.sh --tcplisten "127.0.0.1:$port" "$httpd" --quiet
if command -v wasmi >/dev/null; then
    series "Go httpserver.wasm under hosted wasmi" "Hello from Go on wasip1!" \
        wasmi run --tcplisten "127.0.0.1:$port" "$server"
fi
