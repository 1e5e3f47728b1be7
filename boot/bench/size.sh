#!/usr/bin/env bash
# Size figures: the BIOS and UEFI disk images with /bin and what fills them (bootloader's
# stages, the stripped kernel, the ramdisk of /bin packed and unpacked), the kernel's largest
# crates, and what the packed ramdisk costs at boot: guest instructions (under --icount) from
# kernel entry to _start in shell mode (unpacking /bin included) and for a program run
# (which never unpacks it), and the time the kernel took to build shell mode's file system.
#
#   boot/bench/size.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

./qemu.sh --setup >/dev/null
./qemu.sh userland/hello.wasm >/dev/null  # build the kernel, the programs and the images
out=target/cella
elf=target/kernel/x86_64-cella-none/release/cella-kernel
bytes() { stat -c %s "$1"; }
mb() { awk -v b="$1" 'BEGIN {printf "%.2f MB", b / 1e6}'; }
row() { printf '  %-44s %9d bytes  %s\n' "$1" "$2" "$(mb "$2")"; }

# The BIOS image: boot sector, second stage (partition 1), FAT (partition 2).
partition_bytes() {
    python3 - "$1" "$2" <<'EOF'
import struct, sys
image = open(sys.argv[1], 'rb').read(512)
entry = 446 + 16 * (int(sys.argv[2]) - 1)
print(struct.unpack_from('<I', image, entry + 12)[0] * 512)
EOF
}
# bootloader's stages 3 and 4, as its build left them.
stages=$(find target/image-builder/release/build -path '*bootloader-*/out/bin/*' \
    \( -name 'bootloader-x86_64-bios-stage-3.bin' -o -name 'bootloader-x86_64-bios-stage-4.bin' \) \
    -printf '%s %f\n' 2>/dev/null | sort -u -k2 | awk '{s += $1} END {print s + 0}')
unpacked=0
if command -v zstd >/dev/null; then unpacked=$(zstd -dc "$out/initrd" | wc -c); fi

echo "== images (1 MB = 10^6 bytes)"
row "BIOS image with /bin (bios.img)" "$(bytes "$out/bios.img")"
row "  second stage (partition 1)" "$(partition_bytes "$out/bios.img" 1)"
row "  FAT boot partition (partition 2)" "$(partition_bytes "$out/bios.img" 2)"
row "    bootloader's stages 3 and 4" "$stages"
row "    kernel, stripped" "$(bytes "$out/kernel")"
row "    ramdisk of /bin, Zstandard" "$(bytes "$out/initrd")"
[ "$unpacked" -gt 0 ] && row "      unpacked (the archive of /bin)" "$unpacked"
row "UEFI image with /bin (uefi.img)" "$(bytes "$out/uefi.img")"
row "kernel ELF with symbols" "$(bytes "$elf")"

echo "== kernel: largest crates in .text (llvm-nm sizes, crate of each symbol's path)"
nm=$(find "$(rustc --print sysroot)/lib/rustlib" -name llvm-nm -type f | head -n 1)
"$nm" -S --size-sort --demangle "$elf" | python3 -c '
import collections, re, sys
sizes = collections.Counter()
for line in sys.stdin:
    parts = line.split(maxsplit=3)
    if len(parts) < 4 or parts[2] not in "tT":
        continue
    # The first path segment of the demangled name, past `<`, `&`, `mut `, `dyn ` and a
    # crate hash such as `std[a88812da5ee6ad9e]`; plain C symbols (memcpy) are "other".
    name = re.sub(r"^(<|&|mut |dyn )+", "", parts[3].strip())
    crate = re.split(r"::|\[| as ", name)[0] if "::" in name else "other"
    sizes[crate] += int(parts[1], 16)
for crate, size in sizes.most_common(12):
    print(f"  {crate:<24} {size:9d} bytes")
'

echo "== boot cost (--icount: guest instructions, deterministic)"
ticks() { sed -n 's/.*kernel entry to _start: \([0-9]*\) TSC.*/\1/p'; }
shell=$(echo 'exit 0' | ./qemu.sh --icount -v 2>&1 >/dev/null)
printf '  %-44s %12s\n' "shell mode: kernel entry to init's _start" "$(ticks <<<"$shell")"
printf '  %-44s %12s\n' "  of which the file system of /bin (ms)" \
    "$(sed -n 's/.*system file system: .* built in \([0-9]*\) ms.*/\1/p' <<<"$shell")"
hello=$(./qemu.sh --icount -v userland/hello.wasm 2>&1 >/dev/null)
printf '  %-44s %12s\n' "hello: kernel entry to _start" "$(ticks <<<"$hello")"
