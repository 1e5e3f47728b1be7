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
# The kernel that ran, with its symbols (the runner strips only the images' copy).
elf=target/kernel/x86_64-cella-none/release/cella-kernel
python3 - "$log" "$elf" <<'PY'
import bisect, collections, re, subprocess, sys
log, elf = sys.argv[1], sys.argv[2]
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
nm = subprocess.run(["nm", "-n", "-C", "--defined-only", elf], capture_output=True, text=True)
for line in nm.stdout.splitlines():
    parts = line.split(" ", 2)
    if len(parts) == 3 and parts[1] in "tTwW":
        addresses.append(int(parts[0], 16))
        names.append(re.sub(r"::h[0-9a-f]{16}$", "", parts[2]))
anchor_elf = next(int(line.split()[0], 16) for line in nm.stdout.splitlines()
                  if line.endswith(" CELLA_PROFILE_ANCHOR"))
# The ELF's bytes by address, to recognise a sample taken right after `hlt` (idle).
text = {}
headers = subprocess.run(["readelf", "-lW", elf], capture_output=True, text=True).stdout
data = open(elf, "rb").read()
segments = [(int(m[1], 16), int(m[0], 16), int(m[2], 16)) for m in
            re.findall(r"LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)", headers)]
def byte_at(vaddr):
    for start, offset, size in segments:
        if start <= vaddr < start + size:
            return data[offset + vaddr - start]
    return None
HLT = 0xf4
by_function, hot = collections.Counter(), collections.Counter()
idle = 0
for address, count in samples:
    at = address - anchor + anchor_elf
    if byte_at(at - 1) == HLT:
        idle += count
        continue
    i = bisect.bisect_right(addresses, at) - 1
    name = names[i] if i >= 0 else "?"
    by_function[name] += count
    hot[(name, at)] += count
total = sum(by_function.values()) + idle + dropped
busy = total - idle
def crate(name):
    name = re.sub(r"^<(.*?) as .*", r"\1", name).lstrip("<&")
    head = name.split("::")[0]
    return {"cella_kernel": "kernel", "wasi_abi": "wasi-abi"}.get(head, head)
by_crate = collections.Counter()
for name, count in by_function.items():
    by_crate[crate(name)] += count
print(f"== {total} samples ({total / 1024:.1f} s): idle (hlt) {100 * idle / total:.1f}%, "
      f"busy {100 * busy / total:.1f}%, {dropped} dropped; shares below are of the busy samples")
print("== by crate")
for name, count in by_crate.most_common(12):
    print(f"  {100 * count / busy:5.1f}%  {name}")
print("== by function (LTO inlines much of the kernel into boot::start)")
for name, count in by_function.most_common(40):
    print(f"  {100 * count / busy:5.1f}%  {name[:140]}")
print("== hottest addresses (for llvm-objdump -d --start-address=... " + elf + ")")
for (name, at), count in hot.most_common(10):
    print(f"  {100 * count / busy:5.1f}%  {at:#x} in {name[:100]}")
PY
