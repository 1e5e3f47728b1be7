#!/usr/bin/env bash
# Isolation figures in one run: each attack of `userland/exhaust.wasm` in a program run on a
# small machine — what the program got, how long it took, and the kernel's free frames and
# heap afterwards, from the kernel log (`-v`) — and whether the --dir tree came back.
#
#   boot/bench/exhaust.sh [MEMORY]     (default 256M)
set -euo pipefail
cd "$(dirname "$0")/../.."
memory=${1:-256M}
./qemu.sh --setup >/dev/null
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

echo "== exhaust on -m $memory (default file system size: half the RAM)"
printf '  %-9s %-58s %6s  %s\n' attack "what the program got" wall "kernel after the program"
for attack in files data symlinks deep fds pipes memory recurse "spawn exhaust.wasm" "argv exhaust.wasm"; do
    rm -rf "$scratch/tree" && mkdir -p "$scratch/tree"
    cp userland/exhaust.wasm "$scratch/tree/"
    set -- $attack
    [ $# -eq 1 ] && set -- "$1" .
    started=$(date +%s.%N)
    status=0
    ./qemu.sh -v -m "$memory" --dir "$scratch/tree::." userland/exhaust.wasm "$@" \
        >"$scratch/out" 2>"$scratch/log" || status=$?
    ended=$(date +%s.%N)
    got=$(sed -n 's/^[a-z]*: //p' "$scratch/out" | head -1 | cut -c1-58)
    [ -n "$got" ] || got="status $status: $(grep -o 'wasm trap: [a-z ]*' "$scratch/log" | head -1)"
    after=$(sed -n 's/.*memory after the program: \([0-9]*\) KiB free frames, heap \([0-9]*\) of.*/\1 KiB free, heap \2 KiB/p' "$scratch/log")
    back=$(grep -o 'written back in [0-9]* ms' "$scratch/log" || echo "NOT written back")
    printf '  %-9s %-58s %5.1fs  %s; %s\n' "$1" "$got" "$(awk -v a="$started" -v b="$ended" 'BEGIN {print b - a}')" "$after" "$back"
done
