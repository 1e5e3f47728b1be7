# Shared by the figures scripts (source it from the repository root).

# idle_cpu NAPMS [RUNNER OPTIONS...]: runs `./qemu.sh OPTIONS NAPMS 12000` (the guest sleeps
# 12 s) and prints QEMU's CPU use (/proc/PID/stat) over 5 s, from 4 s after the start (the
# guest has booted and sleeps).
idle_cpu() {
    local napms=$1
    shift
    ./qemu.sh "$@" "$napms" 12000 >/dev/null &
    local runner=$! pid=
    # QEMU is the runner's child (qemu.sh execs the runner); other QEMUs on the machine are not ours.
    while [ -z "$pid" ]; do pid=$(pgrep -P "$runner" -f qemu-system || true); sleep 0.05; done
    ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
    sleep 4
    local t1 t2
    t1=$(ticks)
    sleep 5
    t2=$(ticks)
    wait "$runner"
    awk -v a="$t1" -v b="$t2" -v hz="$(getconf CLK_TCK)" 'BEGIN {
        printf "%.1f%% of one core (%.2f s in 5 s)\n", (b - a) / hz / 5 * 100, (b - a) / hz }'
}
