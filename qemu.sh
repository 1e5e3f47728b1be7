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
runner="$root/target/release/cella"

# runner_fresh: the runner is newer than every source its last build read (cargo's dep-info,
# one rule), the manifests, the lock and toolchain files and this setup. Then setup and cargo,
# which cost a run more time than booting does, are skipped; anything else is left to them.
runner_fresh() {
    local depinfo rule
    [ -x "$runner" ] && depinfo=$(cat "$runner.d" 2>/dev/null) || return 1
    rule=${depinfo#*: }
    # A path with a space (escaped in the dep-info) or a second rule: let cargo decide.
    case "$rule" in '' | *'\ '* | *$'\n'*) return 1 ;; esac
    local -a inputs
    read -r -a inputs <<<"$rule"
    local newer
    newer=$(find "${inputs[@]}" "$root"/Cargo.toml "$root"/Cargo.lock "$root"/rust-toolchain.toml \
        "$root"/boot/Cargo.toml "$root"/boot/proto/Cargo.toml "$root"/boot/setup.sh "$root"/qemu.sh \
        -newer "$runner" -print -quit 2>&1) && [ -z "$newer" ]
}

if ! runner_fresh; then
    "$root/boot/setup.sh"
    # Built from the root so rust-toolchain.toml applies; quiet unless something fails.
    (cd "$root" && cargo build --release --quiet -p cella-boot)
    # Up to date now, even if cargo had nothing to do for the newer file.
    touch "$runner"
fi
CELLA_ROOT="$root" exec "$runner" "$@"
