#!/usr/bin/env bash
# Runs clippy, warnings denied, over every crate of the repository, each for the target and
# with the profile it is built with, and in the target directory its build uses (see
# boot/src/project.rs), so a second run only re-checks what changed: seconds.
#
#   boot/lint.sh
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "lint: $*" >&2; }

if ! cargo clippy --version >/dev/null 2>&1; then
    say "adding the Rust component clippy"
    rustup component add clippy >&2
fi
# The directories and targets below are the builds' own; these would override them.
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET RUSTC_BOOTSTRAP

say "host crates: process-abi, wasi-abi, boot/proto, the runner, the kernel's host build"
cargo clippy --quiet --workspace --exclude cella-image --all-targets -- -D warnings
say "the kernel for its own target (kernel/x86_64-cella-none.json)"
# The runner's kernel build (boot/src/project.rs): the JSON target needs -Zbuild-std.
RUSTC_BOOTSTRAP=1 cargo clippy --quiet --release -p cella-kernel \
    --target kernel/x86_64-cella-none.json -Zjson-target-spec \
    -Zbuild-std=core,alloc,compiler_builtins --target-dir target/kernel -- -D warnings
say "the image builder"
# bootloader's build script compiles its stages with -Zbuild-std (boot/image/Cargo.toml).
RUSTC_BOOTSTRAP=1 cargo clippy --quiet --release -p cella-image --all-targets \
    --target-dir target/image-builder -- -D warnings
say "userland for wasm32-wasip1: the programs, cella-process, cella-shell-core"
(cd userland && cargo clippy --quiet --release --workspace --all-targets -- -D warnings)
say "cella-shell-core for the host, with its tests"
(cd userland/shell-core && cargo clippy --quiet --all-targets -- -D warnings)
