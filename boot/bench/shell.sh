#!/usr/bin/env bash
# The shell's speed on a script: wall time of a `while` loop of 1 000 iterations of builtins
# and arithmetic (`[`, `$((...))`), and of one of 100 iterations that each spawn a program
# (`/bin/true`, not the builtin), of one of 100 command substitutions `$(:)` (run in the
# shell) and of one of 10 subshells `(:)` (each a child `sh`), each piped to `./qemu.sh` as a shell session; the time of
# an empty session (boot, init, sh, shutdown) is subtracted. Medians of RUNS runs.
#
#   boot/bench/shell.sh [RUNS]      (default 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}

builtins='i=0; while [ $i -lt 1000 ]; do i=$((i + 1)); done; echo $i'
spawns='i=0; while [ $i -lt 100 ]; do /bin/true; i=$((i + 1)); done; echo $i'
substitutions='i=0; while [ $i -lt 100 ]; do x=$(:); i=$((i + 1)); done; echo $i'
subshells='i=0; while [ $i -lt 10 ]; do (:); i=$((i + 1)); done; echo $i'

# Built (and the images made) before anything is timed.
printf 'true\n' | ./qemu.sh >/dev/null

now() { date +%s%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# session SCRIPT: the wall time in ms of one session running SCRIPT, checking its output.
session() {
    local start end out
    start=$(now)
    out=$(printf '%s\n' "$1" | ./qemu.sh)
    end=$(now)
    case $1 in *echo*) [ "$out" = 1000 ] || [ "$out" = 100 ] || [ "$out" = 10 ] || {
        echo "shell.sh: unexpected output: $out" >&2
        exit 1
    } ;; esac
    echo $(((end - start) / 1000000))
}

# measure SCRIPT: the median session time in ms.
measure() {
    for _ in $(seq "$runs"); do session "$1"; done | median
}

empty=$(measure 'true')
loop=$(measure "$builtins")
spawn=$(measure "$spawns")
substitution=$(measure "$substitutions")
subshell=$(measure "$subshells")
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "empty session:                     $empty ms"
echo "1000 iterations of builtins:       $((loop - empty)) ms ($(((loop - empty) * 1000 / 1000)) us each)"
echo "100 iterations spawning /bin/true: $((spawn - empty)) ms ($(((spawn - empty) * 1000 / 100)) us each)"
echo "100 command substitutions \$(:):    $((substitution - empty)) ms ($(((substitution - empty) * 1000 / 100)) us each)"
echo "10 subshells (:), each a child sh:  $((subshell - empty)) ms ($(((subshell - empty) * 1000 / 10)) us each)"
