#!/usr/bin/env bash
# Runs every Cella test on a fresh machine: installs what is missing (boot/setup.sh), then
# clippy over every crate (boot/lint.sh: a lint fails the run before any test), the host unit
# tests (wasi-abi, boot/proto, the runner, the kernel's pure modules), a brief run of the fuzz
# targets (fuzz/run.sh), the QEMU integration tests in boot/tests, which build the kernel,
# both disk images and the userland programs on first use (a few minutes), then boot them
# under BIOS and UEFI, and last httpd's unit tests, on Cella.
set -euo pipefail
cd "$(dirname "$0")"
# --with-c: clang and wasi-libc, for the C test programs in userland/c; --with-go: Go, for the
# Go net/http server of boot/tests/go.rs; --with-iso: xorriso and binutils, for the ISO tests;
# --with-wasmtime: wasmtime, which boot/tests/gnu.rs compares the coreutils with GNU's under.
boot/setup.sh --with-c --with-go --with-iso --with-wasmtime
# Clippy, warnings denied, over every crate for its own target: seconds once built.
boot/lint.sh
# The shell's parser, expansion and line editor: a host crate of the userland workspace.
cargo test --manifest-path userland/shell-core/Cargo.toml "$@"
# Everything but the image builder, which needs RUSTC_BOOTSTRAP and is built by the runner.
cargo test --workspace --exclude cella-image "$@"
# A brief libFuzzer run of each fuzz target (syscalls, cella_process, tar, configuration and
# link): FUZZ_SECONDS each, 10 by default, 0 to skip. From a cold start it installs
# cargo-fuzz and builds the targets first (a few minutes in all).
if [ "${FUZZ_SECONDS:-10}" != 0 ]; then
    fuzz/run.sh "${FUZZ_SECONDS:-10}"
fi
# httpd's unit tests (request parsing, paths) are a wasm32-wasip1 libtest binary: they run on
# Cella itself, as any program does.
httpd_tests=$(cd userland && cargo test --release --bin httpd --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
./qemu.sh "$httpd_tests"
