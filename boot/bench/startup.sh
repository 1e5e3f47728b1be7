#!/usr/bin/env bash
# Startup figures of `./qemu.sh userland/hello.wasm`: wall time from QEMU's start to the
# program's `_start`, from kernel entry to `_start`, and of the whole run (the command as a
# user types it), as medians of RUNS runs, for
#   - the runner's default: QEMU loads the kernel directly (PVH entry, `-kernel`);
#   - the BIOS disk image booted by SeaBIOS and bootloader, as by hand (the runner's QEMU
#     command with the image instead of `-kernel`, through CELLA_QEMU);
#   - `--uefi`: OVMF booting the UEFI image;
# and, deterministic, the guest instructions from kernel entry to `_start` (`--icount`).
#
#   boot/bench/startup.sh [RUNS]      (default 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
program=userland/hello.wasm
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# Built (and the images made) before anything is timed.
./qemu.sh "$program" >/dev/null

# The runner's QEMU command with the BIOS image in place of the kernel it loads directly.
cat >"$scratch/qemu-image" <<EOF
#!/usr/bin/env bash
args=()
while [ \$# -gt 0 ]; do
    case \$1 in
        -kernel | -initrd) shift 2 ;;
        *) args+=("\$1"); shift ;;
    esac
done
exec qemu-system-x86_64 "\${args[@]}" -vga std -drive "format=raw,snapshot=on,file=$PWD/target/cella/bios.img"
EOF
chmod +x "$scratch/qemu-image"

now() { date +%s%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# measure LABEL [RUNNER OPTIONS...]: one row of medians.
measure() {
    local label=$1
    shift
    : >"$scratch/boot" && : >"$scratch/kernel" && : >"$scratch/whole"
    for _ in $(seq "$runs"); do
        local t0 t1
        t0=$(now)
        ./qemu.sh -v "$@" "$program" 2>"$scratch/log" >/dev/null
        t1=$(now)
        echo $(((t1 - t0) / 1000000)) >>"$scratch/whole"
        sed -n 's/^cella: QEMU start to _start: \([0-9]*\) ms wall$/\1/p' "$scratch/log" >>"$scratch/boot"
        sed -n 's/^cella: kernel entry to _start: .*(\([0-9.]*\) ms at.*/\1/p' "$scratch/log" >>"$scratch/kernel"
    done
    printf '%-34s %8s ms %12s ms %10s ms\n' "$label" "$(median <"$scratch/boot")" \
        "$(median <"$scratch/kernel")" "$(median <"$scratch/whole")"
}

echo "== ./qemu.sh $program: medians of $runs runs (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-34s %11s %15s %13s\n' "boot path" "QEMU->_start" "kernel->_start" "whole run"
measure "direct (PVH, the default)"
CELLA_QEMU="$scratch/qemu-image" measure "BIOS image (SeaBIOS, bootloader)"
measure "UEFI image (--uefi)" --uefi

echo "== guest instructions from kernel entry to _start (--icount)"
instructions() {
    ./qemu.sh -v --icount "$program" 2>&1 >/dev/null |
        sed -n 's/^cella: kernel entry to _start: \([0-9]*\) TSC ticks.*/\1/p'
}
printf '%-34s %s\n' "direct (PVH, the default)" "$(instructions)"
printf '%-34s %s\n' "BIOS image (SeaBIOS, bootloader)" "$(CELLA_QEMU="$scratch/qemu-image" instructions)"
