#!/usr/bin/env bash
# ISO figures: the size of `./qemu.sh --iso`'s image and its parts, and the wall time from
# QEMU's start to the shell prompt on the serial console, booting the ISO as the README
# shows: as a CD-ROM and as a disk (USB stick), under BIOS and under UEFI; and,
# for comparison, the disk images bios.img and uefi.img booted the same way.
#
#   boot/bench/iso.sh [RUNS]      (default 5; the median is printed)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
scratch=$(mktemp -d)
qemu_pid=
cleanup() {
    if [ -n "$qemu_pid" ]; then kill "$qemu_pid" 2>/dev/null || true; fi
    rm -rf "$scratch"
}
trap cleanup EXIT

./qemu.sh --iso "$scratch/cella.iso" 2>/dev/null
iso=$scratch/cella.iso
parts=target/cella/iso
size() { stat -c %s "$1" | awk '{printf "%.2f MB", $1 / 1e6}'; }
echo "== the ISO: $(size "$iso")"
echo "  boot sector + second stage (partition 1): $(size "$parts/stage-2.img")"
echo "  FAT with the BIOS stages, the UEFI loader, kernel and ramdisk (partition 2): $(size "$parts/boot.fat")"
echo "  of which the kernel $(size target/cella/kernel) and the ramdisk with /bin $(size target/cella/initrd)"
echo "  the BIOS CD boot program (El Torito, no emulation): $(stat -c %s "$parts/tree/boot/cdboot.bin") bytes"

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# to_prompt FIRMWARE MEDIUM FILE: seconds from QEMU's start to the shell prompt on COM1.
to_prompt() {
    local firmware=$1 medium=$2 file=$3 drive=() uefi=()
    case $medium in
        cdrom) drive=(-cdrom "$file") ;;
        disk) drive=(-drive "file=$file,format=raw,snapshot=on") ;;
    esac
    if [ "$firmware" = uefi ]; then
        local code=/usr/share/OVMF/OVMF_CODE_4M.fd vars=/usr/share/OVMF/OVMF_VARS_4M.fd
        [ -e "$code" ] || { code=/usr/share/OVMF/OVMF_CODE.fd; vars=/usr/share/OVMF/OVMF_VARS.fd; }
        cp "$vars" "$scratch/vars.fd"
        uefi=(-drive "if=pflash,format=raw,readonly=on,file=$code"
            -drive "if=pflash,format=raw,file=$scratch/vars.fd")
    fi
    : >"$scratch/console"
    local t0 t1
    t0=$(now)
    qemu-system-x86_64 -machine q35 -cpu max -m 512M -display none -no-reboot -monitor none \
        -serial "file:$scratch/console" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        "${uefi[@]}" "${drive[@]}" 2>/dev/null &
    qemu_pid=$!
    until grep -q ':/\$ ' "$scratch/console"; do
        if ! kill -0 "$qemu_pid" 2>/dev/null; then
            echo "QEMU ended before the prompt ($firmware, $medium):" >&2
            cat "$scratch/console" >&2
            exit 1
        fi
        if awk -v a="$t0" -v b="$(now)" 'BEGIN {exit !(b - a > 120)}'; then
            echo "no prompt within 120 s ($firmware, $medium)" >&2
            exit 1
        fi
        sleep 0.02
    done
    t1=$(now)
    kill "$qemu_pid"
    wait "$qemu_pid" 2>/dev/null || true
    qemu_pid=
    awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'
}

echo "== QEMU start to the shell prompt on COM1 (median of $runs, TCG; the boots alternate,"
echo "   so that the machine's load weighs on all alike)"
boots=("bios cdrom $iso" "bios disk $iso" "uefi cdrom $iso" "uefi disk $iso"
    "bios disk target/cella/bios.img" "uefi disk target/cella/uefi.img")
for _ in $(seq "$runs"); do
    for i in "${!boots[@]}"; do
        set -- ${boots[$i]}
        to_prompt "$1" "$2" "$3" >>"$scratch/times$i"
    done
done
for i in "${!boots[@]}"; do
    set -- ${boots[$i]}
    median <"$scratch/times$i" |
        awk -v f="$1" -v m="$2" -v i="$(basename "$3")" '{printf "  %-9s %-4s %-6s %.2f s\n", i, f, m, $1}'
done
