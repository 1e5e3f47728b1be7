#!/usr/bin/env bash
# Runs the official WASI test suite's prebuilt preview1 tests through ./qemu.sh and prints the
# pass count. The suite is not part of this repository: give a checkout of the `prod/testsuite-base`
# branch of WebAssembly/wasi-testsuite (its tests/*/testsuite/wasm32-wasip1 hold the binaries).
#
#   boot/conformance/run.sh PATH/TO/wasi-testsuite [RUNNER OPTIONS]
#
# Extra options go to the runner, e.g. --uefi. Needs Python 3.12 or later (the suite's runner);
# set PYTHON to choose one.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
suite=${1:?usage: boot/conformance/run.sh PATH/TO/wasi-testsuite [RUNNER OPTIONS]}
shift
export CELLA_OPTIONS="$*"
"$here/../../qemu.sh" --setup
# The suite's tests write into their fs-tests.dir trees; run on a copy so reruns start clean.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$suite" "$work/suite"
cd "$work/suite"
python=${PYTHON:-}
for candidate in python3.13 python3.12 python3; do
    [ -n "$python" ] && break
    command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' \
        && python=$candidate
done
[ -n "$python" ] || { echo "run.sh: the test suite's runner needs Python 3.12 or later (set PYTHON)" >&2; exit 2; }
"$python" -m pip install -q -r test-runner/requirements.txt >/dev/null 2>&1 || true
"$python" run-tests -r "$here/cella.py" --disable-colors
