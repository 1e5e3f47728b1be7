#!/usr/bin/env bash
# Runs a WASI program on Cella in QEMU, like `wasmtime run`: ./qemu.sh [OPTIONS] PROGRAM.wasm
# [ARGS...] (see --help). A thin wrapper: it installs what is missing (boot/setup.sh), builds
# the host runner, and hands over to it; the runner builds the kernel, the disk images and
# userland programs as needed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# As cargo's runner (`cargo run` in a project made by --new), this inherits the caller's
# toolchain, target directory and flags: the checkout's own (rust-toolchain.toml) must apply.
unset RUSTUP_TOOLCHAIN CARGO_TARGET_DIR CARGO_BUILD_TARGET RUSTFLAGS CARGO_ENCODED_RUSTFLAGS
"$root/boot/setup.sh"
# Built from the root so rust-toolchain.toml applies; quiet unless something fails.
(cd "$root" && cargo build --release --quiet -p cella-boot)
CELLA_ROOT="$root" exec "$root/target/release/cella" "$@"
