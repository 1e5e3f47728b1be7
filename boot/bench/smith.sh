#!/usr/bin/env bash
# Generated programs in one boot: COUNT random WASI modules from wasm-smith (boot/smith, seeds
# SEED, SEED+1, ...) run as processes by `smithrun` inside a single Cella guest, JOBS at a
# time, each with a 32 MiB memory limit, 50 M fuel and a 10 s wall-clock deadline. Prints
# the outcome counts, modules per second, the kernel heap before and after, and the
# runner's status (71 or 125: the kernel failed). On a failure the modules and the log stay
# in the work directory it names; the modules that were running are the `start` lines
# without an `end`.
#
#   boot/bench/smith.sh [COUNT [SEED [JOBS]]]     (defaults: 2000 0 4)
set -uo pipefail
cd "$(dirname "$0")/../.."
count=${1:-2000}
seed=${2:-0}
jobs=${3:-4}

./qemu.sh --setup >/dev/null || exit 1
cargo build -q --release -p cella-smith || exit 1
(cd userland && cargo build -q --release --bin smithrun) || exit 1
work=$(mktemp -d /tmp/cella-smith.XXXXXX)
mkdir "$work/m" "$work/s"
target/release/smith "$work/m" "$count" "$seed" || exit 1

# Under TCG a module takes about a tenth of a second on average; the deadline is a backstop.
timeout=$((count / 2 + 300))
t0=$(date +%s.%N)
./qemu.sh -m 1G --timeout "$timeout" --dir "$work/m::/m" --dir "$work/s::/s" \
    userland/target/wasm32-wasip1/release/smithrun.wasm -v -j "$jobs" /m /s \
    >"$work/log" 2>"$work/stderr"
status=$?
t1=$(date +%s.%N)

grep '^smithrun:' "$work/log" || true
grep -E '^(heap|free) ' "$work/log" | sed 's/^/  /'
awk -v a="$t0" -v b="$t1" -v n="$count" 'BEGIN {
    printf "  wall time of the run (boot included): %.1f s, %.1f modules/s\n", b - a, n / (b - a) }'
echo "  runner status: $status"
if [ "$status" -ne 0 ]; then
    echo "  FAILED: modules and log kept in $work; running at the end:"
    awk '$1 == "start" {run[$2] = 1} $1 == "end" {delete run[$2]} END {for (m in run) print "    " m}' \
        "$work/log"
    tail -n 20 "$work/stderr" | sed 's/^/  stderr: /'
    exit 1
fi
rm -rf "$work"
