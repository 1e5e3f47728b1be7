#!/usr/bin/env bash
# Where `./qemu.sh --uefi userland/hello.wasm` spends its time before the kernel: samples
# the guest's registers through QEMU's monitor every 20 ms and sorts each sample into
#   - "TPM probe": OVMF's PEI waiting on the TPM registers at 0xfed40000 (a register holds
#     that address): with no TPM, QEMU reads 0 there, which the firmware takes for a TPM that
#     is not ready yet, and it polls until its 750 ms timeout, in 30 µs delays that each cost
#     far more than 30 µs under TCG;
#   - "firmware, 32-bit" (SEC and the rest of PEI) and "firmware, 64-bit" (DXE, boot
#     manager, bootloader's UEFI stage);
#   - "kernel" (upper-half addresses: the kernel and the program).
# Prints the seconds of each class, as medians of RUNS runs.
#
#   boot/bench/firmware.sh [RUNS]      (default 3; needs python3)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
program=userland/hello.wasm
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

./qemu.sh --uefi "$program" >/dev/null

# The runner's QEMU with a monitor socket for the sampler.
cat >"$scratch/qemu" <<EOF
#!/usr/bin/env bash
exec qemu-system-x86_64 "\$@" -monitor unix:$scratch/monitor,server,nowait
EOF
chmod +x "$scratch/qemu"

sample() {
    python3 - "$scratch/monitor" <<'EOF'
import re, socket, sys, time

path = sys.argv[1]
monitor = socket.socket(socket.AF_UNIX)
deadline = time.time() + 30
while True:
    try:
        monitor.connect(path)
        break
    except OSError:
        if time.time() > deadline:
            sys.exit("firmware.sh: QEMU's monitor socket never appeared")
        time.sleep(0.005)
monitor.settimeout(2)

def ask(command):
    monitor.sendall(command.encode() + b"\n")
    reply = b""
    while not reply.rstrip().endswith(b"(qemu)"):
        chunk = monitor.recv(65536)
        if not chunk:
            raise EOFError
        reply += chunk
    return reply.decode(errors="replace")

seconds = {"TPM probe": 0.0, "firmware, 32-bit": 0.0, "firmware, 64-bit": 0.0, "kernel": 0.0}
last = time.time()
try:
    ask("")
    while True:
        registers = ask("info registers")
        now = time.time()
        rip = re.search(r"\b[RE]IP=([0-9a-f]+)", registers)
        if rip:
            address = int(rip.group(1), 16)
            if re.search(r"=(00000000)?fed40000\b", registers):
                kind = "TPM probe"
            elif address >= 0xffff800000000000:
                kind = "kernel"
            elif "RIP=" in registers:
                kind = "firmware, 64-bit"
            else:
                kind = "firmware, 32-bit"
            seconds[kind] += now - last
        last = now
        time.sleep(0.02)
except (EOFError, OSError):
    pass
print(" ".join(f"{value:.2f}" for value in seconds.values()))
EOF
}

printf '%-8s %10s %17s %17s %8s %8s\n' run "TPM probe" "firmware, 32-bit" "firmware, 64-bit" kernel whole
rows=()
for run in $(seq "$runs"); do
    rm -f "$scratch/monitor"
    start=$(date +%s%N)
    sample >"$scratch/sample" &
    sampler=$!
    CELLA_QEMU="$scratch/qemu" ./qemu.sh --uefi "$program" >/dev/null
    whole=$(( ($(date +%s%N) - start) / 1000000 ))
    wait "$sampler"
    read -r tpm pei dxe kernel <"$scratch/sample"
    whole=$(awk -v ms="$whole" 'BEGIN {printf "%.2f", ms / 1000}')
    printf '%-8s %10s %17s %17s %8s %8s\n' "$run" "$tpm" "$pei" "$dxe" "$kernel" "$whole"
    rows+=("$tpm $pei $dxe $kernel $whole")
done
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
column() { printf '%s\n' "${rows[@]}" | cut -d' ' -f"$1" | median; }
printf '%-8s %10s %17s %17s %8s %8s\n' median "$(column 1)" "$(column 2)" "$(column 3)" "$(column 4)" "$(column 5)"
echo "(seconds; load: $(cut -d' ' -f1-3 /proc/loadavg))"
