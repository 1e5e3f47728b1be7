#!/usr/bin/env bash
# Runs Cella's fuzz targets (fuzz/fuzz_targets) under libFuzzer, each for SECONDS (default 15),
# one after the other, and prints one line of figures per target. Installs cargo-fuzz when it
# is missing. Exits non-zero if a target crashed, hung or ran out of memory: the reproducer is
# in fuzz/artifacts/TARGET/, the run's output in fuzz/artifacts/TARGET.log, and
# `cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-...` (with RUSTC_BOOTSTRAP=1, from fuzz/)
# replays it.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Each target keeps its corpus in fuzz/corpus/TARGET (not in git), so later runs go on from
# what earlier ones found.
set -euo pipefail
cd "$(dirname "$0")"

seconds=${1:-15}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(syscalls control tar config_link backtrace)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz (a minute or two)" >&2
    cargo install --locked cargo-fuzz --version 0.13.2
fi

# libFuzzer needs the sanitizer flags (-Zsanitizer=address, coverage instrumentation), which
# only nightly compilers accept. RUSTC_BOOTSTRAP lets the project's stable toolchain
# (rust-toolchain.toml) take them, so no second toolchain is needed; it is set for these
# builds only, in their own workspace and target directory.
export RUSTC_BOOTSTRAP=1

# Every target in one build (cargo's output only if it fails): a minute or two the first time.
if ! build_log=$(cargo fuzz build 2>&1); then
    echo "$build_log" >&2
    exit 1
fi

failed=()
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    log="artifacts/$target.log"
    # -timeout: one input running 10 s is a hang, reported like a crash. -len_control=0: the
    # structured inputs need their length from the start (a minute of `syscalls` reaches
    # 8% more edges than when libFuzzer grows lengths slowly).
    if cargo fuzz run "$target" -- -max_total_time="$seconds" -timeout=10 -len_control=0 \
        -print_final_stats=1 >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
        cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
        corpus=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$done_line")
        echo "fuzz $target: $runs runs in ${seconds} s ($rate/s), coverage ${cov:-?} edges," \
            "corpus ${corpus:-?} inputs, no crash"
    else
        echo "fuzz $target: FAILED; the end of $log:" >&2
        tail -n 40 "$log" >&2
        failed+=("$target")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failed: ${failed[*]}" >&2
    exit 1
fi
