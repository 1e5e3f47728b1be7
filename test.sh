#!/usr/bin/env bash
# Runs Cella's tests on a fresh machine. Today: the host unit tests of wasi-abi (the preview1
# core) and boot/proto (the host-link wire formats). The QEMU integration tests join this
# command when the kernel and the host runner land.
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo >/dev/null || { echo "test.sh: cargo not found: install Rust with rustup (https://rustup.rs)" >&2; exit 2; }
# Everything but the image builder, which needs RUSTC_BOOTSTRAP and is built by the runner.
cargo test --workspace --exclude cella-image "$@"
