#!/usr/bin/env bash
# Where QEMU spends its time running the same `bench` workload as Cella (qemu-system-x86_64,
# the kernel, wasmi) and as the wasmi CLI under qemu-x86_64 (user mode: no kernel, no
# soft-MMU): host CPU samples of each QEMU process (perf, software clock, so it works in a
# VM without hardware counters), split into the code TCG translated from the guest's
# (`[JIT]`: wasmi's handlers, turned into host code) and QEMU's own functions. The analysis
# that goes with it: docs/compute.md.
#
#   boot/bench/emulation.sh [MODE [ITERATIONS]]     (default: int 500)
#
# QEMU's binary is stripped: its static functions show as an address, named here after the
# nearest exported symbol before them ("after curr_cflags" is helper_lookup_tb_ptr, the TB
# lookup behind every indirect jump, in Debian's QEMU 7.2). Samples include start-up (boot,
# module compilation): use a workload of several seconds.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-int}
iterations=${2:-500}
for tool in perf qemu-x86_64 wasmi nm; do
    command -v "$tool" >/dev/null || {
        echo "emulation.sh: $tool is missing (apt-get install linux-perf qemu-user binutils;" \
            "cargo install --locked wasmi_cli)" >&2
        exit 1
    }
done
./qemu.sh --setup >/dev/null
(cd userland && cargo build -q --release --bin bench)
bench=userland/target/wasm32-wasip1/release/bench.wasm
./qemu.sh "$bench" int 1 >/dev/null # kernel and images built before anything is sampled
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
frequency=4000

# profile NAME COMMAND...: runs COMMAND under perf; prints the program's own line.
profile() {
    local name=$1
    shift
    perf record -q -e cpu-clock -F "$frequency" -o "$data/$name.data" -- "$@" 2>/dev/null
}
echo "== bench $mode $iterations: the program's own seconds"
printf '  cella:     %s\n' "$(profile cella ./qemu.sh "$bench" "$mode" "$iterations")"
wasmi=$(command -v wasmi)
printf '  wasmi/tcg: %s\n' "$(profile tcg qemu-x86_64 "$wasmi" "$bench" "$mode" "$iterations")"

echo "== host CPU seconds of each QEMU process, by where they went ($frequency samples a second)"
python3 - "$data" "$frequency" "$(command -v qemu-system-x86_64)" "$(command -v qemu-x86_64)" <<'PY'
import bisect, collections, subprocess, sys
data, frequency, system, user = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def exported(binary):
    out = subprocess.run(["nm", "-D", "--defined-only", binary], capture_output=True, text=True).stdout
    symbols = sorted((int(f[0], 16), f[2]) for f in (l.split() for l in out.splitlines()) if len(f) == 3)
    return [a for a, _ in symbols], [n for _, n in symbols]

def buckets(name, comm, binary):
    addresses, names = exported(binary)
    report = subprocess.run(["perf", "report", "-i", f"{data}/{name}.data", "--comms", comm,
                             "--no-children", "-g", "none", "--sort", "dso,sym",
                             "-F", "sample,dso,sym"], capture_output=True, text=True).stdout
    where = collections.Counter()
    for line in report.splitlines():
        f = line.split()
        if len(f) < 4 or not f[0].isdigit():
            continue
        samples, dso, symbol = int(f[0]), f[1], " ".join(f[3:])
        if dso.startswith("[JIT]") or "perf-" in dso:
            where["translated guest code (JIT)"] += samples
        elif "kernel" in dso:
            where["host kernel"] += samples
        elif binary.rsplit("/", 1)[-1] not in dso:
            where["libraries"] += samples
        elif symbol.startswith("0x"):
            i = bisect.bisect_right(addresses, int(symbol, 16)) - 1
            where[f"QEMU: after {names[i]}" if i >= 0 else "QEMU: ?"] += samples
        else:
            where[f"QEMU: {symbol}"] += samples
    return where

runs = {"cella": buckets("cella", "qemu-system-x86", system),
        "wasmi/tcg": buckets("tcg", "qemu-x86_64", user)}
rows = collections.Counter()
for where in runs.values():
    rows.update(where)
shown = [k for k, _ in rows.most_common(14)]
print(f"  {'':46} {'cella':>8} {'wasmi/tcg':>10}")
for key in shown:
    print(f"  {key[:46]:46} {runs['cella'][key] / frequency:7.2f}s {runs['wasmi/tcg'][key] / frequency:9.2f}s")
rest = {r: sum(v for k, v in w.items() if k not in shown) for r, w in runs.items()}
print(f"  {'everything else':46} {rest['cella'] / frequency:7.2f}s {rest['wasmi/tcg'] / frequency:9.2f}s")
total = {r: sum(w.values()) for r, w in runs.items()}
print(f"  {'total':46} {total['cella'] / frequency:7.2f}s {total['wasmi/tcg'] / frequency:9.2f}s")
PY
