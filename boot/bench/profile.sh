#!/usr/bin/env bash
# Where the guest's time goes: runs `./qemu.sh --profile -v ARGS...` (stdin passed on, so a
# shell session can be scripted), which samples the instruction pointer at 1024 Hz (the
# kernel's RTC interrupt) until the run ends, then resolves the samples against an
# unstripped build of the same kernel and prints the functions and crates that took the
# most samples. Programs run inside wasmi, so wasmi's executor is the programs' own code;
# `hlt` in the idle loop is idle time.
#
# Usage: boot/bench/profile.sh [QEMU.SH OPTIONS] [PROGRAM [ARGS...]]
# e.g.   printf 'httpd --quiet &\nsleep 20\n' | boot/bench/profile.sh --tcplisten 127.0.0.1:8080
#        (and load the server from another terminal meanwhile)
set -euo pipefail
cd "$(dirname "$0")/../.."
./qemu.sh --setup >/dev/null
log=target/profile.log
status=0
./qemu.sh --profile -v "$@" 2>"$log" || status=$?
echo "== run ended with status $status (kernel log: $log)"
# The same kernel with its symbols (the image's is stripped); only the strip step differs.
CARGO_PROFILE_RELEASE_STRIP=none cargo build -q --release --target x86_64-unknown-none \
    --target-dir target/kernel-symbols --manifest-path kernel/Cargo.toml
elf=target/kernel-symbols/x86_64-unknown-none/release/cella-kernel
python3 - "$log" <(nm -n -C --defined-only "$elf") <<'PY'
import bisect, collections, re, sys
log, symbols_file = sys.argv[1], sys.argv[2]
anchor, dropped, samples = None, 0, []
for line in open(log, errors="replace"):
    m = re.search(r"profile: (anchor|dropped|0x[0-9a-f]+) (\S+)", line)
    if not m:
        continue
    if m.group(1) == "anchor":
        anchor = int(m.group(2), 16)
    elif m.group(1) == "dropped":
        dropped = int(m.group(2))
    else:
        samples.append((int(m.group(1), 16), int(m.group(2))))
if anchor is None:
    sys.exit("no profile in the log: did the run end normally (not by --timeout)?")
addresses, names = [], []
for line in open(symbols_file):
    parts = line.rstrip("\n").split(" ", 2)
    if len(parts) == 3 and parts[1].lower() in ("t", "w"):
        addresses.append(int(parts[0], 16))
        names.append(parts[2])
anchor_elf = addresses[names.index("cella_profile_anchor")]
by_function = collections.Counter()
for address, count in samples:
    elf = address - anchor + anchor_elf
    i = bisect.bisect_right(addresses, elf) - 1
    by_function[names[i] if i >= 0 else hex(elf)] += count
total = sum(by_function.values()) + dropped
def crate(name):
    name = re.sub(r"^<(.*?) as .*", r"\1", name).lstrip("<&")
    head = name.split("::")[0]
    return {"cella_kernel": "kernel", "wasi_abi": "wasi-abi"}.get(head, head)
by_crate = collections.Counter()
for name, count in by_function.items():
    by_crate[crate(name)] += count
print(f"== {total} samples ({total / 1024:.1f} s), {dropped} dropped")
print("== by crate")
for name, count in by_crate.most_common(12):
    print(f"  {100 * count / total:5.1f}%  {name}")
print("== by function")
for name, count in by_function.most_common(40):
    print(f"  {100 * count / total:5.1f}%  {name[:150]}")
PY
