#!/usr/bin/env bash
# Installs what Cella needs on a fresh Debian/Ubuntu machine with rustup, when it is missing:
# the Rust targets and components (rust-toolchain.toml lists them, but rustup does not install
# them by itself here), QEMU and the OVMF UEFI firmware. As root it runs apt-get; otherwise it
# prints the exact command and fails. Fast when everything is there: qemu.sh runs it each time.
#
#   boot/setup.sh [--with-c] [--with-iso]
#       --with-c: also clang + wasi-libc, for the C test programs
#       --with-iso: also xorriso and ISOLINUX, for the ISO of `./qemu.sh --iso FILE`
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup: $*" >&2; }

if ! command -v cargo >/dev/null || ! command -v rustup >/dev/null; then
    say "Rust is not installed: install it with rustup (https://rustup.rs), then run this again."
    exit 2
fi

sysroot=$(rustc --print sysroot)
rustlib="$sysroot/lib/rustlib"
host=$(rustc -vV | sed -n 's/^host: //p')
missing_targets=()
for target in x86_64-unknown-none wasm32-wasip1; do
    [ -d "$rustlib/$target/lib" ] || missing_targets+=("$target")
done
if [ ${#missing_targets[@]} -gt 0 ]; then
    say "adding Rust targets: ${missing_targets[*]}"
    rustup target add "${missing_targets[@]}" >&2
fi
missing_components=()
[ -d "$rustlib/src/rust/library" ] || missing_components+=(rust-src)
[ -x "$rustlib/$host/bin/llvm-objcopy" ] || missing_components+=(llvm-tools)
if [ ${#missing_components[@]} -gt 0 ]; then
    say "adding Rust components: ${missing_components[*]}"
    rustup component add "${missing_components[@]}" >&2
fi

packages=()
command -v qemu-system-x86_64 >/dev/null || packages+=(qemu-system-x86)
[ -e /usr/share/OVMF/OVMF_CODE_4M.fd ] || [ -e /usr/share/OVMF/OVMF_CODE.fd ] || packages+=(ovmf)
with_c=false
with_iso=false
for option in "$@"; do
    case "$option" in
        --with-c) with_c=true ;;
        --with-iso) with_iso=true ;;
        *)
            say "unknown option $option: use --with-c and/or --with-iso"
            exit 2
            ;;
    esac
done
if $with_iso; then
    command -v xorriso >/dev/null || packages+=(xorriso)
    [ -e /usr/lib/ISOLINUX/isolinux.bin ] || packages+=(isolinux)
    [ -e /usr/lib/syslinux/modules/bios/ldlinux.c32 ] || packages+=(syslinux-common)
fi
if $with_c; then
    command -v clang >/dev/null || packages+=(clang)
    command -v wasm-ld >/dev/null || packages+=(lld)
    [ -e /usr/include/wasm32-wasi/stdio.h ] || [ -e /usr/include/wasm32-wasip1/stdio.h ] || packages+=(wasi-libc)
    compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a' >/dev/null \
        || packages+=(libclang-rt-dev-wasm32)
fi
if [ ${#packages[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        say "missing ${packages[*]}: install with: sudo apt-get install -y ${packages[*]}"
        exit 2
    fi
    say "installing ${packages[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${packages[@]}" >&2
fi
