#!/usr/bin/env bash
# How long a user waits for their first own program on Cella: from `./qemu.sh --new DIR` to
# the first line `cargo run` prints in the new project, on an already-built checkout (the
# build of the program itself included), and what a later `cargo run` takes.
#
#   boot/bench/new.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}

./qemu.sh --setup >/dev/null
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
since() { awk -v a="$1" -v b="$2" 'BEGIN {print b - a}'; }
# Runs `cargo run` in the project $1 and prints the time its first line of output came.
first_line() { (cd "$1" && cargo run --quiet -- Ada </dev/null) | { read -r _; now; cat >/dev/null; }; }

: >"$scratch/new"; : >"$scratch/first"; : >"$scratch/total"; : >"$scratch/again"
for i in $(seq "$runs"); do
    project="$scratch/hello$i"
    t0=$(now)
    ./qemu.sh --new "$project" 2>/dev/null
    t1=$(now)
    t2=$(first_line "$project")
    t3=$(now)
    t4=$(first_line "$project")
    since "$t0" "$t1" >>"$scratch/new"
    since "$t1" "$t2" >>"$scratch/first"
    since "$t0" "$t2" >>"$scratch/total"
    since "$t3" "$t4" >>"$scratch/again"
done

echo "== ./qemu.sh --new to the first line of cargo run, wall (median of $runs, already built)"
printf '  %-48s %.2f s\n' "./qemu.sh --new DIR" "$(median <"$scratch/new")"
printf '  %-48s %.2f s\n' "then cargo run (build + boot) to its first line" "$(median <"$scratch/first")"
printf '  %-48s %.2f s\n' "total" "$(median <"$scratch/total")"
printf '  %-48s %.2f s\n' "a later cargo run (already built)" "$(median <"$scratch/again")"
